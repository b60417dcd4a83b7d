//! Where each deployment is live (docs/ARCHITECTURE.md, Correlation).
//!
//! Each agent (a cluster's sync tag, its report to the store, an application of a sync
//! source) says the newest commit of a repository the cluster applied. Commits are placed in
//! the order their records were written (the store's change sequence, else the record's
//! time); an agent whose commit no record names is placed at the newest earlier commit of its
//! history that one does. A cluster's place in a repository is the oldest of its agents' (it
//! has applied at least that far everywhere). A deployment is live in a cluster when its commit
//! is at or before the cluster's place and no later deployment of the same service and ring
//! is: so, per service, ring and repository, the newest deployment at or before each
//! cluster's place, found by one pass over the deployments and a binary search per cluster.
//! An HLD commit of an approval pull request not known to be merged (and that no agent
//! applied) is on a branch agents do not read: it is not placed, so it is neither live nor
//! replaces anything.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::join::{Knowledge, Lookup, Map};
use super::tables::{Prefix, prefix};
use crate::model::cluster::Live;
use crate::model::deployment::{ClusterSync, Deployment, Status, commits_match};
use crate::model::record::Record;
use crate::model::repo::RepoRef;

/// A commit's place: the change sequence of the record that names it, else its time.
type Rank = (Option<i64>, Option<DateTime<Utc>>);

fn rank(record: &Record) -> Rank {
    (record.sequence, record.timestamp)
}

/// One agent: the newest commit of a repository applied in a cluster.
struct Agent<'k> {
    sync: &'k ClusterSync,
    /// The repository, by index; `None` for a cluster report, until a record names its commit.
    repo: Option<usize>,
    history: &'k [String],
    /// The place of its commit, once a record names it.
    rank: Option<Rank>,
    /// The place of the newest commit of its history a record names.
    floor: Option<Rank>,
}

/// Which commit of a deployment: its manifest commit or its HLD commit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Manifest,
    Hld,
}

/// Repository keys by index; deployments' repositories found by the address of their shared
/// `RepoRef`, so a key is built once per distinct repository, not per deployment.
#[derive(Default)]
struct Repos {
    by_key: Map<String, usize>,
    by_ptr: Map<usize, usize>,
    last: Option<(usize, usize)>,
    /// Whether an agent of a known repository names it.
    watched: Vec<bool>,
}

impl Repos {
    fn of_key(&mut self, key: String) -> usize {
        let next = self.by_key.len();
        let at = *self.by_key.entry(key).or_insert(next);
        if at == self.watched.len() {
            self.watched.push(false);
        }
        at
    }

    fn of(&mut self, repo: &Arc<RepoRef>) -> usize {
        let ptr = Arc::as_ptr(repo) as usize;
        if let Some((p, at)) = self.last
            && p == ptr
        {
            return at;
        }
        let at = match self.by_ptr.get(&ptr) {
            Some(&at) => at,
            None => {
                let at = self.of_key(repo.key());
                self.by_ptr.insert(ptr, at);
                at
            }
        };
        self.last = Some((ptr, at));
        at
    }
}

/// Group key: service and ring as stored, and the repository.
type Group<'d> = (Option<&'d str>, Option<&'d str>, usize);

/// A cluster's place in one repository: the oldest of its agents'.
struct Place<'k> {
    sync: &'k ClusterSync,
    rank: Rank,
}

/// Fills each deployment's `live_in`, and completes a deployment with no manifest step that
/// is live through an agent rendering from its HLD repository.
pub(crate) fn mark(deployments: &mut [Deployment], k: &Knowledge) {
    let mut repos = Repos::default();
    let mut agents: Vec<Agent> = Vec::new();
    for (key, tags) in &k.sync_tags {
        if let Lookup::Found(tags) = tags {
            let repo = repos.of_key(key.as_str().to_string());
            for sync in tags {
                agents.push(Agent::new(sync, Some(repo), &[]));
            }
        }
    }
    for a in k.applied.iter().flat_map(|answer| answer.applied.iter()) {
        let repo = repos.of_key(a.repo.key());
        agents.push(Agent::new(&a.sync, Some(repo), &a.history));
    }
    let reports = !k.cluster_reports.is_empty();
    for sync in &k.cluster_reports {
        agents.push(Agent::new(sync, None, &[]));
    }
    if agents.is_empty() {
        return;
    }
    for a in &agents {
        if let Some(r) = a.repo {
            repos.watched[r] = true;
        }
    }
    // The agents each commit prefix may belong to, and whether as their current commit.
    let mut probe: Map<Prefix, Vec<(usize, bool)>> = Map::default();
    for (i, a) in agents.iter().enumerate() {
        if let Some(p) = prefix(&a.sync.commit) {
            probe.entry(p).or_default().push((i, true));
        }
        for commit in a.history {
            if let Some(p) = prefix(commit) {
                probe.entry(p).or_default().push((i, false));
            }
        }
    }

    // One pass: each deployment's commits placed, grouped, and matched with agents.
    let mut groups: Map<Group, Vec<(Rank, usize, Which)>> = Map::default();
    for (i, d) in deployments.iter().enumerate() {
        let place = rank(&d.record);
        let service = d.record.service.as_deref();
        let ring = d.record.env.as_deref();
        for (which, commit, repo) in [
            (Which::Manifest, d.manifest_commit_id(), &d.manifest_repo),
            (Which::Hld, d.hld_commit_id(), &d.hld_repo),
        ] {
            let (Some(commit), Some(repo)) = (commit, repo) else {
                continue;
            };
            let r = repos.of(repo);
            let reported = reports && which == Which::Manifest;
            if !repos.watched[r] && !reported {
                continue;
            }
            // Whether an agent applied this commit (now, or earlier by its history).
            let mut applied = false;
            if let Some(hits) = prefix(commit).and_then(|p| probe.get(&p)) {
                for &(at, current) in hits {
                    let a = &mut agents[at];
                    let repo_ok = match a.repo {
                        Some(ar) => ar == r,
                        None => which == Which::Manifest,
                    };
                    if !repo_ok {
                        continue;
                    }
                    if current && commits_match(&a.sync.commit, commit) {
                        a.repo = Some(r);
                        a.rank = a.rank.max(Some(place));
                        applied = true;
                    } else if !current && a.history.iter().any(|h| commits_match(h, commit)) {
                        a.floor = a.floor.max(Some(place));
                        applied = true;
                    }
                }
            }
            // p3 writes manifest commits where agents read them; p2 may write an HLD commit
            // on the branch of an approval pull request, which reaches the branch agents read
            // only once merged.
            let on_main_line = which == Which::Manifest
                || applied
                || d.pr().is_none()
                || d.pull_request.as_ref().is_some_and(|p| p.merged);
            if on_main_line {
                groups
                    .entry((service, ring, r))
                    .or_default()
                    .push((place, i, which));
            }
        }
    }

    // Each cluster's place in each repository: the oldest of its agents'.
    let mut places: Map<(usize, &str), Place> = Map::default();
    for a in &agents {
        let (Some(repo), Some(rank)) = (a.repo, a.rank.or(a.floor)) else {
            continue;
        };
        let slot = places
            .entry((repo, a.sync.cluster.as_str()))
            .or_insert(Place { sync: a.sync, rank });
        if rank < slot.rank {
            *slot = Place { sync: a.sync, rank };
        }
    }
    let mut by_repo: Vec<Vec<&Place>> = Vec::new();
    by_repo.resize_with(repos.watched.len(), Vec::new);
    for ((repo, _), place) in &places {
        by_repo[*repo].push(place);
    }

    let mut found: Vec<(usize, Live, Which)> = Vec::new();
    for ((_, _, repo), mut entries) in groups {
        let clusters = &by_repo[repo];
        if clusters.is_empty() {
            continue;
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        for place in clusters {
            let end = entries.partition_point(|e| e.0 <= place.rank);
            let Some(newest) = end.checked_sub(1).map(|j| entries[j].0) else {
                continue;
            };
            for &(_, i, which) in entries[..end].iter().rev().take_while(|e| e.0 == newest) {
                let d = &deployments[i];
                let own = match which {
                    Which::Manifest => d.manifest_commit_id(),
                    Which::Hld => d.hld_commit_id(),
                };
                let live = Live {
                    cluster: place.sync.cluster.clone(),
                    commit: place.sync.commit.clone(),
                    exact: own.is_some_and(|c| commits_match(c, &place.sync.commit)),
                    applied_at: place.sync.synced_at,
                };
                found.push((i, live, which));
            }
        }
    }
    for (i, live, which) in found {
        let d = &mut deployments[i];
        if which == Which::Hld && d.manifest.is_none() && d.status == Status::Incomplete {
            d.status = Status::Complete;
        }
        match d.live_in.iter_mut().find(|l| l.cluster == live.cluster) {
            // Live through both repositories: the exact one says more.
            Some(l) if live.exact && !l.exact => *l = live,
            Some(_) => {}
            None => d.live_in.push(live),
        }
    }
    for d in deployments.iter_mut().filter(|d| d.live_in.len() > 1) {
        d.live_in.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    }
}

impl<'k> Agent<'k> {
    fn new(sync: &'k ClusterSync, repo: Option<usize>, history: &'k [String]) -> Self {
        Agent {
            sync,
            repo,
            history,
            rank: None,
            floor: None,
        }
    }
}
