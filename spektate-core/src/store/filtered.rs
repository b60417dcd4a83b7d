//! A view of a store that reads in full only the records a [`Filter`] can admit (its criteria
//! the record alone decides: service, ring, image tag, id, run, commit, kind). A tracker over
//! it never asks a provider about a record the filter would hide, so a narrow `get` costs
//! what it shows in provider requests, not what the partition holds. A hidden record that
//! names an HLD or manifest commit is kept as [context](Record::context), reduced to what
//! places commits: the commit a cluster runs may be another service's, and a later
//! deployment of the same service and ring may have replaced a shown one there, so "live"
//! reads the same through the view as without it. Writes and reports pass through unchanged.
//!
//! A filter with `top` and no criterion that needs a provider's answer (author, status,
//! keyword) is pushed down too: of the records it admits, only the `top` newest by when the
//! store last wrote them (when their last step reported), and as many again (at least
//! [`TOP_MARGIN`]), are read in full; the others are kept as context. The table orders by
//! the runs' last activity, which a step still running after a newer deployment was recorded
//! puts ahead of its write time: the margin lets the tracker's own cut to `top`, in the
//! table's order, find such a deployment among those read in full.

use std::borrow::Borrow;
use std::sync::Arc;

use async_trait::async_trait;

use super::{RecordQuery, RecordStore};
use crate::cache::{Answer, AnswerKey};
use crate::error::Result;
use crate::filter::Filter;
use crate::model::cluster::{ClusterHistory, ClusterReport};
use crate::model::record::Record;
use crate::model::run::RunReport;

/// The fewest records beyond `top` read in full when `top` is pushed down.
pub const TOP_MARGIN: usize = 5;

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

    /// How many admitted records to read in full, when the filter's `top` can be applied
    /// before any provider is asked (no author, status or keyword criterion): `top` and its
    /// margin (as many again, at least [`TOP_MARGIN`]).
    fn top(&self) -> Option<usize> {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
        let f = &self.filter;
        let needs_answers = set(&f.author) || set(&f.keyword) || f.status.is_some();
        f.top
            .filter(|_| !needs_answers)
            .map(|n| n.saturating_add(n.max(TOP_MARGIN)))
    }

    /// Which of `records` are read in full: those the filter admits, cut to the newest
    /// [`Self::top`] by write time (a record the store wrote without a time counts as newest).
    fn full<R: Borrow<Record>>(&self, records: &[R]) -> Vec<bool> {
        let mut full: Vec<bool> = records
            .iter()
            .map(|r| self.filter.admits_record(r.borrow()))
            .collect();
        let admitted = full.iter().filter(|f| **f).count();
        if let Some(n) = self.top()
            && admitted > n
        {
            // The newest `n` first, in no order among themselves.
            let mut order: Vec<usize> = (0..records.len()).filter(|&i| full[i]).collect();
            order.select_nth_unstable_by(n, |&a, &b| {
                let (a, b) = (records[a].borrow(), records[b].borrow());
                let newest = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    std::cmp::Reverse(t.map_or(i64::MAX, |t| t.timestamp_micros()))
                };
                newest(a.timestamp)
                    .cmp(&newest(b.timestamp))
                    .then_with(|| a.row_key.cmp(&b.row_key))
            });
            for &i in &order[n..] {
                full[i] = false;
            }
        }
        full
    }
}

/// `r` reduced to what places its commits, marked as context; none when it names no HLD or
/// manifest commit. Its run ids and source commit are left out, so nothing is looked up for it.
fn context(mut r: Record) -> Option<Record> {
    if r.hld_commit_id.is_none() && r.manifest_commit_id.is_none() {
        return None;
    }
    use std::mem::take;
    Some(Record {
        partition_key: take(&mut r.partition_key),
        row_key: take(&mut r.row_key),
        service: take(&mut r.service),
        image_tag: take(&mut r.image_tag),
        env: take(&mut r.env),
        hld_commit_id: take(&mut r.hld_commit_id),
        manifest_commit_id: take(&mut r.manifest_commit_id),
        pr: take(&mut r.pr),
        hld_repo: take(&mut r.hld_repo),
        manifest_repo: take(&mut r.manifest_repo),
        timestamp: r.timestamp,
        etag: take(&mut r.etag),
        sequence: r.sequence,
        context: true,
        ..Record::default()
    })
}

/// [`context`] of a shared record: made in place when nothing else holds it (a store's
/// freshly read record), so the record's other values are freed rather than copied.
fn shared_context(mut r: Arc<Record>) -> Option<Arc<Record>> {
    match Arc::get_mut(&mut r) {
        Some(own) => {
            *own = context(std::mem::take(own))?;
            Some(r)
        }
        None => context((*r).clone()).map(Arc::new),
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
        let records = self.inner.query(partition, query).await?;
        let full = self.full(&records);
        Ok(records
            .into_iter()
            .zip(full)
            .filter_map(|(r, full)| match full {
                true => Some(r),
                false => context(r),
            })
            .collect())
    }

    /// Every record is kept, as context when not admitted: the keys are the inner store's.
    async fn row_keys(&self, partition: &str, query: &RecordQuery) -> Result<Vec<String>> {
        self.inner.row_keys(partition, query).await
    }

    async fn query_shared(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Arc<Record>>> {
        let records = self.inner.query_shared(partition, query).await?;
        let full = self.full(&records);
        Ok(records
            .into_iter()
            .zip(full)
            .filter_map(|(r, full)| match full {
                true => Some(r),
                false => shared_context(r),
            })
            .collect())
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

    async fn replace_and_delete(
        &self,
        record: &Record,
        gone: &str,
        gone_etag: Option<&str>,
    ) -> Result<Record> {
        self.inner.replace_and_delete(record, gone, gone_etag).await
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

    fn keeps_answers(&self) -> bool {
        self.inner.keeps_answers()
    }

    fn writes_answers(&self) -> bool {
        self.inner.writes_answers()
    }

    async fn put_answers(&self, partition: &str, answers: &[Answer]) -> Result<()> {
        self.inner.put_answers(partition, answers).await
    }

    async fn answers(&self, partition: &str, keys: &[AnswerKey]) -> Result<Vec<Answer>> {
        self.inner.answers(partition, keys).await
    }

    async fn claim(&self, partition: &str, key: &str, holder: &str) -> Result<bool> {
        self.inner.claim(partition, key, holder).await
    }
}
