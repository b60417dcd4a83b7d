//! [`GitHubRepos`]: commit authors, pull requests and Flux sync tags of GitHub repositories.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use spektate_core::{Author, ClusterSync, PullRequest, RepoRef, Repositories, Result};

use crate::client::GitHub;
use crate::pulls::PullMemo;
use crate::tags::TagMemo;

/// GitHub repositories as a [`Repositories`] provider.
///
/// Authors and pull requests of many objects are read through GraphQL, a hundred a query
/// (REST when there is one object, no token, or GraphQL fails); pull requests are
/// revalidated through a change probe and sync tags through their ETag, so a refresh of an
/// unchanged repository costs 304s.
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
            tag_prefix: "flux-".to_string(),
            pulls: Arc::default(),
            tags: Arc::default(),
        }
    }

    /// The prefix of sync tags (default `flux-`, Flux v1's `--git-sync-tag` default
    /// `flux-sync` included); the rest of the tag name is the cluster's.
    pub fn sync_tag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tag_prefix = prefix.into();
        self
    }

    /// The client.
    pub fn client(&self) -> &GitHub {
        &self.gh
    }
}

#[async_trait]
impl Repositories for GitHubRepos {
    fn name(&self) -> String {
        self.gh.label()
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
}
