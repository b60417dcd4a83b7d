//! CDEvents `pipelinerun` events as run reports.
//!
//! A CI that speaks [CDEvents](https://cdevents.dev) (v0.4: `dev.cdevents.pipelinerun.queued.0.2.0`,
//! `started`, `finished`; any `0.x` version is read) reports its runs without a Spektate
//! client. The event's `subject.id` is the run id a pipeline records as p1, p2 or p3:
//!
//! ```json
//! {
//!   "context": {"version": "0.4.1", "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
//!               "source": "/event/source/123", "type": "dev.cdevents.pipelinerun.finished.0.2.0",
//!               "timestamp": "2026-03-02T10:04:05Z"},
//!   "subject": {"id": "1044", "source": "/event/source/123", "type": "pipelineRun",
//!               "content": {"pipelineName": "hld-to-manifests",
//!                           "url": "https://ci.example.com/runs/1044",
//!                           "outcome": "success"}}
//! }
//! ```
//!
//! It may come as the body of a CloudEvent in binary mode (the CDEvent is the body) or in
//! structured mode (`{"specversion": "1.0", ..., "data": {CDEvent}}`); both are read.
//! `queued` is [`RunStatus::Queued`] at the event's time, `started` [`RunStatus::InProgress`],
//! `finished` [`RunStatus::Completed`] with the outcome (`success`, `failure`, `cancel`,
//! `error`) as the result.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::run::{RunResult, RunStatus};
use crate::recorder::RunReported;

/// The longest run id or URL taken.
const MAX_TEXT: usize = 1024;

/// A `pipelinerun` event read as a run report.
#[derive(Debug, Clone)]
pub struct PipelineRunEvent {
    /// The event's `context.id`.
    pub event_id: String,
    /// Its `context.type`.
    pub event_type: String,
    /// The run report it makes.
    pub report: RunReported,
}

/// An error of [`crate::Recorder::run_reported`] for a report [`pipeline_run`] made, naming
/// the event's field instead of the report's (`finished-at` is `context.timestamp`).
pub fn named_by_event(e: Error) -> Error {
    let Error::Invalid { field, reason } = e else {
        return e;
    };
    let field = match field.as_str() {
        "run id" => "subject.id",
        "queued-at" | "started-at" | "finished-at" => "context.timestamp",
        "url" => "subject.content.url",
        "result" => "subject.content.outcome",
        "partition key" => "partition",
        _ => return Error::Invalid { field, reason },
    };
    // The reason repeats the report's name where it quotes the value's place.
    let reason = ["queued-at", "started-at", "finished-at"]
        .iter()
        .fold(reason, |r, flag| r.replace(flag, "context.timestamp"));
    Error::Invalid {
        field: field.to_string(),
        reason,
    }
}

/// Reads a CDEvent (or a structured CloudEvent carrying one) as a run report. Errors name
/// the field, e.g. `context.type` of another event, a `subject.id` that is missing.
pub fn pipeline_run(body: &Value) -> Result<PipelineRunEvent> {
    let event = match body.get("data") {
        Some(data) if body.get("specversion").is_some() => data,
        _ => body,
    };
    let text = |path: &str| -> Option<String> {
        let v = path
            .split('.')
            .try_fold(event, |v, k| v.get(k))?
            .as_str()?
            .trim();
        (!v.is_empty()).then(|| v.to_string())
    };
    let required = |path: &str| -> Result<String> {
        let v = text(path).ok_or_else(|| {
            Error::invalid(
                path,
                "is missing or empty; a CDEvent of a pipeline run has it",
            )
        })?;
        if v.chars().count() > MAX_TEXT {
            return Err(Error::invalid(
                path,
                format!("'{}' is longer than {MAX_TEXT} characters", cut(&v)),
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(Error::invalid(
                path,
                format!("'{}' holds control characters", cut(&v)),
            ));
        }
        Ok(v)
    };
    let event_type = required("context.type")?;
    let status = match event_type
        .strip_prefix("dev.cdevents.pipelinerun.")
        .and_then(|rest| rest.split_once('.'))
    {
        Some((what, version)) if version.starts_with("0.") => match what {
            "queued" => RunStatus::Queued,
            "started" => RunStatus::InProgress,
            "finished" => RunStatus::Completed,
            _ => return Err(not_a_run(&event_type)),
        },
        _ => return Err(not_a_run(&event_type)),
    };
    let event_id = required("context.id")?;
    let at = required("context.timestamp")?;
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(&at)
        .map_err(|e| {
            Error::invalid(
                "context.timestamp",
                format!("'{}' is not an RFC 3339 time: {e}", cut(&at)),
            )
        })?
        .with_timezone(&Utc);
    let id = required("subject.id")?;
    // v0.4 names the page `url`, later versions `uri`.
    let url = text("subject.content.url")
        .or_else(|| text("subject.content.uri"))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .filter(|u| u.chars().count() <= MAX_TEXT);
    let mut report = RunReported::new(id, status);
    report.url = url;
    match status {
        RunStatus::Queued => report.queued_at = Some(at),
        RunStatus::InProgress => report.started_at = Some(at),
        RunStatus::Completed => {
            report.finished_at = Some(at);
            report.result = Some(match text("subject.content.outcome").as_deref() {
                None | Some("success") => RunResult::Succeeded,
                Some("failure") | Some("error") => RunResult::Failed,
                Some("cancel") => RunResult::Canceled,
                Some(other) => {
                    return Err(Error::invalid(
                        "subject.content.outcome",
                        format!(
                            "'{}' is not one of success, failure, cancel, error",
                            cut(other)
                        ),
                    ));
                }
            });
        }
    }
    Ok(PipelineRunEvent {
        event_id,
        event_type,
        report,
    })
}

fn not_a_run(event_type: &str) -> Error {
    Error::invalid(
        "context.type",
        format!(
            "'{}' is not dev.cdevents.pipelinerun.queued, started or finished of a 0.x version",
            cut(event_type)
        ),
    )
}

fn cut(s: &str) -> String {
    crate::text::shown(s, 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, content: Value) -> Value {
        json!({
            "context": {"version": "0.4.1", "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
                "source": "/ci", "type": format!("dev.cdevents.pipelinerun.{kind}.0.2.0"),
                "timestamp": "2026-03-02T10:04:05Z"},
            "subject": {"id": "1044", "source": "/ci", "type": "pipelineRun", "content": content}
        })
    }

    #[test]
    fn each_event_is_its_status_and_a_finished_one_its_result() {
        let at: DateTime<Utc> = "2026-03-02T10:04:05Z".parse().unwrap();
        let q = pipeline_run(&event(
            "queued",
            json!({"pipelineName": "p3", "url": "https://ci/1044"}),
        ))
        .unwrap();
        assert_eq!(q.report.id, "1044", "the run id is subject.id");
        assert_eq!(q.event_id, "271069a8-fc18-44f1-b38f-9d70a1695819");
        assert_eq!(q.event_type, "dev.cdevents.pipelinerun.queued.0.2.0");
        assert_eq!(q.report.status, RunStatus::Queued);
        assert_eq!(
            (
                q.report.queued_at,
                q.report.started_at,
                q.report.finished_at
            ),
            (Some(at), None, None)
        );
        assert_eq!(q.report.result, None);
        assert_eq!(q.report.url.as_deref(), Some("https://ci/1044"));
        let f = pipeline_run(&event("finished", json!({"pipelineName": "p3", "url": "https://ci/1044", "outcome": "failure", "errors": "exit 1"}))).unwrap();
        assert_eq!(f.report.id, "1044");
        assert_eq!(
            (f.report.status, f.report.result),
            (RunStatus::Completed, Some(RunResult::Failed))
        );
        // Only the event's own time: the recorder fills the queue and start times in order.
        assert_eq!(
            (
                f.report.queued_at,
                f.report.started_at,
                f.report.finished_at
            ),
            (None, None, Some(at))
        );
        for (outcome, result) in [
            (Some("success"), RunResult::Succeeded),
            (None, RunResult::Succeeded),
            (Some("failure"), RunResult::Failed),
            (Some("error"), RunResult::Failed),
            (Some("cancel"), RunResult::Canceled),
        ] {
            let content = match outcome {
                Some(o) => json!({"pipelineName": "p3", "outcome": o}),
                None => json!({"pipelineName": "p3"}),
            };
            let f = pipeline_run(&event("finished", content)).unwrap();
            assert_eq!(f.report.result, Some(result), "{outcome:?}");
        }
        let structured = json!({"specversion": "1.0", "id": "x", "source": "/ci", "type": "dev.cdevents.pipelinerun.started.0.2.0",
            "data": event("started", json!({"pipelineName": "p3", "url": "https://ci/1044"}))});
        let s = pipeline_run(&structured).unwrap();
        assert_eq!(
            (s.report.id.as_str(), s.report.status),
            ("1044", RunStatus::InProgress)
        );
        assert_eq!(
            (
                s.report.queued_at,
                s.report.started_at,
                s.report.finished_at
            ),
            (None, Some(at), None)
        );
        let other = pipeline_run(&event("deployed", json!({}))).unwrap_err();
        assert!(other.to_string().contains("context.type"), "{other}");
        let mut odd = event("finished", json!({"outcome": "maybe"}));
        assert!(
            pipeline_run(&odd)
                .unwrap_err()
                .to_string()
                .contains("'maybe'")
        );
        odd["subject"]["id"] = json!("");
        assert!(
            pipeline_run(&odd)
                .unwrap_err()
                .to_string()
                .contains("subject.id")
        );
    }

    #[test]
    fn a_refused_text_says_which_problem_and_shows_the_value_cut() {
        let mut long = event("queued", json!({}));
        long["subject"]["id"] = json!(format!("run-{}", "9".repeat(60_000)));
        let e = pipeline_run(&long).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid subject.id: 'run-999")
                && e.contains("…' is longer than 1024 characters"),
            "{e}"
        );
        assert!(!e.contains("control"), "{e}");
        assert!(e.len() < 300, "{} bytes", e.len());
        let mut control = event("queued", json!({}));
        control["subject"]["id"] = json!("1044\n\u{1b}[31m");
        let e = pipeline_run(&control).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid subject.id: '1044  [31m' holds control characters"
        );
    }
}
