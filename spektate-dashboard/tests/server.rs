//! The dashboard as a server: listening, refreshing in the background, stopping.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use spektate_dashboard::{Dashboard, Error, HealthStatus};

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
