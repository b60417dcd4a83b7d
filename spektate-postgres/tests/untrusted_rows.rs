//! Rows anyone sharing the database may have written: a time PostgreSQL holds and chrono
//! cannot ('infinity', a year past 262142), jsonb serde_json refuses (a number past f64,
//! nesting past its limit), values far larger than spektate writes. None of them panics or is
//! read whole: a record is an error naming it, the value and the limit; a run report or a
//! cluster history is skipped and the rest are read.

use chrono::{Duration, Utc};
use spektate_core::model::deployment::ClusterSync;
use spektate_core::{
    ClusterHistory, ClusterReport, Record, RecordQuery, RecordStore, RunReport, RunStatus,
};
use spektate_postgres::PostgresStore;
use spektate_postgres::testkit::TestServer;

const PARTITION: &str = "fabrikam";

fn record(row_key: &str, service: &str) -> Record {
    let mut r = Record::new(PARTITION);
    r.row_key = row_key.into();
    r.service = Some(service.into());
    r
}

fn run_report(id: &str) -> RunReport {
    RunReport {
        id: id.into(),
        status: RunStatus::Completed,
        result: None,
        queued_at: Some(Utc::now()),
        started_at: None,
        finished_at: None,
        url: None,
        commit: Some("8c5f2a1".into()),
        branch: None,
        repository: None,
        number: None,
        reported_at: None,
        attempt: None,
        etag: None,
    }
}

fn cluster_report(cluster: &str, commit: &str, minutes_ago: i64) -> ClusterReport {
    ClusterReport::applied(ClusterSync {
        cluster: cluster.into(),
        commit: commit.into(),
        synced_at: Some(Utc::now() - Duration::minutes(minutes_ago)),
        tagger: Some("flux kustomization flux-system/apps".into()),
    })
}

/// Each cluster read and how many reports its history holds.
fn clusters(histories: Vec<ClusterHistory>) -> Vec<(String, usize)> {
    histories
        .into_iter()
        .map(|h| (h.cluster, h.reports.len()))
        .collect()
}

fn counts(expected: &[(&str, usize)]) -> Vec<(String, usize)> {
    expected.iter().map(|(c, n)| (c.to_string(), *n)).collect()
}

/// The error of reading the partition's records; a read that succeeds is named by its size
/// only (a test value may be megabytes).
async fn query_error(store: &PostgresStore) -> String {
    match store.query(PARTITION, &RecordQuery::all()).await {
        Ok(records) => panic!("{} records read, expected an error", records.len()),
        Err(e) => e.to_string(),
    }
}

async fn run_report_ids(store: &PostgresStore, ids: &[&str]) -> Vec<String> {
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let reports = store.run_reports(PARTITION, &ids).await.unwrap();
    let mut read: Vec<String> = reports.into_iter().map(|r| r.id).collect();
    read.sort();
    read
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_written_at_a_time_chrono_cannot_hold_is_an_error_naming_it() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    store.insert(&record("a1b2c3", "frontend")).await.unwrap();
    store.insert(&record("d4e5f6", "backend")).await.unwrap();

    for (stored, shown) in [
        ("infinity", "'infinity'"),
        ("-infinity", "'-infinity'"),
        ("290000-06-01 00:00:00+00", "year 290000"),
    ] {
        server.psql(
            "postgres",
            &format!(
                "UPDATE spektate_records SET written_at = '{stored}' WHERE row_key = 'a1b2c3'"
            ),
        );
        let e = query_error(&store).await;
        assert!(
            e.contains("query")
                && e.contains("record a1b2c3 in partition fabrikam")
                && e.contains("written_at")
                && e.contains(shown),
            "{e}"
        );
    }

    // Writing the record again mends it.
    let mut mended = record("a1b2c3", "frontend");
    mended.env = Some("prod".into());
    store.replace(&mended).await.unwrap();
    let read = store.query(PARTITION, &RecordQuery::all()).await.unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].env.as_deref(), Some("prod"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_report_at_a_time_chrono_cannot_hold_is_skipped_and_the_rest_read() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    for id in ["101", "102", "103"] {
        store
            .put_run_report(PARTITION, &run_report(id))
            .await
            .unwrap();
    }
    server.psql(
        "postgres",
        "UPDATE spektate_run_reports SET reported_at = 'infinity' WHERE run_id = '101'; \
         UPDATE spektate_run_reports SET reported_at = '290000-06-01 00:00:00+00' WHERE run_id = '102'",
    );
    assert_eq!(
        run_report_ids(&store, &["101", "102", "103"]).await,
        ["103"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_report_of_jsonb_serde_json_refuses_is_skipped_and_the_rest_read() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    for id in ["101", "102", "103", "104"] {
        store
            .put_run_report(PARTITION, &run_report(id))
            .await
            .unwrap();
    }
    // A number past f64 where a report has a field, and nesting past serde_json's limit,
    // are unreadable; a number past f64 in a field a report does not have is ignored.
    server.psql(
        "postgres",
        "UPDATE spektate_run_reports SET report = report || '{\"attempt\": 1e400}' WHERE run_id = '101'; \
         UPDATE spektate_run_reports SET report = jsonb_set(report, '{status}', \
             (repeat('[', 1000) || repeat(']', 1000))::jsonb) WHERE run_id = '102'; \
         UPDATE spektate_run_reports SET report = report || '{\"extra\": 1e400}' WHERE run_id = '103'",
    );
    assert_eq!(
        run_report_ids(&store, &["101", "102", "103", "104"]).await,
        ["103", "104"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_history_of_jsonb_serde_json_refuses_is_skipped_and_replaced_by_a_report() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    for cluster in ["east-us", "north-eu", "west-eu"] {
        store
            .put_cluster_report(PARTITION, &cluster_report(cluster, "aaaaaaa1", 30))
            .await
            .unwrap();
    }
    // A number past f64 in a field a history does not have is ignored; nesting past
    // serde_json's limit, or a number past f64 in place of the history, is unreadable.
    server.psql(
        "postgres",
        "UPDATE spektate_cluster_syncs SET sync = sync || '{\"extra\": 1e400}' WHERE cluster = 'east-us'; \
         UPDATE spektate_cluster_syncs SET sync = (repeat('[', 1000) || repeat(']', 1000))::jsonb \
             WHERE cluster = 'north-eu'; \
         UPDATE spektate_cluster_syncs SET sync = '{\"a\": 1e400}' WHERE cluster = 'west-eu'",
    );
    let read = store.cluster_histories(PARTITION).await.unwrap();
    assert_eq!(clusters(read), counts(&[("east-us", 1)]));

    // A report over an unreadable history starts a new one; over a readable one it adds.
    for cluster in ["east-us", "north-eu", "west-eu"] {
        store
            .put_cluster_report(PARTITION, &cluster_report(cluster, "bbbbbbb2", 10))
            .await
            .unwrap();
    }
    let read = store.cluster_histories(PARTITION).await.unwrap();
    assert_eq!(
        clusters(read),
        counts(&[("east-us", 2), ("north-eu", 1), ("west-eu", 1)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_column_far_over_what_spektate_writes_is_an_error_naming_it() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    store.insert(&record("a1b2c3", "frontend")).await.unwrap();
    server.psql(
        "postgres",
        "UPDATE spektate_records SET service = repeat('x', 50000000) WHERE row_key = 'a1b2c3'",
    );
    let e = query_error(&store).await;
    assert!(
        e.contains("record a1b2c3 in partition fabrikam")
            && e.contains("service is 50000000 bytes")
            && e.contains("4096 bytes"),
        "{e}"
    );
    assert!(e.len() < 1000, "{e}");

    // A row key far over the bound is named by its start.
    server.psql(
        "postgres",
        "UPDATE spektate_records SET service = 'frontend', row_key = 'a1b2c3' || repeat('9', 100000)",
    );
    let e = query_error(&store).await;
    assert!(
        e.contains("record a1b2c3999") && e.contains("row_key is 100006 bytes"),
        "{e}"
    );
    assert!(e.len() < 1000, "{e}");
    // The row keys a tracker reconciles with are read the same way: bounded, and its start.
    let keys = store
        .row_keys(PARTITION, &RecordQuery::all())
        .await
        .unwrap();
    let long = keys.iter().find(|k| k.starts_with("a1b2c3")).unwrap();
    assert_eq!(long.len(), 80, "{}", long.len());

    // The store refuses to write what it would not read back, naming the column.
    let e = store
        .insert(&record("d4e5f6", &"y".repeat(1025)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("service") && e.contains("1025 characters"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_report_far_over_what_spektate_writes_is_skipped_and_the_rest_read() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    for id in ["101", "102"] {
        store
            .put_run_report(PARTITION, &run_report(id))
            .await
            .unwrap();
    }
    server.psql(
        "postgres",
        "UPDATE spektate_run_reports SET report = report || jsonb_build_object('url', repeat('x', 2000000)) \
         WHERE run_id = '101'",
    );
    assert_eq!(run_report_ids(&store, &["101", "102"]).await, ["102"]);

    // The store refuses to write a report it would not read back.
    let mut long = run_report("103");
    long.url = Some(format!("https://ci.example.com/{}", "x".repeat(600_000)));
    let e = store
        .put_run_report(PARTITION, &long)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("run report 103") && e.contains("bytes of JSON"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_history_far_over_what_spektate_writes_is_skipped_and_replaced_by_a_report() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    for cluster in ["east-us", "west-eu"] {
        store
            .put_cluster_report(PARTITION, &cluster_report(cluster, "aaaaaaa1", 30))
            .await
            .unwrap();
    }
    // A hundred thousand reports, megabytes of JSON: skipped unread.
    server.psql(
        "postgres",
        "UPDATE spektate_cluster_syncs SET sync = jsonb_build_object('cluster', 'west-eu', 'reports', \
             (SELECT jsonb_agg(jsonb_build_object('cluster', 'west-eu', 'commit', 'ccccccc' || n)) \
              FROM generate_series(1, 100000) n)) \
         WHERE cluster = 'west-eu'",
    );
    let read = store.cluster_histories(PARTITION).await.unwrap();
    assert_eq!(clusters(read), counts(&[("east-us", 1)]));

    // The next report replaces it.
    store
        .put_cluster_report(PARTITION, &cluster_report("west-eu", "bbbbbbb2", 1))
        .await
        .unwrap();
    let read = store.cluster_histories(PARTITION).await.unwrap();
    assert_eq!(clusters(read), counts(&[("east-us", 1), ("west-eu", 1)]));
}
