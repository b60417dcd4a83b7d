//! `GET /api/status`: where each service is running, from records, run reports and cluster
//! syncs that pipelines and clusters post to the server; viewers read only the partitions
//! they may read, as on `/api/deployments`.

mod support;

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use spektate_core::ingest::Kind;
use spektate_dashboard::ViewerAuth;
use support::{Counting, PARTITION, Running, start_partitions};

const HLD: &str = "https://github.com/fabrikam/hld";
const MANIFESTS: &str = "https://github.com/fabrikam/manifests";
const M1: &str = "e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0";
const M2: &str = "2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";
const M3: &str = "7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e";

async fn post(server: &Running, kind: Kind, body: Value) {
    let r = server.post(kind.path(), &server.writer, None, &body).await;
    assert_eq!(
        r.status(),
        200,
        "{} {body}: {}",
        kind.path(),
        r.text().await.unwrap()
    );
}

/// A run that finished `minutes` ago, after four minutes.
async fn finished(server: &Running, id: &str, minutes: i64) {
    let at = |m: i64| {
        (Utc::now() - chrono::Duration::minutes(m)).to_rfc3339_opts(SecondsFormat::Secs, true)
    };
    post(
        server,
        Kind::Run,
        json!({"id": id, "status": "completed", "result": "succeeded",
               "queuedAt": at(minutes + 4), "startedAt": at(minutes + 4), "finishedAt": at(minutes)}),
    )
    .await;
}

/// One image's journey to ring dev, built `minutes` ago, ending in manifest commit `manifest`.
async fn journey(
    server: &Running,
    n: &str,
    service: &str,
    tag: &str,
    manifest: &str,
    minutes: i64,
) {
    let hld = format!("{n}{}", "b".repeat(40 - n.len()));
    let service = format!("fabrikam/{service}");
    let (p1, p2, p3) = (format!("1{n}"), format!("2{n}"), format!("3{n}"));
    post(
        server,
        Kind::Image,
        json!({"p1": p1, "imageTag": tag, "commitId": format!("{n}{}", "a".repeat(40 - n.len())),
               "service": service, "repository": format!("https://github.com/{service}")}),
    )
    .await;
    post(
        server,
        Kind::Metadata,
        json!({"p2": p2, "imageTag": tag, "hldCommitId": hld, "env": "dev", "service": service, "repository": HLD}),
    )
    .await;
    post(
        server,
        Kind::Manifest,
        json!({"p3": p3, "hldCommitId": hld}),
    )
    .await;
    post(
        server,
        Kind::ManifestCommit,
        json!({"p3": p3, "manifestCommitId": manifest, "repository": MANIFESTS}),
    )
    .await;
    for id in [&p1, &p2, &p3] {
        finished(server, id, minutes).await;
    }
}

async fn get(server: &Running, path: &str, token: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The status of `path` once it has `rows` rows (the refresh after a write runs in the
/// background), or after 10 s.
async fn status_of(server: &Running, path: &str, rows: usize) -> Value {
    let started = Instant::now();
    loop {
        let r = get(server, path, &server.reader).await;
        assert_eq!(r.status(), 200, "{path}");
        let body: Value = r.json().await.unwrap();
        if body["placements"].as_array().unwrap().len() == rows
            || started.elapsed() > Duration::from_secs(10)
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn row<'a>(body: &'a Value, service: &str, cluster: &str) -> &'a Value {
    body["placements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["service"] == service && p["cluster"] == cluster)
        .unwrap_or_else(|| panic!("no {service} in {cluster}: {body:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_each_service_per_cluster_to_the_viewers_of_its_partition() {
    let store = std::sync::Arc::new(Counting::default());
    let server = start_partitions(ViewerAuth::Token, store, &[PARTITION, "contoso"]).await;
    journey(&server, "001", "frontend", "frontend-1001", M1, 180).await;
    journey(&server, "002", "backend", "backend-2001", M2, 170).await;
    journey(&server, "003", "frontend", "frontend-1002", M3, 125).await;
    for (cluster, commit) in [("west-us", M1), ("east-us", M2)] {
        post(
            &server,
            Kind::Sync,
            json!({"cluster": cluster, "commit": commit}),
        )
        .await;
    }

    let body = status_of(&server, "/api/status", 3).await;
    assert_eq!(body["partition"], PARTITION);
    assert_eq!(body["clusters"], json!(["east-us", "west-us"]));
    let rows: Vec<(String, String, String)> = body["placements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (s("service"), s("cluster"), s("imageTag"))
        })
        .collect();
    let owned = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        rows,
        [
            owned("backend", "east-us", "backend-2001"),
            owned("frontend", "east-us", "frontend-1001"),
            owned("frontend", "west-us", "frontend-1001"),
        ],
        "frontend-1002 is live nowhere yet; east-us runs the backend's later commit"
    );
    let east = row(&body, "frontend", "east-us");
    assert_eq!(east["ring"], "dev");
    assert_eq!(east["commit"], M2);
    assert_eq!(east["exact"], false);
    assert_eq!(east["behind"]["images"], 1);
    assert_eq!(east["behind"]["newestTag"], "frontend-1002");
    assert!(
        east["since"].is_string() && east["builtAt"].is_string(),
        "{east}"
    );
    let west = row(&body, "frontend", "west-us");
    assert_eq!(
        (west["commit"].as_str(), &west["exact"]),
        (Some(M1), &json!(true))
    );
    assert_eq!(row(&body, "backend", "east-us")["behind"]["images"], 0);

    // The filters pick rows; newer images still count.
    let one = status_of(
        &server,
        "/api/status?image-tag=frontend-1001&cluster=west-us",
        1,
    )
    .await;
    assert_eq!(one["clusters"], json!(["west-us"]));
    assert_eq!(one["placements"][0]["behind"]["images"], 1);
    let backend = status_of(&server, "/api/status?service=fabrikam/backend&ring=dev", 1).await;
    assert_eq!(backend["placements"][0]["imageTag"], "backend-2001");

    // A viewer reads only the partitions its token names.
    let r = get(&server, "/api/status", &server.contoso_reader).await;
    assert_eq!(r.status(), 403);
    let r = get(
        &server,
        "/api/status?partition=contoso",
        &server.contoso_reader,
    )
    .await;
    assert_eq!(r.status(), 200);
    let contoso: Value = r.json().await.unwrap();
    assert_eq!(contoso["partition"], "contoso");
    assert_eq!(contoso["placements"], json!([]));
    let r = get(&server, "/api/status?partition=contoso", &server.reader).await;
    assert_eq!(r.status(), 403);
    let r = server
        .client
        .get(server.url("/api/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no token");

    // Bad parameters and partitions are named.
    let r = get(&server, "/api/status?colour=red", &server.reader).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "query parameter");
    assert!(e["error"].as_str().unwrap().contains("'colour'"), "{e}");
    // A partition the reader's token does not name is refused, served or not.
    let r = get(&server, "/api/status?partition=acme", &server.reader).await;
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .ends_with("may not read partition acme"),
        "{e}"
    );

    // The page and its assets are served under the same strict policy as the main page.
    for (path, kind) in [
        ("/status.html", "text/html"),
        ("/assets/status.js", "text/javascript"),
        ("/assets/status.css", "text/css"),
    ] {
        let r = get(&server, path, &server.reader).await;
        assert_eq!(r.status(), 200, "{path}");
        let headers = r.headers();
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
    }
    let page = get(&server, "/status.html", &server.reader)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<script src="assets/status.js" defer></script>"#));
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "no inline script or style"
    );
    let index = get(&server, "/", &server.reader)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        index.contains(r#"href="status.html""#),
        "the main page links to it"
    );
    server.stop().await;
}
