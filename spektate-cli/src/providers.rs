//! Which providers `get` and `dashboard` read, built from flags.

use std::sync::Arc;

use clap::Args;
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
        Ok(Providers { pipelines: Vec::new(), repositories: Vec::new(), defaults })
    }
}
