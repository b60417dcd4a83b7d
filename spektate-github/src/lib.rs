//! Spektate's GitHub provider: GitHub Actions runs and jobs, commit authors, pull requests
//! and Flux sync tags, on github.com and GitHub Enterprise Server.
//!
//! One [`GitHub`] client (API URL, token, ETag cache, rate-limit pause) serves both
//! providers: [`GitHubActions`] for the `Pipelines` trait and [`GitHubRepos`] for
//! `Repositories`.
//!
//! # Credentials
//!
//! A token ([`GitHubBuilder::token`]: a personal access token, `GITHUB_TOKEN`), or a
//! [`GitHubApp`] ([`GitHubBuilder::app`]): its private key signs a JWT that mints an
//! installation token for the installation on each repository's owner (found with
//! `GET /repos/{owner}/{repo}/installation`, or one fixed installation), kept until five
//! minutes before it expires. Neither is sent anywhere but the configured API.
//!
//! # Run ids
//!
//! A record's `p1`, `p2` and `p3` name either a **workflow run** or a **job**:
//!
//! | recorded | means | fetched from |
//! |---|---|---|
//! | `run:254907244` | workflow run (`${{ github.run_id }}`) | the repository's run list (`GET /repos/{owner}/{repo}/actions/runs`), or `GET /repos/{owner}/{repo}/actions/runs/254907244` for a few |
//! | `job:1115488431` | job (what the reference tool recorded) | GraphQL `resource(url: "https://github.com/{owner}/{repo}/runs/1115488431")`, a hundred a query, or `GET /repos/{owner}/{repo}/actions/jobs/1115488431` for one |
//! | `254907244` | a workflow run, unless [`GitHubActions::bare_ids`] says [`IdKind::Job`] | |
//!
//! Runs live in a repository: p1 and p2 in the record's `sourceRepo`, p3 in its `hldRepo`,
//! else [`GitHubActions::default_repo`]. When p2 equals p1 (the metadata update is a later
//! job of the image workflow), the workflow's jobs are its stages: the first job is the
//! image stage, the second the metadata stage.
//!
//! # Request budget
//!
//! Many runs of one repository are found by listing its recent runs, a hundred a page,
//! following the `Link` headers, once for the builds and releases asked for at the same time;
//! authors, pull requests, tag objects and jobs come a hundred a GraphQL query; what was read
//! before, list pages included, is revalidated with `If-None-Match`, and a 304 is not counted
//! against GitHub's rate limit. A history of 500 deployments of 10 services, 1,582 runs and
//! 423 pull requests costs 41 requests cold and 4 revalidations per unchanged refresh
//! (`tests/request_budget.rs`).
//!
//! ```no_run
//! # async fn demo() -> spektate_core::Result<()> {
//! use std::sync::Arc;
//! use spektate_core::http::Secret;
//! use spektate_core::{Filter, MemoryStore, RepoRef, Tracker};
//! use spektate_github::GitHub;
//!
//! let github = GitHub::builder()
//!     .token(Secret::new(std::env::var("SPEKTATE_GITHUB_TOKEN").unwrap_or_default()))
//!     .build()?; // GitHub Enterprise Server: .api_url("https://github.example.com/api/v3")
//! let store = Arc::new(MemoryStore::new());
//! let tracker = Tracker::builder(store)
//!     .partition("fabrikam")
//!     .pipelines(Arc::new(github.actions()))
//!     .repositories(Arc::new(github.repos()))
//!     .manifest_repo(RepoRef::parse("https://github.com/fabrikam/manifests")?)
//!     .build();
//! for d in tracker.deployments(&Filter::default()).await? {
//!     println!("{} {:?} {}", d.status.as_str(), d.service(), d.clusters.len());
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod actions;
mod app;
mod client;
mod commits;
mod deployments;
mod graphql;
#[doc(hidden)]
pub mod graphql_documents;
mod history;
mod jobs;
mod payloads;
mod pulls;
mod repos;
mod run_id;
mod run_lists;
mod tags;

pub use actions::GitHubActions;
pub use app::GitHubApp;
pub use client::{API_VERSION, GitHub, GitHubBuilder, PUBLIC_API, RequestStats};
pub use deployments::GitHubDeployments;
pub use repos::GitHubRepos;
pub use run_id::{IdKind, RunId};
/// The credential and retry policy types the builder takes.
pub use spektate_core::http::{Policy, Secret};

/// The parsers of GitHub's answers, fed as the providers feed them (body bytes → payload →
/// conversion), for the fuzz targets and the never-panic test. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use serde::de::DeserializeOwned;
    use serde_json::Value;
    use spektate_core::{Author, PullRequest, RepoRef, Run, RunKind};

    use crate::graphql::Lookup;
    use crate::payloads::{Commit, GitRef, GitTag, Job, Jobs, Pull, WorkflowRun, WorkflowRuns};

    fn gh() -> &'static crate::GitHub {
        static GH: std::sync::OnceLock<crate::GitHub> = std::sync::OnceLock::new();
        GH.get_or_init(|| crate::GitHub::public(None).expect("the github.com client builds"))
    }

    fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
        gh().parse(body, "fuzz", "fuzz").ok()
    }

    /// `GET .../actions/runs/{id}`.
    pub fn workflow_run(body: &[u8]) -> Option<Result<Run, String>> {
        parse(body).map(|w: WorkflowRun| crate::actions::workflow_run("run:1", RunKind::Build, &w))
    }

    /// `GET .../actions/runs` (one page).
    pub fn workflow_runs(body: &[u8]) -> Vec<Result<Run, String>> {
        let page: Option<WorkflowRuns> = parse(body);
        let runs = page.map(|p| p.workflow_runs).unwrap_or_default();
        runs.iter()
            .map(|w| crate::actions::workflow_run("run:1", RunKind::Build, w))
            .collect()
    }

    /// `GET .../actions/jobs/{id}`.
    pub fn job(body: &[u8]) -> Option<Result<Run, String>> {
        parse(body).map(|j: Job| crate::actions::job_run("job:1", RunKind::Build, &j))
    }

    /// `GET .../actions/runs/{id}/jobs`: each job's state (the stages) and run.
    pub fn jobs(body: &[u8]) -> Vec<Result<Run, String>> {
        let page: Option<Jobs> = parse(body);
        let jobs = page.map(|p| p.jobs).unwrap_or_default();
        jobs.iter()
            .map(|j| {
                crate::actions::state(j.status.as_deref(), j.conclusion.as_deref())?;
                crate::actions::job_run("job:1", RunKind::Build, j)
            })
            .collect()
    }

    /// The repository a run or job page belongs to.
    pub fn repo_of_page(url: &str) -> Option<RepoRef> {
        crate::actions::github_repo_of_page(url)
    }

    /// `GET .../commits/{sha}`.
    pub fn commit(body: &[u8]) -> Option<Author> {
        parse(body).map(|c: Commit| crate::commits::from_rest(&c))
    }

    /// `GET .../pulls/{n}`.
    pub fn pull(body: &[u8]) -> Option<PullRequest> {
        parse(body).map(|p: Pull| crate::pulls::from_rest(&p))
    }

    /// A pull request number as recorded.
    pub fn pull_number(id: &str) -> Option<u64> {
        crate::pulls::number(id)
    }

    /// `GET .../git/matching-refs/tags/{prefix}`: `(ref name, sha, object type)`.
    pub fn matching_refs(body: &[u8]) -> Vec<(String, String, String)> {
        let refs: Vec<GitRef> = parse(body).unwrap_or_default();
        refs.into_iter()
            .map(|r| (r.name, r.object.sha, r.object.kind))
            .collect()
    }

    /// `GET .../git/tags/{sha}`: `(target, target is a tag)`.
    pub fn tag(body: &[u8]) -> Option<(String, bool)> {
        let t = crate::tags::from_rest(&parse::<GitTag>(body)?);
        Some((t.target, t.target_is_tag))
    }

    /// A GraphQL answer to a batch of `n` objects of kind 0 (commits), 1 (pull requests),
    /// 2 (tag objects) or 3 (jobs): how many objects were read as such.
    pub fn graphql(kind: u8, n: usize, body: &[u8]) -> Option<usize> {
        let kind = match kind % 4 {
            0 => Lookup::Commits,
            1 => Lookup::Pulls,
            2 => Lookup::Tags,
            _ => Lookup::Jobs,
        };
        let repo = RepoRef::parse("https://github.com/fabrikam/manifests").ok()?;
        let answer = parse(body)?;
        let objects: Vec<Value> = crate::graphql::read(gh(), kind, Some(&repo), n, answer, "fuzz")
            .ok()?
            .objects;
        Some(
            objects
                .iter()
                .filter(|o| match kind {
                    Lookup::Commits => crate::commits::from_graphql(o).is_some(),
                    Lookup::Pulls => crate::pulls::from_graphql(o).is_some(),
                    Lookup::Tags => crate::tags::from_graphql(o).is_some(),
                    Lookup::Jobs => crate::jobs::from_graphql(o).is_some(),
                })
                .count(),
        )
    }
}
