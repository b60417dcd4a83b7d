//! GitHub Actions and GitHub repositories pass the provider conformance suites of
//! `spektate_core::testkit`, against the fake GitHub of `tests/support`: lists a hundred a
//! page with `Link` headers, ETags and 304s on every GET, GraphQL batches.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use spektate_core::testkit::{
    Listed, PipelinesFake, PullState, RepositoriesFake, RunSpec, Served, pipelines_conformance,
    repositories_conformance,
};
use spektate_core::{Pipelines, RepoRef, Repositories, RunKind, RunRequest, RunResult, RunStatus};
use spektate_github::GitHub;
use support::{FakeGitHub, commit, git_ref, pull, sha_of, tag_object};

const REPO: &str = "fabrikam/svc";

fn repo_ref(full: &str) -> RepoRef {
    RepoRef::parse(&format!("https://github.com/{full}")).unwrap()
}

/// The requests the fake answered, as the suites count them.
fn served(fake: &FakeGitHub) -> Vec<Served> {
    fake.served()
        .into_iter()
        .map(|s| Served {
            method: s.method,
            target: s.path,
            status: s.status,
            conditional: s.if_none_match.is_some(),
        })
        .collect()
}

struct Actions {
    fake: FakeGitHub,
    gh: GitHub,
    next: AtomicU64,
}

impl Actions {
    fn put(&self, id: u64, spec: RunSpec) {
        let at = Utc::now() - Duration::days(2) + Duration::seconds(id as i64 % 100_000);
        let mut run = support::RunSpec::new(REPO, id, id % 100_000, at);
        run.status = match spec.status {
            RunStatus::Queued => "queued",
            RunStatus::InProgress => "in_progress",
            RunStatus::Completed => "completed",
        };
        run.conclusion = match spec.result {
            Some(RunResult::Succeeded) => Some("success"),
            Some(RunResult::Failed) => Some("failure"),
            Some(RunResult::Canceled) => Some("cancelled"),
            Some(RunResult::Skipped) => Some("skipped"),
            Some(RunResult::PartiallySucceeded) => Some("neutral"),
            None => None,
        };
        self.fake.world().runs.insert((REPO.into(), id), run.json());
    }

    fn id(run: &RunRequest) -> u64 {
        run.id.trim_start_matches("run:").parse().unwrap()
    }
}

impl PipelinesFake for Actions {
    fn provider(&self) -> Arc<dyn Pipelines> {
        Arc::new(self.gh.actions())
    }

    fn kinds(&self) -> Vec<RunKind> {
        vec![RunKind::Build, RunKind::Release]
    }

    fn add_runs(&self, _kind: RunKind, runs: &[RunSpec]) -> Vec<RunRequest> {
        runs.iter()
            .map(|spec| {
                let id = self.next.fetch_add(1, Ordering::SeqCst);
                self.put(id, *spec);
                RunRequest {
                    id: format!("run:{id}"),
                    repo: Some(Arc::new(repo_ref(REPO))),
                }
            })
            .collect()
    }

    fn set_run(&self, _kind: RunKind, run: &RunRequest, spec: RunSpec) {
        self.put(Actions::id(run), spec);
    }

    fn gone_run(&self, _kind: RunKind) -> RunRequest {
        RunRequest {
            id: format!("run:{}", self.next.fetch_add(1, Ordering::SeqCst)),
            repo: Some(Arc::new(repo_ref(REPO))),
        }
    }

    fn unreadable_run(&self, kind: RunKind) -> (Arc<dyn Pipelines>, RunRequest) {
        let mut run = self.add_runs(kind, &[RunSpec::SUCCEEDED]).remove(0);
        run.repo = Some(Arc::new(repo_ref("fabrikam/private")));
        (self.provider(), run)
    }

    fn break_run(&self, _kind: RunKind, run: &RunRequest) {
        self.fake.world().broken_runs.insert(Actions::id(run));
    }

    fn mend_run(&self, _kind: RunKind, run: &RunRequest) {
        self.fake.world().broken_runs.remove(&Actions::id(run));
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

    fn served(&self) -> Vec<Served> {
        served(&self.fake)
    }
}

struct Repos {
    fake: FakeGitHub,
    gh: GitHub,
    next: AtomicU64,
}

const HLD: &str = "fabrikam/hld";

impl Repos {
    fn count(&self) -> u64 {
        self.next.fetch_add(1, Ordering::SeqCst)
    }

    /// Writes pull request `number` as `state`, updated now (so it leads the list by update).
    fn put_pull(&self, number: u64, title: &str, state: &PullState) {
        let updated = Utc::now() + Duration::seconds(self.count() as i64);
        let merged_by = match state {
            PullState::Merged { by } => Some(by.as_str()),
            _ => None,
        };
        let mut pr = pull(
            HLD,
            number,
            title,
            &format!("deploy-{number}"),
            merged_by,
            updated,
        );
        if *state == PullState::Abandoned {
            pr["state"] = json!("closed");
            pr["closed_at"] = pr["updated_at"].clone();
        }
        self.fake.world().pulls.insert((HLD.into(), number), pr);
    }
}

impl RepositoriesFake for Repos {
    fn provider(&self) -> Arc<dyn Repositories> {
        Arc::new(self.gh.repos())
    }

    fn repo(&self) -> RepoRef {
        repo_ref(HLD)
    }

    fn unreadable_repo(&self) -> RepoRef {
        repo_ref("fabrikam/secret")
    }

    fn add_commit(&self, author: &str, at: DateTime<Utc>) -> String {
        let sha = sha_of(&format!("commit-{}", self.count()));
        let c = commit(HLD, &sha, author, "dev@fabrikam.example", None, at);
        self.fake
            .world()
            .commits
            .insert((HLD.into(), sha.clone()), c);
        sha
    }

    fn add_pull(&self, title: &str, state: &PullState) -> String {
        let number = self
            .fake
            .world()
            .pulls
            .keys()
            .filter(|(r, _)| r == HLD)
            .map(|(_, n)| n + 1)
            .max()
            .unwrap_or(1);
        self.put_pull(number, title, state);
        number.to_string()
    }

    fn set_pull(&self, id: &str, state: &PullState) {
        let number: u64 = id.parse().unwrap();
        let title = self.fake.world().pulls[&(HLD.to_string(), number)]["title"]
            .as_str()
            .unwrap()
            .to_string();
        self.put_pull(number, &title, state);
    }

    fn add_tag(&self, name: &str, commit: &str, tagger: Option<&str>) {
        let mut w = self.fake.world();
        let tag_ref = match tagger {
            Some(tagger) => {
                let sha = sha_of(&format!("tag-{name}"));
                let mut tag = tag_object(HLD, &sha, name, commit, Utc::now());
                tag["tagger"]["name"] = json!(tagger);
                w.tags.insert((HLD.into(), sha.clone()), tag);
                git_ref(HLD, name, &sha, "tag")
            }
            None => git_ref(HLD, name, commit, "commit"),
        };
        let refs = w.refs.entry(HLD.into()).or_default();
        refs.push(tag_ref);
        refs.sort_by(|a, b| a["ref"].as_str().cmp(&b["ref"].as_str()));
    }

    fn page_size(&self, what: Listed) -> Option<usize> {
        match what {
            // GraphQL batches of a hundred.
            Listed::Commits | Listed::PullRequests => Some(100),
            // Matching refs come in one answer.
            Listed::Tags => None,
        }
    }

    fn revalidates(&self) -> bool {
        true
    }

    fn served(&self) -> Vec<Served> {
        served(&self.fake)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_actions_passes_the_pipelines_conformance_suite() {
    let fake = FakeGitHub::start().await;
    fake.world().repos.insert(REPO.into());
    let gh = fake.client();
    let actions = Actions {
        fake,
        gh,
        next: AtomicU64::new(9_100_000_000),
    };
    let report = pipelines_conformance(&actions).await;
    assert_eq!(report.passed.len(), 5, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    let followed = actions
        .served()
        .iter()
        .filter(|s| s.target.starts_with("/repositories/") && s.target.contains("page=2"))
        .count();
    assert!(followed > 0, "the suite read pages the Link header named");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_repositories_pass_the_repositories_conformance_suite() {
    let fake = FakeGitHub::start().await;
    fake.world().repos.insert(HLD.into());
    let gh = fake.client();
    let repos = Repos {
        fake,
        gh,
        next: AtomicU64::new(1),
    };
    let report = repositories_conformance(&repos).await;
    assert_eq!(report.passed.len(), 7, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
}
