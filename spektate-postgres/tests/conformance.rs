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
