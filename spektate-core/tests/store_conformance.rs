//! The embedded stores pass the store conformance suite.

use std::sync::Arc;

use spektate_core::testkit::store_conformance;
use spektate_core::{MemoryStore, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_conforms() {
    store_conformance(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    store_conformance(Arc::new(
        SqliteStore::open(dir.path().join("spektate.db")).unwrap(),
    ))
    .await;
}
