//! The DORA metrics `Tracker.metrics` resolves to and a deployment's `eta`, as plain objects
//! with the camelCase fields of their JSON documents (`spektate metrics -o json`, the
//! deployment JSON's `eta`), `Date`s for times and the JSON words for enum values.

use chrono::{DateTime, Utc};
use napi_derive::napi;
use spektate::insights::dora::{self, Group};
use spektate_bindings_common::words::word;

/// A count as a JS number (a count above 2^32 - 1 is not possible here; it is capped).
fn n(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The expected finish of one remaining step of a deployment's journey.
#[napi(object, use_nullable = true)]
pub struct EtaStep {
    /// The step.
    #[napi(ts_type = "'image' | 'metadata' | 'approval' | 'manifests' | 'sync'")]
    pub segment: String,
    /// Its expected finish (medians).
    pub expected_at: DateTime<Utc>,
    /// Its finish at the 90th percentile.
    pub p90_at: DateTime<Utc>,
    /// How many past durations the estimate rests on.
    pub samples: u32,
    /// Whose history: the same service and ring, the service, or every deployment.
    #[napi(ts_type = "'serviceRing' | 'service' | 'all'")]
    pub basis: String,
}

/// When a deployment on its way is expected to be live, from the history of its service and
/// ring (else its service, else every deployment).
#[napi(object, use_nullable = true)]
pub struct Eta {
    /// The remaining steps, the running one first.
    pub steps: Vec<EtaStep>,
    /// Expected to be live: the last step's expected finish (medians).
    pub live_at: DateTime<Utc>,
    /// Live at the 90th percentile.
    pub live_p90_at: DateTime<Utc>,
}

impl From<&spektate::insights::Eta> for Eta {
    fn from(e: &spektate::insights::Eta) -> Self {
        Eta {
            steps: e
                .steps
                .iter()
                .map(|s| EtaStep {
                    segment: word(&s.segment),
                    expected_at: s.expected_at,
                    p90_at: s.p90_at,
                    samples: n(s.samples),
                    basis: word(&s.basis),
                })
                .collect(),
            live_at: e.live_at,
            live_p90_at: e.live_p90_at,
        }
    }
}

/// Deployment frequency: deployments that completed (their last step succeeded).
#[napi(object, use_nullable = true)]
pub struct DeploymentFrequency {
    /// Deployments that completed in the window.
    pub completed: u32,
    /// The window's length in days.
    pub days: f64,
    /// Completed per day; `null` for an empty window.
    pub per_day: Option<f64>,
    /// Completed per week.
    pub per_week: Option<f64>,
    /// Its DORA band.
    #[napi(ts_type = "'elite' | 'high' | 'medium' | 'low'")]
    pub band: Option<String>,
}

/// The share of lead time each step took, from 0 to 1.
#[napi(object)]
pub struct LeadTimeShares {
    /// From the source commit to the image pipeline's queue time.
    pub commit: f64,
    /// The image pipeline (queue and run).
    pub image: f64,
    /// The metadata pipeline.
    pub metadata: f64,
    /// Waiting for the approval pull request's merge.
    pub approval: f64,
    /// The manifest pipeline.
    pub manifests: f64,
    /// From the manifests to the first cluster.
    pub sync: f64,
}

/// Lead time for changes: from the source commit's time (else the image pipeline's queue
/// time) to the first cluster (or the last step).
#[napi(object, use_nullable = true)]
pub struct LeadTime {
    /// Completed deployments with a start time.
    pub count: u32,
    /// Of those, how many reached a cluster.
    pub live: u32,
    /// Of those, how many start at the source commit's time (the others at the image
    /// pipeline's queue time).
    pub from_commit: u32,
    /// Median, in seconds.
    pub median_secs: Option<i64>,
    /// 90th percentile (nearest rank), in seconds.
    pub p90_secs: Option<i64>,
    /// Where the time went; `null` without lead times.
    pub shares: Option<LeadTimeShares>,
    /// The median's DORA band.
    #[napi(ts_type = "'elite' | 'high' | 'medium' | 'low'")]
    pub band: Option<String>,
}

/// Change failure rate: deployments with a failed step over those that finished.
#[napi(object, use_nullable = true)]
pub struct ChangeFailureRate {
    /// Deployments with a failed step.
    pub failed: u32,
    /// Deployments that completed or failed.
    pub finished: u32,
    /// `failed / finished`; `null` when none finished.
    pub rate: Option<f64>,
    /// Its DORA band.
    #[napi(ts_type = "'elite' | 'high' | 'medium' | 'low'")]
    pub band: Option<String>,
}

/// Time to restore: from a failed deployment's finish to the next completed one of the same
/// service and ring.
#[napi(object, use_nullable = true)]
pub struct TimeToRestore {
    /// Failures followed by a completed deployment of the same service and ring.
    pub restorations: u32,
    /// Failures in the window no completed deployment followed yet.
    pub unrestored: u32,
    /// Median, in seconds.
    pub median_secs: Option<i64>,
    /// The median's DORA band.
    #[napi(ts_type = "'elite' | 'high' | 'medium' | 'low'")]
    pub band: Option<String>,
}

/// The four DORA figures over one set of deployments.
#[napi(object)]
pub struct Figures {
    /// Deployments that completed, per day and per week.
    pub deployment_frequency: DeploymentFrequency,
    /// Lead time for changes.
    pub lead_time: LeadTime,
    /// Change failure rate.
    pub change_failure_rate: ChangeFailureRate,
    /// Time to restore.
    pub time_to_restore: TimeToRestore,
}

impl From<&dora::Figures> for Figures {
    fn from(f: &dora::Figures) -> Self {
        let (df, lt, cf, tr) = (
            &f.deployment_frequency,
            &f.lead_time,
            &f.change_failure_rate,
            &f.time_to_restore,
        );
        Figures {
            deployment_frequency: DeploymentFrequency {
                completed: n(df.completed),
                days: df.days,
                per_day: df.per_day,
                per_week: df.per_week,
                band: df.band.as_ref().map(word),
            },
            lead_time: LeadTime {
                count: n(lt.count),
                live: n(lt.live),
                from_commit: n(lt.from_commit),
                median_secs: lt.median_secs,
                p90_secs: lt.p90_secs,
                shares: lt.shares.as_ref().map(|s| LeadTimeShares {
                    commit: s.commit,
                    image: s.image,
                    metadata: s.metadata,
                    approval: s.approval,
                    manifests: s.manifests,
                    sync: s.sync,
                }),
                band: lt.band.as_ref().map(word),
            },
            change_failure_rate: ChangeFailureRate {
                failed: n(cf.failed),
                finished: n(cf.finished),
                rate: cf.rate,
                band: cf.band.as_ref().map(word),
            },
            time_to_restore: TimeToRestore {
                restorations: n(tr.restorations),
                unrestored: n(tr.unrestored),
                median_secs: tr.median_secs,
                band: tr.band.as_ref().map(word),
            },
        }
    }
}

/// The figures of one service, ring (`-` for none) or ISO week (`2026-W05`), flat as in the
/// JSON document.
#[napi(object)]
pub struct MetricsGroup {
    /// The service, ring or week.
    pub key: String,
    /// Deployments that completed, per day and per week.
    pub deployment_frequency: DeploymentFrequency,
    /// Lead time for changes.
    pub lead_time: LeadTime,
    /// Change failure rate.
    pub change_failure_rate: ChangeFailureRate,
    /// Time to restore.
    pub time_to_restore: TimeToRestore,
}

impl From<&Group> for MetricsGroup {
    fn from(g: &Group) -> Self {
        let f = Figures::from(&g.figures);
        MetricsGroup {
            key: g.key.clone(),
            deployment_frequency: f.deployment_frequency,
            lead_time: f.lead_time,
            change_failure_rate: f.change_failure_rate,
            time_to_restore: f.time_to_restore,
        }
    }
}

/// The DORA metrics of a tracker's deployments in a window, as `spektate metrics -o json`
/// prints them.
#[napi(object, use_nullable = true)]
pub struct Metrics {
    /// The window's start: the one given, else the first deployment that finished.
    pub since: Option<DateTime<Utc>>,
    /// The window's end.
    pub until: DateTime<Utc>,
    /// Where lead time starts.
    pub lead_time_from: String,
    /// The figures of every deployment in the window.
    pub overall: Figures,
    /// The breakdown asked for.
    #[napi(ts_type = "'service' | 'ring' | 'week'")]
    pub by: Option<String>,
    /// One entry per group, in key order; empty without `by`.
    pub groups: Vec<MetricsGroup>,
}

impl From<&spektate::insights::Dora> for Metrics {
    fn from(d: &spektate::insights::Dora) -> Self {
        Metrics {
            since: d.since,
            until: d.until,
            lead_time_from: d.lead_time_from.to_string(),
            overall: Figures::from(&d.overall),
            by: d.by.as_ref().map(word),
            groups: d.groups.iter().map(MetricsGroup::from).collect(),
        }
    }
}
