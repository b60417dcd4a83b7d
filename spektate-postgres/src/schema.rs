//! The schema and its versions. Every object is named `spektate_*`, in the first schema of
//! the connection's `search_path`, so the store can share a database with other tables.
//!
//! Writers migrate: under a transaction-level advisory lock, so writers starting together
//! apply each version once, every missing version in one transaction, each recorded in
//! `spektate_schema`. What no reader needs ([`ADDED_INDEXES`], the claims table) writers add
//! without a version. Readers only check: no table, function or row is ever created by them,
//! and a database with no spektate schema, or one from a newer spektate, is refused.

use tokio_postgres::{Client, GenericClient};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = 2;

/// The advisory lock (single-key space) writers hold while migrating.
const MIGRATION_LOCK: i64 = 0x5350_4b54_5343_4845; // "SPKTSCHE"

/// Version 1: records with a version (for conditional writes), an insertion order and a
/// change sequence taken at commit; run reports with a version; the latest sync per cluster.
///
/// `spektate_next_change(partition)` takes the partition's transaction-level advisory lock
/// (class 1397771092, "SPKT", and `hashtext(partition)`, in the two-key space, apart from
/// [`MIGRATION_LOCK`]), then the next change sequence. The lock is held until the writing transaction ends, so
/// within a partition a later sequence value is only ever taken after every earlier one
/// committed or rolled back: a reader that saw value `n` misses nothing by asking for more
/// than `n`.
const V1: &str = r#"
CREATE SEQUENCE spektate_change_seq;
CREATE FUNCTION spektate_next_change(partition text) RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$
        SELECT pg_advisory_xact_lock(1397771092, hashtext(partition));
        SELECT nextval('spektate_change_seq');
    $$;
CREATE TABLE spektate_records (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partition_key text NOT NULL,
    row_key text NOT NULL,
    service text, commit_id text, image_tag text, p1 text, p2 text, p3 text, env text,
    hld_commit_id text, manifest_commit_id text, pr text, source_repo text, hld_repo text,
    manifest_repo text,
    written_at timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    change_seq bigint NOT NULL,
    UNIQUE (partition_key, row_key)
);
CREATE INDEX spektate_records_change ON spektate_records (partition_key, change_seq);
CREATE INDEX spektate_records_time ON spektate_records (partition_key, written_at);
CREATE INDEX spektate_records_image ON spektate_records (partition_key, image_tag);
CREATE INDEX spektate_records_hld ON spektate_records (partition_key, hld_commit_id);
CREATE INDEX spektate_records_p1 ON spektate_records (partition_key, p1);
CREATE INDEX spektate_records_p2 ON spektate_records (partition_key, p2);
CREATE INDEX spektate_records_p3 ON spektate_records (partition_key, p3);
CREATE TABLE spektate_run_reports (
    partition_key text NOT NULL,
    run_id text NOT NULL,
    report jsonb NOT NULL,
    reported_at timestamptz NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (partition_key, run_id)
);
CREATE TABLE spektate_cluster_syncs (
    partition_key text NOT NULL,
    cluster text NOT NULL,
    sync jsonb NOT NULL,
    synced_at timestamptz,
    PRIMARY KEY (partition_key, cluster)
);
"#;

/// Version 2: providers' final answers (completed runs, their stages, commit authors, merged
/// pull requests), one row per partition, namespace, kind and id, the value as JSON text (text,
/// not jsonb, so a `\u0000` a provider sent is kept as written).
const V2: &str = r#"
CREATE TABLE spektate_answers (
    partition_key text NOT NULL,
    namespace text NOT NULL,
    kind text NOT NULL,
    id text NOT NULL,
    value text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partition_key, namespace, kind, id)
);
"#;

/// Added without a version, as no reader reads them (so readers of earlier builds still read
/// the database): claims of servers sharing the store (`RecordStore::claim`), by partition
/// and key, with the holder and when it claimed, for forgetting old ones. Writers add them
/// when missing.
const ADDED: &str = r#"
CREATE TABLE IF NOT EXISTS spektate_claims (
    partition_key text NOT NULL,
    key text NOT NULL,
    holder text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partition_key, key)
);
CREATE INDEX IF NOT EXISTS spektate_claims_time ON spektate_claims (claimed_at);
"#;

/// Indexes added without a version, as no reader needs one to read (they only make reads
/// faster), by name: `spektate_records_pr`, records by approval pull request, which the
/// recorder looks up on most metadata writes.
///
/// A writer adds a missing one after the migration, in a transaction of its own, one writer
/// at a time (an advisory lock; the others go on without it), when the table holds at most
/// [`MAX_RECORDS_INDEXED_AT_OPEN`] records: the build holds the table's writes for well under
/// a second then, and its waits are bounded (2 s for the lock, 60 s in all). A larger table
/// is left to the operator, whom each writer's log tells the `CREATE INDEX CONCURRENTLY` to
/// run, as a concurrent build waits for every older transaction of the database and would
/// hold the writer (a pipeline's `spektate record`, a server's readiness) for as long. An
/// INVALID index of the name (a concurrent build that failed), which `IF NOT EXISTS` would
/// keep, is dropped and built again. A writer that cannot build one (a role that does not own the
/// table) logs why and works without it.
pub const ADDED_INDEXES: [(&str, &str); 1] = [(
    "spektate_records_pr",
    "spektate_records (partition_key, pr)",
)];

/// The most records a writer indexes the table over at open ([`ADDED_INDEXES`]).
pub const MAX_RECORDS_INDEXED_AT_OPEN: i64 = 200_000;

/// How long a writer's index build may wait for the table's lock, and take in all.
const INDEX_TIMEOUTS: &str = "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '60s'";

/// The advisory lock (transaction level) a writer holds while it builds the
/// [`ADDED_INDEXES`].
const INDEX_LOCK: i64 = 0x5350_4b54_4944_5831; // "SPKTIDX1"

/// Every version, in order.
const MIGRATIONS: [(i32, &str); 2] = [(1, V1), (2, V2)];

/// The version recorded in the database; 0 when it has no spektate schema.
pub(crate) async fn version(client: &Client) -> Result<i32, tokio_postgres::Error> {
    let row = client
        .query_one("SELECT to_regclass('spektate_schema') IS NOT NULL", &[])
        .await?;
    if !row.try_get::<_, bool>(0)? {
        return Ok(0);
    }
    let row = client
        .query_one("SELECT COALESCE(max(version), 0) FROM spektate_schema", &[])
        .await?;
    row.try_get(0)
}

/// Whether the [`ADDED`] objects are there.
async fn has_added(client: &Client) -> Result<bool, tokio_postgres::Error> {
    client
        .query_one("SELECT to_regclass('spektate_claims') IS NOT NULL", &[])
        .await?
        .try_get(0)
}

/// What there is of the index `name`: nothing, an INVALID one (a failed or running
/// `CONCURRENTLY` build), or a valid one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IndexState {
    Missing,
    Invalid,
    Valid,
}

async fn index_state(
    client: &impl GenericClient,
    name: &str,
) -> Result<IndexState, tokio_postgres::Error> {
    let valid: Option<bool> = client
        .query_one(
            "SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1))",
            &[&name],
        )
        .await?
        .try_get(0)?;
    Ok(match valid {
        None => IndexState::Missing,
        Some(false) => IndexState::Invalid,
        Some(true) => IndexState::Valid,
    })
}

/// Builds the [`ADDED_INDEXES`] that are missing or INVALID, unless another writer is
/// building them or the table is too large to at open. A writer works without them, so a
/// failure is logged, not returned.
async fn add_indexes(client: &mut Client) {
    match try_add_indexes(client).await {
        Ok(Left::None) => {}
        Ok(Left::TooLarge(missing)) => {
            for (name, on) in missing {
                tracing::warn!(
                    "the spektate records table holds more than {MAX_RECORDS_INDEXED_AT_OPEN} \
                     records and has no index {name}, which metadata writes read through: \
                     build it once with `CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {on}` \
                     (after `DROP INDEX CONCURRENTLY IF EXISTS {name}` if it is INVALID)"
                );
            }
        }
        Err(e) => tracing::warn!(
            "could not add the indexes {} to the spektate tables (records are read without \
             them, more slowly): {}",
            ADDED_INDEXES.map(|(name, _)| name).join(", "),
            crate::errors::pg(&e)
        ),
    }
}

/// What [`try_add_indexes`] left to the operator.
enum Left {
    None,
    TooLarge(Vec<(&'static str, &'static str)>),
}

async fn try_add_indexes(client: &mut Client) -> Result<Left, tokio_postgres::Error> {
    let mut wanted = Vec::new();
    for (name, on) in ADDED_INDEXES {
        if index_state(client, name).await? != IndexState::Valid {
            wanted.push((name, on));
        }
    }
    if wanted.is_empty() {
        return Ok(Left::None);
    }
    // Counted no further than the limit, so a large table costs a bounded scan.
    let records: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM spektate_records LIMIT $1) AS first",
            &[&(MAX_RECORDS_INDEXED_AT_OPEN + 1)],
        )
        .await?
        .try_get(0)?;
    if records > MAX_RECORDS_INDEXED_AT_OPEN {
        return Ok(Left::TooLarge(wanted));
    }
    let tx = client.transaction().await?;
    tx.batch_execute(INDEX_TIMEOUTS).await?;
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&INDEX_LOCK])
        .await?
        .try_get(0)?;
    if !locked {
        // Another writer is building them.
        return Ok(Left::None);
    }
    for (name, on) in wanted {
        // Under the lock, an INVALID index is no build in progress: one that failed.
        match index_state(&tx, name).await? {
            IndexState::Valid => continue,
            IndexState::Invalid => {
                tx.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))
                    .await?
            }
            IndexState::Missing => {}
        }
        tx.batch_execute(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on}"))
            .await?;
    }
    tx.commit().await?;
    Ok(Left::None)
}

/// The message for a database written by a newer spektate.
pub(crate) fn newer(version: i32) -> String {
    format!(
        "schema version {version} was written by a newer spektate; this one reads up to version {SCHEMA_VERSION}"
    )
}

/// Why a reader cannot read the database, if it cannot. An older version is read as it is:
/// what it lacks (the answers of version 2) reads as empty.
pub(crate) async fn check(client: &Client) -> Result<Result<(), String>, tokio_postgres::Error> {
    Ok(match version(client).await? {
        0 => {
            Err("has no spektate schema (record a deployment first, or check --store)".to_string())
        }
        v if v > SCHEMA_VERSION => Err(newer(v)),
        _ => Ok(()),
    })
}

/// Brings the schema to [`SCHEMA_VERSION`]; refuses a newer one.
pub(crate) async fn migrate(
    client: &mut Client,
) -> Result<Result<(), String>, tokio_postgres::Error> {
    match version(client).await? {
        v if v == SCHEMA_VERSION && has_added(client).await? => {
            add_indexes(client).await;
            return Ok(Ok(()));
        }
        v if v > SCHEMA_VERSION => return Ok(Err(newer(v))),
        _ => {}
    }
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS spektate_schema (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    // Another writer may have migrated while this one waited for the lock.
    let current: i32 = tx
        .query_one("SELECT COALESCE(max(version), 0) FROM spektate_schema", &[])
        .await?
        .try_get(0)?;
    if current > SCHEMA_VERSION {
        return Ok(Err(newer(current)));
    }
    for (version, sql) in MIGRATIONS {
        if version > current {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO spektate_schema (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        }
    }
    tx.batch_execute(ADDED).await?;
    tx.commit().await?;
    add_indexes(client).await;
    Ok(Ok(()))
}
