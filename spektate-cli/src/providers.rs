//! Which providers `get` and `dashboard` read, built from flags.

use clap::Args;
use spektate::Result;
use spektate::config::{
    ArgoCdSettings, AzureDevOpsSettings, GitHubAppSettings, GitHubSettings, GitLabSettings, Names,
    ProviderSettings,
};
use spektate::github::IdKind;

/// Provider flags of `get` and `dashboard`.
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    /// The manifest repository whose `flux-<cluster>` tags tell which cluster runs what.
    #[arg(long, env = "SPEKTATE_MANIFEST_REPO", hide_env_values = true)]
    pub manifest_repo: Option<String>,

    /// The HLD repository, for records that name none (pull requests, manual HLD edits).
    #[arg(long, env = "SPEKTATE_HLD_REPO", hide_env_values = true)]
    pub hld_repo: Option<String>,

    /// The source repository, for records that name none (commit authors).
    #[arg(long, env = "SPEKTATE_SOURCE_REPO", hide_env_values = true)]
    pub source_repo: Option<String>,

    /// Read GitHub Actions runs and GitHub repositories. On by itself when SPEKTATE_GITHUB_TOKEN
    /// (the token, read from the environment only), --github-app-id or --github-url is set;
    /// without a credential only public repositories are read, at 60 requests an hour.
    #[arg(long)]
    pub github: bool,

    /// Read GitHub as this GitHub App (its id or client id) instead of with a token: its
    /// private key is SPEKTATE_GITHUB_APP_KEY (read from the environment only) or
    /// --github-app-key-file; each repository owner's installation is looked up, unless
    /// --github-app-installation names one.
    #[arg(
        long,
        env = "SPEKTATE_GITHUB_APP_ID",
        value_name = "APP_ID",
        hide_env_values = true
    )]
    pub github_app_id: Option<String>,

    /// The GitHub App's private key, a PEM file as GitHub gives it.
    #[arg(
        long,
        env = "SPEKTATE_GITHUB_APP_KEY_FILE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub github_app_key_file: Option<String>,

    /// The installation of the GitHub App to use for every repository (default: the
    /// installation on each repository's owner).
    #[arg(
        long,
        env = "SPEKTATE_GITHUB_APP_INSTALLATION_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub github_app_installation: Option<String>,

    /// GitHub Enterprise Server: `https://HOST` or its API URL `https://HOST/api/v3`.
    #[arg(
        long,
        env = "SPEKTATE_GITHUB_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub github_url: Option<String>,

    /// What a bare recorded run id names on GitHub: a workflow run, a job (as the reference
    /// tool recorded), or `auto`: a job when the repository has no run of that id, one more
    /// request per such id (the default of `deployment get`; else `run`). `run:ID` and
    /// `job:ID` say it themselves.
    #[arg(long, env = "SPEKTATE_GITHUB_IDS", value_parser = ["run", "job", "auto"], value_name = "run|job|auto", hide_env_values = true)]
    pub github_ids: Option<String>,

    /// Read GitLab CI pipelines and GitLab projects. On by itself when SPEKTATE_GITLAB_TOKEN
    /// (the token, read from the environment only) or --gitlab-url is set; without a token
    /// only public projects are read. The token goes to the GitLab URL only.
    #[arg(long)]
    pub gitlab: bool,

    /// A self-managed GitLab: its URL, with the path it is served under if any
    /// (`https://gitlab.example.com`, `https://example.com/gitlab`); default
    /// `https://gitlab.com`.
    #[arg(
        long,
        env = "SPEKTATE_GITLAB_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub gitlab_url: Option<String>,

    /// How SPEKTATE_GITLAB_TOKEN is sent: `private` (a personal, project or group access
    /// token, in PRIVATE-TOKEN; the default), `oauth` or `job` (a CI job token), both as
    /// `Authorization: Bearer`.
    #[arg(long, env = "SPEKTATE_GITLAB_TOKEN_KIND", value_parser = ["private", "oauth", "job"], value_name = "private|oauth|job", hide_env_values = true)]
    pub gitlab_token_kind: Option<String>,

    /// The GitLab project of pipelines whose record names no project of the instance: its id
    /// (`$CI_PROJECT_ID`) or `group/sub/name` path.
    #[arg(
        long,
        env = "SPEKTATE_GITLAB_PROJECT",
        value_name = "PROJECT",
        hide_env_values = true
    )]
    pub gitlab_project: Option<String>,

    /// Azure DevOps organisation (or Server collection) whose builds and releases are read,
    /// with --project. The token is SPEKTATE_AZDO_TOKEN, read from the environment only.
    #[arg(
        long,
        env = "SPEKTATE_AZDO_ORG",
        value_name = "ORG",
        hide_env_values = true
    )]
    pub org: Option<String>,

    /// Azure DevOps project, with --org.
    #[arg(
        long,
        env = "SPEKTATE_AZDO_PROJECT",
        value_name = "PROJECT",
        hide_env_values = true
    )]
    pub project: Option<String>,

    /// Azure DevOps Server: the URL above its collections, as in `https://tfs.example.com/tfs`
    /// (default `https://dev.azure.com`).
    #[arg(
        long = "azdo-url",
        env = "SPEKTATE_AZDO_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub azdo_url: Option<String>,

    /// Argo CD's API server (`https://argocd.example.com`): which commit each application
    /// applied in each cluster, one request per refresh. The token is SPEKTATE_ARGOCD_TOKEN,
    /// read from the environment only, and goes to this URL only.
    #[arg(
        long = "argocd-url",
        env = "SPEKTATE_ARGOCD_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub argocd_url: Option<String>,

    /// Accept Argo CD's certificate even when no trusted root signed it (a self-signed
    /// server). Only for a server you trust by other means.
    #[arg(long = "argocd-insecure")]
    pub argocd_insecure: bool,

    /// Only the Argo CD applications of this project (repeat, or separate with commas).
    #[arg(
        long = "argocd-project",
        env = "SPEKTATE_ARGOCD_PROJECT",
        value_name = "PROJECT",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub argocd_projects: Vec<String>,

    /// Tokens per role (pipelines, source repositories, manifest repository), from the
    /// original dashboard's variables or bedrock's settings file.
    #[arg(skip)]
    pub roles: crate::bedrock::roles::RoleTokens,
}

/// The providers and default repositories a tracker is built with.
pub use spektate::config::Providers;

fn env_token(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

impl ProviderArgs {
    /// The provider settings the flags (and the token variables) give.
    pub fn settings(&self) -> ProviderSettings {
        ProviderSettings {
            source_repo: self.source_repo.clone(),
            hld_repo: self.hld_repo.clone(),
            manifest_repo: self.manifest_repo.clone(),
            azure_devops: self.azdo(),
            github: self.github_settings(),
            gitlab: self.gitlab_settings(),
        }
    }

    /// Builds the providers the flags name.
    pub fn build(&self) -> Result<Providers> {
        self.check_github_app()?;
        let mut providers = self.settings().build(&Names::FLAGS)?;
        self.roles
            .apply(&self.settings(), &mut providers, &Names::FLAGS)?;
        if let Some(argocd) = self
            .argocd()
            .source("--argocd-url", "SPEKTATE_ARGOCD_TOKEN")?
        {
            providers.sync_sources.push(std::sync::Arc::new(argocd));
        }
        Ok(providers)
    }

    /// Argo CD at --argocd-url, with SPEKTATE_ARGOCD_TOKEN.
    fn argocd(&self) -> ArgoCdSettings {
        ArgoCdSettings {
            url: self.argocd_url.clone(),
            token: env_token("SPEKTATE_ARGOCD_TOKEN"),
            insecure: self.argocd_insecure,
            projects: self.argocd_projects.clone(),
        }
    }

    /// A GitHub App key or installation given without the app id is a mistake, not a token.
    fn check_github_app(&self) -> Result<()> {
        let app_id = self
            .github_app_id
            .as_deref()
            .is_some_and(|a| !a.trim().is_empty());
        let stray = [
            (
                "SPEKTATE_GITHUB_APP_KEY",
                env_token("SPEKTATE_GITHUB_APP_KEY").is_some(),
            ),
            ("--github-app-key-file", self.github_app_key_file.is_some()),
            (
                "--github-app-installation",
                self.github_app_installation.is_some(),
            ),
        ];
        match stray.iter().find(|(_, set)| *set) {
            Some((name, _)) if !app_id => Err(spektate::Error::invalid(
                "--github-app-id",
                format!("is missing, and {name} is set; the app id says which app the key is of"),
            )),
            _ => Ok(()),
        }
    }

    /// Azure DevOps at --azdo-url, with --org/--project and SPEKTATE_AZDO_TOKEN.
    fn azdo(&self) -> AzureDevOpsSettings {
        AzureDevOpsSettings {
            org: self.org.clone(),
            project: self.project.clone(),
            token: env_token("SPEKTATE_AZDO_TOKEN"),
            url: self.azdo_url.clone(),
        }
    }

    /// GitLab, when --gitlab, --gitlab-url or SPEKTATE_GITLAB_TOKEN asks for it.
    fn gitlab_settings(&self) -> Option<GitLabSettings> {
        let token = env_token("SPEKTATE_GITLAB_TOKEN");
        let url = self.gitlab_url.as_deref().filter(|u| !u.trim().is_empty());
        if !(self.gitlab || url.is_some() || token.is_some()) {
            return None;
        }
        Some(GitLabSettings {
            url: url.map(str::to_string),
            token,
            token_kind: self.gitlab_token_kind.clone(),
            default_project: self.gitlab_project.clone(),
        })
    }

    /// GitHub, when --github, --github-url, --github-app-id or SPEKTATE_GITHUB_TOKEN asks for it.
    fn github_settings(&self) -> Option<GitHubSettings> {
        let token = env_token("SPEKTATE_GITHUB_TOKEN");
        let url = self.github_url.as_deref().filter(|u| !u.trim().is_empty());
        let app = self
            .github_app_id
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .map(|app_id| GitHubAppSettings {
                app_id: app_id.to_string(),
                private_key: env_token("SPEKTATE_GITHUB_APP_KEY"),
                private_key_file: self.github_app_key_file.clone(),
                installation_id: self.github_app_installation.clone(),
            });
        if !(self.github || url.is_some() || token.is_some() || app.is_some()) {
            return None;
        }
        Some(GitHubSettings {
            api_url: url.map(str::to_string),
            token,
            app,
            bare_ids: match self.github_ids.as_deref() {
                Some("job") => IdKind::Job,
                Some("auto") => IdKind::Auto,
                _ => IdKind::Run,
            },
        })
    }
}
