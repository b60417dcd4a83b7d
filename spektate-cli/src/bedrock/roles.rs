//! A token per role, as the original dashboard took them: one for the pipelines
//! (`REACT_APP_PIPELINE_ACCESS_TOKEN`, bedrock's `azure_devops.access_token`), one for the
//! source repositories (`REACT_APP_SOURCE_REPO_ACCESS_TOKEN`,
//! `introspection.azure.source_repo_access_token`) and one for the manifest repository
//! (`REACT_APP_MANIFEST_ACCESS_TOKEN`). A token given to Spektate itself
//! (`SPEKTATE_AZDO_TOKEN`, `SPEKTATE_GITHUB_TOKEN`, `SPEKTATE_GITLAB_TOKEN`) serves every
//! role and wins. Bedrock's `azure_devops.access_token` is an Azure DevOps token: it serves
//! Azure DevOps only, never GitHub or GitLab.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use spektate::config::{Names, ProviderSettings, Providers};
use spektate::{Author, ClusterSync, PullRequest, RepoRef, Repositories, Result, async_trait};

/// The tokens of each role; `None` where the role has none of its own.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RoleTokens {
    /// Reads the pipelines (builds, releases, workflow runs).
    pub pipelines: Option<String>,
    /// Reads the source and HLD repositories (authors, pull requests).
    pub source_repos: Option<String>,
    /// Reads the manifest repository (sync tags).
    pub manifest_repo: Option<String>,
    /// Sent to Azure DevOps only (bedrock's `azure_devops.access_token`), for every role
    /// without a token of its own; GitHub and GitLab never receive it.
    pub azure_devops: Option<String>,
}

impl fmt::Debug for RoleTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("RoleTokens")
            .field("pipelines", &hidden(&self.pipelines))
            .field("source_repos", &hidden(&self.source_repos))
            .field("manifest_repo", &hidden(&self.manifest_repo))
            .field("azure_devops", &hidden(&self.azure_devops))
            .finish()
    }
}

fn blank_is_none(v: Option<String>) -> Option<String> {
    v.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

impl RoleTokens {
    /// Whether no role has a token of its own.
    pub fn is_empty(&self) -> bool {
        self.pipelines.is_none()
            && self.source_repos.is_none()
            && self.manifest_repo.is_none()
            && self.azure_devops.is_none()
    }

    /// Takes `other`'s token for each role that has none.
    pub fn fill(&mut self, other: RoleTokens) {
        let mine = [
            &mut self.pipelines,
            &mut self.source_repos,
            &mut self.manifest_repo,
            &mut self.azure_devops,
        ];
        let theirs = [
            other.pipelines,
            other.source_repos,
            other.manifest_repo,
            other.azure_devops,
        ];
        for (m, t) in mine.into_iter().zip(theirs) {
            if m.is_none() {
                *m = blank_is_none(t);
            }
        }
    }

    /// `settings` with a role's `token` for every provider that has no token of its own;
    /// Azure DevOps without either takes the Azure-DevOps-only token.
    fn with(&self, settings: &ProviderSettings, token: &Option<String>) -> ProviderSettings {
        let mut s = settings.clone();
        if s.azure_devops.token.is_none() {
            s.azure_devops.token = token.clone().or_else(|| self.azure_devops.clone());
        }
        if let Some(t) = token {
            if let Some(g) = s.github.as_mut()
                && g.token.is_none()
                && g.app.is_none()
            {
                g.token = Some(t.clone());
            }
            if let Some(g) = s.gitlab.as_mut()
                && g.token.is_none()
            {
                g.token = Some(t.clone());
            }
        }
        s
    }

    /// Rebuilds the pipelines and repositories of `providers` (built from `settings`) with
    /// each role's token; the manifest repository's requests go to providers holding the
    /// manifest token.
    pub fn apply(
        &self,
        settings: &ProviderSettings,
        providers: &mut Providers,
        names: &Names,
    ) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        providers.pipelines = self.with(settings, &self.pipelines).build(names)?.pipelines;
        let source = self
            .with(settings, &self.source_repos)
            .build(names)?
            .repositories;
        let manifest_repo = providers.defaults.manifest_repo.clone();
        providers.repositories = match manifest_repo {
            Some(repo)
                if self.manifest_repo.is_some() && self.manifest_repo != self.source_repos =>
            {
                let manifest = self
                    .with(settings, &self.manifest_repo)
                    .build(names)?
                    .repositories;
                source
                    .into_iter()
                    .zip(manifest)
                    .map(|(other, for_manifest)| {
                        Arc::new(ManifestRouted {
                            manifest: repo.clone(),
                            for_manifest,
                            other,
                        }) as Arc<dyn Repositories>
                    })
                    .collect()
            }
            _ => source,
        };
        Ok(())
    }
}

/// One repository host read with two tokens: the manifest repository's with its own.
struct ManifestRouted {
    manifest: RepoRef,
    for_manifest: Arc<dyn Repositories>,
    other: Arc<dyn Repositories>,
}

impl ManifestRouted {
    fn pick(&self, repo: &RepoRef) -> &Arc<dyn Repositories> {
        if repo.key() == self.manifest.key() {
            &self.for_manifest
        } else {
            &self.other
        }
    }
}

#[async_trait]
impl Repositories for ManifestRouted {
    fn name(&self) -> String {
        self.other.name()
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        self.pick(repo).serves_repo(repo)
    }

    async fn authors(&self, repo: &RepoRef, commits: &[String]) -> Result<HashMap<String, Author>> {
        self.pick(repo).authors(repo, commits).await
    }

    async fn pull_requests(
        &self,
        repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>> {
        self.pick(repo).pull_requests(repo, ids).await
    }

    async fn sync_tags(&self, repo: &RepoRef) -> Result<Vec<ClusterSync>> {
        self.pick(repo).sync_tags(repo).await
    }

    async fn check(&self) -> Result<Option<String>> {
        self.other.check().await
    }

    async fn check_repo(&self, repo: &RepoRef) -> Result<String> {
        self.pick(repo).check_repo(repo).await
    }

    fn use_answers_cache(&self, cache: &Arc<dyn spektate::cache::AnswersCache>) {
        self.for_manifest.use_answers_cache(cache);
        self.other.use_answers_cache(cache);
    }
}
