//! When a deployment in progress will be live: the expected finish of each remaining segment
//! of its journey ([`Segment`]) from how long the same segment took in the history of the
//! same service and ring, falling back to the service, then to every deployment, when fewer
//! than [`MIN_SAMPLES`] journeys are known there.
//!
//! The running segment ends at its start plus the median of the past durations longer than
//! what it has run so far (it has already outlived the shorter ones); each later segment adds
//! its median. The p90 finish adds the p90s (nearest rank) the same way. The approval segment
//! counts when the deployment names a pull request, or, before its metadata step finished,
//! when most of its history had one; the sync segment counts when its history has deployments
//! a cluster reported, and then "live" means the first cluster, else the manifests' finish.
//! A deployment whose manifests are done and that no cluster runs yet keeps an ETA only while
//! its wait is no longer than the longest past sync of its history.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::journey::{Journey, Segment};
use super::{median, nearest_rank};
use crate::correlate::join::Map;
use crate::model::deployment::{Deployment, DeploymentKind, Status, StepState};

/// The fewest journeys a scope needs before its durations are used.
pub const MIN_SAMPLES: usize = 5;

/// Whose history a segment's estimate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Basis {
    /// Deployments of the same service to the same ring.
    ServiceRing,
    /// Deployments of the same service.
    Service,
    /// Every deployment.
    All,
}

/// The expected finish of one remaining segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EtaStep {
    /// The segment.
    pub segment: Segment,
    /// Its expected finish (medians).
    pub expected_at: DateTime<Utc>,
    /// Its finish at the 90th percentile.
    pub p90_at: DateTime<Utc>,
    /// How many past durations the estimate rests on.
    pub samples: usize,
    /// Whose history they are.
    pub basis: Basis,
}

/// When a deployment in progress is expected to be live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Eta {
    /// The remaining segments, the running one first.
    pub steps: Vec<EtaStep>,
    /// Expected to be live (the last segment's expected finish).
    pub live_at: DateTime<Utc>,
    /// Live at the 90th percentile.
    pub live_p90_at: DateTime<Utc>,
}

/// The durations of one scope's finished journeys.
#[derive(Debug, Default)]
struct Stats {
    /// Seconds, per segment, sorted once learned.
    durations: [Vec<i64>; 5],
    /// Finished journeys.
    journeys: usize,
    /// Of those, how many had an approval pull request.
    with_pr: usize,
}

impl Stats {
    fn add(&mut self, j: &Journey, segments: &[Option<i64>; 5]) {
        self.journeys += 1;
        self.with_pr += usize::from(j.has_pr);
        for (all, seg) in self.durations.iter_mut().zip(segments) {
            all.extend(*seg);
        }
    }
}

/// What the history says about how long each segment takes, per service and ring, per
/// service and overall.
#[derive(Debug, Default)]
pub struct EtaModel {
    /// Per service: its own stats and those of each of its rings.
    by_service: Map<String, (Stats, Map<String, Stats>)>,
    all: Stats,
}

/// The entry of `key` in `map`, inserted when missing; the key is copied only then.
fn slot<'m, T: Default>(map: &'m mut Map<String, T>, key: &str) -> &'m mut T {
    if !map.contains_key(key) {
        map.insert(key.to_string(), T::default());
    }
    map.get_mut(key).expect("inserted above")
}

impl EtaModel {
    /// Learns from the finished journeys among `deployments` (manifests succeeded).
    pub fn learn<'a>(deployments: impl IntoIterator<Item = &'a Deployment>) -> Self {
        Self::learn_first(deployments, usize::MAX)
    }

    /// Learns from the first `per_ring` finished journeys of each service and ring among
    /// `deployments` (the newest, when they come newest first); the service's and the overall
    /// scope hold what their rings learned.
    pub fn learn_first<'a>(
        deployments: impl IntoIterator<Item = &'a Deployment>,
        per_ring: usize,
    ) -> Self {
        let mut m = EtaModel::default();
        for d in deployments {
            if !learnable(d) {
                continue;
            }
            let (service, rings) = slot(&mut m.by_service, d.service().unwrap_or_default());
            let ring = slot(rings, d.ring().unwrap_or_default());
            if ring.journeys >= per_ring {
                continue;
            }
            let j = Journey::of(d);
            let Some(segments) = j.segments() else {
                continue;
            };
            service.add(&j, &segments);
            ring.add(&j, &segments);
            m.all.add(&j, &segments);
        }
        let mut scopes: Vec<&mut Stats> = vec![&mut m.all];
        for (service, rings) in m.by_service.values_mut() {
            scopes.push(service);
            scopes.extend(rings.values_mut());
        }
        for stats in scopes {
            for v in &mut stats.durations {
                v.sort_unstable();
            }
        }
        m
    }

    /// The scopes of `d`, narrowest first.
    fn scopes(&self, d: &Deployment) -> [(Basis, Option<&Stats>); 3] {
        let service = self.by_service.get(d.service().unwrap_or_default());
        [
            (
                Basis::ServiceRing,
                service.and_then(|(_, rings)| rings.get(d.ring().unwrap_or_default())),
            ),
            (Basis::Service, service.map(|(s, _)| s)),
            (Basis::All, Some(&self.all)),
        ]
    }

    /// The durations of `segment` for `d`: the narrowest scope with enough journeys, else
    /// every deployment's; `None` when no journey has this segment.
    fn durations(&self, d: &Deployment, segment: Segment) -> Option<(Basis, &[i64])> {
        let scopes = self.scopes(d);
        let pick = scopes
            .iter()
            .filter_map(|(b, s)| s.map(|s| (*b, &s.durations[segment.index()])))
            .find(|(b, v)| *b == Basis::All || v.len() >= MIN_SAMPLES)?;
        (!pick.1.is_empty()).then_some((pick.0, pick.1.as_slice()))
    }

    /// Whether most of `d`'s history had an approval pull request.
    fn mostly_pr(&self, d: &Deployment) -> bool {
        self.scopes(d)
            .iter()
            .filter_map(|(b, s)| s.filter(|s| *b == Basis::All || s.journeys >= MIN_SAMPLES))
            .next()
            .is_some_and(|s| s.with_pr * 2 > s.journeys)
    }

    /// The ETA of `d` at `now`: `None` unless it is on its way (in progress, waiting for
    /// approval, or its manifests done; no step failed; no cluster runs it yet) and the
    /// history knows every remaining segment; `None` too when a finish would be past the
    /// last time there is (a history of runs queued hundreds of millennia ago).
    pub fn eta(&self, d: &Deployment, now: DateTime<Utc>) -> Option<Eta> {
        if !on_the_way(d) {
            return None;
        }
        let steps = [&d.image, &d.metadata, &d.manifest];
        if steps.iter().any(|s| {
            s.as_ref()
                .is_some_and(|s| matches!(s.state, StepState::Failed | StepState::Canceled))
        }) {
            return None;
        }
        let j = Journey::of(d);
        let metadata_done = j.ends[Segment::Metadata.index()].is_some() || d.manifest.is_some();
        let applies = |s: Segment| match s {
            Segment::Approval => d.pr().is_some() || (!metadata_done && self.mostly_pr(d)),
            Segment::Sync => self.durations(d, Segment::Sync).is_some(),
            _ => true,
        };
        let reached = |s: Segment| {
            j.ends[s.index()..].iter().any(Option::is_some)
                || match s {
                    Segment::Image => {
                        !d.multi_stage
                            && d.metadata
                                .as_ref()
                                .and_then(|m| m.run.as_deref())
                                .is_some_and(|r| r.started_at.is_some())
                    }
                    Segment::Metadata | Segment::Approval => d.manifest.is_some(),
                    _ => false,
                }
        };
        let remaining: Vec<Segment> = Segment::ALL
            .into_iter()
            .filter(|s| applies(*s))
            .skip_while(|s| reached(*s))
            .collect();
        let current = *remaining.first()?;
        let begin = begin_of(&j, d, current, now);
        let elapsed = (now - begin).num_seconds();
        // Manifests done and no cluster yet: only while a past sync took as long.
        if d.status == Status::Complete
            && (current != Segment::Sync
                || all_of(self.durations(d, current)).last() < Some(&elapsed))
        {
            return None;
        }
        let (mut at, mut at90) = (begin, begin);
        let mut out = Vec::with_capacity(remaining.len());
        for s in remaining {
            let (basis, all) = self.durations(d, s)?;
            if s == current {
                let longer = &all[all.partition_point(|v| *v < elapsed)..];
                match (median(longer), nearest_rank(longer, 0.9)) {
                    (Some(m), Some(p)) => {
                        at = later(begin, m)?;
                        at90 = later(begin, p)?;
                    }
                    // It has outlived every past one: due now.
                    _ => (at, at90) = (now, now),
                }
            } else {
                at = later(at, median(all)?)?;
                at90 = later(at90, nearest_rank(all, 0.9)?)?;
            }
            out.push(EtaStep {
                segment: s,
                expected_at: at,
                p90_at: at90,
                samples: all.len(),
                basis,
            });
        }
        Some(Eta {
            steps: out,
            live_at: at,
            live_p90_at: at90,
        })
    }
}

/// `secs` seconds after `t`, when there is such a time.
fn later(t: DateTime<Utc>, secs: i64) -> Option<DateTime<Utc>> {
    t.checked_add_signed(Duration::try_seconds(secs)?)
}

/// The durations of a lookup, or none.
fn all_of(found: Option<(Basis, &[i64])>) -> &[i64] {
    found.map_or(&[], |(_, v)| v)
}

/// A deployment of an image not yet in a cluster that may still get there: in progress,
/// waiting for approval, or with its manifests done.
fn on_the_way(d: &Deployment) -> bool {
    d.kind == DeploymentKind::Deployment
        && matches!(
            d.status,
            Status::InProgress | Status::Complete | Status::Incomplete
        )
        && (d.status != Status::Incomplete || d.awaiting_approval())
        && !d.is_synced()
        && !d.is_live()
}

/// The most finished journeys of one service and ring that [`mark`] learns from: the newest.
pub const HISTORY: usize = 1_000;

/// Sets [`Deployment::eta`] of every deployment on its way, learning from the newest
/// [`HISTORY`] journeys of each service and ring among `deployments`, which come newest
/// first; clears it on the others. Learns nothing when none can have an ETA: a deployment
/// whose manifests are done has none once it has waited for a cluster longer than any past
/// sync took.
pub fn mark(deployments: &mut [Deployment], now: DateTime<Utc>) {
    let sync_begins: Vec<DateTime<Utc>> = deployments.iter().map(|d| sync_begin(d, now)).collect();
    mark_with(deployments, &sync_begins, now);
}

/// [`mark`], where `sync_begins[i]` is [`sync_begin`] of `deployments[i]`: the correlation
/// works it out while it builds the deployment and still has its runs at hand.
pub(crate) fn mark_with(
    deployments: &mut [Deployment],
    sync_begins: &[DateTime<Utc>],
    now: DateTime<Utc>,
) {
    for d in deployments.iter_mut() {
        d.eta = None;
    }
    let longest_sync = longest_sync(deployments);
    let waiting: Vec<usize> = (0..deployments.len())
        .filter(|&i| {
            let d = &deployments[i];
            on_the_way(d)
                && (d.status != Status::Complete || !outwaited(sync_begins[i], longest_sync, now))
        })
        .collect();
    if waiting.is_empty() {
        return;
    }
    let model = EtaModel::learn_first(deployments.iter(), HISTORY);
    for i in waiting {
        let d = &mut deployments[i];
        d.eta = model.eta(d, now).map(Arc::new);
    }
}

/// A finished journey the model learns from: a deployment (not a manual edit) whose
/// manifests succeeded.
fn learnable(d: &Deployment) -> bool {
    d.kind == DeploymentKind::Deployment && d.status == Status::Complete
}

/// The longest sync of any finished journey, in seconds: no scope of a model learned from
/// these deployments holds a longer one. Only a deployment a cluster runs has a sync.
fn longest_sync(deployments: &[Deployment]) -> Option<i64> {
    deployments
        .iter()
        .filter(|d| learnable(d) && (!d.clusters.is_empty() || !d.live_in.is_empty()))
        .filter_map(|d| Journey::of(d).segments()?[Segment::Sync.index()])
        .max()
}

/// When `d`'s sync began, were it waiting for one: when the last step before it ended. It
/// does not depend on the clusters that run `d`.
pub(crate) fn sync_begin(d: &Deployment, now: DateTime<Utc>) -> DateTime<Utc> {
    begin_of(&Journey::of(d), d, Segment::Sync, now)
}

/// Whether a deployment, its manifests done, that began waiting for a cluster at `begin`
/// ([`sync_begin`]) has waited longer than `longest` (the longest past sync), so
/// [`EtaModel::eta`] gives it none whatever the model.
fn outwaited(begin: DateTime<Utc>, longest: Option<i64>, now: DateTime<Utc>) -> bool {
    let Some(longest) = longest else {
        return true;
    };
    (now - begin).num_seconds() > longest
}

/// When `current`, the running segment of `d`, began: the end of the last segment reached
/// before it, else the deployment's start, and never after `now`.
fn begin_of(j: &Journey, d: &Deployment, current: Segment, now: DateTime<Utc>) -> DateTime<Utc> {
    j.begin_of(current).or(d.started_at).unwrap_or(now).min(now)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Duration, Utc};

    use crate::correlate::{Knowledge, Lookup, RepoDefaults, correlate};
    use crate::model::deployment::Deployment;
    use crate::model::record::Record;
    use crate::model::run::{Run, RunKind, RunResult, RunStatus};

    /// A time as a provider's JSON gives it (chrono's serde reads extended years).
    pub(crate) fn time(text: &str) -> DateTime<Utc> {
        serde_json::from_str(&format!("\"{text}\"")).unwrap()
    }

    /// One journey of `fabrikam/web` to `prod`: its image pipeline queued at `queued`, then
    /// the image, metadata and manifest pipelines finished at `ends` (succeeded); the first
    /// `None` is a step still running, and no later one began.
    pub(crate) struct Spec {
        pub n: u32,
        pub queued: DateTime<Utc>,
        pub ends: [Option<DateTime<Utc>>; 3],
    }

    /// The deployments of `specs`, correlated at `now`.
    pub(crate) fn deployments(specs: &[Spec], now: DateTime<Utc>) -> Vec<Deployment> {
        let (mut records, mut k) = (Vec::new(), Knowledge::default());
        for s in specs {
            let mut r = Record::new("fabrikam");
            r.row_key = format!("{:012x}", s.n);
            r.service = Some("fabrikam/web".into());
            r.env = Some("prod".into());
            r.commit_id = Some(format!("1{:06x}{}", s.n, "c".repeat(33)));
            r.image_tag = Some(format!("web-{}", s.n));
            r.timestamp = Some(now);
            r.sequence = Some(i64::from(s.n));
            let mut begin = s.queued;
            for (step, end) in s.ends.iter().enumerate() {
                let id = format!("{}{:04}", step + 1, s.n);
                let kind = if step == 1 {
                    RunKind::Release
                } else {
                    RunKind::Build
                };
                let mut run = Run::new(
                    id.clone(),
                    kind,
                    if end.is_some() {
                        RunStatus::Completed
                    } else {
                        RunStatus::InProgress
                    },
                );
                run.result = end.map(|_| RunResult::Succeeded);
                run.queued_at = Some(begin);
                run.started_at = Some(begin);
                run.finished_at = *end;
                run.last_changed_at = end.or(Some(begin));
                k.runs_mut(kind)
                    .insert(id.as_str().into(), Lookup::Found(Arc::new(run)));
                match step {
                    0 => r.p1 = Some(id),
                    1 => {
                        r.p2 = Some(id);
                        r.hld_commit_id = Some(format!("2{:06x}{}", s.n, "c".repeat(33)));
                        r.hld_repo = Some("https://github.com/fabrikam/hld".into());
                    }
                    _ => {
                        r.p3 = Some(id);
                        r.manifest_commit_id = Some(format!("3{:06x}{}", s.n, "c".repeat(33)));
                        r.manifest_repo = Some("https://github.com/fabrikam/manifests".into());
                    }
                }
                let Some(end) = end else { break };
                begin = *end;
            }
            records.push(Arc::new(r));
        }
        correlate(&records, &k, &RepoDefaults::default(), now)
    }

    #[test]
    fn a_history_of_runs_queued_in_the_year_minus_250000_gives_no_eta_and_no_panic() {
        let now = time("2026-01-01T00:10:00Z");
        let ancient = time("-250000-01-01T00:00:00Z");
        let mins = Duration::minutes;
        let history = |n, image: DateTime<Utc>, metadata: DateTime<Utc>| Spec {
            n,
            queued: ancient,
            ends: [Some(image), Some(metadata), Some(metadata + mins(6))],
        };
        let specs = [
            // Image pipelines of 252,026 years and of 10 minutes, metadata the other way
            // round: each p90 is 252,026 years, and both together end past the year 262142.
            history(
                1,
                time("2026-01-01T00:00:00Z"),
                time("2026-01-01T00:05:00Z"),
            ),
            history(2, ancient + mins(10), time("2026-01-01T00:00:00Z")),
            Spec {
                n: 3,
                queued: now - mins(1),
                ends: [None, None, None],
            },
        ];
        let ds = deployments(&specs, now);
        let running = ds.iter().find(|d| d.id() == "000000000003").unwrap();
        assert_eq!(running.status, crate::model::deployment::Status::InProgress);
        assert_eq!(running.eta, None, "no time is that late");

        // A history of ordinary durations still gives one.
        let specs = [
            Spec {
                n: 1,
                queued: now - mins(60),
                ends: [
                    Some(now - mins(50)),
                    Some(now - mins(45)),
                    Some(now - mins(39)),
                ],
            },
            Spec {
                n: 3,
                queued: now - mins(1),
                ends: [None, None, None],
            },
        ];
        let ds = deployments(&specs, now);
        let running = ds.iter().find(|d| d.id() == "000000000003").unwrap();
        let eta = running.eta.as_ref().expect("an eta");
        assert_eq!(eta.live_at, now - mins(1) + mins(21));
    }
}
