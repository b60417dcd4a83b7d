//! A store wrapper whose reads can be made to fail, panic, wait or slow down, for testing
//! what a tracker or a server does when its store misbehaves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::model::cluster::{ClusterHistory, ClusterReport};
use crate::model::record::Record;
use crate::model::run::RunReport;
use crate::store::{RecordQuery, RecordStore};

/// How record queries answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// As the wrapped store does.
    None,
    /// With a store error ("connection refused").
    Fail,
    /// By panicking.
    Panic,
}

/// Wraps a store; writes pass through, reads obey the faults set.
pub struct FaultyStore {
    inner: Arc<dyn RecordStore>,
    fault: AtomicU8,
    cluster_reads_fail: AtomicBool,
    delay_ms: AtomicU64,
    queries: AtomicUsize,
    open: watch::Sender<bool>,
}

impl FaultyStore {
    /// A well-behaved wrapper around `inner`.
    pub fn new(inner: Arc<dyn RecordStore>) -> Arc<Self> {
        Arc::new(FaultyStore {
            inner,
            fault: AtomicU8::new(0),
            cluster_reads_fail: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            queries: AtomicUsize::new(0),
            open: watch::channel(true).0,
        })
    }

    /// How record queries answer from now on.
    pub fn set_fault(&self, fault: Fault) {
        let n = match fault {
            Fault::None => 0,
            Fault::Fail => 1,
            Fault::Panic => 2,
        };
        self.fault.store(n, Ordering::SeqCst);
    }

    /// Whether reading cluster reports fails.
    pub fn fail_cluster_reads(&self, fail: bool) {
        self.cluster_reads_fail.store(fail, Ordering::SeqCst);
    }

    /// A wait before each record query answers.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Holds every record query until [`Self::release`].
    pub fn hold(&self) {
        self.open.send_replace(false);
    }

    /// Lets held and later queries through.
    pub fn release(&self) {
        self.open.send_replace(true);
    }

    /// How many record queries were made.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    fn refused(operation: &str) -> Error {
        Error::store("faulty:test", operation, "connection refused")
    }
}

#[async_trait]
impl RecordStore for FaultyStore {
    fn describe(&self) -> String {
        "faulty:test".into()
    }

    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        match self.fault.load(Ordering::SeqCst) {
            1 => Err(Self::refused("query")),
            2 => panic!("the store driver tripped over a null pointer"),
            _ => self.inner.query(partition, query).await,
        }
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
        if self.cluster_reads_fail.load(Ordering::SeqCst) {
            return Err(Self::refused("read cluster syncs"));
        }
        self.inner.cluster_histories(partition).await
    }
}
