//! `ServerRecorder`: the steps a `Recorder` records, sent to a Spektate server with a write
//! token instead of written to a store.

use napi_derive::napi;
use spektate::{
    ImageBuilt as CoreImageBuilt, ManifestCommitted as CoreManifestCommitted,
    ManifestGenerated as CoreManifestGenerated, MetadataUpdated as CoreMetadataUpdated,
};
use spektate_bindings_common::server::ServerRecorder as Client;

use crate::errors::{Result, Settled, failed, settle, sync};
use crate::recorder::{
    ImageBuilt, ManifestCommitted, ManifestGenerated, MetadataUpdated, RunReportInput,
};

/// Options of `new ServerRecorder`.
#[napi(object)]
pub struct ServerRecorderOptions {
    /// A write token for the partition (`spektate token create`), sent as a bearer token.
    pub token: String,
    /// The partition written to (default `default`).
    pub partition: Option<String>,
}

/// Records what each pipeline did through a Spektate server (`spektate serve`), which applies
/// the linking rules to its store; each method resolves to the id written.
#[napi]
pub struct ServerRecorder {
    inner: Client,
}

#[napi]
impl ServerRecorder {
    /// A recorder sending to the server at `server` (`https://spektate.example.com`) with
    /// `options.token`, into `options.partition`. Nothing is sent yet.
    #[napi(constructor)]
    pub fn new(server: String, options: ServerRecorderOptions) -> Result<Self> {
        let partition = options.partition.unwrap_or_else(|| "default".to_string());
        sync(|| Client::new(&server, &options.token, partition))
            .map(|inner| ServerRecorder { inner })
    }

    /// The server's URL.
    #[napi(getter)]
    pub fn server(&self) -> String {
        self.inner.server().to_string()
    }

    /// The partition written to.
    #[napi(getter)]
    pub fn partition(&self) -> String {
        self.inner.partition().to_string()
    }

    /// p1 built and pushed an image; resolves to the record's id.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn image_built(&self, step: ImageBuilt) -> napi::Result<Settled<String>> {
        let e = CoreImageBuilt {
            p1: step.p1,
            image_tag: step.image_tag,
            commit_id: step.commit_id,
            service: step.service,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.image_built(&e).await }).await
    }

    /// p2 wrote the image tag into the HLD for a ring; resolves to the record's id.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn metadata_updated(&self, step: MetadataUpdated) -> napi::Result<Settled<String>> {
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
        settle(async move { r.metadata_updated(&e).await }).await
    }

    /// p3 rendered manifests from an HLD commit; resolves to the record's id.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn manifest_generated(
        &self,
        step: ManifestGenerated,
    ) -> napi::Result<Settled<String>> {
        let e = CoreManifestGenerated {
            p3: step.p3,
            hld_commit_id: step.hld_commit_id,
            manifest_commit_id: step.manifest_commit_id,
            pr: step.pr,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.manifest_generated(&e).await }).await
    }

    /// p3 pushed its manifest commit; resolves to the id of a record it updated, rejects with
    /// `NotFoundError` when no record has that p3.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn manifest_committed(
        &self,
        step: ManifestCommitted,
    ) -> napi::Result<Settled<String>> {
        let e = CoreManifestCommitted {
            p3: step.p3,
            manifest_commit_id: step.manifest_commit_id,
            repository: step.repository,
        };
        let r = self.inner.clone();
        settle(async move { r.manifest_committed(&e).await }).await
    }

    /// A pipeline reports its own run; resolves to the run id.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn run_reported(&self, report: RunReportInput) -> napi::Result<Settled<String>> {
        let e = match report.into_event() {
            Ok(e) => e,
            Err(e) => return failed(e),
        };
        let r = self.inner.clone();
        settle(async move { r.run_reported(&e).await }).await
    }

    /// A cluster (or a hook beside it) reports the manifest commit it runs; resolves to the
    /// cluster.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn cluster_synced(
        &self,
        cluster: String,
        commit: String,
    ) -> napi::Result<Settled<String>> {
        let r = self.inner.clone();
        settle(async move { r.cluster_synced(&cluster, &commit).await }).await
    }
}
