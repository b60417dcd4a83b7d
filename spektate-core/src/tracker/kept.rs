//! The tracker's side of the answers a store keeps ([`RecordStore::keeps_answers`]): every
//! final answer it learns is written to the store once, and when the CI no longer has a run
//! (or a repository host a pull request or an author), what the store kept is used instead,
//! so a deployment's history outlives the CI's retention (docs/ARCHITECTURE.md, Refresh).

use std::collections::HashSet;
use std::sync::Arc;

use super::answers::{final_answers, key, provider_names};
use super::{Inner, State};
use crate::cache::{Answer, AnswerKey, Fact};
use crate::correlate::join::Lookup;
use crate::model::run::RunKind;
use crate::store::RecordStore;

/// Keys asked of the store in one refresh at most; the rest wait for the next refresh.
const MAX_KEYS_PER_REFRESH: usize = 20_000;
/// Answers written in one call at most.
const WRITE_BATCH: usize = 1_000;

/// What this tracker knows of the store's kept answers.
#[derive(Default)]
pub(super) struct StoreKept {
    /// Hashes of the keys written to the store, or read from it.
    written: HashSet<u64>,
    /// Hashes of the keys already asked of the store (kept or not): not asked again.
    asked: HashSet<u64>,
    /// Whether a failure to read or write was logged (once).
    warned: bool,
    /// Whether keys were left for the next refresh (over the bound, or a failed read).
    pending: bool,
}

impl StoreKept {
    /// Forgets which keys were written and asked once they number more than `most`: they
    /// are asked (and written) again rather than remembered for records long gone.
    pub(super) fn bound(&mut self, most: usize) {
        if self.written.len() + self.asked.len() > most {
            self.written = HashSet::new();
            self.asked = HashSet::new();
        }
    }
}

fn warn_once(
    kept: &mut StoreKept,
    store: &dyn RecordStore,
    what: &str,
    why: &dyn std::fmt::Display,
) {
    if !kept.warned {
        kept.warned = true;
        tracing::warn!(
            "{}: {what} provider answers: {why}; deployments whose runs the CI no longer has \
             are shown without them",
            store.describe()
        );
    }
}

/// One kept answer to ask for: its key and the hash that remembers it was asked.
struct Wanted {
    keys: Vec<AnswerKey>,
    hashes: Vec<u64>,
}

impl Wanted {
    fn push(&mut self, asked: &HashSet<u64>, namespace: &str, kind: &str, id: &str) -> bool {
        if self.keys.len() >= MAX_KEYS_PER_REFRESH {
            return false;
        }
        let h = key(kind, namespace, id);
        if !asked.contains(&h) {
            self.keys.push(AnswerKey {
                namespace: namespace.to_string(),
                kind: kind.to_string(),
                id: id.to_string(),
            });
            self.hashes.push(h);
        }
        true
    }
}

/// The keys of what providers said is gone and the store was not asked about yet: runs of
/// the tracker's pipelines (and the stages of builds), under each pipeline's name (the CI
/// that said "gone" need not be the one that answered before); authors and pull requests,
/// under their repository.
fn gone_keys(inner: &Inner, state: &State) -> Wanted {
    let providers = provider_names(inner);
    let asked = &state.kept.asked;
    let k = &state.knowledge;
    let mut want = Wanted {
        keys: Vec::new(),
        hashes: Vec::new(),
    };
    for kind in [RunKind::Build, RunKind::Release] {
        let word = if kind == RunKind::Build {
            "build"
        } else {
            "release"
        };
        for (id, lookup) in k.runs(kind) {
            if !matches!(lookup, Lookup::Missing) {
                continue;
            }
            for ns in &providers {
                if !want.push(asked, ns, word, id)
                    || (kind == RunKind::Build && !want.push(asked, ns, "stages", id))
                {
                    return want;
                }
            }
        }
    }
    let people = [
        ("author", missing(&k.authors)),
        ("pullRequest", missing(&k.pull_requests)),
    ];
    for (kind, gone) in people {
        for (repo, id) in gone {
            if !want.push(asked, repo, kind, id) {
                return want;
            }
        }
    }
    want
}

/// The (repository, id) pairs a repository host said are gone.
fn missing<T>(per_repo: &crate::correlate::join::PerRepo<T>) -> Vec<(&str, &str)> {
    per_repo
        .iter()
        .flat_map(|(repo, items)| {
            items
                .iter()
                .filter(|(_, l)| matches!(l, Lookup::Missing))
                .map(move |(id, _)| (&**repo, &**id))
        })
        .collect()
}

/// Phase 4b, kept answers. When the store keeps answers and providers said runs, authors or
/// pull requests are gone (looked for when a run or anything else `changed`, or when keys
/// were left last time), reads what the store kept of them, in one batched call: a kept
/// run (final) replaces "gone" and is marked kept ([`Knowledge::kept_runs`], its deployment
/// then expired), as do its stages, a kept author or a merged pull request. Returns whether
/// a run changed (first) and whether anything else did (second). A failed read is logged
/// once; the deployments are then shown from the records alone.
///
/// [`Knowledge::kept_runs`]: crate::correlate::join::Knowledge::kept_runs
pub(super) async fn restore(inner: &Inner, state: &mut State, changed: bool) -> (bool, bool) {
    if !inner.store.keeps_answers() || !(changed || state.kept.pending) {
        return (false, false);
    }
    let Wanted { keys, hashes } = gone_keys(inner, state);
    state.kept.pending = keys.len() >= MAX_KEYS_PER_REFRESH;
    if keys.is_empty() {
        return (false, false);
    }
    let answers = match inner.store.answers(&inner.partition, &keys).await {
        Ok(a) => a,
        Err(e) => {
            warn_once(&mut state.kept, &*inner.store, "read", &e);
            state.kept.pending = true;
            return (false, false);
        }
    };
    state.kept.asked.extend(hashes);
    let providers = provider_names(inner);
    let (mut runs, mut learned) = (false, false);
    let k = &mut state.knowledge;
    for Answer {
        namespace,
        id,
        fact,
    } in answers
    {
        state.kept.written.insert(key(fact.kind(), &namespace, &id));
        match fact {
            Fact::Build(run) | Fact::Release(run) => {
                let kind = run.kind;
                let Some(index) = providers.iter().position(|p| *p == namespace) else {
                    continue;
                };
                let gone = matches!(k.runs(kind).get(id.as_str()), Some(Lookup::Missing));
                if run.id != id || !run.is_final() || !gone {
                    continue;
                }
                state.served_by.insert(id.clone(), index);
                k.kept_runs_mut(kind).insert(id.as_str().into());
                k.runs_mut(kind)
                    .insert(id.into(), Lookup::Found(Arc::new(run)));
                runs = true;
            }
            Fact::Stages(stages) => {
                let slot = k.stages.entry(id.into()).or_insert(Lookup::Missing);
                if !matches!(slot, Lookup::Found(_)) {
                    *slot = Lookup::Found(stages);
                    learned = true;
                }
            }
            Fact::Author(author) => {
                if let Some(slot) = k
                    .authors
                    .get_mut(namespace.as_str())
                    .and_then(|m| m.get_mut(id.as_str()))
                    && matches!(slot, Lookup::Missing)
                {
                    *slot = Lookup::Found(Arc::new(author));
                    learned = true;
                }
            }
            Fact::PullRequest(pr) if pr.merged => {
                if let Some(slot) = k
                    .pull_requests
                    .get_mut(namespace.as_str())
                    .and_then(|m| m.get_mut(id.as_str()))
                    && matches!(slot, Lookup::Missing)
                {
                    *slot = Lookup::Found(Arc::new(pr));
                    learned = true;
                }
            }
            _ => {}
        }
    }
    (runs, learned)
}

/// Writes to the store, once, every final answer the knowledge holds that it was not given
/// or read back before: completed runs and their stages, authors, merged pull requests, in
/// calls of at most [`WRITE_BATCH`]. A failed write is logged once and tried again at the
/// next refresh that learns something; it never fails the refresh.
pub(super) async fn save(inner: &Inner, state: &mut State) {
    if !inner.store.writes_answers() {
        return;
    }
    let mut new = final_answers(inner, state, &state.kept.written).into_iter();
    loop {
        let (hashes, answers): (Vec<u64>, Vec<Answer>) = new.by_ref().take(WRITE_BATCH).unzip();
        if answers.is_empty() {
            return;
        }
        match inner.store.put_answers(&inner.partition, &answers).await {
            Ok(()) => state.kept.written.extend(hashes),
            Err(e) => {
                warn_once(&mut state.kept, &*inner.store, "keep", &e);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_asked_and_written_is_forgotten_past_its_bound() {
        let mut kept = StoreKept::default();
        kept.asked.extend(0..10);
        kept.written.extend(0..5);
        kept.bound(15);
        assert_eq!((kept.asked.len(), kept.written.len()), (10, 5));
        kept.bound(14);
        assert!(kept.asked.is_empty() && kept.written.is_empty());
    }
}
