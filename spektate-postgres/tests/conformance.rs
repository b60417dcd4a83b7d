//! The store passes the core conformance suite against a real PostgreSQL server.

use std::sync::Arc;

use spektate_postgres::PostgresStore;
use spektate_postgres::testkit::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_passes_the_core_conformance_suite() {
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    spektate_core::testkit::store_conformance(Arc::new(store)).await;
}

/// A record merged away and its key written again: an etag read from the first row never
/// matches the second, whose version starts past every version the first had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etag_of_a_deleted_record_does_not_match_its_key_written_again() {
    use spektate_core::{Error, Record, RecordStore};
    let server = TestServer::start();
    let store = PostgresStore::open(&server.url()).unwrap();
    let mut r = Record::new("p");
    r.image_tag = Some("web-1".into());
    let first = store.insert(&r).await.unwrap();
    let mut updated = first.clone();
    updated.env = Some("dev".into());
    let updated = store.replace(&updated).await.unwrap();
    store.delete("p", &first.row_key, None).await.unwrap();
    let again = store.insert(&r).await.unwrap();
    for old in [&first, &updated] {
        assert_ne!(again.etag, old.etag);
        let mut stale = again.clone();
        stale.etag = old.etag.clone();
        stale.env = Some("prod".into());
        let e = store.replace(&stale).await.unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e}");
    }
}
