//! Where each service is running: `GET /api/status` (per service, ring and cluster, the image
//! tag live there, since when, and how far behind the newest image it is; see
//! [`spektate_core::correlate::placement`]) and the page that shows it as a grid,
//! `status.html` with its script and style sheet.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use axum::extract::{Extension, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use spektate_core::correlate::placement::{Placement, PlacementFilter, placements};

use crate::Error;
use crate::api::{ErrorBody, json_bytes, to_json};
use crate::assets::Asset;
use crate::auth::{Grant, Principal};
use crate::partitions::Partitions;
use crate::refresh;
use crate::routes::{Access, Routes};

/// The query parameters of `/api/status`, as names accepted and what they set.
const ACCEPTED: &str = "service, ring, imageTag, cluster, partition";

/// What `/api/status` is asked for: which rows, of which partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StatusQuery {
    pub(crate) only: PlacementFilter,
    pub(crate) partition: Option<String>,
}

impl StatusQuery {
    /// Parses a raw query string (without the `?`): `service`, `ring` (or `env`), `imageTag`
    /// (or `image-tag`), `cluster`, `partition`. An empty value is no filter; an unknown or
    /// repeated parameter is an error naming it.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, Error> {
        let mut q = StatusQuery::default();
        let mut seen: HashMap<&'static str, String> = HashMap::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let param = match name.as_ref() {
                "service" => "service",
                "ring" | "env" => "ring",
                "imageTag" | "image-tag" => "imageTag",
                "cluster" => "cluster",
                "partition" => "partition",
                _ => {
                    return Err(Error::invalid(
                        "query parameter",
                        format!("'{name}' is not one of {ACCEPTED}"),
                    ));
                }
            };
            let value = value.trim().to_string();
            if let Some(first) = seen.get(param) {
                return Err(Error::invalid(
                    name.as_ref(),
                    format!("is given twice ('{first}' and '{name}={value}'); give it once"),
                ));
            }
            seen.insert(param, format!("{name}={value}"));
            if value.is_empty() {
                continue;
            }
            let slot = match param {
                "service" => &mut q.only.service,
                "ring" => &mut q.only.ring,
                "imageTag" => &mut q.only.image_tag,
                "cluster" => &mut q.only.cluster,
                _ => &mut q.partition,
            };
            *slot = Some(value);
        }
        Ok(q)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody<'a> {
    partition: &'a str,
    /// The partitions the server serves that this viewer may read, the default first.
    partitions: &'a [String],
    version: &'static str,
    /// The server's clock, so the page can tell "5 minutes ago" whatever its own clock says.
    now: DateTime<Utc>,
    refreshed_at: Option<DateTime<Utc>>,
    refresh_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    viewer: Option<String>,
    /// The clusters of the rows, sorted: the grid's columns.
    clusters: Vec<&'a str>,
    placements: &'a [Placement],
}

/// Adds `/api/status` and the status page.
pub(crate) fn routes(routes: Routes, partitions: &Arc<Partitions>) -> Routes {
    routes
        .get(
            "/api/status",
            Access::Viewer,
            get(status).with_state(partitions.clone()),
        )
        .get(
            "/status.html",
            Access::Viewer,
            get(|h: HeaderMap| async move { PAGE.respond(&h) }),
        )
        .get(
            "/assets/status.js",
            Access::Viewer,
            get(|h: HeaderMap| async move { SCRIPT.respond(&h) }),
        )
        .get(
            "/assets/status.css",
            Access::Viewer,
            get(|h: HeaderMap| async move { STYLE.respond(&h) }),
        )
}

static PAGE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/status.html"),
        "text/html; charset=utf-8",
    )
});
static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/status.js"),
        "text/javascript; charset=utf-8",
    )
});
static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../assets/status.css"),
        "text/css; charset=utf-8",
    )
});

fn refused(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    ErrorBody {
        error: message,
        field,
        value: None,
    }
    .respond(status)
}

async fn status(
    AxumState(partitions): AxumState<Arc<Partitions>>,
    viewer: Option<Extension<Principal>>,
    grant: Option<Extension<Grant>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let viewer = viewer.map(|Extension(p)| p.0).filter(|v| !v.is_empty());
    let grant = grant.map(|Extension(g)| g).unwrap_or_default();
    let query = match StatusQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => {
            let field = match &e {
                Error::Invalid { field, .. } => Some(field.as_str()),
                _ => None,
            };
            return refused(StatusCode::BAD_REQUEST, &e.to_string(), field);
        }
    };
    let shared = match partitions.readable(query.partition.as_deref(), &grant) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let partition = shared.tracker.partition().to_string();
    let readable: Vec<String> = partitions
        .names()
        .into_iter()
        .filter(|p| grant.allows(p))
        .collect();
    refresh::before_read(&shared).await;
    let snapshot = shared.tracker.snapshot();
    let refresh_error = shared.refresh.error();
    if snapshot.refreshed_at.is_none() {
        let message = match &refresh_error {
            Some(e) => format!("the deployments could not be read yet: {e}"),
            None => "the deployments are not read yet; try again in a moment".to_string(),
        };
        return refused(StatusCode::SERVICE_UNAVAILABLE, &message, None);
    }
    // One pass over every deployment: CPU work, run on the blocking pool in a listing turn,
    // as `/api/deployments` is.
    let Ok(turn) = shared.listing.clone().acquire_owned().await else {
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the status could not be computed: no turn to compute it",
            None,
        );
    };
    let refresh_seconds = shared.refresh_every().as_secs();
    let body = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let rows = placements(&snapshot.deployments, &query.only);
        let clusters: BTreeSet<&str> = rows.iter().map(|p| p.cluster.as_str()).collect();
        to_json(&StatusBody {
            partition: &partition,
            partitions: &readable,
            version: env!("CARGO_PKG_VERSION"),
            now: Utc::now(),
            refreshed_at: snapshot.refreshed_at,
            refresh_seconds,
            refresh_error,
            viewer,
            clusters: clusters.into_iter().collect(),
            placements: &rows,
        })
    })
    .await;
    match body {
        Ok(body) => json_bytes(StatusCode::OK, body),
        Err(e) => {
            tracing::error!("computing the status failed: {e}");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the status could not be computed; the server's log says why",
                None,
            )
        }
    }
}

/// The API document's entries for these routes, each with the viewers' `security`.
pub(crate) fn operations(security: &Value) -> Vec<(&'static str, Value)> {
    let page = |id: &str, summary: &str, media: &str| {
        json!({"get": {
            "tags": ["page"], "operationId": id, "summary": summary, "security": security,
            "responses": {"200": {"description": "OK", "content": {media: {}}}}
        }})
    };
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let params: Vec<Value> = [
        ("service", "Service, shown or stored name."),
        ("ring", "Ring (also `env`)."),
        ("imageTag", "Only where this image tag is live (also `image-tag`); newer images still count."),
        ("cluster", "Cluster."),
        ("partition", "Which partition, on a server of several; default the first."),
    ]
    .into_iter()
    .map(|(name, about)| json!({"name": name, "in": "query", "required": false, "description": about, "schema": {"type": "string"}}))
    .collect();
    let placement = json!({"type": "object", "required": ["cluster", "deploymentId", "commit", "exact", "behind"], "properties": {
        "service": {"type": "string", "nullable": true},
        "ring": {"type": "string", "nullable": true},
        "cluster": {"type": "string"},
        "imageTag": {"type": "string", "nullable": true, "description": "The image tag live in the cluster."},
        "deploymentId": {"type": "string"},
        "commit": {"type": "string", "description": "The commit the cluster runs: the deployment's own, or a later one of the same repository."},
        "exact": {"type": "boolean", "description": "Whether `commit` is the deployment's own."},
        "since": {"type": "string", "format": "date-time", "nullable": true, "description": "When the cluster applied `commit`; when not `exact`, the tag was live there by then at the latest."},
        "builtAt": {"type": "string", "format": "date-time", "nullable": true},
        "behind": {"type": "object", "required": ["images"], "properties": {
            "images": {"type": "integer", "description": "Images of the service sent to the ring and built later; 0 when up to date."},
            "newestTag": {"type": "string", "nullable": true},
            "newestDeploymentId": {"type": "string", "nullable": true},
            "newestBuiltAt": {"type": "string", "format": "date-time", "nullable": true}
        }}
    }});
    let api = json!({"get": {
        "tags": ["read"],
        "operationId": "service-status",
        "summary": "Where each service is running: per service, ring and cluster, the image tag live, since when, and how far behind the newest image (spektate status)",
        "security": security,
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["partition", "partitions", "now", "clusters", "placements"],
                "properties": {"placements": {"type": "array", "items": placement}}
            }}}},
            "400": error("A parameter is unknown, repeated or does not parse."),
            "403": error("The viewer's read token may not read this partition."),
            "404": error("The server does not serve this partition; the error names it."),
            "503": error("The deployments are not read yet.")
        }
    }});
    vec![
        ("/api/status", api),
        (
            "/status.html",
            page("status-page", "Where each service is running", "text/html"),
        ),
        (
            "/assets/status.js",
            page(
                "status-script",
                "The status page's script",
                "text/javascript",
            ),
        ),
        (
            "/assets/status.css",
            page("status-style", "The status page's style sheet", "text/css"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_take_the_cli_names_and_name_what_they_refuse() {
        let q = StatusQuery::parse(Some(
            "service=frontend&env=prod&image-tag=frontend-1001&cluster=east-us&partition=contoso",
        ))
        .unwrap();
        assert_eq!(q.only.service.as_deref(), Some("frontend"));
        assert_eq!(q.only.ring.as_deref(), Some("prod"));
        assert_eq!(q.only.image_tag.as_deref(), Some("frontend-1001"));
        assert_eq!(q.only.cluster.as_deref(), Some("east-us"));
        assert_eq!(q.partition.as_deref(), Some("contoso"));
        assert_eq!(
            StatusQuery::parse(Some("service=&cluster=%20")).unwrap(),
            StatusQuery::default()
        );
        let e = StatusQuery::parse(Some("author=alice")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid query parameter: 'author' is not one of service, ring, imageTag, cluster, partition"
        );
        let e = StatusQuery::parse(Some("ring=dev&env=prod")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid env: is given twice ('ring=dev' and 'env=prod'); give it once"
        );
    }
}
