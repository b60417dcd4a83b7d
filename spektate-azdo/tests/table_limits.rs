//! The Table service's limits against a real Azurite: a write that breaks one is refused
//! before it is sent, naming the column and the limit, and leaves the table as it was.
//! Azurite itself lets some of these writes through; the real service answers 400.

mod common;

use chrono::{TimeZone, Utc};
use common::azurite::Azurite;
use common::raw_table::raw;
use serde_json::{Value, json};
use spektate_azdo::AzureTableStore;
use spektate_core::http::Method;
use spektate_core::{Record, RecordQuery, RecordStore, RunReport};

/// A completed run's report, as a pipeline sends it.
fn report(id: &str) -> RunReport {
    serde_json::from_value(json!({"id": id, "status": "completed"})).expect("a run report")
}

/// Every row of `table`, as stored.
async fn rows(az: &Azurite, table: &str) -> Vec<Value> {
    let (status, body) = raw(az, Method::GET, &format!("/{table}()"), "", None).await;
    match status {
        404 => Vec::new(),
        200 => body["value"].as_array().cloned().unwrap_or_default(),
        s => panic!("reading {table}: HTTP {s} {body}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kib_long_partition_key_is_refused_before_anything_is_written() {
    let az = Azurite::start();
    let store = AzureTableStore::new(az.account(), "keys").unwrap();
    // 1,024 bytes: within a byte count of 1 KiB, but 1,024 UTF-16 code units.
    let mut r = Record::new(&"k".repeat(1024));
    r.set_column("p1", Some("7176".into()));
    let e = store.insert(&r).await.unwrap_err().to_string();
    assert!(
        e.contains("partition key")
            && e.contains("PartitionKey")
            && e.contains("1024 UTF-16 code units")
            && e.contains("at most 512"),
        "{e}"
    );
    assert!(
        !e.contains(&"k".repeat(100)),
        "the key is not echoed whole: {e}"
    );
    assert!(rows(&az, "keys").await.is_empty(), "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forty_thousand_character_run_url_is_refused_and_nothing_is_written() {
    let az = Azurite::start();
    let store = AzureTableStore::new(az.account(), "reports").unwrap();
    let url = format!(
        "https://dev.azure.com/fabrikam/hello/_build/results?buildId=7176&{}",
        "x".repeat(40_000)
    );
    let mut long = report("7176");
    long.url = Some(url.clone());
    let e = store
        .put_run_report("hello", &long)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("invalid url: \"https://dev.azure.com/fabrikam")
            && e.contains("at most 32768 (64 KiB)"),
        "{e}"
    );
    assert!(e.len() < 300, "the URL is not echoed whole: {e}");
    assert!(rows(&az, "reports").await.is_empty(), "nothing was written");
    assert!(
        store
            .run_reports("hello", &["7176".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_queued_before_1601_is_refused_although_azurite_would_take_it() {
    let az = Azurite::start();
    let store = AzureTableStore::new(az.account(), "dates").unwrap();
    let mut ok = report("7175");
    ok.queued_at = Some(Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap());
    store.put_run_report("hello", &ok).await.unwrap();

    let mut old = report("7176");
    old.queued_at = Some(Utc.with_ymd_and_hms(1600, 12, 31, 23, 59, 59).unwrap());
    let e = store
        .put_run_report("hello", &old)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("invalid queuedAt: \"1600-12-31T23:59:59")
            && e.contains("from 1601-01-01T00:00:00Z"),
        "{e}"
    );
    let stored: Vec<String> = rows(&az, "dates")
        .await
        .iter()
        .filter_map(|r| r["runId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(stored, ["7175"], "only the valid report was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_that_would_pass_one_mib_leaves_the_row_as_it_was() {
    let az = Azurite::start();
    let store = AzureTableStore::new(az.account(), "big").unwrap();
    store.ensure_table().await.unwrap();
    // Another tool's row: sixteen notes of 32,700 characters, just under 1 MiB in all.
    let mut row = json!({"PartitionKey": "hello", "RowKey": "5c7a0ab1e5f6", "p1": "7176"});
    for i in 0..16 {
        row[format!("note{i:02}")] = json!("n".repeat(32_700));
    }
    let (status, body) = raw(&az, Method::POST, "/big", "", Some(&row)).await;
    assert_eq!(status, 201, "raw insert: {body}");

    let mut r = store
        .query("hello", &RecordQuery::all())
        .await
        .unwrap()
        .remove(0);
    r.set_column("service", Some("s".repeat(1000)));
    let e = store.replace(&r).await.unwrap_err().to_string();
    assert!(
        e.starts_with("invalid entity: PartitionKey \"hello\", RowKey \"5c7a0ab1e5f6\"")
            && e.contains("at most 1 MiB (1048576 bytes)")
            && e.contains("its largest column is `note"),
        "{e}"
    );
    let after = rows(&az, "big").await;
    assert_eq!(after.len(), 1);
    assert!(after[0].get("service").is_none(), "the row is unchanged");
    assert_eq!(after[0]["note00"].as_str().map(str::len), Some(32_700));
}
