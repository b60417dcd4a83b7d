//! The in-memory join of records with what providers know, into deployments.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::key::Key;
use super::status;
use super::tables::Tables;
use crate::insights::eta;
use crate::model::cluster::Applied;
use crate::model::deployment::{
    Author, ClusterSync, Deployment, DeploymentKind, PullRequest, Status, Step, StepName, StepState,
};
use crate::model::record::Record;
use crate::model::repo::RepoRef;
use crate::model::run::{Run, RunKind, RunResult, Stage};
use crate::warnings::{Reason, Subject, Warning};

/// What is known of one looked-up object.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<T> {
    /// Found.
    Found(T),
    /// An authoritative provider says it does not exist (for runs: retention expired).
    Missing,
    /// The lookup failed; the reason is shown as a warning.
    Failed(Reason),
}

impl<T> Lookup<T> {
    /// The value, when found.
    pub fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(v) => Some(v),
            _ => None,
        }
    }
}

/// The hash map of the join: a fast, non-cryptographic hasher (keys are run ids and
/// commits, not attacker-chosen in bulk), as the join hashes every record's keys.
pub type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The hash set of the join, with the hasher of [`Map`].
pub type Set<K> = HashSet<K, foldhash::fast::RandomState>;

/// Items (commits or pull requests) of each repository: repository key → id → lookup.
pub type PerRepo<T> = Map<Key, Map<Key, Lookup<T>>>;

/// The lookup of `id` in `repo_key`, without allocating.
pub fn per_repo_get<'a, T>(map: &'a PerRepo<T>, repo_key: &str, id: &str) -> Option<&'a Lookup<T>> {
    map.get(repo_key).and_then(|m| m.get(id))
}

/// Repositories to use when a record names none.
#[derive(Debug, Clone, Default)]
pub struct RepoDefaults {
    /// Source repository of the image pipeline.
    pub source_repo: Option<RepoRef>,
    /// The HLD repository (pull requests; authors of manual HLD edits).
    pub hld_repo: Option<RepoRef>,
    /// The manifest repository (cluster sync tags).
    pub manifest_repo: Option<RepoRef>,
}

/// Everything looked up so far, by key; the correlation joins records against it.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// Builds by id (p1, p3, and p2 of multi-stage runs).
    pub builds: Map<Key, Lookup<Arc<Run>>>,
    /// Releases by id (p2).
    pub releases: Map<Key, Lookup<Arc<Run>>>,
    /// Stages of multi-stage runs by build id.
    pub stages: Map<Key, Lookup<Vec<Stage>>>,
    /// Commit authors by repository key and commit.
    pub authors: PerRepo<Arc<Author>>,
    /// Pull requests by repository key and id.
    pub pull_requests: PerRepo<Arc<PullRequest>>,
    /// Sync tags by manifest repository key.
    pub sync_tags: Map<Key, Lookup<Vec<ClusterSync>>>,
    /// Clusters that reported their manifest commit to the store: the newest each applied.
    pub cluster_reports: Vec<ClusterSync>,
    /// Reports of clusters to the store that failed to apply a commit or saw it unhealthy, the
    /// newest of each cluster and commit ([`crate::model::cluster::ClusterHistory::troubles`]).
    pub cluster_troubles: Vec<crate::model::cluster::ClusterReport>,
    /// The same, of the sync sources' applications ([`Applied::troubles`]), as last answered;
    /// the join reads both lists.
    pub source_troubles: Vec<crate::model::cluster::ClusterReport>,
    /// What each sync source (Argo CD) last said its applications applied, in the order the
    /// sources were added to the tracker.
    pub applied: Vec<SourceAnswer>,
    /// The newest commits of the default branch of repositories agents apply, newest first,
    /// by repository key ([`crate::Repositories::commit_orders`]): live orders their commits by
    /// it.
    pub commit_orders: Map<Key, Arc<Vec<String>>>,
    /// Build ids the CI said are gone whose runs are what the store kept
    /// ([`crate::RecordStore::answers`]); a deployment whose runs are all gone is expired.
    pub kept_builds: Set<Key>,
    /// The same, for release ids.
    pub kept_releases: Set<Key>,
}

/// What one sync source last said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceAnswer {
    /// The source, as its name says.
    pub source: Arc<str>,
    /// What its applications applied, as last answered; kept when a later call fails, so a
    /// source that is down for a moment leaves the clusters where they were, with a warning.
    pub applied: Arc<Vec<Applied>>,
    /// Why the last call failed, if it did.
    pub failed: Option<Reason>,
}

impl Knowledge {
    /// The ids of runs of `kind` the CI said are gone and the store kept.
    pub fn kept_runs(&self, kind: RunKind) -> &Set<Key> {
        match kind {
            RunKind::Build => &self.kept_builds,
            RunKind::Release => &self.kept_releases,
        }
    }

    /// The mutable set of [`Self::kept_runs`].
    pub fn kept_runs_mut(&mut self, kind: RunKind) -> &mut Set<Key> {
        match kind {
            RunKind::Build => &mut self.kept_builds,
            RunKind::Release => &mut self.kept_releases,
        }
    }

    /// The lookup table for runs of `kind`.
    pub fn runs(&self, kind: RunKind) -> &Map<Key, Lookup<Arc<Run>>> {
        match kind {
            RunKind::Build => &self.builds,
            RunKind::Release => &self.releases,
        }
    }

    /// The mutable lookup table for runs of `kind`.
    pub fn runs_mut(&mut self, kind: RunKind) -> &mut Map<Key, Lookup<Arc<Run>>> {
        match kind {
            RunKind::Build => &mut self.builds,
            RunKind::Release => &mut self.releases,
        }
    }
}

/// Whether p2 is a stage of p1's multi-stage run.
pub fn is_multi_stage(record: &Record) -> bool {
    matches!((&record.p1, &record.p2), (Some(a), Some(b)) if a == b)
}

/// The run kind of p2 for `record`: a build when it is a stage of p1's run, else a release.
pub fn p2_kind(record: &Record) -> RunKind {
    if is_multi_stage(record) {
        RunKind::Build
    } else {
        RunKind::Release
    }
}

/// A parsed repository with its key, shared by every record that names it.
#[derive(Debug, Clone)]
pub struct RepoEntry {
    /// The repository.
    pub repo: Arc<RepoRef>,
    /// Its [`RepoRef::key`].
    pub key: Arc<str>,
    /// Its place in the [`RepoCache`] that parsed it, if one did.
    pub(crate) slot: Option<usize>,
}

/// Parses each distinct repository URL once; records borrow the parsed entries.
#[derive(Debug, Default)]
pub struct RepoCache<'a> {
    parsed: Map<&'a str, Option<usize>>,
    /// The URL last asked for in each of a record's three places and its index: records
    /// mostly name the repositories of the record before, so most lookups hash nothing.
    last: [Option<(&'a str, usize)>; 3],
    /// The defaults (source, HLD, manifest), then every parsed repository.
    entries: Vec<Option<RepoEntry>>,
}

impl<'a> RepoCache<'a> {
    /// A cache falling back to `defaults` for records that name no repository.
    pub fn new(defaults: &RepoDefaults) -> Self {
        let entry =
            |r: &Option<RepoRef>, slot| r.as_ref().map(|r| RepoEntry::new(r.clone(), Some(slot)));
        RepoCache {
            parsed: Map::default(),
            last: [None; 3],
            entries: vec![
                entry(&defaults.source_repo, 0),
                entry(&defaults.hld_repo, 1),
                entry(&defaults.manifest_repo, 2),
            ],
        }
    }

    /// The index of `url`'s entry, else of the default at `default` (0 source, 1 HLD,
    /// 2 manifest: also the place in a record).
    fn index(&mut self, url: &'a Option<String>, default: usize) -> usize {
        let Some(u) = url.as_deref() else {
            return default;
        };
        if let Some((last, at)) = self.last[default]
            && last == u
        {
            return at;
        }
        let entries = &mut self.entries;
        let at = self
            .parsed
            .entry(u)
            .or_insert_with(|| {
                let entry = RepoEntry::new(RepoRef::parse(u).ok()?, Some(entries.len()));
                entries.push(Some(entry));
                Some(entries.len() - 1)
            })
            .unwrap_or(default);
        self.last[default] = Some((u, at));
        at
    }

    /// The repositories of `record`, else the defaults.
    pub fn repos(&mut self, record: &'a Record) -> RecordRepos<'_> {
        let at = [
            self.index(&record.source_repo, 0),
            self.index(&record.hld_repo, 1),
            self.index(&record.manifest_repo, 2),
        ];
        let entries = &self.entries;
        RecordRepos {
            source: entries[at[0]].as_ref(),
            hld: entries[at[1]].as_ref(),
            manifest: entries[at[2]].as_ref(),
        }
    }
}

impl RepoEntry {
    /// Whether it is one of the [`RepoDefaults`], taken for a record that names none.
    pub fn is_default(&self) -> bool {
        matches!(self.slot, Some(0..=2))
    }

    fn new(repo: RepoRef, slot: Option<usize>) -> Self {
        RepoEntry {
            key: repo.key().into(),
            repo: Arc::new(repo),
            slot,
        }
    }
}

/// The repositories a record's lookups go to, borrowed from a [`RepoCache`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordRepos<'c> {
    /// Source repository.
    pub source: Option<&'c RepoEntry>,
    /// HLD repository.
    pub hld: Option<&'c RepoEntry>,
    /// Manifest repository.
    pub manifest: Option<&'c RepoEntry>,
}

/// A manual HLD edit: a manifest run with no image behind it.
pub fn is_manual_edit(record: &Record) -> bool {
    record.p1.is_none() && record.p2.is_none() && record.image_tag.is_none() && record.p3.is_some()
}

/// Where a record's author comes from: (repository, commit). The repository is the record's,
/// else that of the run that built the commit, else the default.
pub fn author_source<'r, 'c>(
    record: &'r Record,
    repos: &RecordRepos<'c>,
    k: &'r Knowledge,
) -> Option<(Cow<'c, RepoEntry>, &'r str)> {
    let from_run = |run: Option<&Arc<Run>>| {
        run.and_then(|r| r.repository.as_ref())
            .map(|r| Cow::Owned(RepoEntry::new(r.clone(), None)))
    };
    if is_manual_edit(record) {
        let p3 = record
            .p3
            .as_ref()
            .and_then(|id| k.builds.get(id.as_str()))
            .and_then(Lookup::found);
        let repo = pick(repos.hld, || from_run(p3))?;
        return Some((repo, record.hld_commit_id.as_deref()?));
    }
    let p1 = record
        .p1
        .as_ref()
        .and_then(|id| k.builds.get(id.as_str()))
        .and_then(Lookup::found);
    let repo = pick(repos.source, || from_run(p1))?;
    let commit = record
        .commit_id
        .as_deref()
        .or_else(|| p1.and_then(|r| r.source_commit.as_deref()))?;
    Some((repo, commit))
}

/// The record's own repository `entry`, else the run's, else the default `entry`.
fn pick<'c>(
    entry: Option<&'c RepoEntry>,
    run: impl FnOnce() -> Option<Cow<'c, RepoEntry>>,
) -> Option<Cow<'c, RepoEntry>> {
    match entry {
        Some(e) if !e.is_default() => Some(Cow::Borrowed(e)),
        _ => run().or(entry.map(Cow::Borrowed)),
    }
}

/// The lookups of a record's p1, p2 and p3, resolved once.
type Resolved<'k> = [Option<(&'k str, Option<&'k Lookup<Arc<Run>>>)>; 3];

fn resolve<'k>(record: &'k Record, k: &'k Knowledge) -> Resolved<'k> {
    let get =
        |id: &'k Option<String>, kind: RunKind| id.as_deref().map(|id| (id, k.runs(kind).get(id)));
    [
        get(&record.p1, RunKind::Build),
        get(&record.p2, p2_kind(record)),
        get(&record.p3, RunKind::Build),
    ]
}

/// Whether the record has a run id and the CI said every one is gone: the CI said it does
/// not exist ([`Lookup::Missing`]) or it is what the store kept ([`Knowledge::kept_runs`]).
/// A run not looked up yet is not gone.
fn all_gone(record: &Record, resolved: &Resolved<'_>, k: &Knowledge) -> bool {
    let kinds = [RunKind::Build, p2_kind(record), RunKind::Build];
    let mut any = false;
    for (slot, kind) in resolved.iter().zip(kinds) {
        let Some((id, lookup)) = slot else { continue };
        any = true;
        let kept = k.kept_runs(kind);
        let gone =
            matches!(lookup, Some(Lookup::Missing)) || (!kept.is_empty() && kept.contains(*id));
        if !gone {
            return false;
        }
    }
    any
}

/// Whether every run id of the record is gone from an authoritative CI (its deployment is
/// [`Deployment::expired`]).
pub fn is_expired(record: &Record, k: &Knowledge) -> bool {
    all_gone(record, &resolve(record, k), k)
}

/// Whether the CI said every run id of the record is gone and the store kept none of them:
/// nothing but the record is left of its deployment, which [`Tracker::prune_expired`]
/// deletes.
///
/// [`Tracker::prune_expired`]: crate::Tracker::prune_expired
pub fn is_lost(record: &Record, k: &Knowledge) -> bool {
    let resolved = resolve(record, k);
    resolved.iter().flatten().count() > 0
        && resolved
            .iter()
            .flatten()
            .all(|(_, l)| matches!(l, Some(Lookup::Missing)))
}

/// A warning about `object` (in `repo`) that failed for `reason`.
fn warning(subject: Subject, object: &str, repo: Option<&Arc<str>>, reason: &Reason) -> Warning {
    Warning {
        subject,
        object: object.to_string(),
        repo: repo.cloned(),
        reason: reason.clone(),
    }
}

fn step(
    slot: Option<(&str, Option<&Lookup<Arc<Run>>>)>,
    warnings: &mut Vec<Warning>,
    name: StepName,
) -> Option<Step> {
    let (id, lookup) = slot?;
    let (state, run) = match lookup {
        Some(Lookup::Found(run)) => (StepState::of(run.status, run.result), Some(run.clone())),
        Some(Lookup::Missing) => (StepState::Expired, None),
        Some(Lookup::Failed(why)) => {
            warnings.push(warning(Subject::Run(name), id, None, why));
            (StepState::Unknown, None)
        }
        None => (StepState::Unknown, None),
    };
    Some(Step {
        state,
        run,
        stage: None,
    })
}

/// Joins one record into its deployment ([`Deployment::expired`] when the CI no longer has
/// its runs). Where it is live is judged as if no other deployment existed.
pub fn deployment(
    record: &Arc<Record>,
    k: &Knowledge,
    defaults: &RepoDefaults,
    now: DateTime<Utc>,
) -> Deployment {
    let resolved = resolve(record, k);
    let mut cache = RepoCache::new(defaults);
    let mut tables = Tables::new(k);
    let mut one = [join(
        record,
        &resolved,
        k,
        &mut tables,
        &cache.repos(record),
        now,
    )];
    super::live::mark(&mut one, k);
    let [d] = one;
    d
}

fn join<'k>(
    record: &Arc<Record>,
    resolved: &Resolved<'k>,
    k: &'k Knowledge,
    tables: &mut Tables<'k>,
    repos: &RecordRepos,
    now: DateTime<Utc>,
) -> Deployment {
    let mut warnings = Vec::new();
    let multi_stage = is_multi_stage(record);
    let mut image = step(resolved[0], &mut warnings, StepName::Image);
    let mut metadata = if multi_stage {
        image.clone()
    } else {
        step(resolved[1], &mut warnings, StepName::Metadata)
    };
    let manifest = step(resolved[2], &mut warnings, StepName::Manifest);

    if multi_stage && let Some(run) = image.as_ref().and_then(|s| s.run.clone()) {
        let stages = match k.stages.get(run.id.as_str()) {
            Some(Lookup::Found(s)) => s.as_slice(),
            Some(Lookup::Failed(why)) => {
                warnings.push(warning(Subject::Stages, &run.id, None, why));
                &[]
            }
            _ => &[],
        };
        // A run that succeeded needs no stage to explain it (and its stages may be
        // those of an earlier, failed attempt).
        let succeeded = run.result == Some(RunResult::Succeeded);
        let of_order = |order: u32| {
            (!succeeded)
                .then(|| {
                    stages
                        .iter()
                        .find(|s| s.order == order)
                        .cloned()
                        .map(Box::new)
                })
                .flatten()
        };
        if let Some(s) = image.as_mut() {
            s.state = status::stage_state(&run, stages, 1);
            s.stage = of_order(1);
        }
        if let Some(s) = metadata.as_mut() {
            s.state = status::stage_state(&run, stages, 2);
            s.stage = of_order(2);
        }
    }

    fn run_of(s: &Option<Step>) -> Option<&Run> {
        s.as_ref().and_then(|s| s.run.as_deref())
    }
    let (r1, r2, r3) = (run_of(&image), run_of(&metadata), run_of(&manifest));

    let author = author_source(record, repos, k).and_then(|(repo, commit)| {
        match tables.author(&repo, commit) {
            Some(Lookup::Found(a)) => Some(a.clone()),
            Some(Lookup::Failed(why)) => {
                warnings.push(warning(Subject::Author, commit, Some(&repo.key), why));
                None
            }
            _ => None,
        }
    });
    let pull_request = match (&record.pr, repos.hld) {
        (Some(pr), Some(repo)) => match tables.pull_request(repo, pr) {
            Some(Lookup::Found(p)) => Some(p.clone()),
            Some(Lookup::Failed(why)) => {
                warnings.push(warning(Subject::PullRequest, pr, Some(&repo.key), why));
                None
            }
            _ => None,
        },
        _ => None,
    };
    let mut clusters = Vec::new();
    if let Some(commit) = &record.manifest_commit_id {
        let syncs = tables.syncs(repos.manifest);
        if let (Some(why), Some(r)) = (syncs.failed, repos.manifest) {
            warnings.push(warning(Subject::SyncTags, &r.key, None, why));
        }
        clusters = syncs.running(commit);
    }
    // An agent that renders straight from the HLD repository syncs the HLD commit.
    let mut from_hld = false;
    if let (Some(commit), Some(hld)) = (&record.hld_commit_id, repos.hld) {
        let mut seen = super::tables::Seen::default();
        for sync in tables.applied(hld).running(commit) {
            from_hld = true;
            if seen.first(&sync.cluster, &clusters) {
                clusters.push(sync);
            }
        }
    }
    // What agents said went wrong with this deployment's commits, per cluster.
    let cluster_troubles = tables.troubles.of([
        record.manifest_commit_id.as_deref(),
        record.hld_commit_id.as_deref(),
    ]);
    if record.manifest_commit_id.is_some() || record.hld_commit_id.is_some() {
        for answer in &k.applied {
            if let Some(why) = &answer.failed {
                warnings.push(warning(Subject::Applications, &answer.source, None, why));
            }
        }
    }
    let mut status = status::status(image.as_ref(), metadata.as_ref(), manifest.as_ref());
    if from_hld && manifest.is_none() && status == Status::Incomplete {
        status = Status::Complete;
    }

    let started_at = [r1, r2, r3]
        .into_iter()
        .flatten()
        .filter_map(|r| r.queued_at.or(r.started_at))
        .min();
    Deployment {
        kind: if is_manual_edit(record) {
            DeploymentKind::ManualHldEdit
        } else {
            DeploymentKind::Deployment
        },
        status,
        duration_secs: status::duration([r1, r2, r3], now),
        last_updated: status::last_updated(r1, r2, r3, record.timestamp, now),
        started_at,
        source_repo: repos.source.map(|e| e.repo.clone()),
        hld_repo: repos.hld.map(|e| e.repo.clone()),
        manifest_repo: repos.manifest.map(|e| e.repo.clone()),
        image,
        metadata,
        manifest,
        multi_stage,
        author,
        pull_request,
        clusters,
        cluster_troubles,
        live_in: Vec::new(),
        warnings: warnings.iter().map(Warning::to_string).collect(),
        failed_lookups: warnings,
        eta: None,
        expired: all_gone(record, resolved, k),
        record: record.clone(),
    }
}

/// Joins every record into deployments, newest first, expired ones included
/// ([`Deployment::expired`]), none for a [context](Record::context) record. Each deployment's
/// `live_in` is judged against the others of its service and ring, context ones included.
pub fn correlate(
    records: &[Arc<Record>],
    k: &Knowledge,
    defaults: &RepoDefaults,
    now: DateTime<Utc>,
) -> Vec<Deployment> {
    let mut cache = RepoCache::new(defaults);
    let mut tables = Tables::new(k);
    // The records in chunks: first each record's run lookups (a short loop whose cache misses
    // overlap) and a prefetch of what they found, then each deployment built from them; then
    // a sort of small keys, and the deployments put in that order in place.
    // Context records only place commits for `live`: with no cluster's commit known, they
    // are not joined at all.
    let placing = super::live::has_sources(k);
    let wanted = |r: &&Arc<Record>| placing || !r.context;
    let shown = records.iter().filter(wanted).count();
    let mut built: Vec<Deployment> = Vec::with_capacity(shown);
    // When each deployment's sync began, for the ETA, worked out while its runs are at hand.
    let mut sync_begins: Vec<DateTime<Utc>> = Vec::with_capacity(shown);
    let mut lookups: Vec<Resolved> = Vec::with_capacity(CHUNK);
    for chunk in records.chunks(CHUNK) {
        lookups.clear();
        lookups.extend(chunk.iter().filter(wanted).map(|record| {
            let resolved = resolve(record, k);
            ahead(record, &resolved);
            resolved
        }));
        for (record, resolved) in chunk.iter().filter(wanted).zip(&lookups) {
            let repos = cache.repos(record);
            let d = join(record, resolved, k, &mut tables, &repos, now);
            sync_begins.push(eta::sync_begin(&d, now));
            built.push(d);
        }
    }
    super::live::mark(&mut built, k);
    // Context records only place commits for `live`: no deployment is shown for them.
    if built.iter().any(|d| d.record.context) {
        let mut shown = built.iter().map(|d| !d.record.context);
        sync_begins.retain(|_| shown.next() == Some(true));
        built.retain(|d| !d.record.context);
        built.shrink_to_fit();
    }
    newest_first(&mut built, &mut sync_begins);
    // Newest first, so the ETA learns from the newest history.
    eta::mark_with(&mut built, &sync_begins, now);
    built
}

/// Asks the CPU for what building `record`'s deployment reads first: the first line of each
/// of its runs, their times, and its repository URLs, so those cache misses overlap across a
/// chunk (about 9% of the 100,000-record correlation; README, Performance).
#[inline(always)]
fn ahead(record: &Record, resolved: &Resolved<'_>) {
    for (_, lookup) in resolved.iter().flatten() {
        if let Some(Lookup::Found(run)) = lookup {
            prefetch(Arc::as_ptr(run));
            prefetch(&run.finished_at);
            prefetch(&run.queued_at);
        }
    }
    let urls = [&record.source_repo, &record.hld_repo, &record.manifest_repo];
    for url in urls.into_iter().flatten() {
        prefetch(url.as_ptr());
    }
}

/// A hint to fetch the cache line holding `p`; no load, no fault, nothing off x86-64.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of x86-64; a prefetch reads nothing and faults on no address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// How many records' run lookups are made before their deployments are built.
const CHUNK: usize = 32;

/// Sorts deployments newest first (by last update, then by row key), comparing last updates
/// copied side by side (a deployment's row key is read only on a tie); `along[i]`, what was
/// worked out for `built[i]`, moves with it.
fn newest_first<T>(built: &mut [Deployment], along: &mut [T]) {
    let mut keys: Vec<(Reverse<DateTime<Utc>>, usize)> = built
        .iter()
        .enumerate()
        .map(|(i, d)| (Reverse(d.last_updated), i))
        .collect();
    keys.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| built[a.1].record.row_key.cmp(&built[b.1].record.row_key))
    });
    let order: Vec<usize> = keys.into_iter().map(|(_, i)| i).collect();
    permute(along, order.clone());
    permute(built, order);
}

/// Reorders `items` so that position `k` holds what was at `order[k]`, moving each item once.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    const DONE: usize = usize::MAX;
    for start in 0..items.len() {
        let mut k = start;
        while order[k] != DONE {
            let from = order[k];
            order[k] = DONE;
            if from == start {
                break;
            }
            items.swap(k, from);
            k = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::permute;

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        // Rotations, the reversal and permutations of several cycles.
        let mut orders = vec![vec![0, 1, 2, 3, 4]];
        for n in 1..5 {
            orders.push((0..5).map(|i| (i + n) % 5).collect());
        }
        orders.push(vec![4, 3, 2, 1, 0]);
        orders.push(vec![1, 0, 3, 2, 4]);
        orders.push(vec![2, 0, 1, 4, 3]);
        for order in orders {
            let mut items = vec!["a", "b", "c", "d", "e"];
            let want: Vec<&str> = order.iter().map(|&i| items[i]).collect();
            permute(&mut items, order.clone());
            assert_eq!(items, want, "order {order:?}");
        }
        let mut none: Vec<u8> = Vec::new();
        permute(&mut none, Vec::new());
    }
}
