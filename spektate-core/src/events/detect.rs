//! Transitions between two snapshots of deployments, each reported once.
//!
//! The detector remembers, per deployment of the last snapshot, which events it reported
//! (`live:<cluster>`, `failed:<step>:<run>`, `approval:<pr>`, `ready`,
//! `trouble:<cluster>:<commit>`); a deployment that
//! leaves the snapshot is forgotten, so memory follows the tracker's window. The first
//! snapshot only primes that memory: after a restart nothing already true is sent again. An
//! event whose time is known and earlier than the detector's start (a refresh that could
//! not reach a provider at start, and learns of an old apply later) is remembered without
//! being reported either.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{Event, EventKind, Replaced};
use crate::model::deployment::{Deployment, StepState};

/// The most deployments remembered; those beyond (a snapshot larger than any window allows)
/// are not watched, with a log line.
pub const MAX_DEPLOYMENTS: usize = 200_000;

/// The most events remembered per deployment (clusters, failed runs); those beyond are not
/// reported, with a log line.
pub const MAX_KEYS_PER_DEPLOYMENT: usize = 256;

#[derive(Debug, Default)]
struct Seen {
    keys: HashSet<String>,
    /// Whether the deployment was live somewhere: it reached its ring.
    live: bool,
}

/// Where a deployment was live in the last snapshot: partition, service, ring, cluster.
type Place = (String, Option<String>, Option<String>, String);

/// Finds what changed between successive snapshots; see the module documentation.
#[derive(Debug)]
pub struct Detector {
    started: DateTime<Utc>,
    pr_wait: Option<chrono::Duration>,
    primed: bool,
    seen: HashMap<(String, String), Seen>,
    live_before: HashMap<Place, Replaced>,
}

/// An event a deployment shows now: what, and when it happened if known.
struct Candidate {
    kind: EventKind,
    known_at: Option<DateTime<Utc>>,
}

impl Detector {
    /// A detector started at `started`: events known to have happened before are not sent.
    pub fn new(started: DateTime<Utc>) -> Self {
        Detector {
            started,
            pr_wait: None,
            primed: false,
            seen: HashMap::new(),
            live_before: HashMap::new(),
        }
    }

    /// Reports an approval pull request that has waited longer than `wait`; none without.
    pub fn pr_wait(mut self, wait: Option<std::time::Duration>) -> Self {
        self.pr_wait = wait.and_then(|w| chrono::Duration::from_std(w).ok());
        self
    }

    /// Whether a first snapshot was observed.
    pub fn is_primed(&self) -> bool {
        self.primed
    }

    /// How many deployments are remembered.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }

    /// The events between the last snapshot observed and `deployments` (a snapshot, newest
    /// first), oldest deployment first; none for the first snapshot, which primes.
    pub fn observe(&mut self, deployments: &[Deployment], now: DateTime<Utc>) -> Vec<Event> {
        let priming = !self.primed;
        let mut events = Vec::new();
        let mut next: HashMap<(String, String), Seen> =
            HashMap::with_capacity(deployments.len().min(MAX_DEPLOYMENTS));
        let (mut unwatched, mut full) = (0usize, 0usize);
        for d in deployments.iter().rev() {
            let id = (d.partition().to_string(), d.id().to_string());
            if next.len() >= MAX_DEPLOYMENTS {
                unwatched += 1;
                continue;
            }
            let mut seen = self.seen.remove(&id).unwrap_or_default();
            let was_live = seen.live;
            let mut first_live = !was_live;
            for c in self.candidates(d, &seen, now) {
                let key = c.kind.key();
                if seen.keys.contains(&key) {
                    continue;
                }
                if seen.keys.len() >= MAX_KEYS_PER_DEPLOYMENT {
                    full += 1;
                    continue;
                }
                let mut kind = c.kind;
                if let EventKind::Live {
                    first_in_ring,
                    replaced,
                    cluster,
                    ..
                } = &mut kind
                {
                    seen.live = true;
                    *first_in_ring = first_live;
                    first_live = false;
                    let place = (
                        d.partition().to_string(),
                        d.service().map(str::to_string),
                        d.ring().map(str::to_string),
                        cluster.clone(),
                    );
                    *replaced = self
                        .live_before
                        .get(&place)
                        .filter(|r| r.id != d.id())
                        .cloned();
                }
                seen.keys.insert(key);
                let before_start = c.known_at.is_some_and(|t| t < self.started);
                if !priming && !before_start {
                    events.push(Event {
                        kind,
                        deployment: d.clone(),
                        at: c.known_at.unwrap_or(now),
                    });
                }
            }
            next.insert(id, seen);
        }
        if unwatched > 0 {
            tracing::warn!(
                "notifications: {unwatched} deployment(s) beyond {MAX_DEPLOYMENTS} are not watched"
            );
        }
        if full > 0 {
            tracing::warn!(
                "notifications: {full} event(s) not sent: a deployment has more than \
                 {MAX_KEYS_PER_DEPLOYMENT} clusters and failed runs"
            );
        }
        self.seen = next;
        self.live_before = deployments
            .iter()
            .flat_map(|d| {
                running_in(d).into_iter().map(move |(cluster, ..)| {
                    (
                        (
                            d.partition().to_string(),
                            d.service().map(str::to_string),
                            d.ring().map(str::to_string),
                            cluster.to_string(),
                        ),
                        Replaced {
                            id: d.id().to_string(),
                            image_tag: d.image_tag().map(str::to_string),
                        },
                    )
                })
            })
            .collect();
        self.primed = true;
        events
    }

    /// What `d` shows now that would be worth an event, in the order they happen.
    fn candidates(&self, d: &Deployment, seen: &Seen, now: DateTime<Utc>) -> Vec<Candidate> {
        let mut out = Vec::new();
        for (name, run_id, step) in d.steps() {
            let (Some(run_id), Some(step)) = (run_id, step) else {
                continue;
            };
            if step.state == StepState::Failed {
                out.push(Candidate {
                    kind: EventKind::StepFailed {
                        step: name,
                        run_id: run_id.to_string(),
                    },
                    known_at: step.run.as_ref().and_then(|r| r.finished_at),
                });
            }
        }
        if let Some(wait) = self.pr_wait
            && d.awaiting_approval()
            && let Some(pr) = d.pr()
        {
            let since = d
                .metadata
                .as_ref()
                .and_then(|s| s.run.as_ref())
                .and_then(|r| r.finished_at)
                .unwrap_or(d.last_updated);
            // A finish no clock reaches (a stored year 262143) never passes.
            if let Some(passed) = since.checked_add_signed(wait)
                && now >= passed
            {
                out.push(Candidate {
                    kind: EventKind::ApprovalWaiting {
                        pr: pr.to_string(),
                        since,
                    },
                    known_at: Some(passed),
                });
            }
        }
        for t in &d.cluster_troubles {
            out.push(Candidate {
                kind: EventKind::ClusterFailed {
                    cluster: t.cluster().to_string(),
                    commit: t.commit().to_string(),
                    reason: t.reason.clone(),
                    health: t.health.clone(),
                    message: t.message.clone(),
                },
                known_at: t.sync.synced_at,
            });
        }
        let manifest = d.manifest.as_ref();
        if manifest.is_some_and(|s| s.state == StepState::Succeeded)
            && !seen.live
            && !d.is_live()
            && !d.is_synced()
        {
            out.push(Candidate {
                kind: EventKind::Ready,
                known_at: manifest
                    .and_then(|s| s.run.as_ref())
                    .and_then(|r| r.finished_at),
            });
        }
        for (cluster, commit, exact, at) in running_in(d) {
            out.push(Candidate {
                kind: EventKind::Live {
                    cluster: cluster.to_string(),
                    commit: commit.to_string(),
                    exact,
                    first_in_ring: false,
                    replaced: None,
                },
                known_at: at,
            });
        }
        out
    }
}

/// Where `d` runs: the clusters it is live in, then those that run its exact commit without
/// being counted live (no repository to order commits by); `(cluster, commit, exact,
/// applied at)`.
pub(crate) fn running_in(d: &Deployment) -> Vec<(&str, &str, bool, Option<DateTime<Utc>>)> {
    let mut out: Vec<_> = d
        .live_in
        .iter()
        .map(|l| (l.cluster.as_str(), l.commit.as_str(), l.exact, l.applied_at))
        .collect();
    let mut seen: std::collections::HashSet<&str> = out.iter().map(|(name, ..)| *name).collect();
    for c in &d.clusters {
        if seen.insert(c.cluster.as_str()) {
            out.push((c.cluster.as_str(), c.commit.as_str(), true, c.synced_at));
        }
    }
    out
}
