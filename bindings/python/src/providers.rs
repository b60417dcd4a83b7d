//! The provider settings `GitHub`, `GitLab` and `AzureDevOps` a `Tracker` reads runs and
//! repositories through.

use std::sync::Arc;

use pyo3::prelude::*;
use spektate::config::{self, AzureDevOpsSettings, GitHubSettings, GitLabSettings};

use crate::errors::{invalid, to_py};
use crate::names::{NAMES, quoted};
use crate::twins::pymethods_with_twins;

/// GitHub or GitHub Enterprise Server: Actions runs, commit authors, pull requests and Flux
/// sync tags. The token is never shown.
#[pyclass(frozen, module = "spektate", name = "GitHub")]
pub struct PyGitHub(pub GitHubSettings);

#[pymethods]
impl PyGitHub {
    /// `api_url`: `https://api.github.com` by default; for Enterprise `https://HOST` or
    /// `https://HOST/api/v3`. `ids`: what a bare recorded run id names, `"run"` (a workflow
    /// run, the default), `"job"` (as the reference tool recorded) or `"auto"` (a job when the
    /// repository has no run of that id, one more request per such id).
    #[new]
    #[pyo3(signature = (*, token = None, api_url = None, ids = "run"))]
    fn new(token: Option<String>, api_url: Option<String>, ids: &str) -> PyResult<Self> {
        let settings = GitHubSettings {
            api_url,
            token,
            bare_ids: config::id_kind_setting("ids", ids).map_err(to_py)?,
            app: None,
        };
        settings.client(&NAMES).map_err(to_py)?;
        Ok(PyGitHub(settings))
    }

    /// The REST API URL, when not the public one.
    #[getter]
    fn api_url(&self) -> Option<&str> {
        self.0.api_url.as_deref()
    }

    fn __repr__(&self) -> String {
        let token = if self.0.token.is_some() {
            "'***'"
        } else {
            "None"
        };
        let url = self.0.api_url.as_deref().map_or("None".to_string(), quoted);
        format!("GitHub(api_url={url}, token={token})")
    }
}

/// GitLab (gitlab.com or a self-managed instance): CI pipelines, commit authors, merge
/// requests and Flux sync tags. The token is never shown, and goes to `url` only.
#[pyclass(frozen, module = "spektate", name = "GitLab")]
pub struct PyGitLab(pub GitLabSettings);

#[pymethods]
impl PyGitLab {
    /// `url`: `https://gitlab.com` by default, or a self-managed instance's URL with the path
    /// it is served under if any. `token_kind`: `"private"` (an access token, in
    /// `PRIVATE-TOKEN`; the default), `"oauth"` or `"job"` (a CI job token), both as
    /// `Authorization: Bearer`. `project`: the project (id or `group/name` path) of pipelines
    /// whose record names none of the instance.
    #[new]
    #[pyo3(signature = (*, token = None, url = None, token_kind = "private", project = None))]
    fn new(
        token: Option<String>,
        url: Option<String>,
        token_kind: &str,
        project: Option<String>,
    ) -> PyResult<Self> {
        let settings = GitLabSettings {
            url,
            token,
            token_kind: Some(token_kind.to_string()),
            default_project: project,
        };
        let client = settings.client("url").map_err(to_py)?;
        settings.pipelines(&client).map_err(to_py)?;
        Ok(PyGitLab(settings))
    }

    /// The instance URL, when not gitlab.com.
    #[getter]
    fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }

    fn __repr__(&self) -> String {
        let token = if self.0.token.is_some() {
            "'***'"
        } else {
            "None"
        };
        let url = self.0.url.as_deref().map_or("None".to_string(), quoted);
        format!("GitLab(url={url}, token={token})")
    }
}

/// One Azure DevOps project (builds, classic releases) and the Azure Repos of its
/// organisation. The token is never shown.
#[pyclass(frozen, module = "spektate", name = "AzureDevOps")]
pub struct PyAzureDevOps {
    pub settings: AzureDevOpsSettings,
    pipelines: Arc<spektate::azdo::AzureDevOps>,
}

pymethods_with_twins! {
    impl PyAzureDevOps {
        /// The project `project` of the organisation (or Server collection) `org`, which lives
        /// at `url`: `https://dev.azure.com` by default, or a Server's URL above its collections
        /// (`https://tfs.example.com/tfs`).
        #[new]
        #[pyo3(signature = (org, project, *, token = None, url = None))]
        fn new(
            org: String,
            project: String,
            token: Option<String>,
            url: Option<String>,
        ) -> PyResult<Self> {
            let settings = AzureDevOpsSettings {
                org: Some(org),
                project: Some(project),
                token,
                url,
            };
            let pipelines = settings
                .pipelines(&NAMES)
                .map_err(to_py)?
                .ok_or_else(|| invalid("org", "an organisation and a project are needed"))?;
            settings.repos(&NAMES).map_err(to_py)?;
            Ok(PyAzureDevOps {
                settings,
                pipelines: Arc::new(pipelines),
            })
        }

        /// The organisation (collection) URL.
        #[getter]
        fn org_url(&self) -> &str {
            self.pipelines.org_url()
        }

        /// The project.
        #[getter]
        fn project(&self) -> &str {
            self.pipelines.project()
        }

        fn __repr__(&self) -> String {
            let token = if self.settings.token.is_some() {
                "'***'"
            } else {
                "None"
            };
            format!(
                "AzureDevOps(org_url={}, project={}, token={token})",
                quoted(self.pipelines.org_url()),
                quoted(self.pipelines.project())
            )
        }
    }
    io {
        /// Checks that the project exists and the token may read it; returns the project's
        /// name. A rejected token raises `AuthError`.
        fn check / check_blocking(&self) -> String {
            let p = self.pipelines.clone();
            async move { p.check().await }
        }
    }
}
