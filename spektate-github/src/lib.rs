//! Spektate's GitHub provider: GitHub Actions runs and jobs, commit authors, pull requests
//! and Flux sync tags, on github.com and GitHub Enterprise Server.
//!
//! One [`GitHub`] client (API URL, token, ETag cache, rate-limit pause) serves both
//! providers: [`GitHubActions`] for the `Pipelines` trait and [`GitHubRepos`] for
//! `Repositories`.
//!
//! # Run ids
//!
//! A record's `p1`, `p2` and `p3` name either a **workflow run** or a **job**:
//!
//! | recorded | means | fetched from |
//! |---|---|---|
//! | `run:254907244` | workflow run (`${{ github.run_id }}`) | `GET /repos/{owner}/{repo}/actions/runs/254907244` |
//! | `job:1115488431` | job (what the reference tool recorded) | `GET /repos/{owner}/{repo}/actions/jobs/1115488431` |
//! | `254907244` | a workflow run, unless [`GitHubActions::bare_ids`] says [`IdKind::Job`] | |
//!
//! Runs live in a repository: p1 and p2 in the record's `sourceRepo`, p3 in its `hldRepo`,
//! else [`GitHubActions::default_repo`]. When p2 equals p1 (the metadata update is a later
//! job of the image workflow), the workflow's jobs are its stages: the first job is the
//! image stage, the second the metadata stage.
//!
//! # Request budget
//!
//! Many runs of one repository are found by listing its recent runs, a hundred a page;
//! authors, pull requests and tag objects come a hundred a GraphQL query; what was read
//! before is revalidated with `If-None-Match`, and a 304 is not counted against GitHub's rate
//! limit. 500 deployments of 10 services cost about 30 requests cold and a handful per
//! refresh.
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

mod actions;
mod client;
mod commits;
mod etag_cache;
mod graphql;
mod payloads;
mod pulls;
mod repos;
mod run_id;
mod tags;

pub use actions::GitHubActions;
pub use client::{API_VERSION, GitHub, GitHubBuilder, PUBLIC_API, RequestStats};
pub use repos::GitHubRepos;
pub use run_id::{IdKind, RunId};
/// The credential and retry policy types the builder takes.
pub use spektate_core::http::{Policy, Secret};
