//! The journey of one deployment as a timeline: a lane per step with its waiting, queued and
//! running spans, the approval pull request's wait, and the sync lag of each cluster, each
//! span with the moments providers reported. What the dashboard draws as `journey.html`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::deployment::{Deployment, Step, StepState};

/// What a span of a lane is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SpanKind {
    /// Between the previous step's finish and this step's queue time.
    Waiting,
    /// Queued: from the queue time to the start.
    Queued,
    /// Running: from the start to the finish.
    Running,
    /// The approval pull request open: from the metadata step's finish to the merge.
    Approval,
    /// The sync lag: from the manifests' finish to the cluster applying them.
    Sync,
}

/// One span of a lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    /// What it is.
    pub kind: SpanKind,
    /// Its start.
    pub from: DateTime<Utc>,
    /// Its end; `now` while it lasts.
    pub to: DateTime<Utc>,
    /// Whether it still lasts (its end is `now`, not a reported moment).
    pub open: bool,
}

impl Span {
    /// Its length in seconds.
    pub fn secs(&self) -> i64 {
        (self.to - self.from).num_seconds().max(0)
    }
}

/// One lane: a step, the approval, or a cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lane {
    /// `image`, `metadata`, `approval`, `manifests`, or `sync`.
    pub lane: &'static str,
    /// The run id, pull request id or cluster name the lane is about.
    pub name: Option<String>,
    /// The step's state (`succeeded`, `failed`, `inProgress`, ...); for the approval,
    /// `merged` or `open`; for a cluster, `applied`.
    pub state: String,
    /// Its spans, in time order.
    pub spans: Vec<Span>,
}

/// The timeline of one deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    /// The first moment drawn.
    pub start: Option<DateTime<Utc>>,
    /// The last moment drawn (`now` while a span lasts).
    pub end: Option<DateTime<Utc>>,
    /// The lanes, in journey order.
    pub lanes: Vec<Lane>,
}

fn state_word(state: StepState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn push(spans: &mut Vec<Span>, kind: SpanKind, from: DateTime<Utc>, to: DateTime<Utc>, open: bool) {
    if to > from {
        spans.push(Span {
            kind,
            from,
            to,
            open,
        });
    }
}

/// A step's lane: waiting since `after`, queued, running; the times of its stage when the
/// step is a stage of a multi-stage run.
fn step_lane(
    lane: &'static str,
    step: Option<&Step>,
    after: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<(Lane, Option<DateTime<Utc>>)> {
    let step = step?;
    let run = step.run.as_deref()?;
    let (queued, started, finished) = match &step.stage {
        Some(stage) if stage.started_at.is_some() => {
            (stage.started_at, stage.started_at, stage.finished_at)
        }
        _ => (
            run.queued_at.or(run.started_at),
            run.started_at,
            run.finished_at,
        ),
    };
    let lasting = matches!(step.state, StepState::Queued | StepState::InProgress);
    let mut spans = Vec::new();
    if let (Some(after), Some(queued)) = (after, queued) {
        push(&mut spans, SpanKind::Waiting, after, queued, false);
    }
    if let Some(queued) = queued {
        match (started, finished) {
            (Some(s), _) => push(&mut spans, SpanKind::Queued, queued, s, false),
            (None, Some(f)) => push(&mut spans, SpanKind::Queued, queued, f, false),
            (None, None) if lasting => push(&mut spans, SpanKind::Queued, queued, now, true),
            _ => {}
        }
    }
    if let Some(started) = started {
        match finished {
            Some(f) => push(&mut spans, SpanKind::Running, started, f, false),
            None if lasting => push(&mut spans, SpanKind::Running, started, now, true),
            None => {}
        }
    }
    let lane = Lane {
        lane,
        name: Some(run.id.clone()),
        state: state_word(step.state),
        spans,
    };
    Some((lane, finished))
}

/// The timeline of `d` at `now`: the image, metadata and manifest steps with the wait before
/// each (time after the previous step's finish), the approval pull request from the metadata
/// step's finish to its merge (to `now` while open), and each cluster's sync lag from the
/// manifests' finish to the first time it ran them.
pub fn timeline(d: &Deployment, now: DateTime<Utc>) -> Timeline {
    let mut lanes = Vec::new();
    let mut last: Option<DateTime<Utc>> = None;
    let image = step_lane("image", d.image.as_ref(), None, now);
    if let Some((lane, end)) = image {
        lanes.push(lane);
        last = end;
    }
    let metadata = step_lane("metadata", d.metadata.as_ref(), last, now);
    if let Some((lane, end)) = metadata {
        lanes.push(lane);
        last = end.or(last);
    }
    if let (Some(id), Some(opened)) = (d.pr(), last) {
        let pr = d.pull_request.as_ref();
        // The manifest run starts on the merge: without the provider's merge time, the
        // manifests' queue time says the pull request was merged by then.
        let manifests_queued = d
            .manifest
            .as_ref()
            .and_then(|s| s.run.as_deref())
            .and_then(|r| r.queued_at.or(r.started_at));
        let merged = pr
            .filter(|p| p.merged)
            .and_then(|p| p.merged_at)
            .or(manifests_queued);
        let closed = pr.is_some_and(|p| p.closed || p.merged);
        let mut spans = Vec::new();
        match merged {
            Some(at) => push(&mut spans, SpanKind::Approval, opened, at, false),
            None if !closed => push(&mut spans, SpanKind::Approval, opened, now, true),
            None => {}
        }
        lanes.push(Lane {
            lane: "approval",
            name: Some(id.to_string()),
            state: if merged.is_some() {
                "merged"
            } else if closed {
                "closed"
            } else {
                "open"
            }
            .to_string(),
            spans,
        });
        last = merged.or(last);
    }
    let manifests = step_lane("manifests", d.manifest.as_ref(), last, now);
    let mut applied_from = None;
    if let Some((lane, end)) = manifests {
        lanes.push(lane);
        applied_from = end;
    }
    if let Some(from) = applied_from {
        let mut clusters: Vec<(&str, DateTime<Utc>)> = Vec::new();
        let synced = d
            .clusters
            .iter()
            .filter_map(|c| c.synced_at.map(|at| (c.cluster.as_str(), at)));
        let live = d
            .live_in
            .iter()
            .filter_map(|l| l.applied_at.map(|at| (l.cluster.as_str(), at)));
        for (cluster, at) in synced.chain(live) {
            match clusters.iter_mut().find(|(c, _)| *c == cluster) {
                Some(entry) => entry.1 = entry.1.min(at),
                None => clusters.push((cluster, at)),
            }
        }
        clusters.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)));
        for (cluster, at) in clusters {
            let mut spans = Vec::new();
            push(&mut spans, SpanKind::Sync, from, at, false);
            lanes.push(Lane {
                lane: "sync",
                name: Some(cluster.to_string()),
                state: "applied".to_string(),
                spans,
            });
        }
    }
    let moments = lanes.iter().flat_map(|l| l.spans.iter());
    let start = moments.clone().map(|s| s.from).min();
    let end = moments.map(|s| s.to).max();
    Timeline { start, end, lanes }
}
