//! The embedded stores keep providers' final answers: they pass the answers conformance suite.

use std::sync::Arc;

use spektate_core::MemoryStore;
use spektate_core::testkit::answers_conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_keeps_answers() {
    answers_conformance(Arc::new(MemoryStore::new())).await;
}
