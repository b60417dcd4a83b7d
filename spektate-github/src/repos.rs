//! [`GitHubRepos`]: commit authors, pull requests and Flux sync tags of GitHub repositories.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use spektate_core::{
    Author, ClusterSync, DEFAULT_SYNC_TAG_PREFIX, Error, PullRequest, RepoRef, Repositories, Result,
};

use crate::client::GitHub;
use crate::pulls::PullMemo;
use crate::tags::TagMemo;

/// GitHub repositories as a [`Repositories`] provider.
///
/// Authors and pull requests of many objects are read through GraphQL, a hundred a query
/// (REST when there is one object, no token, or GraphQL fails); pull requests are
/// revalidated through a change probe and sync tags through their ETag, so a refresh of an
/// unchanged repository costs 304s. The histories of default branches come in one GraphQL
/// query per owner.
#[derive(Debug, Clone)]
pub struct GitHubRepos {
    gh: GitHub,
    tag_prefix: String,
    pulls: Arc<PullMemo>,
    tags: Arc<TagMemo>,
}

impl GitHubRepos {
    pub(crate) fn new(gh: GitHub) -> Self {
        GitHubRepos {
            gh,
            tag_prefix: DEFAULT_SYNC_TAG_PREFIX.to_string(),
            pulls: Arc::default(),
            tags: Arc::default(),
        }
    }

    /// The prefix of sync tags (default [`DEFAULT_SYNC_TAG_PREFIX`], `flux-`); the rest of the
    /// tag name is the cluster's. A prefix that
    /// [`check_sync_tag_prefix`](spektate_core::check_sync_tag_prefix) refuses fails each read
    /// of sync tags.
    pub fn sync_tag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tag_prefix = prefix.into();
        self
    }

    /// The client.
    pub fn client(&self) -> &GitHub {
        &self.gh
    }

    /// Checks that the token (or anonymous access) can read `repo`: the error names the
    /// repository, and says so when the token was rejected or the repository is not found.
    pub async fn check(&self, repo: &RepoRef) -> Result<()> {
        let url = self.gh.repo_url(repo, "")?;
        let object = format!("{}/{}", repo.owner, repo.name);
        match self
            .gh
            .get_uncached(&url, "read repository", &object)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(Error::provider(
                self.gh.label(),
                "read repository",
                object,
                "not found, or not visible to this token",
            )),
        }
    }
}

#[async_trait]
impl Repositories for GitHubRepos {
    fn name(&self) -> String {
        self.gh.label()
    }

    fn use_answers_cache(&self, cache: &std::sync::Arc<dyn spektate_core::cache::AnswersCache>) {
        self.gh.use_answers_cache(cache);
    }

    async fn check(&self) -> Result<Option<String>> {
        self.gh.check_token().await.map(Some)
    }

    async fn check_repo(&self, repo: &RepoRef) -> Result<String> {
        GitHubRepos::check(self, repo)
            .await
            .map(|_| "repository readable".to_string())
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        self.gh.serves_repo(repo)
    }

    async fn authors(&self, repo: &RepoRef, commits: &[String]) -> Result<HashMap<String, Author>> {
        crate::commits::authors(&self.gh, repo, commits).await
    }

    async fn pull_requests(
        &self,
        repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>> {
        crate::pulls::pull_requests(&self.gh, &self.pulls, repo, ids).await
    }

    async fn sync_tags(&self, repo: &RepoRef) -> Result<Vec<ClusterSync>> {
        crate::tags::sync_tags(&self.gh, &self.tags, repo, &self.tag_prefix).await
    }

    /// One GraphQL query per owner for all `repos` (none without GraphQL: no token).
    async fn commit_orders(
        &self,
        repos: &[RepoRef],
    ) -> Result<Option<HashMap<String, Vec<String>>>> {
        if !self.gh.has_graphql() || repos.is_empty() {
            return Ok(None);
        }
        crate::history::commit_orders(&self.gh, repos)
            .await
            .map(Some)
    }
}
