//! The embedded record store: one SQLite file, WAL mode and a busy timeout, so several
//! pipeline steps on one agent (threads or processes) can record at once. Writers sync every
//! commit to disk (`synchronous=FULL`); readers open the file read-only and change nothing.
//! Every write takes the next value of a change sequence while it holds the write lock, so
//! a reader that asks for what came after the last value it saw misses no commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};

use super::{CLAIM_RETENTION, RecordQuery, RecordStore, check_claim};
use crate::cache::{Answer, AnswerKey};
use crate::error::{Error, Result};
use crate::model::cluster::{ClusterHistory, ClusterReport};
use crate::model::record::{COLUMNS, Record};
use crate::model::run::RunReport;

/// The schema version this build writes (kept in SQLite's `user_version`); readers also
/// read versions 1 to 3. Tables and indexes added since without a new version, because
/// readers need none of them (`ADDED`, `ADDED_INDEXES`), are made by every writer when
/// missing, so older readers still read the file.
pub const SCHEMA_VERSION: i64 = 4;

/// Version 1: records, run reports and cluster syncs.
const SCHEMA_V1: &str = r#"
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    partition_key TEXT NOT NULL,
    row_key TEXT NOT NULL,
    service TEXT, commitId TEXT, imageTag TEXT, p1 TEXT, p2 TEXT, p3 TEXT, env TEXT,
    hldCommitId TEXT, manifestCommitId TEXT, pr TEXT, sourceRepo TEXT, hldRepo TEXT,
    manifestRepo TEXT,
    timestamp TEXT NOT NULL,
    version INTEGER NOT NULL,
    UNIQUE (partition_key, row_key)
);
CREATE INDEX IF NOT EXISTS records_image ON records (partition_key, imageTag);
CREATE INDEX IF NOT EXISTS records_hld ON records (partition_key, hldCommitId);
CREATE INDEX IF NOT EXISTS records_p3 ON records (partition_key, p3);
CREATE INDEX IF NOT EXISTS records_time ON records (partition_key, timestamp);
CREATE TABLE IF NOT EXISTS run_reports (
    partition_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    report TEXT NOT NULL,
    reported_at TEXT NOT NULL,
    PRIMARY KEY (partition_key, run_id)
);
CREATE TABLE IF NOT EXISTS cluster_syncs (
    partition_key TEXT NOT NULL,
    cluster TEXT NOT NULL,
    sync TEXT NOT NULL,
    PRIMARY KEY (partition_key, cluster)
);
"#;

/// Version 2: a change sequence on records, taken at commit; indexes on p1 and p2, so a
/// write finds its record without scanning the partition; versions of run reports and the
/// time of cluster syncs, for conditional writes.
const SCHEMA_V2: &str = r#"
ALTER TABLE records ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE records SET change_seq = seq;
CREATE INDEX IF NOT EXISTS records_change ON records (change_seq);
CREATE INDEX IF NOT EXISTS records_p1 ON records (partition_key, p1);
CREATE INDEX IF NOT EXISTS records_p2 ON records (partition_key, p2);
ALTER TABLE run_reports ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE cluster_syncs ADD COLUMN synced_at TEXT NOT NULL DEFAULT '';
"#;

/// Indexes of every version a writer adds when missing, by name: no reader needs one to read
/// the file, so they come without a new version and readers of earlier builds still read it.
///
/// - `records_partition`: a partition's records in write order, so reading them scans the
///   table in order rather than seeking each row through another index and sorting them all
///   (at 100,000 records, half of `get --since all`);
/// - `records_partition_change`: a partition's records by change sequence, so a tracker's
///   refresh (`RecordQuery::after_sequence`) reads what changed, not the whole partition
///   (`records_change`, on the sequence alone, only finds the next sequence);
/// - `records_pr`: a partition's records by approval pull request, which the recorder looks
///   up on most metadata writes.
const ADDED_INDEXES: [(&str, &str); 3] = [
    (
        "records_partition",
        "CREATE INDEX IF NOT EXISTS records_partition ON records (partition_key)",
    ),
    (
        "records_partition_change",
        "CREATE INDEX IF NOT EXISTS records_partition_change ON records (partition_key, change_seq)",
    ),
    (
        "records_pr",
        "CREATE INDEX IF NOT EXISTS records_pr ON records (partition_key, pr)",
    ),
];

/// Version 3: providers' final answers, one row per partition and key, the key being the
/// primary index.
const SCHEMA_V3: &str = r#"
CREATE TABLE IF NOT EXISTS answers (
    partition_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    ns TEXT NOT NULL,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (partition_key, kind, ns, id)
) WITHOUT ROWID;
"#;

/// Version 4: the highest change sequence of a deleted record, so a write after the newest
/// record was deleted never takes its sequence again (a reader already past it would never
/// read that write).
const SCHEMA_V4: &str = r#"
CREATE TABLE IF NOT EXISTS change_floor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
"#;

/// Added without a version (no reader reads them): claims of servers sharing the store
/// ([`RecordStore::claim`]), by partition and key, with the holder and when it claimed (Unix
/// seconds), for forgetting old ones.
const ADDED: &str = r#"
CREATE TABLE IF NOT EXISTS claims (
    partition_key TEXT NOT NULL,
    key TEXT NOT NULL,
    holder TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (partition_key, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS claims_time ON claims (claimed_at);
"#;

/// Keys read by one statement: three parameters each, under SQLite's parameter limit.
const ANSWER_KEYS_PER_READ: usize = 300;

/// The next change sequence: past every record's and every deleted one's; evaluated inside a
/// write, under SQLite's write lock.
const NEXT_SEQ: &str = "(SELECT MAX(COALESCE((SELECT MAX(change_seq) FROM records), 0), \
     COALESCE((SELECT n FROM change_floor WHERE id = 1), 0)) + 1)";

/// Raises the floor of change sequences to the sequence of the record about to be deleted.
/// The version counts too: in a file upgraded from version 1 a row's version may exceed its
/// sequence, and a key written again must start past every version it had.
const RAISE_FLOOR: &str = "INSERT INTO change_floor (id, n) \
     SELECT 1, MAX(change_seq, version) FROM records WHERE partition_key = ? AND row_key = ? \
     ON CONFLICT (id) DO UPDATE SET n = MAX(n, excluded.n)";

/// The statement and arguments reading `query`'s records of `partition`, in write order.
fn query_sql(has_seq: bool, partition: &str, query: &RecordQuery) -> (String, Vec<String>) {
    query_sql_of(&select(has_seq), has_seq, partition, query)
}

/// [`query_sql`] selecting `columns` (`SELECT ... FROM records`).
fn query_sql_of(
    columns: &str,
    has_seq: bool,
    partition: &str,
    query: &RecordQuery,
) -> (String, Vec<String>) {
    let mut sql = format!("{columns} WHERE partition_key = ?");
    let mut args: Vec<String> = vec![partition.to_string()];
    for (col, v) in query.equalities() {
        let col = if col == "RowKey" { "row_key" } else { col };
        sql.push_str(&format!(" AND {col} = ?"));
        args.push(v.to_string());
    }
    if let Some(id) = &query.run_id {
        sql.push_str(" AND (p1 = ? OR p2 = ? OR p3 = ?)");
        args.extend([id.clone(), id.clone(), id.clone()]);
    }
    if let Some(since) = query.changed_since {
        sql.push_str(" AND timestamp >= ?");
        args.push(since.to_rfc3339_opts(SecondsFormat::Micros, true));
    }
    if let (Some(after), true) = (query.after_sequence, has_seq) {
        sql.push_str(" AND change_seq > ?");
        args.push(after.to_string());
    }
    sql.push_str(" ORDER BY seq");
    (sql, args)
}

/// A [`RecordStore`] in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    /// Whether the file has the change sequence (a reader of a version 1 file has not).
    has_seq: bool,
    /// Whether the file has the answers table (a reader of a version 1 or 2 file has not).
    has_answers: bool,
    /// Whether the file is open for writing.
    writable: bool,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` for writing, upgrading its schema.
    /// A SQLite file of another application is refused, not turned into a store.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let described = format!("sqlite:{}", path.display());
        let mut conn = Connection::open(&path).map_err(|e| Error::store(&described, "open", e))?;
        conn.busy_timeout(BUSY_WAIT)
            .map_err(|e| Error::store(&described, "open", e))?;
        retry_busy(
            BUSY_WAIT,
            || prepare_for_writing(&mut conn, &described),
            |e| matches!(e, DbError::Sql(e) if is_busy(e)),
        )
        .map_err(|e| match e {
            DbError::Sql(e) => Error::store(&described, "open", e),
            DbError::Core(e) => e,
        })?;
        Ok(SqliteStore {
            path,
            conn: Arc::new(Mutex::new(conn)),
            has_seq: true,
            has_answers: true,
            writable: true,
        })
    }

    /// Opens an existing store read-only, for readers: nothing in the file changes (no
    /// journal mode switch, no migration), so it works on a read-only file or mount. A
    /// missing file, or a file that is not a spektate store, is an error naming it.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let err = |op: &str, e: &dyn std::fmt::Display| {
            Error::store(format!("sqlite:{}", path.display()), op, e)
        };
        if !path.is_file() {
            return Err(err(
                "open",
                &"no such file (record a deployment first, or check --store)",
            ));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .and_then(|c| {
                // Before the first read: a writer closing or a recovery answers busy a moment.
                c.busy_timeout(BUSY_WAIT)?;
                schema_version(&c).map(|v| (c, v))
            })
            .or_else(|e| {
                // A WAL file on a read-only mount, with no -shm beside it (SQLite cannot open
                // or create it): read it as immutable. Any other error is the answer; an
                // immutable reader would see no later write.
                let cannot_open_shm = matches!(
                    &e,
                    rusqlite::Error::SqliteFailure(f, _)
                        if matches!(f.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
                );
                if !cannot_open_shm {
                    return Err(e);
                }
                let uri = format!("file:{}?immutable=1", path.display());
                let c = Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?;
                c.busy_timeout(BUSY_WAIT)?;
                schema_version(&c).map(|v| (c, v))
            });
        let (conn, version) = conn.map_err(|e| err("open", &e))?;
        if version > SCHEMA_VERSION {
            return Err(err("open", &newer(version)));
        }
        let has_records: bool = conn
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| err("open", &e))?;
        if version == 0 || !has_records {
            return Err(err(
                "open",
                &"is not a spektate store (no spektate schema); check --store",
            ));
        }
        Ok(SqliteStore {
            path,
            conn: Arc::new(Mutex::new(conn)),
            has_seq: version >= 2,
            has_answers: version >= 3,
            writable: false,
        })
    }

    /// The file behind the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // rusqlite rolls back an unfinished statement on drop, so a poisoned lock still
        // guards a consistent connection.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn with<T, F>(&self, operation: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> std::result::Result<T, DbError> + Send + 'static,
    {
        let this = self.clone();
        let described = self.describe();
        // The caller's subscriber, so what the work logs goes where the caller's logs go.
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        tokio::task::spawn_blocking(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let conn = this.lock();
                f(&conn)
            })
        })
        .await
        .map_err(|e| Error::store(&described, operation, e))?
        .map_err(|e| match e {
            DbError::Sql(e) => Error::store(&described, operation, e),
            DbError::Core(e) => e,
        })
    }
}

enum DbError {
    Sql(rusqlite::Error),
    Core(Error),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sql(e)
    }
}

/// Replaces the row of `stored` (if its etag, the row's version, is current) and gives it
/// its new timestamp, etag and change sequence.
fn replace_row(conn: &Connection, stored: &mut Record) -> std::result::Result<(), DbError> {
    let (now, now_s) = now_text();
    let sets: Vec<String> = COLUMNS.iter().map(|c| format!("{c} = ?")).collect();
    let mut args = column_values(stored);
    args.push(Some(now_s));
    args.push(Some(stored.partition_key.clone()));
    args.push(Some(stored.row_key.clone()));
    let mut sql = format!(
        "UPDATE records SET {}, timestamp = ?, version = version + 1, change_seq = {NEXT_SEQ} \
         WHERE partition_key = ? AND row_key = ?",
        sets.join(", ")
    );
    if let Some(etag) = &stored.etag {
        sql.push_str(" AND version = ?");
        args.push(Some(etag.clone()));
    }
    sql.push_str(" RETURNING version, change_seq");
    let version: Option<(i64, i64)> = conn
        .query_row(&sql, params_from_iter(args.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match version {
        Some((v, seq)) => {
            stored.timestamp = Some(now);
            stored.etag = Some(v.to_string());
            stored.sequence = Some(seq);
            Ok(())
        }
        None => {
            let exists: bool = conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM records WHERE partition_key = ? AND row_key = ?)",
                params![stored.partition_key, stored.row_key],
                |r| r.get(0),
            )?;
            Err(DbError::Core(if exists {
                Error::Conflict {
                    partition: stored.partition_key.clone(),
                    row_key: stored.row_key.clone(),
                }
            } else {
                Error::NotFound {
                    what: format!(
                        "record {} in partition {}",
                        stored.row_key, stored.partition_key
                    ),
                }
            }))
        }
    }
}

/// Deletes a row, if `etag` (its version) is current when given; a missing row is no error.
fn delete_row(
    conn: &Connection,
    partition: String,
    row_key: String,
    etag: Option<String>,
) -> std::result::Result<(), DbError> {
    // Before the delete: a floor raised for a delete that then fails only leaves a gap.
    conn.execute(RAISE_FLOOR, params![partition, row_key])?;
    let n = match &etag {
        None => conn.execute(
            "DELETE FROM records WHERE partition_key = ? AND row_key = ?",
            params![partition, row_key],
        )?,
        Some(v) => conn.execute(
            "DELETE FROM records WHERE partition_key = ? AND row_key = ? AND version = ?",
            params![partition, row_key, v],
        )?,
    };
    if n == 0 && etag.is_some() {
        let exists: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM records WHERE partition_key = ? AND row_key = ?)",
            params![partition, row_key],
            |r| r.get(0),
        )?;
        if exists {
            return Err(DbError::Core(Error::Conflict { partition, row_key }));
        }
    }
    Ok(())
}

fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn newer(version: i64) -> String {
    format!(
        "schema version {version} was written by a newer spektate; this one reads up to version {SCHEMA_VERSION}"
    )
}

/// Whether the file holds tables but no spektate schema. One statement reads both, so a
/// writer creating the schema at that moment is seen either before or after, never half.
fn is_foreign(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version) = 0 \
         AND EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table')",
        [],
        |r| r.get(0),
    )
}

/// How long a writer waits for a lock another connection holds.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// Whether SQLite answered that another connection holds a lock this one needs.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy)
}

/// Runs `f` again while it is answered busy, starting no attempt after `wait` (an attempt
/// may itself wait up to the connection's busy timeout). SQLite's busy handler does
/// not wait where waiting could deadlock: a connection that already reads and then needs
/// the write lock is answered busy at once. Making a new file a WAL store does that, so
/// processes opening a new file together are answered busy; they try again here.
pub(crate) fn retry_busy<T, E>(
    wait: Duration,
    mut f: impl FnMut() -> std::result::Result<T, E>,
    busy: impl Fn(&E) -> bool,
) -> std::result::Result<T, E> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(2);
    loop {
        match f() {
            Err(e) if busy(&e) && Instant::now() + pause < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            done => return done,
        }
    }
}

/// Makes the file behind `conn` a WAL store of this schema version: refuses another
/// application's database and a newer schema, creates or upgrades the schema otherwise.
fn prepare_for_writing(conn: &mut Connection, described: &str) -> std::result::Result<(), DbError> {
    let refuse = |why: String| DbError::Core(Error::store(described, "open", why));
    if is_foreign(conn)? {
        return Err(refuse(
            "is a SQLite database of another application (it has tables and no spektate schema); give a new file".into(),
        ));
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let version = schema_version(conn)?;
    if version > SCHEMA_VERSION {
        return Err(refuse(newer(version)));
    }
    if version == SCHEMA_VERSION {
        return Ok(ensure_added(conn)?);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Another writer may have upgraded the file while this one waited for the lock, perhaps
    // a newer spektate.
    let version = schema_version(&tx)?;
    if version > SCHEMA_VERSION {
        return Err(refuse(newer(version)));
    }
    for (v, sql) in [
        (1, SCHEMA_V1),
        (2, SCHEMA_V2),
        (3, SCHEMA_V3),
        (4, SCHEMA_V4),
    ] {
        if version < v {
            tx.execute_batch(sql)?;
        }
    }
    for (_, sql) in ADDED_INDEXES {
        tx.execute_batch(sql)?;
    }
    tx.execute_batch(ADDED)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(tx.commit()?)
}

fn now_text() -> (DateTime<Utc>, String) {
    let now = Utc::now();
    (now, now.to_rfc3339_opts(SecondsFormat::Micros, true))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Creates the [`ADDED_INDEXES`] and the [`ADDED`] tables in a file of this version that
/// lacks them (written by an earlier build), asking only the schema when they are there.
fn ensure_added(conn: &Connection) -> rusqlite::Result<()> {
    let present: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'records_%'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, sql) in ADDED_INDEXES {
        if !present.iter().any(|p| p == name) {
            conn.execute_batch(sql)?;
        }
    }
    let claims: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'claims')",
        [],
        |r| r.get(0),
    )?;
    if !claims {
        conn.execute_batch(ADDED)?;
    }
    Ok(())
}

/// The columns a record is read from; `sequence` is `change_seq`, or NULL in a version 1 file.
fn select(has_seq: bool) -> String {
    format!(
        "SELECT partition_key, row_key, service, commitId, imageTag, p1, p2, p3, env, \
         hldCommitId, manifestCommitId, pr, sourceRepo, hldRepo, manifestRepo, timestamp, version, {} \
         FROM records",
        if has_seq { "change_seq" } else { "NULL" }
    )
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let mut r = Record {
        partition_key: row.get(0)?,
        row_key: row.get(1)?,
        ..Record::default()
    };
    for (i, col) in COLUMNS.iter().enumerate() {
        r.set_column_text(col, text(row, 2 + i)?);
    }
    let ts = text(row, 15)?.ok_or(rusqlite::Error::InvalidColumnType(
        15,
        "timestamp".into(),
        Type::Null,
    ))?;
    r.timestamp = parse_time(ts);
    let version: i64 = row.get(16)?;
    r.etag = Some(version.to_string());
    r.sequence = row.get(17)?;
    Ok(r)
}

/// Column `i` of `row` as borrowed text (`None` for NULL), failing as `Row::get` would on a
/// value that is not text.
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    match row.get_ref(i)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(Some)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e))),
        other => Err(rusqlite::Error::InvalidColumnType(
            i,
            row.as_ref().column_name(i)?.to_string(),
            other.data_type(),
        )),
    }
}

/// An untrusted value (a run id, a cluster, a partition) as a message shows it.
fn shown(text: &str) -> String {
    crate::text::shown(text, 80)
}

/// Why `json`, stored as a cluster's history, was not read.
fn not_a_history(json: &str) -> String {
    match serde_json::from_str::<ClusterHistory>(json) {
        Err(e) => format!("column sync: {e}"),
        Ok(_) => "column sync: it is no cluster history".to_string(),
    }
}

fn column_values(record: &Record) -> Vec<Option<String>> {
    record
        .columns()
        .iter()
        .map(|(_, v)| v.map(str::to_string))
        .collect()
}

#[async_trait]
impl RecordStore for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        let (sql, args) = query_sql(self.has_seq, partition, query);
        self.with("query", move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), row_to_record)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn row_keys(&self, partition: &str, query: &RecordQuery) -> Result<Vec<String>> {
        let (sql, args) = query_sql_of(
            "SELECT row_key FROM records",
            self.has_seq,
            partition,
            query,
        );
        self.with("query", move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
    }

    async fn query_shared(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Arc<Record>>> {
        let (sql, args) = query_sql(self.has_seq, partition, query);
        self.with("query", move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
                row_to_record(r).map(Arc::new)
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn insert(&self, record: &Record) -> Result<Record> {
        let mut stored = record.clone();
        self.with("insert", move |conn| {
            let (now, now_s) = now_text();
            let mut args: Vec<Option<String>> = vec![
                Some(stored.partition_key.clone()),
                Some(stored.row_key.clone()),
            ];
            args.extend(column_values(&stored));
            args.push(Some(now_s));
            // A new row's version is its change sequence, larger than any version an earlier
            // row of this key (merged away, then written again) had: an etag read from that
            // one never matches this one.
            let sql = format!(
                "INSERT INTO records (partition_key, row_key, {}, timestamp, version, change_seq) \
                 SELECT {}, seq, seq FROM (SELECT {NEXT_SEQ} AS seq) RETURNING change_seq",
                COLUMNS.join(", "),
                vec!["?"; COLUMNS.len() + 3].join(", ")
            );
            match conn.query_row(&sql, params_from_iter(args.iter()), |r| r.get::<_, i64>(0)) {
                Ok(seq) => {
                    stored.sequence = Some(seq);
                    stored.etag = Some(seq.to_string());
                }
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    return Err(DbError::Core(Error::Conflict {
                        partition: stored.partition_key.clone(),
                        row_key: stored.row_key.clone(),
                    }));
                }
                Err(e) => return Err(e.into()),
            }
            stored.timestamp = Some(now);
            Ok(stored)
        })
        .await
    }

    async fn replace(&self, record: &Record) -> Result<Record> {
        let mut stored = record.clone();
        self.with("replace", move |conn| {
            replace_row(conn, &mut stored)?;
            Ok(stored)
        })
        .await
    }

    async fn delete(&self, partition: &str, row_key: &str, etag: Option<&str>) -> Result<()> {
        let (partition, row_key, etag) = (
            partition.to_string(),
            row_key.to_string(),
            etag.map(str::to_string),
        );
        self.with("delete", move |conn| {
            delete_row(conn, partition, row_key, etag)
        })
        .await
    }

    async fn replace_and_delete(
        &self,
        record: &Record,
        gone: &str,
        gone_etag: Option<&str>,
    ) -> Result<Record> {
        super::check_merge(record, gone)?;
        let mut stored = record.clone();
        let (gone, gone_etag) = (gone.to_string(), gone_etag.map(str::to_string));
        self.with("replace and delete", move |conn| {
            // Dropped without a commit on an error, the transaction rolls both writes back.
            // Immediate: it holds the write lock from its start, so the busy handler waits
            // for it whatever the transaction reads first.
            let tx = rusqlite::Transaction::new_unchecked(
                conn,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            replace_row(&tx, &mut stored)?;
            delete_row(&tx, stored.partition_key.clone(), gone, gone_etag)?;
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    async fn put_run_report(&self, partition: &str, report: &RunReport) -> Result<RunReport> {
        let partition = partition.to_string();
        let mut stored = report.clone();
        let described = self.describe();
        self.with("put run report", move |conn| {
            let (now, now_s) = now_text();
            stored.reported_at = Some(now);
            let json = serde_json::to_string(&stored).map_err(|e| {
                DbError::Core(Error::store(
                    described,
                    format!(
                        "encode the run report {} of partition {}",
                        shown(&stored.id),
                        shown(&partition)
                    ),
                    e,
                ))
            })?;
            let version: Option<i64> = match &stored.etag {
                None => conn
                    .query_row(
                        "INSERT INTO run_reports (partition_key, run_id, report, reported_at, version) \
                         VALUES (?, ?, ?, ?, 1) ON CONFLICT (partition_key, run_id) DO NOTHING RETURNING version",
                        params![partition, stored.id, json, now_s],
                        |r| r.get(0),
                    )
                    .optional()?,
                Some(etag) => conn
                    .query_row(
                        "UPDATE run_reports SET report = ?, reported_at = ?, version = version + 1 \
                         WHERE partition_key = ? AND run_id = ? AND version = ? RETURNING version",
                        params![json, now_s, partition, stored.id, etag],
                        |r| r.get(0),
                    )
                    .optional()?,
            };
            match version {
                Some(v) => {
                    stored.etag = Some(v.to_string());
                    Ok(stored)
                }
                None => Err(DbError::Core(Error::Conflict {
                    partition: partition.clone(),
                    row_key: format!("run report {}", stored.id),
                })),
            }
        })
        .await
    }

    async fn claim(&self, partition: &str, key: &str, holder: &str) -> Result<bool> {
        check_claim(key, holder)?;
        if !self.writable {
            return Err(Error::store(
                self.describe(),
                "claim",
                "the store is open for reading; a claim needs a writer",
            ));
        }
        let (partition, key, holder) = (partition.to_string(), key.to_string(), holder.to_string());
        self.with("claim", move |conn| {
            let now = Utc::now().timestamp();
            let forget_before = now - CLAIM_RETENTION.as_secs() as i64;
            let tx = rusqlite::Transaction::new_unchecked(
                conn,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            tx.execute("DELETE FROM claims WHERE claimed_at < ?", [forget_before])?;
            tx.execute(
                "INSERT INTO claims (partition_key, key, holder, claimed_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (partition_key, key) DO NOTHING",
                params![partition, key, holder, now],
            )?;
            let owner: String = tx.query_row(
                "SELECT holder FROM claims WHERE partition_key = ? AND key = ?",
                params![partition, key],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(owner == holder)
        })
        .await
    }

    async fn run_reports(&self, partition: &str, ids: &[String]) -> Result<Vec<RunReport>> {
        let partition = partition.to_string();
        let ids = ids.to_vec();
        let has_seq = self.has_seq;
        let described = self.describe();
        self.with("read run reports", move |conn| {
            let mut out = Vec::new();
            // Chunks keep the statement under SQLite's bound-parameter limit.
            for chunk in ids.chunks(500) {
                let sql = format!(
                    "SELECT report, {}, run_id FROM run_reports WHERE partition_key = ? AND run_id IN ({})",
                    if has_seq { "version" } else { "1" },
                    vec!["?"; chunk.len()].join(", ")
                );
                let mut stmt = conn.prepare(&sql)?;
                let args = std::iter::once(&partition).chain(chunk.iter());
                let rows = stmt.query_map(params_from_iter(args), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?;
                for row in rows {
                    let (json, version, id) = row?;
                    match serde_json::from_str::<RunReport>(&json) {
                        Ok(mut r) => {
                            r.etag = Some(version.to_string());
                            out.push(r);
                        }
                        Err(e) => tracing::warn!(
                            "skipping the run report {} of partition {} in {described}: column report: {e}",
                            shown(&id),
                            shown(&partition)
                        ),
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn put_cluster_report(&self, partition: &str, report: &ClusterReport) -> Result<()> {
        report.check()?;
        let partition = partition.to_string();
        let report = report.clone();
        self.with("put cluster report", move |conn| {
            // Read, add and write in one immediate transaction, so writers of other
            // processes on the same file wait instead of losing a report.
            let tx = rusqlite::Transaction::new_unchecked(
                conn,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            let stored: Option<String> = tx
                .query_row(
                    "SELECT sync FROM cluster_syncs WHERE partition_key = ? AND cluster = ?",
                    params![partition, report.sync.cluster],
                    |r| r.get(0),
                )
                .optional()?;
            let mut history = stored
                .as_deref()
                .and_then(ClusterHistory::from_stored)
                .filter(|h| h.cluster == report.sync.cluster)
                .unwrap_or_else(|| ClusterHistory::new(&report.sync.cluster));
            if !history.add(report) {
                return Ok(());
            }
            let at = history
                .current()
                .and_then(|s| s.synced_at)
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
                .unwrap_or_default();
            tx.execute(
                "INSERT INTO cluster_syncs (partition_key, cluster, sync, synced_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (partition_key, cluster) DO UPDATE SET sync = excluded.sync, synced_at = excluded.synced_at",
                params![partition, history.cluster, history.to_stored(), at],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    fn keeps_answers(&self) -> bool {
        self.has_answers
    }

    fn writes_answers(&self) -> bool {
        self.has_answers && self.writable
    }

    async fn put_answers(&self, partition: &str, answers: &[Answer]) -> Result<()> {
        if !self.has_answers {
            return Err(Error::store(
                self.describe(),
                format!("keep provider answers of partition {partition}"),
                "the file is opened read-only at a schema without answers",
            ));
        }
        let partition = partition.to_string();
        let mut rows = Vec::with_capacity(answers.len());
        for a in answers {
            let value = serde_json::to_string(&a.fact).map_err(|e| {
                Error::store(self.describe(), format!("keep answer {:?}", a.key()), e)
            })?;
            rows.push((a.fact.kind(), a.namespace.clone(), a.id.clone(), value));
        }
        self.with("keep provider answers", move |conn| {
            // One transaction: all the answers are kept, or none.
            let tx = rusqlite::Transaction::new_unchecked(
                conn,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            {
                let mut put = tx.prepare_cached(
                    "INSERT INTO answers (partition_key, kind, ns, id, value) VALUES (?, ?, ?, ?, ?) \
                     ON CONFLICT (partition_key, kind, ns, id) DO UPDATE SET value = excluded.value",
                )?;
                for (kind, ns, id, value) in &rows {
                    put.execute(params![partition, kind, ns, id, value])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn answers(&self, partition: &str, keys: &[AnswerKey]) -> Result<Vec<Answer>> {
        for key in keys {
            key.check()?;
        }
        if !self.has_answers || keys.is_empty() {
            return Ok(Vec::new());
        }
        let partition = partition.to_string();
        let keys = keys.to_vec();
        self.with("read provider answers", move |conn| {
            let mut out = Vec::new();
            for chunk in keys.chunks(ANSWER_KEYS_PER_READ) {
                let sql = format!(
                    "SELECT kind, ns, id, value FROM answers WHERE partition_key = ? \
                     AND (kind, ns, id) IN (VALUES {})",
                    vec!["(?, ?, ?)"; chunk.len()].join(", ")
                );
                let mut stmt = conn.prepare(&sql)?;
                let args = std::iter::once(partition.as_str()).chain(
                    chunk
                        .iter()
                        .flat_map(|k| [k.kind.as_str(), k.namespace.as_str(), k.id.as_str()]),
                );
                let rows = stmt.query_map(params_from_iter(args), |r| {
                    Ok((
                        AnswerKey {
                            kind: r.get(0)?,
                            namespace: r.get(1)?,
                            id: r.get(2)?,
                        },
                        r.get::<_, String>(3)?,
                    ))
                })?;
                for row in rows {
                    let (key, value) = row?;
                    out.push(Answer::from_stored(key, &value).map_err(DbError::Core)?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn cluster_histories(&self, partition: &str) -> Result<Vec<ClusterHistory>> {
        let partition = partition.to_string();
        let described = self.describe();
        self.with("read cluster histories", move |conn| {
            let mut stmt = conn.prepare(
                "SELECT sync, cluster FROM cluster_syncs WHERE partition_key = ? ORDER BY cluster",
            )?;
            let rows = stmt.query_map(params![partition], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (json, cluster) = row?;
                match ClusterHistory::from_stored(&json) {
                    Some(h) => out.push(h),
                    None => tracing::warn!(
                        "skipping the history of cluster {} in partition {} in {described}: {}",
                        shown(&cluster),
                        shown(&partition),
                        not_a_history(&json)
                    ),
                }
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_from_a_newer_spektate_is_refused_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        SqliteStore::open(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = SqliteStore::open(&path).unwrap_err().to_string();
        assert!(
            e.contains("schema version 99") && e.contains(&path.display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_store_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(
            &path,
            "this is not a database, just some text that is long enough",
        )
        .unwrap();
        let e = SqliteStore::open(&path).unwrap_err().to_string();
        assert!(e.contains("notes.txt"), "{e}");
    }

    #[test]
    fn the_store_uses_wal_and_records_its_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        SqliteStore::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), version), ("wal", SCHEMA_VERSION));
    }

    fn record(partition: &str, tag: &str) -> Record {
        let mut r = Record::new(partition);
        r.image_tag = Some(tag.into());
        r.p1 = Some("1".into());
        r
    }

    #[tokio::test]
    async fn an_etag_of_a_deleted_record_does_not_match_its_key_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.db")).unwrap();
        let first = store.insert(&record("p", "web-1")).await.unwrap();
        store.delete("p", &first.row_key, None).await.unwrap();
        let mut again = record("p", "web-1");
        again.row_key = first.row_key.clone();
        let again = store.insert(&again).await.unwrap();
        assert_ne!(again.etag, first.etag);
        let mut stale = again.clone();
        stale.etag = first.etag.clone();
        stale.env = Some("prod".into());
        let e = store.replace(&stale).await.unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e}");
        let e = store
            .delete("p", &first.row_key, first.etag.as_deref())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_claim_older_than_the_retention_is_forgotten_and_a_reader_claims_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.claim("p", "d1\nready", "server-a").await.unwrap());
        assert!(!store.claim("p", "d1\nready", "server-b").await.unwrap());
        let aged = CLAIM_RETENTION.as_secs() as i64 + 60;
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE claims SET claimed_at = claimed_at - ?", [aged])
            .unwrap();
        assert!(
            store.claim("p", "d1\nready", "server-b").await.unwrap(),
            "an expired claim is forgotten: the next holder's"
        );
        assert!(!store.claim("p", "d1\nready", "server-a").await.unwrap());

        let reader = SqliteStore::open_existing(&path).unwrap();
        let e = reader
            .claim("p", "d1\nlive:east", "server-c")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("claim") && e.contains("reading"), "{e}");
    }

    #[tokio::test]
    async fn rows_another_tool_wrote_are_read_normalized_and_a_value_that_is_not_text_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        let (_, now) = now_text();
        let raw = Connection::open(&path).unwrap();
        raw.execute(
            "INSERT INTO records (partition_key, row_key, service, sourceRepo, hldRepo, p1, \
             timestamp, version) VALUES ('p', 'a00000000000', '  Fabrikam/Web ', \
             'https://me:secret@dev.azure.com/O/P/_git/Web', 'HTTPS://dev.azure.com/o/p/_git/HLD', \
             ' 42 ', ?, 3)",
            params![now],
        )
        .unwrap();
        let read = store.query_shared("p", &RecordQuery::all()).await.unwrap();
        let r = &read[0];
        assert_eq!(r.service.as_deref(), Some("fabrikam/web"));
        assert_eq!(
            r.source_repo.as_deref(),
            Some("https://dev.azure.com/o/p/_git/web")
        );
        assert_eq!(
            r.hld_repo.as_deref(),
            Some("https://dev.azure.com/o/p/_git/hld")
        );
        assert_eq!(r.p1.as_deref(), Some("42"));
        assert_eq!(r.etag.as_deref(), Some("3"));
        assert!(r.timestamp.is_some());

        raw.execute(
            "UPDATE records SET pr = X'00ff' WHERE row_key = 'a00000000000'",
            [],
        )
        .unwrap();
        let e = store
            .query_shared("p", &RecordQuery::all())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("pr") && e.contains("Blob"), "{e}");
    }

    #[tokio::test]
    async fn a_write_committed_with_an_old_timestamp_is_still_read_after_the_last_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        let a = store.insert(&record("p", "a")).await.unwrap();
        let seen = a.sequence.expect("a sequence is assigned");
        // A writer whose clock stepped back an hour, or that waited long for the lock.
        let old =
            (Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Micros, true);
        Connection::open(&path)
            .unwrap()
            .execute(
                &format!(
                    "INSERT INTO records (partition_key, row_key, imageTag, timestamp, version, change_seq) \
                     VALUES ('p', 'b00000000000', 'b', ?, 1, {NEXT_SEQ})"
                ),
                params![old],
            )
            .unwrap();
        let by_time = store
            .query("p", &RecordQuery::all().changed_since(a.timestamp.unwrap()))
            .await
            .unwrap();
        assert!(by_time.iter().all(|r| r.row_key != "b00000000000"));
        let after = store
            .query("p", &RecordQuery::all().after_sequence(seen))
            .await
            .unwrap();
        assert_eq!(
            after.iter().map(|r| r.row_key.as_str()).collect::<Vec<_>>(),
            vec!["b00000000000"]
        );
        let mut b = after[0].clone();
        b.env = Some("dev".into());
        let replaced = store.replace(&b).await.unwrap();
        assert!(
            replaced.sequence > after[0].sequence,
            "a replace takes a new sequence"
        );
    }

    #[tokio::test]
    async fn readers_change_nothing_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.insert(&record("p", "a")).await.unwrap();
        }
        // A store that was copied without its WAL (or lives on a read-only mount) in
        // rollback-journal mode: a reader must not switch it back to WAL or touch it.
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "journal_mode", "DELETE")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let reader = SqliteStore::open_existing(&path).unwrap();
        let got = reader.query("p", &RecordQuery::all()).await.unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].sequence.is_some());
        let e = reader
            .insert(&record("p", "b"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("readonly") || e.contains("read-only"), "{e}");
        drop(reader);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the reader changed the file"
        );
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["s.db".to_string()], "no -wal or -shm beside it");
    }

    #[tokio::test]
    async fn a_wal_store_is_read_when_no_shared_memory_file_can_be_made_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.insert(&record("p", "a")).await.unwrap();
        }
        // As on a read-only mount: the file is in WAL mode and no `-shm` can be created
        // beside it (here a directory holds its name).
        let shm = dir.path().join("s.db-shm");
        let _ = std::fs::remove_file(&shm);
        let _ = std::fs::remove_file(dir.path().join("s.db-wal"));
        std::fs::create_dir(&shm).unwrap();
        let before = std::fs::read(&path).unwrap();
        assert_eq!(before[18..20], [2, 2], "the header says WAL");
        let reader = SqliteStore::open_existing(&path).unwrap();
        let got = reader.query("p", &RecordQuery::all()).await.unwrap();
        assert_eq!(got.len(), 1);
        drop(reader);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the reader changed the file"
        );
    }

    /// A store file of schema version 1 holding record `aaaaaaaaaaaa` of partition `p` at
    /// `version`.
    fn version_1_file(version: i64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO records (partition_key, row_key, imageTag, timestamp, version) \
             VALUES ('p', 'aaaaaaaaaaaa', 'a', '2026-01-01T00:00:00.000000Z', ?)",
            [version],
        )
        .unwrap();
        (dir, path)
    }

    #[tokio::test]
    async fn a_key_of_an_upgraded_file_written_again_starts_past_its_old_versions() {
        // Replaced 49 times under version 1: its sequence after the upgrade is 1.
        let (_dir, path) = version_1_file(50);
        let store = SqliteStore::open(&path).unwrap();
        let old = store.query("p", &RecordQuery::all()).await.unwrap();
        assert_eq!(old[0].etag.as_deref(), Some("50"));
        store.delete("p", "aaaaaaaaaaaa", None).await.unwrap();
        let mut again = record("p", "a");
        again.row_key = "aaaaaaaaaaaa".into();
        let again = store.insert(&again).await.unwrap();
        let v: i64 = again.etag.as_deref().unwrap().parse().unwrap();
        assert!(v > 50, "version {v} may meet an etag the old row had");
    }

    #[tokio::test]
    async fn a_version_1_store_is_read_without_upgrading_and_upgraded_by_a_writer() {
        let (_dir, path) = version_1_file(1);
        let reader = SqliteStore::open_existing(&path).unwrap();
        let got = reader.query("p", &RecordQuery::all()).await.unwrap();
        assert_eq!((got.len(), got[0].sequence), (1, None));
        drop(reader);
        let version = |p: &Path| {
            Connection::open(p)
                .unwrap()
                .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
                .unwrap()
        };
        assert_eq!(version(&path), 1, "a reader does not migrate");
        let writer = SqliteStore::open(&path).unwrap();
        assert_eq!(version(&path), SCHEMA_VERSION);
        let got = writer.query("p", &RecordQuery::all()).await.unwrap();
        assert_eq!(got[0].sequence, Some(1), "existing rows keep their order");
        let b = writer.insert(&record("p", "b")).await.unwrap();
        assert_eq!(b.sequence, Some(2));
    }

    #[tokio::test]
    async fn a_partition_is_read_in_write_order_through_its_index_without_a_sort() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        for key in ["c", "a", "b"] {
            store.insert(&record("p", key)).await.unwrap();
        }
        store.insert(&record("q", "d")).await.unwrap();
        let plan = plan_of;
        // Not `records_partition_change`, which needs a sort.
        let index = "INDEX records_partition (";
        let all = plan(&store.lock(), &RecordQuery::all());
        assert!(all.contains(index), "{all}");
        assert!(!all.contains("TEMP B-TREE"), "{all}");
        let got = store.query("p", &RecordQuery::all()).await.unwrap();
        let tags: Vec<&str> = got.iter().filter_map(|r| r.image_tag.as_deref()).collect();
        assert_eq!(tags, ["c", "a", "b"], "write order");

        // A file of this version written without the index gets it from its next writer.
        drop(store);
        Connection::open(&path)
            .unwrap()
            .execute_batch("DROP INDEX records_partition")
            .unwrap();
        let reader = SqliteStore::open_existing(&path).unwrap();
        assert!(!plan(&reader.lock(), &RecordQuery::all()).contains(index));
        drop(reader);
        let writer = SqliteStore::open(&path).unwrap();
        assert!(plan(&writer.lock(), &RecordQuery::all()).contains(index));
    }

    /// The plan of `query` over partition `p`, one line per step.
    fn plan_of(conn: &Connection, query: &RecordQuery) -> String {
        let (sql, args) = query_sql(true, "p", query);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[tokio::test]
    async fn what_changed_and_records_by_pull_request_are_read_through_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut seen = 0;
        for (i, key) in ["c", "a", "b"].into_iter().enumerate() {
            let mut r = record("p", key);
            r.pr = Some(format!("{}", 40 + i));
            seen = store.insert(&r).await.unwrap().sequence.unwrap();
        }
        store.insert(&record("q", "d")).await.unwrap();
        let changed = RecordQuery::all().after_sequence(seen - 2);
        let by_pr = RecordQuery::all().pr("41");
        let plan = plan_of(&store.lock(), &changed);
        assert!(
            plan.contains("records_partition_change (partition_key=? AND change_seq>?)"),
            "{plan}"
        );
        let plan = plan_of(&store.lock(), &by_pr);
        assert!(
            plan.contains("records_pr (partition_key=? AND pr=?)"),
            "{plan}"
        );
        let got = store.query("p", &changed).await.unwrap();
        let tags: Vec<&str> = got.iter().filter_map(|r| r.image_tag.as_deref()).collect();
        assert_eq!(tags, ["a", "b"], "still in write order");
        let got = store.query("p", &by_pr).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].image_tag.as_deref(), Some("a"));

        // A file of this version written by an earlier build, without them, gets them from
        // its next writer, at the same version, and a reader still reads it.
        drop(store);
        Connection::open(&path)
            .unwrap()
            .execute_batch("DROP INDEX records_partition_change; DROP INDEX records_pr")
            .unwrap();
        let reader = SqliteStore::open_existing(&path).unwrap();
        assert!(!plan_of(&reader.lock(), &changed).contains("records_partition_change"));
        assert!(!plan_of(&reader.lock(), &by_pr).contains("records_pr"));
        drop(reader);
        let writer = SqliteStore::open(&path).unwrap();
        assert!(plan_of(&writer.lock(), &changed).contains("records_partition_change"));
        assert!(plan_of(&writer.lock(), &by_pr).contains("records_pr"));
        drop(writer);
        let version: i64 = Connection::open(&path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 4, "no new schema version");
        let reader = SqliteStore::open_existing(&path).unwrap();
        assert_eq!(reader.query("p", &changed).await.unwrap().len(), 2);
    }

    /// A subscriber keeping the message of every event.
    struct Capture(Arc<Mutex<Vec<String>>>);

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            struct Message<'a>(&'a mut String);
            impl tracing::field::Visit for Message<'_> {
                fn record_debug(
                    &mut self,
                    field: &tracing::field::Field,
                    value: &dyn std::fmt::Debug,
                ) {
                    if field.name() == "message" {
                        self.0.push_str(&format!("{value:?}"));
                    }
                }
            }
            let mut text = format!("{} ", event.metadata().level());
            event.record(&mut Message(&mut text));
            self.0.lock().unwrap().push(text);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[tokio::test]
    async fn an_unreadable_run_report_or_cluster_history_is_skipped_with_a_warning_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch(
            "INSERT INTO run_reports (partition_key, run_id, report, reported_at) \
                 VALUES ('fabrikam', '4711', '{\"id\": 1', ''); \
             INSERT INTO cluster_syncs (partition_key, cluster, sync) \
                 VALUES ('fabrikam', 'east-us', '[[]]')",
        )
        .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let _logged = tracing::subscriber::set_default(Capture(seen.clone()));
        let reports = store.run_reports("fabrikam", &["4711".into()]).await;
        let histories = store.cluster_histories("fabrikam").await;
        assert!(reports.unwrap().is_empty() && histories.unwrap().is_empty());
        let seen = seen.lock().unwrap().join("\n");
        assert!(
            seen.contains("WARN skipping the run report 4711 of partition fabrikam in sqlite:")
                && seen.contains("column report: "),
            "{seen}"
        );
        assert!(
            seen.contains(
                "WARN skipping the history of cluster east-us in partition fabrikam in sqlite:"
            ) && seen.contains("column sync: "),
            "{seen}"
        );
    }

    #[test]
    fn another_applications_database_is_never_turned_into_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let e = SqliteStore::open_existing(&path).unwrap_err().to_string();
        assert!(
            e.contains("not a spektate store") && e.contains("app.db"),
            "{e}"
        );
        let e = SqliteStore::open(&path).unwrap_err().to_string();
        assert!(
            e.contains("another application") && e.contains("app.db"),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn writers_sync_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.db")).unwrap();
        let level: i64 = store
            .lock()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(level, 2, "synchronous=FULL");
    }
}
