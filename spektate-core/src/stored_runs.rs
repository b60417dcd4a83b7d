//! A pipelines provider over the store's run reports: traces any CI with no API client.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::run::{Run, RunKind, Stage};
use crate::provider::{Pipelines, RunBatch, RunRequest};
use crate::store::RecordStore;

/// Serves the run reports pipelines wrote with [`crate::Recorder::run_reported`].
///
/// It is not authoritative: a run with no report yet is unknown, never expired.
#[derive(Clone)]
pub struct StoredRuns {
    store: Arc<dyn RecordStore>,
    partition: String,
}

impl StoredRuns {
    /// Run reports of `partition` in `store`.
    pub fn new(store: Arc<dyn RecordStore>, partition: impl Into<String>) -> Self {
        StoredRuns {
            store,
            partition: partition.into(),
        }
    }
}

#[async_trait]
impl Pipelines for StoredRuns {
    fn name(&self) -> String {
        format!("run reports in {}", self.store.describe())
    }

    async fn runs(&self, kind: RunKind, requests: &[RunRequest]) -> Result<RunBatch> {
        let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
        let reports = self.store.run_reports(&self.partition, &ids).await?;
        let repos: std::collections::HashMap<&str, &RunRequest> =
            requests.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut batch = RunBatch::default();
        for report in reports {
            let mut run = report.to_run(kind);
            if run.repository.is_none() {
                run.repository = repos
                    .get(report.id.as_str())
                    .and_then(|r| r.repo.as_deref().cloned());
            }
            batch.found.insert(report.id.clone(), run);
        }
        Ok(batch)
    }

    async fn stages(&self, _run: &Run) -> Result<Vec<Stage>> {
        Ok(Vec::new())
    }
}
