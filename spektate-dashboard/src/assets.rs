//! The page and its assets, embedded in the binary, and the headers every response carries.

use std::sync::LazyLock;

use crate::routes::{Access, Routes};
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// What the page may load and run: only its own script, style sheet and icon, and requests
/// to its own API. Inline script and style are refused, so text that slips into markup
/// still cannot run.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

pub(crate) struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: HeaderValue,
}

/// FNV-1a: a stable fingerprint of an asset, for its ETag.
fn fingerprint(body: &str) -> u64 {
    body.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Asset {
    pub(crate) fn new(body: &'static str, content_type: &'static str) -> Self {
        let tag = format!(
            "\"{}-{:016x}\"",
            env!("CARGO_PKG_VERSION"),
            fingerprint(body)
        );
        Asset {
            body,
            content_type,
            etag: HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\"")),
        }
    }

    pub(crate) fn respond(&self, headers: &HeaderMap) -> Response {
        let fresh = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == "*" || t.trim() == self.etag.to_str().unwrap_or_default());
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            self.body.into_response()
        };
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        h.insert(header::ETAG, self.etag.clone());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/index.html"),
        "text/html; charset=utf-8",
    )
});
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/app.js"),
        "text/javascript; charset=utf-8",
    )
});
static STYLE: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../assets/app.css"), "text/css; charset=utf-8"));
static ICON: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../assets/favicon.svg"), "image/svg+xml"));

/// Adds the page and its assets.
pub(crate) fn routes(routes: Routes) -> Routes {
    routes
        .get("/", Access::Viewer, get(index))
        .get("/index.html", Access::Viewer, get(index))
        .get(
            "/assets/app.js",
            Access::Viewer,
            get(|h: HeaderMap| async move { SCRIPT.respond(&h) }),
        )
        .get(
            "/assets/app.css",
            Access::Viewer,
            get(|h: HeaderMap| async move { STYLE.respond(&h) }),
        )
        .get(
            "/assets/favicon.svg",
            Access::Viewer,
            get(|h: HeaderMap| async move { ICON.respond(&h) }),
        )
        .get(
            "/favicon.ico",
            Access::Viewer,
            get(|h: HeaderMap| async move { ICON.respond(&h) }),
        )
}

/// The page. Its links to its assets and API are relative, so it must be served from a path
/// ending in `/` or `/index.html`. Nested with `Router::nest("/spektate", ..)`, axum routes
/// `/spektate` (not `/spektate/`) here: it redirects to `/spektate/index.html`, query kept.
async fn index(OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if !path.ends_with('/') && !path.ends_with("/index.html") {
        let target = match uri.query() {
            Some(q) => format!("{path}/index.html?{q}"),
            None => format!("{path}/index.html"),
        };
        return Redirect::permanent(&target).into_response();
    }
    INDEX.respond(&headers)
}

pub(crate) async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    let body = format!(
        "Not found: {}\nThe dashboard is at the root of this router; its API is under api/.\n",
        uri.path()
    );
    let mut response = (StatusCode::NOT_FOUND, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Adds the security headers to every response.
pub(crate) async fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    response
}
