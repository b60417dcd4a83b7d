//! `ServerRecorder`: the steps a `Recorder` records, sent to a Spektate server with a write
//! token instead of written to a store.

use pyo3::prelude::*;
use spektate::{ImageBuilt, ManifestCommitted, ManifestGenerated, MetadataUpdated};
use spektate_bindings_common::server::ServerRecorder;

use crate::errors::detached;
use crate::names::quoted;
use crate::recorder::RunArgs;
use crate::twins::pymethods_with_twins;

/// Records what each pipeline did through a Spektate server (`spektate serve`), which applies
/// the linking rules to its store; each method returns the id written.
#[pyclass(frozen, module = "spektate", name = "ServerRecorder")]
pub struct PyServerRecorder(ServerRecorder);

pymethods_with_twins! {
    impl PyServerRecorder {
        /// A recorder sending to the server at `server` with the write token `token`
        /// (`spektate token create`), into `partition`. Nothing is sent yet.
        #[new]
        #[pyo3(signature = (server, partition = "default".to_string(), *, token))]
        fn new(py: Python<'_>, server: String, partition: String, token: String) -> PyResult<Self> {
            detached(py, || ServerRecorder::new(&server, &token, partition)).map(PyServerRecorder)
        }

        /// The server's URL.
        #[getter]
        fn server(&self) -> &str {
            self.0.server()
        }

        /// The partition written to.
        #[getter]
        fn partition(&self) -> &str {
            self.0.partition()
        }

        fn __repr__(&self) -> String {
            format!(
                "ServerRecorder(server={}, partition={})",
                quoted(self.0.server()),
                quoted(self.0.partition())
            )
        }
    }
    io {
        /// p1 built and pushed an image; the record's id.
        #[pyo3(signature = (*, p1, image_tag, commit_id, service, repository = None))]
        fn image_built / image_built_blocking(
            &self,
            p1: String,
            image_tag: String,
            commit_id: String,
            service: String,
            repository: Option<String>,
        ) -> String {
            let recorder = self.0.clone();
            let e = ImageBuilt { p1, image_tag, commit_id, service, repository };
            async move { recorder.image_built(&e).await }
        }

        /// p2 wrote the image tag into the HLD for a ring; the record's id.
        #[pyo3(signature = (*, p2, image_tag, hld_commit_id, env, pr = None, repository = None, service = None))]
        fn metadata_updated / metadata_updated_blocking(
            &self,
            p2: String,
            image_tag: String,
            hld_commit_id: String,
            env: String,
            pr: Option<String>,
            repository: Option<String>,
            service: Option<String>,
        ) -> String {
            let recorder = self.0.clone();
            let e = MetadataUpdated { p2, image_tag, hld_commit_id, env, service, pr, repository };
            async move { recorder.metadata_updated(&e).await }
        }

        /// p3 rendered manifests from an HLD commit; the record's id.
        #[pyo3(signature = (*, p3, hld_commit_id, manifest_commit_id = None, pr = None, repository = None))]
        fn manifest_generated / manifest_generated_blocking(
            &self,
            p3: String,
            hld_commit_id: String,
            manifest_commit_id: Option<String>,
            pr: Option<String>,
            repository: Option<String>,
        ) -> String {
            let recorder = self.0.clone();
            let e = ManifestGenerated { p3, hld_commit_id, manifest_commit_id, pr, repository };
            async move { recorder.manifest_generated(&e).await }
        }

        /// p3 pushed its manifest commit; the id of a record it updated (`NotFoundError` when
        /// no record has that p3).
        #[pyo3(signature = (*, p3, manifest_commit_id, repository = None))]
        fn manifest_committed / manifest_committed_blocking(
            &self,
            p3: String,
            manifest_commit_id: String,
            repository: Option<String>,
        ) -> String {
            let recorder = self.0.clone();
            let e = ManifestCommitted { p3, manifest_commit_id, repository };
            async move { recorder.manifest_committed(&e).await }
        }

        /// A pipeline reports its own run; the run id.
        #[pyo3(signature = (id, status, *, result = None, url = None, commit = None, branch = None,
                            repository = None, queued_at = None, started_at = None, finished_at = None,
                            attempt = None))]
        fn run_reported / run_reported_blocking(
            &self,
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
            attempt: Option<&Bound<'py, PyAny>>,
        ) -> String {
            let e = RunArgs {
                id, status, result, url, commit, branch, repository, queued_at, started_at,
                finished_at, attempt,
            }
            .into_event()?;
            let recorder = self.0.clone();
            async move { recorder.run_reported(&e).await }
        }

        /// A cluster (or a hook beside it) reports the manifest commit it runs; the cluster.
        #[pyo3(signature = (cluster, commit))]
        fn cluster_synced / cluster_synced_blocking(
            &self,
            cluster: String,
            commit: String,
        ) -> String {
            let recorder = self.0.clone();
            async move { recorder.cluster_synced(&cluster, &commit).await }
        }
    }
}
