//! The JSON API and the page, through the router, as a browser or a script would call them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use spektate_core::testkit::{Fault, FaultyStore};
use spektate_core::{MemoryStore, RunReported, RunStatus, Tracker};
use spektate_dashboard::Dashboard;
use tower::ServiceExt;

use common::{XSS, team};

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    get_with(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn get_with(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn played() -> (common::Team, Router) {
    let team = team();
    team.play().await;
    let app = Dashboard::new(team.tracker.clone()).router();
    (team, app)
}

fn column<'a>(v: &'a Value, field: &str) -> Vec<&'a str> {
    v["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[field].as_str().unwrap_or("-"))
        .collect()
}

#[tokio::test]
async fn deployments_come_newest_first_with_their_states_people_and_links() {
    let (_team, app) = played().await;
    let r = get(&app, "/api/deployments").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.header(header::CONTENT_TYPE),
        "application/json; charset=utf-8"
    );
    assert_eq!(r.header(header::CACHE_CONTROL), "no-store");
    let v = r.json();
    assert_eq!(v["partition"], "fabrikam");
    assert_eq!(v["total"], 5);
    assert!(v["refreshedAt"].is_string() && v["now"].is_string());
    assert_eq!(
        column(&v, "service"),
        ["frontend", "-", "api", "backend", "frontend"]
    );
    assert_eq!(
        column(&v, "state"),
        [
            "inProgress",
            "succeeded",
            "failed",
            "waitingForApproval",
            "succeeded"
        ]
    );
    assert_eq!(
        column(&v, "kind"),
        [
            "deployment",
            "manualHldEdit",
            "deployment",
            "deployment",
            "deployment"
        ]
    );

    let s = &v["summary"];
    assert_eq!(
        (
            s["inProgress"].as_u64(),
            s["succeeded"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );
    assert_eq!(
        (s["waitingForApproval"].as_u64(), s["synced"].as_u64()),
        (Some(1), Some(1))
    );

    let live = &v["deployments"][4];
    assert_eq!(live["ring"], "dev");
    assert_eq!(live["author"]["name"], "Alice Archer");
    assert_eq!(
        live["pullRequest"]["title"],
        "Update frontend-101 in ring dev"
    );
    assert_eq!(live["pullRequest"]["mergedBy"]["name"], "Carol Chen");
    assert_eq!(live["clusters"][0]["cluster"], "east-us");
    assert_eq!(live["synced"], true);
    assert_eq!(live["image"]["state"], "succeeded");
    assert_eq!(live["manifest"]["run"]["number"], "301");
    assert!(live["durationSecs"].as_i64().is_some_and(|d| d > 0));
    let links = &live["links"];
    assert_eq!(links["imageRun"], "https://ci.fabrikam.com/runs/101");
    assert_eq!(links["metadataRun"], "https://ci.fabrikam.com/runs/201");
    assert_eq!(links["manifestRun"], "https://ci.fabrikam.com/runs/301");
    assert_eq!(
        links["commit"],
        "https://github.com/fabrikam/frontend/commit/a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    );
    assert_eq!(
        links["manifestCommit"],
        "https://github.com/fabrikam/manifests/commit/e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0"
    );
    assert_eq!(
        links["pullRequest"],
        "https://github.com/fabrikam/hld/pull/41"
    );
    assert_eq!(links["author"], "https://github.com/alice");
    assert_eq!(links["mergedBy"], "https://github.com/carol");
    assert_eq!(links["sourceRepo"], "https://github.com/fabrikam/frontend");

    let edit = &v["deployments"][1];
    assert_eq!(edit["author"]["name"], "Dave Dunn");
    assert_eq!(
        edit["links"]["hldCommit"],
        "https://github.com/fabrikam/hld/commit/0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"
    );
    let waiting = &v["deployments"][3];
    assert_eq!(waiting["pullRequest"]["merged"], false);
    assert!(waiting["pullRequest"]["mergedBy"].is_null());
}

#[tokio::test]
async fn filters_of_spektate_get_narrow_the_list() {
    let (_team, app) = played().await;
    let services = |uri: &'static str| {
        let app = app.clone();
        async move {
            let r = get(&app, uri).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
            let v = r.json();
            (
                v["total"].as_u64().unwrap(),
                column(&v, "service")
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
        }
    };
    assert_eq!(
        services("/api/deployments?service=frontend").await,
        (2, vec!["frontend".into(), "frontend".into()])
    );
    assert_eq!(
        services("/api/deployments?service=fabrikam/backend").await,
        (1, vec!["backend".into()])
    );
    assert_eq!(
        services("/api/deployments?ring=dev").await,
        (1, vec!["frontend".into()])
    );
    assert_eq!(
        services("/api/deployments?env=staging").await,
        (1, vec!["backend".into()])
    );
    assert_eq!(
        services("/api/deployments?author=bob").await.0,
        2,
        "backend and api are Bob's"
    );
    assert_eq!(
        services("/api/deployments?author=Dunn").await,
        (1, vec!["-".into()])
    );
    assert_eq!(
        services("/api/deployments?type=manual-hld-edit").await,
        (1, vec!["-".into()])
    );
    assert_eq!(services("/api/deployments?kind=deployment").await.0, 4);
    assert_eq!(
        services("/api/deployments?keyword=east-us").await,
        (1, vec!["frontend".into()])
    );
    assert_eq!(
        services("/api/deployments?keyword=staging").await,
        (1, vec!["backend".into()])
    );
    assert_eq!(
        services("/api/deployments?status=failed").await,
        (1, vec!["api".into()])
    );
    assert_eq!(
        services("/api/deployments?status=in-progress").await,
        (1, vec!["frontend".into()])
    );
    assert_eq!(
        services("/api/deployments?build-id=202").await,
        (1, vec!["backend".into()])
    );
    assert_eq!(
        services("/api/deployments?commit=a1b2c3d").await,
        (1, vec!["frontend".into()])
    );
    assert_eq!(
        services("/api/deployments?imageTag=frontend-104").await,
        (1, vec!["frontend".into()])
    );
    assert_eq!(
        services("/api/deployments?service=frontend&ring=dev&author=alice")
            .await
            .0,
        1
    );
    assert_eq!(
        services("/api/deployments?service=frontend&ring=staging").await,
        (0, vec![])
    );
    assert_eq!(
        services("/api/deployments?service=&author=&keyword=")
            .await
            .0,
        5,
        "empty values filter nothing"
    );
    assert_eq!(
        services("/api/deployments?keyword=Frontend%2D101").await.0,
        1,
        "escaped and mixed-case values match"
    );
}

#[tokio::test]
async fn repeated_filters_pick_any_value_and_sort_orders_every_match() {
    let (_team, app) = played().await;
    let list = |uri: String| {
        let app = app.clone();
        async move {
            let r = get(&app, &uri).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
            r.json()
        }
    };
    let v = list("/api/deployments?service=frontend&service=api&env=dev&env=".into()).await;
    assert_eq!(v["total"], 1, "frontend or api, in dev");
    let v = list("/api/deployments?service=frontend&service=api".into()).await;
    assert_eq!(column(&v, "service"), ["frontend", "api", "frontend"]);
    let v = list("/api/deployments?type=deployment&type=manual-hld-edit".into()).await;
    assert_eq!(v["total"], 5);

    // Sorted over every match, then cut to the limit; no value sorts last either way.
    let by = |q: &str| list(format!("/api/deployments?{q}"));
    let v = by("sort=service").await;
    assert_eq!(
        column(&v, "service"),
        ["api", "backend", "frontend", "frontend", "-"]
    );
    let v = by("sort=service&order=desc&limit=2").await;
    assert_eq!(column(&v, "service"), ["frontend", "frontend"]);
    assert_eq!(v["total"], 5);
    let v = by("sort=ring").await;
    assert_eq!(column(&v, "ring"), ["dev", "staging", "-", "-", "-"]);
    let authors = |v: &Value| -> Vec<String> {
        v["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["author"]["name"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    let v = by("sort=author&order=desc").await;
    assert_eq!(
        authors(&v),
        [
            "Dave Dunn",
            "Bob Baker",
            "Bob Baker",
            "Alice Archer",
            "Alice Archer"
        ]
    );
    let v = by("sort=mergedBy").await;
    assert_eq!(
        v["deployments"][0]["pullRequest"]["mergedBy"]["name"],
        "Carol Chen"
    );
    let newest = by("").await;
    let v = by("sort=lastUpdated").await;
    let ids = |v: &Value| -> Vec<String> {
        v["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut oldest = ids(&newest);
    oldest.reverse();
    assert_eq!(ids(&v), oldest);

    // What the filters can offer: every service, ring and author, whatever the filter.
    let v = by("service=api").await;
    assert_eq!(
        v["options"],
        serde_json::json!({
            "services": ["api", "backend", "frontend"],
            "rings": ["dev", "staging"],
            "authors": ["Alice Archer", "Bob Baker", "Dave Dunn"],
        })
    );
    // The manifest repository's tags, where the sync tags are.
    let v = by("ring=dev").await;
    assert_eq!(
        v["deployments"][0]["links"]["manifestTags"],
        "https://github.com/fabrikam/manifests/tags"
    );
}

#[tokio::test]
async fn limit_cuts_the_list_while_total_and_summary_count_every_match() {
    let (_team, app) = played().await;
    let v = get(&app, "/api/deployments?limit=2").await.json();
    assert_eq!(v["deployments"].as_array().unwrap().len(), 2);
    assert_eq!(
        (v["total"].as_u64(), v["limit"].as_u64()),
        (Some(5), Some(2))
    );
    assert_eq!(
        column(&v, "state"),
        ["inProgress", "succeeded"],
        "the newest two"
    );
    assert_eq!(
        v["summary"]["failed"], 1,
        "the summary counts rows beyond the limit"
    );

    let v = get(&app, "/api/deployments?top=3&limit=2").await.json();
    assert_eq!(
        (
            v["total"].as_u64(),
            v["deployments"].as_array().unwrap().len()
        ),
        (Some(3), 2),
        "top is a filter, limit a page size"
    );
    let v = get(&app, "/api/deployments").await.json();
    assert_eq!(v["limit"], spektate_dashboard::DEFAULT_LIMIT);
}

#[tokio::test]
async fn bad_query_parameters_are_refused_naming_the_parameter_and_value() {
    let (_team, app) = played().await;
    let cases = [
        (
            "/api/deployments?limit=abc",
            "limit",
            "invalid limit: 'abc' is not a whole number from 1 to 10000",
        ),
        (
            "/api/deployments?limit=0",
            "limit",
            "invalid limit: '0' is not a whole number from 1 to 10000",
        ),
        (
            "/api/deployments?limit=99999",
            "limit",
            "invalid limit: '99999' is not a whole number from 1 to 10000",
        ),
        (
            "/api/deployments?top=-2",
            "top",
            "invalid top: '-2' is not a whole number",
        ),
        (
            "/api/deployments?type=rocket",
            "type",
            "invalid type: 'rocket' is not one of deployment, manual-hld-edit",
        ),
        (
            "/api/deployments?status=green",
            "status",
            "invalid status: 'green' is not one of complete, in-progress, failed, canceled, incomplete",
        ),
        (
            "/api/deployments?servce=frontend",
            "query parameter",
            "invalid query parameter: 'servce' is not one of service, ring",
        ),
        (
            "/api/deployments?keyword=a&keyword=b",
            "keyword",
            "invalid keyword: is given twice ('keyword=a' and 'keyword=b'); give it once",
        ),
        (
            "/api/deployments?sort=colour",
            "sort",
            "invalid sort: 'colour' is not one of service, ring, author, mergedBy, lastUpdated",
        ),
    ];
    for (uri, field, message) in cases {
        let r = get(&app, uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            r.header(header::CONTENT_TYPE),
            "application/json; charset=utf-8",
            "{uri}"
        );
        let v = r.json();
        assert!(
            v["error"].as_str().unwrap().starts_with(message),
            "{uri}: {}",
            v["error"]
        );
        assert_eq!(v["field"], field, "{uri}");
    }
}

#[tokio::test]
async fn health_says_when_the_data_was_refreshed() {
    let (_team, app) = played().await;
    let r = get(&app, "/api/health").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["partition"], "fabrikam");
    assert_eq!(v["deployments"], 5);
    assert_eq!(v["refreshSeconds"], 30);
    assert_eq!(v["consecutiveFailures"], 0);
    assert!(v["refreshedAt"].is_string());
    assert!(v.get("lastError").is_none());
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

/// A memory store whose queries take 50 ms and can be switched to failing.
fn flaky(failing: bool) -> Arc<FaultyStore> {
    let store = FaultyStore::new(Arc::new(MemoryStore::new()));
    store.set_delay(Duration::from_millis(50));
    if failing {
        store.set_fault(Fault::Fail);
    }
    store
}

#[tokio::test]
async fn a_store_that_cannot_be_read_is_reported_not_hidden() {
    let store = flaky(true);
    let app = Dashboard::new(
        Tracker::builder(store.clone())
            .partition("fabrikam")
            .build(),
    )
    .router();
    let r = get(&app, "/api/health").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let v = r.json();
    assert_eq!(v["status"], "unavailable");
    assert!(
        v["lastError"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{v}"
    );
    let r = get(&app, "/api/deployments").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("could not be read yet: faulty:test store: query failed: connection refused"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn after_a_failed_refresh_the_last_good_data_is_served_with_the_error() {
    let store = flaky(false);
    let recorder = spektate_core::Recorder::new(store.clone(), "fabrikam").unwrap();
    recorder
        .run_reported(&RunReported::new("1", RunStatus::InProgress))
        .await
        .unwrap();
    recorder
        .image_built(&spektate_core::ImageBuilt {
            p1: "1".into(),
            image_tag: "web-1".into(),
            commit_id: "abcdef1".into(),
            service: "web".into(),
            repository: None,
        })
        .await
        .unwrap();
    let dashboard = Dashboard::new(
        Tracker::builder(store.clone())
            .partition("fabrikam")
            .build(),
    )
    .refresh_every(Duration::from_secs(1));
    let app = dashboard.router();
    assert_eq!(get(&app, "/api/deployments").await.json()["total"], 1);

    store.set_fault(Fault::Fail);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let v = get(&app, "/api/deployments").await.json();
    assert_eq!(v["total"], 1, "the last good data stays");
    assert!(
        v["refreshError"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{v}"
    );
    let h = get(&app, "/api/health").await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json()["status"], "degraded");
    assert_eq!(dashboard.health().consecutive_failures, 1);
}

#[tokio::test]
async fn without_a_background_refresher_requests_refresh_once_when_due() {
    let store = flaky(false);
    let dashboard = Dashboard::new(
        Tracker::builder(store.clone())
            .partition("fabrikam")
            .build(),
    )
    .refresh_every(Duration::from_secs(1));
    let app = dashboard.router();
    // Polled together: a request that finds a refresh in flight waits for it.
    let many = (0..20).map(|_| get(&app, "/api/deployments"));
    for r in futures::future::join_all(many).await {
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(
        store.queries(),
        1,
        "twenty requests at once make one refresh"
    );
    for _ in 0..5 {
        get(&app, "/api/deployments").await;
    }
    assert_eq!(store.queries(), 1, "a fresh snapshot is served as it is");

    let recorder = spektate_core::Recorder::new(store.clone(), "fabrikam").unwrap();
    recorder
        .image_built(&spektate_core::ImageBuilt {
            p1: "7".into(),
            image_tag: "web-7".into(),
            commit_id: "abcdef7".into(),
            service: "web".into(),
            repository: None,
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = store.queries();
    let v = get(&app, "/api/deployments").await.json();
    assert_eq!(
        column(&v, "service"),
        ["web"],
        "a due refresh picks up the new record"
    );
    assert_eq!(store.queries(), before + 1);
}

#[tokio::test]
async fn text_from_providers_stays_text_in_the_json() {
    let team = team();
    team.repos.pulls.lock().unwrap().insert("66".into(), {
        let mut p = common::pull(
            "66",
            XSS,
            Some(common::person(
                "<script>alert('merged')</script>",
                "mallory",
            )),
        );
        p.url = Some("javascript:alert(1)".into());
        p
    });
    team.repos
        .authors
        .lock()
        .unwrap()
        .insert("frontend".into(), {
            let mut a = common::person("\"><svg onload=alert(1)>", "eve");
            a.url = Some("javascript:alert(document.cookie)".into());
            a
        });
    team.image(
        "9",
        "fabrikam/frontend",
        "frontend-9",
        "9999999999999999999999999999999999999999",
        common::FRONTEND,
    )
    .await;
    let mut run = RunReported::new("9", RunStatus::Completed);
    run.url = Some("javascript:alert('run')".into());
    team.recorder.run_reported(&run).await.unwrap();
    team.metadata(
        "19",
        "frontend-9",
        "1919191919191919191919191919191919191919",
        "dev",
        "66",
    )
    .await;
    team.ok("19").await;
    team.recorder
        .cluster_synced("<b>east</b>&co", "0000000", None)
        .await
        .unwrap();

    let app = Dashboard::new(team.tracker.clone()).router();
    let r = get(&app, "/api/deployments").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    for raw in ["<img", "<script", "<svg", "<b>"] {
        assert!(
            !r.body.contains(raw),
            "the body carries raw markup {raw}: {}",
            r.body
        );
    }
    assert!(
        r.body.contains(r"\u003cimg src=x onerror=alert(1)\u003e"),
        "{}",
        r.body
    );
    let v = r.json();
    let d = &v["deployments"][0];
    assert_eq!(
        d["pullRequest"]["title"], XSS,
        "the title arrives exactly as the provider wrote it"
    );
    assert_eq!(
        d["pullRequest"]["mergedBy"]["name"],
        "<script>alert('merged')</script>"
    );
    assert_eq!(d["author"]["name"], "\"><svg onload=alert(1)>");
    let links = &d["links"];
    assert!(
        links.get("author").is_none() && links.get("imageRun").is_none(),
        "javascript: URLs are not links: {links}"
    );
    assert_eq!(
        links["pullRequest"], "https://github.com/fabrikam/hld/pull/66",
        "the PR's page, from its repository instead"
    );
    assert_eq!(links["mergedBy"], "https://github.com/mallory");
}

#[tokio::test]
async fn the_page_and_its_assets_are_embedded_and_fetch_nothing_from_elsewhere() {
    let (_team, app) = played().await;
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let csp = page.header(header::CONTENT_SECURITY_POLICY).to_string();
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("default-src 'none'")
            && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    for column in [
        "State",
        "Service",
        "Ring",
        "Author",
        "Image Creation",
        "Metadata Update",
        "Approval Pull Request",
        "Merged By",
        "Ready to Deploy",
        "Last Updated",
        "Synced Cluster",
    ] {
        // Sortable columns head with a button that names them.
        let plain = format!("<th scope=\"col\">{column}</th>");
        let sortable = format!(
            "<button type=\"button\" class=\"sort\" data-label=\"{column}\">{column}<span class=\"arrow\" aria-hidden=\"true\"></span></button></th>"
        );
        let sorts = ["Service", "Ring", "Author", "Merged By", "Last Updated"].contains(&column);
        assert!(
            page.body.contains(if sorts { &sortable } else { &plain }),
            "column {column}"
        );
    }
    assert!(
        page.body
            .contains(r#"<script src="assets/app.js" defer></script>"#)
    );
    assert!(
        page.body
            .contains(r#"<link rel="stylesheet" href="assets/app.css">"#)
    );

    for (path, kind) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let r = get(&app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header(header::CONTENT_TYPE), kind, "{path}");
        assert!(!r.body.is_empty());
    }
    for path in [
        "/",
        "/assets/app.js",
        "/assets/app.css",
        "/assets/favicon.svg",
    ] {
        let body = get(&app, path).await.body;
        let external = body.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !external.contains("http://")
                && !external.contains("https://")
                && !external.contains("//cdn"),
            "{path} names an outside URL"
        );
    }
    let script = get(&app, "/assets/app.js").await.body;
    assert!(
        !script.contains("innerHTML")
            && !script.contains("insertAdjacentHTML")
            && !script.contains("document.write"),
        "the script never parses data as HTML"
    );
}

#[tokio::test]
async fn assets_are_revalidated_with_etags() {
    let (_team, app) = played().await;
    let first = get(&app, "/assets/app.js").await;
    let etag = first.header(header::ETAG).to_string();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert_eq!(first.header(header::CACHE_CONTROL), "no-cache");
    let again = get_with(
        &app,
        Request::get("/assets/app.js")
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    let other = get_with(
        &app,
        Request::get("/assets/app.js")
            .header(header::IF_NONE_MATCH, "\"old\"")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn the_router_mounts_under_a_path_of_a_teams_own_service() {
    let (team, _) = played().await;
    // Nested at `/spektate`, axum routes `/spektate` but not `/spektate/` to the router.
    let app = Router::new().nest(
        "/spektate",
        spektate_dashboard::router(team.tracker.clone()),
    );
    let r = get(&app, "/spektate?service=frontend&refresh=5").await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        r.header(header::LOCATION),
        "/spektate/index.html?service=frontend&refresh=5",
        "relative links need a page inside the prefix"
    );
    let page = get(&app, "/spektate/index.html?service=frontend").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("assets/app.js"));
    assert_eq!(
        get(&app, "/spektate/assets/app.css").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/spektate/api/health").await.json()["status"],
        "ok"
    );
    assert_eq!(
        get(&app, "/spektate/api/deployments?ring=dev").await.json()["total"],
        1
    );

    // Nested at `/spektate/`, the page is at `/spektate/` itself.
    let app = Router::new().nest(
        "/spektate/",
        spektate_dashboard::router(team.tracker.clone()),
    );
    let page = get(&app, "/spektate/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("assets/app.js"));
    assert_eq!(
        get(&app, "/spektate/api/deployments?ring=dev").await.json()["total"],
        1
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_api_ones_say_what_exists() {
    let (_team, app) = played().await;
    let r = get(&app, "/api/deploymnets").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json()["error"],
        "no such API endpoint: /api/deploymnets; /api/openapi.json lists the API"
    );
    let r = get(&app, "/nothing/here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.starts_with("Not found: /nothing/here"));
    assert_eq!(r.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    // A method a route does not take: a JSON 405 naming it, with the methods it takes.
    for (method, uri) in [
        ("POST", "/api/deployments"),
        ("POST", "/api/status"),
        ("DELETE", "/api/metrics/dora"),
        ("PUT", "/api/deployments/abc/journey"),
    ] {
        let r = get_with(
            &app,
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(
            r.header(header::CONTENT_TYPE),
            "application/json; charset=utf-8",
            "{method} {uri}"
        );
        assert_eq!(r.header(header::ALLOW), "GET,HEAD", "{method} {uri}");
        assert_eq!(
            r.json(),
            serde_json::json!({
                "error": format!("method {method} is not allowed on {uri}; /api/openapi.json lists the API")
            })
        );
    }
}

/// Asserts an error answer is JSON whose `error` is a sentence and whose other keys hold
/// values: a key without one is left out, never null.
fn assert_error_body(r: &Reply, what: &str) -> Value {
    assert_eq!(
        r.header(header::CONTENT_TYPE),
        "application/json; charset=utf-8",
        "{what}"
    );
    let v = r.json();
    let body = v.as_object().unwrap_or_else(|| panic!("{what}: {v}"));
    assert!(body["error"].is_string(), "{what}: {v}");
    for (key, value) in body {
        assert!(!value.is_null(), "{what}: '{key}' is null in {v}");
    }
    if let Some(field) = body.get("field") {
        assert!(field.is_string(), "{what}: {v}");
    }
    v
}

#[tokio::test]
async fn error_bodies_leave_out_the_keys_they_have_no_value_for() {
    let (_team, app) = played().await;
    // (uri, status, field, value, error)
    let cases = [
        (
            "/api/status?colour=red",
            StatusCode::BAD_REQUEST,
            Some("query parameter"),
            None,
            "invalid query parameter: 'colour' is not one of service",
        ),
        (
            "/api/status?env=dev&ring=prod",
            StatusCode::BAD_REQUEST,
            Some("ring"),
            None,
            "invalid ring: is given twice ('env=dev' and 'ring=prod')",
        ),
        (
            "/api/metrics/dora?colour=red",
            StatusCode::BAD_REQUEST,
            Some("query parameter"),
            None,
            "invalid query parameter: 'colour'",
        ),
        (
            "/api/deployments/abc/journey?colour=red",
            StatusCode::BAD_REQUEST,
            Some("query parameter"),
            Some("colour"),
            "invalid query parameter: 'colour' (in 'colour=red') is not one of partition",
        ),
        (
            "/api/deployments/abc/journey?partition=a&partition=b",
            StatusCode::BAD_REQUEST,
            Some("partition"),
            Some("b"),
            "invalid partition: is given twice ('partition=a' and 'partition=b'); give it once",
        ),
        (
            "/api/deployments/abc/journey",
            StatusCode::NOT_FOUND,
            Some("id"),
            Some("abc"),
            "no deployment 'abc' in partition 'fabrikam'",
        ),
        (
            "/api/deploymnets",
            StatusCode::NOT_FOUND,
            None,
            None,
            "no such API endpoint",
        ),
    ];
    for (uri, status, field, value, error) in cases {
        let r = get(&app, uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.body);
        let v = assert_error_body(&r, uri);
        assert!(
            v["error"].as_str().unwrap().starts_with(error),
            "{uri}: {v}"
        );
        assert_eq!(v.get("field").and_then(Value::as_str), field, "{uri}: {v}");
        assert_eq!(v.get("value").and_then(Value::as_str), value, "{uri}: {v}");
    }

    // Not read yet: no field to name.
    let app = Dashboard::new(Tracker::builder(flaky(true)).partition("fabrikam").build()).router();
    for uri in [
        "/api/deployments",
        "/api/status",
        "/api/deployments/abc/journey",
    ] {
        let r = get(&app, uri).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{uri}: {}",
            r.body
        );
        let v = assert_error_body(&r, uri);
        assert!(v.get("field").is_none(), "{uri}: {v}");
    }
}

/// The journey API echoes at most 200 characters of a query value, in `value` and in
/// `error`, however long the value sent.
#[tokio::test]
async fn long_query_values_are_echoed_cut_to_200_characters() {
    let (_team, app) = played().await;
    let long = |c: char| c.to_string().repeat(1000);
    // (query, what `value` names in full)
    let cases = [
        (format!("x={}", long('a')), "x".to_string()),
        (format!("{}={}", long('y'), long('a')), long('y')),
        (format!("partition=a&partition={}", long('b')), long('b')),
        (
            format!("partition={}&partition={}", long('a'), long('b')),
            long('b'),
        ),
    ];
    for (query, named) in cases {
        let uri = format!("/api/deployments/abc/journey?{query}");
        let r = get(&app, &uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        let v = assert_error_body(&r, &query[..20]);
        let value = v["value"].as_str().unwrap();
        assert!(
            value.chars().count() <= 200,
            "{} characters",
            value.chars().count()
        );
        assert!(
            !value.is_empty() && named.starts_with(value),
            "the start of what was sent: {value}"
        );
        let error = v["error"].as_str().unwrap();
        for c in ['a', 'b', 'y'] {
            assert!(
                !error.contains(&c.to_string().repeat(201)),
                "more than 200 characters of a value in {error}"
            );
        }
    }
}

#[tokio::test]
async fn a_big_list_is_built_off_the_async_worker_so_other_requests_go_first() {
    let team = team();
    for i in 0..2_000 {
        team.image(
            &format!("{}", 1000 + i),
            "fabrikam/frontend",
            &format!("frontend-{i}"),
            &format!("{i:040x}"),
            common::FRONTEND,
        )
        .await;
    }
    let app = Dashboard::new(team.tracker.clone()).router();
    assert_eq!(
        get(&app, "/api/deployments?limit=1").await.json()["total"],
        2_000
    );

    // One worker thread (a current-thread runtime): the list is polled first, yet the health
    // check is answered while the list is still being built.
    let big = get(&app, "/api/deployments?limit=10000");
    tokio::pin!(big);
    tokio::select! {
        biased;
        _ = &mut big => panic!("the list was built on the async worker, holding up every other request"),
        h = get(&app, "/api/health") => assert_eq!(h.status, StatusCode::OK, "{}", h.body),
    }
    let v = big.await.json();
    assert_eq!(v["deployments"].as_array().map(Vec::len), Some(2_000));
}
