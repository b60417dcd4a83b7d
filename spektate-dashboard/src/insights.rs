//! `GET /api/metrics/dora`: the DORA metrics of a partition's deployments
//! ([`spektate_core::insights::dora`]), filtered as `spektate metrics` filters them. Named
//! apart from the Prometheus `/metrics`, which measures the server itself.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Extension, RawQuery, State as AxumState};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use spektate_core::insights::{Dora, GroupBy, MetricsOptions, dora};
use spektate_core::{DeploymentKind, Filter, Window};

use crate::Error;
use crate::api::{ErrorBody, json_bytes, to_json};
use crate::auth::{Grant, Principal};
use crate::partitions::Partitions;
use crate::refresh;
use crate::routes::{Access, Routes};

/// The path.
pub const PATH: &str = "/api/metrics/dora";

/// The query parameters accepted.
const ACCEPTED: &str =
    "service, ring, author, imageTag, runId, commit, kind, keyword, since, until, by, partition";

/// What `/api/metrics/dora` is asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsQuery {
    /// Which deployments count.
    pub filter: Filter,
    /// The window's start (`since`: a span such as `30d`, a date or an RFC 3339 time).
    pub since: Option<Window>,
    /// The window's end (`until`: a date or an RFC 3339 time); default now.
    pub until: Option<DateTime<Utc>>,
    /// The breakdown (`by`: service, ring or week).
    pub by: Option<GroupBy>,
    /// The partition; none: the server's default.
    pub partition: Option<String>,
}

fn invalid(field: &str, e: spektate_core::Error) -> Error {
    match e {
        spektate_core::Error::Invalid { reason, .. } => Error::invalid(field, reason),
        other => Error::invalid(field, other.to_string()),
    }
}

impl MetricsQuery {
    /// Parses a raw query string (without the `?`). An empty value is no filter; an unknown
    /// or repeated parameter, or a value that does not parse, is an error naming it.
    ///
    /// ```
    /// use spektate_dashboard::MetricsQuery;
    /// let q = MetricsQuery::parse(Some("service=frontend&by=week&since=30d")).unwrap();
    /// assert_eq!(q.filter.service.as_deref(), Some("frontend"));
    /// let e = MetricsQuery::parse(Some("by=team")).unwrap_err().to_string();
    /// assert_eq!(e, "invalid by: 'team' is not one of service, ring, week");
    /// ```
    pub fn parse(raw: Option<&str>) -> Result<Self, Error> {
        let mut q = MetricsQuery::default();
        let mut seen: HashMap<&'static str, String> = HashMap::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let param = match name.as_ref() {
                "service" => "service",
                "ring" | "env" => "ring",
                "author" => "author",
                "imageTag" | "image-tag" => "imageTag",
                "runId" | "build-id" | "buildId" => "runId",
                "commit" | "commit-id" | "commitId" => "commit",
                "kind" | "type" => "kind",
                "keyword" => "keyword",
                "since" => "since",
                "until" => "until",
                "by" => "by",
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
            let f = &mut q.filter;
            match param {
                "service" => f.service = Some(value),
                "ring" => f.ring = Some(value),
                "author" => f.author = Some(value),
                "imageTag" => f.image_tag = Some(value),
                "runId" => f.run_id = Some(value),
                "commit" => f.commit = Some(value),
                "keyword" => f.keyword = Some(value),
                "kind" => {
                    f.kind = Some(DeploymentKind::parse(&value).map_err(|e| invalid("kind", e))?)
                }
                "since" => q.since = Some(Window::parse(&value).map_err(|e| invalid("since", e))?),
                "until" => q.until = Some(until(&value)?),
                "by" => q.by = Some(GroupBy::parse(&value).map_err(|e| invalid("by", e))?),
                _ => q.partition = Some(value),
            }
        }
        Ok(q)
    }
}

/// `until`: an RFC 3339 time, or a date (its start, UTC).
fn until(v: &str) -> Result<DateTime<Utc>, Error> {
    if let Ok(at) = DateTime::parse_from_rfc3339(v) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            Error::invalid(
                "until",
                format!(
                    "'{v}' is not a date such as 2026-03-31 or a time such as 2026-03-31T12:00:00Z"
                ),
            )
        })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    partition: &'a str,
    refreshed_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    metrics: &'a Dora,
}

/// Adds `/api/metrics/dora`.
pub(crate) fn routes(routes: Routes, partitions: &Arc<Partitions>) -> Routes {
    routes.get(
        PATH,
        Access::Viewer,
        get(metrics).with_state(partitions.clone()),
    )
}

fn refused(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    ErrorBody {
        error: message,
        field,
        value: None,
    }
    .respond(status)
}

async fn metrics(
    AxumState(partitions): AxumState<Arc<Partitions>>,
    _viewer: Option<Extension<Principal>>,
    grant: Option<Extension<Grant>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let grant = grant.map(|Extension(g)| g).unwrap_or_default();
    let query = match MetricsQuery::parse(raw.as_deref()) {
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
    let now = Utc::now();
    let until = query.until.unwrap_or(now);
    // The tracker holds only its own window: an earlier start is moved up to it.
    let held = shared.tracker.window().start(now);
    let since = match (query.since.and_then(|w| w.start(now)), held) {
        (Some(s), Some(h)) => Some(s.max(h)),
        (s, h) => s.or(h),
    };
    if since.is_some_and(|s| s >= until) {
        return refused(
            StatusCode::BAD_REQUEST,
            &format!("invalid until: {until} is not after the window's start"),
            Some("until"),
        );
    }
    refresh::before_read(&shared).await;
    let snapshot = shared.tracker.snapshot();
    if snapshot.refreshed_at.is_none() {
        let message = match shared.refresh.error() {
            Some(e) => format!("the deployments could not be read yet: {e}"),
            None => "the deployments are not read yet; try again in a moment".to_string(),
        };
        return refused(StatusCode::SERVICE_UNAVAILABLE, &message, None);
    }
    // A pass and a sort over every deployment: CPU work, on the blocking pool in a listing
    // turn, as `/api/deployments` is.
    let Ok(turn) = shared.listing.clone().acquire_owned().await else {
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be computed: no turn to compute them",
            None,
        );
    };
    let body = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        // Metrics count expired deployments whatever the filter shows.
        let chosen = query.filter.counting().apply(snapshot.deployments.iter());
        let metrics = dora(
            &chosen,
            &MetricsOptions {
                since,
                until,
                by: query.by,
            },
        );
        to_json(&Body {
            partition: &partition,
            refreshed_at: snapshot.refreshed_at,
            metrics: &metrics,
        })
    })
    .await;
    match body {
        Ok(body) => json_bytes(StatusCode::OK, body),
        Err(e) => {
            tracing::error!("computing the DORA metrics failed: {e}");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the metrics could not be computed; the server's log says why",
                None,
            )
        }
    }
}

/// The API document's entry for `/api/metrics/dora`.
pub(crate) fn operations(security: &Value) -> Vec<(&'static str, Value)> {
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let params: Vec<Value> = [
        ("service", "Service, shown or stored name."),
        ("ring", "Ring (also `env`)."),
        ("author", "A part of the author's name, e-mail or login."),
        ("imageTag", "Image tag (also `image-tag`)."),
        ("runId", "A p1, p2 or p3 run id (also `build-id`)."),
        ("commit", "A source, HLD or manifest commit, 7+ character prefix."),
        ("kind", "deployment or manual-hld-edit (also `type`)."),
        ("keyword", "A word in any shown field."),
        ("since", "The window's start: a span back from now (30d, 12h, 2w), a date or an RFC 3339 time; default, and at the earliest, the start of what the server reads (90 days)."),
        ("until", "The window's end: a date or an RFC 3339 time; default now."),
        ("by", "Break the figures down by service, ring or week."),
        ("partition", "Which partition, on a server of several; default the first."),
    ]
    .into_iter()
    .map(|(name, about)| json!({"name": name, "in": "query", "required": false, "description": about, "schema": {"type": "string"}}))
    .collect();
    let band =
        json!({"type": "string", "enum": ["elite", "high", "medium", "low"], "nullable": true});
    let figures = json!({"type": "object", "required": ["deploymentFrequency", "leadTime", "changeFailureRate", "timeToRestore"], "properties": {
        "deploymentFrequency": {"type": "object", "description": "Deployments that completed (their last recorded step succeeded), per day and per week of the window.", "properties": {
            "completed": {"type": "integer"}, "days": {"type": "number"},
            "perDay": {"type": "number", "nullable": true}, "perWeek": {"type": "number", "nullable": true}, "band": band}},
        "leadTime": {"type": "object", "description": "From the source commit's time (as its repository provider gives it; else the image pipeline's queue time) to the first cluster running the deployment, or its last step's finish when no cluster reports; median, p90 and the share of each segment.", "properties": {
            "count": {"type": "integer"}, "live": {"type": "integer"},
            "fromCommit": {"type": "integer", "description": "Lead times that start at the source commit's time."},
            "medianSecs": {"type": "integer", "nullable": true}, "p90Secs": {"type": "integer", "nullable": true},
            "shares": {"type": "object", "nullable": true, "properties": {
                "commit": {"type": "number", "description": "From the source commit to the image pipeline's queue time."},
                "image": {"type": "number"}, "metadata": {"type": "number"}, "approval": {"type": "number"}, "manifests": {"type": "number"}, "sync": {"type": "number"}}},
            "band": band}},
        "changeFailureRate": {"type": "object", "description": "Deployments with a failed step over those that completed or failed.", "properties": {
            "failed": {"type": "integer"}, "finished": {"type": "integer"}, "rate": {"type": "number", "nullable": true}, "band": band}},
        "timeToRestore": {"type": "object", "description": "Per service and ring, from a failed deployment's finish to the next completed one's; median.", "properties": {
            "restorations": {"type": "integer"}, "unrestored": {"type": "integer"}, "medianSecs": {"type": "integer", "nullable": true}, "band": band}}
    }});
    let mut group = figures.clone();
    group["required"] = json!([
        "key",
        "deploymentFrequency",
        "leadTime",
        "changeFailureRate",
        "timeToRestore"
    ]);
    group["properties"]["key"] =
        json!({"type": "string", "description": "The service, ring or ISO week (2026-W05)."});
    let schema = json!({"type": "object", "required": ["partition", "until", "leadTimeFrom", "overall"], "properties": {
        "partition": {"type": "string"},
        "refreshedAt": {"type": "string", "format": "date-time", "nullable": true},
        "since": {"type": "string", "format": "date-time", "nullable": true},
        "until": {"type": "string", "format": "date-time"},
        "leadTimeFrom": {"type": "string", "description": "Where lead time starts."},
        "overall": figures,
        "by": {"type": "string", "enum": ["service", "ring", "week"]},
        "groups": {"type": "array", "items": group}
    }});
    let op = json!({"get": {
        "tags": ["read"],
        "operationId": "dora-metrics",
        "summary": "DORA metrics of the deployments with their performance bands (spektate metrics)",
        "security": security,
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
            "400": error("A parameter is unknown, repeated or does not parse."),
            "403": error("The viewer's read token may not read this partition."),
            "404": error("The server does not serve this partition; the error names it."),
            "503": error("The deployments are not read yet.")
        }
    }});
    vec![(PATH, op)]
}
