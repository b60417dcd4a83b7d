//! Which providers `get` and `dashboard` read, built from flags.

use std::sync::Arc;

use clap::Args;
use spektate::{Pipelines, RepoDefaults, RepoRef, Repositories, Result};
use spektate::github::{GitHub, IdKind, Secret};

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
        .map(|u| RepoRef::parse(u).map_err(|_| spektate::Error::invalid(flag, format!("'{u}' is not an Azure DevOps, GitHub or GitLab repository URL"))))
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
        let mut providers = Providers { pipelines: Vec::new(), repositories: Vec::new(), defaults };
        self.add_github(&mut providers)?;
        Ok(providers)
    }

    /// GitHub Actions and GitHub repositories, when asked for.
    fn add_github(&self, providers: &mut Providers) -> Result<()> {
        let token = std::env::var("SPEKTATE_GITHUB_TOKEN").ok().filter(|t| !t.trim().is_empty());
        let url = self.github_url.as_deref().filter(|u| !u.trim().is_empty());
        if !(self.github || url.is_some() || token.is_some()) {
            return Ok(());
        }
        let mut builder = GitHub::builder().maybe_token(token.map(Secret::new));
        if let Some(url) = url {
            builder = builder.api_url(url);
        }
        let github = builder.build().map_err(|e| match e {
            spektate::Error::Invalid { reason, .. } => spektate::Error::invalid("--github-url", reason),
            other => other,
        })?;
        let ids = if self.github_ids == "job" { IdKind::Job } else { IdKind::Run };
        providers.pipelines.push(Arc::new(github.actions().bare_ids(ids)));
        providers.repositories.push(Arc::new(github.repos()));
        Ok(())
    }
}
