//! A finished deployment as an OpenTelemetry trace: [`OtlpSpan`]s, which
//! [`otlp`](super::otlp) encodes as JSON and [`otlp_proto`](super::otlp_proto) as protobuf.
//!
//! A root span covers the journey from the source commit (when its repository gave its time;
//! else the image pipeline's queue time) to the first cluster (else the last step's finish),
//! with a child span per pipeline run, one for the approval
//! pull request's wait and one for the sync. Ids derive from the partition and deployment id,
//! so exporting the same deployment again (after a restart) sends the same trace.

use chrono::{DateTime, Duration, Utc};

use super::journey::{Journey, Segment};
use super::otlp::{AttrValue, OtlpSpan, SpanKind, StatusCode};
use crate::model::deployment::{Deployment, Status, Step, StepState};
use crate::model::run::Run;

/// How long a completed deployment no cluster reports is waited for before it is exported
/// without a sync span.
pub const SYNC_WAIT: Duration = Duration::hours(1);

/// Whether `d`'s journey has ended, so it is exported: failed or canceled with nothing
/// running, complete and running in a cluster, or complete for [`SYNC_WAIT`] with no
/// cluster reporting it.
pub fn is_finished(d: &Deployment, now: DateTime<Utc>) -> bool {
    match d.status {
        Status::Failed | Status::Canceled => true,
        Status::Complete => {
            d.is_synced()
                || d.is_live()
                || Journey::of(d)
                    .end()
                    .is_some_and(|end| now - end >= SYNC_WAIT)
        }
        _ => false,
    }
}

/// FNV-1a, 64 bits, from `basis`.
fn fnv(basis: u64, parts: &[&str]) -> u64 {
    let mut h = basis;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h.max(1)
}

/// The trace id of a deployment: 32 hex digits from its partition and id.
pub fn trace_id(partition: &str, id: &str) -> String {
    super::otlp::hex(&trace_bytes(partition, id))
}

/// The trace id of a deployment as the 16 bytes protobuf carries.
fn trace_bytes(partition: &str, id: &str) -> [u8; 16] {
    let a = fnv(0xcbf2_9ce4_8422_2325, &[partition, id]);
    let b = fnv(0x84222325_cbf29ce4, &[id, partition]);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_be_bytes());
    out[8..].copy_from_slice(&b.to_be_bytes());
    out
}

/// A span id: 8 bytes from the trace and the span's name.
fn span_id(trace: &[u8; 16], name: &str) -> [u8; 8] {
    fnv(0xcbf2_9ce4_8422_2325, &[&super::otlp::hex(trace), name]).to_be_bytes()
}

fn attr(key: &str, value: &str) -> (String, AttrValue) {
    (key.to_string(), AttrValue::Str(value.to_string()))
}

/// One span before encoding.
struct Span {
    name: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    attributes: Vec<(String, AttrValue)>,
    error: bool,
}

fn result_word(state: StepState) -> &'static str {
    match state {
        StepState::Succeeded => "success",
        StepState::Failed => "failure",
        StepState::Canceled => "cancellation",
        StepState::Skipped => "skip",
        _ => "unknown",
    }
}

fn run_span(name: &str, id: Option<&str>, step: Option<&Step>) -> Option<Span> {
    let step = step?;
    let run: &Run = step.run.as_deref()?;
    let start = run.queued_at.or(run.started_at)?;
    let end = run.finished_at?.max(start);
    let mut attributes = vec![
        attr("cicd.pipeline.run.id", id.unwrap_or(&run.id)),
        attr("cicd.pipeline.result", result_word(step.state)),
    ];
    if let Some(p) = &run.pipeline {
        attributes.push(attr("cicd.pipeline.name", p));
    }
    if let Some(u) = &run.url {
        attributes.push(attr(
            "cicd.pipeline.run.url.full",
            &crate::model::url::without_credentials(u),
        ));
    }
    Some(Span {
        name: name.into(),
        start,
        end,
        attributes,
        error: step.state == StepState::Failed,
    })
}

/// The spans of `d`: the root first. `None` when no run has both its times.
fn spans(d: &Deployment) -> Option<Vec<Span>> {
    let mut children = Vec::new();
    let [(_, p1, image), (_, p2, metadata), (_, p3, manifest)] = d.steps();
    if d.multi_stage {
        children.extend(run_span("image build and metadata update", p1, image));
    } else {
        children.extend(run_span("image build", p1, image));
        children.extend(run_span("metadata update", p2, metadata));
    }
    let j = Journey::of(d);
    if let (Some(merged), Some(begin)) = (
        j.ends[Segment::Approval.index()],
        j.ends[Segment::Metadata.index()],
    ) {
        let mut attributes = Vec::new();
        if let Some(pr) = d.pr() {
            attributes.push(attr("vcs.change.id", pr));
        }
        if let Some(p) = &d.pull_request {
            attributes.push(attr("vcs.change.title", &p.title));
        }
        children.push(Span {
            name: "approval".into(),
            start: begin,
            end: merged.max(begin),
            attributes,
            error: false,
        });
    }
    children.extend(run_span("manifest generation", p3, manifest));
    if let (Some(synced), Some(begin)) = (
        j.ends[Segment::Sync.index()],
        j.ends[Segment::Manifests.index()],
    ) {
        let first = d
            .clusters
            .iter()
            .min_by_key(|c| c.synced_at)
            .map(|c| c.cluster.as_str())
            .or(d.live_in.first().map(|l| l.cluster.as_str()));
        children.push(Span {
            name: "sync".into(),
            start: begin,
            end: synced.max(begin),
            attributes: first
                .map(|c| vec![attr("k8s.cluster.name", c)])
                .unwrap_or_default(),
            error: false,
        });
    }
    // The journey starts at the source commit when its repository gave its time.
    let start = children.iter().map(|s| s.start).chain(j.committed).min()?;
    let end = children.iter().map(|s| s.end).max()?;
    let service = d.service().unwrap_or("manual HLD edit");
    let mut attributes = vec![
        attr("spektate.deployment_id", d.id()),
        attr("spektate.partition", d.partition()),
        attr("spektate.service", service),
    ];
    for (key, value) in [
        ("spektate.ring", d.ring()),
        ("spektate.image_tag", d.image_tag()),
        ("vcs.ref.head.revision", d.commit_id()),
    ] {
        if let Some(v) = value {
            attributes.push(attr(key, v));
        }
    }
    if let Some(r) = &d.source_repo {
        attributes.push(attr("vcs.repository.url.full", &r.web_url()));
    }
    let mut all = vec![Span {
        name: format!("deploy {service} to {}", d.ring().unwrap_or("-")),
        start,
        end,
        attributes,
        error: d.status == Status::Failed,
    }];
    all.extend(children);
    Some(all)
}

/// The spans of `d`'s trace (the root first, its children after it), or none when no run
/// has both its times.
pub fn otlp_spans(d: &Deployment) -> Vec<OtlpSpan> {
    let Some(spans) = spans(d) else {
        return Vec::new();
    };
    let trace = trace_bytes(d.partition(), d.id());
    let root = span_id(&trace, "root");
    spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| OtlpSpan {
            trace_id: trace,
            span_id: if i == 0 {
                root
            } else {
                span_id(&trace, &s.name)
            },
            parent_span_id: (i > 0).then_some(root),
            name: s.name,
            kind: SpanKind::Internal,
            start: s.start,
            end: s.end,
            attributes: s.attributes,
            status: if s.error {
                StatusCode::Error
            } else {
                StatusCode::Ok
            },
            status_message: String::new(),
        })
        .collect()
}

/// The spans of the traces of `deployments`, in order.
pub fn deployment_spans<'a>(
    deployments: impl IntoIterator<Item = &'a Deployment>,
) -> Vec<OtlpSpan> {
    deployments.into_iter().flat_map(otlp_spans).collect()
}

/// An `ExportTraceServiceRequest` in the JSON encoding with the traces of `deployments`,
/// from a resource named `service_name` (`service.name`).
pub fn export_request<'a>(
    deployments: impl IntoIterator<Item = &'a Deployment>,
    service_name: &str,
) -> serde_json::Value {
    super::otlp::json_request(&deployment_spans(deployments), service_name)
}
