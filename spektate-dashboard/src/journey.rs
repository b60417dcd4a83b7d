//! `GET /api/deployments/{id}/journey`: the timeline of one deployment
//! ([`spektate_core::insights::timeline`]), and the page `journey.html` that draws it as
//! inline SVG built by its script.

use std::sync::{Arc, LazyLock};

use axum::extract::{Extension, Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use serde_json::{Value, json};
use spektate_core::insights::timeline;

use crate::api::{ErrorBody, json};
use crate::assets::Asset;
use crate::auth::Grant;
use crate::partitions::Partitions;
use crate::refresh;
use crate::routes::{Access, Routes};

/// The path.
pub const PATH: &str = "/api/deployments/{id}/journey";

/// The longest deployment id looked up.
const MAX_ID: usize = 200;

static PAGE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/journey.html"),
        "text/html; charset=utf-8",
    )
});
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/journey.js"),
        "text/javascript; charset=utf-8",
    )
});

/// Adds the journey API and page.
pub(crate) fn routes(routes: Routes, partitions: &Arc<Partitions>) -> Routes {
    routes
        .get(
            PATH,
            Access::Viewer,
            get(journey).with_state(partitions.clone()),
        )
        .get(
            "/journey.html",
            Access::Viewer,
            get(|h: HeaderMap| async move { PAGE.respond(&h) }),
        )
        .get(
            "/assets/journey.js",
            Access::Viewer,
            get(|h: HeaderMap| async move { SCRIPT.respond(&h) }),
        )
}

fn refused(
    status: StatusCode,
    message: &str,
    field: Option<&str>,
    value: Option<&str>,
) -> Response {
    ErrorBody {
        error: message,
        field,
        value,
    }
    .respond(status)
}

async fn journey(
    AxumState(partitions): AxumState<Arc<Partitions>>,
    grant: Option<Extension<Grant>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let grant = grant.map(|Extension(g)| g).unwrap_or_default();
    let mut partition: Option<String> = None;
    // What the query said, as an answer shows it: at most 200 characters.
    let cut = |v: &str| v.chars().take(200).collect::<String>();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if name != "partition" {
            let (name, value) = (cut(&name), cut(&value));
            return refused(
                StatusCode::BAD_REQUEST,
                &format!(
                    "invalid query parameter: '{name}' (in '{name}={value}') is not one of partition"
                ),
                Some("query parameter"),
                Some(&name),
            );
        }
        if let Some(first) = &partition {
            let (first, value) = (cut(first), cut(&value));
            return refused(
                StatusCode::BAD_REQUEST,
                &format!(
                    "invalid partition: is given twice ('partition={first}' and 'partition={value}'); give it once"
                ),
                Some("partition"),
                Some(&value),
            );
        }
        partition = Some(value.into_owned());
    }
    if id.is_empty() || id.len() > MAX_ID {
        return refused(
            StatusCode::BAD_REQUEST,
            &format!("invalid id: a deployment id has 1 to {MAX_ID} characters"),
            Some("id"),
            None,
        );
    }
    let shared = match partitions.readable(partition.as_deref(), &grant) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let name = shared.tracker.partition().to_string();
    refresh::before_read(&shared).await;
    let snapshot = shared.tracker.snapshot();
    if snapshot.refreshed_at.is_none() {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the deployments are not read yet; try again in a moment",
            None,
            None,
        );
    }
    let Some(d) = snapshot.deployments.iter().find(|d| d.id() == id) else {
        return refused(
            StatusCode::NOT_FOUND,
            &format!("no deployment '{id}' in partition '{name}'"),
            Some("id"),
            Some(&id),
        );
    };
    let now = Utc::now();
    json(
        StatusCode::OK,
        &json!({
            "partition": name,
            "id": d.id(),
            "service": d.service(),
            "ring": d.ring(),
            "imageTag": d.image_tag(),
            "now": now,
            "timeline": timeline(d, now),
        }),
    )
}

/// The API document's entries for the journey API and page.
pub(crate) fn operations(security: &Value) -> Vec<(&'static str, Value)> {
    let page = |id: &str, summary: &str, media: &str| {
        json!({"get": {
            "tags": ["page"], "operationId": id, "summary": summary, "security": security,
            "responses": {"200": {"description": "OK", "content": {media: {}}}}
        }})
    };
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let span = json!({"type": "object", "required": ["kind", "from", "to", "open"], "properties": {
        "kind": {"type": "string", "enum": ["waiting", "queued", "running", "approval", "sync"]},
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "open": {"type": "boolean", "description": "Still lasting: `to` is the server's now."}
    }});
    let lane = json!({"type": "object", "required": ["lane", "state", "spans"], "properties": {
        "lane": {"type": "string", "enum": ["image", "metadata", "approval", "manifests", "sync"]},
        "name": {"type": "string", "nullable": true, "description": "The run id, pull request id or cluster."},
        "state": {"type": "string"},
        "spans": {"type": "array", "items": span}
    }});
    let api = json!({"get": {
        "tags": ["read"],
        "operationId": "deployment-journey",
        "summary": "The journey of one deployment as a timeline: each step's waiting, queued and running spans, the approval pull request's wait, each cluster's sync lag",
        "security": security,
        "parameters": [
            {"name": "id", "in": "path", "required": true, "description": "The deployment id.", "schema": {"type": "string"}},
            {"name": "partition", "in": "query", "required": false, "description": "Which partition, on a server of several; default the first.", "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object", "required": ["partition", "id", "now", "timeline"], "properties": {
                "partition": {"type": "string"}, "id": {"type": "string"},
                "service": {"type": "string", "nullable": true}, "ring": {"type": "string", "nullable": true},
                "imageTag": {"type": "string", "nullable": true},
                "now": {"type": "string", "format": "date-time"},
                "timeline": {"type": "object", "required": ["lanes"], "properties": {
                    "start": {"type": "string", "format": "date-time", "nullable": true},
                    "end": {"type": "string", "format": "date-time", "nullable": true},
                    "lanes": {"type": "array", "items": lane}
                }}
            }}}}},
            "400": error("The id or a query parameter is refused."),
            "403": error("The viewer's read token may not read this partition."),
            "404": error("No such deployment, or the server does not serve this partition; the error names it."),
            "503": error("The deployments are not read yet.")
        }
    }});
    vec![
        (PATH, api),
        (
            "/journey.html",
            page(
                "journey-page",
                "The journey of one deployment, as a timeline",
                "text/html",
            ),
        ),
        (
            "/assets/journey.js",
            page(
                "journey-script",
                "The journey page's script",
                "text/javascript",
            ),
        ),
    ]
}
