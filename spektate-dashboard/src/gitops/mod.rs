//! Hooks of other tools into the team server: Flux v2's notification-controller
//! (`/api/flux/{cluster}`), Argo CD Notifications (`/api/argocd`), each with a secret of its
//! own, and CDEvents `pipelinerun` events (`/api/cdevents`) with a pipeline's credentials.
//!
//! Each checks, in order, and writes nothing unless every check passes: the hook's
//! credentials (for Flux, whose signature covers the body, after the body's size and
//! arrival); the partition (`?partition=`, one the server serves, so only a sender with
//! credentials learns which are); the body's size and arrival; the event. Reading the event
//! into a report is the core's ([`spektate_core::ingest::flux`],
//! [`spektate_core::ingest::argocd`], [`spektate_core::ingest::cdevents`]); the report is
//! written in a task of its own, so a sender that hangs up never cuts it short.

mod argocd;
pub(crate) mod cdevents;
mod flux;
mod signature;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use spektate_core::http::Secret;
use spektate_core::{ClusterReport, Error as CoreError};

use crate::Shared;
use crate::api::json;
use crate::partitions::Partitions;
use crate::write::{BODY_TIMEOUT, MAX_BODY_BYTES};

/// How Flux v2's notification-controller may post events (`spektate serve --flux-secret-file`,
/// `--flux-allow-unsigned`).
#[derive(Debug, Clone, Default)]
pub struct FluxHook {
    /// The `token` of the `generic-hmac` Provider's Secret: events must carry
    /// `X-Signature: sha256=<hex HMAC of the body>` made with it.
    pub secret: Option<Secret>,
    /// Whether events without a signature (a `generic` Provider) are taken too. With a
    /// secret, a signature that is present and wrong is refused regardless; without one,
    /// signatures are not checked.
    pub allow_unsigned: bool,
}

/// The hooks a server takes, besides its write API.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Flux v2 events, at `/api/flux` and `/api/flux/{cluster}`.
    pub flux: Option<FluxHook>,
    /// The bearer token Argo CD Notifications sends, for `/api/argocd`.
    pub argocd_token: Option<Secret>,
}

impl Hooks {
    /// Whether any hook is on.
    pub fn any(&self) -> bool {
        self.flux.is_some() || self.argocd_token.is_some()
    }
}

/// Adds the routes of the hooks that are on.
pub(crate) fn routes(
    mut routes: crate::routes::Routes,
    hooks: &Hooks,
    partitions: &Arc<Partitions>,
) -> crate::routes::Routes {
    use crate::routes::Access;
    use axum::routing::post;
    let state = Arc::new(HookState {
        hooks: hooks.clone(),
        partitions: partitions.clone(),
        flux_reads: tokio::sync::Semaphore::new(flux::BODIES_READ_AT_ONCE),
    });
    if hooks.flux.is_some() {
        routes = routes
            .post(
                "/api/flux",
                Access::Hook,
                post(flux::event).with_state(state.clone()),
            )
            .post(
                "/api/flux/{cluster}",
                Access::Hook,
                post(flux::event_of_cluster).with_state(state.clone()),
            );
    }
    if hooks.argocd_token.is_some() {
        routes = routes.post(
            "/api/argocd",
            Access::Hook,
            post(argocd::notification).with_state(state),
        );
    }
    routes
}

/// What the hook routes share.
pub(crate) struct HookState {
    pub(crate) hooks: Hooks,
    pub(crate) partitions: Arc<Partitions>,
    /// Flux events whose bodies are being read before their signature can be checked.
    pub(crate) flux_reads: tokio::sync::Semaphore,
}

/// A refusal: status, and the JSON error naming the field when one is at fault.
pub(crate) struct Refused {
    status: StatusCode,
    error: String,
    field: Option<String>,
}

impl Refused {
    pub(crate) fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Refused {
            status,
            error: error.into(),
            field: None,
        }
    }

    /// A 401 that says what was missing or wrong, never what was expected.
    pub(crate) fn unauthorized(error: impl Into<String>) -> Self {
        Refused::new(StatusCode::UNAUTHORIZED, error)
    }

    pub(crate) fn response(&self) -> Response {
        let mut body = json!({"error": self.error});
        if let Some(f) = &self.field {
            body["field"] = json!(f);
        }
        json(self.status, &body)
    }
}

impl From<CoreError> for Refused {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid { field, reason } => Refused {
                status: StatusCode::BAD_REQUEST,
                error: format!("invalid {field}: {reason}"),
                field: Some(field),
            },
            other => {
                tracing::warn!("a hook's write failed: {other}");
                Refused::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the store could not be written just now; send the event again",
                )
            }
        }
    }
}

/// The partition a hook's URL names (`?partition=`), none when it names none. Only read
/// here: [`served`] resolves it once the sender is authenticated, so no one learns which
/// partitions are served without a credential.
pub(crate) fn named_partition(raw: Option<&str>) -> Result<Option<String>, Refused> {
    let mut named = None;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if name != "partition" {
            return Err(Refused {
                status: StatusCode::BAD_REQUEST,
                error: format!(
                    "invalid query parameter: '{}' is not one of partition",
                    name.chars().take(100).collect::<String>()
                ),
                field: Some("query parameter".into()),
            });
        }
        if named.replace(value.into_owned()).is_some() {
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                "invalid partition: is given twice; give it once",
            ));
        }
    }
    Ok(named)
}

/// The served partition `named`, else the server's default; a 404 for another.
pub(crate) fn served(partitions: &Partitions, named: Option<&str>) -> Result<Arc<Shared>, Refused> {
    partitions
        .find(named)
        .cloned()
        .map_err(|unknown| Refused::new(StatusCode::NOT_FOUND, unknown.message()))
}

/// Reads a body of at most [`MAX_BODY_BYTES`] within [`BODY_TIMEOUT`].
pub(crate) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Refused> {
    let too_large = || {
        Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Err(_) => Err(Refused::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(Refused::new(
            StatusCode::BAD_REQUEST,
            format!("the body could not be read: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
    }
}

/// Writes a cluster report into `shared`'s store, in a task of its own, and wakes the
/// refresh. `hook` names the hook in the metrics.
pub(crate) async fn write_report(
    shared: Arc<Shared>,
    hook: &'static str,
    report: ClusterReport,
) -> Result<Value, Refused> {
    report.check()?;
    let task = tokio::spawn(async move {
        let partition = shared.tracker.partition().to_string();
        shared
            .tracker
            .store()
            .put_cluster_report(&partition, &report)
            .await?;
        shared.metrics.written(hook);
        crate::refresh::note_write(&shared);
        Ok::<Value, CoreError>(json!({
            "partition": partition,
            "cluster": report.sync.cluster,
            "commit": report.sync.commit,
            "outcome": report.outcome,
            "syncedAt": report.sync.synced_at,
        }))
    });
    match task.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => {
            tracing::error!("a hook's write task ended early: {e}");
            Err(Refused::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the write stopped early; send the event again",
            ))
        }
    }
}

/// The hooks' operations in the API document.
pub(crate) fn document(doc: &mut Value, hooks: &Hooks, writes: bool, oidc: bool) {
    let error = json!({"description": "Refused; `error` says why and `field` names the input at fault.",
        "content": {"application/json": {"schema": {"type": "object", "required": ["error"]}}}});
    let partition = json!({"$ref": "#/components/parameters/partition"});
    let written = json!({"description": "Written: the partition, cluster, commit, outcome (applied or failed) and time.",
        "content": {"application/json": {"schema": {"type": "object"}}}});
    let ignored = json!({"description": "Taken and ignored: the event says nothing of what a cluster runs; `ignored` says why.",
        "content": {"application/json": {"schema": {"type": "object", "required": ["ignored"]}}}});
    let paths = &mut doc["paths"];
    if hooks.flux.is_some() {
        let op = |id: &str, params: Value| {
            json!({"post": {
                "tags": ["hooks"], "operationId": id,
                "summary": "A Flux v2 notification-controller event (generic-hmac Provider): a Kustomization or HelmRelease applied a revision, or failed",
                "description": "The body is a Flux Event (involvedObject, severity, timestamp, message, reason, metadata.revision). `X-Signature: sha256=<hex HMAC-SHA256 of the body>` made with the Provider Secret's `token`; unsigned events only when the server allows them. The cluster is the path's, else the Alert's eventMetadata.cluster.",
                "security": [],
                "parameters": params,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["involvedObject", "severity", "timestamp", "reason"]}}}},
                "responses": {"200": written, "202": ignored, "400": error, "401": error, "404": error, "413": error, "503": error}
            }})
        };
        paths["/api/flux"] = op("flux-event", json!([partition]));
        paths["/api/flux/{cluster}"] = op(
            "flux-event-of-cluster",
            json!([partition, {"name": "cluster", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The cluster the Provider's address names."}]),
        );
    }
    if hooks.argocd_token.is_some() {
        paths["/api/argocd"] = json!({"post": {
            "tags": ["hooks"], "operationId": "argocd-notification",
            "summary": "An Argo CD Notifications webhook: an application synced, failed to sync, or is degraded",
            "description": "The body the template of docs/gitops/argocd.md renders (application, destinationName, destinationServer, revision, operationRevision, syncStatus, health, phase, finishedAt, message), with `Authorization: Bearer <the server's Argo CD hook token>`. A sync still running, or a body without operationRevision of an application not Synced, is ignored (202).",
            "security": [],
            "parameters": [partition],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["revision"]}}}},
            "responses": {"200": written, "202": ignored, "400": error, "401": error, "404": error, "413": error, "503": error}
        }});
    }
    if writes {
        let security = if oidc {
            json!([{"pipelineToken": []}, {"oidcToken": []}])
        } else {
            json!([{"pipelineToken": []}])
        };
        paths["/api/cdevents"] = json!({"post": {
            "tags": ["write"], "operationId": "cdevents",
            "summary": "A CDEvent dev.cdevents.pipelinerun.queued, started or finished (v0.4, any 0.x) as a run report",
            "description": "`subject.id` is the run id a pipeline recorded; the body is the CDEvent, or a structured CloudEvent whose `data` is one.",
            "security": security,
            "parameters": [partition],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["context", "subject"]}}}},
            "responses": {"200": {"description": "The run report as stored.", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": error, "401": error, "403": error, "404": error, "413": error, "503": error}
        }});
    }
}
