//! Status, duration and last-updated of a deployment from the states of its steps.

use chrono::{DateTime, Utc};

use crate::model::deployment::{Status, Step, StepState};
use crate::model::run::{Run, Stage};

/// The overall status (docs/ARCHITECTURE.md, Correlation): Complete when the manifest step
/// succeeded; otherwise In Progress if any step is active, Failed if any failed, Canceled if
/// any was canceled, else Incomplete.
pub fn status(image: Option<&Step>, metadata: Option<&Step>, manifest: Option<&Step>) -> Status {
    if manifest.is_some_and(|s| s.state == StepState::Succeeded) {
        return Status::Complete;
    }
    let states = [image, metadata, manifest].map(|s| s.map(|s| s.state));
    let states = states.iter().flatten();
    if states.clone().any(|s| s.is_active()) {
        Status::InProgress
    } else if states.clone().any(|s| *s == StepState::Failed) {
        Status::Failed
    } else if states.clone().any(|s| *s == StepState::Canceled) {
        Status::Canceled
    } else {
        Status::Incomplete
    }
}

/// The state of the step at `order` (1 = image, 2 = metadata) of a multi-stage run.
///
/// A run that succeeded succeeded in every stage; otherwise the stage decides, and a run
/// whose stages are not known lends its own state to both steps.
pub fn stage_state(run: &Run, stages: &[Stage], order: u32) -> StepState {
    let whole = StepState::of(run.status, run.result);
    if whole == StepState::Succeeded {
        return whole;
    }
    match stages.iter().find(|s| s.order == order) {
        Some(stage) => match (stage.status, stage.result) {
            (_, Some(crate::model::run::RunResult::Skipped)) => StepState::Skipped,
            (status, result) => StepState::of(status, result),
        },
        None if stages.is_empty() => whole,
        // The run has stages but not this one: it never got there.
        None => StepState::Skipped,
    }
}

fn span(run: &Run, now: DateTime<Utc>) -> Option<i64> {
    let queued = run.queued_at.or(run.started_at)?;
    let end = run.finished_at.unwrap_or(now);
    Some((end - queued).num_seconds().max(0))
}

/// Duration in seconds (docs/ARCHITECTURE.md, Correlation): the sum of each distinct run's
/// finish (or now) minus its queue time, so a multi-stage run that is p1 and p2 (or p1, p2
/// and p3) counts once. `runs` are p1, p2 and p3.
pub fn duration(runs: [Option<&Run>; 3], now: DateTime<Utc>) -> Option<i64> {
    let mut distinct: [Option<&Run>; 3] = [None; 3];
    let mut total = None;
    for (i, run) in runs.into_iter().enumerate() {
        let Some(run) = run else { continue };
        if distinct.iter().flatten().any(|seen| same_run(seen, run)) {
            continue;
        }
        distinct[i] = Some(run);
        if let Some(s) = span(run, now) {
            total = Some(total.unwrap_or(0) + s);
        }
    }
    total
}

/// Whether two looked-up runs are one: the same kind and id, or the same web page (a run a
/// provider serves as both a release and a build, as GitHub Actions does).
fn same_run(a: &Run, b: &Run) -> bool {
    (a.kind == b.kind && a.id == b.id) || (a.url.is_some() && a.url == b.url)
}

/// Last updated (docs/ARCHITECTURE.md, Correlation): when p3 last changed, else p2, else p1,
/// else when the record was written, else now.
pub fn last_updated(
    p1: Option<&Run>,
    p2: Option<&Run>,
    p3: Option<&Run>,
    record_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    [p3, p2, p1]
        .into_iter()
        .flatten()
        .find_map(Run::last_activity)
        .or(record_time)
        .unwrap_or(now)
}
