//! The table's continuation headers are the service's answer, and a query follows them only
//! while they move on: a service that sends a continuation it gave before, just now or pages
//! ago, is an error, not a refresh that never ends; a 404 other than the first page's
//! `TableNotFound` is an error, not fewer rows.

use serde_json::json;
use spektate_azdo::{AzureTableStore, TableAccount};
use spektate_core::{RecordQuery, RecordStore};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A page of `rows` of `fabrikam` records, continued at `next` (partition and row key
/// tokens as the service encodes them).
fn page(rows: std::ops::Range<u32>, next: (&str, &str)) -> ResponseTemplate {
    let value: Vec<_> = rows
        .map(|i| {
            json!({
                "PartitionKey": "fabrikam",
                "RowKey": format!("{i:04}"),
                "Timestamp": "2026-11-30T12:00:00.0000000Z",
                "odata.etag": "W/\"datetime'2026-11-30T12%3A00%3A00.0000000Z'\"",
                "p1": format!("{}", 4000 + i),
                "service": "fabrikam/frontend",
            })
        })
        .collect();
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json;odata=minimalmetadata")
        .insert_header("x-ms-continuation-nextpartitionkey", next.0)
        .insert_header("x-ms-continuation-nextrowkey", next.1)
        .set_body_json(json!({ "value": value }))
}

/// A table whose first query answers two rows continued at the same place, and every
/// later one `rows` continued at `next`; and a store over it.
async fn table(rows: std::ops::Range<u32>, next: (&str, &str)) -> (MockServer, AzureTableStore) {
    let table = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(page(0..2, ("1!12!ZmFicmlrYW0-", "1!8!MDAwMg--")))
        .up_to_n_times(1)
        .mount(&table)
        .await;
    Mock::given(method("GET"))
        .respond_with(page(rows, next))
        .mount(&table)
        .await;
    let store = store_over(&table);
    (table, store)
}

/// A store over the fake `table`.
fn store_over(table: &MockServer) -> AzureTableStore {
    let account = TableAccount::development(Some(&table.uri())).unwrap();
    AzureTableStore::new(account, "deployments").unwrap()
}

#[tokio::test]
async fn a_continuation_sent_again_ends_the_query_with_an_error() {
    // The first page, then the same continuation over and over.
    let (table, store) = table(2..3, ("1!12!ZmFicmlrYW0-", "1!8!MDAwMg--")).await;
    let e = store
        .query("fabrikam", &RecordQuery::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("page 2 sent the continuation of the page before it again"),
        "{e}"
    );
    let asked = table.received_requests().await.unwrap();
    assert_eq!(asked.len(), 2, "{asked:?}");
    let second = asked[1].url.query().unwrap_or_default();
    assert!(
        second.contains("NextPartitionKey=1%2112%21ZmFicmlrYW0-")
            && second.contains("NextRowKey=1%218%21MDAwMg--"),
        "the continuation is sent back as given: {second}"
    );
}

#[tokio::test]
async fn continuations_that_move_on_are_followed_to_the_last_page() {
    let (table, store) = table(2..4, ("", "")).await;
    let got = store
        .query("fabrikam", &RecordQuery::default())
        .await
        .unwrap();
    let ids: Vec<&str> = got.iter().map(|r| r.row_key.as_str()).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(table.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn continuations_that_cycle_end_the_query_with_an_error() {
    // Page 1 continues at A, every later page alternately at B and A.
    let a = ("1!12!ZmFicmlrYW0-", "1!8!MDAwMg--");
    let b = ("1!12!ZmFicmlrYW0-", "1!8!MDAwMw--");
    let table = MockServer::start().await;
    for (n, next) in [(1, a), (1, b)] {
        Mock::given(method("GET"))
            .respond_with(page(0..2, next))
            .up_to_n_times(n)
            .with_priority(if next == a { 1 } else { 2 })
            .mount(&table)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(page(2..3, a))
        .with_priority(3)
        .mount(&table)
        .await;
    let e = store_over(&table)
        .query("fabrikam", &RecordQuery::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("page 3 sent the continuation of page 1 again"),
        "{e}"
    );
    assert_eq!(table.received_requests().await.unwrap().len(), 3);
}

/// A 404 means "no table yet, no rows" only on the first page and only when the service
/// says `TableNotFound`: a proxy's 404, or one in the middle of a read, is an error, not a
/// partition with fewer records (which a reconciling tracker would take for deletions).
#[tokio::test]
async fn only_the_service_s_table_not_found_on_the_first_page_reads_as_no_rows() {
    let missing = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("x-ms-error-code", "TableNotFound")
                .set_body_json(json!({"odata.error": {"code": "TableNotFound"}})),
        )
        .mount(&missing)
        .await;
    let rows = store_over(&missing)
        .query("fabrikam", &RecordQuery::default())
        .await
        .unwrap();
    assert!(rows.is_empty());

    let proxy = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .mount(&proxy)
        .await;
    let e = store_over(&proxy)
        .query("fabrikam", &RecordQuery::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 404"), "{e}");

    let midway = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(page(0..2, ("1!12!ZmFicmlrYW0-", "1!8!MDAwMg--")))
        .up_to_n_times(1)
        .mount(&midway)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).insert_header("x-ms-error-code", "TableNotFound"))
        .mount(&midway)
        .await;
    let e = store_over(&midway)
        .query("fabrikam", &RecordQuery::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 404 TableNotFound"), "{e}");
}
