//! `Store`, `Recorder`, `Tracker` and the provider settings `GitHub` and `AzureDevOps`.
//!
//! Every coroutine method `name` has a blocking twin `name_blocking` with the same
//! arguments and result.

use std::sync::Arc;

use chrono::Utc;
use pyo3::prelude::*;
use spektate::config::{
    self, Access, AzureDevOpsSettings, GitHubSettings, Names, ProviderSettings, StoreSettings,
};
use spektate::{
    DeploymentKind, Filter, ImageBuilt, ManifestCommitted, ManifestGenerated, MemoryStore,
    MetadataUpdated, RecordStore, Recorder, RunReported, RunResult, RunStatus, Status, Tracker,
    render,
};

use crate::errors::{awaitable, blocking, detached, invalid, to_py};
use crate::results::{PyClusterSync, PyDeployment, PyRecord, PyRefreshStats, PyRunReport};
use crate::values::{datetime, parse_word, path_or_str, repr};

/// `repr()` of a string, Python style.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// How messages name the settings: by the Python argument names.
const NAMES: Names = Names {
    store: "store",
    account: "account",
    access_key: "access_key",
    table_name: "table",
    table_endpoint: "table_endpoint",
    source_repo: "source_repo",
    hld_repo: "hld_repo",
    manifest_repo: "manifest_repo",
    github_url: "api_url",
    org: "org",
    project: "project",
    azdo_url: "url",
    top: "top",
};

/// A record store: where pipelines record and trackers read.
#[pyclass(frozen, module = "spektate", name = "Store")]
#[derive(Clone)]
pub struct PyStore(pub Arc<dyn RecordStore>);

#[pymethods]
impl PyStore {
    /// Opens the store `spec` names: `sqlite:PATH` or a plain path (SQLite, one file), or
    /// `azure-table:CONNECTION_STRING` with `table`. A missing SQLite file is created only
    /// with `create=True`.
    #[staticmethod]
    #[pyo3(signature = (spec, *, table = None, create = false))]
    fn open(
        py: Python<'_>,
        spec: &Bound<'_, PyAny>,
        table: Option<String>,
        create: bool,
    ) -> PyResult<Self> {
        let spec = path_or_str("store", spec)?;
        let access = if create { Access::Write } else { Access::Read };
        let settings = StoreSettings {
            table_name: table,
            ..StoreSettings::spec(spec)
        };
        detached(py, || settings.open(&NAMES, access)).map(PyStore)
    }

    /// A store in memory, gone with the process (tests, notebooks).
    #[staticmethod]
    fn memory() -> Self {
        PyStore(Arc::new(MemoryStore::new()))
    }

    /// What the store is (`sqlite:/srv/spektate.db`); never a credential.
    #[getter]
    fn description(&self) -> String {
        self.0.describe()
    }

    fn __repr__(&self) -> String {
        format!("Store({})", quoted(&self.0.describe()))
    }
}

/// A `Store`, or a spec or path to open with `access`.
fn store_arg(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    access: Access,
) -> PyResult<Arc<dyn RecordStore>> {
    if let Ok(store) = value.cast::<PyStore>() {
        return Ok(store.get().0.clone());
    }
    let spec = path_or_str("store", value).map_err(|_| {
        invalid(
            "store",
            format!("{} is not a Store, a store spec or a path", repr(value)),
        )
    })?;
    detached(py, || StoreSettings::spec(spec).open(&NAMES, access))
}

/// Records what each pipeline did, by the linking rules, into one partition of a store.
#[pyclass(frozen, module = "spektate", name = "Recorder")]
pub struct PyRecorder(Recorder);

impl PyRecorder {
    fn image_built_fut(
        &self,
        p1: String,
        image_tag: String,
        commit_id: String,
        service: String,
        repository: Option<String>,
    ) -> impl Future<Output = spektate::Result<PyRecord>> + Send + 'static {
        let recorder = self.0.clone();
        let e = ImageBuilt {
            p1,
            image_tag,
            commit_id,
            service,
            repository,
        };
        async move { recorder.image_built(&e).await.map(PyRecord) }
    }

    #[allow(clippy::too_many_arguments)]
    fn metadata_updated_fut(
        &self,
        p2: String,
        image_tag: String,
        hld_commit_id: String,
        env: String,
        pr: Option<String>,
        repository: Option<String>,
        service: Option<String>,
    ) -> impl Future<Output = spektate::Result<PyRecord>> + Send + 'static {
        let recorder = self.0.clone();
        let e = MetadataUpdated {
            p2,
            image_tag,
            hld_commit_id,
            env,
            service,
            pr,
            repository,
        };
        async move { recorder.metadata_updated(&e).await.map(PyRecord) }
    }

    fn manifest_generated_fut(
        &self,
        p3: String,
        hld_commit_id: String,
        manifest_commit_id: Option<String>,
        pr: Option<String>,
        repository: Option<String>,
    ) -> impl Future<Output = spektate::Result<PyRecord>> + Send + 'static {
        let recorder = self.0.clone();
        let e = ManifestGenerated {
            p3,
            hld_commit_id,
            manifest_commit_id,
            pr,
            repository,
        };
        async move { recorder.manifest_generated(&e).await.map(PyRecord) }
    }

    fn manifest_committed_fut(
        &self,
        p3: String,
        manifest_commit_id: String,
        repository: Option<String>,
    ) -> impl Future<Output = spektate::Result<PyRecord>> + Send + 'static {
        let recorder = self.0.clone();
        let e = ManifestCommitted {
            p3,
            manifest_commit_id,
            repository,
        };
        async move { recorder.manifest_committed(&e).await.map(PyRecord) }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_reported_fut(
        &self,
        id: String,
        status: &Bound<'_, PyAny>,
        result: Option<&Bound<'_, PyAny>>,
        url: Option<String>,
        commit: Option<String>,
        branch: Option<String>,
        repository: Option<String>,
        queued_at: Option<&Bound<'_, PyAny>>,
        started_at: Option<&Bound<'_, PyAny>>,
        finished_at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<impl Future<Output = spektate::Result<PyRunReport>> + Send + 'static> {
        let word = |field: &str, v: &Bound<'_, PyAny>| -> PyResult<String> {
            v.extract::<String>().map_err(|_| {
                invalid(
                    field,
                    format!("{} is not a string or a spektate enum member", repr(v)),
                )
            })
        };
        let status = RunStatus::parse(&word("status", status)?).map_err(to_py)?;
        let result = match result.filter(|r| !r.is_none()) {
            Some(r) => Some(RunResult::parse(&word("result", r)?).map_err(to_py)?),
            None => None,
        };
        let mut e = RunReported::new(id, status);
        e.result = result;
        e.url = url;
        e.commit = commit;
        e.branch = branch;
        e.repository = repository;
        e.queued_at = datetime("queued_at", queued_at)?;
        e.started_at = datetime("started_at", started_at)?;
        e.finished_at = datetime("finished_at", finished_at)?;
        let recorder = self.0.clone();
        Ok(async move { recorder.run_reported(&e).await.map(PyRunReport) })
    }

    fn cluster_synced_fut(
        &self,
        cluster: String,
        commit: String,
        reporter: Option<String>,
    ) -> impl Future<Output = spektate::Result<PyClusterSync>> + Send + 'static {
        let recorder = self.0.clone();
        async move {
            recorder
                .cluster_synced(&cluster, &commit, reporter.as_deref())
                .await
                .map(PyClusterSync)
        }
    }
}

#[pymethods]
impl PyRecorder {
    /// A recorder writing to `partition` of `store` (a `Store`, or a spec or path, created
    /// when missing).
    #[new]
    #[pyo3(signature = (store, partition = "default".to_string()))]
    fn new(py: Python<'_>, store: &Bound<'_, PyAny>, partition: String) -> PyResult<Self> {
        let store = store_arg(py, store, Access::Write)?;
        Recorder::new(store, partition)
            .map(PyRecorder)
            .map_err(to_py)
    }

    /// The partition written to.
    #[getter]
    fn partition(&self) -> &str {
        self.0.partition()
    }

    /// The store written to.
    #[getter]
    fn store(&self) -> PyStore {
        PyStore(self.0.store().clone())
    }

    /// p1 built and pushed an image: inserts a new record.
    #[pyo3(signature = (*, p1, image_tag, commit_id, service, repository = None))]
    fn image_built<'py>(
        &self,
        py: Python<'py>,
        p1: String,
        image_tag: String,
        commit_id: String,
        service: String,
        repository: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.image_built_fut(p1, image_tag, commit_id, service, repository),
        )
    }

    /// Blocking twin of `image_built`.
    #[pyo3(signature = (*, p1, image_tag, commit_id, service, repository = None))]
    fn image_built_blocking(
        &self,
        py: Python<'_>,
        p1: String,
        image_tag: String,
        commit_id: String,
        service: String,
        repository: Option<String>,
    ) -> PyResult<PyRecord> {
        blocking(
            py,
            self.image_built_fut(p1, image_tag, commit_id, service, repository),
        )
    }

    /// p2 wrote the image tag into the HLD for a ring: updates the image's record, or
    /// inserts one (the same image going to another ring).
    #[pyo3(signature = (*, p2, image_tag, hld_commit_id, env, pr = None, repository = None, service = None))]
    #[allow(clippy::too_many_arguments)]
    fn metadata_updated<'py>(
        &self,
        py: Python<'py>,
        p2: String,
        image_tag: String,
        hld_commit_id: String,
        env: String,
        pr: Option<String>,
        repository: Option<String>,
        service: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.metadata_updated_fut(p2, image_tag, hld_commit_id, env, pr, repository, service),
        )
    }

    /// Blocking twin of `metadata_updated`.
    #[pyo3(signature = (*, p2, image_tag, hld_commit_id, env, pr = None, repository = None, service = None))]
    #[allow(clippy::too_many_arguments)]
    fn metadata_updated_blocking(
        &self,
        py: Python<'_>,
        p2: String,
        image_tag: String,
        hld_commit_id: String,
        env: String,
        pr: Option<String>,
        repository: Option<String>,
        service: Option<String>,
    ) -> PyResult<PyRecord> {
        blocking(
            py,
            self.metadata_updated_fut(p2, image_tag, hld_commit_id, env, pr, repository, service),
        )
    }

    /// p3 rendered manifests from an HLD commit: updates the HLD commit's record (or the
    /// pull request's), or inserts a manual HLD edit.
    #[pyo3(signature = (*, p3, hld_commit_id, manifest_commit_id = None, pr = None, repository = None))]
    fn manifest_generated<'py>(
        &self,
        py: Python<'py>,
        p3: String,
        hld_commit_id: String,
        manifest_commit_id: Option<String>,
        pr: Option<String>,
        repository: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.manifest_generated_fut(p3, hld_commit_id, manifest_commit_id, pr, repository),
        )
    }

    /// Blocking twin of `manifest_generated`.
    #[pyo3(signature = (*, p3, hld_commit_id, manifest_commit_id = None, pr = None, repository = None))]
    fn manifest_generated_blocking(
        &self,
        py: Python<'_>,
        p3: String,
        hld_commit_id: String,
        manifest_commit_id: Option<String>,
        pr: Option<String>,
        repository: Option<String>,
    ) -> PyResult<PyRecord> {
        blocking(
            py,
            self.manifest_generated_fut(p3, hld_commit_id, manifest_commit_id, pr, repository),
        )
    }

    /// p3 pushed its manifest commit: updates the record with that p3 (`NotFoundError` when
    /// there is none).
    #[pyo3(signature = (*, p3, manifest_commit_id, repository = None))]
    fn manifest_committed<'py>(
        &self,
        py: Python<'py>,
        p3: String,
        manifest_commit_id: String,
        repository: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.manifest_committed_fut(p3, manifest_commit_id, repository),
        )
    }

    /// Blocking twin of `manifest_committed`.
    #[pyo3(signature = (*, p3, manifest_commit_id, repository = None))]
    fn manifest_committed_blocking(
        &self,
        py: Python<'_>,
        p3: String,
        manifest_commit_id: String,
        repository: Option<String>,
    ) -> PyResult<PyRecord> {
        blocking(
            py,
            self.manifest_committed_fut(p3, manifest_commit_id, repository),
        )
    }

    /// A pipeline reports its own run; what is not given keeps an earlier report's value.
    #[pyo3(signature = (id, status, *, result = None, url = None, commit = None, branch = None,
                        repository = None, queued_at = None, started_at = None, finished_at = None))]
    #[allow(clippy::too_many_arguments)]
    fn run_reported<'py>(
        &self,
        py: Python<'py>,
        id: String,
        status: &Bound<'py, PyAny>,
        result: Option<&Bound<'py, PyAny>>,
        url: Option<String>,
        commit: Option<String>,
        branch: Option<String>,
        repository: Option<String>,
        queued_at: Option<&Bound<'py, PyAny>>,
        started_at: Option<&Bound<'py, PyAny>>,
        finished_at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fut = self.run_reported_fut(
            id,
            status,
            result,
            url,
            commit,
            branch,
            repository,
            queued_at,
            started_at,
            finished_at,
        )?;
        awaitable(py, fut)
    }

    /// Blocking twin of `run_reported`.
    #[pyo3(signature = (id, status, *, result = None, url = None, commit = None, branch = None,
                        repository = None, queued_at = None, started_at = None, finished_at = None))]
    #[allow(clippy::too_many_arguments)]
    fn run_reported_blocking<'py>(
        &self,
        py: Python<'py>,
        id: String,
        status: &Bound<'py, PyAny>,
        result: Option<&Bound<'py, PyAny>>,
        url: Option<String>,
        commit: Option<String>,
        branch: Option<String>,
        repository: Option<String>,
        queued_at: Option<&Bound<'py, PyAny>>,
        started_at: Option<&Bound<'py, PyAny>>,
        finished_at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyRunReport> {
        let fut = self.run_reported_fut(
            id,
            status,
            result,
            url,
            commit,
            branch,
            repository,
            queued_at,
            started_at,
            finished_at,
        )?;
        blocking(py, fut)
    }

    /// A cluster (or a hook beside it) reports the manifest commit it runs.
    #[pyo3(signature = (cluster, commit, *, reporter = None))]
    fn cluster_synced<'py>(
        &self,
        py: Python<'py>,
        cluster: String,
        commit: String,
        reporter: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.cluster_synced_fut(cluster, commit, reporter))
    }

    /// Blocking twin of `cluster_synced`.
    #[pyo3(signature = (cluster, commit, *, reporter = None))]
    fn cluster_synced_blocking(
        &self,
        py: Python<'_>,
        cluster: String,
        commit: String,
        reporter: Option<String>,
    ) -> PyResult<PyClusterSync> {
        blocking(py, self.cluster_synced_fut(cluster, commit, reporter))
    }

    fn __repr__(&self) -> String {
        format!(
            "Recorder(store={}, partition={})",
            quoted(&self.0.store().describe()),
            quoted(self.0.partition())
        )
    }
}

/// GitHub or GitHub Enterprise Server: Actions runs, commit authors, pull requests and Flux
/// sync tags. The token is never shown.
#[pyclass(frozen, module = "spektate", name = "GitHub")]
pub struct PyGitHub(GitHubSettings);

#[pymethods]
impl PyGitHub {
    /// `api_url`: `https://api.github.com` by default; for Enterprise `https://HOST` or
    /// `https://HOST/api/v3`. `ids`: what a bare recorded run id names, `"run"` (a workflow
    /// run, the default) or `"job"` (as the reference tool recorded).
    #[new]
    #[pyo3(signature = (*, token = None, api_url = None, ids = "run"))]
    fn new(token: Option<String>, api_url: Option<String>, ids: &str) -> PyResult<Self> {
        let settings = GitHubSettings {
            api_url,
            token,
            bare_ids: config::id_kind_setting("ids", ids).map_err(to_py)?,
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

/// One Azure DevOps project (builds, classic releases) and the Azure Repos of its
/// organisation. The token is never shown.
#[pyclass(frozen, module = "spektate", name = "AzureDevOps")]
pub struct PyAzureDevOps {
    settings: AzureDevOpsSettings,
    pipelines: Arc<spektate::azdo::AzureDevOps>,
}

#[pymethods]
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

    /// Checks that the project exists and the token may read it; returns the project's
    /// name. A rejected token raises `AuthError`.
    fn check<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let p = self.pipelines.clone();
        awaitable(py, async move { p.check().await })
    }

    /// Blocking twin of `check`.
    fn check_blocking(&self, py: Python<'_>) -> PyResult<String> {
        let p = self.pipelines.clone();
        blocking(py, async move { p.check().await })
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

/// The filter keyword arguments of `Tracker.deployments` and `Tracker.table`.
#[allow(clippy::too_many_arguments)]
fn filter(
    service: Option<String>,
    ring: Option<String>,
    author: Option<String>,
    image_tag: Option<String>,
    run_id: Option<String>,
    commit: Option<String>,
    deployment_id: Option<String>,
    kind: Option<&Bound<'_, PyAny>>,
    status: Option<&Bound<'_, PyAny>>,
    keyword: Option<String>,
    top: Option<i64>,
) -> PyResult<Filter> {
    let top = config::top_setting(NAMES.top, top).map_err(to_py)?;
    Ok(Filter {
        service,
        ring,
        author,
        image_tag,
        run_id,
        commit,
        deployment_id,
        kind: kind
            .filter(|k| !k.is_none())
            .map(|k| parse_word::<DeploymentKind>("kind", k))
            .transpose()?,
        status: status
            .filter(|s| !s.is_none())
            .map(|s| parse_word::<Status>("status", s))
            .transpose()?,
        keyword,
        top,
    })
}

/// Joins a store's records with what providers know into deployments, and keeps them fresh.
#[pyclass(frozen, module = "spektate", name = "Tracker")]
pub struct PyTracker(Tracker);

#[pymethods]
impl PyTracker {
    /// A tracker over `partition` of `store` (a `Store`, or a spec or path that must exist),
    /// reading runs from the providers given (Azure DevOps first, then GitHub) and from the
    /// run reports in the store.
    #[new]
    #[pyo3(signature = (store, *, partition = "default".to_string(), azure_devops = None, github = None,
                        source_repo = None, hld_repo = None, manifest_repo = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        store: &Bound<'_, PyAny>,
        partition: String,
        azure_devops: Option<PyRef<'_, PyAzureDevOps>>,
        github: Option<PyRef<'_, PyGitHub>>,
        source_repo: Option<String>,
        hld_repo: Option<String>,
        manifest_repo: Option<String>,
    ) -> PyResult<Self> {
        let store = store_arg(py, store, Access::Read)?;
        let settings = ProviderSettings {
            azure_devops: azure_devops.map(|a| a.settings.clone()).unwrap_or_default(),
            github: github.map(|g| g.0.clone()),
            source_repo,
            hld_repo,
            manifest_repo,
        };
        let providers = settings.build(&NAMES).map_err(to_py)?;
        Ok(PyTracker(providers.tracker(store, partition).build()))
    }

    /// The partition tracked.
    #[getter]
    fn partition(&self) -> &str {
        self.0.partition()
    }

    /// The store read.
    #[getter]
    fn store(&self) -> PyStore {
        PyStore(self.0.store().clone())
    }

    /// The deployments that pass the filter, newest first. The first call refreshes; later
    /// calls answer from the last refresh (call `refresh()` to pick up what changed).
    #[pyo3(signature = (*, service = None, ring = None, author = None, image_tag = None, run_id = None,
                        commit = None, deployment_id = None, kind = None, status = None, keyword = None, top = None))]
    #[allow(clippy::too_many_arguments)]
    fn deployments<'py>(
        &self,
        py: Python<'py>,
        service: Option<String>,
        ring: Option<String>,
        author: Option<String>,
        image_tag: Option<String>,
        run_id: Option<String>,
        commit: Option<String>,
        deployment_id: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        status: Option<&Bound<'py, PyAny>>,
        keyword: Option<String>,
        top: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let f = filter(
            service,
            ring,
            author,
            image_tag,
            run_id,
            commit,
            deployment_id,
            kind,
            status,
            keyword,
            top,
        )?;
        let t = self.0.clone();
        awaitable(py, async move {
            Ok(t.deployments(&f)
                .await?
                .into_iter()
                .map(PyDeployment)
                .collect::<Vec<_>>())
        })
    }

    /// Blocking twin of `deployments`.
    #[pyo3(signature = (*, service = None, ring = None, author = None, image_tag = None, run_id = None,
                        commit = None, deployment_id = None, kind = None, status = None, keyword = None, top = None))]
    #[allow(clippy::too_many_arguments)]
    fn deployments_blocking<'py>(
        &self,
        py: Python<'py>,
        service: Option<String>,
        ring: Option<String>,
        author: Option<String>,
        image_tag: Option<String>,
        run_id: Option<String>,
        commit: Option<String>,
        deployment_id: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        status: Option<&Bound<'py, PyAny>>,
        keyword: Option<String>,
        top: Option<i64>,
    ) -> PyResult<Vec<PyDeployment>> {
        let f = filter(
            service,
            ring,
            author,
            image_tag,
            run_id,
            commit,
            deployment_id,
            kind,
            status,
            keyword,
            top,
        )?;
        let t = self.0.clone();
        blocking(py, async move {
            Ok(t.deployments(&f)
                .await?
                .into_iter()
                .map(PyDeployment)
                .collect())
        })
    }

    /// The deployments that pass the filter as the text table `spektate get` prints for
    /// them (`wide=True`: `-o wide`); just the header when there are none.
    #[pyo3(signature = (*, service = None, ring = None, author = None, image_tag = None, run_id = None,
                        commit = None, deployment_id = None, kind = None, status = None, keyword = None, top = None,
                        wide = false))]
    #[allow(clippy::too_many_arguments)]
    fn table<'py>(
        &self,
        py: Python<'py>,
        service: Option<String>,
        ring: Option<String>,
        author: Option<String>,
        image_tag: Option<String>,
        run_id: Option<String>,
        commit: Option<String>,
        deployment_id: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        status: Option<&Bound<'py, PyAny>>,
        keyword: Option<String>,
        top: Option<i64>,
        wide: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let f = filter(
            service,
            ring,
            author,
            image_tag,
            run_id,
            commit,
            deployment_id,
            kind,
            status,
            keyword,
            top,
        )?;
        let t = self.0.clone();
        awaitable(py, async move {
            Ok(render::table(&t.deployments(&f).await?, wide, Utc::now()))
        })
    }

    /// Blocking twin of `table`.
    #[pyo3(signature = (*, service = None, ring = None, author = None, image_tag = None, run_id = None,
                        commit = None, deployment_id = None, kind = None, status = None, keyword = None, top = None,
                        wide = false))]
    #[allow(clippy::too_many_arguments)]
    fn table_blocking<'py>(
        &self,
        py: Python<'py>,
        service: Option<String>,
        ring: Option<String>,
        author: Option<String>,
        image_tag: Option<String>,
        run_id: Option<String>,
        commit: Option<String>,
        deployment_id: Option<String>,
        kind: Option<&Bound<'py, PyAny>>,
        status: Option<&Bound<'py, PyAny>>,
        keyword: Option<String>,
        top: Option<i64>,
        wide: bool,
    ) -> PyResult<String> {
        let f = filter(
            service,
            ring,
            author,
            image_tag,
            run_id,
            commit,
            deployment_id,
            kind,
            status,
            keyword,
            top,
        )?;
        let t = self.0.clone();
        blocking(py, async move {
            Ok(render::table(&t.deployments(&f).await?, wide, Utc::now()))
        })
    }

    /// Reads what changed in the store and re-fetches only what can still change.
    fn refresh<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.0.clone();
        awaitable(py, async move { t.refresh().await.map(PyRefreshStats) })
    }

    /// Blocking twin of `refresh`.
    fn refresh_blocking(&self, py: Python<'_>) -> PyResult<PyRefreshStats> {
        let t = self.0.clone();
        blocking(py, async move { t.refresh().await.map(PyRefreshStats) })
    }

    /// Deletes the records whose runs the CI says are gone (as of the last refresh);
    /// returns how many.
    fn prune_expired<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.0.clone();
        awaitable(py, async move { t.prune_expired().await })
    }

    /// Blocking twin of `prune_expired`.
    fn prune_expired_blocking(&self, py: Python<'_>) -> PyResult<usize> {
        let t = self.0.clone();
        blocking(py, async move { t.prune_expired().await })
    }

    fn __repr__(&self) -> String {
        format!(
            "Tracker(store={}, partition={})",
            quoted(&self.0.store().describe()),
            quoted(self.0.partition())
        )
    }
}
