//! `Recorder`: what each pipeline did, recorded by the linking rules.

use pyo3::prelude::*;
use spektate::config::Access;
use spektate::{
    ImageBuilt, ManifestCommitted, ManifestGenerated, MetadataUpdated, Recorder, RunReported,
    RunResult, RunStatus,
};

use crate::errors::to_py;
use crate::names::quoted;
use crate::results::{PyClusterSync, PyRecord, PyRunReport};
use crate::store::{PyStore, store_arg};
use crate::twins::pymethods_with_twins;
use crate::values::{count, datetime, word_arg, word_of};

/// Records what each pipeline did, by the linking rules, into one partition of a store.
#[pyclass(frozen, module = "spektate", name = "Recorder")]
pub struct PyRecorder(Recorder);

pymethods_with_twins! {
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

        fn __repr__(&self) -> String {
            format!(
                "Recorder(store={}, partition={})",
                quoted(&self.0.store().describe()),
                quoted(self.0.partition())
            )
        }
    }
    io {
        /// p1 built and pushed an image: inserts a new record.
        #[pyo3(signature = (*, p1, image_tag, commit_id, service, repository = None))]
        fn image_built / image_built_blocking(
            &self,
            p1: String,
            image_tag: String,
            commit_id: String,
            service: String,
            repository: Option<String>,
        ) -> PyRecord {
            let recorder = self.0.clone();
            let e = ImageBuilt { p1, image_tag, commit_id, service, repository };
            async move { recorder.image_built(&e).await.map(PyRecord) }
        }

        /// p2 wrote the image tag into the HLD for a ring: updates the image's record, or
        /// inserts one (the same image going to another ring).
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
        ) -> PyRecord {
            let recorder = self.0.clone();
            let e = MetadataUpdated { p2, image_tag, hld_commit_id, env, service, pr, repository };
            async move { recorder.metadata_updated(&e).await.map(PyRecord) }
        }

        /// p3 rendered manifests from an HLD commit: updates the HLD commit's record (or the
        /// pull request's), or inserts a manual HLD edit.
        #[pyo3(signature = (*, p3, hld_commit_id, manifest_commit_id = None, pr = None, repository = None))]
        fn manifest_generated / manifest_generated_blocking(
            &self,
            p3: String,
            hld_commit_id: String,
            manifest_commit_id: Option<String>,
            pr: Option<String>,
            repository: Option<String>,
        ) -> PyRecord {
            let recorder = self.0.clone();
            let e = ManifestGenerated { p3, hld_commit_id, manifest_commit_id, pr, repository };
            async move { recorder.manifest_generated(&e).await.map(PyRecord) }
        }

        /// p3 pushed its manifest commit: updates the record with that p3 (`NotFoundError` when
        /// there is none).
        #[pyo3(signature = (*, p3, manifest_commit_id, repository = None))]
        fn manifest_committed / manifest_committed_blocking(
            &self,
            p3: String,
            manifest_commit_id: String,
            repository: Option<String>,
        ) -> PyRecord {
            let recorder = self.0.clone();
            let e = ManifestCommitted { p3, manifest_commit_id, repository };
            async move { recorder.manifest_committed(&e).await.map(PyRecord) }
        }

        /// A pipeline reports its own run; what is not given keeps an earlier report's value.
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
        ) -> PyRunReport {
            let e = RunArgs {
                id, status, result, url, commit, branch, repository, queued_at, started_at,
                finished_at, attempt,
            }
            .into_event()?;
            let recorder = self.0.clone();
            async move { recorder.run_reported(&e).await.map(PyRunReport) }
        }

        /// A cluster (or a hook beside it) reports the manifest commit it runs.
        #[pyo3(signature = (cluster, commit, *, reporter = None))]
        fn cluster_synced / cluster_synced_blocking(
            &self,
            cluster: String,
            commit: String,
            reporter: Option<String>,
        ) -> PyClusterSync {
            let recorder = self.0.clone();
            async move {
                recorder
                    .cluster_synced(&cluster, &commit, reporter.as_deref())
                    .await
                    .map(PyClusterSync)
            }
        }
    }
}

/// The arguments of `run_reported`, of a `Recorder` and of a `ServerRecorder`.
pub struct RunArgs<'a, 'py> {
    pub id: String,
    pub status: &'a Bound<'py, PyAny>,
    pub result: Option<&'a Bound<'py, PyAny>>,
    pub url: Option<String>,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub repository: Option<String>,
    pub queued_at: Option<&'a Bound<'py, PyAny>>,
    pub started_at: Option<&'a Bound<'py, PyAny>>,
    pub finished_at: Option<&'a Bound<'py, PyAny>>,
    pub attempt: Option<&'a Bound<'py, PyAny>>,
}

impl RunArgs<'_, '_> {
    /// The report, its words and times checked (a `ConfigError` names the argument).
    pub fn into_event(self) -> PyResult<RunReported> {
        let status = RunStatus::parse(&word_of("status", self.status)?).map_err(to_py)?;
        let mut e = RunReported::new(self.id, status);
        e.result = word_arg("result", self.result)?
            .map(|r| RunResult::parse(&r))
            .transpose()
            .map_err(to_py)?;
        e.url = self.url;
        e.commit = self.commit;
        e.branch = self.branch;
        e.repository = self.repository;
        e.queued_at = datetime("queued_at", self.queued_at)?;
        e.started_at = datetime("started_at", self.started_at)?;
        e.finished_at = datetime("finished_at", self.finished_at)?;
        e.attempt = count("attempt", self.attempt)?;
        Ok(e)
    }
}
