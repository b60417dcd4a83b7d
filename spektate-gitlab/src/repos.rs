//! [`GitLabRepos`]: commit authors, merge requests and Flux sync tags of GitLab projects.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use spektate_core::{
    Author, ClusterSync, DEFAULT_SYNC_TAG_PREFIX, Error, PullRequest, RepoRef, Repositories, Result,
};

use crate::client::{Fetched, GitLab};
use crate::merge_requests::MergeRequestMemo;

/// GitLab projects as a [`Repositories`] provider: the projects of its instance (on its host,
/// under its path), subgroups included. A merge request is what a record's `pr` names.
#[derive(Debug, Clone)]
pub struct GitLabRepos {
    gl: GitLab,
    tag_prefix: String,
    merge_requests: Arc<MergeRequestMemo>,
}

impl GitLabRepos {
    pub(crate) fn new(gl: GitLab) -> Self {
        GitLabRepos {
            gl,
            tag_prefix: DEFAULT_SYNC_TAG_PREFIX.to_string(),
            merge_requests: Arc::default(),
        }
    }

    /// The prefix of sync tags (default `flux-`); the rest of a tag's name is the cluster.
    pub fn sync_tag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tag_prefix = prefix.into();
        self
    }

    /// The client.
    pub fn client(&self) -> &GitLab {
        &self.gl
    }
}

#[async_trait]
impl Repositories for GitLabRepos {
    fn name(&self) -> String {
        self.gl.label()
    }

    fn use_answers_cache(&self, cache: &std::sync::Arc<dyn spektate_core::cache::AnswersCache>) {
        self.gl.use_answers_cache(cache);
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        self.gl.serves_repo(repo)
    }

    async fn authors(&self, repo: &RepoRef, commits: &[String]) -> Result<HashMap<String, Author>> {
        crate::commits::authors(&self.gl, repo, commits).await
    }

    async fn pull_requests(
        &self,
        repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>> {
        crate::merge_requests::merge_requests(&self.gl, &self.merge_requests, repo, ids).await
    }

    async fn sync_tags(&self, repo: &RepoRef) -> Result<Vec<ClusterSync>> {
        crate::tags::sync_tags(&self.gl, repo, &self.tag_prefix).await
    }

    /// One commits list per project, revalidated with its ETag.
    async fn commit_orders(
        &self,
        repos: &[RepoRef],
    ) -> Result<Option<HashMap<String, Vec<String>>>> {
        crate::history::commit_orders(&self.gl, repos)
            .await
            .map(Some)
    }

    async fn check(&self) -> Result<Option<String>> {
        self.gl.check_token().await.map(Some)
    }

    async fn check_repo(&self, repo: &RepoRef) -> Result<String> {
        let project = self.gl.project_of(repo)?;
        let url = self.gl.project_url(&project, "");
        match self
            .gl
            .get_cached(&url, "get project", &project.to_string())
            .await?
        {
            Fetched::Body { .. } => Ok("project readable".to_string()),
            Fetched::NotFound => Err(Error::provider(
                self.gl.label(),
                "get project",
                project.to_string(),
                "not found, or not visible to this token",
            )),
        }
    }
}
