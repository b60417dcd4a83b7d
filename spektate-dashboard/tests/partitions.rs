//! One server, several partitions: `fabrikam` (the default) and `contoso` on one SQLite
//! store, each with its own tracker, refresh and view; tokens are held to their partitions.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spektate_core::ingest::Kind;
use spektate_core::testkit::{Fault, FaultyStore};
use spektate_core::{MemoryStore, RecordStore, SqliteStore, Tracker};
use spektate_dashboard::tokens::{Scope, TokenFile, Tokens};
use spektate_dashboard::{Dashboard, Service, ViewerAuth, ViewerRule};
use support::{Counting, PARTITION, Running, start_partitions};

/// A SQLite store in a directory of its own, removed when dropped.
struct Db {
    dir: std::path::PathBuf,
    store: Arc<Counting>,
}

impl Db {
    fn new(name: &str) -> Db {
        let dir = std::env::temp_dir().join(format!(
            "spektate-partitions-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let sqlite = SqliteStore::open(dir.join("spektate.db")).unwrap();
        Db {
            dir,
            store: Arc::new(Counting::over(Arc::new(sqlite))),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn image(p1: &str, tag: &str) -> Value {
    json!({"p1": p1, "imageTag": tag, "commitId": "a1b2c3d4e5f6", "service": "fabrikam/frontend"})
}

async fn get(server: &Running, path: &str, token: &str) -> reqwest::Response {
    let mut request = server.client.get(server.url(path));
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// The list of `path` once it counts `total` deployments (the refresh after a write is
/// in the background), or after 10 s.
async fn list_of(server: &Running, path: &str, token: &str, total: u64) -> Value {
    let started = Instant::now();
    loop {
        let r = get(server, path, token).await;
        assert_eq!(r.status(), 200, "{path}");
        let list: Value = r.json().await.unwrap();
        if list["total"] == total || started.elapsed() > Duration::from_secs(10) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn tags(list: &Value) -> Vec<String> {
    let mut tags: Vec<String> = list["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["imageTag"].as_str().unwrap_or_default().to_string())
        .collect();
    tags.sort();
    tags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_to_each_partition_show_only_in_its_own_view() {
    let db = Db::new("views");
    let server =
        start_partitions(ViewerAuth::None, db.store.clone(), &[PARTITION, "contoso"]).await;
    let writes = [
        (Kind::Image.path().to_string(), &server.writer, "1", "fab-1"),
        (
            format!("{}?partition={PARTITION}", Kind::Image.path()),
            &server.writer,
            "2",
            "fab-2",
        ),
        (
            format!("{}?partition=contoso", Kind::Image.path()),
            &server.other_writer,
            "3",
            "con-3",
        ),
    ];
    for (path, token, p1, tag) in writes {
        let r = server.post(&path, token, None, &image(p1, tag)).await;
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
        let written: Value = r.json().await.unwrap();
        let want = if tag.starts_with("con") {
            "contoso"
        } else {
            PARTITION
        };
        assert_eq!(written["partition"], want, "{written}");
    }
    assert_eq!(db.store.contents(PARTITION).await.0.len(), 2);
    assert_eq!(db.store.contents("contoso").await.0.len(), 1);

    // No ?partition=: the first one given, fabrikam.
    let default = list_of(&server, "/api/deployments", "", 2).await;
    assert_eq!(default["partition"], PARTITION);
    assert_eq!(default["partitions"], json!([PARTITION, "contoso"]));
    assert_eq!(tags(&default), ["fab-1", "fab-2"], "{default:#}");
    let fabrikam = list_of(&server, "/api/deployments?partition=fabrikam", "", 2).await;
    assert_eq!(tags(&fabrikam), ["fab-1", "fab-2"]);
    let contoso = list_of(&server, "/api/deployments?partition=contoso", "", 1).await;
    assert_eq!(contoso["partition"], "contoso");
    assert_eq!(tags(&contoso), ["con-3"], "{contoso:#}");
    // Filters work within the partition asked for.
    let filtered = list_of(
        &server,
        "/api/deployments?partition=contoso&imageTag=fab-1",
        "",
        0,
    )
    .await;
    assert_eq!(filtered["total"], 0, "{filtered:#}");

    // A partition the server does not serve is a 404 naming it.
    let r = get(&server, "/api/deployments?partition=acme", "").await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "partition");
    let message = e["error"].as_str().unwrap();
    assert!(
        message.contains("'acme'") && message.contains("fabrikam, contoso"),
        "{message}"
    );
    let r = get(
        &server,
        "/api/deployments?partition=contoso&partition=fabrikam",
        "",
    )
    .await;
    assert_eq!(r.status(), 400, "a partition given twice");

    // Each partition is refreshed, its health and its deployments counted.
    let health: Value = get(&server, "/api/health", "").await.json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health:#}");
    let names: Vec<&str> = health["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["partition"].as_str().unwrap())
        .collect();
    assert_eq!(names, [PARTITION, "contoso"]);
    assert_eq!(health["partitions"][1]["deployments"], 1, "{health:#}");
    assert!(health["partitions"][1]["refreshedAt"].is_string());
    assert_eq!(get(&server, "/api/ready", "").await.status(), 200);
    let metrics = get(&server, "/metrics", "").await.text().await.unwrap();
    let count = |partition: &str| -> u64 {
        let prefix = format!("spektate_deployments{{partition=\"{partition}\",");
        metrics
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!((count(PARTITION), count("contoso")), (2, 1), "{metrics}");
    assert!(
        metrics.contains("spektate_records_written_total{kind=\"image\"} 3"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_across_or_outside_the_served_partitions_are_refused_and_write_nothing() {
    let db = Db::new("writes");
    let server =
        start_partitions(ViewerAuth::None, db.store.clone(), &[PARTITION, "contoso"]).await;
    let cases = [
        // A fabrikam token on contoso, a contoso token on the default partition.
        (
            format!("{}?partition=contoso", Kind::Image.path()),
            &server.writer,
            403,
        ),
        (Kind::Image.path().to_string(), &server.other_writer, 403),
        // A token that may write acme, on a server that does not serve it.
        (
            format!("{}?partition=acme", Kind::Image.path()),
            &server.wide_writer,
            404,
        ),
        (
            format!("{}?partition=acme", Kind::Sync.path()),
            &server.wide_writer,
            404,
        ),
    ];
    for (path, token, want) in cases {
        let body = if path.starts_with(Kind::Sync.path()) {
            spektate_dashboard::example(Kind::Sync)
        } else {
            image("9", "nope-9")
        };
        let r = server.post(&path, token, Some("k-9"), &body).await;
        assert_eq!(r.status().as_u16(), want, "{path}");
        let e: Value = r.json().await.unwrap();
        if want == 404 {
            assert_eq!(e["field"], "partition", "{e}");
            assert!(e["error"].as_str().unwrap().contains("'acme'"), "{e}");
        }
    }
    assert_eq!(db.store.writes(), 0, "a refused write wrote something");
    for partition in [PARTITION, "contoso", "acme"] {
        let (records, syncs) = db.store.contents(partition).await;
        assert!(records.is_empty() && syncs.is_empty(), "{partition}");
    }
    // The same token writes the partitions the server serves.
    for partition in [PARTITION, "contoso"] {
        let path = format!("{}?partition={partition}", Kind::Image.path());
        let r = server
            .post(&path, &server.wide_writer, None, &image("9", "ok-9"))
            .await;
        assert_eq!(r.status(), 200, "{partition}");
    }
    assert_eq!(db.store.writes(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_reads_only_its_partitions() {
    let db = Db::new("readers");
    let server =
        start_partitions(ViewerAuth::Token, db.store.clone(), &[PARTITION, "contoso"]).await;
    // Either reader opens the page: each may read a partition it serves.
    for token in [&server.reader, &server.contoso_reader] {
        assert_eq!(get(&server, "/", token).await.status(), 200);
    }
    assert_eq!(get(&server, "/", &server.writer).await.status(), 403);

    let r = get(
        &server,
        "/api/deployments?partition=contoso",
        &server.reader,
    )
    .await;
    assert_eq!(r.status(), 403, "a fabrikam reader on contoso");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["kind"], "AuthError");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .ends_with("(viewer) may not read partition contoso"),
        "{e}"
    );
    let r = get(&server, "/api/deployments", &server.contoso_reader).await;
    assert_eq!(r.status(), 403, "a contoso reader on the default, fabrikam");

    let mine = list_of(&server, "/api/deployments", &server.reader, 0).await;
    assert_eq!(mine["partition"], PARTITION);
    assert_eq!(
        mine["partitions"],
        json!([PARTITION]),
        "only what it may read"
    );
    let theirs = list_of(
        &server,
        "/api/deployments?partition=contoso",
        &server.contoso_reader,
        0,
    )
    .await;
    assert_eq!(theirs["partition"], "contoso");
    assert_eq!(theirs["partitions"], json!(["contoso"]));
    // A partition the reader may not read is refused alike whether the server serves it
    // (fabrikam) or not (acme): nothing tells the reader which others exist.
    for path in [
        "/api/deployments?partition=",
        "/api/status?partition=",
        "/api/metrics/dora?partition=",
        "/api/deployments/x/journey?partition=",
    ] {
        let mut answers = Vec::new();
        for partition in [PARTITION, "acme"] {
            let r = get(
                &server,
                &format!("{path}{partition}"),
                &server.contoso_reader,
            )
            .await;
            let status = r.status();
            let e: Value = r.json().await.unwrap();
            let message = e["error"].as_str().unwrap().replace(partition, "P");
            answers.push((status, message));
        }
        assert_eq!(answers[0].0, 403, "{path}");
        assert_eq!(answers[0], answers[1], "{path}");
    }
    // Without a token nothing is said about partitions.
    let r = get(&server, "/api/deployments?partition=acme", "").await;
    assert_eq!(r.status(), 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sees_the_health_of_its_partitions_only() {
    // fabrikam's store fails every read; contoso's answers.
    let failing = FaultyStore::new(Arc::new(MemoryStore::new()));
    failing.set_fault(Fault::Fail);
    let mut file = TokenFile::default();
    let fabrikam_reader = file
        .create("viewer", &[Scope::Read], &[PARTITION.into()])
        .unwrap();
    let contoso_reader = file
        .create("contoso-viewer", &[Scope::Read], &["contoso".into()])
        .unwrap();
    let tracker =
        |store: Arc<dyn RecordStore>, p: &str| Tracker::builder(store).partition(p).build();
    let service = Service::new(Dashboard::new(tracker(failing, PARTITION)))
        .partition(tracker(Arc::new(MemoryStore::new()), "contoso"))
        .unwrap()
        .accept_writes(Tokens::fixed(file))
        .viewers(ViewerAuth::Token);
    let server = service
        .bind(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0))
        .await
        .unwrap();
    let url = format!("http://{}/api/health", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let health = |token: &str| reqwest::Client::new().get(&url).bearer_auth(token).send();

    let started = Instant::now();
    let (code, mine) = loop {
        let r = health(fabrikam_reader.expose()).await.unwrap();
        let code = r.status().as_u16();
        let h: Value = r.json().await.unwrap();
        if h["status"] != "starting" || started.elapsed() > Duration::from_secs(10) {
            break (code, h);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (code, &mine["status"]),
        (503, &json!("unavailable")),
        "{mine:#}"
    );
    let reasons = mine["reasons"].to_string();
    assert!(
        reasons.contains("fabrikam: the last refresh failed"),
        "{mine:#}"
    );

    // The contoso reader: contoso's health alone, fabrikam neither listed nor counted.
    let r = health(contoso_reader.expose()).await.unwrap();
    assert_eq!(r.status(), 200);
    let theirs: Value = r.json().await.unwrap();
    assert_eq!(
        (&theirs["status"], &theirs["partition"], &theirs["reasons"]),
        (&json!("ok"), &json!("contoso"), &json!([])),
        "{theirs:#}"
    );
    let names: Vec<&Value> = theirs["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["partition"])
        .collect();
    assert_eq!(names, [&json!("contoso")], "{theirs:#}");
    assert!(!theirs.to_string().contains(PARTITION), "{theirs:#}");
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}

#[test]
fn a_partition_is_served_once() {
    let store = Arc::new(Counting::default());
    let tracker = |p: &str| {
        spektate_core::Tracker::builder(store.clone())
            .partition(p)
            .build()
    };
    let service = Service::new(Dashboard::new(tracker(PARTITION)))
        .partition(tracker("contoso"))
        .unwrap();
    assert_eq!(service.partitions(), [PARTITION, "contoso"]);
    let again = service.partition(tracker("contoso")).err().unwrap();
    assert!(
        again.to_string().contains("'contoso' is served already"),
        "{again}"
    );
}

#[tokio::test]
async fn viewer_rules_hold_proxy_named_viewers_to_their_partitions() {
    let db = Db::new("viewer-rules");
    let rules = vec![
        ViewerRule::parse("partition=contoso,user=*@contoso.com").unwrap(),
        ViewerRule::parse("partition=fabrikam,user=*@fabrikam.com").unwrap(),
    ];
    let server =
        support::start_partitions_for(rules, db.store.clone(), &[PARTITION, "contoso"]).await;
    let as_viewer = |path: &str, user: &str| {
        server
            .client
            .get(server.url(path))
            .header("x-forwarded-email", user)
            .send()
    };
    let lena = as_viewer("/api/deployments?partition=contoso", "lena@contoso.com")
        .await
        .unwrap();
    assert_eq!(lena.status(), 200);
    let list: Value = lena.json().await.unwrap();
    assert_eq!(list["partitions"], json!(["contoso"]), "{list}");
    let refused = as_viewer("/api/deployments?partition=fabrikam", "lena@contoso.com")
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let why: Value = refused.json().await.unwrap();
    assert!(why.to_string().contains("fabrikam"), "{why}");
    // The default partition is fabrikam's: a contoso viewer is refused there too.
    let default = as_viewer("/api/deployments", "lena@contoso.com")
        .await
        .unwrap();
    assert_eq!(default.status(), 403);
    let mona = as_viewer("/api/deployments", "mona@fabrikam.com")
        .await
        .unwrap();
    assert_eq!(mona.status(), 200);
    let stranger = as_viewer("/api/deployments?partition=contoso", "eve@example.com")
        .await
        .unwrap();
    assert_eq!(stranger.status(), 403);
    // A name whose first 200 characters end like a contoso address is not a contoso viewer.
    let long = format!(
        "{}@contoso.com.example.org",
        "e".repeat(200 - "@contoso.com".len())
    );
    let forged = as_viewer("/api/deployments?partition=contoso", &long)
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let why: Value = forged.json().await.unwrap();
    assert!(why.to_string().contains("200 characters"), "{why}");
}
