//! Keeping the tracker fresh: one refresh at a time, in the background or on demand, and
//! the health that says how it went.

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::Shared;

/// The outcome of the last refresh attempts.
#[derive(Default)]
pub(crate) struct RefreshState {
    /// Held while a refresh runs, so callers that arrive meanwhile wait for it instead of
    /// starting their own.
    gate: tokio::sync::Mutex<()>,
    last: RwLock<Attempts>,
}

#[derive(Debug, Clone, Default)]
struct Attempts {
    /// When the last attempt finished, successful or not.
    at: Option<DateTime<Utc>>,
    /// Its error, if it failed.
    error: Option<String>,
    /// Failures in a row.
    failures: u32,
}

impl RefreshState {
    fn attempts(&self) -> Attempts {
        self.last.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, outcome: Result<(), String>) {
        let mut last = self.last.write().unwrap_or_else(|p| p.into_inner());
        last.at = Some(Utc::now());
        match outcome {
            Ok(()) => {
                if last.error.is_some() {
                    tracing::info!("refresh works again after {} failure(s)", last.failures);
                }
                last.error = None;
                last.failures = 0;
            }
            Err(e) => {
                tracing::warn!("refresh failed: {e}");
                last.error = Some(e);
                last.failures += 1;
            }
        }
    }

    /// The last refresh error, if the last attempt failed.
    pub(crate) fn error(&self) -> Option<String> {
        self.attempts().error
    }
}

/// When the next refresh is due: `every` after the last attempt, or now if none was made.
fn next_due(shared: &Shared) -> Option<DateTime<Utc>> {
    let every =
        chrono::Duration::from_std(shared.refresh_every()).unwrap_or(chrono::Duration::seconds(30));
    shared.refresh.attempts().at.map(|at| at + every)
}

fn due(shared: &Shared) -> bool {
    next_due(shared).is_none_or(|t| t <= Utc::now())
}

/// Refreshes when due. A caller that finds a refresh in flight waits for it and does not
/// refresh again.
pub(crate) async fn ensure_fresh(shared: &Shared) {
    if !due(shared) {
        return;
    }
    let _gate = shared.refresh.gate.lock().await;
    if !due(shared) {
        return;
    }
    let outcome = shared
        .tracker
        .refresh()
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    shared.refresh.record(outcome);
}

/// What a request should do before reading the snapshot: with a background refresher, wait
/// only for the very first refresh; without one, refresh when due.
pub(crate) async fn before_read(shared: &Shared) {
    if shared.background.load(Ordering::Relaxed) {
        if shared.refresh.attempts().at.is_none() {
            let _gate = shared.refresh.gate.lock().await;
        }
        if shared.refresh.attempts().at.is_some() {
            return;
        }
    }
    ensure_fresh(shared).await;
}

/// A background refresh; stops when dropped.
#[must_use = "the background refresh stops when the Refresher is dropped"]
pub struct Refresher {
    task: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Refresher {
    /// Whether the task still runs.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
        self.shared.background.store(false, Ordering::Relaxed);
    }
}

pub(crate) fn spawn(shared: Arc<Shared>) -> Refresher {
    shared.background.store(true, Ordering::Relaxed);
    let this = shared.clone();
    let task = tokio::spawn(async move {
        loop {
            ensure_fresh(&this).await;
            let wait = next_due(&this)
                .and_then(|t| (t - Utc::now()).to_std().ok())
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(100));
            tokio::time::sleep(wait).await;
        }
    });
    Refresher { task, shared }
}

/// How the dashboard's data is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HealthStatus {
    /// The last refresh worked.
    Ok,
    /// The last refresh failed; the data of an earlier one is served.
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
}

pub(crate) fn health(shared: &Shared) -> Health {
    let snapshot = shared.tracker.snapshot();
    let attempts = shared.refresh.attempts();
    let status = match (snapshot.refreshed_at.is_some(), attempts.error.is_some()) {
        (true, false) => HealthStatus::Ok,
        (true, true) => HealthStatus::Degraded,
        (false, false) => HealthStatus::Starting,
        (false, true) => HealthStatus::Unavailable,
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
    }
}
