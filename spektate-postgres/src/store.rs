//! [`PostgresStore`]: a [`RecordStore`] in a PostgreSQL database, over a connection pool.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use spektate_core::cache::{Answer, AnswerKey};
use spektate_core::model::cluster::{ClusterHistory, ClusterReport};
use spektate_core::model::record::Record;
use spektate_core::model::run::RunReport;
use spektate_core::store::{CLAIM_RETENTION, RecordQuery, RecordStore, check_claim};
use spektate_core::{Error, Result};
use tokio::sync::OnceCell;
use tokio_postgres::types::{Json, ToSql};

/// Statement parameters as the driver takes them.
type Args<'a> = Vec<&'a (dyn ToSql + Sync)>;

use crate::read::{self, Time, column, truncated};
use crate::{answers, errors, records, schema, tls, url};

/// How long an operation waits for a free pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// TCP keepalive probes after this long without traffic, unless the URL sets
/// `keepalives_idle` (the driver's default is two hours).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// Probes an idle connection whose server vanished (a failover, a dropped route) so it
/// fails after about a minute of unanswered probes instead of hanging a refresh for hours.
/// What the URL sets is kept: `keepalives=0`, `keepalives_interval`, `keepalives_retries`,
/// and `keepalives_idle`, even at the driver's two-hour default.
fn dead_peer_detection(url: &mut url::ConnectionUrl) {
    let config = &mut url.config;
    if !config.get_keepalives() {
        return;
    }
    if !url.sets_keepalives_idle {
        config.keepalives_idle(KEEPALIVE_IDLE);
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(Duration::from_secs(10));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
}

/// How long making a new connection (TCP, TLS, authentication) may take in all.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most bytes of a cluster history or run report read, as jsonb text: what an Azure table
/// entity holds (1 MiB), far over what this store writes (a history keeps at most
/// [`MAX_CLUSTER_HISTORY`](spektate_core::model::cluster::MAX_CLUSTER_HISTORY) bounded reports,
/// some 600 kB at worst; a run report is refused over [`MAX_REPORT_WRITTEN`]). A longer value is
/// not read: the server sends null and its length, and it is skipped with a warning naming it,
/// as an unreadable one is.
const MAX_JSON_BYTES: i32 = 1 << 20;

/// The most bytes of JSON of a run report written: half of [`MAX_JSON_BYTES`], as jsonb's text
/// (a space after each `:` and `,`) is at most twice as long.
const MAX_REPORT_WRITTEN: usize = MAX_JSON_BYTES as usize / 2;

/// A [`RecordStore`] in a PostgreSQL database.
///
/// Opening connects nothing: the first operation connects and, for a writer
/// ([`PostgresStore::open`]), migrates the schema; a reader
/// ([`PostgresStore::open_existing`]) only checks it. [`PostgresStore::ready`] does that
/// at once. Clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    shown: Arc<str>,
    writer: bool,
    ready: Arc<OnceCell<()>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shown)
            .field("writer", &self.writer)
            .finish()
    }
}

impl PostgresStore {
    /// A store for writing at `url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=...`):
    /// its first use creates or upgrades the schema.
    pub fn open(url: &str) -> Result<Self> {
        Self::new(url, true)
    }

    /// A store for reading at `url`: its sessions are read-only, so it creates and changes
    /// nothing, and its first use fails when the database has no spektate schema or one from
    /// a newer spektate. A role with `SELECT` on the `spektate_*` tables is enough.
    pub fn open_existing(url: &str) -> Result<Self> {
        Self::new(url, false)
    }

    fn new(url: &str, writer: bool) -> Result<Self> {
        let shown: Arc<str> = url::redact(url).into();
        let open_error = |message: String| Error::store(shown.to_string(), "open", message);
        let mut parsed = url::parse(url).map_err(open_error)?;
        let tls =
            tls::client_config(parsed.ssl_mode, parsed.root_cert.as_ref()).map_err(open_error)?;
        dead_peer_detection(&mut parsed);
        let mut config = parsed.config;
        session_options(&mut config, writer);
        let manager = Manager::from_config(
            config,
            tls::Rustls(tls),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CREATE_TIMEOUT))
            .build()
            .map_err(|e| open_error(e.to_string()))?;
        Ok(PostgresStore {
            pool,
            shown,
            writer,
            ready: Arc::new(OnceCell::new()),
        })
    }

    /// Connects now: a writer creates or upgrades the schema, a reader checks it. Every
    /// operation does this first, once.
    pub async fn ready(&self) -> Result<()> {
        self.ready
            .get_or_try_init(|| async {
                let mut client = self.connect("connect").await?;
                let operation = if self.writer { "migrate" } else { "open" };
                let checked = if self.writer {
                    schema::migrate(&mut client).await
                } else {
                    schema::check(&client).await
                };
                checked
                    .map_err(|e| self.error(operation, errors::pg(&e)))?
                    .map_err(|reason| self.error(operation, reason))
            })
            .await
            .map(|_| ())
    }

    fn error(&self, operation: &str, message: impl fmt::Display) -> Error {
        Error::store(self.shown.to_string(), operation, message)
    }

    async fn connect(&self, operation: &str) -> Result<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| self.error(operation, errors::pool(&e, POOL_WAIT)))
    }

    /// A pooled connection to a ready store.
    async fn client(&self, operation: &str) -> Result<Object> {
        self.ready().await?;
        self.connect(operation).await
    }

    fn conflict(partition: &str, row_key: impl Into<String>) -> Error {
        Error::Conflict {
            partition: partition.to_string(),
            row_key: row_key.into(),
        }
    }

    async fn exists(&self, client: &Object, partition: &str, row_key: &str) -> Result<bool> {
        client
            .query_one(
                "SELECT EXISTS(SELECT 1 FROM spektate_records WHERE partition_key = $1 AND row_key = $2)",
                &[&partition, &row_key],
            )
            .await
            .map_err(|e| self.error("read", errors::pg(&e)))
            .and_then(|row| column(&row, 0).map_err(|problem| self.error("read", problem)))
    }
}

#[async_trait]
impl RecordStore for PostgresStore {
    fn describe(&self) -> String {
        self.shown.to_string()
    }

    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        let client = self.client("query").await?;
        let select = records::Select::new(partition, query);
        let rows = client
            .query(select.sql.as_str(), &select.args())
            .await
            .map_err(|e| self.error("query", errors::pg(&e)))?;
        rows.iter()
            .map(|row| records::from_row(row).map_err(|problem| self.error("query", problem)))
            .collect()
    }

    async fn row_keys(&self, partition: &str, query: &RecordQuery) -> Result<Vec<String>> {
        let client = self.client("query").await?;
        let select = records::Select::row_keys(partition, query);
        let rows = client
            .query(select.sql.as_str(), &select.args())
            .await
            .map_err(|e| self.error("query", errors::pg(&e)))?;
        rows.iter()
            .map(|row| {
                row.try_get::<_, String>(0)
                    .map_err(|e| self.error("query", errors::pg(&e)))
            })
            .collect()
    }

    async fn insert(&self, record: &Record) -> Result<Record> {
        records::check_values(record)?;
        let client = self.client("insert").await?;
        let values = records::column_values(record);
        let mut args: Args<'_> = vec![&record.partition_key, &record.row_key];
        args.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
        let statement = client
            .prepare_cached(&records::insert_sql())
            .await
            .map_err(|e| self.error("insert", errors::pg(&e)))?;
        match client.query_one(&statement, &args).await {
            Ok(row) => records::from_row(&row).map_err(|problem| self.error("insert", problem)),
            Err(e) if errors::is_unique_violation(&e) => {
                Err(Self::conflict(&record.partition_key, &record.row_key))
            }
            Err(e) => Err(self.error("insert", errors::pg(&e))),
        }
    }

    async fn replace(&self, record: &Record) -> Result<Record> {
        records::check_values(record)?;
        let client = self.client("replace").await?;
        let values = records::column_values(record);
        let version = record.etag.as_deref().map(records::version_of);
        let mut args: Args<'_> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        args.push(&record.partition_key);
        args.push(&record.row_key);
        if let Some(v) = &version {
            args.push(v);
        }
        let statement = client
            .prepare_cached(&records::replace_sql(version.is_some()))
            .await
            .map_err(|e| self.error("replace", errors::pg(&e)))?;
        let row = client
            .query_opt(&statement, &args)
            .await
            .map_err(|e| self.error("replace", errors::pg(&e)))?;
        match row {
            Some(row) => records::from_row(&row).map_err(|problem| self.error("replace", problem)),
            None if self
                .exists(&client, &record.partition_key, &record.row_key)
                .await? =>
            {
                Err(Self::conflict(&record.partition_key, &record.row_key))
            }
            None => Err(Error::NotFound {
                what: format!(
                    "record {} in partition {}",
                    record.row_key, record.partition_key
                ),
            }),
        }
    }

    async fn delete(&self, partition: &str, row_key: &str, etag: Option<&str>) -> Result<()> {
        let client = self.client("delete").await?;
        let deleted = match etag.map(records::version_of) {
            None => client
                .execute(
                    "DELETE FROM spektate_records WHERE partition_key = $1 AND row_key = $2",
                    &[&partition, &row_key],
                )
                .await,
            Some(version) => client
                .execute(
                    "DELETE FROM spektate_records WHERE partition_key = $1 AND row_key = $2 AND version = $3",
                    &[&partition, &row_key, &version],
                )
                .await,
        }
        .map_err(|e| self.error("delete", errors::pg(&e)))?;
        if deleted == 0 && etag.is_some() && self.exists(&client, partition, row_key).await? {
            return Err(Self::conflict(partition, row_key));
        }
        Ok(())
    }

    async fn replace_and_delete(
        &self,
        record: &Record,
        gone: &str,
        gone_etag: Option<&str>,
    ) -> Result<Record> {
        const OPERATION: &str = "replace and delete";
        spektate_core::store::check_merge(record, gone)?;
        records::check_values(record)?;
        let mut client = self.client(OPERATION).await?;
        let pg = |e: tokio_postgres::Error| self.error(OPERATION, errors::pg(&e));
        let values = records::column_values(record);
        let version = record.etag.as_deref().map(records::version_of);
        let mut args: Args<'_> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        args.push(&record.partition_key);
        args.push(&record.row_key);
        if let Some(v) = &version {
            args.push(v);
        }
        let partition = &record.partition_key;
        // One transaction: dropped without a commit on an error, it rolls both writes back.
        let tx = client.transaction().await.map_err(pg)?;
        let exists = |row_key: &str| {
            let tx = &tx;
            let row_key = row_key.to_string();
            async move {
                tx.query_one(
                    "SELECT EXISTS(SELECT 1 FROM spektate_records WHERE partition_key = $1 AND row_key = $2)",
                    &[partition, &row_key],
                )
                .await
                .map_err(pg)
                .and_then(|row| column(&row, 0).map_err(|problem| self.error(OPERATION, problem)))
            }
        };
        let statement = tx
            .prepare_cached(&records::replace_sql(version.is_some()))
            .await
            .map_err(pg)?;
        let stored = match tx.query_opt(&statement, &args).await.map_err(pg)? {
            Some(row) => {
                records::from_row(&row).map_err(|problem| self.error(OPERATION, problem))?
            }
            None if exists(&record.row_key).await? => {
                return Err(Self::conflict(partition, &record.row_key));
            }
            None => {
                return Err(Error::NotFound {
                    what: format!("record {} in partition {partition}", record.row_key),
                });
            }
        };
        let deleted = match gone_etag.map(records::version_of) {
            None => tx
                .execute(
                    "DELETE FROM spektate_records WHERE partition_key = $1 AND row_key = $2",
                    &[partition, &gone],
                )
                .await,
            Some(v) => tx
                .execute(
                    "DELETE FROM spektate_records WHERE partition_key = $1 AND row_key = $2 AND version = $3",
                    &[partition, &gone, &v],
                )
                .await,
        }
        .map_err(pg)?;
        if deleted == 0 && gone_etag.is_some() && exists(gone).await? {
            return Err(Self::conflict(partition, gone));
        }
        tx.commit().await.map_err(pg)?;
        Ok(stored)
    }

    async fn put_run_report(&self, partition: &str, report: &RunReport) -> Result<RunReport> {
        let mut stored = report.clone();
        stored.etag = None;
        stored.reported_at = None;
        let length = serde_json::to_string(&stored).map_or(0, |s| s.len());
        if length > MAX_REPORT_WRITTEN {
            return Err(Error::invalid(
                format!("run report {}", truncated(&report.id)),
                format!("is {length} bytes of JSON; the limit is {MAX_REPORT_WRITTEN}"),
            ));
        }
        let client = self.client("put run report").await?;
        let json = Json(&stored);
        let row = match report.etag.as_deref() {
            None => {
                client
                    .query_opt(
                        "INSERT INTO spektate_run_reports (partition_key, run_id, report, reported_at, version) \
                         VALUES ($1, $2, $3, now(), 1) ON CONFLICT (partition_key, run_id) DO NOTHING \
                         RETURNING version, reported_at",
                        &[&partition, &report.id, &json],
                    )
                    .await
            }
            Some(etag) => {
                client
                    .query_opt(
                        "UPDATE spektate_run_reports SET report = $3, reported_at = now(), version = version + 1 \
                         WHERE partition_key = $1 AND run_id = $2 AND version = $4 \
                         RETURNING version, reported_at",
                        &[&partition, &report.id, &json, &records::version_of(etag)],
                    )
                    .await
            }
        }
        .map_err(|e| self.error("put run report", errors::pg(&e)))?;
        let row =
            row.ok_or_else(|| Self::conflict(partition, format!("run report {}", report.id)))?;
        let written = |problem: String| {
            self.error(
                "put run report",
                format!("run report {} as written: {problem}", report.id),
            )
        };
        stored.etag = Some(column::<i64>(&row, 0).map_err(written)?.to_string());
        stored.reported_at = Some(column::<Time>(&row, 1).map_err(written)?.0);
        Ok(stored)
    }

    async fn run_reports(&self, partition: &str, ids: &[String]) -> Result<Vec<RunReport>> {
        let client = self.client("read run reports").await?;
        let rows = client
            .query(
                // As text: jsonb holds numbers and nesting serde_json refuses. Only within the
                // bound: a longer report never crosses the wire.
                "SELECT CASE WHEN octet_length(report::text) <= $3 THEN report::text END, \
                 version, reported_at, run_id, octet_length(report::text) \
                 FROM spektate_run_reports WHERE partition_key = $1 AND run_id = ANY($2)",
                &[&partition, &ids, &MAX_JSON_BYTES],
            )
            .await
            .map_err(|e| self.error("read run reports", errors::pg(&e)))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let read = || -> std::result::Result<RunReport, String> {
                let json =
                    column::<Option<&str>>(&row, 0)?.ok_or_else(|| too_long(&row, "report", 4))?;
                let mut report = serde_json::from_str::<RunReport>(json)
                    .map_err(|e| format!("column report: {e}"))?;
                report.etag = Some(column::<i64>(&row, 1)?.to_string());
                report.reported_at = Some(column::<Time>(&row, 2)?.0);
                Ok(report)
            };
            match read() {
                Ok(report) => out.push(report),
                Err(problem) => tracing::warn!(
                    "skipping the run report {} of partition {}: {problem}",
                    truncated(&column::<String>(&row, 3).unwrap_or_default()),
                    truncated(partition)
                ),
            }
        }
        Ok(out)
    }

    async fn put_cluster_report(&self, partition: &str, report: &ClusterReport) -> Result<()> {
        report.check()?;
        let client = self.client("put cluster report").await?;
        let cluster = &report.sync.cluster;
        // Read, add, and write only over the history read (or only where there was none):
        // a writer that lost the race waits a moment and reads again.
        for attempt in 0..spektate_core::store::CONFLICT_ATTEMPTS {
            if attempt > 0 {
                spektate_core::store::back_off(attempt).await;
            }
            let row = client
                .query_opt(
                    "SELECT CASE WHEN octet_length(sync::text) <= $3 THEN sync::text END, \
                     octet_length(sync::text) \
                     FROM spektate_cluster_syncs WHERE partition_key = $1 AND cluster = $2",
                    &[&partition, cluster, &MAX_JSON_BYTES],
                )
                .await
                .map_err(|e| self.error("put cluster report", errors::pg(&e)))?;
            // None: no history; Some(None): one too long to read.
            let stored: Option<Option<String>> = row
                .as_ref()
                .map(|r| column(r, 0))
                .transpose()
                .map_err(|problem| {
                    self.error(
                        "put cluster report",
                        history_problem(partition, cluster, &problem),
                    )
                })?;
            let read = stored
                .as_ref()
                .and_then(|json| json.as_deref())
                .and_then(ClusterHistory::from_stored)
                .filter(|h| &h.cluster == cluster);
            if let (Some(row), Some(json), None) = (&row, &stored, &read) {
                let problem = match json {
                    Some(json) => not_a_history(json),
                    None => too_long(row, "sync", 1),
                };
                tracing::warn!(
                    "replacing {}",
                    history_problem(partition, cluster, &problem)
                );
            }
            let mut history = read.unwrap_or_else(|| ClusterHistory::new(cluster));
            if !history.add(report.clone()) {
                return Ok(());
            }
            let json: serde_json::Value =
                serde_json::from_str(&history.to_stored()).unwrap_or_default();
            let at = history.current().and_then(|s| s.synced_at);
            let written = match &stored {
                None => client
                    .execute(
                        "INSERT INTO spektate_cluster_syncs (partition_key, cluster, sync, synced_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (partition_key, cluster) DO NOTHING",
                        &[&partition, cluster, &Json(&json), &at],
                    )
                    .await,
                Some(Some(old)) => client
                    .execute(
                        "UPDATE spektate_cluster_syncs SET sync = $3, synced_at = $4 \
                         WHERE partition_key = $1 AND cluster = $2 AND sync::text = $5",
                        &[&partition, cluster, &Json(&json), &at, old],
                    )
                    .await,
                // Replaces it only while it is still too long to read.
                Some(None) => client
                    .execute(
                        "UPDATE spektate_cluster_syncs SET sync = $3, synced_at = $4 \
                         WHERE partition_key = $1 AND cluster = $2 AND octet_length(sync::text) > $5",
                        &[&partition, cluster, &Json(&json), &at, &MAX_JSON_BYTES],
                    )
                    .await,
            }
            .map_err(|e| self.error("put cluster report", errors::pg(&e)))?;
            if written == 1 {
                return Ok(());
            }
        }
        Err(Error::Conflict {
            partition: partition.to_string(),
            row_key: format!("cluster {cluster}"),
        })
    }

    fn keeps_answers(&self) -> bool {
        true
    }

    fn writes_answers(&self) -> bool {
        self.writer
    }

    async fn claim(&self, partition: &str, key: &str, holder: &str) -> Result<bool> {
        const OPERATION: &str = "claim";
        check_claim(key, holder)?;
        if !self.writer {
            return Err(self.error(
                OPERATION,
                "the store was opened for reading; a claim needs a store opened for writing",
            ));
        }
        let client = self.client(OPERATION).await?;
        let pg = |e: tokio_postgres::Error| self.error(OPERATION, errors::pg(&e));
        let keep = CLAIM_RETENTION.as_secs_f64();
        client
            .execute(
                "DELETE FROM spektate_claims WHERE claimed_at < now() - make_interval(secs => $1)",
                &[&keep],
            )
            .await
            .map_err(pg)?;
        let made = client
            .query_opt(
                "INSERT INTO spektate_claims (partition_key, key, holder) VALUES ($1, $2, $3) \
                 ON CONFLICT (partition_key, key) DO NOTHING RETURNING holder",
                &[&partition, &key, &holder],
            )
            .await
            .map_err(pg)?;
        if made.is_some() {
            return Ok(true);
        }
        // Another claim was there (committed, as the insert waited for it): whose is it?
        let owner: Option<String> = client
            .query_opt(
                "SELECT holder FROM spektate_claims WHERE partition_key = $1 AND key = $2",
                &[&partition, &key],
            )
            .await
            .map_err(pg)?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(pg)?;
        Ok(owner.as_deref() == Some(holder))
    }

    async fn put_answers(&self, partition: &str, kept: &[Answer]) -> Result<()> {
        const OPERATION: &str = "keep provider answers";
        answers::check_partition(partition).map_err(|e| self.error(OPERATION, e))?;
        if !self.writer {
            return Err(self.error(
                OPERATION,
                format!(
                    "partition {partition}: the store was opened for reading; answers are kept \
                     by a store opened for writing (record, serve)"
                ),
            ));
        }
        let rows = answers::rows(partition, kept);
        if rows.is_empty() {
            return Ok(());
        }
        let mut client = self.client(OPERATION).await?;
        let pg = |e: tokio_postgres::Error| self.error(OPERATION, errors::pg(&e));
        // One transaction: a call's answers are all kept or none.
        let tx = client.transaction().await.map_err(pg)?;
        let statement = tx.prepare_cached(answers::UPSERT_SQL).await.map_err(pg)?;
        for chunk in answers::chunks(&rows) {
            let column =
                |f: fn(&answers::Row) -> &str| -> Vec<&str> { chunk.iter().map(f).collect() };
            let (namespaces, kinds, ids, values) = (
                column(|r| &r.key.namespace),
                column(|r| &r.key.kind),
                column(|r| &r.key.id),
                column(|r| &r.value),
            );
            tx.execute(
                &statement,
                &[&partition, &namespaces, &kinds, &ids, &values],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn answers(&self, partition: &str, keys: &[AnswerKey]) -> Result<Vec<Answer>> {
        const OPERATION: &str = "read provider answers";
        answers::check_partition(partition).map_err(|e| self.error(OPERATION, e))?;
        let wanted = answers::wanted_keys(keys)?;
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client(OPERATION).await?;
        let pg = |e: tokio_postgres::Error| self.error(OPERATION, errors::pg(&e));
        let statement = match client.prepare_cached(answers::SELECT_SQL).await {
            Ok(statement) => statement,
            // A database of schema version 1, read before a writer upgraded it, keeps none.
            Err(e) if errors::is_undefined_table(&e) => return Ok(Vec::new()),
            Err(e) => return Err(pg(e)),
        };
        let limit = answers::MAX_VALUE_BYTES as i32;
        let mut out = Vec::new();
        for chunk in wanted.chunks(answers::ROWS_PER_STATEMENT) {
            let column =
                |f: fn(&AnswerKey) -> &str| -> Vec<&str> { chunk.iter().map(|k| f(k)).collect() };
            let (namespaces, kinds, ids) = (
                column(|k| &k.namespace),
                column(|k| &k.kind),
                column(|k| &k.id),
            );
            let rows = client
                .query(&statement, &[&partition, &namespaces, &kinds, &ids, &limit])
                .await
                .map_err(pg)?;
            for row in rows {
                let key = AnswerKey {
                    namespace: read::column(&row, 0).map_err(|e| self.error(OPERATION, e))?,
                    kind: read::column(&row, 1).map_err(|e| self.error(OPERATION, e))?,
                    id: read::column(&row, 2).map_err(|e| self.error(OPERATION, e))?,
                };
                let answer = match read::column::<Option<&str>>(&row, 3) {
                    Ok(Some(value)) => {
                        Answer::from_stored(key.clone(), value).map_err(|e| e.to_string())
                    }
                    Ok(None) => Err(read::column::<i32>(&row, 4).map_or_else(
                        |problem| problem,
                        |n| {
                            format!(
                                "its value is {n} bytes, more than {}",
                                answers::MAX_VALUE_BYTES
                            )
                        },
                    )),
                    Err(problem) => Err(problem),
                }
                .map_err(|problem| {
                    self.error(OPERATION, answers::unreadable(partition, &key, &problem))
                })?;
                out.push(answer);
            }
        }
        Ok(out)
    }

    async fn cluster_histories(&self, partition: &str) -> Result<Vec<ClusterHistory>> {
        let client = self.client("read cluster histories").await?;
        let rows = client
            .query(
                // As text: jsonb holds numbers and nesting serde_json refuses. Only within the
                // bound: a longer history never crosses the wire. The cluster names it in a
                // warning.
                "SELECT left(cluster, 80), \
                 CASE WHEN octet_length(sync::text) <= $2 THEN sync::text END, \
                 octet_length(sync::text) \
                 FROM spektate_cluster_syncs WHERE partition_key = $1 ORDER BY cluster",
                &[&partition, &MAX_JSON_BYTES],
            )
            .await
            .map_err(|e| self.error("read cluster histories", errors::pg(&e)))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let cluster: String = column(row, 0).unwrap_or_default();
            let read = column::<Option<&str>>(row, 1).and_then(|json| match json {
                Some(json) => ClusterHistory::from_stored(json).ok_or_else(|| not_a_history(json)),
                None => Err(too_long(row, "sync", 2)),
            });
            match read {
                Ok(history) => out.push(history),
                Err(problem) => tracing::warn!(
                    "skipping {}",
                    history_problem(partition, &cluster, &problem)
                ),
            }
        }
        Ok(out)
    }
}

/// Names a cluster's stored history and what is wrong with it.
fn history_problem(partition: &str, cluster: &str, problem: &str) -> String {
    format!(
        "the history of cluster {} in partition {}: {problem}",
        truncated(cluster),
        truncated(partition)
    )
}

/// Why a value of `name` was not read: its length, in column `length` of `row`, is over
/// [`MAX_JSON_BYTES`].
fn too_long(row: &tokio_postgres::Row, name: &str, length: usize) -> String {
    match column::<i32>(row, length) {
        Ok(n) => format!("column {name} is {n} bytes, more than the {MAX_JSON_BYTES} read"),
        Err(problem) => problem,
    }
}

/// Why `json`, stored for a cluster, is no history of it: another cluster's, or not one.
fn not_a_history(json: &str) -> String {
    match ClusterHistory::from_stored(json) {
        Some(h) => format!(
            "column sync: it is the history of cluster {}",
            truncated(&h.cluster)
        ),
        None => match serde_json::from_str::<ClusterHistory>(json) {
            Err(e) => format!("column sync: {e}"),
            Ok(_) => "column sync: it is no cluster history".to_string(),
        },
    }
}

/// How long a statement waits for a lock (a partition's write lock, the migration lock)
/// before it fails, unless the URL's `options` say otherwise.
pub const LOCK_TIMEOUT: &str = "30s";

/// How long a session may sit in an open transaction doing nothing before the server ends
/// it, releasing its locks, unless the URL's `options` say otherwise.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

/// The sessions' settings, before the URL's own `options` (which win): a writer that
/// stalls inside a transaction (a paused VM, a lost network) releases the partition's
/// lock within [`IDLE_IN_TRANSACTION_TIMEOUT`], and no writer waits for a lock longer than
/// [`LOCK_TIMEOUT`], so one stalled session cannot hold every pooled connection. A reader's
/// sessions refuse every write, whatever the role may do.
fn session_options(config: &mut tokio_postgres::Config, writer: bool) {
    let mut options = format!(
        "-c lock_timeout={LOCK_TIMEOUT} -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT}"
    );
    if let Some(own) = config.get_options().filter(|o| !o.trim().is_empty()) {
        options.push(' ');
        options.push_str(own);
    }
    if !writer {
        options.push_str(" -c default_transaction_read_only=on");
    }
    config.options(&options);
}

#[cfg(test)]
mod keepalive_tests {
    use super::*;

    fn detected(url: &str) -> tokio_postgres::Config {
        let mut c = url::parse(url).unwrap();
        dead_peer_detection(&mut c);
        c.config
    }

    #[test]
    fn a_dead_server_is_noticed_within_a_minute_unless_the_url_says_otherwise() {
        let default = detected("postgres://spektate@db/s");
        assert_eq!(default.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(
            default.get_keepalives_interval(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(default.get_keepalives_retries(), Some(3));
        let set = detected(
            "postgres://db/s?keepalives_idle=600&keepalives_interval=5&keepalives_retries=9",
        );
        assert_eq!(set.get_keepalives_idle(), Duration::from_secs(600));
        assert_eq!(set.get_keepalives_interval(), Some(Duration::from_secs(5)));
        assert_eq!(set.get_keepalives_retries(), Some(9));
        let off = detected("postgres://db/s?keepalives=0");
        assert_eq!(off.get_keepalives_interval(), None);
    }

    #[test]
    fn a_url_that_sets_the_drivers_default_idle_keeps_it() {
        for url in [
            "postgres://db/s?keepalives_idle=7200",
            "postgres://db/s?sslmode=disable&keepalives%5Fidle=7200",
        ] {
            assert_eq!(
                detected(url).get_keepalives_idle(),
                Duration::from_secs(7200),
                "{url}"
            );
        }
    }
}

#[cfg(test)]
mod session_tests {
    use super::*;

    fn options(url: &str, writer: bool) -> String {
        let mut c = url::parse(url).unwrap().config;
        session_options(&mut c, writer);
        c.get_options().unwrap().to_string()
    }

    #[test]
    fn sessions_time_out_stalled_transactions_and_lock_waits_unless_the_url_says_otherwise() {
        assert_eq!(
            options("postgres://db/s", true),
            "-c lock_timeout=30s -c idle_in_transaction_session_timeout=60s"
        );
        // The URL's options come after, so they win; a reader's read-only comes last.
        assert_eq!(
            options("postgres://db/s?options=-c%20lock_timeout%3D5s", false),
            "-c lock_timeout=30s -c idle_in_transaction_session_timeout=60s -c lock_timeout=5s \
             -c default_transaction_read_only=on"
        );
    }
}
