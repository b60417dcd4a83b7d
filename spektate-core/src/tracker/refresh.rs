//! [`Tracker::refresh`] in named phases (docs/ARCHITECTURE.md, Refresh): read records →
//! fetch runs → fetch stages → fetch authors and pull requests → read what the store kept of
//! what is gone → fetch sync tags → ask the sync sources → fetch the histories of
//! repositories agents apply → publish → keep final answers.
//! Each phase says what it reads and what it changes; [`Changes`] carries what one phase
//! learned to the next, so a new source of knowledge plugs in as one more phase.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::Utc;

use super::{Inner, RefreshStats, Snapshot, State, Tracker, answers, forget, kept};
use crate::correlate::deadline::call;
use crate::correlate::fetch;
use crate::correlate::join::{
    self, Knowledge, Lookup, RecordRepos, RepoCache, RepoEntry, SourceAnswer, per_repo_get,
};
use crate::correlate::key::Key;
use crate::error::Result;
use crate::model::deployment::{Deployment, Status, commits_match};
use crate::model::record::Record;
use crate::model::repo::RepoRef;
use crate::model::run::{RunKind, RunResult};
use crate::provider::{Repositories, RunRequest};
use crate::warnings::Subject;

/// What a refresh has learned so far.
#[derive(Default)]
struct Changes {
    /// Row keys of the records that are new or were rewritten.
    records: HashSet<Key>,
    /// Whether this is the tracker's first read of the store: every record is new to it.
    first: bool,
    /// Whether any run's lookup came back different.
    runs: bool,
    /// Build runs fetched again in this refresh (their stages may be due).
    refetched: HashSet<String>,
    /// Whether cluster reports, stages, authors, pull requests, sync tags or what sync
    /// sources said changed.
    learned: bool,
}

impl Changes {
    /// Whether a record or a run changed (what makes every sync tag worth re-reading).
    fn records_or_runs(&self) -> bool {
        !self.records.is_empty() || self.runs
    }
}

impl Tracker {
    /// Reads what changed in the store and re-fetches only what can still change.
    pub async fn refresh(&self) -> Result<RefreshStats> {
        let inner = &*self.inner;
        let mut guard = inner.state.lock().await;
        let state = &mut *guard;
        let mut stats = RefreshStats::default();
        let previous = self.snapshot();

        let mut changes = read_records(inner, state, &mut stats).await?;
        answers::load(inner, state).await;
        let work = worth_a_look(state, &changes);
        let mut cache = RepoCache::new(&inner.defaults);
        fetch_runs(inner, state, &work, &mut cache, &mut changes, &mut stats).await;
        fetch_stages(inner, state, &work, &mut changes).await;
        fetch_people(inner, state, &work, &mut cache, &mut changes).await;
        let changed = changes.runs || changes.learned;
        let (runs, learned) = kept::restore(inner, state, changed).await;
        changes.runs |= runs;
        changes.learned |= learned;
        fetch_sync_tags(inner, state, &work, &mut cache, &previous, &mut changes).await;
        ask_sync_sources(inner, state, &mut changes, &mut stats).await;
        fetch_commit_orders(inner, state, &work, &mut cache, &mut changes).await;
        publish(inner, state, &previous, &changes, &mut stats);
        if changes.runs || changes.learned {
            answers::save(inner, state).await;
            kept::save(inner, state).await;
        }
        Ok(stats)
    }
}

/// Phase 1, records. Reads the records written since the last one seen (all of the scope
/// the first time): after the last change sequence where the store keeps one, else since
/// the newest timestamp less the store's overlap; and the cluster reports. Both reads come
/// before any state changes, so a failed read leaves the watermark where it was. Changes the
/// records, their index and the watermarks.
async fn read_records(
    inner: &Inner,
    state: &mut State,
    stats: &mut RefreshStats,
) -> Result<Changes> {
    let mut query = inner.scope.clone();
    let start = inner.window.start(Utc::now());
    if let (Some(start), false) = (start, state.loaded) {
        query.changed_since = Some(query.changed_since.map_or(start, |c| c.max(start)));
    }
    if state.loaded {
        if let Some(n) = state.sequence {
            query.after_sequence = Some(n);
        } else if let Some(w) = state.watermark {
            let overlap = inner
                .overlap
                .max(chrono::Duration::from_std(inner.store.change_overlap()).unwrap_or_default());
            // A watermark at chrono's earliest time reads from there.
            query.changed_since = Some(w.checked_sub_signed(overlap).unwrap_or(w));
        }
    }
    // Which records the store holds, read before what changed: a record written in between
    // is in what changed, so it is never taken for deleted.
    let due = state.loaded
        && state
            .reconciled_at
            .is_none_or(|t| t.elapsed() >= inner.reconcile_every);
    let held = if due {
        let mut scope = inner.scope.clone();
        if let Some(start) = start {
            scope.changed_since = Some(scope.changed_since.map_or(start, |c| c.max(start)));
        }
        Some(inner.store.row_keys(&inner.partition, &scope).await?)
    } else {
        None
    };
    let fresh = inner.store.query_shared(&inner.partition, &query).await?;
    let histories = inner.store.cluster_histories(&inner.partition).await?;
    stats.records_read = fresh.len();
    let mut changes = Changes::default();
    for record in fresh {
        if let Some(t) = record.timestamp {
            state.watermark = Some(state.watermark.map_or(t, |w| w.max(t)));
        }
        if let Some(n) = record.sequence {
            state.sequence = Some(state.sequence.map_or(n, |w| w.max(n)));
        }
        match state.index.get(record.row_key.as_str()).copied() {
            Some(i) if state.records[i].etag == record.etag && record.etag.is_some() => {}
            Some(i) => {
                changes.records.insert(Key::from(&record.row_key));
                state.records[i] = record;
            }
            None => {
                let key = Key::from(&record.row_key);
                changes.records.insert(key.clone());
                let at = state.records.len();
                state.index.insert(key, at);
                state.records.push(record);
            }
        }
    }
    if !state.loaded || held.is_some() {
        state.reconciled_at = Some(std::time::Instant::now());
    }
    if let Some(held) = &held {
        let mut held: HashSet<&str> = held.iter().map(String::as_str).collect();
        held.extend(changes.records.iter().map(|k| k.as_str()));
        let gone = forget::forget_gone(state, &held, &inner.defaults);
        if gone > 0 {
            tracing::debug!(partition = %inner.partition, gone, "forgot records the store no longer holds");
            changes.learned = true;
        }
    }
    changes.first = !state.loaded;
    state.loaded = true;
    if let Some(start) = start
        && forget::forget_before(state, start, &inner.defaults) > 0
    {
        changes.learned = true;
    }
    stats.records_changed = changes.records.len();
    let reports: Vec<_> = histories.iter().filter_map(|h| h.current()).collect();
    let troubles: Vec<_> = histories
        .iter()
        .flat_map(|h| h.troubles().into_iter().cloned())
        .collect();
    changes.learned |=
        reports != state.knowledge.cluster_reports || troubles != state.knowledge.cluster_troubles;
    state.knowledge.cluster_reports = reports;
    state.knowledge.cluster_troubles = troubles;
    Ok(changes)
}

/// The records worth a look: new or changed ones, and those whose deployment may still
/// change; a settled history is not even iterated. Reads only.
fn worth_a_look(state: &State, changes: &Changes) -> Vec<Arc<Record>> {
    let mut work: Vec<usize> = match &state.candidates {
        Some(c) => c.clone(),
        None => (0..state.records.len()).collect(),
    };
    work.extend(
        changes
            .records
            .iter()
            .filter_map(|k| state.index.get(k).copied()),
    );
    work.sort_unstable();
    work.dedup();
    work.into_iter()
        .map(|i| state.records[i].clone())
        .filter(|r| !r.context)
        .collect()
}

/// Whether `record`'s deployment was complete at the last join and its record unchanged.
fn settled(state: &State, changes: &Changes, record: &Record) -> bool {
    state.status.get(record.row_key.as_str()) == Some(&Status::Complete)
        && !changes.records.contains(record.row_key.as_str())
}

/// Phase 2, runs. Asks the pipelines about the runs not yet final of the deployments not
/// settled, and the failed ones of records written again, in one batch per kind. Changes
/// the run lookups and which provider serves each.
async fn fetch_runs<'w>(
    inner: &Inner,
    state: &mut State,
    work: &'w [Arc<Record>],
    cache: &mut RepoCache<'w>,
    changes: &mut Changes,
    stats: &mut RefreshStats,
) {
    let mut due: BTreeMap<RunKind, BTreeMap<&'w str, RunRequest>> = BTreeMap::new();
    for record in work {
        if settled(state, changes, record) {
            continue;
        }
        // A pipeline that records again was run again: its runs that finished without
        // succeeding are asked again, as a re-run keeps their ids. On a first read every
        // record is new: then only those that finished lately (answers kept from before).
        let rewritten = changes.records.contains(record.row_key.as_str());
        let may_rerun = |run: &crate::model::run::Run| {
            run.may_run_again()
                && (!changes.first
                    || run
                        .finished_at
                        .is_some_and(|t| Utc::now() - t < crate::model::run::RERUN_WINDOW))
        };
        let repos = cache.repos(record);
        let steps = [
            (&record.p1, RunKind::Build, &repos.source),
            (&record.p2, join::p2_kind(record), &repos.source),
            (&record.p3, RunKind::Build, &repos.hld),
        ];
        for (id, kind, repo) in steps {
            let Some(id) = id else { continue };
            let stale = match state.knowledge.runs(kind).get(id.as_str()) {
                None | Some(Lookup::Failed(_)) => true,
                Some(Lookup::Found(run)) => !run.is_final() || (rewritten && may_rerun(run)),
                Some(Lookup::Missing) => false,
            };
            if stale {
                due.entry(kind)
                    .or_default()
                    .entry(id.as_str())
                    .or_insert_with(|| RunRequest {
                        id: id.clone(),
                        repo: repo.map(|e| e.repo.clone()),
                    });
            }
        }
    }
    stats.runs_requested = due.values().map(BTreeMap::len).sum();
    let jobs = due
        .into_iter()
        .map(|(kind, reqs)| fetch::runs(&inner.pipelines, kind, reqs.into_values().collect()));
    for (kind, found, served_by) in futures::future::join_all(jobs).await {
        for (id, lookup) in found {
            let table = state.knowledge.runs_mut(kind);
            if table.get(id.as_str()) != Some(&lookup) {
                changes.runs = true;
            }
            if kind == RunKind::Build {
                changes.refetched.insert(id.clone());
            }
            table.insert(id.into(), lookup);
        }
        state.served_by.extend(served_by);
    }
}

/// Phase 3, stages. Asks for the stages of multi-stage runs that did not succeed, when the
/// run was just fetched or its stages are not known, from the provider that found the run.
/// Changes the stage lookups.
async fn fetch_stages(
    inner: &Inner,
    state: &mut State,
    work: &[Arc<Record>],
    changes: &mut Changes,
) {
    let mut jobs = Vec::new();
    let mut seen = HashSet::new();
    for record in work.iter().filter(|r| join::is_multi_stage(r)) {
        let Some(id) = &record.p1 else { continue };
        let Some(Lookup::Found(run)) = state.knowledge.builds.get(id.as_str()) else {
            continue;
        };
        let known = matches!(
            state.knowledge.stages.get(id.as_str()),
            Some(Lookup::Found(_))
        );
        let ok = run.result.is_some_and(RunResult::is_success);
        if !ok
            && (changes.refetched.contains(id) || !known)
            && seen.insert(id.clone())
            && let Some(&index) = state.served_by.get(id)
        {
            jobs.push((run.clone(), index));
        }
    }
    for (id, stages) in fetch::stages(&inner.pipelines, jobs, inner.concurrency).await {
        changes.learned |= state
            .knowledge
            .stages
            .insert(id.into(), stages.clone())
            .as_ref()
            != Some(&stages);
    }
}

/// Phase 4, people. Asks for the authors not yet known and the pull requests not yet
/// merged, one batch per repository. Changes the author and pull-request lookups.
async fn fetch_people<'w>(
    inner: &Inner,
    state: &mut State,
    work: &'w [Arc<Record>],
    cache: &mut RepoCache<'w>,
    changes: &mut Changes,
) {
    let mut want_authors: BTreeMap<String, (RepoRef, Vec<String>)> = BTreeMap::new();
    let mut want_prs: BTreeMap<String, (RepoRef, Vec<String>)> = BTreeMap::new();
    for record in work {
        let repos = cache.repos(record);
        if let Some((repo, commit)) = join::author_source(record, &repos, &state.knowledge)
            && matches!(
                per_repo_get(&state.knowledge.authors, &repo.key, commit),
                None | Some(Lookup::Failed(_))
            )
        {
            push_unique(&mut want_authors, &repo, commit);
        }
        if let (Some(pr), Some(repo)) = (&record.pr, repos.hld) {
            let settled = settled(state, changes, record);
            let due = match per_repo_get(&state.knowledge.pull_requests, &repo.key, pr) {
                None | Some(Lookup::Failed(_)) => true,
                Some(Lookup::Found(p)) => !p.merged && !settled,
                Some(Lookup::Missing) => !settled,
            };
            if due {
                push_unique(&mut want_prs, repo, pr);
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
        let slot = state.knowledge.authors.entry(repo.into()).or_default();
        changes.learned |= slot.insert(id.into(), lookup.clone()).as_ref() != Some(&lookup);
    }
    for ((repo, id), lookup) in prs {
        let lookup = shared(lookup);
        let slot = state
            .knowledge
            .pull_requests
            .entry(repo.into())
            .or_default();
        changes.learned |= slot.insert(id.into(), lookup.clone()).as_ref() != Some(&lookup);
    }
}

/// Phase 5, sync tags. Reads the sync tags of manifest repositories: all of them when a
/// record or run changed, else those never read, failed, or where the newest deployment of a
/// service and ring that has a manifest commit is not synced yet. Changes the known manifest
/// repositories and the sync-tag lookups.
async fn fetch_sync_tags<'w>(
    inner: &Inner,
    state: &mut State,
    work: &'w [Arc<Record>],
    cache: &mut RepoCache<'w>,
    previous: &Snapshot,
    changes: &mut Changes,
) {
    let mut waiting: HashSet<String> = HashSet::new();
    let mut newest: HashSet<(Option<&str>, Option<&str>)> = HashSet::new();
    for d in previous.deployments.iter() {
        if d.manifest_commit_id().is_some()
            && newest.insert((d.service(), d.ring()))
            && !d.is_synced()
            && let Some(r) = &d.manifest_repo
        {
            waiting.insert(r.key());
        }
    }
    for record in work.iter().filter(|r| r.manifest_commit_id.is_some()) {
        if let Some(entry) = cache.repos(record).manifest {
            state
                .manifest_repos
                .entry(entry.key.to_string())
                .or_insert_with(|| (*entry.repo).clone());
        }
    }
    let all = changes.records_or_runs();
    let due: Vec<(String, RepoRef)> = state
        .manifest_repos
        .iter()
        .filter(|(key, _)| {
            all || waiting.contains(*key)
                || matches!(
                    state.knowledge.sync_tags.get(key.as_str()),
                    None | Some(Lookup::Failed(_))
                )
        })
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
    for (key, lookup) in fetch::sync_tags(&inner.repositories, due, inner.concurrency).await {
        changes.learned |= state
            .knowledge
            .sync_tags
            .insert(key.into(), lookup.clone())
            .as_ref()
            != Some(&lookup);
    }
}

/// Phase 6b, histories. Asks for the history of the default branch of each manifest or HLD
/// repository an agent applies (a sync tag's, a sync source's application's; every manifest
/// repository when clusters report to the store), one call per provider, only when a record
/// or run changed or something was learned (what agents said, an author, a pull request),
/// and the history last read does not hold a commit that changed (an agent's, or a changed
/// record's; a cluster report's while no manifest repository's history holds it): nothing
/// is asked when nothing changed.
/// Changes the histories live orders commits by.
async fn fetch_commit_orders<'w>(
    inner: &Inner,
    state: &mut State,
    work: &'w [Arc<Record>],
    cache: &mut RepoCache<'w>,
    changes: &mut Changes,
) {
    if inner.repositories.is_empty() || !(changes.records_or_runs() || changes.learned) {
        return;
    }
    let k = &state.knowledge;
    // Watched repositories by key, with the commits to place in each.
    let mut watched: BTreeMap<String, (RepoRef, Vec<&str>)> = BTreeMap::new();
    for (key, tags) in &k.sync_tags {
        if let (Lookup::Found(tags), Some(repo)) = (tags, state.manifest_repos.get(key.as_str()))
            && !tags.is_empty()
        {
            let slot = watched
                .entry(key.to_string())
                .or_insert_with(|| (repo.clone(), Vec::new()));
            slot.1.extend(tags.iter().map(|t| t.commit.as_str()));
        }
    }
    for a in k.applied.iter().flat_map(|s| s.applied.iter()) {
        let slot = watched
            .entry(a.repo.key())
            .or_insert_with(|| (a.repo.clone(), Vec::new()));
        slot.1.push(a.sync.commit.as_str());
    }
    // A cluster report names a commit, not its repository: it belongs to the manifest
    // repository whose history holds it. Only a report no history holds makes every
    // manifest repository due, once: one no history held when they were last read (a
    // branch's commit, one older than the histories) does not make them due again.
    let report_unheld = unheld_reports(state)
        .iter()
        .any(|c| !state.unheld_reports.contains(c));
    if !k.cluster_reports.is_empty() {
        for (key, repo) in &state.manifest_repos {
            watched
                .entry(key.clone())
                .or_insert_with(|| (repo.clone(), Vec::new()));
        }
    }
    if watched.is_empty() {
        return;
    }
    for record in work
        .iter()
        .filter(|r| changes.records.contains(r.row_key.as_str()))
    {
        let repos = cache.repos(record);
        for (entry, commit) in [
            (repos.manifest, &record.manifest_commit_id),
            (repos.hld, &record.hld_commit_id),
        ] {
            if let (Some(entry), Some(commit)) = (entry, commit)
                && let Some(slot) = watched.get_mut(&*entry.key)
            {
                slot.1.push(commit.as_str());
            }
        }
    }
    let due: Vec<(String, RepoRef)> = watched
        .into_iter()
        .filter(
            |(key, (_, commits))| match k.commit_orders.get(key.as_str()) {
                None => true,
                Some(history) => {
                    (report_unheld && state.manifest_repos.contains_key(key))
                        || commits
                            .iter()
                            .any(|c| !history.iter().any(|h| commits_match(h, c)))
                }
            },
        )
        .map(|(key, (repo, _))| (key, repo))
        .collect();
    if due.is_empty() {
        return;
    }
    for (key, history) in fetch::commit_orders(&inner.repositories, due).await {
        let slot = state.knowledge.commit_orders.get(key.as_str());
        if slot.is_none_or(|h| **h != history) {
            state
                .knowledge
                .commit_orders
                .insert(key.into(), Arc::new(history));
            changes.learned = true;
        }
    }
    state.unheld_reports = unheld_reports(state);
}

/// The cluster reports' commits no manifest repository's history holds.
fn unheld_reports(state: &State) -> HashSet<String> {
    let k = &state.knowledge;
    let held = |commit: &str| {
        state.manifest_repos.keys().any(|key| {
            k.commit_orders
                .get(key.as_str())
                .is_some_and(|h| h.iter().any(|c| commits_match(c, commit)))
        })
    };
    k.cluster_reports
        .iter()
        .filter(|s| !held(&s.commit))
        .map(|s| s.commit.clone())
        .collect()
}

/// Phase 6, sync sources. Asks every sync source (Argo CD) what its applications applied,
/// one call each, all at once: a source answers for all its clusters, so it is asked every
/// refresh, and says when nothing changed by handing back its last answer. A failed call
/// keeps the last answer, with the reason. Changes what the sources said.
async fn ask_sync_sources(
    inner: &Inner,
    state: &mut State,
    changes: &mut Changes,
    stats: &mut RefreshStats,
) {
    if inner.sync_sources.is_empty() {
        return;
    }
    let calls = inner.sync_sources.iter().map(|source| async move {
        let name = source.name();
        let got = call(&name, source.applied()).await;
        (name, got)
    });
    let answers = futures::future::join_all(calls).await;
    stats.sync_source_calls = answers.len();
    let known = &mut state.knowledge.applied;
    known.resize_with(answers.len(), SourceAnswer::default);
    for (slot, (name, got)) in known.iter_mut().zip(answers) {
        if *slot.source != *name {
            slot.source = name.into();
        }
        match got {
            Ok(applied) => {
                let same = Arc::ptr_eq(&slot.applied, &applied) || slot.applied == applied;
                if !same || slot.failed.is_some() {
                    changes.learned = true;
                }
                slot.applied = applied;
                slot.failed = None;
            }
            Err(why) => {
                if slot.failed.as_ref() != Some(&why) {
                    changes.learned = true;
                }
                slot.failed = Some(why);
            }
        }
    }
    state.knowledge.source_troubles = state
        .knowledge
        .applied
        .iter()
        .flat_map(|a| a.applied.iter())
        .flat_map(crate::model::cluster::Applied::troubles)
        .collect();
}

/// Phase 7, publish. Joins everything into deployments and publishes the snapshot, unless
/// nothing changed and nothing depends on the clock (no step is running): then the last
/// result still holds with a new time. Changes the statuses, the candidates of the next
/// refresh, and the snapshot.
fn publish(
    inner: &Inner,
    state: &mut State,
    previous: &Snapshot,
    changes: &Changes,
    stats: &mut RefreshStats,
) {
    let now = Utc::now();
    let still = previous.refreshed_at.is_some()
        && !changes.records_or_runs()
        && !changes.learned
        && previous.deployments.iter().all(|d| {
            d.steps()
                .iter()
                .all(|(_, _, s)| !s.is_some_and(|s| s.state.is_active()))
        });
    let snapshot = if still {
        Snapshot {
            refreshed_at: Some(now),
            ..previous.clone()
        }
    } else {
        let deployments = join::correlate(&state.records, &state.knowledge, &inner.defaults, now);
        let expired: Vec<Record> = state
            .records
            .iter()
            .filter(|r| join::is_lost(r, &state.knowledge))
            .map(|r| (**r).clone())
            .collect();
        // Context records are never fetched, so never asked whether they are settled.
        state.status = deployments
            .iter()
            .filter(|d| !d.record.context)
            .map(|d| (Key::from(d.id()), d.status))
            .collect();
        let mut cache = RepoCache::new(&inner.defaults);
        let candidates = deployments
            .iter()
            .filter(|d| !d.record.context)
            .filter(|d| {
                let repos = cache.repos(&d.record);
                may_still_change(d, &repos, &state.knowledge, &inner.repositories)
            })
            .filter_map(|d| state.index.get(d.id()).copied())
            .collect();
        state.candidates = Some(candidates);
        Snapshot {
            deployments: Arc::new(deployments),
            expired,
            refreshed_at: Some(now),
        }
    };
    stats.deployments = snapshot.deployments.len();
    *inner.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
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
fn push_unique(map: &mut BTreeMap<String, (RepoRef, Vec<String>)>, repo: &RepoEntry, id: &str) {
    let ids = match map.get_mut(&*repo.key) {
        Some((_, ids)) => ids,
        None => {
            let slot = (*repo.repo).clone();
            &mut map
                .entry(repo.key.to_string())
                .or_insert((slot, Vec::new()))
                .1
        }
    };
    ids.push(id.to_string());
}

/// Sorts each repository's wanted items and drops repeats.
fn dedup_wanted(map: &mut BTreeMap<String, (RepoRef, Vec<String>)>) {
    for (_, ids) in map.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
}
