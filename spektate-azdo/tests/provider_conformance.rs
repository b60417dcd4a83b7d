//! Azure DevOps (builds and classic releases) and Azure Repos pass the provider conformance
//! suites of `spektate_core::testkit`, against a fake organisation whose lists answer 40 items
//! a page and continue with `x-ms-continuationtoken`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use common::fake_org::{Caps, FakeOrg, ORG, PROJECT, Repo};
use common::fixtures::{identity, load, release, tfs_build};
use serde_json::{Value, json};
use spektate_core::testkit::{
    Listed, PipelinesFake, PullState, RepositoriesFake, RunSpec, Served, pipelines_conformance,
    repositories_conformance,
};
use spektate_core::{Pipelines, RepoRef, Repositories, RunKind, RunRequest, RunResult, RunStatus};

/// Items per page of every list of the fake organisation.
const PAGE: usize = 40;

/// The `status` and `result` words of a build in `spec`'s state.
fn build_words(spec: RunSpec) -> (&'static str, Option<&'static str>) {
    let result = match spec.result {
        Some(RunResult::Succeeded) => "succeeded",
        Some(RunResult::PartiallySucceeded) => "partiallySucceeded",
        Some(RunResult::Failed) => "failed",
        Some(RunResult::Canceled) => "canceled",
        Some(RunResult::Skipped) | None => "none",
    };
    match spec.status {
        RunStatus::Queued => ("notStarted", None),
        RunStatus::InProgress => ("inProgress", None),
        RunStatus::Completed => ("completed", Some(result)),
    }
}

/// The status of a release's one environment in `spec`'s state.
fn environment_status(spec: RunSpec) -> &'static str {
    match (spec.status, spec.result) {
        (RunStatus::Queued, _) => "queued",
        (RunStatus::InProgress, _) => "inProgress",
        (_, Some(RunResult::Failed)) => "rejected",
        (_, Some(RunResult::Canceled)) => "canceled",
        (_, Some(RunResult::PartiallySucceeded)) => "partiallySucceeded",
        _ => "succeeded",
    }
}

struct Pipes {
    fake: FakeOrg,
    next: AtomicU64,
}

impl Pipes {
    fn put(&self, kind: RunKind, id: u64, spec: RunSpec) {
        let mut org = self.fake.org();
        match kind {
            RunKind::Build => {
                let (status, result) = build_words(spec);
                let b = tfs_build(
                    &self.fake.server.uri(),
                    id,
                    status,
                    result,
                    "frontend",
                    &format!("{id:040x}"),
                );
                org.builds.insert(id, b);
            }
            RunKind::Release => {
                let times = [
                    "2020-03-17T21:00:00Z",
                    "2020-03-17T21:00:10Z",
                    "2020-03-17T21:05:00Z",
                ];
                let r = release(id, "dev", environment_status(spec), "frontend-812", times);
                org.releases.insert(id, r);
            }
        }
    }

    fn id(run: &RunRequest) -> u64 {
        run.id.parse().unwrap()
    }
}

impl PipelinesFake for Pipes {
    fn provider(&self) -> Arc<dyn Pipelines> {
        Arc::new(self.fake.pipelines())
    }

    fn kinds(&self) -> Vec<RunKind> {
        vec![RunKind::Build, RunKind::Release]
    }

    fn add_runs(&self, kind: RunKind, runs: &[RunSpec]) -> Vec<RunRequest> {
        runs.iter()
            .map(|spec| {
                let id = self.next.fetch_add(1, Ordering::SeqCst);
                self.put(kind, id, *spec);
                RunRequest {
                    id: id.to_string(),
                    repo: None,
                }
            })
            .collect()
    }

    fn set_run(&self, kind: RunKind, run: &RunRequest, spec: RunSpec) {
        self.put(kind, Pipes::id(run), spec);
    }

    fn gone_run(&self, _kind: RunKind) -> RunRequest {
        RunRequest {
            id: self.next.fetch_add(1, Ordering::SeqCst).to_string(),
            repo: None,
        }
    }

    fn unreadable_run(&self, kind: RunKind) -> (Arc<dyn Pipelines>, RunRequest) {
        let run = self.add_runs(kind, &[RunSpec::SUCCEEDED]).remove(0);
        (Arc::new(self.fake.pipelines_of("secret")), run)
    }

    fn break_run(&self, _kind: RunKind, run: &RunRequest) {
        self.fake.org().broken.insert(Pipes::id(run));
    }

    fn mend_run(&self, _kind: RunKind, run: &RunRequest) {
        self.fake.org().broken.remove(&Pipes::id(run));
    }

    fn page_size(&self, _kind: RunKind) -> usize {
        PAGE
    }

    fn batch_size(&self, kind: RunKind) -> usize {
        match kind {
            // Ids of five digits and a comma, in a URL of at most 2,000 characters.
            RunKind::Build => {
                let base = format!(
                    "{}/{ORG}/{PROJECT}/_apis/build/builds?api-version=6.0",
                    self.fake.server.uri()
                );
                (2000 - base.len()) / 6
            }
            RunKind::Release => 100,
        }
    }

    fn revalidates(&self) -> bool {
        false
    }

    fn served(&self) -> Vec<Served> {
        self.fake.served()
    }
}

struct Repos {
    fake: FakeOrg,
    next: AtomicU64,
}

const REPO: &str = "hld";

impl Repos {
    fn sha(&self) -> String {
        format!("{:040x}", self.next.fetch_add(1, Ordering::SeqCst))
    }

    fn pull(&self, number: u64, title: &str, state: &PullState) -> Value {
        let mut pr = load("pr-response.json");
        pr["pullRequestId"] = json!(number);
        pr["codeReviewId"] = json!(number);
        pr["title"] = json!(title);
        let o = pr.as_object_mut().unwrap();
        match state {
            PullState::Open => {
                o.insert("status".into(), json!("active"));
                o.remove("closedBy");
                o.remove("closedDate");
            }
            PullState::Merged { by } => {
                o.insert("status".into(), json!("completed"));
                o.insert("closedBy".into(), identity(by));
            }
            PullState::Abandoned => {
                o.insert("status".into(), json!("abandoned"));
                o.insert("closedBy".into(), identity("Samiya Akhtar"));
            }
        }
        pr
    }
}

impl RepositoriesFake for Repos {
    fn provider(&self) -> Arc<dyn Repositories> {
        Arc::new(self.fake.repos())
    }

    fn repo(&self) -> RepoRef {
        FakeOrg::repo(REPO)
    }

    fn unreadable_repo(&self) -> RepoRef {
        FakeOrg::repo("secret")
    }

    fn add_commit(&self, author: &str, at: DateTime<Utc>) -> String {
        let sha = self.sha();
        let mut c = load("author-response.json");
        c["commitId"] = json!(sha);
        c["author"]["name"] = json!(author);
        c["committer"]["date"] = json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
        c["remoteUrl"] = json!(format!(
            "https://dev.azure.com/{ORG}/{PROJECT}/_git/{REPO}/commit/{sha}"
        ));
        let mut org = self.fake.org();
        let repo = org.repos.entry(REPO.into()).or_default();
        repo.commits.insert(sha.clone(), c);
        sha
    }

    fn add_pull(&self, title: &str, state: &PullState) -> String {
        let mut org = self.fake.org();
        let repo = org.repos.entry(REPO.into()).or_default();
        let number = repo.pulls.keys().next_back().map_or(1000, |n| n + 1);
        repo.pulls.insert(number, self.pull(number, title, state));
        number.to_string()
    }

    fn set_pull(&self, id: &str, state: &PullState) {
        let mut org = self.fake.org();
        let repo = org.repos.entry(REPO.into()).or_default();
        let number: u64 = id.parse().unwrap();
        let title = repo.pulls[&number]["title"].as_str().unwrap().to_string();
        repo.pulls.insert(number, self.pull(number, &title, state));
    }

    fn add_tag(&self, name: &str, commit: &str, tagger: Option<&str>) {
        let object = match tagger {
            Some(_) => self.sha(),
            None => commit.to_string(),
        };
        let mut org = self.fake.org();
        let repo: &mut Repo = org.repos.entry(REPO.into()).or_default();
        if let Some(tagger) = tagger {
            let mut tag = load("manifest-sync-tag-response.json");
            tag["name"] = json!(name);
            tag["objectId"] = json!(object);
            tag["taggedObject"]["objectId"] = json!(commit);
            tag["taggedBy"]["name"] = json!(tagger);
            repo.tags.insert(object.clone(), tag);
        }
        let mut r = load("sync-response.json")["value"][0].clone();
        r["name"] = json!(format!("refs/tags/{name}"));
        r["objectId"] = json!(object);
        repo.refs.push(r);
        repo.refs
            .sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }

    fn page_size(&self, what: Listed) -> Option<usize> {
        match what {
            // A commits batch answers every commit it names; the provider asks for 100.
            Listed::Commits => Some(100),
            Listed::PullRequests | Listed::Tags => Some(PAGE),
        }
    }

    fn revalidates(&self) -> bool {
        false
    }

    fn served(&self) -> Vec<Served> {
        self.fake.served()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_devops_passes_the_pipelines_conformance_suite() {
    let fake = Pipes {
        fake: FakeOrg::start(Caps::every(PAGE)).await,
        next: AtomicU64::new(10_000),
    };
    let report = pipelines_conformance(&fake).await;
    assert_eq!(report.passed.len(), 4, "{report:?}");
    assert_eq!(
        report.skipped,
        [(
            "unchanged runs are revalidated",
            "the service sends no ETags"
        )]
    );
    assert!(
        fake.fake.violations().is_empty(),
        "{:?}",
        fake.fake.violations()
    );
    let continued = fake
        .served()
        .iter()
        .filter(|s| s.target.contains("continuationToken="))
        .count();
    assert!(continued > 0, "the suite read pages after the first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_repos_passes_the_repositories_conformance_suite() {
    let fake = Repos {
        fake: FakeOrg::start(Caps::every(PAGE)).await,
        next: AtomicU64::new(1),
    };
    fake.fake.org().repos.insert(REPO.into(), Repo::default());
    let report = repositories_conformance(&fake).await;
    assert_eq!(report.passed.len(), 6, "{report:?}");
    assert_eq!(
        report.skipped,
        [(
            "unchanged answers are revalidated",
            "the service sends no ETags"
        )]
    );
    assert!(
        fake.fake.violations().is_empty(),
        "{:?}",
        fake.fake.violations()
    );
}
