//! Spektate's GitLab provider: GitLab CI pipelines and jobs, commit authors, merge requests
//! and Flux sync tags, on gitlab.com and self-managed GitLab.
//!
//! One [`GitLab`] client (instance URL, token, ETag cache, rate-limit pause) serves both
//! providers: [`GitLabPipelines`] for the `Pipelines` trait and [`GitLabRepos`] for
//! `Repositories`.
//!
//! # Instances and credentials
//!
//! gitlab.com by default, or a self-managed instance by its URL, with the path it is served
//! under if any (`https://example.com/gitlab`); its REST API is `{url}/api/v4`, its GraphQL
//! endpoint `{url}/api/graphql`. The token ([`GitLabBuilder::token`]) goes in a
//! `PRIVATE-TOKEN` header for personal, project and group access tokens, or as
//! `Authorization: Bearer` for OAuth and CI job tokens ([`TokenKind`]). Requests go only to
//! the instance URL: a next page elsewhere is not followed, and redirects are not followed.
//! `Retry-After` on a 429, and GitLab's `RateLimit-Remaining` and `RateLimit-Reset`, are
//! honored by the shared HTTP helper.
//!
//! # Run ids and projects
//!
//! A record's `p1`, `p2` and `p3` name pipelines (`$CI_PIPELINE_ID`). Pipelines live in a
//! project: p1 and p2 in the record's `sourceRepo`, p3 in its `hldRepo`, else
//! [`GitLabPipelines::default_project`] (a numeric id or a `group/sub/name` path). When p2
//! equals p1 (the metadata update is a later stage of the image pipeline), the pipeline's
//! stages come from its jobs: the first stage is the image stage, the second the metadata
//! stage. A project known only by its numeric id (as the original Spektate dashboard
//! configured GitLab) becomes its repository with [`GitLab::project_repo`].
//!
//! # Request budget
//!
//! Many pipelines of one project are found in its pipeline list, a hundred a page, newest
//! first; merge requests and commits come a hundred a GraphQL query (REST pages of a hundred
//! merge requests, or one request a commit, when GraphQL cannot answer); what was read before
//! is revalidated with `If-None-Match` where GitLab sent an ETag. A history of 500
//! deployments of 10 services costs at most 60 requests cold and 5 per unchanged refresh
//! (`tests/request_budget.rs`).
//!
//! ```no_run
//! # async fn demo() -> spektate_core::Result<()> {
//! use std::sync::Arc;
//! use spektate_core::http::Secret;
//! use spektate_core::{Filter, MemoryStore, RepoRef, Tracker};
//! use spektate_gitlab::GitLab;
//!
//! let gitlab = GitLab::builder()
//!     .url("https://gitlab.example.com")
//!     .token(Secret::new(std::env::var("SPEKTATE_GITLAB_TOKEN").unwrap_or_default()))
//!     .build()?;
//! let tracker = Tracker::builder(Arc::new(MemoryStore::new()))
//!     .partition("fabrikam")
//!     .pipelines(Arc::new(gitlab.pipelines()))
//!     .repositories(Arc::new(gitlab.repos()))
//!     .manifest_repo(RepoRef::parse("https://gitlab.example.com/fabrikam/manifests")?)
//!     .build();
//! for d in tracker.deployments(&Filter::default()).await? {
//!     println!("{} {:?}", d.status.as_str(), d.service());
//! }
//! # Ok(()) }
//! ```

mod client;
mod commits;
mod graphql;
mod history;
#[cfg(test)]
mod hostile;
mod merge_requests;
mod payloads;
mod pipelines;
mod project;
mod repos;
mod resolve;
mod tags;

pub use client::{GITLAB_COM, GitLab, GitLabBuilder, PER_PAGE, RequestStats, TokenKind};
pub use pipelines::GitLabPipelines;
pub use project::Project;
pub use repos::GitLabRepos;
/// The credential and retry policy types the builder takes.
pub use spektate_core::http::{Policy, Secret};
