//! The tracker's side of the [answers cache](crate::cache): before the first lookups, what
//! earlier processes learned that cannot change goes into the knowledge; after a refresh
//! that learned something, what is new and final is kept.

use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::{Inner, State};
use crate::cache::{Answer, AnswersCache, Fact, Wanted};
use crate::correlate::join::{Lookup, RepoCache};
use crate::model::run::RunKind;

/// What the cache holds of this tracker's knowledge.
#[derive(Default)]
pub(super) struct Kept {
    /// Whether the cache was read.
    loaded: bool,
    /// Hashes of the keys (kind, namespace, id) known to be in the cache.
    keys: HashSet<u64>,
    /// Whether a failure to read or write was logged (once).
    warned: bool,
}

impl Kept {
    /// Forgets which keys the cache holds once they number more than `most`: they are
    /// written again rather than remembered for records long gone.
    pub(super) fn bound(&mut self, most: usize) {
        if self.keys.len() > most {
            self.keys = HashSet::new();
        }
    }
}

/// A hash of an answer's key (kind, namespace, id), to remember which answers are kept.
pub(super) fn key(kind: &str, namespace: &str, id: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (kind, namespace, id).hash(&mut h);
    h.finish()
}

/// The names of the pipelines whose answers are kept (the store's run reports are not).
pub(super) fn provider_names(inner: &Inner) -> Vec<String> {
    inner.pipelines[..inner.own_pipelines]
        .iter()
        .map(|p| p.name())
        .collect()
}

fn warn_once(kept: &mut Kept, cache: &dyn AnswersCache, what: &str, why: &dyn std::fmt::Display) {
    if !kept.warned {
        kept.warned = true;
        tracing::warn!(
            "{}: {what}: {why}; providers are asked instead",
            cache.describe()
        );
    }
}

/// Reads the cache once, before the first lookups: the runs of the tracker's pipelines,
/// then the authors and pull requests of the repositories the records and those runs name,
/// go into the knowledge where nothing is known.
pub(super) async fn load(inner: &Inner, state: &mut State) {
    let Some(cache) = inner.answers.clone() else {
        return;
    };
    if std::mem::replace(&mut state.answers.loaded, true) {
        return;
    }
    let providers = provider_names(inner);
    let runs = Wanted {
        providers: providers.clone(),
        repositories: Vec::new(),
    };
    let Some(answers) = read(&cache, &mut state.answers, runs).await else {
        return;
    };
    apply(state, &providers, answers);
    let mut repositories = BTreeSet::new();
    let mut repos = RepoCache::new(&inner.defaults);
    for record in &state.records {
        let r = repos.repos(record);
        for entry in [r.source, r.hld].into_iter().flatten() {
            if !repositories.contains(&*entry.key) {
                repositories.insert(entry.key.to_string());
            }
        }
    }
    for run in state.knowledge.builds.values().filter_map(Lookup::found) {
        if let Some(repo) = &run.repository {
            repositories.insert(repo.key());
        }
    }
    let people = Wanted {
        providers: Vec::new(),
        repositories: repositories.into_iter().collect(),
    };
    if let Some(answers) = read(&cache, &mut state.answers, people).await {
        apply(state, &providers, answers);
    }
}

/// The answers `wanted` names, read off the runtime's threads; none (logged once) when
/// the cache cannot be read.
async fn read(
    cache: &Arc<dyn AnswersCache>,
    kept: &mut Kept,
    wanted: Wanted,
) -> Option<Vec<Answer>> {
    let reader = cache.clone();
    let why = match tokio::task::spawn_blocking(move || reader.load(&wanted)).await {
        Ok(Ok(answers)) => return Some(answers),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    warn_once(kept, &**cache, "read", &why);
    None
}

/// Puts `answers` into the knowledge where nothing is known yet.
fn apply(state: &mut State, providers: &[String], answers: Vec<Answer>) {
    let k = &mut state.knowledge;
    for Answer {
        namespace,
        id,
        fact,
    } in answers
    {
        state.answers.keys.insert(key(fact.kind(), &namespace, &id));
        match fact {
            Fact::Build(run) | Fact::Release(run) => {
                let kind = run.kind;
                let Some(index) = providers.iter().position(|p| *p == namespace) else {
                    continue;
                };
                if run.id != id || !run.is_final() || k.runs(kind).contains_key(id.as_str()) {
                    continue;
                }
                state.served_by.entry(id.clone()).or_insert(index);
                k.runs_mut(kind)
                    .insert(id.into(), Lookup::Found(Arc::new(run)));
            }
            Fact::Stages(stages) => {
                k.stages.entry(id.into()).or_insert(Lookup::Found(stages));
            }
            Fact::Author(author) => {
                k.authors
                    .entry(namespace.into())
                    .or_default()
                    .entry(id.into())
                    .or_insert(Lookup::Found(Arc::new(author)));
            }
            Fact::PullRequest(pr) if pr.merged => {
                k.pull_requests
                    .entry(namespace.into())
                    .or_default()
                    .entry(id.into())
                    .or_insert(Lookup::Found(Arc::new(pr)));
            }
            // Merged pull requests only; tag objects are the providers' own.
            Fact::PullRequest(_) | Fact::TagObject(_) => {}
        }
    }
}

/// Keeps what the knowledge holds that is final and not yet in the cache: completed runs
/// (and their stages) of the tracker's pipelines, found authors, merged pull requests.
pub(super) async fn save(inner: &Inner, state: &mut State) {
    let Some(cache) = inner.answers.clone() else {
        return;
    };
    let new = final_answers(inner, state, &state.answers.keys);
    if new.is_empty() {
        return;
    }
    let (hashes, answers): (Vec<u64>, Vec<Answer>) = new.into_iter().unzip();
    let writer = cache.clone();
    match tokio::task::spawn_blocking(move || writer.save(&answers)).await {
        Ok(Ok(())) => state.answers.keys.extend(hashes),
        Ok(Err(e)) => warn_once(&mut state.answers, &*cache, "write", &e),
        Err(e) => warn_once(&mut state.answers, &*cache, "write", &e),
    }
}

/// What the knowledge holds that is final and whose key's hash is not in `kept`, with that
/// hash: completed runs (and their stages) of the tracker's pipelines, found authors, merged
/// pull requests.
pub(super) fn final_answers(
    inner: &Inner,
    state: &State,
    kept: &HashSet<u64>,
) -> Vec<(u64, Answer)> {
    let providers = provider_names(inner);
    let k = &state.knowledge;
    let mut new: Vec<(u64, Answer)> = Vec::new();
    let mut add = |namespace: &str, id: &str, fact: &dyn Fn() -> Fact, kind: &str| {
        let h = key(kind, namespace, id);
        if !kept.contains(&h) {
            new.push((
                h,
                Answer {
                    namespace: namespace.to_string(),
                    id: id.to_string(),
                    fact: fact(),
                },
            ));
        }
    };
    for kind in [RunKind::Build, RunKind::Release] {
        for (id, lookup) in k.runs(kind) {
            let Lookup::Found(run) = lookup else { continue };
            let Some(ns) = state
                .served_by
                .get(id.as_str())
                .and_then(|&i| providers.get(i))
            else {
                continue;
            };
            if !run.is_final() || run.id != id.as_str() || run.kind != kind {
                continue;
            }
            let fact = || match kind {
                RunKind::Build => Fact::Build((**run).clone()),
                RunKind::Release => Fact::Release((**run).clone()),
            };
            add(
                ns,
                id,
                &fact,
                if kind == RunKind::Build {
                    "build"
                } else {
                    "release"
                },
            );
            if kind == RunKind::Build
                && let Some(Lookup::Found(stages)) = k.stages.get(id.as_str())
            {
                add(ns, id, &|| Fact::Stages(stages.clone()), "stages");
            }
        }
    }
    for (repo, items) in &k.authors {
        for (id, lookup) in items {
            if let Lookup::Found(a) = lookup {
                add(repo, id, &|| Fact::Author((**a).clone()), "author");
            }
        }
    }
    for (repo, items) in &k.pull_requests {
        for (id, lookup) in items {
            if let Lookup::Found(p) = lookup
                && p.merged
            {
                add(
                    repo,
                    id,
                    &|| Fact::PullRequest((**p).clone()),
                    "pullRequest",
                );
            }
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_known_in_the_cache_are_forgotten_past_their_bound() {
        let mut kept = Kept::default();
        kept.keys
            .extend([key("build", "ci", "1"), key("build", "ci", "2")]);
        kept.bound(2);
        assert_eq!(kept.keys.len(), 2);
        kept.bound(1);
        assert!(kept.keys.is_empty());
    }
}
