//! The tracker: keeps the last result and refreshes only what can still change
//! (docs/ARCHITECTURE.md, Refresh).

mod answers;
mod forget;
mod kept;
mod refresh;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::cache::AnswersCache;
use crate::correlate::join::{Knowledge, RepoDefaults};
use crate::correlate::key::Key;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::model::deployment::{Deployment, Status};
use crate::model::record::Record;
use crate::model::repo::RepoRef;
use crate::provider::{Pipelines, Repositories, SyncSource};
use crate::store::filtered::FilteredStore;
use crate::store::{RecordQuery, RecordStore};
use crate::stored_runs::StoredRuns;
use crate::window::Window;

/// The result of the last refresh.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Deployments, newest first, expired ones included ([`Deployment::expired`]: shown only
    /// with [`Filter::include_expired`]), none for the context records of a filtered view;
    /// shared, so a refresh that changes nothing copies none.
    pub deployments: Arc<Vec<Deployment>>,
    /// Records whose runs the CI says are all gone and of which the store kept nothing
    /// ([`crate::correlate::join::is_lost`]); deleted by [`Tracker::prune_expired`]. A deployment shown from
    /// kept runs is history, not pruned.
    pub expired: Vec<Record>,
    /// When the refresh finished; `None` before the first.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// What one refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshStats {
    /// Records the store returned.
    pub records_read: usize,
    /// Records that were new or had changed.
    pub records_changed: usize,
    /// Run ids looked up.
    pub runs_requested: usize,
    /// Sync sources asked (one call each).
    pub sync_source_calls: usize,
    /// Deployments now shown.
    pub deployments: usize,
}

/// Builds a [`Tracker`].
pub struct TrackerBuilder {
    store: Arc<dyn RecordStore>,
    partition: String,
    pipelines: Vec<Arc<dyn Pipelines>>,
    repositories: Vec<Arc<dyn Repositories>>,
    sync_sources: Vec<Arc<dyn SyncSource>>,
    defaults: RepoDefaults,
    scope: RecordQuery,
    concurrency: usize,
    overlap: Duration,
    stored_runs: bool,
    window: Window,
    answers: Option<Arc<dyn AnswersCache>>,
    reconcile_every: Duration,
}

/// How often a refresh checks which records the store still holds, by default.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(600);

impl TrackerBuilder {
    /// The partition (project) to track; `default` unless set.
    pub fn partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = partition.into();
        self
    }

    /// Adds a CI provider; providers are asked in the order added.
    pub fn pipelines(mut self, provider: Arc<dyn Pipelines>) -> Self {
        self.pipelines.push(provider);
        self
    }

    /// Adds a repository provider; the first that serves a repository is used.
    pub fn repositories(mut self, provider: Arc<dyn Repositories>) -> Self {
        self.repositories.push(provider);
        self
    }

    /// Adds a sync source (Argo CD): what its applications applied tells which clusters run
    /// which commit. Asked once per refresh, all sources at once.
    pub fn sync_source(mut self, source: Arc<dyn SyncSource>) -> Self {
        self.sync_sources.push(source);
        self
    }

    /// Repositories used when a record names none.
    pub fn defaults(mut self, defaults: RepoDefaults) -> Self {
        self.defaults = defaults;
        self
    }

    /// The manifest repository whose sync tags tell which cluster runs what.
    pub fn manifest_repo(mut self, repo: RepoRef) -> Self {
        self.defaults.manifest_repo = Some(repo);
        self
    }

    /// Only track records written in `window` (default: all). A moving window
    /// ([`Window::Last`]) forgets records as they leave it, so memory follows the window.
    pub fn window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// Only look up what `filter` can show: records its record-level criteria hide (service,
    /// ring, image tag, id, run, commit, kind) are never looked up, and kept only as context
    /// of where commits run ([`FilteredStore`]), so a narrow query costs what it shows in
    /// provider requests and says the same of each deployment as an unfiltered one. With
    /// `top` and no author, status or keyword criterion, only the `top` newest records it
    /// admits and a margin are looked up ([`FilteredStore`]).
    pub fn filter(mut self, filter: &Filter) -> Self {
        self.store = Arc::new(FilteredStore::new(self.store, filter.clone()));
        self
    }

    /// Only track records that pass this store-side query.
    pub fn scope(mut self, scope: RecordQuery) -> Self {
        self.scope = scope;
        self
    }

    /// How many provider calls run at once (default 8).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How far back before the last seen timestamp a refresh re-reads, for clock skew
    /// between writers (default 5 s).
    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self
    }

    /// How often a refresh reads the row keys of the tracked records and forgets those the
    /// store no longer holds: deleted by another process (an early manifest record merged
    /// into its deployment's, a `prune`), which a refresh that reads only what changed never
    /// sees (default [`RECONCILE_EVERY`], ten minutes; zero: every refresh). Keys only, so a
    /// large store is not read twice over ([`RecordStore::row_keys`]).
    pub fn reconcile_every(mut self, every: Duration) -> Self {
        self.reconcile_every = every;
        self
    }

    /// Whether the store's run reports serve runs no other provider found (default on).
    pub fn stored_runs(mut self, on: bool) -> Self {
        self.stored_runs = on;
        self
    }

    /// Keeps what providers answered that cannot change in `cache`, and reads it before the
    /// first lookups, so a new process asks only about what is not final ([`crate::cache`]).
    /// Each provider is given the cache too ([`Pipelines::use_answers_cache`]), for its list
    /// pages and tag objects.
    pub fn answers_cache(mut self, cache: Arc<dyn AnswersCache>) -> Self {
        self.answers = Some(cache);
        self
    }

    /// The tracker.
    pub fn build(self) -> Tracker {
        let mut pipelines = self.pipelines;
        let own_pipelines = pipelines.len();
        if let Some(cache) = &self.answers {
            pipelines.iter().for_each(|p| p.use_answers_cache(cache));
            self.repositories
                .iter()
                .for_each(|r| r.use_answers_cache(cache));
        }
        if self.stored_runs {
            pipelines.push(Arc::new(StoredRuns::new(
                self.store.clone(),
                self.partition.clone(),
            )));
        }
        Tracker {
            inner: Arc::new(Inner {
                store: self.store,
                partition: self.partition,
                pipelines,
                own_pipelines,
                answers: self.answers,
                repositories: self.repositories,
                sync_sources: self.sync_sources,
                defaults: self.defaults,
                scope: self.scope,
                window: self.window,
                concurrency: self.concurrency,
                overlap: chrono::Duration::from_std(self.overlap).unwrap_or_default(),
                reconcile_every: self.reconcile_every,
                state: Mutex::new(State::default()),
                snapshot: RwLock::new(Arc::new(Snapshot::default())),
            }),
        }
    }
}

/// Joins a store's records with providers into deployments, and keeps them fresh.
///
/// Cloning is cheap and clones share the state, so one tracker can serve a dashboard and
/// a background refresher at once.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("store", &self.inner.store.describe())
            .field("partition", &self.inner.partition)
            .field(
                "pipelines",
                &self
                    .inner
                    .pipelines
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .field(
                "repositories",
                &self
                    .inner
                    .repositories
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>(),
            )
            .field(
                "sync_sources",
                &self
                    .inner
                    .sync_sources
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

struct Inner {
    store: Arc<dyn RecordStore>,
    partition: String,
    pipelines: Vec<Arc<dyn Pipelines>>,
    /// How many of `pipelines` were added by the builder (the store's run reports follow).
    own_pipelines: usize,
    answers: Option<Arc<dyn AnswersCache>>,
    repositories: Vec<Arc<dyn Repositories>>,
    sync_sources: Vec<Arc<dyn SyncSource>>,
    defaults: RepoDefaults,
    scope: RecordQuery,
    window: Window,
    concurrency: usize,
    overlap: chrono::Duration,
    reconcile_every: Duration,
    state: Mutex<State>,
    snapshot: RwLock<Arc<Snapshot>>,
}

#[derive(Default)]
struct State {
    loaded: bool,
    records: Vec<Arc<Record>>,
    index: crate::correlate::join::Map<Key, usize>,
    watermark: Option<DateTime<Utc>>,
    /// The highest change sequence read, for stores that keep one.
    sequence: Option<i64>,
    knowledge: Knowledge,
    served_by: HashMap<String, usize>,
    status: crate::correlate::join::Map<Key, Status>,
    /// Records whose deployment may still change without its record changing (not complete,
    /// author or pull request not settled); `None` before the first join.
    candidates: Option<Vec<usize>>,
    /// Manifest repositories named by the records (or the defaults), by key.
    manifest_repos: BTreeMap<String, RepoRef>,
    /// The cluster reports' commits no manifest history held when they were last read.
    unheld_reports: HashSet<String>,
    /// Records forgotten (left the window, or deleted) since provider answers were last
    /// pruned.
    forgotten: usize,
    /// When the store last said which records it holds (a full read, or their row keys).
    reconciled_at: Option<std::time::Instant>,
    /// What the answers cache holds.
    answers: answers::Kept,
    /// What the store keeps of providers' answers.
    kept: kept::StoreKept,
}

impl Tracker {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn RecordStore>) -> TrackerBuilder {
        TrackerBuilder {
            store,
            partition: "default".to_string(),
            pipelines: Vec::new(),
            repositories: Vec::new(),
            sync_sources: Vec::new(),
            defaults: RepoDefaults::default(),
            scope: RecordQuery::all(),
            concurrency: 8,
            overlap: Duration::from_secs(5),
            stored_runs: true,
            window: Window::All,
            answers: None,
            reconcile_every: RECONCILE_EVERY,
        }
    }

    /// The partition tracked.
    pub fn partition(&self) -> &str {
        &self.inner.partition
    }

    /// The window of records tracked.
    pub fn window(&self) -> Window {
        self.inner.window
    }

    /// The store read.
    pub fn store(&self) -> &Arc<dyn RecordStore> {
        &self.inner.store
    }

    /// The deployments that pass `filter`, newest first; refreshes first if never refreshed.
    pub async fn deployments(&self, filter: &Filter) -> Result<Vec<Deployment>> {
        if self.snapshot().refreshed_at.is_none() {
            self.refresh().await?;
        }
        Ok(filter.apply(self.snapshot().deployments.iter()))
    }

    /// The result of the last refresh.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner
            .snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Refreshes every `every` in a background task; the receiver sees each new snapshot.
    /// The task ends when every receiver is dropped. Refresh errors are logged and retried.
    pub fn watch(&self, every: Duration) -> tokio::sync::watch::Receiver<Arc<Snapshot>> {
        let (tx, rx) = tokio::sync::watch::channel(self.snapshot());
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                match this.refresh().await {
                    Ok(_) => {
                        if tx.send(this.snapshot()).is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!("refresh failed: {e}"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = tx.closed() => return,
                }
            }
        });
        rx
    }

    /// Deletes the records whose runs have all expired with nothing kept of them
    /// ([`Snapshot::expired`]); returns how many.
    pub async fn prune_expired(&self) -> Result<usize> {
        let expired = self.snapshot().expired.clone();
        let mut state = self.inner.state.lock().await;
        for r in &expired {
            self.inner
                .store
                .delete(&r.partition_key, &r.row_key, r.etag.as_deref())
                .await?;
        }
        let gone: HashSet<&str> = expired.iter().map(|r| r.row_key.as_str()).collect();
        state.records.retain(|r| !gone.contains(r.row_key.as_str()));
        state.reindex();
        state.candidates = None;
        let mut snap = (*self.snapshot()).clone();
        snap.expired.clear();
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(snap);
        Ok(expired.len())
    }
}

impl State {
    fn reindex(&mut self) {
        self.index = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (Key::from(&r.row_key), i))
            .collect();
    }
}

/// Traces once: the deployments of `store`'s `partition` that pass `filter`, with the
/// filter's store-side part pushed down to the store.
pub async fn trace(
    store: Arc<dyn RecordStore>,
    partition: &str,
    pipelines: Vec<Arc<dyn Pipelines>>,
    repositories: Vec<Arc<dyn Repositories>>,
    defaults: RepoDefaults,
    filter: &Filter,
) -> Result<Vec<Deployment>> {
    if partition.trim().is_empty() {
        return Err(Error::invalid(
            "partition key",
            "is empty; a value is required",
        ));
    }
    let mut builder = Tracker::builder(store)
        .partition(partition)
        .defaults(defaults)
        .filter(filter);
    for p in pipelines {
        builder = builder.pipelines(p);
    }
    for r in repositories {
        builder = builder.repositories(r);
    }
    builder.build().deployments(filter).await
}
