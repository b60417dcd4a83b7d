//! A view of a store that reads only the records a [`Filter`] can admit (its criteria the
//! record alone decides: service, ring, image tag, id, run, commit, kind). A tracker over it
//! never asks a provider about a record the filter would hide, so a narrow `get` costs what
//! it shows, not what the partition holds. Writes and reports pass through unchanged.

use std::sync::Arc;

use async_trait::async_trait;

use super::{RecordQuery, RecordStore};
use crate::error::Result;
use crate::filter::Filter;
use crate::model::cluster::{ClusterHistory, ClusterReport};
use crate::model::record::Record;
use crate::model::run::RunReport;

/// `inner`, reading only the records `filter` admits.
pub struct FilteredStore {
    inner: Arc<dyn RecordStore>,
    filter: Filter,
}

impl FilteredStore {
    /// A view of `inner` through `filter`.
    pub fn new(inner: Arc<dyn RecordStore>, filter: Filter) -> Self {
        FilteredStore { inner, filter }
    }
}

#[async_trait]
impl RecordStore for FilteredStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn change_overlap(&self) -> std::time::Duration {
        self.inner.change_overlap()
    }

    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        let mut records = self.inner.query(partition, query).await?;
        records.retain(|r| self.filter.admits_record(r));
        Ok(records)
    }

    async fn query_shared(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Arc<Record>>> {
        let mut records = self.inner.query_shared(partition, query).await?;
        records.retain(|r| self.filter.admits_record(r));
        Ok(records)
    }

    async fn insert(&self, record: &Record) -> Result<Record> {
        self.inner.insert(record).await
    }

    async fn replace(&self, record: &Record) -> Result<Record> {
        self.inner.replace(record).await
    }

    async fn delete(&self, partition: &str, row_key: &str, etag: Option<&str>) -> Result<()> {
        self.inner.delete(partition, row_key, etag).await
    }

    async fn put_run_report(&self, partition: &str, report: &RunReport) -> Result<RunReport> {
        self.inner.put_run_report(partition, report).await
    }

    async fn run_reports(&self, partition: &str, ids: &[String]) -> Result<Vec<RunReport>> {
        self.inner.run_reports(partition, ids).await
    }

    async fn put_cluster_report(&self, partition: &str, report: &ClusterReport) -> Result<()> {
        self.inner.put_cluster_report(partition, report).await
    }

    async fn cluster_histories(&self, partition: &str) -> Result<Vec<ClusterHistory>> {
        self.inner.cluster_histories(partition).await
    }
}
