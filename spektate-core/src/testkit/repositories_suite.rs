//! The conformance suite every [`Repositories`] provider runs, each against a fake of its
//! own service's API that pages and revalidates as the service does.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::report::Report;
use super::served::{Served, describe};
use crate::model::repo::RepoRef;
use crate::provider::Repositories;

/// The state of a pull request the suite asks a fake to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullState {
    /// Open, waiting for approval.
    Open,
    /// Merged (completed) by this person.
    Merged {
        /// Who merged it: a login, or a display name where the service has no logins.
        by: String,
    },
    /// Closed without merging (abandoned).
    Abandoned,
}

/// What the suite reads in pages or batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// Commit authors.
    Commits,
    /// Pull requests.
    PullRequests,
    /// Tags (the refs a sync tag prefix matches).
    Tags,
}

/// A [`Repositories`] provider under test with a fake of its service's API: the suite puts
/// commits, pull requests and tags in one repository and counts what the provider asked for.
pub trait RepositoriesFake: Send + Sync {
    /// The provider, reading this fake.
    fn provider(&self) -> Arc<dyn Repositories>;

    /// A repository the token reads; everything the suite adds goes there.
    fn repo(&self) -> RepoRef;

    /// A repository the provider serves that the token cannot read (or that does not exist).
    fn unreadable_repo(&self) -> RepoRef;

    /// Adds a commit whose author is named `author`, committed at `at`; its id.
    fn add_commit(&self, author: &str, at: DateTime<Utc>) -> String;

    /// Adds a pull request; its id (number) as a record names it.
    fn add_pull(&self, title: &str, state: &PullState) -> String;

    /// Changes a pull request added before.
    fn set_pull(&self, id: &str, state: &PullState);

    /// Adds a tag on `commit`: annotated with a tag object by `tagger`, or lightweight.
    fn add_tag(&self, name: &str, commit: &str, tagger: Option<&str>);

    /// The most objects of a kind one answer carries; `None` when one answer carries all.
    fn page_size(&self, what: Listed) -> Option<usize>;

    /// Whether the service revalidates with ETags, so an unchanged answer is a 304.
    fn revalidates(&self) -> bool;

    /// Whether the service's API names the tagger of an annotated tag (GitLab's tag API does
    /// not); when it does not, the suite checks that no tagger is made up.
    fn names_taggers(&self) -> bool {
        true
    }

    /// Every request the fake answered so far, in order.
    fn served(&self) -> Vec<Served>;
}

/// Runs every case; panics naming the case on the first failure. Says which cases ran and
/// which do not apply to the service.
pub async fn repositories_conformance(fake: &dyn RepositoriesFake) -> Report {
    let mut report = Report::default();
    authors_come_in_batches(fake).await;
    report.pass("authors come in batches");
    a_missing_commit_is_left_out(fake).await;
    report.pass("a missing commit is left out");
    let ids = pull_requests_say_merged_open_or_abandoned(fake).await;
    report.pass("pull requests say merged, open or abandoned");
    many_pull_requests_come_in_batches(fake).await;
    report.pass("many pull requests come in batches");
    sync_tags_name_each_cluster(fake).await;
    report.pass("sync tags name each cluster");
    an_unreadable_repository_is_an_error(fake).await;
    report.pass("an unreadable repository is an error");
    if fake.revalidates() {
        unchanged_answers_are_revalidated(fake, &ids).await;
        report.pass("unchanged answers are revalidated");
    } else {
        report.skip(
            "unchanged answers are revalidated",
            "the service sends no ETags",
        );
    }
    report
}

/// How many objects to ask for so they span at least two full pages, and the most requests
/// that may cost (a page each, plus `extra`).
fn paged(fake: &dyn RepositoriesFake, what: Listed, extra: usize) -> (usize, usize) {
    match fake.page_size(what) {
        Some(page) => {
            let n = 2 * page + 3;
            (n, n.div_ceil(page) + extra)
        }
        None => (25, 1 + extra),
    }
}

async fn authors_come_in_batches(fake: &dyn RepositoriesFake) {
    let case = "authors come in batches";
    let (n, budget) = paged(fake, Listed::Commits, 1);
    // Whole seconds: every service writes commit times to the second.
    let first = DateTime::from_timestamp(Utc::now().timestamp() - 86_400, 0).unwrap();
    let at = |i: usize| first + chrono::Duration::minutes(i as i64);
    let commits: Vec<(String, String)> = (0..n)
        .map(|i| {
            let name = format!("Author {i}");
            (fake.add_commit(&name, at(i)), name)
        })
        .collect();
    let ids: Vec<String> = commits.iter().map(|(c, _)| c.clone()).collect();
    let before = fake.served().len();
    let found = fake
        .provider()
        .authors(&fake.repo(), &ids)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let served = fake.served();
    for (i, (commit, name)) in commits.iter().enumerate() {
        let author = found
            .get(commit)
            .unwrap_or_else(|| panic!("{case}: no author for {commit}"));
        assert_eq!(&author.name, name, "{case}: the author of {commit}");
        assert_eq!(
            author.committed_at,
            Some(at(i)),
            "{case}: the time {commit} was committed"
        );
    }
    assert_eq!(found.len(), n, "{case}: only the commits asked for");
    assert!(
        served.len() - before <= budget,
        "{case}: {n} authors cost {} requests, more than {budget}:\n{}",
        served.len() - before,
        describe(&served, before)
    );
}

async fn a_missing_commit_is_left_out(fake: &dyn RepositoriesFake) {
    let case = "a missing commit is left out";
    let mut ids: Vec<String> = ["Ana", "Bo", "Cy"]
        .iter()
        .map(|name| fake.add_commit(name, Utc::now()))
        .collect();
    let missing = "0123456789abcdef0123456789abcdef01234567".to_string();
    ids.push(missing.clone());
    let found = fake
        .provider()
        .authors(&fake.repo(), &ids)
        .await
        .unwrap_or_else(|e| panic!("{case}: one missing commit fails the others: {e}"));
    assert_eq!(found.len(), 3, "{case}: {found:?}");
    assert!(!found.contains_key(&missing), "{case}");
}

/// Returns the ids of the open and the merged pull request, for the revalidation case.
async fn pull_requests_say_merged_open_or_abandoned(fake: &dyn RepositoriesFake) -> Vec<String> {
    let case = "pull requests say merged, open or abandoned";
    let merged_by = PullState::Merged { by: "mona".into() };
    let open = fake.add_pull("Update frontend to frontend-812 in prod", &PullState::Open);
    let merged = fake.add_pull("Update frontend to frontend-811 in dev", &merged_by);
    let abandoned = fake.add_pull(
        "Update frontend to frontend-810 in dev",
        &PullState::Abandoned,
    );
    let unknown = "987654".to_string();
    let ids = vec![
        open.clone(),
        merged.clone(),
        abandoned.clone(),
        unknown.clone(),
    ];
    let found = fake
        .provider()
        .pull_requests(&fake.repo(), &ids)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    assert!(
        !found.contains_key(&unknown),
        "{case}: an unknown number is left out"
    );
    let pr = |id: &str| {
        found
            .get(id)
            .unwrap_or_else(|| panic!("{case}: pull request {id} not found: {found:?}"))
    };
    let (o, m, a) = (pr(&open), pr(&merged), pr(&abandoned));
    assert_eq!(
        o.title, "Update frontend to frontend-812 in prod",
        "{case}: the title"
    );
    assert!(
        !o.merged && !o.closed && o.merged_by.is_none(),
        "{case}: open: {o:?}"
    );
    assert!(m.merged && !m.closed, "{case}: merged: {m:?}");
    let by = m.merged_by.as_ref().map(|a| a.name.as_str());
    assert_eq!(by, Some("mona"), "{case}: who merged it");
    assert!(m.merged_at.is_some(), "{case}: when it was merged");
    assert!(
        a.closed && !a.merged && a.merged_by.is_none(),
        "{case}: abandoned: {a:?}"
    );
    assert!(
        [o, m, a].iter().all(|p| p.url.is_some()),
        "{case}: each has a page to link"
    );
    vec![open, merged]
}

async fn many_pull_requests_come_in_batches(fake: &dyn RepositoriesFake) {
    let case = "many pull requests come in batches";
    let (n, budget) = paged(fake, Listed::PullRequests, 2);
    let merged_by = PullState::Merged { by: "hubot".into() };
    let ids: Vec<String> = (0..n)
        .map(|i| fake.add_pull(&format!("Deploy svc-{i}"), &merged_by))
        .collect();
    let before = fake.served().len();
    let found = fake
        .provider()
        .pull_requests(&fake.repo(), &ids)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let served = fake.served();
    assert_eq!(found.len(), n, "{case}: every pull request is found");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(found[id].title, format!("Deploy svc-{i}"), "{case}: {id}");
    }
    assert!(
        served.len() - before <= budget,
        "{case}: {n} pull requests cost {} requests, more than {budget}:\n{}",
        served.len() - before,
        describe(&served, before)
    );
}

async fn sync_tags_name_each_cluster(fake: &dyn RepositoriesFake) {
    let case = "sync tags name each cluster";
    let repo = fake.repo();
    let east = fake.add_commit("Flux", Utc::now());
    let edge = fake.add_commit("Flux", Utc::now());
    fake.add_tag("flux-east", &east, Some("Weave Flux"));
    fake.add_tag("flux-edge", &edge, None);
    fake.add_tag("v1.0.0", &east, None);
    let provider = fake.provider();
    let mut syncs = provider
        .sync_tags(&repo)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    syncs.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    let seen: Vec<(&str, &str)> = syncs
        .iter()
        .map(|s| (s.cluster.as_str(), s.commit.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("east", east.as_str()), ("edge", edge.as_str())],
        "{case}: flux- tags only, each on its commit"
    );
    let tagger = fake.names_taggers().then_some("Weave Flux");
    assert_eq!(
        syncs[0].tagger.as_deref(),
        tagger,
        "{case}: an annotated tag names its tagger where the service says it, and no other"
    );

    let (n, budget) = paged(fake, Listed::Tags, 1);
    for i in 0..n {
        fake.add_tag(&format!("flux-c{i:03}"), &edge, None);
    }
    let before = fake.served().len();
    let syncs = provider
        .sync_tags(&repo)
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let served = fake.served();
    assert_eq!(
        syncs.len(),
        n + 2,
        "{case}: every cluster of {n} tags over several pages"
    );
    assert!(
        served.len() - before <= budget,
        "{case}: {} tags cost {} requests, more than {budget}:\n{}",
        n + 3,
        served.len() - before,
        describe(&served, before)
    );
}

async fn an_unreadable_repository_is_an_error(fake: &dyn RepositoriesFake) {
    let case = "an unreadable repository is an error";
    let repo = fake.unreadable_repo();
    let provider = fake.provider();
    assert!(
        provider.serves_repo(&repo),
        "{case}: the provider serves it"
    );
    let one = vec!["0123456789abcdef0123456789abcdef01234567".to_string()];
    let two = vec![
        one[0].clone(),
        "89abcdef0123456789abcdef0123456789abcdef".into(),
    ];
    for commits in [&one, &two] {
        let got = provider.authors(&repo, commits).await;
        assert!(
            got.is_err(),
            "{case}: authors of {} commits are an error, not missing: {got:?}",
            commits.len()
        );
    }
    for ids in [
        vec!["1".to_string()],
        (1..=5).map(|i| i.to_string()).collect(),
    ] {
        let got = provider.pull_requests(&repo, &ids).await;
        assert!(
            got.is_err(),
            "{case}: {} pull requests are an error, not missing: {got:?}",
            ids.len()
        );
    }
    let got = provider.sync_tags(&repo).await;
    assert!(got.is_err(), "{case}: sync tags are an error: {got:?}");
}

async fn unchanged_answers_are_revalidated(fake: &dyn RepositoriesFake, ids: &[String]) {
    let case = "unchanged answers are revalidated";
    let provider = fake.provider();
    let repo = fake.repo();
    provider.pull_requests(&repo, ids).await.unwrap();
    provider.sync_tags(&repo).await.unwrap();
    let before = fake.served().len();
    let pulls = provider.pull_requests(&repo, ids).await.unwrap();
    provider.sync_tags(&repo).await.unwrap();
    let served = fake.served().split_off(before);
    assert_eq!(pulls.len(), ids.len(), "{case}");
    assert!(
        !served.is_empty() && served.iter().all(Served::revalidated),
        "{case}: asking again costs only 304s:\n{}",
        describe(&served, 0)
    );
    fake.set_pull(&ids[0], &PullState::Merged { by: "hubot".into() });
    let pulls = provider.pull_requests(&repo, ids).await.unwrap();
    assert!(
        pulls[&ids[0]].merged,
        "{case}: a pull request merged since is read again"
    );
}
