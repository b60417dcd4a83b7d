//! Where each deployment is live (docs/ARCHITECTURE.md, Correlation).
//!
//! Each agent (a cluster's sync tag, its report to the store, an application of a sync
//! source) says the newest commit of a repository the cluster applied. Commits are placed in
//! the order their records were written (the store's change sequence, else the record's
//! time), except that where a provider gave the repository's history
//! (`Knowledge::commit_orders`) the commits it holds take, in the history's order, the places
//! their records held, so p3 runs recorded out of order are set right; a commit the history
//! does not hold keeps its record's place. An agent whose commit no record names is placed
//! at the newest earlier commit of the repository's history, else of its own history, that
//! one does. A cluster's place in a repository is the oldest of its agents' (it
//! has applied at least that far everywhere). A deployment is live in a cluster when its commit
//! is at or before the cluster's place and no later deployment of the same service and ring
//! is: so, per service, ring and repository, the newest deployment at or before each
//! cluster's place, found by one pass over the deployments and a binary search per cluster.
//! An HLD commit of an approval pull request not known to be merged (and that no agent
//! applied) is on a branch agents do not read: it is not placed, so it is neither live nor
//! replaces anything.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::join::{Knowledge, Lookup, Map};
use super::key::Key;
use super::tables::{Prefix, prefix};
use crate::model::cluster::Live;
use crate::model::deployment::{ClusterSync, Deployment, Status, commits_match};
use crate::model::record::Record;
use crate::model::repo::RepoRef;
use crate::provider::MAX_COMMIT_ORDER;

/// A commit's place: the change sequence of the record that names it, else its time.
type Rank = (Option<i64>, Option<DateTime<Utc>>);

/// A commit's place in its repository's order: its place in the history where the history
/// holds it (a place one of those commits' records held), else its record's; then its
/// record's, so two records of one commit keep their order.
type Order = (Rank, Rank);

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
    rank: Option<Order>,
    /// The place of the newest commit of its history a record names.
    floor: Option<Order>,
}

/// A repository's history, newest first, with its commits by prefix.
struct History<'k> {
    commits: &'k [String],
    by_prefix: Map<Prefix, Vec<usize>>,
}

impl<'k> History<'k> {
    fn new(commits: &'k [String]) -> Self {
        let commits = &commits[..commits.len().min(MAX_COMMIT_ORDER)];
        let mut by_prefix: Map<Prefix, Vec<usize>> = Map::default();
        for (i, c) in commits.iter().enumerate() {
            if let Some(p) = prefix(c) {
                by_prefix.entry(p).or_default().push(i);
            }
        }
        History { commits, by_prefix }
    }

    /// The age of `commit` in the history (0 the oldest it holds), when it holds it.
    fn age(&self, commit: &str) -> Option<usize> {
        let hits = self.by_prefix.get(&prefix(commit)?)?;
        hits.iter()
            .find(|&&i| commits_match(&self.commits[i], commit))
            .map(|&i| self.commits.len() - 1 - i)
    }
}

/// How one repository's recorded commits are reordered by its history.
#[derive(Default)]
struct Reorder {
    /// Per age of a recorded commit the history holds: the newest place its records hold.
    recorded: Map<usize, Rank>,
    /// Those ages, oldest first.
    ages: Vec<usize>,
    /// Per age: the place it takes (the places of `recorded`, handed out in age order).
    place: Map<usize, Rank>,
}

impl Reorder {
    fn note(&mut self, age: usize, rank: Rank) {
        let slot = self.recorded.entry(age).or_insert(rank);
        *slot = (*slot).max(rank);
    }

    /// Hands the places the history's commits held out again, in the history's order.
    fn settle(&mut self) {
        self.ages = self.recorded.keys().copied().collect();
        self.ages.sort_unstable();
        let mut ranks: Vec<Rank> = self.recorded.values().copied().collect();
        ranks.sort_unstable();
        self.place = self.ages.iter().copied().zip(ranks).collect();
    }

    /// The order of a record's commit: `age` in the history, if it holds it.
    fn order(&self, age: Option<usize>, rank: Rank) -> Order {
        match age.and_then(|a| self.place.get(&a)) {
            Some(&p) => (p, rank),
            None => (rank, rank),
        }
    }

    /// The order of a cluster at `age` of the history: that of the newest recorded commit at
    /// or before it.
    fn at(&self, age: usize) -> Option<Order> {
        let j = self.ages.partition_point(|&a| a <= age).checked_sub(1)?;
        let a = self.ages[j];
        Some((self.place[&a], self.recorded[&a]))
    }
}

/// Which commit of a deployment: its manifest commit or its HLD commit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Manifest,
    Hld,
}

/// Repository keys by index; deployments' repositories found by the address of their shared
/// `RepoRef`, so a key is built once per distinct repository, not per deployment.
struct Repos<'k> {
    by_key: Map<String, usize>,
    by_ptr: Map<usize, usize>,
    last: Option<(usize, usize)>,
    /// Whether an agent of a known repository names it.
    watched: Vec<bool>,
    /// Each repository's history, where a provider gave it.
    histories: Vec<Option<History<'k>>>,
    orders: &'k Map<Key, Arc<Vec<String>>>,
}

impl<'k> Repos<'k> {
    fn new(orders: &'k Map<Key, Arc<Vec<String>>>) -> Self {
        Repos {
            by_key: Map::default(),
            by_ptr: Map::default(),
            last: None,
            watched: Vec::new(),
            histories: Vec::new(),
            orders,
        }
    }

    fn of_key(&mut self, key: String) -> usize {
        let next = self.by_key.len();
        let history = self.orders.get(key.as_str()).map(|h| History::new(h));
        let at = *self.by_key.entry(key).or_insert(next);
        if at == self.watched.len() {
            self.watched.push(false);
            self.histories.push(history);
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

/// A commit of a group: its record's place, its age in the repository's history (if it holds
/// it), the deployment, and which of its commits.
type Entry = (Rank, Option<usize>, usize, Which);

/// A cluster's place in one repository: the oldest of its agents'.
struct Place<'k> {
    sync: &'k ClusterSync,
    rank: Order,
}

/// Every cluster commit `k` knows, with the repository key it was read from and the history
/// of commits before it: sync tags (per manifest repository), agents' applied commits, and
/// cluster reports (no repository).
fn known_syncs<'k>(
    k: &'k Knowledge,
) -> impl Iterator<Item = (&'k ClusterSync, Option<Cow<'k, str>>, &'k [String])> {
    let tags = k.sync_tags.iter().flat_map(|(key, tags)| {
        let tags: &[ClusterSync] = match tags {
            Lookup::Found(tags) => tags,
            _ => &[],
        };
        tags.iter()
            .map(move |sync| (sync, Some(Cow::Borrowed(key.as_str())), &[][..]))
    });
    let applied = k
        .applied
        .iter()
        .flat_map(|answer| answer.applied.iter())
        .map(|a| {
            (
                &a.sync,
                Some(Cow::Owned(a.repo.key())),
                a.history.as_slice(),
            )
        });
    let reports = k.cluster_reports.iter().map(|sync| (sync, None, &[][..]));
    tags.chain(applied).chain(reports)
}

/// Whether `k` knows any cluster's commit: without one, [`mark`] places nothing.
pub(crate) fn has_sources(k: &Knowledge) -> bool {
    known_syncs(k).next().is_some()
}

/// Fills each deployment's `live_in` (empty until then), and completes a deployment with no
/// manifest step that is live through an agent rendering from its HLD repository.
pub(crate) fn mark(deployments: &mut [Deployment], k: &Knowledge) {
    let mut repos = Repos::new(&k.commit_orders);
    let mut agents: Vec<Agent> = known_syncs(k)
        .map(|(sync, repo, history)| {
            Agent::new(sync, repo.map(|r| repos.of_key(r.into_owned())), history)
        })
        .collect();
    let reports = !k.cluster_reports.is_empty();
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
    let mut groups: Map<Group, Vec<Entry>> = Map::default();
    // (agent, as its current commit, repository, age in the history, the record's place).
    let mut matches: Vec<(usize, bool, usize, Option<usize>, Rank)> = Vec::new();
    // The repositories a deployment's manifest commit is in, when clusters report.
    let mut manifest_repos: Vec<bool> = Vec::new();
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
            if reported {
                if manifest_repos.len() <= r {
                    manifest_repos.resize(r + 1, false);
                }
                manifest_repos[r] = true;
            }
            if !repos.watched[r] && !reported {
                continue;
            }
            let age = repos.histories[r].as_ref().and_then(|h| h.age(commit));
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
                        matches.push((at, true, r, age, place));
                        applied = true;
                    } else if !current && a.history.iter().any(|h| commits_match(h, commit)) {
                        matches.push((at, false, r, age, place));
                        applied = true;
                    }
                }
            }
            // p3 writes manifest commits where agents read them; p2 may write an HLD commit
            // on the branch of an approval pull request, which reaches the branch agents read
            // only once merged (or once the default branch's history holds it).
            let on_main_line = which == Which::Manifest
                || applied
                || age.is_some()
                || d.pr().is_none()
                || d.pull_request.as_ref().is_some_and(|p| p.merged);
            if on_main_line {
                groups
                    .entry((service, ring, r))
                    .or_default()
                    .push((place, age, i, which));
            }
        }
    }

    // The places of the commits each history holds, handed out again in its order.
    let mut reorders: Vec<Reorder> = Vec::new();
    reorders.resize_with(repos.watched.len(), Reorder::default);
    for ((_, _, r), entries) in &groups {
        for &(place, age, _, _) in entries {
            if let Some(age) = age {
                reorders[*r].note(age, place);
            }
        }
    }
    for reorder in reorders.iter_mut().filter(|o| !o.recorded.is_empty()) {
        reorder.settle();
    }
    for (at, current, r, age, place) in matches {
        let order = reorders[r].order(age, place);
        let a = &mut agents[at];
        let slot = if current { &mut a.rank } else { &mut a.floor };
        *slot = (*slot).max(Some(order));
    }

    // A report names no repository, and one whose commit no deployment names belongs to the
    // manifest repository whose history holds it (a commit made by hand, a revert); to none
    // when several do (a mirror, a short commit), rather than to whichever came first.
    for a in agents.iter_mut().filter(|a| a.repo.is_none()) {
        let mut holders = (0..manifest_repos.len()).filter(|&r| {
            manifest_repos[r]
                && repos.histories[r]
                    .as_ref()
                    .is_some_and(|h| h.age(&a.sync.commit).is_some())
        });
        a.repo = holders.next().filter(|_| holders.next().is_none());
    }

    // Each cluster's place in each repository: the oldest of its agents'.
    let mut places: Map<(usize, &str), Place> = Map::default();
    for a in &agents {
        let Some(repo) = a.repo else {
            continue;
        };
        // Where the repository's history holds its commit: after every commit before it.
        let by_history = repos.histories[repo]
            .as_ref()
            .and_then(|h| h.age(&a.sync.commit))
            .and_then(|age| reorders[repo].at(age));
        let Some(rank) = by_history.or(a.rank).or(a.floor) else {
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
    for ((_, _, repo), entries) in groups {
        let clusters = &by_repo[repo];
        if clusters.is_empty() {
            continue;
        }
        let reorder = &reorders[repo];
        let mut entries: Vec<(Order, usize, Which)> = entries
            .into_iter()
            .map(|(place, age, i, which)| (reorder.order(age, place), i, which))
            .collect();
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
    // One entry per deployment and cluster, in cluster order: the exact one when a deployment
    // is live there through both repositories, else the first found (the sort is stable).
    found.sort_by(|a, b| {
        (a.0.cmp(&b.0))
            .then_with(|| a.1.cluster.cmp(&b.1.cluster))
            .then_with(|| b.1.exact.cmp(&a.1.exact))
    });
    for (i, live, which) in found {
        let d = &mut deployments[i];
        if which == Which::Hld && d.manifest.is_none() && d.status == Status::Incomplete {
            d.status = Status::Complete;
        }
        if d.live_in.last().is_some_and(|l| l.cluster == live.cluster) {
            continue;
        }
        d.live_in.push(live);
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
