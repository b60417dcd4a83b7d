//! The provider options a `Tracker` reads runs and repositories through, and `AzureDevOps`,
//! to check a project and its token.

use std::sync::Arc;

use napi_derive::napi;
use spektate::config::{self, AzureDevOpsSettings, GitHubSettings, GitLabSettings};

use crate::NAMES;
use crate::errors::{Result, Settled, invalid, settle, sync, to_js};

/// GitHub or GitHub Enterprise Server.
#[napi(object)]
#[derive(Clone)]
pub struct GitHubOptions {
    /// A token that can read the repositories.
    pub token: Option<String>,
    /// `https://api.github.com` by default; for Enterprise `https://HOST` or
    /// `https://HOST/api/v3`.
    pub api_url: Option<String>,
    /// What a bare recorded run id names: `run` (a workflow run, the default), `job`, or
    /// `auto` (a job when the repository has no run of that id).
    #[napi(ts_type = "'run' | 'job' | 'auto'")]
    pub ids: Option<String>,
}

/// GitLab: gitlab.com or a self-managed instance.
#[napi(object)]
#[derive(Clone)]
pub struct GitLabOptions {
    /// A token that can read the projects (`read_api`); sent to `url` only.
    pub token: Option<String>,
    /// `https://gitlab.com` by default; a self-managed instance's URL, with the path it is
    /// served under if any (`https://example.com/gitlab`).
    pub url: Option<String>,
    /// How the token is sent: `private` (an access token, in `PRIVATE-TOKEN`; the default),
    /// `oauth` or `job` (a CI job token), both as `Authorization: Bearer`.
    #[napi(ts_type = "'private' | 'oauth' | 'job'")]
    pub token_kind: Option<String>,
    /// The project of pipelines whose record names no project of the instance: its id or
    /// `group/name` path.
    pub project: Option<String>,
}

/// One Azure DevOps project and the Azure Repos of its organisation.
#[napi(object)]
#[derive(Clone)]
pub struct AzureDevOpsOptions {
    /// The organisation (or Server collection).
    pub org: String,
    /// The project.
    pub project: String,
    /// A personal access token.
    pub token: Option<String>,
    /// Where the organisation lives: `https://dev.azure.com` by default, or a Server's URL
    /// above its collections (`https://tfs.example.com/tfs`).
    pub url: Option<String>,
}

pub fn azdo_settings(o: AzureDevOpsOptions) -> AzureDevOpsSettings {
    AzureDevOpsSettings {
        org: Some(o.org),
        project: Some(o.project),
        token: o.token,
        url: o.url,
    }
}

pub fn github_settings(o: GitHubOptions) -> Result<GitHubSettings> {
    let ids = o.ids.as_deref().unwrap_or("run");
    Ok(GitHubSettings {
        api_url: o.api_url,
        token: o.token,
        bare_ids: config::id_kind_setting("ids", ids).map_err(to_js)?,
        app: None,
    })
}

/// GitLab settings from options; a malformed URL, token kind or project throws `ConfigError`
/// naming it.
pub fn gitlab_settings(o: GitLabOptions) -> Result<GitLabSettings> {
    let settings = GitLabSettings {
        url: o.url,
        token: o.token,
        token_kind: o.token_kind,
        default_project: o.project,
    };
    let client = sync(|| settings.client("url"))?;
    sync(|| settings.pipelines(&client))?;
    Ok(settings)
}

/// An Azure DevOps project, to check its settings and token before tracking.
#[napi]
pub struct AzureDevOps {
    inner: Arc<spektate::azdo::AzureDevOps>,
}

#[napi]
impl AzureDevOps {
    /// The project `options` name; a malformed URL or a missing project throws `ConfigError`.
    #[napi(constructor)]
    pub fn new(options: AzureDevOpsOptions) -> Result<Self> {
        let settings = azdo_settings(options);
        let pipelines = sync(|| settings.pipelines(&NAMES))?
            .ok_or_else(|| invalid("org", "an organisation and a project are needed"))?;
        sync(|| settings.repos(&NAMES))?;
        Ok(AzureDevOps {
            inner: Arc::new(pipelines),
        })
    }

    /// The organisation (collection) URL.
    #[napi(getter)]
    pub fn org_url(&self) -> String {
        self.inner.org_url().to_string()
    }

    /// The project.
    #[napi(getter)]
    pub fn project(&self) -> String {
        self.inner.project().to_string()
    }

    /// The project's name, once the project is found and the token accepted (a rejected
    /// token rejects with code `AuthError`).
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn check(&self) -> napi::Result<Settled<String>> {
        let p = self.inner.clone();
        settle(async move { p.check().await }).await
    }
}
