//! Schema versions: writers create and upgrade the schema, once even when many start
//! together; readers create nothing, need only SELECT, and refuse what they cannot read.

use std::sync::Arc;

use spektate_core::{Record, RecordQuery, RecordStore};
use spektate_postgres::PostgresStore;
use spektate_postgres::schema::SCHEMA_VERSION;
use spektate_postgres::testkit::TestServer;

fn spektate_objects(server: &TestServer, db: &str) -> String {
    server.psql(
        db,
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'spektate%'",
    )
}

fn record(tag: &str) -> Record {
    let mut r = Record::new("p");
    r.image_tag = Some(tag.into());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_creates_the_schema_once_and_a_reader_creates_nothing() {
    let server = TestServer::start();
    let url = server.create_database("empty");
    let reader = PostgresStore::open_existing(&url).unwrap();
    let e = reader.ready().await.unwrap_err().to_string();
    assert!(
        e.contains("no spektate schema") && e.contains("127.0.0.1") && e.contains("/empty"),
        "{e}"
    );
    assert!(!e.contains(server.password()), "{e}");
    assert_eq!(
        spektate_objects(&server, "empty"),
        "0",
        "the reader created nothing"
    );

    let writer = PostgresStore::open(&url).unwrap();
    writer.insert(&record("a")).await.unwrap();
    let versions = || {
        server.psql(
            "empty",
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM spektate_schema",
        )
    };
    let every_version = (1..=SCHEMA_VERSION)
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(versions(), every_version);
    let objects = spektate_objects(&server, "empty");

    PostgresStore::open(&url).unwrap().ready().await.unwrap();
    assert_eq!(
        versions(),
        every_version,
        "an up-to-date schema is left alone"
    );
    assert_eq!(spektate_objects(&server, "empty"), objects);

    let reader = PostgresStore::open_existing(&url).unwrap();
    let got = reader.query("p", &RecordQuery::all()).await.unwrap();
    assert_eq!(got.len(), 1);
    let e = reader.insert(&record("b")).await.unwrap_err().to_string();
    assert!(e.contains("insert") && e.contains("read-only"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_opening_a_new_database_at_once_migrate_it_once() {
    let server = TestServer::start();
    let url = server.create_database("fresh");
    let stores: Vec<Arc<PostgresStore>> = (0..16)
        .map(|_| Arc::new(PostgresStore::open(&url).unwrap()))
        .collect();
    let tasks: Vec<_> = stores
        .iter()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.insert(&record("x")).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("every writer gets a schema");
    }
    assert_eq!(
        server.psql(
            "fresh",
            "SELECT count(*), max(version) FROM spektate_schema"
        ),
        format!("{SCHEMA_VERSION}|{SCHEMA_VERSION}")
    );
    assert_eq!(
        stores[0]
            .query("p", &RecordQuery::all())
            .await
            .unwrap()
            .len(),
        16
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_from_a_newer_spektate_is_refused_by_readers_and_writers() {
    let server = TestServer::start();
    PostgresStore::open(&server.url())
        .unwrap()
        .ready()
        .await
        .unwrap();
    server.psql(
        "postgres",
        "INSERT INTO spektate_schema (version) VALUES (99)",
    );
    for store in [
        PostgresStore::open(&server.url()).unwrap(),
        PostgresStore::open_existing(&server.url()).unwrap(),
    ] {
        let e = store
            .query("p", &RecordQuery::all())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schema version 99") && e.contains("newer spektate"),
            "{e}"
        );
    }
    assert_eq!(
        server.psql("postgres", "SELECT count(*) FROM spektate_schema"),
        (SCHEMA_VERSION + 1).to_string(),
        "nothing was migrated over the newer schema"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_needs_only_select_rights() {
    let server = TestServer::start();
    let writer = PostgresStore::open(&server.url()).unwrap();
    writer.insert(&record("a")).await.unwrap();
    server.psql(
        "postgres",
        "CREATE ROLE viewer LOGIN PASSWORD 'viewer-pw'; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO viewer",
    );
    let url = format!(
        "postgres://viewer:viewer-pw@127.0.0.1:{}/postgres",
        server.port()
    );
    let reader = PostgresStore::open_existing(&url).unwrap();
    let got = reader.query("p", &RecordQuery::all()).await.unwrap();
    assert_eq!(got[0].image_tag.as_deref(), Some("a"));
    assert!(
        reader
            .run_reports("p", &["1".into()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(reader.cluster_syncs("p").await.unwrap().is_empty());
}

/// `indisvalid|indisunique` of the index `spektate_records_pr`, empty when there is none.
fn pr_index(server: &TestServer) -> String {
    server.psql(
        "postgres",
        "SELECT indisvalid || '|' || indisunique FROM pg_index \
         WHERE indexrelid = to_regclass('spektate_records_pr')",
    )
}

/// The plan of the recorder's look-up of a partition's records by pull request.
fn pr_plan(server: &TestServer) -> String {
    server.psql(
        "postgres",
        "PREPARE by_pr(text, text) AS SELECT row_key FROM spektate_records \
             WHERE partition_key = $1 AND pr = $2 ORDER BY seq; \
         EXPLAIN EXECUTE by_pr('fabrikam', '42')",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_by_pull_request_are_read_through_an_index_writers_add_without_a_version() {
    let server = TestServer::start();
    PostgresStore::open(&server.url())
        .unwrap()
        .ready()
        .await
        .unwrap();
    assert_eq!(pr_index(&server), "true|false");
    server.psql(
        "postgres",
        "INSERT INTO spektate_records (partition_key, row_key, pr, change_seq) \
             SELECT 'fabrikam', lpad(i::text, 12, '0'), (i % 5000)::text, \
                 nextval('spektate_change_seq') FROM generate_series(1, 20000) i; \
         ANALYZE spektate_records",
    );
    let plan = pr_plan(&server);
    assert!(plan.contains("spektate_records_pr"), "{plan}");
    let versions = || server.psql("postgres", "SELECT count(*) FROM spektate_schema");
    let before = versions();

    // A database an earlier build wrote, without it: the next writer adds it, at the same
    // version, and readers read on.
    server.psql("postgres", "DROP INDEX spektate_records_pr");
    assert!(!pr_plan(&server).contains("spektate_records_pr"));
    let writer = PostgresStore::open(&server.url()).unwrap();
    writer.ready().await.unwrap();
    assert_eq!(pr_index(&server), "true|false");
    assert!(pr_plan(&server).contains("spektate_records_pr"));
    assert_eq!(versions(), before, "no new schema version");
    let reader = PostgresStore::open_existing(&server.url()).unwrap();
    let got = reader
        .query("fabrikam", &RecordQuery::all().pr("42"))
        .await
        .unwrap();
    assert_eq!(got.len(), 4);

    // A CONCURRENTLY build that failed leaves an INVALID index of the name, which
    // `IF NOT EXISTS` would keep: the next writer builds it again.
    server.psql("postgres", "DROP INDEX spektate_records_pr");
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let failed = client
        .batch_execute(
            "CREATE UNIQUE INDEX CONCURRENTLY spektate_records_pr ON spektate_records (partition_key)",
        )
        .await;
    assert!(failed.is_err(), "the partition has many records");
    assert_eq!(pr_index(&server), "false|true");
    PostgresStore::open(&server.url())
        .unwrap()
        .ready()
        .await
        .unwrap();
    assert_eq!(pr_index(&server), "true|false");
    assert!(pr_plan(&server).contains("spektate_records_pr"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_may_not_add_the_index_works_without_it() {
    let server = TestServer::start();
    let owner = PostgresStore::open(&server.url()).unwrap();
    owner.insert(&record("a")).await.unwrap();
    server.psql(
        "postgres",
        "DROP INDEX spektate_records_pr; \
         CREATE ROLE recorder LOGIN PASSWORD 'recorder-pw'; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO recorder; \
         GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA public TO recorder",
    );
    let url = format!(
        "postgres://recorder:recorder-pw@127.0.0.1:{}/postgres",
        server.port()
    );
    let writer = PostgresStore::open(&url).unwrap();
    writer.insert(&record("b")).await.unwrap();
    assert_eq!(pr_index(&server), "", "not the table's owner");
    assert_eq!(
        writer.query("p", &RecordQuery::all()).await.unwrap().len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_leaves_the_index_of_a_large_table_to_the_operator() {
    let server = TestServer::start();
    let writer = PostgresStore::open(&server.url()).unwrap();
    writer.ready().await.unwrap();
    server.psql(
        "postgres",
        &format!(
            "DROP INDEX spektate_records_pr; \
             INSERT INTO spektate_records (partition_key, row_key, pr, change_seq) \
                 SELECT 'fabrikam', lpad(i::text, 12, '0'), (i % 5000)::text, \
                     nextval('spektate_change_seq') FROM generate_series(1, {}) i",
            spektate_postgres::schema::MAX_RECORDS_INDEXED_AT_OPEN + 1
        ),
    );
    // The next writer neither builds it (holding the table) nor fails: it writes on.
    let writer = PostgresStore::open(&server.url()).unwrap();
    writer.insert(&record("b")).await.unwrap();
    assert_eq!(pr_index(&server), "", "built over a large table at open");
    let got = writer
        .query("fabrikam", &RecordQuery::all().pr("42"))
        .await
        .unwrap();
    assert_eq!(got.len(), 40);
}
