//! Keeping the tracker fresh: one refresh at a time, each run as a task of its own (so a
//! panic is caught and reported, and a request that gives up does not cut it short), and a
//! background loop that is restarted whenever it stops.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Shared;

/// How long `/api/health` waits for a refresh it started itself (a router without a
/// background refresher); after that it reports what it knows.
pub(crate) const HEALTH_WAIT: Duration = Duration::from_millis(500);

/// How long the background loop rests before it is restarted after it stopped.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// The longest panic message kept, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// The outcome of the last refresh attempts, and the refresh running now.
pub(crate) struct RefreshState {
    last: RwLock<Attempts>,
    /// Whether a refresh runs now.
    running: AtomicBool,
    /// Counts the refreshes that ended; whoever waits for one watches it.
    ended: watch::Sender<u64>,
    /// Whether a record was written through the server since the last refresh started.
    written: AtomicBool,
    /// Wakes the background refresh after a write.
    wake: tokio::sync::Notify,
}

impl Default for RefreshState {
    fn default() -> Self {
        RefreshState {
            last: RwLock::default(),
            running: AtomicBool::new(false),
            ended: watch::channel(0).0,
            written: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
        }
    }
}

/// What the refreshes so far came to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attempts {
    /// When the last attempt finished, successful or not.
    pub(crate) at: Option<DateTime<Utc>>,
    /// Its error, if it failed.
    pub(crate) error: Option<String>,
    /// Failures in a row.
    pub(crate) failures: u32,
    /// Why the background loop last stopped, until a refresh works again.
    pub(crate) stopped: Option<String>,
    /// How often the background loop was restarted.
    pub(crate) restarts: u32,
}

impl RefreshState {
    pub(crate) fn attempts(&self) -> Attempts {
        self.last.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, outcome: Result<(), String>) {
        let mut last = self.last.write().unwrap_or_else(|p| p.into_inner());
        last.at = Some(Utc::now());
        match outcome {
            Ok(()) => {
                if last.error.is_some() || last.stopped.is_some() {
                    tracing::info!("refresh works again after {} failure(s)", last.failures);
                }
                last.error = None;
                last.failures = 0;
                last.stopped = None;
            }
            Err(e) => {
                tracing::warn!("refresh failed: {e}");
                last.error = Some(e);
                last.failures += 1;
            }
        }
    }

    fn stopped(&self, why: String) {
        tracing::error!("the background refresh stopped ({why}); restarting it");
        let mut last = self.last.write().unwrap_or_else(|p| p.into_inner());
        last.stopped = Some(why);
        last.restarts += 1;
    }

    /// The last refresh error, if the last attempt failed.
    pub(crate) fn error(&self) -> Option<String> {
        self.attempts().error
    }

    /// Changes each time a refresh ends (notifications read the new snapshot then).
    pub(crate) fn ended(&self) -> watch::Receiver<u64> {
        self.ended.subscribe()
    }
}

/// When the next refresh is due: `every` after the last attempt, or now if none was made.
fn next_due(shared: &Shared) -> Option<DateTime<Utc>> {
    let every =
        chrono::Duration::from_std(shared.refresh_every()).unwrap_or(chrono::Duration::seconds(30));
    shared.refresh.attempts().at.map(|at| at + every)
}

fn due(shared: &Shared) -> bool {
    shared.refresh.written.load(Ordering::Acquire)
        || next_due(shared).is_none_or(|t| t <= Utc::now())
}

/// How long the background refresh waits after a write before it refreshes, so a burst
/// of writes costs one refresh.
const AFTER_WRITE: Duration = Duration::from_millis(500);

/// A record was written through the server: the next read (or, with a background
/// refresh, [`AFTER_WRITE`] from now) refreshes, so the page shows it.
pub(crate) fn note_write(shared: &Shared) {
    shared.refresh.written.store(true, Ordering::Release);
    shared.refresh.wake.notify_one();
}

/// How long the provider calls of one refresh may take in all.
const REFRESH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Marks the refresh as over however its task ends, and wakes whoever waits for it.
struct Running(Arc<Shared>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.refresh.running.store(false, Ordering::Release);
        self.0.refresh.ended.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Starts a refresh unless one runs; the receiver changes when the running one ends.
fn start(shared: &Arc<Shared>) -> watch::Receiver<u64> {
    let ended = shared.refresh.ended.subscribe();
    if shared.refresh.running.swap(true, Ordering::AcqRel) {
        return ended;
    }
    shared.refresh.written.store(false, Ordering::Release);
    let running = Running(shared.clone());
    tokio::spawn(async move {
        let tracker = running.0.tracker.clone();
        // Every provider call of one refresh ends by the deadline: a provider that never
        // answers becomes a warning, not a refresh that hangs. With self-tracing on, the
        // refresh and its provider requests become spans (spektate_core::self_trace).
        let work = spektate_core::correlate::within(REFRESH_DEADLINE, async move {
            spektate_core::self_trace::refresh(tracker.partition(), tracker.refresh()).await
        });
        let started = std::time::Instant::now();
        let joined = tokio::spawn(work).await;
        let stats = match &joined {
            Ok(Ok(stats)) => Some(stats),
            _ => None,
        };
        running.0.metrics.refreshed(started.elapsed(), stats);
        let outcome = match joined {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) if e.is_panic() => Err(format!(
                "the refresh panicked: {}",
                panic_message(e.into_panic())
            )),
            Err(_) => Err("the refresh was cancelled".to_string()),
        };
        running.0.refresh.record(outcome);
    });
    ended
}

/// Refreshes now, or waits for the refresh already running.
async fn refresh_now(shared: &Arc<Shared>) {
    let mut ended = start(shared);
    let _ = ended.changed().await;
}

/// Refreshes when due. A caller that finds a refresh running waits for it and does not
/// refresh again.
pub(crate) async fn ensure_fresh(shared: &Arc<Shared>) {
    if due(shared) {
        refresh_now(shared).await;
    }
}

/// What a request should do before reading the snapshot: wait for the very first refresh;
/// without a background refresher, also refresh when due.
pub(crate) async fn before_read(shared: &Arc<Shared>) {
    let first = shared.refresh.attempts().at.is_none();
    if first || (!shared.background.load(Ordering::Relaxed) && due(shared)) {
        refresh_now(shared).await;
    }
}

/// What `/api/health` does first: never wait on a background refresh; without one, start
/// a refresh when due and wait for it at most [`HEALTH_WAIT`].
pub(crate) async fn before_health(shared: &Arc<Shared>) {
    if shared.background.load(Ordering::Relaxed) || !due(shared) {
        return;
    }
    let mut ended = start(shared);
    let _ = tokio::time::timeout(HEALTH_WAIT, ended.changed()).await;
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

/// Refreshes when due, then sleeps until the next refresh is due; forever.
async fn refresh_loop(shared: Arc<Shared>) {
    loop {
        ensure_fresh(&shared).await;
        let wait = next_due(&shared)
            .and_then(|t| (t - Utc::now()).to_std().ok())
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(100));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.refresh.wake.notified() => tokio::time::sleep(AFTER_WRITE).await,
        }
    }
}

pub(crate) fn spawn(shared: Arc<Shared>) -> Refresher {
    supervise(shared, refresh_loop)
}

/// Aborts the task when dropped, so aborting the supervisor stops the loop it watches.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `body` in a task and restarts it, after [`RESTART_DELAY`], whenever it ends or
/// panics, recording why for the health.
fn supervise<F, Fut>(shared: Arc<Shared>, body: F) -> Refresher
where
    F: Fn(Arc<Shared>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    shared.background.store(true, Ordering::Relaxed);
    let this = shared.clone();
    let task = tokio::spawn(async move {
        loop {
            let mut run = AbortOnDrop(tokio::spawn(body(this.clone())));
            let why = match (&mut run.0).await {
                Ok(()) => "its loop ended".to_string(),
                Err(e) if e.is_panic() => {
                    format!("it panicked: {}", panic_message(e.into_panic()))
                }
                Err(_) => "it was cancelled".to_string(),
            };
            this.refresh.stopped(why);
            tokio::time::sleep(RESTART_DELAY).await;
        }
    });
    Refresher { task, shared }
}

/// The message of a panic, cut to [`MAX_MESSAGE_CHARS`].
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let text = match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => s.to_string(),
            Err(_) => "(no message)".to_string(),
        },
    };
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use spektate_core::{MemoryStore, Tracker};

    use super::*;
    use crate::{Dashboard, HealthStatus};

    async fn until(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !ok() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_loop_that_panics_or_ends_is_restarted_and_health_says_why_until_a_refresh_works() {
        let tracker = Tracker::builder(Arc::new(MemoryStore::new())).build();
        let dashboard = Dashboard::new(tracker).refresh_every(Duration::from_secs(1));
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let refresher = supervise(dashboard.shared.clone(), move |shared| {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                match run {
                    0 => {
                        ensure_fresh(&shared).await;
                        panic!("a bug in the loop");
                    }
                    1 => {}
                    _ => refresh_loop(shared).await,
                }
            }
        });

        until("the panic is reported", || {
            dashboard.health().status == HealthStatus::Degraded
        })
        .await;
        let h = dashboard.health();
        assert_eq!(
            h.reasons,
            ["the background refresh stopped (it panicked: a bug in the loop) and was restarted"]
        );
        until("the loop that ended is reported", || {
            dashboard.health().restarts == 2
        })
        .await;
        assert_eq!(
            dashboard.health().reasons,
            ["the background refresh stopped (its loop ended) and was restarted"]
        );
        until("a refresh works again", || {
            dashboard.health().status == HealthStatus::Ok
        })
        .await;
        assert!(dashboard.health().reasons.is_empty());
        assert!(refresher.is_running());
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn panic_messages_are_cut() {
        let long: Box<dyn Any + Send> = Box::new("x".repeat(1000));
        assert_eq!(panic_message(long).chars().count(), MAX_MESSAGE_CHARS + 1);
        let other: Box<dyn Any + Send> = Box::new(42);
        assert_eq!(panic_message(other), "(no message)");
    }
}
