//! Each repository's author, pull-request and cluster tables, found once per correlation
//! instead of once per record: a join of many records then hashes only the commit or pull
//! request it looks for, and compares a manifest commit only with syncs sharing its prefix.

use std::sync::Arc;

use super::join::{Knowledge, Lookup, Map, RepoEntry};
use super::key::Key;
use crate::model::cluster::ClusterReport;
use crate::model::deployment::{Author, ClusterSync, PullRequest, commits_match};
use crate::warnings::Reason;

/// The first seven characters of a commit id, lower-cased: the shortest prefix that names
/// a commit ([`commits_match`]). `None` for a shorter id.
pub(crate) type Prefix = [u8; 7];

pub(crate) fn prefix(commit: &str) -> Option<Prefix> {
    let bytes = commit.trim().as_bytes().get(..7)?;
    let mut p = [0; 7];
    for (to, from) in p.iter_mut().zip(bytes) {
        *to = from.to_ascii_lowercase();
    }
    Some(p)
}

/// Positions of commits by what may match them ([`commits_match`]): a commit of seven
/// characters or more by its prefix, a shorter one by its whole lower-cased text, since it
/// matches only itself. A lookup then reads only the candidates sharing a prefix, whatever
/// the number of clusters.
#[derive(Default)]
struct ByCommit {
    prefixed: Map<Prefix, Vec<usize>>,
    short: Map<String, Vec<usize>>,
}

impl ByCommit {
    fn push(&mut self, commit: &str, at: usize) {
        match prefix(commit) {
            Some(p) => self.prefixed.entry(p).or_default().push(at),
            None => (self.short.entry(commit.trim().to_ascii_lowercase()))
                .or_default()
                .push(at),
        }
    }

    /// The positions of the commits that may match `commit`, in the order pushed.
    fn of(&self, commit: &str) -> &[usize] {
        let found = match prefix(commit) {
            Some(p) => self.prefixed.get(&p),
            None => self.short.get(&commit.trim().to_ascii_lowercase()),
        };
        found.map_or(&[], Vec::as_slice)
    }
}

/// The clusters that may run a repository's commits: its sync tags, what sync sources'
/// applications applied from it, then the clusters that reported to the store, each with its
/// commit's prefix; indexed by commit when they are many.
#[derive(Default)]
pub(crate) struct Syncs<'k> {
    /// Why the sync tags could not be read, when they could not.
    pub failed: Option<&'k Reason>,
    candidates: Vec<(Option<Prefix>, &'k ClusterSync)>,
    /// Set past [`Syncs::SCAN`] candidates: below, comparing prefixes side by side is faster
    /// than any lookup.
    by_commit: Option<ByCommit>,
}

impl<'k> Syncs<'k> {
    fn new(
        tags: Option<&'k Lookup<Vec<ClusterSync>>>,
        applied: &[&'k ClusterSync],
        reports: &'k [ClusterSync],
    ) -> Self {
        let (tags, failed) = match tags {
            Some(Lookup::Found(t)) => (t.as_slice(), None),
            Some(Lookup::Failed(why)) => (&[][..], Some(why)),
            _ => (&[][..], None),
        };
        let candidates: Vec<(Option<Prefix>, &'k ClusterSync)> = tags
            .iter()
            .chain(applied.iter().copied())
            .chain(reports)
            .map(|s| (prefix(&s.commit), s))
            .collect();
        let by_commit = (candidates.len() > Self::SCAN).then(|| {
            let mut index = ByCommit::default();
            for (at, (_, s)) in candidates.iter().enumerate() {
                index.push(&s.commit, at);
            }
            index
        });
        Syncs {
            failed,
            candidates,
            by_commit,
        }
    }

    /// The clusters running `commit`, each once (a sync tag before an application, an
    /// application before a report of the same cluster).
    pub fn running(&self, commit: &str) -> Vec<ClusterSync> {
        let mut clusters: Vec<ClusterSync> = Vec::new();
        let mut seen = Seen::default();
        let mut take = |sync: &ClusterSync| {
            if commits_match(&sync.commit, commit) && seen.first(&sync.cluster, &clusters) {
                clusters.push(sync.clone());
            }
        };
        match &self.by_commit {
            Some(index) => index
                .of(commit)
                .iter()
                .for_each(|&at| take(self.candidates[at].1)),
            None => {
                let wanted = prefix(commit);
                for (p, sync) in &self.candidates {
                    if wanted.is_none() || p.is_none() || *p == wanted {
                        take(sync);
                    }
                }
            }
        }
        clusters
    }

    /// The most candidates compared one by one.
    const SCAN: usize = 32;
}

/// The clusters already taken: a scan of the few taken, an index once they are many, so
/// thousands of clusters on one commit cost no quadratic work.
#[derive(Default)]
pub(crate) struct Seen(Option<std::collections::HashSet<String>>);

impl Seen {
    /// Whether `cluster` is not among `taken` (all the clusters this was asked about and
    /// found new), noting it.
    pub fn first(&mut self, cluster: &str, taken: &[ClusterSync]) -> bool {
        const SCAN: usize = 16;
        match &mut self.0 {
            Some(index) => index.insert(cluster.to_string()),
            None if taken.len() < SCAN => !taken.iter().any(|c| c.cluster == cluster),
            None => {
                let mut index: std::collections::HashSet<String> =
                    taken.iter().map(|c| c.cluster.clone()).collect();
                let new = index.insert(cluster.to_string());
                self.0 = Some(index);
                new
            }
        }
    }
}

/// What agents said went wrong ([`Knowledge::cluster_troubles`], then its
/// `source_troubles`), indexed by commit: a deployment compares its commits only with
/// reports that may match them, whatever the number of clusters.
pub(crate) struct Troubles<'k> {
    all: Vec<&'k ClusterReport>,
    by_commit: ByCommit,
}

impl<'k> Troubles<'k> {
    fn new(k: &'k Knowledge) -> Self {
        let all: Vec<&'k ClusterReport> = k
            .cluster_troubles
            .iter()
            .chain(&k.source_troubles)
            .collect();
        let mut by_commit = ByCommit::default();
        for (at, t) in all.iter().enumerate() {
            by_commit.push(t.commit(), at);
        }
        Troubles { all, by_commit }
    }

    /// The reports about `commits`, each cluster once (the first in order).
    pub fn of(&self, commits: [Option<&str>; 2]) -> Vec<ClusterReport> {
        if self.all.is_empty() {
            return Vec::new();
        }
        let mut at: Vec<usize> = Vec::new();
        for commit in commits.into_iter().flatten() {
            at.extend(self.by_commit.of(commit));
        }
        at.sort_unstable();
        at.dedup();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for t in at.into_iter().map(|i| self.all[i]) {
            let ours = commits
                .into_iter()
                .flatten()
                .any(|c| commits_match(c, t.commit()));
            if ours && seen.insert(t.cluster()) {
                out.push(t.clone());
            }
        }
        out
    }
}

/// The tables of one repository.
struct RepoTables<'k> {
    authors: Option<&'k Map<Key, Lookup<Arc<Author>>>>,
    pull_requests: Option<&'k Map<Key, Lookup<Arc<PullRequest>>>>,
    syncs: Syncs<'k>,
    /// What sync sources' applications applied from this repository, alone.
    applied: Syncs<'k>,
}

/// The tables of every repository met so far, by the slot of its [`RepoEntry`].
pub(crate) struct Tables<'k> {
    k: &'k Knowledge,
    by_slot: Vec<Option<RepoTables<'k>>>,
    unnamed: Syncs<'k>,
    /// What sync sources' applications applied, by repository key.
    applied: Map<String, Vec<&'k ClusterSync>>,
    none: Syncs<'k>,
    /// What agents said went wrong, by commit prefix.
    pub troubles: Troubles<'k>,
}

impl<'k> Tables<'k> {
    pub fn new(k: &'k Knowledge) -> Self {
        let mut applied: Map<String, Vec<&'k ClusterSync>> = Map::default();
        for a in k.applied.iter().flat_map(|answer| answer.applied.iter()) {
            applied.entry(a.repo.key()).or_default().push(&a.sync);
        }
        Tables {
            k,
            by_slot: Vec::new(),
            unnamed: Syncs::new(None, &[], &k.cluster_reports),
            applied,
            none: Syncs::default(),
            troubles: Troubles::new(k),
        }
    }

    fn of(&mut self, repo: &RepoEntry) -> Option<&RepoTables<'k>> {
        let slot = repo.slot?;
        if self.by_slot.len() <= slot {
            self.by_slot.resize_with(slot + 1, || None);
        }
        let k = self.k;
        let applied = self.applied.get(&*repo.key).map_or(&[][..], Vec::as_slice);
        Some(self.by_slot[slot].get_or_insert_with(|| RepoTables {
            authors: k.authors.get(&*repo.key),
            pull_requests: k.pull_requests.get(&*repo.key),
            syncs: Syncs::new(k.sync_tags.get(&*repo.key), applied, &k.cluster_reports),
            applied: Syncs::new(None, applied, &[]),
        }))
    }

    /// The author of `commit` in `repo`.
    pub fn author(&mut self, repo: &RepoEntry, commit: &str) -> Option<&'k Lookup<Arc<Author>>> {
        match self.of(repo) {
            Some(t) => t.authors?.get(commit),
            None => self.k.authors.get(&*repo.key)?.get(commit),
        }
    }

    /// Pull request `id` of `repo`.
    pub fn pull_request(
        &mut self,
        repo: &RepoEntry,
        id: &str,
    ) -> Option<&'k Lookup<Arc<PullRequest>>> {
        match self.of(repo) {
            Some(t) => t.pull_requests?.get(id),
            None => self.k.pull_requests.get(&*repo.key)?.get(id),
        }
    }

    /// The syncs of manifest repository `repo` (the cluster reports alone without one).
    pub fn syncs(&mut self, repo: Option<&RepoEntry>) -> &Syncs<'k> {
        if let Some(r) = repo {
            self.of(r);
            if let Some(Some(t)) = r.slot.and_then(|slot| self.by_slot.get(slot)) {
                return &t.syncs;
            }
        }
        &self.unnamed
    }

    /// What sync sources' applications applied from `repo`, alone (an HLD repository that
    /// an agent renders from).
    pub fn applied(&mut self, repo: &RepoEntry) -> &Syncs<'k> {
        if self.applied.is_empty() {
            return &self.none;
        }
        self.of(repo);
        match repo.slot.and_then(|slot| self.by_slot.get(slot)) {
            Some(Some(t)) => &t.applied,
            _ => &self.none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(cluster: &str, commit: &str) -> ClusterSync {
        ClusterSync {
            cluster: cluster.into(),
            commit: commit.into(),
            synced_at: None,
            tagger: None,
        }
    }

    #[test]
    fn a_deployment_gets_the_troubles_of_its_commits_each_cluster_once_in_order() {
        let (ours, hld, other) = (
            "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f",
            "ffffffffffffffffffffffffffffffffffffffff",
        );
        let report = |cluster: &str, commit: &str| ClusterReport::applied(sync(cluster, commit));
        let k = Knowledge {
            // Thousands of clusters on another commit, then two on ours.
            cluster_troubles: (0..20_000)
                .map(|n| report(&format!("c{n}"), other))
                .chain([report("east", ours), report("west", "A1B2C3D")])
                .collect(),
            source_troubles: vec![report("east", hld), report("argo", hld)],
            ..Knowledge::default()
        };
        let troubles = Troubles::new(&k);
        let names = |commits| -> Vec<String> {
            troubles
                .of(commits)
                .iter()
                .map(|t| t.cluster().to_string())
                .collect()
        };
        assert_eq!(names([Some(ours), Some(hld)]), ["east", "west", "argo"]);
        assert_eq!(names([None, Some(hld)]), ["east", "argo"]);
        assert_eq!(names([Some(other), None]).len(), 20_000);
        assert!(names([None, None]).is_empty());
    }

    #[test]
    fn thousands_of_clusters_on_one_commit_are_each_taken_once_in_order() {
        let full = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
        let tags = Lookup::Found((0..5_000).map(|n| sync(&format!("c{n}"), full)).collect());
        let reports: Vec<ClusterSync> = (0..5_000)
            .rev()
            .map(|n| sync(&format!("c{}", n * 2), full))
            .collect();
        let running = Syncs::new(Some(&tags), &[], &reports).running(full);
        let names: Vec<&str> = running.iter().map(|c| c.cluster.as_str()).collect();
        assert_eq!(names.len(), 7_500, "each cluster once");
        assert_eq!(&names[..3], ["c0", "c1", "c2"], "tags first, in order");
        assert_eq!(
            names[5_000], "c9998",
            "then the reports of clusters no tag names"
        );
    }

    #[test]
    fn clusters_match_by_prefix_in_any_case_each_cluster_once() {
        let full = "A1B2C3D4e5f60718293a4b5c6d7e8f9012345678";
        let tags = Lookup::Found(vec![
            sync("east", full),
            sync("west", "a1b2c3d"),
            sync("north", "ffffffffffffffffffffffffffffffffffffffff"),
        ]);
        let reports = [
            sync("east", full),
            sync("edge", "a1b2c3d4"),
            sync("tiny", " Abc"),
        ];
        // The same answers from candidates compared one by one and from the index, which
        // 40 more clusters on other commits make.
        let others: Vec<ClusterSync> = (0..40)
            .map(|n| sync(&format!("o{n}"), &format!("{n:07x}")))
            .collect();
        let many: Vec<ClusterSync> = reports.iter().chain(&others).cloned().collect();
        for syncs in [
            Syncs::new(Some(&tags), &[], &reports),
            Syncs::new(Some(&tags), &[], &many),
        ] {
            let names = |c: Vec<ClusterSync>| c.into_iter().map(|c| c.cluster).collect::<Vec<_>>();
            assert_eq!(
                names(syncs.running(&full.to_lowercase())),
                ["east", "west", "edge"]
            );
            assert_eq!(names(syncs.running("a1b2c3")), Vec::<String>::new());
            assert_eq!(names(syncs.running("  FFFFFFF ")), ["north"]);
            // A commit shorter than a prefix matches only itself, in any case.
            assert_eq!(names(syncs.running("aBC")), ["tiny"]);
            assert_eq!(names(syncs.running("abc0000")), Vec::<String>::new());
            assert_eq!(names(syncs.running("ab")), Vec::<String>::new());
        }
    }
}
