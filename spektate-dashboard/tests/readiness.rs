//! `/api/ready` over a store that fails or hangs for one of two partitions: a 503 that says
//! what is wrong and no more, within README's limit rather than a hang, and 200 again once
//! the store answers.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use spektate_core::testkit::{Fault, FaultyStore};
use spektate_core::{
    ClusterHistory, ClusterReport, Error, MemoryStore, Record, RecordQuery, RecordStore, Result,
    RunReport, Tracker, async_trait,
};
use spektate_dashboard::{Dashboard, Service};
use support::Serving;

/// What a store's error may carry and a public probe must not: a SAS signature.
const SECRET: &str = "sig=c2VjcmV0LXNhcy1zaWduYXR1cmU";

/// A [`FaultyStore`] whose failed reads say what a real store's might: its address with the
/// signature that lets it in.
struct Leaky(Arc<FaultyStore>);

#[async_trait]
impl RecordStore for Leaky {
    fn describe(&self) -> String {
        format!("azure-table:https://contoso.table.core.windows.net/?sv=2024&{SECRET}")
    }
    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        self.0
            .query(partition, query)
            .await
            .map_err(|e| Error::store(self.describe(), "query", e))
    }
    async fn insert(&self, record: &Record) -> Result<Record> {
        self.0.insert(record).await
    }
    async fn replace(&self, record: &Record) -> Result<Record> {
        self.0.replace(record).await
    }
    async fn delete(&self, partition: &str, row_key: &str, etag: Option<&str>) -> Result<()> {
        self.0.delete(partition, row_key, etag).await
    }
    async fn put_run_report(&self, partition: &str, report: &RunReport) -> Result<RunReport> {
        self.0.put_run_report(partition, report).await
    }
    async fn run_reports(&self, partition: &str, ids: &[String]) -> Result<Vec<RunReport>> {
        self.0.run_reports(partition, ids).await
    }
    async fn put_cluster_report(&self, partition: &str, report: &ClusterReport) -> Result<()> {
        self.0.put_cluster_report(partition, report).await
    }
    async fn cluster_histories(&self, partition: &str) -> Result<Vec<ClusterHistory>> {
        self.0.cluster_histories(partition).await
    }
}

/// The limit README gives readiness: "the store answers a read of every partition, one
/// after another, within N s in all".
fn readme_limit() -> Duration {
    let readme = include_str!("../../README.md");
    let claim =
        "readiness (the store answers a read of every partition, one after another, within ";
    let at = readme
        .find(claim)
        .expect("README states the readiness limit")
        + claim.len();
    let rest = &readme[at..];
    let figure = rest
        .split_once(" s in all")
        .map(|(n, _)| n)
        .unwrap_or_else(|| panic!("no 'N s in all' after {claim:?}"));
    Duration::from_secs(figure.parse().expect("a whole number of seconds"))
}

/// A server for `fabrikam` (a memory store) and `contoso` (`contoso`'s store), and its
/// `/api/ready` URL.
async fn serve(
    contoso: Arc<dyn RecordStore>,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let tracker =
        |store: Arc<dyn RecordStore>, p: &str| Tracker::builder(store).partition(p).build();
    let service = Service::new(Dashboard::new(tracker(
        Arc::new(MemoryStore::new()),
        "fabrikam",
    )))
    .partition(tracker(contoso, "contoso"))
    .unwrap();
    let Serving { base, stop, served } = support::serve(service).await;
    (format!("{base}/api/ready"), stop, served)
}

/// `/api/ready`'s status, body, and how long it took; the client gives up after `patience`,
/// so a server that hangs fails the test instead of hanging it.
async fn ready(url: &str, patience: Duration) -> (u16, Value, Duration) {
    let client = reqwest::Client::builder()
        .timeout(patience)
        .build()
        .unwrap();
    let started = Instant::now();
    let r = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("/api/ready did not answer within {patience:?}: {e}"));
    let code = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (code, body, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_naming_the_unreadable_store_without_its_secret_while_one_partition_fails() {
    let faulty = FaultyStore::new(Arc::new(MemoryStore::new()));
    let (url, stop, served) = serve(Arc::new(Leaky(faulty.clone()))).await;
    let patience = readme_limit() + Duration::from_secs(10);

    let (code, body, _) = ready(&url, patience).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "ready", "{body}");

    // contoso, the second partition, cannot be read; fabrikam, the default, can.
    faulty.set_fault(Fault::Fail);
    let asked = faulty.queries();
    let (code, body, _) = ready(&url, patience).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["status"], "unavailable", "{body}");
    let error = body["error"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(error.contains("the store cannot be read"), "{body}");
    assert!(faulty.queries() > asked, "the probe read contoso");
    let text = body.to_string();
    for leak in [SECRET, "core.windows.net", "connection refused"] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }

    // Cleared: ready again, with no restart.
    faulty.set_fault(Fault::None);
    let (code, body, _) = ready(&url, patience).await;
    assert_eq!((code, &body["status"]), (200, &"ready".into()), "{body}");

    let _ = stop.send(());
    served.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_after_the_limit_when_one_partition_hangs_and_200_once_it_answers() {
    let limit = readme_limit();
    let margin = Duration::from_secs(3);
    let faulty = FaultyStore::new(Arc::new(MemoryStore::new()));
    let (url, stop, served) = serve(faulty.clone()).await;
    let patience = limit + Duration::from_secs(10);

    let (code, body, _) = ready(&url, patience).await;
    assert_eq!(code, 200, "{body}");

    // contoso's reads wait until released: longer than any limit.
    faulty.hold();
    let (code, body, took) = ready(&url, patience).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["status"], "unavailable", "{body}");
    // The answer names README's figure, so the server's limit is README's.
    assert_eq!(
        body["error"],
        format!("the store did not answer within {} s", limit.as_secs()),
        "{body}"
    );
    assert!(
        took >= limit && took < limit + margin,
        "answered after {took:?}; the limit is {limit:?}"
    );

    // Released: ready again.
    faulty.release();
    let (code, body, _) = ready(&url, patience).await;
    assert_eq!((code, &body["status"]), (200, &"ready".into()), "{body}");

    let _ = stop.send(());
    served.await.unwrap();
}
