//! The write API: a `POST` for each record a pipeline writes, applied through the
//! [`Recorder`]'s linking rules, so pipelines need a token and no store credentials.
//!
//! A request is checked in this order, and nothing is written unless every check passes:
//! the token, a write token or an OIDC ID token (401, 403; 503 while an issuer's keys cannot
//! be fetched), the size and arrival of the body (413, 408), the idempotency key
//! (a replay answers at once; 422 when it named another request), the JSON and its fields
//! (400, naming the field and value). Then one linking rule runs, in a task of its own so a
//! client that hangs up never cuts it short.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::Value;
use spektate_core::ingest::{Ingest, Kind, Written};
use spektate_core::{RecordStore, Recorder};

use crate::Shared;
use crate::api::to_json;
use crate::auth::{self, Principal};
use crate::idempotency::{self, Cache, Kept};
use crate::oidc::Oidc;
use crate::partitions::Partitions;
use crate::tokens::Tokens;

/// The largest request body accepted: 64 KiB (a record is well under 4 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a client has to send its whole body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The header that answers a replayed request.
pub const REPLAYED: &str = "idempotent-replayed";

/// What the write routes share.
pub(crate) struct Writes {
    pub(crate) tokens: Arc<Tokens>,
    /// ID tokens' rules and keys, when the server takes them.
    pub(crate) oidc: Option<Arc<Oidc>>,
    pub(crate) cache: Arc<Cache>,
    /// The partitions served (the first written when a request names none): each one's
    /// store, and its refresh, told of each write; their metrics.
    pub(crate) partitions: Arc<Partitions>,
}

/// An error answer: `error` is the whole message; `field`, `reason` and `value` say which
/// input was refused and why.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: String,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

/// A refusal or failure, before it becomes a response.
struct Failure {
    status: StatusCode,
    body: Vec<u8>,
}

impl Failure {
    fn new(status: StatusCode, kind: &str, error: impl Into<String>) -> Self {
        Failure {
            status,
            body: to_json(&ErrorBody {
                error: error.into(),
                kind,
                field: None,
                reason: None,
                value: None,
            }),
        }
    }

    fn invalid(field: &str, reason: &str, value: Option<Value>) -> Self {
        Failure {
            status: StatusCode::BAD_REQUEST,
            body: to_json(&ErrorBody {
                error: format!("invalid {field}: {reason}"),
                kind: "ConfigError",
                field: Some(field.to_string()),
                reason: Some(reason.to_string()),
                value,
            }),
        }
    }
}

/// The answer to a write request.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    replayed: bool,
    retry_after: bool,
}

impl From<Failure> for Answer {
    fn from(f: Failure) -> Self {
        let retry_after = f.status == StatusCode::SERVICE_UNAVAILABLE;
        Answer {
            status: f.status,
            body: f.body,
            replayed: false,
            retry_after,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut r = crate::api::json_bytes(self.status, self.body);
        if self.replayed {
            r.headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
        }
        if self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// The partition a request names (`?partition=`), else the server's default.
fn partition(raw: Option<&str>, default: &str) -> Result<String, Failure> {
    let mut partition = None;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if name != "partition" {
            return Err(Failure::invalid(
                "query parameter",
                &format!(
                    "'{}' is not one of partition",
                    spektate_core::text::shown(&name, 100)
                ),
                None,
            ));
        }
        if partition.replace(value.trim().to_string()).is_some() {
            return Err(Failure::invalid(
                "partition",
                "is given twice; give it once",
                None,
            ));
        }
    }
    Ok(partition
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| default.to_string()))
}

/// Reads a body of at most [`MAX_BODY_BYTES`] within [`BODY_TIMEOUT`].
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Failure> {
    let too_large = || {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ConfigError",
            format!("the body is larger than {MAX_BODY_BYTES} bytes; a record needs far less"),
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
        Err(_) => Err(Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            "ConfigError",
            format!(
                "the body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "ConfigError",
            format!("the body could not be read: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
    }
}

/// The value a request gave for `field` (by its JSON or flag name), without the credentials a
/// URL may carry (the core's message leaves them out too), cut short when long.
fn given_value(body: &Value, kind: Kind, field: &str) -> Option<Value> {
    let map = body.as_object()?;
    let value = match kind.field(field) {
        Some(f) => {
            map.iter()
                .find(|(k, _)| *k == f.name || *k == f.flag_name())?
                .1
        }
        None => {
            return map
                .contains_key(field)
                .then(|| Value::String(field.to_string()));
        }
    };
    Some(match value {
        Value::String(s) => {
            let s = if s.contains('@') {
                spektate_core::model::url::without_credentials(s)
            } else {
                s.clone()
            };
            if s.chars().count() > 200 {
                Value::String(format!("{}...", s.chars().take(200).collect::<String>()))
            } else {
                Value::String(s)
            }
        }
        // A number or a boolean as given; an object or an array is not repeated, since what
        // it holds (a URL with a token, say) is shown nowhere.
        Value::Object(_) | Value::Array(_) => return None,
        v => v.clone(),
    })
}

/// Applies one request's body: parses it, checks its fields and runs the linking rule.
async fn apply(
    store: Arc<dyn RecordStore>,
    kind: Kind,
    partition: &str,
    bytes: &[u8],
) -> Result<Written, Failure> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| Failure::invalid("body", &format!("is not JSON: {e}"), None))?;
    let refused = |e: spektate_core::Error| match e {
        spektate_core::Error::Invalid { field, reason } => {
            let value = given_value(&body, kind, &field);
            Failure::invalid(&field, &reason, value)
        }
        other => failure(other),
    };
    let ingest = Ingest::from_json(kind, &body).map_err(refused)?;
    let recorder = Recorder::new(store, partition)
        .map_err(|e| kind.rename(e, spektate_core::ingest::Naming::Json))
        .map_err(refused)?;
    let id = ingest.apply(&recorder).await.map_err(refused)?;
    Ok(Written {
        id,
        partition: partition.to_string(),
        kind: kind.name().to_string(),
    })
}

/// The answer to an error of the rules or the store.
fn failure(e: spektate_core::Error) -> Failure {
    use spektate_core::Error as E;
    match e {
        E::NotFound { .. } => Failure::new(StatusCode::NOT_FOUND, e.kind(), e.to_string()),
        E::Conflict { .. } | E::Store { .. } => {
            tracing::warn!("a write failed: {e}");
            Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                e.kind(),
                "the store could not be written just now; send the request again",
            )
        }
        other => {
            tracing::error!("a write failed: {other}");
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                other.kind(),
                "the record could not be written; the server's log says why",
            )
        }
    }
}

/// Runs a checked request and keeps its answer under its idempotency key when it worked.
async fn run(
    shared: Arc<Shared>,
    kind: Kind,
    partition: String,
    bytes: Vec<u8>,
    slot: Option<idempotency::Slot>,
) -> Answer {
    let fingerprint = idempotency::fingerprint(&bytes);
    let mut held = match &slot {
        Some(slot) => Some(slot.clone().lock_owned().await),
        None => None,
    };
    if let Some(kept) = held.as_ref().and_then(|h| h.as_ref()) {
        if kept.request != fingerprint {
            return Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "ConfigError",
                "this Idempotency-Key was used for another request; send a new key with a new request",
            )
            .into();
        }
        return Answer {
            status: StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK),
            body: kept.body.clone(),
            replayed: true,
            retry_after: false,
        };
    }
    match apply(shared.tracker.store().clone(), kind, &partition, &bytes).await {
        Ok(written) => {
            shared.metrics.written(kind.name());
            crate::refresh::note_write(&shared);
            let body = to_json(&written);
            if let Some(held) = held.as_mut() {
                **held = Some(Kept {
                    request: fingerprint,
                    status: 200,
                    body: body.clone(),
                });
            }
            Answer {
                status: StatusCode::OK,
                body,
                replayed: false,
                retry_after: false,
            }
        }
        Err(f) => f.into(),
    }
}

/// `POST` of one kind of record.
pub(crate) async fn write(
    State((writes, kind)): State<(Arc<Writes>, Kind)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (answer, who) = answer(&writes, kind, raw.as_deref(), &headers, body).await;
    if !answer.status.is_success() {
        writes
            .partitions
            .default_one()
            .metrics
            .refused(kind.name(), answer.status.as_u16());
    }
    let mut response = answer.into_response();
    if let Some(who) = who {
        response.extensions_mut().insert(who);
    }
    response
}

async fn answer(
    writes: &Arc<Writes>,
    kind: Kind,
    raw: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> (Answer, Option<Principal>) {
    let default = writes.partitions.default_one().tracker.partition();
    let partition = match partition(raw, default) {
        Ok(p) => p,
        Err(f) => return (f.into(), None),
    };
    let writer =
        match auth::writer(&writes.tokens, writes.oidc.as_deref(), headers, &partition).await {
            Ok(w) => w,
            Err(refusal) => {
                let status = refusal.status;
                let mut answer: Answer = Failure::new(status, "AuthError", refusal.message).into();
                // Only keys that cannot be fetched just now are worth a retry.
                answer.retry_after = status == StatusCode::SERVICE_UNAVAILABLE;
                return (answer, None);
            }
        };
    let who = writer.who.clone();
    // Only partitions the server serves are written: another is refused, once the writer
    // is known, so no one learns which partitions are served without a credential.
    let shared = match writes.partitions.find(Some(&partition)) {
        Ok(s) => s.clone(),
        Err(unknown) => {
            let failure = Failure {
                status: StatusCode::NOT_FOUND,
                body: to_json(&ErrorBody {
                    error: unknown.message(),
                    kind: "ConfigError",
                    field: Some("partition".to_string()),
                    reason: None,
                    value: Some(Value::String(unknown.name.clone())),
                }),
            };
            return (failure.into(), Some(who));
        }
    };
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if idempotency::valid_key(k.trim()) => Some(k.trim().to_string()),
        Some(_) => {
            let reason = format!(
                "is not 1 to {} visible ASCII characters",
                idempotency::MAX_KEY_LEN
            );
            return (
                Failure::invalid("Idempotency-Key", &reason, None).into(),
                Some(who),
            );
        }
    };
    let bytes = match read_body(headers, body).await {
        Ok(b) => b,
        Err(f) => return (f.into(), Some(who)),
    };
    let slot = key.map(|key| {
        writes.cache.slot(idempotency::Scope {
            token: writer.owner.clone(),
            partition: partition.clone(),
            route: kind.path(),
            key,
        })
    });
    // A task of its own: the rule and the kept answer finish even if the client leaves.
    let task = tokio::spawn(run(shared, kind, partition, bytes, slot));
    let answer = match task.await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::error!("a write task ended early: {e}");
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "StoreError",
                "the write stopped early; send it again",
            )
            .into()
        }
    };
    (answer, Some(who))
}

/// The JSON error body a refused write would carry, for the API document.
pub(crate) fn error_example(field: &str, reason: &str, value: Value) -> Value {
    serde_json::to_value(ErrorBody {
        error: format!("invalid {field}: {reason}"),
        kind: "ConfigError",
        field: Some(field.to_string()),
        reason: Some(reason.to_string()),
        value: Some(value),
    })
    .unwrap_or(Value::Null)
}
