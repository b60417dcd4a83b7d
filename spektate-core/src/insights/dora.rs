//! The four DORA figures over deployments (README, "Metrics"):
//!
//! - **deployment frequency**: deployments that completed (their last recorded step
//!   succeeded) per day and per week of the window;
//! - **lead time for changes**: from the start of the journey to the moment the deployment
//!   was first live in a cluster, or its last step finished when no cluster reports; median,
//!   p90 and the share of each [`Segment`] (and of the wait from the commit to the image
//!   pipeline). The start is the source commit's time as its repository provider gives it,
//!   else the image pipeline's queue time ([`LEAD_TIME_FROM`]);
//! - **change failure rate**: deployments with a failed step over deployments that finished
//!   (completed or failed);
//! - **time to restore**: for each service and ring, from the finish of a failed deployment
//!   (the first of a run of failures) to the finish of the next completed one; median.
//!
//! A deployment belongs to the window, and to a week, by the time it finished: its last
//! recorded step's finish when completed, its last finish when failed. A restoration belongs
//! where the completed deployment that ends it does.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;

use super::bands::{self, Band};
use super::journey::{Journey, Segment};
use super::{median, nearest_rank};
use crate::error::{Error, Result};
use crate::model::deployment::{Deployment, Step, StepState};

/// Where lead time starts, as `spektate metrics` says it; [`LeadTime::from_commit`] counts
/// the lead times that start at the commit.
pub const LEAD_TIME_FROM: &str = "the source commit's time, as its repository provider gives it; \
     the image pipeline's queue time where the commit's time is unknown";

/// How figures are broken down besides the whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupBy {
    /// One group per service.
    Service,
    /// One group per ring.
    Ring,
    /// One group per ISO week (Monday to Sunday, UTC), named `2026-W05`.
    Week,
}

impl GroupBy {
    /// Parses `service`, `ring` (or `env`) or `week`, or says which words are accepted.
    pub fn parse(word: &str) -> Result<Self> {
        match word.trim().to_ascii_lowercase().as_str() {
            "service" => Ok(GroupBy::Service),
            "ring" | "env" => Ok(GroupBy::Ring),
            "week" => Ok(GroupBy::Week),
            _ => Err(Error::invalid(
                "by",
                format!("'{word}' is not one of service, ring, week"),
            )),
        }
    }
}

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsOptions {
    /// The window's start; `None` starts at the first deployment that finished.
    pub since: Option<DateTime<Utc>>,
    /// The window's end.
    pub until: DateTime<Utc>,
    /// The breakdown, if any.
    pub by: Option<GroupBy>,
}

/// The shortest window deployment frequency counts in, in days, when the window starts at
/// the first deployment (no `since`): a shorter one (the only deployment finished minutes ago,
/// a week just begun) counts as a day. A window the caller set counts as long as it is.
pub const MIN_WINDOW_DAYS: f64 = 1.0;

/// Deployments that completed, per day and per week.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Frequency {
    /// Deployments that completed in the window.
    pub completed: usize,
    /// The window's length in days.
    pub days: f64,
    /// Completed per day; over a window that starts at the first deployment, at least one day
    /// long ([`MIN_WINDOW_DAYS`]: one deployment ten minutes ago is one a day, not 144);
    /// `None` for an empty window without deployments.
    pub per_day: Option<f64>,
    /// Completed per week (seven times `per_day`).
    pub per_week: Option<f64>,
    /// Its band.
    pub band: Option<Band>,
}

/// The share of lead time each segment took, from 0 to 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shares {
    /// From the source commit to the image pipeline's queue time, where the commit's time
    /// is known.
    pub commit: f64,
    /// Image pipeline (queue and run).
    pub image: f64,
    /// Metadata pipeline.
    pub metadata: f64,
    /// Waiting for the approval pull request's merge.
    pub approval: f64,
    /// Manifest pipeline.
    pub manifests: f64,
    /// From the manifests to the first cluster.
    pub sync: f64,
}

/// Lead time for changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadTime {
    /// Completed deployments with a start time.
    pub count: usize,
    /// Of those, how many reached a cluster (the rest end at their last step).
    pub live: usize,
    /// Of those, how many start at the source commit's time (the rest at the image
    /// pipeline's queue time, the commit's time being unknown).
    pub from_commit: usize,
    /// Median, in seconds.
    pub median_secs: Option<i64>,
    /// 90th percentile (nearest rank), in seconds.
    pub p90_secs: Option<i64>,
    /// Where the time went; `None` without lead times.
    pub shares: Option<Shares>,
    /// The median's band.
    pub band: Option<Band>,
}

/// Change failure rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureRate {
    /// Deployments with a failed step.
    pub failed: usize,
    /// Deployments that completed or failed.
    pub finished: usize,
    /// `failed / finished`.
    pub rate: Option<f64>,
    /// Its band.
    pub band: Option<Band>,
}

/// Time to restore.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restore {
    /// Failures followed by a completed deployment of the same service and ring.
    pub restorations: usize,
    /// Failures in the window no completed deployment followed yet.
    pub unrestored: usize,
    /// Median, in seconds.
    pub median_secs: Option<i64>,
    /// Its band.
    pub band: Option<Band>,
}

/// The four figures over one set of deployments.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Deployment frequency.
    pub deployment_frequency: Frequency,
    /// Lead time for changes.
    pub lead_time: LeadTime,
    /// Change failure rate.
    pub change_failure_rate: FailureRate,
    /// Time to restore.
    pub time_to_restore: Restore,
}

/// The figures of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The service, ring (`-` for none) or week (`2026-W05`).
    pub key: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The DORA metrics of a set of deployments.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dora {
    /// The window's start (given, or the first finish).
    pub since: Option<DateTime<Utc>>,
    /// The window's end.
    pub until: DateTime<Utc>,
    /// Where lead time starts ([`LEAD_TIME_FROM`]).
    pub lead_time_from: &'static str,
    /// The figures of every deployment in the window.
    pub overall: Figures,
    /// The breakdown asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<GroupBy>,
    /// One entry per group, in key order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

/// One deployment as the metrics see it.
struct Outcome<'a> {
    d: &'a Deployment,
    completed: bool,
    failed: bool,
    finished_at: Option<DateTime<Utc>>,
}

fn step_finish(s: &Step) -> Option<DateTime<Utc>> {
    s.run
        .as_deref()
        .and_then(|r| r.finished_at.or(r.last_activity()))
}

impl<'a> Outcome<'a> {
    fn of(d: &'a Deployment) -> Self {
        let steps = [d.image.as_ref(), d.metadata.as_ref(), d.manifest.as_ref()];
        let last = steps.iter().rev().flatten().next();
        let completed = last.is_some_and(|s| s.state == StepState::Succeeded);
        let failed = steps.iter().flatten().any(|s| s.state == StepState::Failed);
        let finished_at = if completed {
            last.and_then(|s| step_finish(s)).or(Some(d.last_updated))
        } else if failed {
            steps
                .iter()
                .flatten()
                .filter_map(|s| step_finish(s))
                .max()
                .or(Some(d.last_updated))
        } else {
            None
        };
        Outcome {
            d,
            completed,
            failed,
            finished_at,
        }
    }

    fn in_window(&self, since: Option<DateTime<Utc>>, until: DateTime<Utc>) -> bool {
        self.finished_at
            .is_some_and(|t| t <= until && since.is_none_or(|s| t >= s))
    }
}

/// A failure and the completed deployment that ended it.
struct Restoration<'a> {
    secs: i64,
    by: &'a Outcome<'a>,
}

/// Pairs, per service and ring, the first failure of each run of failures with the next
/// completed deployment; failures nothing followed are returned apart.
fn restorations<'a>(outcomes: &'a [Outcome<'a>]) -> (Vec<Restoration<'a>>, Vec<&'a Outcome<'a>>) {
    let mut lines: HashMap<(Option<&str>, Option<&str>), Vec<&Outcome>> = HashMap::new();
    for o in outcomes.iter().filter(|o| o.finished_at.is_some()) {
        lines
            .entry((o.d.service(), o.d.ring()))
            .or_default()
            .push(o);
    }
    let (mut done, mut open) = (Vec::new(), Vec::new());
    for line in lines.values_mut() {
        line.sort_by_key(|o| (o.finished_at, o.d.id()));
        let mut failure: Option<&Outcome> = None;
        for o in line.iter() {
            if o.failed {
                failure.get_or_insert(o);
            } else if let Some(f) = failure.take() {
                let secs = (o.finished_at.unwrap_or_default() - f.finished_at.unwrap_or_default())
                    .num_seconds()
                    .max(0);
                done.push(Restoration { secs, by: o });
            }
        }
        open.extend(failure);
    }
    (done, open)
}

fn figures<'a>(
    outcomes: impl Iterator<Item = &'a Outcome<'a>> + Clone,
    restored: impl Iterator<Item = i64>,
    unrestored: usize,
    days: f64,
    shortest: f64,
) -> Figures {
    let completed = outcomes.clone().filter(|o| o.completed).count();
    let failed = outcomes.clone().filter(|o| o.failed).count();
    let finished = outcomes.clone().filter(|o| o.completed || o.failed).count();
    let counted = days.max(shortest);
    let per_day =
        (counted > 0.0 && (days > 0.0 || completed > 0)).then(|| completed as f64 / counted);

    let mut leads = Vec::new();
    let mut live = 0;
    let mut from_commit = 0;
    // Sums in i128: seconds near chrono's limits, added over many deployments, overflow i64.
    let mut commit_sum = 0i128;
    let mut seg_sums = [0i128; 5];
    for o in outcomes.filter(|o| o.completed) {
        let j = Journey::of(o.d);
        let (Some(start), Some(lead_start), Some(end), Some(segs)) =
            (j.start, j.lead_start(), j.end(), j.segments())
        else {
            continue;
        };
        leads.push((end - lead_start).num_seconds().max(0));
        if j.ends[Segment::Sync.index()].is_some() {
            live += 1;
        }
        if j.committed.is_some() {
            from_commit += 1;
            commit_sum += i128::from((start - lead_start).num_seconds());
        }
        for (sum, seg) in seg_sums.iter_mut().zip(segs) {
            *sum += i128::from(seg.unwrap_or(0));
        }
    }
    leads.sort_unstable();
    let total: i128 = commit_sum + seg_sums.iter().sum::<i128>();
    let share = |s: Segment| seg_sums[s.index()] as f64 / total as f64;
    let lead_median = median(&leads);

    let mut restores: Vec<i64> = restored.collect();
    restores.sort_unstable();
    let restore_median = median(&restores);
    let rate = (finished > 0).then(|| failed as f64 / finished as f64);
    Figures {
        deployment_frequency: Frequency {
            completed,
            days,
            per_day,
            per_week: per_day.map(|d| d * 7.0),
            band: per_day.map(bands::frequency),
        },
        lead_time: LeadTime {
            count: leads.len(),
            live,
            from_commit,
            median_secs: lead_median,
            p90_secs: nearest_rank(&leads, 0.9),
            shares: (total > 0).then(|| Shares {
                commit: commit_sum as f64 / total as f64,
                image: share(Segment::Image),
                metadata: share(Segment::Metadata),
                approval: share(Segment::Approval),
                manifests: share(Segment::Manifests),
                sync: share(Segment::Sync),
            }),
            band: lead_median.map(bands::lead_time),
        },
        change_failure_rate: FailureRate {
            failed,
            finished,
            rate,
            band: rate.map(bands::change_failure_rate),
        },
        time_to_restore: Restore {
            restorations: restores.len(),
            unrestored,
            median_secs: restore_median,
            band: restore_median.map(bands::time_to_restore),
        },
    }
}

/// The Monday (00:00 UTC) of the ISO week of `t`, and the week's name (`2026-W05`); the
/// Monday is the first time there is when it would come before it.
fn week_of(t: DateTime<Utc>) -> (DateTime<Utc>, String) {
    let date = t.date_naive();
    let monday = date
        .checked_sub_signed(Duration::days(date.weekday().num_days_from_monday() as i64))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MIN_UTC, |d| d.and_utc());
    let w = date.iso_week();
    (monday, format!("{}-W{:02}", w.year(), w.week()))
}

fn days_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    ((b - a).num_seconds().max(0)) as f64 / 86_400.0
}

fn group_key(o: &Outcome, by: GroupBy) -> String {
    match by {
        GroupBy::Service => o.d.service().unwrap_or("-").to_string(),
        GroupBy::Ring => o.d.ring().unwrap_or("-").to_string(),
        GroupBy::Week => o.finished_at.map(|t| week_of(t).1).unwrap_or_default(),
    }
}

/// The outcomes of one group, its restorations' durations and its failures still open.
#[derive(Default)]
struct Bucket<'a> {
    members: Vec<&'a Outcome<'a>>,
    restored: Vec<i64>,
    open: usize,
}

/// The DORA metrics of `deployments` in the window of `options`. Give every deployment the
/// window may need: a failure just before it still pairs with a completion inside it.
pub fn dora(deployments: &[Deployment], options: &MetricsOptions) -> Dora {
    let (since, until) = (options.since, options.until);
    let all: Vec<Outcome> = deployments.iter().map(Outcome::of).collect();
    let (restored, open) = restorations(&all);
    let inside: Vec<&Outcome> = all.iter().filter(|o| o.in_window(since, until)).collect();
    let start = since.or_else(|| inside.iter().filter_map(|o| o.finished_at).min());
    let days = start.map_or(0.0, |s| days_between(s, until));
    let shortest = if since.is_none() {
        MIN_WINDOW_DAYS
    } else {
        0.0
    };
    let restored: Vec<&Restoration> = restored
        .iter()
        .filter(|r| r.by.in_window(since, until))
        .collect();
    let open: Vec<&Outcome> = open
        .into_iter()
        .filter(|o| o.in_window(since, until))
        .collect();

    let overall = figures(
        inside.iter().copied(),
        restored.iter().map(|r| r.secs),
        open.len(),
        days,
        shortest,
    );
    let mut groups = Vec::new();
    if let Some(by) = options.by {
        // Groups in key order; each outcome's key is made once.
        let mut buckets: BTreeMap<String, Bucket> = BTreeMap::new();
        for &o in &inside {
            buckets.entry(group_key(o, by)).or_default().members.push(o);
        }
        for r in &restored {
            if let Some(b) = buckets.get_mut(&group_key(r.by, by)) {
                b.restored.push(r.secs);
            }
        }
        for o in &open {
            if let Some(b) = buckets.get_mut(&group_key(o, by)) {
                b.open += 1;
            }
        }
        for (key, b) in buckets {
            let days = match (by, b.members.first()) {
                (GroupBy::Week, Some(o)) => {
                    let monday = o.finished_at.map(|t| week_of(t).0).unwrap_or(until);
                    let from = start.map_or(monday, |s| s.max(monday));
                    // The week's end, or the last time there is.
                    let end = monday
                        .checked_add_signed(Duration::days(7))
                        .map_or(until, |end| until.min(end));
                    days_between(from, end)
                }
                _ => days,
            };
            let figures = figures(
                b.members.iter().copied(),
                b.restored.iter().copied(),
                b.open,
                days,
                shortest,
            );
            groups.push(Group { key, figures });
        }
    }
    Dora {
        since: start,
        until,
        lead_time_from: LEAD_TIME_FROM,
        overall,
        by: options.by,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::insights::eta::tests::{Spec, deployments, time};

    /// A journey that completed at `end`, its image pipeline queued 21 minutes before.
    fn completed(n: u32, end: DateTime<Utc>) -> Spec {
        let min = Duration::minutes;
        Spec {
            n,
            queued: end - min(21),
            ends: [Some(end - min(11)), Some(end - min(6)), Some(end)],
        }
    }

    #[test]
    fn one_deployment_minutes_ago_over_the_whole_history_is_one_a_day() {
        let until = time("2026-11-02T12:00:00Z");
        let ds = deployments(&[completed(1, until - Duration::minutes(10))], until);
        let options = MetricsOptions {
            since: None,
            until,
            by: Some(GroupBy::Week),
        };
        let m = dora(&ds, &options);
        let f = &m.overall.deployment_frequency;
        assert_eq!(f.completed, 1);
        assert!((f.days - 10.0 / 1440.0).abs() < 1e-9, "{f:?}");
        assert_eq!((f.per_day, f.per_week), (Some(1.0), Some(7.0)), "{f:?}");
        let week = &m.groups[0].figures.deployment_frequency;
        assert_eq!(week.per_day, Some(1.0), "{week:?}");
    }

    #[test]
    fn a_window_the_caller_set_counts_as_long_as_it_is() {
        let until = time("2026-11-02T12:00:00Z");
        let specs: Vec<Spec> = (1..=10)
            .map(|n| completed(n, until - Duration::minutes(30 * i64::from(n))))
            .collect();
        let ds = deployments(&specs, until);
        let options = MetricsOptions {
            since: Some(until - Duration::hours(6)),
            until,
            by: None,
        };
        let f = dora(&ds, &options).overall.deployment_frequency;
        assert_eq!((f.completed, f.days), (10, 0.25), "{f:?}");
        assert_eq!(f.per_day, Some(40.0), "{f:?}");
    }

    #[test]
    fn weeks_at_the_ends_of_time_are_measured_without_panic() {
        // The first day there is, a Thursday: its Monday comes before it. The last, a
        // Monday: its week ends after it.
        for end in ["-262143-01-01T00:30:00Z", "+262142-12-31T23:00:00Z"] {
            let end = time(end);
            let ds = deployments(&[completed(1, end)], end);
            let m = dora(
                &ds,
                &MetricsOptions {
                    since: None,
                    until: end,
                    by: Some(GroupBy::Week),
                },
            );
            assert_eq!(m.groups.len(), 1, "{end}");
            assert_eq!(m.groups[0].figures.deployment_frequency.completed, 1);
        }
    }
}
