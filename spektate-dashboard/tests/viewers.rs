//! Viewers sign in with a read token (`--auth token`) or through a proxy's header
//! (`--auth header`); the probes, metrics and API document stay public.

mod support;

use serde_json::Value;
use spektate_dashboard::ViewerAuth;
use support::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_token_auth_the_page_and_api_need_a_read_token() {
    let server = start(ViewerAuth::Token).await;
    for path in ["/", "/assets/app.js", "/api/deployments"] {
        let r = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let r = server
            .client
            .get(server.url(path))
            .bearer_auth(&server.writer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "a write token does not read: {path}");
        let r = server
            .client
            .get(server.url(path))
            .bearer_auth(&server.reader)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let list: Value = server
        .client
        .get(server.url("/api/deployments"))
        .bearer_auth(&server.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let viewer = list["viewer"].as_str().unwrap();
    assert!(
        viewer.starts_with("token ") && viewer.ends_with(" (viewer)"),
        "{viewer}"
    );

    // Probes answer everyone; health gives its details only to viewers.
    for path in ["/api/ready", "/metrics", "/api/openapi.json"] {
        let r = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let anonymous: Value = server
        .client
        .get(server.url("/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys: Vec<&String> = anonymous.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["status", "version"]);
    let viewer: Value = server
        .client
        .get(server.url("/api/health"))
        .bearer_auth(&server.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(viewer["partition"], "fabrikam");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_header_auth_the_proxy_names_the_viewer_and_no_header_is_refused() {
    let server = start(ViewerAuth::proxy_headers()).await;
    let r = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = server
        .client
        .get(server.url("/"))
        .header("X-Forwarded-User", "mona")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Approval Pull Request"));
    for (header, value) in [
        ("X-Forwarded-User", "mona"),
        ("X-Forwarded-Email", "mona@fabrikam.com"),
    ] {
        let list: Value = server
            .client
            .get(server.url("/api/deployments"))
            .header(header, value)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["viewer"], value);
    }
    // A proxy header never writes: writes need a pipeline token.
    let r = server
        .client
        .post(server.url("/api/syncs"))
        .header("X-Forwarded-User", "mona")
        .json(&serde_json::json!({"cluster": "east-us", "commit": "c3d4e5f6a1b2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(server.store.writes(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auth_every_viewer_is_let_in_and_named_nowhere() {
    let server = start(ViewerAuth::None).await;
    let list: Value = server
        .client
        .get(server.url("/api/deployments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.get("viewer").is_none(), "{list}");
    assert!(list.get("partition").is_some());
    // Every viewer may read every partition: one the server does not serve is a 404 naming
    // those it serves.
    for path in ["/api/deployments", "/api/status", "/api/metrics/dora"] {
        let r = server
            .client
            .get(server.url(&format!("{path}?partition=acme")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["value"], "acme", "{e}");
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .contains("does not serve partition 'acme'; it serves"),
            "{e}"
        );
    }
    server.stop().await;
}
