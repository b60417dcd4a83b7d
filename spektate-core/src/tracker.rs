//! The tracker: keeps the last result and refreshes only what can still change
//! (docs/ARCHITECTURE.md, Refresh).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::correlate::fetch;
use crate::correlate::join::{
    self, Knowledge, Lookup, RecordRepos, RepoCache, RepoDefaults, per_repo_get,
};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::model::deployment::{Deployment, Status};
use crate::model::record::Record;
use crate::model::repo::RepoRef;
use crate::model::run::{RunKind, RunResult};
use crate::provider::{Pipelines, Repositories, RunRequest};
use crate::store::{RecordQuery, RecordStore};
use crate::stored_runs::StoredRuns;
use crate::warnings::Subject;

/// The result of the last refresh.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Deployments, newest first.
    pub deployments: Vec<Deployment>,
    /// Records whose runs the CI says are gone; not shown, pruned by [`Tracker::prune_expired`].
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
    /// Deployments now shown.
    pub deployments: usize,
}

/// Builds a [`Tracker`].
pub struct TrackerBuilder {
    store: Arc<dyn RecordStore>,
    partition: String,
    pipelines: Vec<Arc<dyn Pipelines>>,
    repositories: Vec<Arc<dyn Repositories>>,
    defaults: RepoDefaults,
    scope: RecordQuery,
    concurrency: usize,
    overlap: Duration,
    stored_runs: bool,
}

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

    /// Whether the store's run reports serve runs no other provider found (default on).
    pub fn stored_runs(mut self, on: bool) -> Self {
        self.stored_runs = on;
        self
    }

    /// The tracker.
    pub fn build(self) -> Tracker {
        let mut pipelines = self.pipelines;
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
                repositories: self.repositories,
                defaults: self.defaults,
                scope: self.scope,
                concurrency: self.concurrency,
                overlap: chrono::Duration::from_std(self.overlap).unwrap_or_default(),
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
            .finish()
    }
}

struct Inner {
    store: Arc<dyn RecordStore>,
    partition: String,
    pipelines: Vec<Arc<dyn Pipelines>>,
    repositories: Vec<Arc<dyn Repositories>>,
    defaults: RepoDefaults,
    scope: RecordQuery,
    concurrency: usize,
    overlap: chrono::Duration,
    state: Mutex<State>,
    snapshot: RwLock<Arc<Snapshot>>,
}

#[derive(Default)]
struct State {
    loaded: bool,
    records: Vec<Arc<Record>>,
    index: HashMap<String, usize>,
    watermark: Option<DateTime<Utc>>,
    /// The highest change sequence read, for stores that keep one.
    sequence: Option<i64>,
    knowledge: Knowledge,
    served_by: HashMap<String, usize>,
    status: HashMap<String, Status>,
    /// Records whose deployment may still change without its record changing (not complete,
    /// author or pull request not settled); `None` before the first join.
    candidates: Option<Vec<usize>>,
    /// Manifest repositories named by the records (or the defaults), by key.
    manifest_repos: BTreeMap<String, RepoRef>,
}

impl Tracker {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn RecordStore>) -> TrackerBuilder {
        TrackerBuilder {
            store,
            partition: "default".to_string(),
            pipelines: Vec::new(),
            repositories: Vec::new(),
            defaults: RepoDefaults::default(),
            scope: RecordQuery::all(),
            concurrency: 8,
            overlap: Duration::from_secs(5),
            stored_runs: true,
        }
    }

    /// The partition tracked.
    pub fn partition(&self) -> &str {
        &self.inner.partition
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
        Ok(filter.apply(&self.snapshot().deployments))
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

    /// Deletes the records whose runs have all expired; returns how many.
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

    /// Reads what changed in the store and re-fetches only what can still change.
    pub async fn refresh(&self) -> Result<RefreshStats> {
        let inner = &*self.inner;
        let mut guard = inner.state.lock().await;
        let state = &mut *guard;
        let mut stats = RefreshStats::default();

        // 1. Records: the whole scope once, then only what changed since the last one seen:
        // after the last change sequence where the store keeps one, else since the newest
        // timestamp less the store's overlap. Both reads come before any state changes, so
        // a failed read leaves the watermark where it was.
        let mut query = inner.scope.clone();
        if state.loaded {
            if let Some(n) = state.sequence {
                query.after_sequence = Some(n);
            } else if let Some(w) = state.watermark {
                let overlap = inner.overlap.max(
                    chrono::Duration::from_std(inner.store.change_overlap()).unwrap_or_default(),
                );
                query.changed_since = Some(w - overlap);
            }
        }
        let fresh = inner.store.query(&inner.partition, &query).await?;
        let reports = inner.store.cluster_syncs(&inner.partition).await?;
        stats.records_read = fresh.len();
        let mut changed: HashSet<String> = HashSet::new();
        for record in fresh {
            if let Some(t) = record.timestamp {
                state.watermark = Some(state.watermark.map_or(t, |w| w.max(t)));
            }
            if let Some(n) = record.sequence {
                state.sequence = Some(state.sequence.map_or(n, |w| w.max(n)));
            }
            match state.index.get(&record.row_key).copied() {
                Some(i) if state.records[i].etag == record.etag && record.etag.is_some() => {}
                Some(i) => {
                    changed.insert(record.row_key.clone());
                    state.records[i] = Arc::new(record);
                }
                None => {
                    changed.insert(record.row_key.clone());
                    let at = state.records.len();
                    state.index.insert(record.row_key.clone(), at);
                    state.records.push(Arc::new(record));
                }
            }
        }
        state.loaded = true;
        stats.records_changed = changed.len();
        let mut learned = reports != state.knowledge.cluster_reports;
        state.knowledge.cluster_reports = reports;

        // The records worth a look: new or changed ones, and those whose deployment may
        // still change; a settled history is not even iterated.
        let mut work: Vec<usize> = match &state.candidates {
            Some(c) => c.clone(),
            None => (0..state.records.len()).collect(),
        };
        work.extend(changed.iter().filter_map(|k| state.index.get(k).copied()));
        work.sort_unstable();
        work.dedup();
        let records = &state.records;
        let work_records = || work.iter().map(|&i| &records[i]);

        // 2. Runs not yet final, of deployments not yet complete or records that changed.
        let mut cache = RepoCache::new(&inner.defaults);
        let mut due: BTreeMap<RunKind, BTreeMap<String, RunRequest>> = BTreeMap::new();
        for record in work_records() {
            let settled = state.status.get(&record.row_key) == Some(&Status::Complete);
            if settled && !changed.contains(&record.row_key) {
                continue;
            }
            let repos = cache.repos(record);
            let steps = [
                (&record.p1, RunKind::Build, &repos.source),
                (&record.p2, join::p2_kind(record), &repos.source),
                (&record.p3, RunKind::Build, &repos.hld),
            ];
            for (id, kind, repo) in steps {
                let Some(id) = id else { continue };
                let stale = match state.knowledge.runs(kind).get(id) {
                    None | Some(Lookup::Failed(_)) => true,
                    Some(Lookup::Found(run)) => !run.is_final(),
                    Some(Lookup::Missing) => false,
                };
                if stale {
                    due.entry(kind)
                        .or_default()
                        .entry(id.clone())
                        .or_insert_with(|| RunRequest {
                            id: id.clone(),
                            repo: repo.as_ref().map(|e| (*e.repo).clone()),
                        });
                }
            }
        }
        stats.runs_requested = due.values().map(BTreeMap::len).sum();
        let mut run_jobs = Vec::new();
        for (kind, reqs) in due {
            run_jobs.push(fetch::runs(
                &inner.pipelines,
                kind,
                reqs.into_values().collect(),
            ));
        }
        let lookups = futures::future::join_all(run_jobs).await;
        let mut runs_changed = false;
        let mut refetched: HashSet<String> = HashSet::new();
        for (kind, found, served_by) in lookups {
            for (id, lookup) in found {
                let table = state.knowledge.runs_mut(kind);
                if table.get(&id) != Some(&lookup) {
                    runs_changed = true;
                }
                if kind == RunKind::Build {
                    refetched.insert(id.clone());
                }
                table.insert(id, lookup);
            }
            state.served_by.extend(served_by);
        }

        // 3. Stages of multi-stage runs that did not succeed, when the run was just fetched.
        let mut stage_jobs = Vec::new();
        let mut seen = HashSet::new();
        for record in work_records().filter(|r| join::is_multi_stage(r)) {
            let Some(id) = &record.p1 else { continue };
            let Some(Lookup::Found(run)) = state.knowledge.builds.get(id) else {
                continue;
            };
            let known = matches!(state.knowledge.stages.get(id), Some(Lookup::Found(_)));
            let ok = run.result.is_some_and(RunResult::is_success);
            if !ok && (refetched.contains(id) || !known) && seen.insert(id.clone()) {
                if let Some(&index) = state.served_by.get(id) {
                    stage_jobs.push((run.clone(), index));
                }
            }
        }
        for (id, stages) in fetch::stages(&inner.pipelines, stage_jobs, inner.concurrency).await {
            learned |= state.knowledge.stages.insert(id, stages.clone()).as_ref() != Some(&stages);
        }

        // 4. Authors not yet known and pull requests not yet merged, batched per repository.
        let mut want_authors: BTreeMap<String, (RepoRef, Vec<String>)> = BTreeMap::new();
        let mut want_prs: BTreeMap<String, (RepoRef, Vec<String>)> = BTreeMap::new();
        for record in work_records() {
            let repos = cache.repos(record);
            if let Some((repo, commit)) = join::author_source(record, &repos, &state.knowledge) {
                if matches!(
                    per_repo_get(&state.knowledge.authors, &repo.key, commit),
                    None | Some(Lookup::Failed(_))
                ) {
                    push_unique(
                        &mut want_authors,
                        repo.key.to_string(),
                        (*repo.repo).clone(),
                        commit.to_string(),
                    );
                }
            }
            if let (Some(pr), Some(repo)) = (&record.pr, repos.hld) {
                let key = repo.key.to_string();
                let settled = state.status.get(&record.row_key) == Some(&Status::Complete)
                    && !changed.contains(&record.row_key);
                let due = match per_repo_get(&state.knowledge.pull_requests, &key, pr) {
                    None | Some(Lookup::Failed(_)) => true,
                    Some(Lookup::Found(p)) => !p.merged && !settled,
                    Some(Lookup::Missing) => !settled,
                };
                if due {
                    push_unique(&mut want_prs, key, (*repo.repo).clone(), pr.clone());
                }
            }
        }
        dedup_wanted(&mut want_authors);
        dedup_wanted(&mut want_prs);
        let limit = inner.concurrency;
        let (authors, prs) = futures::join!(
            fetch::per_repo(
                &inner.repositories,
                want_authors,
                limit,
                fetch::authors_call,
                Subject::Author,
            ),
            fetch::per_repo(
                &inner.repositories,
                want_prs,
                limit,
                fetch::pull_requests_call,
                Subject::PullRequest,
            ),
        );
        for ((repo, id), lookup) in authors {
            let lookup = shared(lookup);
            let slot = state.knowledge.authors.entry(repo).or_default();
            learned |= slot.insert(id, lookup.clone()).as_ref() != Some(&lookup);
        }
        for ((repo, id), lookup) in prs {
            let lookup = shared(lookup);
            let slot = state.knowledge.pull_requests.entry(repo).or_default();
            learned |= slot.insert(id, lookup.clone()).as_ref() != Some(&lookup);
        }

        // 5. Sync tags of manifest repositories: when anything changed, when never read, or
        //    while the newest complete deployment of a service and ring is not synced yet.
        let anything_changed = !changed.is_empty() || runs_changed;
        let previous = self.snapshot();
        let mut waiting: HashSet<String> = HashSet::new();
        let mut newest: HashSet<(Option<&str>, Option<&str>)> = HashSet::new();
        for d in &previous.deployments {
            if d.manifest_commit_id().is_some()
                && newest.insert((d.service(), d.ring()))
                && !d.is_synced()
            {
                if let Some(r) = &d.manifest_repo {
                    waiting.insert(r.key());
                }
            }
        }
        for record in work_records().filter(|r| r.manifest_commit_id.is_some()) {
            if let Some(entry) = cache.repos(record).manifest {
                state
                    .manifest_repos
                    .entry(entry.key.to_string())
                    .or_insert_with(|| (*entry.repo).clone());
            }
        }
        let sync_due: Vec<(String, RepoRef)> = state
            .manifest_repos
            .iter()
            .map(|(k, r)| (k.clone(), r.clone()))
            .filter(|(key, _)| {
                anything_changed
                    || waiting.contains(key)
                    || matches!(
                        state.knowledge.sync_tags.get(key),
                        None | Some(Lookup::Failed(_))
                    )
            })
            .collect();
        let synced = fetch::sync_tags(&inner.repositories, sync_due, limit).await;
        for (key, lookup) in synced {
            learned |= state
                .knowledge
                .sync_tags
                .insert(key, lookup.clone())
                .as_ref()
                != Some(&lookup);
        }

        // 6. Join, unless nothing changed and nothing depends on the clock (no step is
        //    running): then the last result still holds.
        let now = Utc::now();
        let settled = previous.refreshed_at.is_some()
            && !anything_changed
            && !learned
            && previous.deployments.iter().all(|d| {
                d.steps()
                    .iter()
                    .all(|(_, _, s)| !s.is_some_and(|s| s.state.is_active()))
            });
        if settled {
            let mut snapshot = (*previous).clone();
            snapshot.refreshed_at = Some(now);
            stats.deployments = snapshot.deployments.len();
            *inner.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
            return Ok(stats);
        }
        let deployments = join::correlate(&state.records, &state.knowledge, &inner.defaults, now);
        let expired: Vec<Record> = state
            .records
            .iter()
            .filter(|r| join::is_expired(r, &state.knowledge))
            .map(|r| (**r).clone())
            .collect();
        state.status = deployments
            .iter()
            .map(|d| (d.id().to_string(), d.status))
            .collect();
        let mut cache = RepoCache::new(&inner.defaults);
        let candidates = deployments
            .iter()
            .filter(|d| {
                let repos = cache.repos(&d.record);
                may_still_change(d, &repos, &state.knowledge, &inner.repositories)
            })
            .filter_map(|d| state.index.get(d.id()).copied())
            .collect();
        state.candidates = Some(candidates);
        stats.deployments = deployments.len();
        let snapshot = Snapshot {
            deployments,
            expired,
            refreshed_at: Some(now),
        };
        *inner.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        Ok(stats)
    }
}

impl State {
    fn reindex(&mut self) {
        self.index = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.row_key.clone(), i))
            .collect();
    }
}

/// Whether a deployment can change without its record changing: not complete, a lookup
/// failed, or an author or pull request that a provider could still answer is not settled
/// (unknown, or not merged).
fn may_still_change(
    d: &Deployment,
    repos: &RecordRepos,
    k: &Knowledge,
    providers: &[Arc<dyn Repositories>],
) -> bool {
    let served = |repo: &RepoRef| fetch::provider_for(providers, repo).is_some();
    let author_pending = join::author_source(&d.record, repos, k).is_some_and(|(repo, commit)| {
        served(&repo.repo)
            && !matches!(
                per_repo_get(&k.authors, &repo.key, commit),
                Some(Lookup::Found(_) | Lookup::Missing)
            )
    });
    let pr_pending = match (d.pr(), &repos.hld) {
        (Some(pr), Some(repo)) => {
            served(&repo.repo)
                && !matches!(
                    per_repo_get(&k.pull_requests, &repo.key, pr),
                    Some(Lookup::Missing)
                )
                && !d.pull_request.as_ref().is_some_and(|p| p.merged)
        }
        _ => false,
    };
    d.status != Status::Complete || author_pending || pr_pending || !d.warnings.is_empty()
}

fn shared<T>(lookup: Lookup<T>) -> Lookup<Arc<T>> {
    match lookup {
        Lookup::Found(v) => Lookup::Found(Arc::new(v)),
        Lookup::Missing => Lookup::Missing,
        Lookup::Failed(why) => Lookup::Failed(why),
    }
}

/// Adds `id` to the items wanted from `repo`; [`dedup_wanted`] removes repeats once all
/// are in (checking each push would be quadratic in a repository's commits).
fn push_unique(
    map: &mut BTreeMap<String, (RepoRef, Vec<String>)>,
    key: String,
    repo: RepoRef,
    id: String,
) {
    map.entry(key)
        .or_insert_with(|| (repo, Vec::new()))
        .1
        .push(id);
}

/// Sorts each repository's wanted items and drops repeats.
fn dedup_wanted(map: &mut BTreeMap<String, (RepoRef, Vec<String>)>) {
    for (_, ids) in map.values_mut() {
        ids.sort_unstable();
        ids.dedup();
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
        .scope(filter.store_query());
    for p in pipelines {
        builder = builder.pipelines(p);
    }
    for r in repositories {
        builder = builder.repositories(r);
    }
    builder.build().deployments(filter).await
}
