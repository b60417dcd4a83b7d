//! Objects a provider read (pull requests, merge requests), remembered per repository under
//! the generation of the repository's change probe: while the probe answers "unchanged", what
//! was read under its generation is still right. Bounded in objects and repositories, since
//! records name the repositories and the numbers; what is forgotten is read again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Most objects remembered, across repositories.
pub const MAX_OBJECTS: usize = 50_000;

/// Most repositories remembered; a new one past it forgets every other, so more
/// repositories than this in turn are read again each time.
pub const MAX_REPOSITORIES: usize = 2_000;

/// Objects by number per repository, each with the probe generation it was read under.
#[derive(Debug)]
pub struct ProbedMemo<V> {
    inner: Mutex<Inner<V>>,
}

#[derive(Debug)]
struct Inner<V> {
    /// The last generation handed out; no two probes share one, even after a forget.
    last: u64,
    repos: HashMap<String, Repo<V>>,
    objects: usize,
}

#[derive(Debug)]
struct Repo<V> {
    generation: u64,
    known: HashMap<u64, (u64, Option<V>)>,
}

impl<V> Default for ProbedMemo<V> {
    fn default() -> Self {
        ProbedMemo {
            inner: Mutex::new(Inner {
                last: 0,
                repos: HashMap::new(),
                objects: 0,
            }),
        }
    }
}

impl<V: Clone> ProbedMemo<V> {
    /// An empty memo.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a probe of `repo` that answered: the generation what is read now is kept under,
    /// a new one when the probe saw a change or the repository was not remembered.
    pub fn probed(&self, repo: &str, changed: bool) -> u64 {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if !inner.repos.contains_key(repo) && inner.repos.len() >= MAX_REPOSITORIES {
            inner.repos.clear();
            inner.objects = 0;
        }
        inner.last += 1;
        let fresh = inner.last;
        let entry = inner.repos.entry(repo.to_string()).or_insert(Repo {
            generation: fresh,
            known: HashMap::new(),
        });
        if changed {
            // What was read under the old generation is never current again.
            entry.generation = fresh;
            let stale = entry.known.len();
            entry.known.clear();
            inner.objects -= stale;
        }
        entry.generation
    }

    /// What `repo`'s object `n` was when read under `generation`: `Some(None)` when it was
    /// not found; `None` when it was not read under that generation.
    pub fn get(&self, repo: &str, generation: u64, n: u64) -> Option<Option<V>> {
        let inner = self.lock();
        match inner.repos.get(repo)?.known.get(&n)? {
            (g, v) if *g == generation => Some(v.clone()),
            _ => None,
        }
    }

    /// Keeps what was read of `repo` under `generation` (`None`: not found), unless a probe
    /// has seen a change since. Past [`MAX_OBJECTS`], everything remembered is forgotten
    /// first.
    pub fn keep(&self, repo: &str, generation: u64, read: Vec<(u64, Option<V>)>) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.repos.get(repo).map(|r| r.generation) != Some(generation) {
            // Forgotten, or changed, since the probe this was read under: it may be stale.
            return;
        }
        if inner.objects + read.len() > MAX_OBJECTS {
            for r in inner.repos.values_mut() {
                r.known.clear();
            }
            inner.objects = 0;
        }
        let Some(entry) = inner.repos.get_mut(repo) else {
            return;
        };
        let mut added = 0;
        for (n, v) in read.into_iter().take(MAX_OBJECTS) {
            if entry.known.insert(n, (generation, v)).is_none() {
                added += 1;
            }
        }
        inner.objects += added;
    }

    /// How many objects are remembered, across repositories.
    pub fn objects(&self) -> usize {
        self.lock().objects
    }

    /// How many repositories are remembered.
    pub fn repositories(&self) -> usize {
        self.lock().repos.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_read_is_current_until_the_probe_sees_a_change() {
        let memo = ProbedMemo::<String>::new();
        let g = memo.probed("github.com/a/b", true);
        memo.keep(
            "github.com/a/b",
            g,
            vec![(1, Some("one".into())), (2, None)],
        );
        let g2 = memo.probed("github.com/a/b", false);
        assert_eq!(g2, g, "unchanged: same generation");
        assert_eq!(memo.get("github.com/a/b", g2, 1), Some(Some("one".into())));
        assert_eq!(
            memo.get("github.com/a/b", g2, 2),
            Some(None),
            "known absent"
        );
        assert_eq!(memo.get("github.com/a/b", g2, 3), None, "never read");
        assert_eq!(
            memo.get("github.com/a/c", g2, 1),
            None,
            "another repository"
        );
        let g3 = memo.probed("github.com/a/b", true);
        assert_ne!(g3, g);
        assert_eq!(
            memo.get("github.com/a/b", g3, 1),
            None,
            "changed: read again"
        );
        assert_eq!(
            memo.objects(),
            0,
            "what is never current again is forgotten"
        );
        // A read that began before the change is not kept: it may be stale.
        memo.keep("github.com/a/b", g, vec![(1, Some("old".into()))]);
        assert_eq!(memo.objects(), 0);
        memo.keep("github.com/a/b", g3, vec![(1, Some("new".into()))]);
        assert_eq!(memo.get("github.com/a/b", g3, 1), Some(Some("new".into())));
    }

    #[test]
    fn objects_are_bounded_across_repositories() {
        let memo = ProbedMemo::<u64>::new();
        let per_repo = 1_000;
        for r in 0..(MAX_OBJECTS / per_repo + 5) {
            let repo = format!("github.com/o/r{r}");
            let g = memo.probed(&repo, true);
            memo.keep(
                &repo,
                g,
                (0..per_repo as u64).map(|n| (n, Some(n))).collect(),
            );
            assert!(memo.objects() <= MAX_OBJECTS, "{} objects", memo.objects());
        }
        // The last repository's objects are still there.
        let last = format!("github.com/o/r{}", MAX_OBJECTS / per_repo + 4);
        let g = memo.probed(&last, false);
        assert_eq!(memo.get(&last, g, 7), Some(Some(7)));
        // One answer larger than the bound keeps at most the bound.
        let g = memo.probed("github.com/o/huge", true);
        memo.keep(
            "github.com/o/huge",
            g,
            (0..(MAX_OBJECTS as u64 + 10)).map(|n| (n, None)).collect(),
        );
        assert_eq!(memo.objects(), MAX_OBJECTS);
    }

    #[test]
    fn repositories_are_bounded_and_a_forgotten_one_never_reuses_a_generation() {
        let memo = ProbedMemo::<u64>::new();
        let g = memo.probed("github.com/o/first", true);
        memo.keep("github.com/o/first", g, vec![(1, Some(1))]);
        for r in 0..MAX_REPOSITORIES {
            memo.probed(&format!("github.com/o/r{r}"), false);
            assert!(memo.repositories() <= MAX_REPOSITORIES);
        }
        assert_eq!(memo.objects(), 0, "forgotten with their repositories");
        // Probed again unchanged (its ETag still matches), the first repository gets a
        // generation nothing was kept under: its object is read again.
        let again = memo.probed("github.com/o/first", false);
        assert_ne!(again, g);
        assert_eq!(memo.get("github.com/o/first", again, 1), None);
    }
}
