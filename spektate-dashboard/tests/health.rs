//! `/api/health` as a monitor sees it: degraded with the reason when a refresh fails or
//! panics or a provider fails, back to ok when the fault clears, and an answer at once
//! while the first refresh is still running.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use spektate_core::testkit::{FakeRepos, Fault, FaultyStore};
use spektate_core::{ImageBuilt, MemoryStore, RecordStore, Recorder, Tracker};
use spektate_dashboard::{Dashboard, HealthStatus};
use tower::ServiceExt;

async fn image(store: Arc<dyn RecordStore>, p1: &str) {
    Recorder::new(store, "fabrikam")
        .unwrap()
        .image_built(&ImageBuilt {
            p1: p1.into(),
            image_tag: format!("web-{p1}"),
            commit_id: format!("abcdef{p1}"),
            service: "fabrikam/web".into(),
            repository: Some("https://github.com/fabrikam/web".into()),
        })
        .await
        .unwrap();
}

/// `/api/health` through the router, answered within 3 s (it waits at most half a second
/// for a refresh; a held store never answers).
async fn health(app: &Router) -> (StatusCode, Value) {
    let request = Request::get("/api/health").body(Body::empty()).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(3), app.clone().oneshot(request))
        .await
        .expect("/api/health answers within 3 s")
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

/// Polls `/api/health` until its status is `want`; returns the last answer.
async fn until_status(app: &Router, want: &str) -> (StatusCode, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (code, v) = health(app).await;
        if v["status"] == want {
            return (code, v);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never became {want}; last: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn reasons(v: &Value) -> Vec<&str> {
    v["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons in {v}"))
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_panics_or_fails_makes_health_degraded_until_the_refresher_recovers() {
    let store = FaultyStore::new(Arc::new(MemoryStore::new()));
    image(store.clone(), "1").await;
    let dashboard = Dashboard::new(
        Tracker::builder(store.clone())
            .partition("fabrikam")
            .build(),
    )
    .refresh_every(Duration::from_secs(1));
    let refresher = dashboard.spawn_refresher();
    let app = dashboard.router();
    let (code, v) = until_status(&app, "ok").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["deployments"], 1);
    assert_eq!(reasons(&v), Vec::<&str>::new());

    store.set_fault(Fault::Panic);
    let (code, v) = until_status(&app, "degraded").await;
    assert_eq!(code, StatusCode::OK, "the last good data is still served");
    assert_eq!(
        reasons(&v),
        [
            "the last refresh failed: the refresh panicked: the store driver tripped over a null pointer"
        ]
    );
    assert!(
        refresher.is_running(),
        "a panic does not stop the refresher"
    );

    store.set_fault(Fault::None);
    let (_, v) = until_status(&app, "ok").await;
    assert!(v.get("lastError").is_none(), "{v}");
    assert_eq!(v["consecutiveFailures"], 0);

    store.set_fault(Fault::Fail);
    let (_, v) = until_status(&app, "degraded").await;
    assert_eq!(
        reasons(&v)[0],
        "the last refresh failed: faulty:test store: query failed: connection refused"
    );
    store.set_fault(Fault::None);
    until_status(&app, "ok").await;
    assert!(refresher.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_fails_makes_health_degraded_and_names_it() {
    let store = Arc::new(MemoryStore::new());
    image(store.clone(), "1").await;
    image(store.clone(), "2").await;
    let repos = Arc::new(FakeRepos::new());
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .repositories(repos.clone())
        .build();
    let dashboard = Dashboard::new(tracker).refresh_every(Duration::from_secs(1));
    let _refresher = dashboard.spawn_refresher();
    let app = dashboard.router();
    until_status(&app, "ok").await;

    *repos.fail_authors.lock().unwrap() = Some("401 Unauthorized: bad credentials".into());
    // Deployments already settled are not asked again: a new one is.
    image(dashboard.tracker().store().clone(), "3").await;
    let (code, v) = until_status(&app, "degraded").await;
    assert_eq!(code, StatusCode::OK);
    let why = reasons(&v);
    assert_eq!(why.len(), 1, "{v}");
    assert!(
        why[0].starts_with("lookups failed: fake repos: author of 1 commit: ")
            && why[0].ends_with("401 Unauthorized: bad credentials"),
        "the reason names the provider and its error: {}",
        why[0]
    );
    assert!(v.get("lastError").is_none(), "the refresh itself worked");

    *repos.fail_authors.lock().unwrap() = None;
    let (_, v) = until_status(&app, "ok").await;
    assert_eq!(v["deployments"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_slow_first_load_health_answers_starting_at_once() {
    let store = FaultyStore::new(Arc::new(MemoryStore::new()));
    image(store.clone(), "1").await;
    store.hold();
    let dashboard = Dashboard::new(
        Tracker::builder(store.clone())
            .partition("fabrikam")
            .build(),
    );

    // Without a background refresher: the request that starts the first load.
    let app = dashboard.router();
    let (code, v) = health(&app).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["status"], "starting");
    // With one: the load runs in the background, health does not wait for it.
    let _refresher = dashboard.spawn_refresher();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (code, v) = health(&app).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["status"], "starting");
    assert_eq!(dashboard.health().status, HealthStatus::Starting);

    // The page's own request waits for the data, and gets it once the store answers.
    let list = tokio::spawn(
        app.clone().oneshot(
            Request::get("/api/deployments")
                .body(Body::empty())
                .unwrap(),
        ),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!list.is_finished(), "the list waits for the first load");
    store.release();
    let response = tokio::time::timeout(Duration::from_secs(10), list)
        .await
        .expect("the list is answered once the store answers")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (code, v) = health(&app).await;
    assert_eq!((code, v["status"].as_str()), (StatusCode::OK, Some("ok")));
}
