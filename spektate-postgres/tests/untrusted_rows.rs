//! Rows anyone sharing the database may have written: a time PostgreSQL holds and chrono
//! cannot ('infinity', a year past 262142). None of them panics: a record is an error naming
//! it and the value; a run report is skipped and the rest are read.

use chrono::Utc;
use spektate_core::{Record, RecordQuery, RecordStore, RunReport, RunStatus};
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
