//! The dashboard as a server: listening, refreshing in the background, stopping, and
//! keeping slow or idle clients within its limits.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use spektate_dashboard::{Dashboard, Error, HealthStatus, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LOCALHOST: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refreshes_in_the_background_and_stops_when_told() {
    let team = common::team();
    team.image(
        "1",
        "fabrikam/frontend",
        "frontend-1",
        "1111111111111111111111111111111111111111",
        common::FRONTEND,
    )
    .await;
    let dashboard = Dashboard::new(team.tracker.clone()).refresh_every(Duration::from_secs(1));
    let server = dashboard.clone().bind(LOCALHOST).await.unwrap();
    let addr = server.local_addr();
    assert!(addr.port() != 0, "port 0 picks a free port");
    assert_eq!(server.url(), format!("http://127.0.0.1:{}/", addr.port()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let page = client
        .get(format!("{base}/?service=frontend"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Approval Pull Request"));
    let v: serde_json::Value = client
        .get(format!("{base}/api/deployments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 1);

    // A pipeline records a new image; no request asks for a refresh, the server does it.
    team.image(
        "2",
        "fabrikam/backend",
        "backend-2",
        "2222222222222222222222222222222222222222",
        common::BACKEND,
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if dashboard.tracker().snapshot().deployments.len() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the background refresh did not pick up the new record"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v: serde_json::Value = client
        .get(format!("{base}/api/deployments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 2);
    assert_eq!(dashboard.health().status, HealthStatus::Ok);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert!(
        client
            .get(format!("{base}/api/health"))
            .send()
            .await
            .is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn a_busy_port_is_an_error_naming_the_address() {
    let taken = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let addr = taken.local_addr().unwrap();
    let team = common::team();
    let err = match Dashboard::new(team.tracker.clone()).bind(addr).await {
        Ok(_) => panic!("bound a port already in use"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Bind { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on {addr}: ")),
        "{message}"
    );
}

#[tokio::test]
async fn the_refresh_interval_is_kept_within_bounds() {
    let team = common::team();
    let d = Dashboard::new(team.tracker.clone()).refresh_every(Duration::ZERO);
    assert_eq!(d.health().refresh_seconds, 1);
    let d = d.refresh_every(Duration::from_secs(7 * 86_400));
    assert_eq!(d.health().refresh_seconds, 86_400);
    assert_eq!(
        d.health().status,
        HealthStatus::Starting,
        "nothing was read yet"
    );
}

/// A dashboard over one deployment, served within `limits` until the returned sender fires.
async fn serve_within(
    limits: Limits,
) -> (
    common::Team,
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), Error>>,
) {
    let team = common::team();
    team.image(
        "1",
        "fabrikam/frontend",
        "frontend-1",
        "1111111111111111111111111111111111111111",
        common::FRONTEND,
    )
    .await;
    let (addr, stop, serving) = serve(team.tracker.clone(), limits).await;
    (team, addr, stop, serving)
}

/// A dashboard over `tracker`, served within `limits` until the returned sender fires.
async fn serve(
    tracker: spektate_core::Tracker,
    limits: Limits,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), Error>>,
) {
    let server = Dashboard::new(tracker)
        .bind(LOCALHOST)
        .await
        .unwrap()
        .limits(limits);
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop, serving)
}

/// A connection that sent the first line of a request and one header, not the blank line
/// that ends the header.
async fn half_open(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/deployments HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    s
}

/// Whether the server closed `s` within `wait` (end of stream or reset, after whatever it
/// said last).
async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let read_all = async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(wait, read_all).await.is_ok()
}

/// `GET path` on a connection of its own, answered within `wait`: the status line and body.
async fn get_within(addr: SocketAddr, path: &str, wait: Duration) -> (String, String) {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        (
            head.lines().next().unwrap_or_default().to_string(),
            body.to_string(),
        )
    };
    tokio::time::timeout(wait, exchange)
        .await
        .unwrap_or_else(|_| panic!("GET {path} was not answered within {wait:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_half_a_header_are_closed_after_the_header_timeout() {
    let mut limits = Limits::default();
    limits.header_read_timeout = Duration::from_millis(500);
    let (_team, addr, stop, serving) = serve_within(limits).await;

    let mut slow = Vec::new();
    for _ in 0..50 {
        slow.push(half_open(addr).await);
    }
    // The newest connection: the 0.5 s count from the first may have run out while the
    // other 49 connected.
    assert!(
        !closed_within(slow.last_mut().unwrap(), Duration::from_millis(200)).await,
        "a client gets the whole header read timeout, not less"
    );
    let closing = slow
        .iter_mut()
        .map(|s| closed_within(s, Duration::from_secs(5)));
    let closed = futures::future::join_all(closing).await;
    assert_eq!(
        closed.iter().filter(|c| **c).count(),
        50,
        "every half-sent header is closed within 5 s of a 0.5 s header timeout"
    );

    let (status, body) = get_within(addr, "/api/deployments", Duration::from_secs(5)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains(r#""total":1"#), "{body}");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_a_new_request_is_answered_in_place_of_the_oldest_half_open_one() {
    let mut limits = Limits::default();
    limits.header_read_timeout = Duration::from_secs(30);
    limits.max_connections = 16;
    let (_team, addr, stop, serving) = serve_within(limits).await;
    let (status, _) = get_within(addr, "/api/deployments", Duration::from_secs(5)).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "the first load is done");

    let mut slow = Vec::new();
    for _ in 0..16 {
        slow.push(half_open(addr).await);
    }
    let (status, body) = get_within(addr, "/api/deployments", Duration::from_secs(1)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains(r#""total":1"#), "{body}");
    assert!(
        closed_within(&mut slow[0], Duration::from_secs(1)).await,
        "the oldest half-open connection made room"
    );
    assert!(
        !closed_within(&mut slow[15], Duration::from_millis(200)).await,
        "the newest one is still open"
    );

    // Stopping does not wait 30 s for the half-sent headers.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the server stops within 5 s despite half-open connections")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_goes_quiet_is_closed_after_the_idle_timeout() {
    let mut limits = Limits::default();
    limits.header_read_timeout = Duration::from_secs(30);
    limits.idle_timeout = Duration::from_millis(500);
    let (_team, addr, stop, serving) = serve_within(limits).await;

    // A kept-alive connection after its answer.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /api/deployments HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert!(
        closed_within(&mut s, Duration::from_secs(5)).await,
        "closed within 5 s of a 0.5 s idle timeout"
    );
    // One that never says anything.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);

    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_store_stalls_is_answered_503_after_the_request_timeout() {
    use spektate_core::testkit::FaultyStore;
    use spektate_core::{MemoryStore, Tracker};
    use std::sync::Arc;

    let store = FaultyStore::new(Arc::new(MemoryStore::new()));
    store.hold();
    let mut limits = Limits::default();
    limits.request_timeout = Duration::from_millis(500);
    let tracker = Tracker::builder(store.clone())
        .partition("fabrikam")
        .build();
    let (addr, stop, serving) = serve(tracker, limits).await;

    // The list waits for the first load, which waits on the store.
    let started = std::time::Instant::now();
    let r = reqwest::get(format!("http://{addr}/api/deployments"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.headers()["retry-after"], "5");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["kind"], "StoreError");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("send the request again"),
        "{v}"
    );

    // Once the store answers, so does the server; and it stops when told.
    store.release();
    let r = reqwest::get(format!("http://{addr}/api/deployments"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}
