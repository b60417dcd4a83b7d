//! Record stores: where pipelines' records, run reports and cluster reports live.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::cache::{Answer, AnswerKey};
use crate::error::Result;
use crate::model::cluster::{ClusterHistory, ClusterReport};
use crate::model::deployment::ClusterSync;
use crate::model::record::{Record, normalize};
use crate::model::run::RunReport;

pub mod filtered;
pub mod memory;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// Equality filters a store applies when reading a partition; all given ones must hold.
///
/// Values are compared in their stored (trimmed, lower-cased) form; the builder methods
/// normalize their input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordQuery {
    /// Row key (deployment id).
    pub row_key: Option<String>,
    /// Image tag.
    pub image_tag: Option<String>,
    /// Ring.
    pub env: Option<String>,
    /// Source commit.
    pub commit_id: Option<String>,
    /// HLD commit.
    pub hld_commit_id: Option<String>,
    /// Manifest commit.
    pub manifest_commit_id: Option<String>,
    /// Pull request id.
    pub pr: Option<String>,
    /// p1.
    pub p1: Option<String>,
    /// p2.
    pub p2: Option<String>,
    /// p3.
    pub p3: Option<String>,
    /// Any of p1, p2 or p3.
    pub run_id: Option<String>,
    /// Only records the store wrote at or after this time.
    pub changed_since: Option<DateTime<Utc>>,
    /// Only records whose last write came after this [`Record::sequence`] (stores that
    /// keep a sequence; others ignore it and are asked with [`Self::changed_since`]).
    pub after_sequence: Option<i64>,
}

macro_rules! setters {
    ($($name:ident),*) => {$(
        #[doc = concat!("Filters on `", stringify!($name), "` (normalized).")]
        pub fn $name(mut self, value: &str) -> Self {
            self.$name = Some(normalize(value).unwrap_or_default());
            self
        }
    )*};
}

impl RecordQuery {
    /// No filter: the whole partition.
    pub fn all() -> Self {
        Self::default()
    }

    setters!(
        row_key,
        image_tag,
        env,
        commit_id,
        hld_commit_id,
        manifest_commit_id,
        pr,
        p1,
        p2,
        p3,
        run_id
    );

    /// Only records written at or after `since`.
    pub fn changed_since(mut self, since: DateTime<Utc>) -> Self {
        self.changed_since = Some(since);
        self
    }

    /// Only records whose last write came after sequence `n`.
    pub fn after_sequence(mut self, n: i64) -> Self {
        self.after_sequence = Some(n);
        self
    }

    /// Whether `record` passes every filter (for stores that filter in memory).
    pub fn matches(&self, record: &Record) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref() == Some(w.as_str()),
        };
        let run = match &self.run_id {
            None => true,
            Some(id) => [&record.p1, &record.p2, &record.p3]
                .iter()
                .any(|p| p.as_deref() == Some(id.as_str())),
        };
        let since = match (self.changed_since, record.timestamp) {
            (None, _) => true,
            (Some(s), Some(t)) => t >= s,
            (Some(_), None) => false,
        };
        let after = match (self.after_sequence, record.sequence) {
            (Some(n), Some(seq)) => seq > n,
            _ => true,
        };
        self.row_key.as_ref().is_none_or(|k| *k == record.row_key)
            && eq(&self.image_tag, &record.image_tag)
            && eq(&self.env, &record.env)
            && eq(&self.commit_id, &record.commit_id)
            && eq(&self.hld_commit_id, &record.hld_commit_id)
            && eq(&self.manifest_commit_id, &record.manifest_commit_id)
            && eq(&self.pr, &record.pr)
            && eq(&self.p1, &record.p1)
            && eq(&self.p2, &record.p2)
            && eq(&self.p3, &record.p3)
            && run
            && since
            && after
    }

    /// The equality filters as `(column, value)` pairs by stored column name.
    pub fn equalities(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        let pairs: [(&'static str, &Option<String>); 10] = [
            ("imageTag", &self.image_tag),
            ("env", &self.env),
            ("commitId", &self.commit_id),
            ("hldCommitId", &self.hld_commit_id),
            ("manifestCommitId", &self.manifest_commit_id),
            ("pr", &self.pr),
            ("p1", &self.p1),
            ("p2", &self.p2),
            ("p3", &self.p3),
            ("RowKey", &self.row_key),
        ];
        for (col, v) in pairs {
            if let Some(v) = v {
                out.push((col, v.as_str()));
            }
        }
        out
    }
}

/// How long a store keeps a [`RecordStore::claim`]: longer than any two servers take to see
/// the same change.
pub const CLAIM_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The longest claim key a store takes: a deployment id and an event's own key (a cluster,
/// a step and run, a pull request) fit many times over.
pub const MAX_CLAIM_KEY_CHARS: usize = 4096;

/// That `key` and `holder` can be claimed: not empty, and at most [`MAX_CLAIM_KEY_CHARS`].
pub fn check_claim(key: &str, holder: &str) -> Result<()> {
    for (what, value) in [("claim key", key), ("claim holder", holder)] {
        let chars = value.chars().count();
        if chars == 0 || chars > MAX_CLAIM_KEY_CHARS {
            return Err(crate::Error::invalid(
                what,
                format!(
                    "is {chars} characters long; it must be 1 to {MAX_CLAIM_KEY_CHARS}: {}",
                    crate::text::clip_within(value, 80)
                ),
            ));
        }
    }
    Ok(())
}

/// That a record can absorb the record `gone` ([`RecordStore::replace_and_delete`]): not
/// itself.
pub fn check_merge(record: &Record, gone: &str) -> Result<()> {
    if record.row_key == gone {
        return Err(crate::Error::invalid(
            "record to delete",
            format!("'{gone}' is the record being replaced; a record cannot absorb itself"),
        ));
    }
    Ok(())
}

/// A store of deployment records, run reports and cluster reports.
///
/// Records come back in a stable order (the order the linking rules mean by "first" and
/// "last"): insertion order for the embedded stores. Writes of records are conditional:
/// [`RecordStore::replace`] succeeds only when the record's `etag` is still current and
/// otherwise returns [`crate::Error::Conflict`].
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Where the store is, for messages (`sqlite:/tmp/spektate.db`). Never holds a secret.
    fn describe(&self) -> String;

    /// How far before the newest timestamp seen a [`RecordQuery::changed_since`] read must
    /// reach so that a write that took long to commit is still read: the longest write the
    /// store allows. Unused by stores that keep a [`Record::sequence`].
    fn change_overlap(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }

    /// The records of `partition` that pass `query`, in the store's stable order.
    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>>;

    /// [`Self::query`], each record shared: what a tracker keeps. A store may build each
    /// record in its final place as it reads, so a large read never holds every record twice.
    async fn query_shared(
        &self,
        partition: &str,
        query: &RecordQuery,
    ) -> Result<Vec<std::sync::Arc<Record>>> {
        let records = self.query(partition, query).await?;
        Ok(records.into_iter().map(std::sync::Arc::new).collect())
    }

    /// The row keys of the records of `partition` that pass `query`: what a long-running
    /// reader compares with what it holds, to forget records deleted since
    /// ([`crate::TrackerBuilder::reconcile_every`]). Stores read the keys alone where they can.
    async fn row_keys(&self, partition: &str, query: &RecordQuery) -> Result<Vec<String>> {
        let records = self.query(partition, query).await?;
        Ok(records.into_iter().map(|r| r.row_key).collect())
    }

    /// Inserts a new record; [`crate::Error::Conflict`] when its row key exists.
    /// Returns the record as stored, with its timestamp and etag.
    async fn insert(&self, record: &Record) -> Result<Record>;

    /// Replaces a record if its `etag` is current; [`crate::Error::Conflict`] otherwise,
    /// [`crate::Error::NotFound`] when it is gone. Returns the record as stored.
    async fn replace(&self, record: &Record) -> Result<Record>;

    /// Deletes a record, if `etag` is current when given. Deleting a missing record is not an error.
    async fn delete(&self, partition: &str, row_key: &str, etag: Option<&str>) -> Result<()>;

    /// Replaces `record` as [`RecordStore::replace`] does and deletes the record `gone` of the
    /// same partition as [`RecordStore::delete`] does (if `gone_etag` is current when given).
    /// The stores of this crate, PostgreSQL and the Azure table write both or neither (one
    /// transaction): a [`crate::Error::Conflict`] on either writes nothing. An Azure table
    /// reached with a table SAS cannot batch: it checks the delete's ETag, then makes the
    /// two writes one after the other. The recorder
    /// merges a record into another this way, so no reader sees both or neither.
    ///
    /// The default makes the two writes one after the other: a conflict or failure of the
    /// delete leaves the replace written.
    async fn replace_and_delete(
        &self,
        record: &Record,
        gone: &str,
        gone_etag: Option<&str>,
    ) -> Result<Record> {
        check_merge(record, gone)?;
        let stored = self.replace(record).await?;
        self.delete(&record.partition_key, gone, gone_etag).await?;
        Ok(stored)
    }

    /// Stores a run report, conditionally: with no `etag` only when the run has no report
    /// yet, with an `etag` only over that version; otherwise [`crate::Error::Conflict`].
    /// Returns it with its `reported_at` and new `etag`.
    async fn put_run_report(&self, partition: &str, report: &RunReport) -> Result<RunReport>;

    /// The run reports of `partition` with these ids (missing ones are left out).
    async fn run_reports(&self, partition: &str, ids: &[String]) -> Result<Vec<RunReport>>;

    /// Adds what an agent reported of a cluster to that cluster's history, in its place by
    /// time ([`ClusterHistory::add`]): at most [`crate::model::cluster::MAX_CLUSTER_HISTORY`]
    /// reports per cluster, a report that repeats the state already current at its time
    /// changes nothing, and a late report never moves the cluster back. Writers racing on one
    /// cluster lose no report.
    async fn put_cluster_report(&self, partition: &str, report: &ClusterReport) -> Result<()>;

    /// The history of every cluster of `partition` that reported, ordered by cluster.
    async fn cluster_histories(&self, partition: &str) -> Result<Vec<ClusterHistory>>;

    /// Stores that a cluster applied a commit ([`Self::put_cluster_report`] of an applied
    /// report): a report older than the stored one does not change what the cluster runs.
    async fn put_cluster_sync(&self, partition: &str, sync: &ClusterSync) -> Result<()> {
        self.put_cluster_report(partition, &ClusterReport::applied(sync.clone()))
            .await
    }

    /// Whether the store keeps providers' final answers ([`Self::put_answers`]), so that
    /// a deployment's history outlives the CI's retention of its runs.
    fn keeps_answers(&self) -> bool {
        false
    }

    /// Whether this handle of the store adds answers ([`Self::put_answers`]): one opened for
    /// reading reads what a writer kept and adds none. [`Self::keeps_answers`] by default.
    fn writes_answers(&self) -> bool {
        self.keeps_answers()
    }

    /// Keeps final answers of providers (completed runs, their stages, commit authors,
    /// merged pull requests) for `partition`, each replacing the one of the same
    /// [`AnswerKey`]. Stores that keep none ([`Self::keeps_answers`] false) refuse.
    async fn put_answers(&self, partition: &str, answers: &[Answer]) -> Result<()> {
        let _ = answers;
        Err(crate::Error::Store {
            store: self.describe(),
            operation: format!("keep provider answers of partition {partition}"),
            message: "this store keeps no provider answers".into(),
        })
    }

    /// The answers of `partition` kept under these keys; keys with none are left out.
    async fn answers(&self, partition: &str, keys: &[AnswerKey]) -> Result<Vec<Answer>> {
        let _ = (partition, keys);
        Ok(Vec::new())
    }

    /// Claims `key` of `partition` for `holder` (a name unique to one process): `true` when
    /// the claim is `holder`'s, made now or by it before, `false` when another holder made it.
    /// Servers sharing a store claim each notification this way, so one of them sends it
    /// (docs/notifications.md). A claim is kept [`CLAIM_RETENTION`].
    ///
    /// The default keeps no claim, for a store no other process shares: every claim is the
    /// caller's.
    async fn claim(&self, partition: &str, key: &str, holder: &str) -> Result<bool> {
        let _ = (partition, key, holder);
        Ok(true)
    }

    /// The newest commit each cluster of `partition` applied ([`ClusterHistory::current`]).
    async fn cluster_syncs(&self, partition: &str) -> Result<Vec<ClusterSync>> {
        Ok(self
            .cluster_histories(partition)
            .await?
            .iter()
            .filter_map(ClusterHistory::current)
            .collect())
    }
}

/// How many times a store reads, changes and writes again an object another writer changed
/// meanwhile (a cluster's history) before it answers [`crate::Error::Conflict`].
pub const CONFLICT_ATTEMPTS: u32 = 32;

/// After a lost race: waits a little, longer after each attempt (up to about 56 ms) and with
/// jitter, so racing writers spread out instead of colliding again.
pub async fn back_off(attempt: u32) {
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    let ms = (u64::from(attempt.min(6)) + 1) * (1 + u64::from(b[0] % 8));
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}
