//! A team server on a free loopback port over a store that counts its writes, with tokens
//! for the partition `fabrikam`.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use spektate_core::{
    ClusterHistory, ClusterReport, ClusterSync, MemoryStore, Record, RecordQuery, RecordStore,
    Result, RunReport, Tracker, async_trait,
};
use spektate_dashboard::tokens::{Scope, TokenFile, Tokens};
use spektate_dashboard::{Dashboard, Oidc, Route, Service, ViewerAuth, ViewerRule};

pub const PARTITION: &str = "fabrikam";

/// A memory store that counts every write (inserts, replaces, deletes, run reports, cluster
/// syncs), so a test can say nothing was written, or exactly what was.
pub struct Counting {
    inner: Arc<dyn RecordStore>,
    writes: AtomicUsize,
}

impl Default for Counting {
    fn default() -> Self {
        Counting::over(Arc::new(MemoryStore::new()))
    }
}

impl Counting {
    /// Counts the writes into `inner`.
    pub fn over(inner: Arc<dyn RecordStore>) -> Self {
        Counting {
            inner,
            writes: AtomicUsize::new(0),
        }
    }

    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// Everything the partitions hold: records, run reports and cluster syncs.
    pub async fn contents(&self, partition: &str) -> (Vec<Record>, Vec<ClusterSync>) {
        (
            self.inner
                .query(partition, &RecordQuery::all())
                .await
                .unwrap(),
            self.inner.cluster_syncs(partition).await.unwrap(),
        )
    }
}

#[async_trait]
impl RecordStore for Counting {
    fn describe(&self) -> String {
        "counting memory".into()
    }
    async fn query(&self, partition: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        self.inner.query(partition, query).await
    }
    async fn insert(&self, record: &Record) -> Result<Record> {
        self.wrote();
        self.inner.insert(record).await
    }
    async fn replace(&self, record: &Record) -> Result<Record> {
        self.wrote();
        self.inner.replace(record).await
    }
    async fn delete(&self, partition: &str, row_key: &str, etag: Option<&str>) -> Result<()> {
        self.wrote();
        self.inner.delete(partition, row_key, etag).await
    }
    async fn put_run_report(&self, partition: &str, report: &RunReport) -> Result<RunReport> {
        self.wrote();
        self.inner.put_run_report(partition, report).await
    }
    async fn run_reports(&self, partition: &str, ids: &[String]) -> Result<Vec<RunReport>> {
        self.inner.run_reports(partition, ids).await
    }
    async fn put_cluster_report(&self, partition: &str, report: &ClusterReport) -> Result<()> {
        self.wrote();
        self.inner.put_cluster_report(partition, report).await
    }
    async fn cluster_histories(&self, partition: &str) -> Result<Vec<ClusterHistory>> {
        self.inner.cluster_histories(partition).await
    }
}

/// A running server and the tokens it knows.
pub struct Running {
    pub base: String,
    pub store: Arc<Counting>,
    pub routes: Vec<Route>,
    /// Writes `fabrikam`.
    pub writer: String,
    /// Writes `contoso` only.
    pub other_writer: String,
    /// Reads `fabrikam`.
    pub reader: String,
    /// Reads `contoso` only.
    pub contoso_reader: String,
    /// Writes `fabrikam`, `contoso` and `acme`.
    pub wide_writer: String,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` to `path` with `token` (none when empty) and an optional idempotency key.
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap();
        }
    }
}

/// Starts a server with the write API and `viewers`.
pub async fn start(viewers: ViewerAuth) -> Running {
    start_with(viewers, None).await
}

/// Starts a server with the write API, `viewers`, and ID tokens checked by `oidc`.
pub async fn start_with(viewers: ViewerAuth, oidc: Option<Oidc>) -> Running {
    launch(
        viewers,
        oidc,
        Vec::new(),
        Arc::new(Counting::default()),
        &[PARTITION],
    )
    .await
}

/// Starts a server with the write API and `viewers` over `partitions` of `store` (the first
/// the default), one tracker each.
pub async fn start_partitions(
    viewers: ViewerAuth,
    store: Arc<Counting>,
    partitions: &[&str],
) -> Running {
    launch(viewers, None, Vec::new(), store, partitions).await
}

/// [`start_partitions`] with viewers named by the proxy header, held to `rules`.
pub async fn start_partitions_for(
    rules: Vec<ViewerRule>,
    store: Arc<Counting>,
    partitions: &[&str],
) -> Running {
    launch(ViewerAuth::proxy_headers(), None, rules, store, partitions).await
}

async fn launch(
    viewers: ViewerAuth,
    oidc: Option<Oidc>,
    rules: Vec<ViewerRule>,
    store: Arc<Counting>,
    partitions: &[&str],
) -> Running {
    let mut file = TokenFile::default();
    let writer = file
        .create("ci", &[Scope::Write], &[PARTITION.into()])
        .unwrap();
    let other = file
        .create("contoso-ci", &[Scope::Write], &["contoso".into()])
        .unwrap();
    let reader = file
        .create("viewer", &[Scope::Read], &[PARTITION.into()])
        .unwrap();
    let contoso_reader = file
        .create("contoso-viewer", &[Scope::Read], &["contoso".into()])
        .unwrap();
    let wide = file
        .create(
            "platform-ci",
            &[Scope::Write],
            &[PARTITION.into(), "contoso".into(), "acme".into()],
        )
        .unwrap();
    let tracker = |p: &str| Tracker::builder(store.clone()).partition(p).build();
    let mut service = Service::new(Dashboard::new(tracker(partitions[0])));
    for p in &partitions[1..] {
        service = service.partition(tracker(p)).unwrap();
    }
    let mut service = service
        .accept_writes(Tokens::fixed(file))
        .viewers(viewers)
        .viewer_rules(rules);
    if let Some(oidc) = oidc {
        service = service.accept_oidc(oidc);
    }
    let routes = service.routes();
    let Serving { base, stop, served } = serve(service).await;
    Running {
        base,
        store,
        routes,
        writer: writer.expose().to_string(),
        other_writer: other.expose().to_string(),
        reader: reader.expose().to_string(),
        contoso_reader: contoso_reader.expose().to_string(),
        wide_writer: wide.expose().to_string(),
        client: reqwest::Client::new(),
        stop: Some(stop),
        served: Some(served),
    }
}

/// A service answering on a free loopback port until `stop` is sent (or dropped).
pub struct Serving {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Stops the server.
    pub stop: tokio::sync::oneshot::Sender<()>,
    /// Ends once the server has stopped (a failed run fails it).
    pub served: tokio::task::JoinHandle<()>,
}

/// Binds `service` to 127.0.0.1 on a free port and runs it in the background.
pub async fn serve(service: Service) -> Serving {
    let server = service
        .bind(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0))
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Serving { base, stop, served }
}
