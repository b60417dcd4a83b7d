//! An in-memory record store, for tests and short-lived tools.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CLAIM_RETENTION, RecordQuery, RecordStore, check_claim};
use crate::cache::{Answer, AnswerKey, Fact};
use crate::error::{Error, Result};
use crate::model::cluster::{ClusterHistory, ClusterReport};
use crate::model::record::Record;
use crate::model::run::RunReport;

/// A [`RecordStore`] held in memory; nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    version: u64,
    /// Records in insertion order, per partition.
    records: BTreeMap<String, Vec<Record>>,
    reports: BTreeMap<(String, String), RunReport>,
    clusters: BTreeMap<(String, String), ClusterHistory>,
    /// Providers' final answers, per partition and key.
    answers: BTreeMap<String, BTreeMap<AnswerKey, Fact>>,
    /// Claims by partition and key: the holder and when it claimed.
    claims: BTreeMap<(String, String), (String, DateTime<Utc>)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written record: every write
        // is a single assignment, so the data is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Replaces `record` if its etag is current.
    fn replace(&mut self, record: &Record) -> Result<Record> {
        let version = self.version + 1;
        let rows = self
            .records
            .entry(record.partition_key.clone())
            .or_default();
        let Some(slot) = rows.iter_mut().find(|r| r.row_key == record.row_key) else {
            return Err(Error::NotFound {
                what: format!(
                    "record {} in partition {}",
                    record.row_key, record.partition_key
                ),
            });
        };
        if record.etag.is_some() && slot.etag != record.etag {
            return Err(Error::Conflict {
                partition: record.partition_key.clone(),
                row_key: record.row_key.clone(),
            });
        }
        let mut stored = record.clone();
        stored.etag = Some(format!("W/\"{version}\""));
        stored.timestamp = Some(Utc::now());
        stored.sequence = Some(version as i64);
        *slot = stored.clone();
        self.version = version;
        Ok(stored)
    }

    /// Where the record to delete is, if it exists; a conflict when `etag` is not current.
    fn deletable(
        &self,
        partition: &str,
        row_key: &str,
        etag: Option<&str>,
    ) -> Result<Option<usize>> {
        let Some(i) = self
            .records
            .get(partition)
            .and_then(|rows| rows.iter().position(|r| r.row_key == row_key))
        else {
            return Ok(None);
        };
        if etag.is_some() && self.records[partition][i].etag.as_deref() != etag {
            return Err(Error::Conflict {
                partition: partition.into(),
                row_key: row_key.into(),
            });
        }
        Ok(Some(i))
    }

    fn stamp(&mut self, record: &mut Record) {
        self.version += 1;
        record.etag = Some(format!("W/\"{}\"", self.version));
        record.timestamp = Some(Utc::now());
        record.sequence = Some(self.version as i64);
    }
}

#[async_trait]
impl RecordStore for MemoryStore {
    fn describe(&self) -> String {
        "memory".to_string()
    }

    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        let state = self.lock();
        Ok(state
            .records
            .get(partition)
            .map(|rows| rows.iter().filter(|r| query.matches(r)).cloned().collect())
            .unwrap_or_default())
    }

    async fn row_keys(&self, partition: &str, query: &RecordQuery) -> Result<Vec<String>> {
        let state = self.lock();
        Ok(state
            .records
            .get(partition)
            .map(|rows| {
                rows.iter()
                    .filter(|r| query.matches(r))
                    .map(|r| r.row_key.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn insert(&self, record: &Record) -> Result<Record> {
        let mut state = self.lock();
        let exists = state
            .records
            .get(&record.partition_key)
            .is_some_and(|rows| rows.iter().any(|r| r.row_key == record.row_key));
        if exists {
            return Err(Error::Conflict {
                partition: record.partition_key.clone(),
                row_key: record.row_key.clone(),
            });
        }
        let mut stored = record.clone();
        state.stamp(&mut stored);
        state
            .records
            .entry(record.partition_key.clone())
            .or_default()
            .push(stored.clone());
        Ok(stored)
    }

    async fn replace(&self, record: &Record) -> Result<Record> {
        self.lock().replace(record)
    }

    async fn delete(&self, partition: &str, row_key: &str, etag: Option<&str>) -> Result<()> {
        let mut state = self.lock();
        if let Some(i) = state.deletable(partition, row_key, etag)? {
            state.records.get_mut(partition).map(|rows| rows.remove(i));
        }
        Ok(())
    }

    async fn replace_and_delete(
        &self,
        record: &Record,
        gone: &str,
        gone_etag: Option<&str>,
    ) -> Result<Record> {
        super::check_merge(record, gone)?;
        let mut state = self.lock();
        let partition = &record.partition_key;
        // Both checked before either is written.
        state.deletable(partition, gone, gone_etag)?;
        let stored = state.replace(record)?;
        if let Some(i) = state.deletable(partition, gone, gone_etag)? {
            state.records.get_mut(partition).map(|rows| rows.remove(i));
        }
        Ok(stored)
    }

    async fn put_run_report(&self, partition: &str, report: &RunReport) -> Result<RunReport> {
        let mut state = self.lock();
        let key = (partition.to_string(), report.id.clone());
        let current = state.reports.get(&key).and_then(|r| r.etag.clone());
        if current != report.etag {
            return Err(Error::Conflict {
                partition: partition.to_string(),
                row_key: format!("run report {}", report.id),
            });
        }
        state.version += 1;
        let mut stored = report.clone();
        stored.reported_at = Some(Utc::now());
        stored.etag = Some(state.version.to_string());
        state.reports.insert(key, stored.clone());
        Ok(stored)
    }

    async fn run_reports(&self, partition: &str, ids: &[String]) -> Result<Vec<RunReport>> {
        let state = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| {
                state
                    .reports
                    .get(&(partition.to_string(), id.clone()))
                    .cloned()
            })
            .collect())
    }

    async fn put_cluster_report(&self, partition: &str, report: &ClusterReport) -> Result<()> {
        report.check()?;
        let mut state = self.lock();
        let key = (partition.to_string(), report.sync.cluster.clone());
        state
            .clusters
            .entry(key)
            .or_insert_with(|| ClusterHistory::new(&report.sync.cluster))
            .add(report.clone());
        Ok(())
    }

    async fn cluster_histories(&self, partition: &str) -> Result<Vec<ClusterHistory>> {
        let state = self.lock();
        Ok(state
            .clusters
            .iter()
            .filter(|((p, _), _)| p == partition)
            .map(|(_, h)| h.clone())
            .collect())
    }

    async fn claim(&self, partition: &str, key: &str, holder: &str) -> Result<bool> {
        check_claim(key, holder)?;
        let now = Utc::now();
        let mut state = self.lock();
        if let Ok(keep) = chrono::Duration::from_std(CLAIM_RETENTION) {
            state.claims.retain(|_, (_, at)| *at >= now - keep);
        }
        let (owner, _) = state
            .claims
            .entry((partition.to_string(), key.to_string()))
            .or_insert_with(|| (holder.to_string(), now));
        Ok(owner == holder)
    }

    fn keeps_answers(&self) -> bool {
        true
    }

    async fn put_answers(&self, partition: &str, answers: &[Answer]) -> Result<()> {
        let mut state = self.lock();
        let kept = state.answers.entry(partition.to_string()).or_default();
        for a in answers {
            kept.insert(a.key(), a.fact.clone());
        }
        Ok(())
    }

    async fn answers(&self, partition: &str, keys: &[AnswerKey]) -> Result<Vec<Answer>> {
        for key in keys {
            key.check()?;
        }
        let state = self.lock();
        let Some(kept) = state.answers.get(partition) else {
            return Ok(Vec::new());
        };
        Ok(keys
            .iter()
            .filter_map(|key| {
                kept.get(key).map(|fact| Answer {
                    namespace: key.namespace.clone(),
                    id: key.id.clone(),
                    fact: fact.clone(),
                })
            })
            .collect())
    }
}
