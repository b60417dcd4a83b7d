//! Forgetting what leaves a moving window: the records last written before its start,
//! and, once enough have gone, whatever providers answered that no remaining record
//! refers to. Memory then follows the window, not the whole history.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::State;
use crate::correlate::join::{self, RepoCache, RepoDefaults};
use crate::correlate::key::Key;
use crate::model::record::Record;
use crate::model::run::RunKind;

/// Drops the records written before `start`; returns how many.
pub(super) fn forget_before(
    state: &mut State,
    start: DateTime<Utc>,
    defaults: &RepoDefaults,
) -> usize {
    forget(state, |r| r.timestamp.is_some_and(|t| t < start), defaults)
}

/// Drops the records the store no longer holds: those not in `held`; returns how many.
pub(super) fn forget_gone(
    state: &mut State,
    held: &HashSet<&str>,
    defaults: &RepoDefaults,
) -> usize {
    forget(state, |r| !held.contains(r.row_key.as_str()), defaults)
}

/// Drops the records `gone` says; returns how many. Candidates keep pointing at the same
/// records; provider answers are pruned once the records dropped since the last pruning
/// reach one in a hundred of those kept.
fn forget(state: &mut State, old: impl Fn(&Record) -> bool, defaults: &RepoDefaults) -> usize {
    if !state.records.iter().any(|r| old(r)) {
        return 0;
    }
    let before = state.records.len();
    let kept_before: Vec<bool> = state.records.iter().map(|r| !old(r)).collect();
    for r in state.records.iter().filter(|r| old(r)) {
        state.status.remove(r.row_key.as_str());
    }
    state.records.retain(|r| !old(r));
    // New positions of the kept records, to carry the candidates over.
    let mut moved = Vec::with_capacity(before);
    let mut next = 0;
    for kept in &kept_before {
        moved.push(kept.then(|| {
            next += 1;
            next - 1
        }));
    }
    if let Some(c) = state.candidates.as_mut() {
        *c = c
            .iter()
            .filter_map(|&i| moved.get(i).copied().flatten())
            .collect();
    }
    state.reindex();
    let gone = before - state.records.len();
    state.forgotten += gone;
    if state.forgotten * 100 >= state.records.len().max(1) {
        prune_knowledge(state, defaults);
        state.forgotten = 0;
    }
    gone
}

/// Keys of kept answers remembered per record kept (a record refers to about six: three
/// runs, stages, an author and a pull request), beyond [`REMEMBERED_AT_LEAST`].
const REMEMBERED_PER_RECORD: usize = 8;
const REMEMBERED_AT_LEAST: usize = 10_000;

/// What the remaining records refer to.
#[derive(Default)]
struct Referenced {
    builds: HashSet<Key>,
    releases: HashSet<Key>,
    authors: HashSet<(Key, Key)>,
    pull_requests: HashSet<(Key, Key)>,
    manifests: HashSet<Key>,
}

/// Keeps only the provider answers some record still refers to.
fn prune_knowledge(state: &mut State, defaults: &RepoDefaults) {
    let mut keep = Referenced::default();
    let mut cache = RepoCache::new(defaults);
    for record in &state.records {
        for (id, kind) in [
            (&record.p1, RunKind::Build),
            (&record.p2, join::p2_kind(record)),
            (&record.p3, RunKind::Build),
        ] {
            if let Some(id) = id {
                match kind {
                    RunKind::Build => keep.builds.insert(id.into()),
                    RunKind::Release => keep.releases.insert(id.into()),
                };
            }
        }
        let repos = cache.repos(record);
        if let Some((repo, commit)) = join::author_source(record, &repos, &state.knowledge) {
            keep.authors
                .insert((repo.key.as_ref().into(), commit.into()));
        }
        if let (Some(pr), Some(repo)) = (&record.pr, repos.hld) {
            keep.pull_requests
                .insert((repo.key.as_ref().into(), pr.into()));
        }
        if let Some(repo) = repos.manifest {
            keep.manifests.insert(repo.key.as_ref().into());
        }
    }
    let k = &mut state.knowledge;
    k.builds.retain(|id, _| keep.builds.contains(id));
    k.releases.retain(|id, _| keep.releases.contains(id));
    k.stages.retain(|id, _| keep.builds.contains(id));
    k.kept_builds.retain(|id| keep.builds.contains(id));
    k.kept_releases.retain(|id| keep.releases.contains(id));
    k.authors.retain(|repo, commits| {
        commits.retain(|c, _| keep.authors.contains(&(repo.clone(), c.clone())));
        !commits.is_empty()
    });
    k.pull_requests.retain(|repo, ids| {
        ids.retain(|id, _| keep.pull_requests.contains(&(repo.clone(), id.clone())));
        !ids.is_empty()
    });
    k.sync_tags.retain(|repo, _| keep.manifests.contains(repo));
    // Histories of the repositories records name or agents apply, no others.
    let applied: HashSet<String> = k
        .applied
        .iter()
        .flat_map(|s| s.applied.iter())
        .map(|a| a.repo.key())
        .collect();
    k.commit_orders
        .retain(|repo, _| keep.manifests.contains(repo) || applied.contains(repo.as_str()));
    // What was asked of and written to the store and the cache, by hash: bounded by what
    // the records kept can refer to.
    let most = state.records.len() * REMEMBERED_PER_RECORD + REMEMBERED_AT_LEAST;
    state.kept.bound(most);
    state.answers.bound(most);
    state
        .served_by
        .retain(|id, _| keep.builds.contains(id.as_str()) || keep.releases.contains(id.as_str()));
    state
        .manifest_repos
        .retain(|key, _| keep.manifests.contains(key.as_str()));
}
