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
//! first; merge requests come a hundred a GraphQL query and commits sixteen (REST pages of a
//! hundred merge requests, or one request a commit, when GraphQL cannot answer); what was read
//! before is revalidated with `If-None-Match` where GitLab sent an ETag. A history of 500
//! deployments of 10 services costs at most 80 requests cold and 5 per unchanged refresh
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

/// The parsers of GitLab answers, reachable for the fuzz targets and the never-panic test.
/// Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use serde::de::DeserializeOwned;
    use serde_json::Value;
    use spektate_core::{Author, ClusterSync, PullRequest, Run, RunKind, Stage};

    use crate::client::GraphQlResponse;
    use crate::history::CommitId;
    use crate::payloads::{Commit, Job, MergeRequest, Pipeline, Tag};

    /// The `rel="next"` target of a `Link` header when it is under the API base `api`.
    pub fn link_next(link: &str, api: &str) -> Option<String> {
        crate::client::link_next(link, api)
    }

    /// A recorded pipeline id.
    pub fn pipeline_id(id: &str) -> Option<u64> {
        crate::pipelines::pipeline_id(id)
    }

    /// A recorded merge request iid.
    pub fn iid(id: &str) -> Option<u64> {
        crate::merge_requests::iid(id)
    }

    /// The project a GitLab page URL belongs to.
    pub fn repo_of_page(url: &str) -> Option<spektate_core::RepoRef> {
        crate::pipelines::repo_of_page(url)
    }

    fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
        serde_json::from_slice(body).ok()
    }

    /// `GET /projects/:id/pipelines/:pipeline_id`.
    pub fn pipeline(body: &[u8]) -> Option<Result<Run, String>> {
        parse(body).map(|p: Pipeline| crate::pipelines::pipeline_run("1", RunKind::Build, &p))
    }

    /// `GET /projects/:id/pipelines` (one page).
    pub fn pipelines(body: &[u8]) -> Vec<Result<Run, String>> {
        let page: Vec<Pipeline> = parse(body).unwrap_or_default();
        page.iter()
            .map(|p| crate::pipelines::pipeline_run("1", RunKind::Build, p))
            .collect()
    }

    /// `GET /projects/:id/pipelines/:pipeline_id/jobs`, as the pipeline's stages, with the
    /// number of jobs read.
    pub fn jobs(body: &[u8]) -> Option<(usize, Result<Vec<Stage>, String>)> {
        parse(body).map(|jobs: Vec<Job>| (jobs.len(), crate::pipelines::stages_of(&jobs)))
    }

    /// `GET /projects/:id/repository/commits/:sha`.
    pub fn commit(body: &[u8]) -> Option<Author> {
        parse(body).map(|c: Commit| crate::commits::from_rest(&c))
    }

    /// `GET /projects/:id/repository/commits` (the default branch's history), as the commit
    /// ids read, with the number of commits listed.
    pub fn history(body: &[u8]) -> Option<(usize, Vec<String>)> {
        parse(body).map(|c: Vec<CommitId>| (c.len(), crate::history::read(&c)))
    }

    /// `GET /projects/:id/merge_requests/:iid`, or a page of the list.
    pub fn merge_requests(body: &[u8]) -> Vec<PullRequest> {
        if let Some(m) = parse::<MergeRequest>(body) {
            return vec![crate::merge_requests::from_rest(&m)];
        }
        let page: Vec<MergeRequest> = parse(body).unwrap_or_default();
        page.iter().map(crate::merge_requests::from_rest).collect()
    }

    /// `GET /projects/:id/repository/tags?search=^flux-`, as sync tags, with the number of
    /// tags listed.
    pub fn sync_tags(body: &[u8]) -> Option<(usize, Vec<ClusterSync>)> {
        parse(body).map(|tags: Vec<Tag>| {
            let syncs = tags
                .iter()
                .filter_map(|t| crate::tags::sync_of(t, "flux-"))
                .collect();
            (tags.len(), syncs)
        })
    }

    /// A GraphQL answer as the batched lookups read it: the merge requests of
    /// `project.mergeRequests.nodes`, and the authors of the commits `project.repository.c0`
    /// to `c{n-1}`; `None` when the answer is malformed or reports errors.
    pub fn graphql(body: &[u8], n: usize) -> Option<(Vec<PullRequest>, Vec<Author>)> {
        let answer: GraphQlResponse = parse(body)?;
        if !answer.errors.is_empty() {
            return None;
        }
        let project = answer.data.as_ref()?.get("project")?;
        let prs = project
            .pointer("/mergeRequests/nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(crate::merge_requests::from_graphql)
            .collect();
        let repository = project.get("repository");
        let authors = (0..n)
            .filter_map(|i| repository.and_then(|r| r.get(format!("c{i}"))))
            .filter_map(crate::commits::from_graphql)
            .collect();
        Some((prs, authors))
    }
}
