//! `Recorder`: what each pipeline did, recorded by the linking rules, and the objects its
//! methods take.

use napi_derive::napi;
use spektate::config::Access;
use spektate::{
    ImageBuilt as CoreImageBuilt, ManifestCommitted as CoreManifestCommitted,
    ManifestGenerated as CoreManifestGenerated, MetadataUpdated as CoreMetadataUpdated,
    Recorder as CoreRecorder, RunReported, RunResult, RunStatus,
};

use crate::errors::{Code, Result, Settled, failed, invalid, settle, sync, to_js};
use crate::input::{Date, number, time};
use crate::objects::{ClusterSync, Record, RunReport};
use crate::store::{StoreArg, store_arg};

/// p1 built and pushed an image.
#[napi(object)]
pub struct ImageBuilt {
    /// Image pipeline run id.
    pub p1: String,
    /// Image tag.
    pub image_tag: String,
    /// Source commit.
    pub commit_id: String,
    /// Service name.
    pub service: String,
    /// Source repository URL.
    pub repository: Option<String>,
}

/// p2 wrote the image tag into the HLD for a ring.
#[napi(object)]
pub struct MetadataUpdated {
    /// Metadata pipeline (release) id.
    pub p2: String,
    /// Image tag.
    pub image_tag: String,
    /// HLD commit.
    pub hld_commit_id: String,
    /// Ring.
    pub env: String,
    /// Service: keeps images of two services that share a tag apart.
    pub service: Option<String>,
    /// Approval pull request id.
    pub pr: Option<String>,
    /// HLD repository URL.
    pub repository: Option<String>,
}

/// p3 rendered manifests from an HLD commit.
#[napi(object)]
pub struct ManifestGenerated {
    /// Manifest pipeline run id.
    pub p3: String,
    /// HLD commit it rendered.
    pub hld_commit_id: String,
    /// Manifest commit it pushed, when already known.
    pub manifest_commit_id: Option<String>,
    /// Pull request that was merged.
    pub pr: Option<String>,
    /// Manifest repository URL.
    pub repository: Option<String>,
}

/// p3 pushed its manifest commit.
#[napi(object)]
pub struct ManifestCommitted {
    /// Manifest pipeline run id.
    pub p3: String,
    /// Manifest commit.
    pub manifest_commit_id: String,
    /// Manifest repository URL.
    pub repository: Option<String>,
}

/// What a pipeline says about its own run; what is not given keeps an earlier report's value.
#[napi(object, object_to_js = false)]
pub struct RunReportInput {
    /// Run id, as recorded in p1, p2 or p3.
    pub id: String,
    /// Status: `queued`, `inProgress`, `completed` (or a provider's word for them).
    #[napi(ts_type = "'queued' | 'inProgress' | 'completed' | string")]
    pub status: String,
    /// Result, with status `completed`: `succeeded` (the default), `failed`, `canceled`, ...
    #[napi(
        ts_type = "'succeeded' | 'partiallySucceeded' | 'failed' | 'canceled' | 'skipped' | string"
    )]
    pub result: Option<String>,
    /// Web page of the run.
    pub url: Option<String>,
    /// Source commit.
    pub commit: Option<String>,
    /// Source branch.
    pub branch: Option<String>,
    /// Repository URL.
    pub repository: Option<String>,
    /// Queue time.
    pub queued_at: Option<Date>,
    /// Start time.
    pub started_at: Option<Date>,
    /// Finish time.
    pub finished_at: Option<Date>,
    /// Which attempt of the run this is (GitHub's `run_attempt`, Azure Pipelines'
    /// `System.JobAttempt`): a later attempt replaces the report, an earlier one is ignored.
    pub attempt: Option<f64>,
}

impl RunReportInput {
    /// The report, its words, times and attempt checked (a `ConfigError` names the field).
    pub fn into_event(self) -> std::result::Result<RunReported, napi::Error<Code>> {
        let status = RunStatus::parse(&self.status).map_err(to_js)?;
        let result = self
            .result
            .as_deref()
            .map(RunResult::parse)
            .transpose()
            .map_err(to_js)?;
        let attempt = match self.attempt {
            None => None,
            Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => {
                Some(n as u32)
            }
            Some(n) => {
                return Err(invalid(
                    "attempt",
                    format!("{} is not a whole number such as 2", number(n)),
                ));
            }
        };
        let queued_at = time("queuedAt", self.queued_at)?;
        let started_at = time("startedAt", self.started_at)?;
        let finished_at = time("finishedAt", self.finished_at)?;
        let mut e = RunReported::new(self.id, status);
        e.result = result;
        e.url = self.url;
        e.commit = self.commit;
        e.branch = self.branch;
        e.repository = self.repository;
        e.queued_at = queued_at;
        e.started_at = started_at;
        e.finished_at = finished_at;
        e.attempt = attempt;
        Ok(e)
    }
}

/// Records what each pipeline did, by the linking rules, into one partition of a store.
#[napi]
pub struct Recorder {
    inner: CoreRecorder,
}

#[napi]
impl Recorder {
    /// A recorder writing to `partition` (default `default`) of `store`: a `Store`, or a
    /// spec or path (created when missing).
    #[napi(constructor)]
    pub fn new(
        #[napi(ts_arg_type = "Store | string")] store: StoreArg<'_>,
        partition: Option<String>,
    ) -> Result<Self> {
        let store = store_arg(store, Access::Write)?;
        sync(|| CoreRecorder::new(store, partition.unwrap_or_else(|| "default".to_string())))
            .map(|inner| Recorder { inner })
    }

    /// The partition written to.
    #[napi(getter)]
    pub fn partition(&self) -> String {
        self.inner.partition().to_string()
    }

    /// p1 built and pushed an image: inserts a new record.
    #[napi(ts_return_type = "Promise<DeploymentRecord>")]
    pub async fn image_built(&self, step: ImageBuilt) -> napi::Result<Settled<Record>> {
        let e = CoreImageBuilt {
            p1: step.p1,
            image_tag: step.image_tag,
            commit_id: step.commit_id,
            service: step.service,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.image_built(&e).await.map(|rec| Record::from(&rec)) }).await
    }

    /// p2 wrote the image tag into the HLD for a ring: updates the image's record, or
    /// inserts one (the same image going to another ring).
    #[napi(ts_return_type = "Promise<DeploymentRecord>")]
    pub async fn metadata_updated(&self, step: MetadataUpdated) -> napi::Result<Settled<Record>> {
        let e = CoreMetadataUpdated {
            p2: step.p2,
            image_tag: step.image_tag,
            hld_commit_id: step.hld_commit_id,
            env: step.env,
            service: step.service,
            pr: step.pr,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.metadata_updated(&e).await.map(|rec| Record::from(&rec)) }).await
    }

    /// p3 rendered manifests from an HLD commit (no matching record: a manual HLD edit).
    #[napi(ts_return_type = "Promise<DeploymentRecord>")]
    pub async fn manifest_generated(
        &self,
        step: ManifestGenerated,
    ) -> napi::Result<Settled<Record>> {
        let e = CoreManifestGenerated {
            p3: step.p3,
            hld_commit_id: step.hld_commit_id,
            manifest_commit_id: step.manifest_commit_id,
            pr: step.pr,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.manifest_generated(&e).await.map(|rec| Record::from(&rec)) }).await
    }

    /// p3 pushed its manifest commit; rejects with `NotFoundError` when no record has that p3.
    #[napi(ts_return_type = "Promise<DeploymentRecord>")]
    pub async fn manifest_committed(
        &self,
        step: ManifestCommitted,
    ) -> napi::Result<Settled<Record>> {
        let e = CoreManifestCommitted {
            p3: step.p3,
            manifest_commit_id: step.manifest_commit_id,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.manifest_committed(&e).await.map(|rec| Record::from(&rec)) }).await
    }

    /// A pipeline reports its own run.
    #[napi(ts_return_type = "Promise<RunReport>")]
    pub async fn run_reported(&self, report: RunReportInput) -> napi::Result<Settled<RunReport>> {
        let e = match report.into_event() {
            Ok(e) => e,
            Err(e) => return failed(e),
        };
        let r = self.inner.clone();
        settle(async move { r.run_reported(&e).await.map(|rep| RunReport::from(&rep)) }).await
    }

    /// A cluster (or a hook beside it) reports the manifest commit it runs.
    #[napi(ts_return_type = "Promise<ClusterSync>")]
    pub async fn cluster_synced(
        &self,
        cluster: String,
        commit: String,
        reporter: Option<String>,
    ) -> napi::Result<Settled<ClusterSync>> {
        let r = self.inner.clone();
        settle(async move {
            r.cluster_synced(&cluster, &commit, reporter.as_deref())
                .await
                .map(|c| ClusterSync::from(&c))
        })
        .await
    }
}
