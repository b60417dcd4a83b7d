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

/// A store seen through a filter claims as the store itself does.
#[tokio::test]
async fn a_filtered_store_claims_through_its_store() {
    use spektate_core::store::filtered::FilteredStore;
    use spektate_core::{Filter, RecordStore};
    let inner: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    let filtered = FilteredStore::new(inner.clone(), Filter::default());
    assert!(inner.claim("p", "d1\nready", "server-a").await.unwrap());
    assert!(
        !filtered.claim("p", "d1\nready", "server-b").await.unwrap(),
        "another holder's claim is refused through the filter too"
    );
}
