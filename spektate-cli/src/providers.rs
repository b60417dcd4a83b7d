//! Which providers `get` and `dashboard` read, built from flags.

use std::sync::Arc;

use clap::Args;
use spektate::azdo::{AzureDevOps, AzureRepos};
use spektate::github::{GitHub, IdKind, Secret};
use spektate::http::Secret as AzdoSecret;
use spektate::{Pipelines, RepoDefaults, RepoRef, Repositories, Result};

/// Provider flags of `get` and `dashboard`.
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    /// The manifest repository whose `flux-<cluster>` tags tell which cluster runs what.
    #[arg(long, env = "SPEKTATE_MANIFEST_REPO")]
    pub manifest_repo: Option<String>,

    /// The HLD repository, for records that name none (pull requests, manual HLD edits).
    #[arg(long, env = "SPEKTATE_HLD_REPO")]
    pub hld_repo: Option<String>,

    /// The source repository, for records that name none (commit authors).
    #[arg(long, env = "SPEKTATE_SOURCE_REPO")]
    pub source_repo: Option<String>,

    /// Read GitHub Actions runs and GitHub repositories. On by itself when SPEKTATE_GITHUB_TOKEN
    /// (the token, read from the environment only) or --github-url is set; without a token
    /// only public repositories are read, at 60 requests an hour.
    #[arg(long)]
    pub github: bool,

    /// GitHub Enterprise Server: `https://HOST` or its API URL `https://HOST/api/v3`.
    #[arg(long, env = "SPEKTATE_GITHUB_URL", value_name = "URL")]
    pub github_url: Option<String>,

    /// What a bare recorded run id names on GitHub: a workflow run, or a job (as the
    /// reference tool recorded). `run:ID` and `job:ID` say it themselves.
    #[arg(long, env = "SPEKTATE_GITHUB_IDS", value_parser = ["run", "job"], default_value = "run")]
    pub github_ids: String,

    /// Azure DevOps organisation (or Server collection) whose builds and releases are read,
    /// with --project. The token is SPEKTATE_AZDO_TOKEN, read from the environment only.
    #[arg(long, env = "SPEKTATE_AZDO_ORG", value_name = "ORG")]
    pub org: Option<String>,

    /// Azure DevOps project, with --org.
    #[arg(long, env = "SPEKTATE_AZDO_PROJECT", value_name = "PROJECT")]
    pub project: Option<String>,

    /// Azure DevOps Server: the URL above its collections, as in `https://tfs.example.com/tfs`
    /// (default `https://dev.azure.com`).
    #[arg(long = "azdo-url", env = "SPEKTATE_AZDO_URL", value_name = "URL")]
    pub azdo_url: Option<String>,
}

/// The providers and default repositories a tracker is built with.
#[derive(Default)]
pub struct Providers {
    /// CI providers, asked in order (run reports in the store are always asked last).
    pub pipelines: Vec<Arc<dyn Pipelines>>,
    /// Repository hosts.
    pub repositories: Vec<Arc<dyn Repositories>>,
    /// Repositories for records that name none.
    pub defaults: RepoDefaults,
}

fn repo(flag: &str, url: &Option<String>) -> Result<Option<RepoRef>> {
    url.as_deref()
        .filter(|u| !u.trim().is_empty())
        .map(|u| {
            RepoRef::parse(u).map_err(|_| {
                spektate::Error::invalid(
                    flag,
                    format!("'{u}' is not an Azure DevOps, GitHub or GitLab repository URL"),
                )
            })
        })
        .transpose()
}

impl ProviderArgs {
    /// Builds the providers the flags name.
    pub fn build(&self) -> Result<Providers> {
        let defaults = RepoDefaults {
            source_repo: repo("--source-repo", &self.source_repo)?,
            hld_repo: repo("--hld-repo", &self.hld_repo)?,
            manifest_repo: repo("--manifest-repo", &self.manifest_repo)?,
        };
        let mut providers = Providers {
            pipelines: Vec::new(),
            repositories: Vec::new(),
            defaults,
        };
        // Azure DevOps first: it looks a batch of ids up in one call, so a GitHub run id it
        // does not have costs one request, where GitHub would look each Azure build id up.
        self.add_azure_devops(&mut providers)?;
        self.add_github(&mut providers)?;
        Ok(providers)
    }

    /// Azure Pipelines of --org/--project, and Azure Repos (always: records and flags may
    /// name Azure repositories without --org).
    fn add_azure_devops(&self, providers: &mut Providers) -> Result<()> {
        if let Some(pipelines) = self.azure_devops()? {
            providers.pipelines.push(Arc::new(pipelines));
        }
        providers.repositories.push(Arc::new(self.azure_repos()?));
        Ok(())
    }

    fn azdo_url(&self) -> String {
        let url = self
            .azdo_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        url.unwrap_or(spektate::azdo::DEFAULT_URL)
            .trim_end_matches('/')
            .to_string()
    }

    fn azdo_token() -> Option<AzdoSecret> {
        std::env::var("SPEKTATE_AZDO_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| AzdoSecret::new(t.trim()))
    }

    /// The Azure Pipelines provider of --org and --project, when they are given.
    pub fn azure_devops(&self) -> Result<Option<AzureDevOps>> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let (org, project) = match (given(&self.org), given(&self.project)) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(spektate::Error::invalid(
                    "--project",
                    "is missing; --org needs --project (or SPEKTATE_AZDO_PROJECT)",
                ));
            }
            (None, Some(_)) => {
                return Err(spektate::Error::invalid(
                    "--org",
                    "is missing; --project needs --org (or SPEKTATE_AZDO_ORG)",
                ));
            }
            (Some(o), Some(p)) => (o, p),
        };
        let org_url = format!(
            "{}/{}",
            self.azdo_url(),
            spektate::azdo::encode_segment(&org)
        );
        let mut builder = AzureDevOps::builder(org_url, project);
        if let Some(token) = Self::azdo_token() {
            builder = builder.token(token);
        }
        builder.build().map(Some).map_err(|e| match e {
            spektate::Error::Invalid { reason, .. } => {
                spektate::Error::invalid("--azdo-url", reason)
            }
            other => other,
        })
    }

    /// Azure Repos at --azdo-url (or `https://dev.azure.com`).
    pub fn azure_repos(&self) -> Result<AzureRepos> {
        let mut builder = AzureRepos::builder().base_url(self.azdo_url());
        if let Some(token) = Self::azdo_token() {
            builder = builder.token(token);
        }
        builder.build().map_err(|e| match e {
            spektate::Error::Invalid { reason, .. } => {
                spektate::Error::invalid("--azdo-url", reason)
            }
            other => other,
        })
    }

    /// GitHub Actions and GitHub repositories, when asked for.
    fn add_github(&self, providers: &mut Providers) -> Result<()> {
        let token = std::env::var("SPEKTATE_GITHUB_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty());
        let url = self.github_url.as_deref().filter(|u| !u.trim().is_empty());
        if !(self.github || url.is_some() || token.is_some()) {
            return Ok(());
        }
        let mut builder = GitHub::builder().maybe_token(token.map(Secret::new));
        if let Some(url) = url {
            builder = builder.api_url(url);
        }
        let github = builder.build().map_err(|e| match e {
            spektate::Error::Invalid { reason, .. } => {
                spektate::Error::invalid("--github-url", reason)
            }
            other => other,
        })?;
        let ids = if self.github_ids == "job" {
            IdKind::Job
        } else {
            IdKind::Run
        };
        providers
            .pipelines
            .push(Arc::new(github.actions().bare_ids(ids)));
        providers.repositories.push(Arc::new(github.repos()));
        Ok(())
    }
}
