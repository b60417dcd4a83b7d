//! The health `/api/health` reports: whether the data is there, fresh and complete, and if
//! not, why.

use chrono::{DateTime, Utc};
use serde::Serialize;
use spektate_core::Deployment;

use crate::Shared;

/// The most provider problems listed one by one; the rest are counted in one line.
const MAX_PROVIDER_REASONS: usize = 5;

/// How the dashboard's data is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HealthStatus {
    /// The last refresh worked and every provider answered.
    Ok,
    /// Data is served, but the last refresh failed, the background refresh had to be
    /// restarted, or a provider failed for some deployments; [`Health::reasons`] says which.
    Degraded,
    /// No refresh has finished yet.
    Starting,
    /// No refresh has worked yet, and the last one failed.
    Unavailable,
}

impl HealthStatus {
    /// Whether the dashboard has data to serve (`ok` or `degraded`).
    pub fn is_serving(self) -> bool {
        matches!(self, HealthStatus::Ok | HealthStatus::Degraded)
    }
}

/// What `/api/health` answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// How the data is doing.
    pub status: HealthStatus,
    /// The partition (project) tracked.
    pub partition: String,
    /// This library's version.
    pub version: &'static str,
    /// When the data was last refreshed successfully.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// The refresh interval, in seconds.
    pub refresh_seconds: u64,
    /// Deployments in the data.
    pub deployments: usize,
    /// The error of the last refresh, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Failed refreshes in a row.
    pub consecutive_failures: u32,
    /// How often the background refresh stopped and was restarted.
    pub restarts: u32,
    /// Why the status is not `ok`, one sentence each; empty when it is.
    pub reasons: Vec<String>,
    /// A server of several partitions: the health of each one the viewer may read, the
    /// default first (the fields above are then the first one's, with the worst status and
    /// every reason of these). Empty for one partition.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Health>,
}

pub(crate) fn health(shared: &Shared) -> Health {
    let snapshot = shared.tracker.snapshot();
    let attempts = shared.refresh.attempts();
    let mut reasons = Vec::new();
    if let Some(why) = &attempts.stopped {
        reasons.push(format!(
            "the background refresh stopped ({why}) and was restarted"
        ));
    }
    if let Some(e) = &attempts.error {
        reasons.push(match attempts.failures {
            0 | 1 => format!("the last refresh failed: {e}"),
            n => format!("the last {n} refreshes failed: {e}"),
        });
    }
    reasons.extend(provider_reasons(&snapshot.deployments));
    let status = match (snapshot.refreshed_at.is_some(), reasons.is_empty()) {
        (true, true) => HealthStatus::Ok,
        (true, false) => HealthStatus::Degraded,
        (false, true) => HealthStatus::Starting,
        (false, false) => HealthStatus::Unavailable,
    };
    Health {
        status,
        partition: shared.tracker.partition().to_string(),
        version: env!("CARGO_PKG_VERSION"),
        refreshed_at: snapshot.refreshed_at,
        refresh_seconds: shared.refresh_every().as_secs(),
        deployments: snapshot.deployments.len(),
        last_error: attempts.error,
        consecutive_failures: attempts.failures,
        restarts: attempts.restarts,
        reasons,
        partitions: Vec::new(),
    }
}

/// The lookups that failed, one line per cause with the number of deployments it hit, most
/// first. A deployment's warning reads `WHAT: CAUSE`, and a cause from a provider begins with
/// the provider's name.
fn provider_reasons(deployments: &[Deployment]) -> Vec<String> {
    // One line per provider, subject and cause, with the number of objects affected.
    let summaries = spektate_core::warnings::summarize(deployments);
    let mut lines: Vec<String> = summaries
        .iter()
        .take(MAX_PROVIDER_REASONS)
        .map(|s| format!("lookups failed: {s}"))
        .collect();
    let rest = summaries.len().saturating_sub(MAX_PROVIDER_REASONS);
    if rest > 0 {
        let plural = if rest == 1 { "" } else { "s" };
        lines.push(format!(
            "{rest} more failing lookup{plural} (see the deployments' warnings)"
        ));
    }
    lines
}
