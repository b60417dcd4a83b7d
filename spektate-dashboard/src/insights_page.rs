//! The insights page, `insights.html` with its script and style sheet: the DORA figures of
//! `/api/metrics/dora?by=week` drawn as small charts per week, and lead time per step as
//! stacked bars, in inline SVG built by the script (no inline script or style, as the CSP says).

use std::sync::LazyLock;

use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};

use crate::assets::Asset;
use crate::routes::{Access, Routes};

static PAGE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/insights.html"),
        "text/html; charset=utf-8",
    )
});
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/insights.js"),
        "text/javascript; charset=utf-8",
    )
});
static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/insights.css"),
        "text/css; charset=utf-8",
    )
});

/// Adds the insights page and its assets.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .get(
            "/insights.html",
            Access::Viewer,
            get(|h: HeaderMap| async move { PAGE.respond(&h) }),
        )
        .get(
            "/assets/insights.js",
            Access::Viewer,
            get(|h: HeaderMap| async move { SCRIPT.respond(&h) }),
        )
        .get(
            "/assets/insights.css",
            Access::Viewer,
            get(|h: HeaderMap| async move { STYLE.respond(&h) }),
        )
}

/// The API document's entries for the page and its assets, with the viewers' `security`.
pub(crate) fn operations(security: &Value) -> Vec<(&'static str, Value)> {
    let page = |id: &str, summary: &str, media: &str| {
        json!({"get": {
            "tags": ["page"], "operationId": id, "summary": summary, "security": security,
            "responses": {"200": {"description": "OK", "content": {media: {}}}}
        }})
    };
    vec![
        (
            "/insights.html",
            page(
                "insights-page",
                "The DORA figures per week and lead time per step, as charts",
                "text/html",
            ),
        ),
        (
            "/assets/insights.js",
            page(
                "insights-script",
                "The insights page's script",
                "text/javascript",
            ),
        ),
        (
            "/assets/insights.css",
            page(
                "insights-style",
                "The insights page's style sheet",
                "text/css",
            ),
        ),
    ]
}
