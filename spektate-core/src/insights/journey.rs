//! The journey of one deployment cut into consecutive segments: image, metadata, the approval
//! pull request's wait, manifests, sync. Each segment ends at a moment a provider reported
//! (a run's or stage's finish, the merge, the first cluster) and begins where the one before
//! it ended, so the segments of a journey add up to its whole length: the wait between two
//! steps counts in the later step.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::deployment::{Deployment, DeploymentKind, Step, StepState};
use crate::model::run::Run;

/// A segment of the journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Segment {
    /// From the start (the image pipeline's queue time) to the image pipeline's finish.
    Image,
    /// To the metadata pipeline's finish (the HLD commit, or the approval PR opened).
    Metadata,
    /// To the approval pull request's merge; only for deployments with a pull request.
    Approval,
    /// To the manifest pipeline's finish.
    Manifests,
    /// To the first cluster running the deployment.
    Sync,
}

impl Segment {
    /// Every segment, in journey order.
    pub const ALL: [Segment; 5] = [
        Segment::Image,
        Segment::Metadata,
        Segment::Approval,
        Segment::Manifests,
        Segment::Sync,
    ];

    /// Its position in [`Segment::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The word shown in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Image => "image",
            Segment::Metadata => "metadata",
            Segment::Approval => "approval",
            Segment::Manifests => "manifests",
            Segment::Sync => "sync",
        }
    }
}

/// The moments one deployment's journey reached, as far as providers reported them.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    /// The start: the image pipeline's queue time (else its start).
    pub start: Option<DateTime<Utc>>,
    /// When the source commit was committed, as its repository provider said; only when
    /// there is a start and the commit is not after it (clocks of different systems).
    pub committed: Option<DateTime<Utc>>,
    /// When each segment ended, by [`Segment::index`]; `None` while not reached or unknown.
    pub ends: [Option<DateTime<Utc>>; 5],
    /// Whether the deployment has an approval pull request.
    pub has_pr: bool,
}

/// When a step's work finished: its stage's finish for a step of a multi-stage run (stage 1
/// image, 2 metadata), else its run's.
fn finish(step: Option<&Step>, order: Option<u32>) -> Option<DateTime<Utc>> {
    let step = step?;
    if step.state != StepState::Succeeded {
        return None;
    }
    let run: &Run = step.run.as_deref()?;
    if let Some(order) = order {
        if let Some(stage) = run.stages.iter().find(|s| s.order == order) {
            return stage.finished_at;
        }
        // Stages unknown: the run's finish ends the metadata stage only.
        return if order == 2 { run.finished_at } else { None };
    }
    run.finished_at
}

impl Journey {
    /// The journey of `d`. A manual HLD edit has no image, so no start.
    pub fn of(d: &Deployment) -> Journey {
        let start = if d.kind == DeploymentKind::ManualHldEdit {
            None
        } else {
            d.image
                .as_ref()
                .and_then(|s| s.run.as_deref())
                .and_then(|r| r.queued_at.or(r.started_at))
        };
        let (o1, o2) = if d.multi_stage {
            (Some(1), Some(2))
        } else {
            (None, None)
        };
        let merged = d
            .pull_request
            .as_ref()
            .filter(|p| p.merged)
            .and_then(|p| p.merged_at);
        let synced = d.clusters.iter().filter_map(|c| c.synced_at);
        let live = d.live_in.iter().filter_map(|l| l.applied_at);
        let committed = d
            .author
            .as_deref()
            .and_then(|a| a.committed_at)
            .filter(|c| start.is_some_and(|s| *c <= s));
        Journey {
            start,
            committed,
            ends: [
                finish(d.image.as_ref(), o1),
                finish(d.metadata.as_ref(), o2),
                merged,
                finish(d.manifest.as_ref(), None),
                synced.chain(live).min(),
            ],
            has_pr: d.pr().is_some(),
        }
    }

    /// The end of the last reached segment before `segment` (or the start).
    pub fn begin_of(&self, segment: Segment) -> Option<DateTime<Utc>> {
        let mut at = self.start;
        for s in &Segment::ALL[..segment.index()] {
            if let Some(end) = self.ends[s.index()] {
                at = Some(at.map_or(end, |a| a.max(end)));
            }
        }
        at
    }

    /// How long each segment took, in seconds, walking from the start: a segment whose end is
    /// unknown takes none (its time counts in the next known one), and an end reported
    /// before an earlier one (clocks of different systems) takes none either. `None` without
    /// a start.
    pub fn segments(&self) -> Option<[Option<i64>; 5]> {
        let mut at = self.start?;
        let mut out = [None; 5];
        for s in Segment::ALL {
            if let Some(end) = self.ends[s.index()] {
                out[s.index()] = Some((end - at).num_seconds().max(0));
                at = at.max(end);
            }
        }
        Some(out)
    }

    /// Where lead time for changes starts: the source commit's time when known, else the
    /// start.
    pub fn lead_start(&self) -> Option<DateTime<Utc>> {
        self.committed.or(self.start)
    }

    /// The moment the journey ended: the first cluster, else the last step's finish.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        self.ends.iter().flatten().max().copied()
    }
}
