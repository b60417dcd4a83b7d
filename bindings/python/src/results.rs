//! Result classes: read-only views of the library's values, with typed attributes,
//! `__repr__` and `to_dict()` (the value's JSON document, as `spektate get -o json` prints it).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use spektate::{
    Author, ClusterReport, ClusterSync, Deployment, Live, PullRequest, Record, RefreshStats,
    RepoRef, Run, RunReport, Stage, Step,
};

use spektate_bindings_common::words::word;

use crate::insights::PyEta;
use crate::values::{dict, json, member, member_opt};

/// `repr()` of an optional string, Python style.
fn r(v: Option<&str>) -> String {
    match v {
        Some(s) => format!(
            "'{}'",
            s.replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('\n', "\\n")
        ),
        None => "None".to_string(),
    }
}

/// A repository, parsed from its URL (Azure DevOps, GitHub, GitLab; server hosts kept).
#[pyclass(frozen, module = "spektate", name = "Repo")]
#[derive(Clone)]
pub struct PyRepo(pub RepoRef);

#[pymethods]
impl PyRepo {
    /// The hosting service.
    #[getter]
    fn provider<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "RepoHost", &self.0.provider)
    }
    /// `http` or `https`.
    #[getter]
    fn scheme(&self) -> &str {
        &self.0.scheme
    }
    /// Host name, with a port when one was given.
    #[getter]
    fn host(&self) -> &str {
        &self.0.host
    }
    /// Organisation, owner or group path.
    #[getter]
    fn owner(&self) -> &str {
        &self.0.owner
    }
    /// Azure DevOps project; `None` elsewhere.
    #[getter]
    fn project(&self) -> Option<&str> {
        self.0.project.as_deref()
    }
    /// Repository name.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// The repository's web page.
    #[getter]
    fn url(&self) -> String {
        self.0.web_url()
    }
    /// A stable key: `host/owner[/project]/name`.
    #[getter]
    fn key(&self) -> String {
        self.0.key()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!("Repo('{}')", self.0.web_url())
    }
    fn __str__(&self) -> String {
        self.0.web_url()
    }
}

/// The author of a commit.
#[pyclass(frozen, module = "spektate", name = "Author")]
pub struct PyAuthor(pub Arc<Author>);

#[pymethods]
impl PyAuthor {
    /// Display name.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// E-mail, or the host's login when no e-mail is shown.
    #[getter]
    fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// The host's login, when the author has an account.
    #[getter]
    fn login(&self) -> Option<&str> {
        self.0.login.as_deref()
    }
    /// Avatar image URL.
    #[getter]
    fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// Profile or commit page.
    #[getter]
    fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// When the commit was committed, as its repository says; `None` when unknown.
    #[getter]
    fn committed_at(&self) -> Option<DateTime<Utc>> {
        self.0.committed_at
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &*self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Author(name={}, email={})",
            r(Some(&self.0.name)),
            r(self.0.email.as_deref())
        )
    }
}

/// An approval pull (merge) request in the HLD repository.
#[pyclass(frozen, module = "spektate", name = "PullRequest")]
pub struct PyPullRequest(pub Arc<PullRequest>);

#[pymethods]
impl PyPullRequest {
    /// Its number.
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }
    /// Title.
    #[getter]
    fn title(&self) -> &str {
        &self.0.title
    }
    /// Description.
    #[getter]
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Source branch, without `refs/heads/`.
    #[getter]
    fn source_branch(&self) -> Option<&str> {
        self.0.source_branch.as_deref()
    }
    /// Target branch, without `refs/heads/`.
    #[getter]
    fn target_branch(&self) -> Option<&str> {
        self.0.target_branch.as_deref()
    }
    /// Whether it is merged.
    #[getter]
    fn merged(&self) -> bool {
        self.0.merged
    }
    /// Who merged it.
    #[getter]
    fn merged_by(&self) -> Option<PyAuthor> {
        self.0.merged_by.clone().map(|a| PyAuthor(Arc::new(a)))
    }
    /// When it was merged or closed.
    #[getter]
    fn merged_at(&self) -> Option<DateTime<Utc>> {
        self.0.merged_at
    }
    /// Whether it was closed without a merge.
    #[getter]
    fn closed(&self) -> bool {
        self.0.closed
    }
    /// Web page.
    #[getter]
    fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &*self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "PullRequest(id={}, title={}, merged={})",
            r(Some(&self.0.id)),
            r(Some(&self.0.title)),
            py_bool(self.0.merged)
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// A cluster running a manifest commit.
#[pyclass(frozen, module = "spektate", name = "ClusterSync")]
pub struct PyClusterSync(pub ClusterSync);

#[pymethods]
impl PyClusterSync {
    /// Cluster name.
    #[getter]
    fn cluster(&self) -> &str {
        &self.0.cluster
    }
    /// The manifest commit it runs.
    #[getter]
    fn commit(&self) -> &str {
        &self.0.commit
    }
    /// When the sync was marked.
    #[getter]
    fn synced_at(&self) -> Option<DateTime<Utc>> {
        self.0.synced_at
    }
    /// Who marked it (a sync tag's tagger, or the reporter).
    #[getter]
    fn tagger(&self) -> Option<&str> {
        self.0.tagger.as_deref()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "ClusterSync(cluster={}, commit={})",
            r(Some(&self.0.cluster)),
            r(Some(&self.0.commit))
        )
    }
}

/// A cluster where a deployment is live: it runs the deployment's commit, or a later commit
/// of the same repository that no later deployment of its service and ring replaced.
#[pyclass(frozen, module = "spektate", name = "Live")]
pub struct PyLive(pub Live);

#[pymethods]
impl PyLive {
    /// The cluster.
    #[getter]
    fn cluster(&self) -> &str {
        &self.0.cluster
    }
    /// The commit the cluster runs: the deployment's own (`exact`) or a later one.
    #[getter]
    fn commit(&self) -> &str {
        &self.0.commit
    }
    /// Whether `commit` is the deployment's own commit.
    #[getter]
    fn exact(&self) -> bool {
        self.0.exact
    }
    /// When the cluster applied `commit`, when known.
    #[getter]
    fn applied_at(&self) -> Option<DateTime<Utc>> {
        self.0.applied_at
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Live(cluster={}, commit={}, exact={})",
            r(Some(&self.0.cluster)),
            r(Some(&self.0.commit)),
            py_bool(self.0.exact)
        )
    }
}

/// What a cluster's agent reported wrong with a deployment's commit: a failed
/// reconciliation or sync, or a health other than healthy.
#[pyclass(frozen, module = "spektate", name = "ClusterReport")]
pub struct PyClusterReport(pub ClusterReport);

#[pymethods]
impl PyClusterReport {
    /// The cluster.
    #[getter]
    fn cluster(&self) -> &str {
        &self.0.sync.cluster
    }
    /// The commit the agent applied, or failed to apply.
    #[getter]
    fn commit(&self) -> &str {
        &self.0.sync.commit
    }
    /// When the agent reported it.
    #[getter]
    fn synced_at(&self) -> Option<DateTime<Utc>> {
        self.0.sync.synced_at
    }
    /// Who reported it (`flux kustomization flux-system/apps`, `argocd frontend`).
    #[getter]
    fn tagger(&self) -> Option<&str> {
        self.0.sync.tagger.as_deref()
    }
    /// Applied or failed.
    #[getter]
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "Outcome", &self.0.outcome)
    }
    /// The health the agent saw (`Degraded`), when it says.
    #[getter]
    fn health(&self) -> Option<&str> {
        self.0.health.as_deref()
    }
    /// The agent's reason word (`ReconciliationFailed`, `HealthCheckFailed`).
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// The agent's message.
    #[getter]
    fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }
    /// What went wrong, in a few words (`west-eu failed (HealthCheckFailed)`).
    #[getter]
    fn text(&self) -> String {
        self.0.trouble_text()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "ClusterReport(cluster={}, commit={}, outcome='{}')",
            r(Some(&self.0.sync.cluster)),
            r(Some(&self.0.sync.commit)),
            word(&self.0.outcome)
        )
    }
}

/// One stage of a multi-stage run.
#[pyclass(frozen, module = "spektate", name = "Stage")]
pub struct PyStage(pub Stage);

#[pymethods]
impl PyStage {
    /// The stage's name.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Its position, from 1.
    #[getter]
    fn order(&self) -> u32 {
        self.0.order
    }
    /// Its status.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "RunStatus", &self.0.status)
    }
    /// Its result, once completed.
    #[getter]
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "RunResult", self.0.result.as_ref())
    }
    /// When it started.
    #[getter]
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// When it finished.
    #[getter]
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Stage(name={}, order={})",
            r(Some(&self.0.name)),
            self.0.order
        )
    }
}

/// A pipeline run (build or release), as a provider reported it.
#[pyclass(frozen, module = "spektate", name = "Run")]
pub struct PyRun(pub Arc<Run>);

#[pymethods]
impl PyRun {
    /// The run id as recorded (p1, p2 or p3).
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }
    /// Build or release.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "RunKind", &self.0.kind)
    }
    /// The number people see (`20200317.1`, `Release-42`).
    #[getter]
    fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }
    /// Pipeline or definition name.
    #[getter]
    fn pipeline(&self) -> Option<&str> {
        self.0.pipeline.as_deref()
    }
    /// Status.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "RunStatus", &self.0.status)
    }
    /// Result, once completed.
    #[getter]
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "RunResult", self.0.result.as_ref())
    }
    /// When it was queued.
    #[getter]
    fn queued_at(&self) -> Option<DateTime<Utc>> {
        self.0.queued_at
    }
    /// When it started.
    #[getter]
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// When it finished.
    #[getter]
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// When anything about it last changed.
    #[getter]
    fn last_changed_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_changed_at
    }
    /// Web page of the run.
    #[getter]
    fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// Source branch, without `refs/heads/`.
    #[getter]
    fn source_branch(&self) -> Option<&str> {
        self.0.source_branch.as_deref()
    }
    /// Source commit.
    #[getter]
    fn source_commit(&self) -> Option<&str> {
        self.0.source_commit.as_deref()
    }
    /// The repository it built.
    #[getter]
    fn repository(&self) -> Option<PyRepo> {
        self.0.repository.clone().map(PyRepo)
    }
    /// Who or what requested it.
    #[getter]
    fn requested_by(&self) -> Option<&str> {
        self.0.requested_by.as_deref()
    }
    /// For a release: the image version it deployed.
    #[getter]
    fn image_version(&self) -> Option<&str> {
        self.0.image_version.as_deref()
    }
    /// Stages, by order, when known.
    #[getter]
    fn stages(&self) -> Vec<PyStage> {
        self.0.stages.iter().cloned().map(PyStage).collect()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &*self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Run(id={}, number={}, status='{}')",
            r(Some(&self.0.id)),
            r(self.0.number.as_deref()),
            word(&self.0.status)
        )
    }
}

/// One pipeline step of a deployment (image, metadata or manifest).
#[pyclass(frozen, module = "spektate", name = "Step")]
pub struct PyStep {
    id: String,
    step: Step,
}

#[pymethods]
impl PyStep {
    /// The run id recorded for the step (the record's p1, p2 or p3).
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }
    /// What the step is doing.
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "StepState", &self.step.state)
    }
    /// The run, when a provider knows it.
    #[getter]
    fn run(&self) -> Option<PyRun> {
        self.step.run.clone().map(PyRun)
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let doc = serde_json::json!({ "id": self.id, "state": self.step.state, "run": self.step.run.as_deref() });
        json(py, &doc)
    }
    fn __repr__(&self) -> String {
        format!(
            "Step(id={}, state='{}')",
            r(Some(&self.id)),
            word(&self.step.state)
        )
    }
}

/// The journey of one change, from source commit to cluster.
#[pyclass(frozen, module = "spektate", name = "Deployment")]
pub struct PyDeployment(pub Deployment);

impl PyDeployment {
    fn step(&self, index: usize) -> Option<PyStep> {
        let (_, id, step) = self.0.steps()[index];
        step.map(|s| PyStep {
            id: id.unwrap_or_default().to_string(),
            step: s.clone(),
        })
    }
}

#[pymethods]
impl PyDeployment {
    /// The deployment id: the record's row key.
    #[getter]
    fn id(&self) -> &str {
        self.0.id()
    }
    /// The record's partition (project).
    #[getter]
    fn partition(&self) -> &str {
        self.0.partition()
    }
    /// Deployment or manual HLD edit.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "DeploymentKind", &self.0.kind)
    }
    /// Service, as shown (`org/name` shown as `name`).
    #[getter]
    fn service(&self) -> Option<&str> {
        self.0.service()
    }
    /// Ring (environment).
    #[getter]
    fn ring(&self) -> Option<&str> {
        self.0.ring()
    }
    /// Image tag.
    #[getter]
    fn image_tag(&self) -> Option<&str> {
        self.0.image_tag()
    }
    /// Source commit.
    #[getter]
    fn commit_id(&self) -> Option<&str> {
        self.0.commit_id()
    }
    /// HLD commit.
    #[getter]
    fn hld_commit_id(&self) -> Option<&str> {
        self.0.hld_commit_id()
    }
    /// Manifest commit.
    #[getter]
    fn manifest_commit_id(&self) -> Option<&str> {
        self.0.manifest_commit_id()
    }
    /// Approval pull request id.
    #[getter]
    fn pr(&self) -> Option<&str> {
        self.0.pr()
    }
    /// The source repository.
    #[getter]
    fn source_repo(&self) -> Option<PyRepo> {
        self.0.source_repo.as_deref().cloned().map(PyRepo)
    }
    /// The HLD repository.
    #[getter]
    fn hld_repo(&self) -> Option<PyRepo> {
        self.0.hld_repo.as_deref().cloned().map(PyRepo)
    }
    /// The manifest repository.
    #[getter]
    fn manifest_repo(&self) -> Option<PyRepo> {
        self.0.manifest_repo.as_deref().cloned().map(PyRepo)
    }
    /// p1: image creation.
    #[getter]
    fn image(&self) -> Option<PyStep> {
        self.step(0)
    }
    /// p2: metadata update.
    #[getter]
    fn metadata(&self) -> Option<PyStep> {
        self.step(1)
    }
    /// p3: manifest generation (ready to deploy).
    #[getter]
    fn manifest(&self) -> Option<PyStep> {
        self.step(2)
    }
    /// Whether p1 and p2 are stages of one multi-stage run.
    #[getter]
    fn multi_stage(&self) -> bool {
        self.0.multi_stage
    }
    /// Author of the source commit (of the HLD commit for a manual HLD edit).
    #[getter]
    fn author(&self) -> Option<PyAuthor> {
        self.0.author.clone().map(PyAuthor)
    }
    /// The approval pull request.
    #[getter]
    fn pull_request(&self) -> Option<PyPullRequest> {
        self.0.pull_request.clone().map(PyPullRequest)
    }
    /// Clusters whose GitOps agent runs this deployment's manifest commit.
    #[getter]
    fn clusters(&self) -> Vec<PyClusterSync> {
        self.0.clusters.iter().cloned().map(PyClusterSync).collect()
    }
    /// Clusters where it is live: they run its manifest commit or a later one of the same
    /// repository, and no later deployment of its service and ring replaced it.
    #[getter]
    fn live_in(&self) -> Vec<PyLive> {
        self.0.live_in.iter().cloned().map(PyLive).collect()
    }
    /// What agents reported wrong with its commit, one report per cluster: a failed
    /// reconciliation or sync, or an unhealthy application.
    #[getter]
    fn cluster_troubles(&self) -> Vec<PyClusterReport> {
        self.0
            .cluster_troubles
            .iter()
            .cloned()
            .map(PyClusterReport)
            .collect()
    }
    /// Overall state.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "Status", &self.0.status)
    }
    /// Whether a cluster runs this deployment's manifest commit.
    #[getter]
    fn synced(&self) -> bool {
        self.0.is_synced()
    }
    /// Waiting for the approval pull request.
    #[getter]
    fn awaiting_approval(&self) -> bool {
        self.0.awaiting_approval()
    }
    /// The CI no longer has its runs (retention): it is shown from what was recorded and
    /// last fetched; only filters with `include_expired` pass it.
    #[getter]
    fn expired(&self) -> bool {
        self.0.expired
    }
    /// Time from the first queue to the last finish (or now), in seconds.
    #[getter]
    fn duration_secs(&self) -> Option<i64> {
        self.0.duration_secs
    }
    /// The same, as a `timedelta`.
    #[getter]
    fn duration(&self) -> Option<TimeDelta> {
        self.0.duration_secs.map(TimeDelta::seconds)
    }
    /// When the first run was queued.
    #[getter]
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// When the journey last moved.
    #[getter]
    fn last_updated(&self) -> DateTime<Utc> {
        self.0.last_updated
    }
    /// What could not be looked up; the deployment is shown regardless.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.0.warnings.clone()
    }
    /// When it is expected to be live, while on its way (in progress, waiting for approval, or
    /// its manifests done and no cluster runs it yet) and its history knows every remaining
    /// step; `None` otherwise.
    #[getter]
    fn eta(&self) -> Option<PyEta> {
        self.0.eta.clone().map(PyEta)
    }
    /// The stored record behind it.
    #[getter]
    fn record(&self) -> PyRecord {
        PyRecord((*self.0.record).clone())
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Deployment(id={}, service={}, ring={}, image_tag={}, status='{}')",
            r(Some(self.0.id())),
            r(self.0.service()),
            r(self.0.ring()),
            r(self.0.image_tag()),
            word(&self.0.status)
        )
    }
}

/// One stored row, with the columns of the Spektate table.
#[pyclass(frozen, module = "spektate", name = "Record")]
pub struct PyRecord(pub Record);

#[pymethods]
impl PyRecord {
    /// The partition (project).
    #[getter]
    fn partition_key(&self) -> &str {
        &self.0.partition_key
    }
    /// The row key: the deployment id.
    #[getter]
    fn row_key(&self) -> &str {
        &self.0.row_key
    }
    /// The service, as `name` or `org/name`.
    #[getter]
    fn service(&self) -> Option<&str> {
        self.0.service.as_deref()
    }
    /// Source commit.
    #[getter]
    fn commit_id(&self) -> Option<&str> {
        self.0.commit_id.as_deref()
    }
    /// Image tag.
    #[getter]
    fn image_tag(&self) -> Option<&str> {
        self.0.image_tag.as_deref()
    }
    /// Image pipeline run id.
    #[getter]
    fn p1(&self) -> Option<&str> {
        self.0.p1.as_deref()
    }
    /// Metadata pipeline run id.
    #[getter]
    fn p2(&self) -> Option<&str> {
        self.0.p2.as_deref()
    }
    /// Manifest pipeline run id.
    #[getter]
    fn p3(&self) -> Option<&str> {
        self.0.p3.as_deref()
    }
    /// Ring (environment).
    #[getter]
    fn env(&self) -> Option<&str> {
        self.0.env.as_deref()
    }
    /// HLD commit.
    #[getter]
    fn hld_commit_id(&self) -> Option<&str> {
        self.0.hld_commit_id.as_deref()
    }
    /// Manifest commit.
    #[getter]
    fn manifest_commit_id(&self) -> Option<&str> {
        self.0.manifest_commit_id.as_deref()
    }
    /// Approval pull request id.
    #[getter]
    fn pr(&self) -> Option<&str> {
        self.0.pr.as_deref()
    }
    /// Source repository URL.
    #[getter]
    fn source_repo(&self) -> Option<&str> {
        self.0.source_repo.as_deref()
    }
    /// HLD repository URL.
    #[getter]
    fn hld_repo(&self) -> Option<&str> {
        self.0.hld_repo.as_deref()
    }
    /// Manifest repository URL.
    #[getter]
    fn manifest_repo(&self) -> Option<&str> {
        self.0.manifest_repo.as_deref()
    }
    /// When the store last wrote the row.
    #[getter]
    fn timestamp(&self) -> Option<DateTime<Utc>> {
        self.0.timestamp
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Record(row_key={}, service={}, image_tag={}, p1={}, p2={}, p3={}, env={})",
            r(Some(&self.0.row_key)),
            r(self.0.service.as_deref()),
            r(self.0.image_tag.as_deref()),
            r(self.0.p1.as_deref()),
            r(self.0.p2.as_deref()),
            r(self.0.p3.as_deref()),
            r(self.0.env.as_deref())
        )
    }
}

/// What a pipeline said about its own run.
#[pyclass(frozen, module = "spektate", name = "RunReport")]
pub struct PyRunReport(pub RunReport);

#[pymethods]
impl PyRunReport {
    /// The run id.
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }
    /// Status.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "RunStatus", &self.0.status)
    }
    /// Result, once completed.
    #[getter]
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "RunResult", self.0.result.as_ref())
    }
    /// When it was queued.
    #[getter]
    fn queued_at(&self) -> Option<DateTime<Utc>> {
        self.0.queued_at
    }
    /// When it started.
    #[getter]
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// When it finished.
    #[getter]
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// Web page of the run.
    #[getter]
    fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// Source commit.
    #[getter]
    fn commit(&self) -> Option<&str> {
        self.0.commit.as_deref()
    }
    /// Source branch.
    #[getter]
    fn branch(&self) -> Option<&str> {
        self.0.branch.as_deref()
    }
    /// Repository URL.
    #[getter]
    fn repository(&self) -> Option<&str> {
        self.0.repository.as_deref()
    }
    /// Display number.
    #[getter]
    fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }
    /// When the store wrote the report.
    #[getter]
    fn reported_at(&self) -> Option<DateTime<Utc>> {
        self.0.reported_at
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "RunReport(id={}, status='{}')",
            r(Some(&self.0.id)),
            word(&self.0.status)
        )
    }
}

/// What one refresh did.
#[pyclass(frozen, module = "spektate", name = "RefreshStats")]
pub struct PyRefreshStats(pub RefreshStats);

#[pymethods]
impl PyRefreshStats {
    /// Records the store returned.
    #[getter]
    fn records_read(&self) -> usize {
        self.0.records_read
    }
    /// Records that were new or had changed.
    #[getter]
    fn records_changed(&self) -> usize {
        self.0.records_changed
    }
    /// Run ids looked up.
    #[getter]
    fn runs_requested(&self) -> usize {
        self.0.runs_requested
    }
    /// Deployments now shown.
    #[getter]
    fn deployments(&self) -> usize {
        self.0.deployments
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.0;
        dict(
            py,
            vec![
                ("recordsRead", s.records_read.into_pyobject(py)?.into_any()),
                (
                    "recordsChanged",
                    s.records_changed.into_pyobject(py)?.into_any(),
                ),
                (
                    "runsRequested",
                    s.runs_requested.into_pyobject(py)?.into_any(),
                ),
                ("deployments", s.deployments.into_pyobject(py)?.into_any()),
            ],
        )
    }
    fn __repr__(&self) -> String {
        let s = self.0;
        format!(
            "RefreshStats(records_read={}, records_changed={}, runs_requested={}, deployments={})",
            s.records_read, s.records_changed, s.runs_requested, s.deployments
        )
    }
}
