//! GitLab CI and GitLab projects run the provider conformance suites of the test kit against
//! the fake GitLab of `tests/support` (offset pages of a hundred with `Link` and
//! `x-next-page`, weak ETags and 304s, GraphQL batches), served under a path prefix as a
//! self-managed instance with a relative URL root is.

mod support;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use spektate_core::testkit::{
    Listed, PipelinesFake, PullState, RepositoriesFake, RunSpec, Served as KitServed,
    pipelines_conformance, repositories_conformance,
};
use spektate_core::{Pipelines, RepoRef, Repositories, RunKind, RunRequest, RunResult, RunStatus};
use spektate_gitlab::{GitLab, Secret};
use support::{FakeGitLab, commit, merge_request, pipeline, sha_of, tag};

const SVC: &str = "fabrikam/platform/svc";
const HLD: &str = "fabrikam/platform/hld";
const SECRET: &str = "contoso/secret";

fn kit_served(fake: &FakeGitLab) -> Vec<KitServed> {
    fake.served()
        .into_iter()
        .map(|s| KitServed {
            method: s.method,
            target: s.path,
            status: s.status,
            conditional: s.if_none_match.is_some(),
        })
        .collect()
}

fn status_word(spec: RunSpec) -> &'static str {
    match (spec.status, spec.result) {
        (RunStatus::Queued, _) => "pending",
        (RunStatus::InProgress, _) => "running",
        (_, Some(RunResult::Failed)) => "failed",
        (_, Some(RunResult::Canceled)) => "canceled",
        (_, Some(RunResult::Skipped)) => "skipped",
        _ => "success",
    }
}

struct Pipelines_ {
    fake: FakeGitLab,
    client: GitLab,
    next: Mutex<u64>,
}

impl Pipelines_ {
    async fn start() -> Self {
        let fake = FakeGitLab::start_under("/gitlab").await;
        {
            let mut w = fake.world();
            w.add_project(SVC);
            w.add_project(SECRET);
            w.hidden.insert(SECRET.into());
        }
        let client = fake.client();
        Pipelines_ {
            fake,
            client,
            next: Mutex::new(208_000_000),
        }
    }

    fn request(&self, id: u64, project: &str) -> RunRequest {
        RunRequest {
            id: id.to_string(),
            repo: Some(Arc::new(self.fake.repo(project))),
        }
    }

    fn put(&self, id: u64, spec: RunSpec) {
        let base = self.fake.url();
        let mut w = self.fake.world();
        let pid = w.add_project(SVC);
        let p = pipeline(
            &base,
            SVC,
            pid,
            id,
            id - 208_000_000,
            status_word(spec),
            &sha_of(&id.to_string()),
            Utc::now() - Duration::minutes(10),
        );
        w.pipelines.entry(SVC.into()).or_default().insert(id, p);
    }
}

impl PipelinesFake for Pipelines_ {
    fn provider(&self) -> Arc<dyn Pipelines> {
        Arc::new(self.client.pipelines())
    }

    fn kinds(&self) -> Vec<RunKind> {
        vec![RunKind::Build, RunKind::Release]
    }

    fn add_runs(&self, _kind: RunKind, runs: &[RunSpec]) -> Vec<RunRequest> {
        runs.iter()
            .map(|spec| {
                let id = {
                    let mut n = self.next.lock().unwrap();
                    *n += 1;
                    *n
                };
                self.put(id, *spec);
                self.request(id, SVC)
            })
            .collect()
    }

    fn set_run(&self, _kind: RunKind, run: &RunRequest, spec: RunSpec) {
        self.put(run.id.parse().unwrap(), spec);
    }

    fn gone_run(&self, _kind: RunKind) -> RunRequest {
        self.request(207_999_999, SVC)
    }

    fn unreadable_run(&self, _kind: RunKind) -> (Arc<dyn Pipelines>, RunRequest) {
        (self.provider(), self.request(208_500_000, SECRET))
    }

    fn break_run(&self, _kind: RunKind, run: &RunRequest) {
        self.fake.world().broken.insert(run.id.parse().unwrap());
    }

    fn mend_run(&self, _kind: RunKind, run: &RunRequest) {
        self.fake
            .world()
            .broken
            .remove(&run.id.parse::<u64>().unwrap());
    }

    fn page_size(&self, _kind: RunKind) -> usize {
        100
    }

    fn batch_size(&self, _kind: RunKind) -> usize {
        100
    }

    fn revalidates(&self) -> bool {
        true
    }

    fn served(&self) -> Vec<KitServed> {
        kit_served(&self.fake)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_ci_passes_the_pipelines_conformance_suite() {
    let fake = Pipelines_::start().await;
    let report = pipelines_conformance(&fake).await;
    assert_eq!(report.passed.len(), 5, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    assert!(
        fake.fake.served().iter().all(|s| s.status != 401),
        "every request carried the token"
    );
}

struct Repos {
    fake: FakeGitLab,
    client: GitLab,
    next: Mutex<u64>,
}

impl Repos {
    async fn start() -> Self {
        let fake = FakeGitLab::start_under("/gitlab").await;
        {
            let mut w = fake.world();
            w.add_project(HLD);
            w.add_project(SECRET);
            w.hidden.insert(SECRET.into());
        }
        let client = fake.client();
        Repos {
            fake,
            client,
            next: Mutex::new(0),
        }
    }

    fn next(&self) -> u64 {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        *n
    }

    fn mr(&self, iid: u64, title: &str, state: &PullState) {
        let (word, by) = match state {
            PullState::Open => ("opened", None),
            PullState::Merged { by } => ("merged", Some(by.as_str())),
            PullState::Abandoned => ("closed", None),
        };
        let at = Utc::now() - Duration::days(3) + Duration::seconds(self.next() as i64);
        let m = merge_request(
            &self.fake.url(),
            HLD,
            iid,
            title,
            &format!("deploy-{iid}"),
            word,
            by,
            at,
        );
        self.fake
            .world()
            .merge_requests
            .entry(HLD.into())
            .or_default()
            .insert(iid, m);
    }
}

impl RepositoriesFake for Repos {
    fn provider(&self) -> Arc<dyn Repositories> {
        Arc::new(self.client.repos())
    }

    fn repo(&self) -> RepoRef {
        self.fake.repo(HLD)
    }

    fn unreadable_repo(&self) -> RepoRef {
        self.fake.repo(SECRET)
    }

    fn add_commit(&self, author: &str, at: DateTime<Utc>) -> String {
        let sha = sha_of(&format!("commit-{}", self.next()));
        let c = commit(
            &self.fake.url(),
            HLD,
            &sha,
            author,
            "dev@fabrikam.example",
            None,
            at,
        );
        self.fake
            .world()
            .commits
            .insert((HLD.into(), sha.clone()), c);
        sha
    }

    fn add_pull(&self, title: &str, state: &PullState) -> String {
        let iid = 100 + self.next();
        self.mr(iid, title, state);
        iid.to_string()
    }

    fn set_pull(&self, id: &str, state: &PullState) {
        let iid: u64 = id.parse().unwrap();
        let title = self.fake.world().merge_requests[HLD][&iid]["title"]
            .as_str()
            .unwrap()
            .to_string();
        let at = Utc::now() + Duration::seconds(self.next() as i64);
        let (word, by) = match state {
            PullState::Open => ("opened", None),
            PullState::Merged { by } => ("merged", Some(by.as_str())),
            PullState::Abandoned => ("closed", None),
        };
        let m = merge_request(
            &self.fake.url(),
            HLD,
            iid,
            &title,
            &format!("deploy-{iid}"),
            word,
            by,
            at,
        );
        self.fake
            .world()
            .merge_requests
            .get_mut(HLD)
            .unwrap()
            .insert(iid, m);
    }

    fn add_tag(&self, name: &str, commit: &str, tagger: Option<&str>) {
        let t = tag(
            &self.fake.url(),
            HLD,
            name,
            commit,
            tagger.is_some(),
            Utc::now(),
        );
        self.fake
            .world()
            .tags
            .entry(HLD.into())
            .or_default()
            .push(t);
    }

    fn page_size(&self, what: Listed) -> Option<usize> {
        // Commits come sixteen a GraphQL query, within GitLab's query complexity limit.
        Some(if what == Listed::Commits { 16 } else { 100 })
    }

    fn revalidates(&self) -> bool {
        true
    }

    fn names_taggers(&self) -> bool {
        false
    }

    fn served(&self) -> Vec<KitServed> {
        kit_served(&self.fake)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_projects_pass_the_repositories_conformance_suite() {
    let fake = Repos::start().await;
    let report = repositories_conformance(&fake).await;
    assert_eq!(report.passed.len(), 7, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    let served = fake.fake.served();
    assert!(served.iter().any(|s| s.is_graphql()), "GraphQL was used");
    assert!(served.iter().all(|s| s.status != 401));
}

#[tokio::test]
async fn a_client_without_the_prefix_serves_no_project_under_it() {
    let fake = FakeGitLab::start_under("/gitlab").await;
    let wrong = GitLab::builder()
        .url(fake.server.uri())
        .token(Secret::new(support::TOKEN))
        .build()
        .unwrap();
    let right = fake.client();
    let repo = fake.repo(HLD);
    assert!(right.repos().serves_repo(&repo));
    assert_eq!(
        right.api_url(),
        format!("{}/gitlab/api/v4", fake.server.uri())
    );
    // Without the prefix the path `gitlab/fabrikam/platform/hld` would be asked for.
    assert!(wrong.repos().serves_repo(&repo));
    let e = wrong
        .repos()
        .sync_tags(&repo)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not found"), "{e}");
}
