//! The insights page (`insights.html`, its script and style sheet) and the journey page
//! (`journey.html`, its script): served to viewers only, under the strict policy, listed in the
//! API document, and linked from the main page; the journey API refuses what it cannot look up.
//! Their charts are tested in a browser (tests/browser/insights.test.mjs).

mod support;

use serde_json::Value;
use spektate_dashboard::ViewerAuth;
use support::start;

const ASSETS: [(&str, &str); 5] = [
    ("/insights.html", "text/html"),
    ("/assets/insights.js", "text/javascript"),
    ("/assets/insights.css", "text/css"),
    ("/journey.html", "text/html"),
    ("/assets/journey.js", "text/javascript"),
];

#[tokio::test]
async fn the_insights_page_is_served_under_the_strict_policy_to_viewers_only() {
    let server = start(ViewerAuth::Token).await;
    for (path, kind) in ASSETS {
        let anonymous = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path} without a token");
        let r = server
            .client
            .get(server.url(path))
            .bearer_auth(&server.reader)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let headers = r.headers();
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'")
                && csp.contains("style-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{csp}"
        );
    }
    let page = server
        .client
        .get(server.url("/insights.html"))
        .bearer_auth(&server.reader)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<script src="assets/insights.js" defer></script>"#));
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "no inline script or style"
    );
    let script = include_str!("../assets/insights.js");
    assert!(
        script.contains("api/metrics/dora?") && !script.contains("innerHTML"),
        "the script reads the API and builds nodes, never markup"
    );
    let index = server
        .client
        .get(server.url("/"))
        .bearer_auth(&server.reader)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        index.contains(r#"href="insights.html""#),
        "the main page links to it"
    );

    let doc: Value = server
        .client
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, _) in ASSETS {
        assert_eq!(doc["paths"][path]["get"]["tags"][0], "page", "{path}");
    }
    assert_eq!(
        doc["paths"]["/api/deployments/{id}/journey"]["get"]["operationId"],
        "deployment-journey"
    );
    assert!(
        include_str!("../assets/app.js").contains("journey.html?"),
        "each row of the main page links to its journey"
    );

    // The journey API refuses, naming what, before looking anything up.
    for (path, field, says) in [
        (
            "/api/deployments/abc/journey?colour=red",
            "query parameter",
            "'colour'",
        ),
        (
            "/api/deployments/abc/journey?partition=a&partition=b",
            "partition",
            "given twice",
        ),
        (
            &format!("/api/deployments/{}/journey", "x".repeat(201)) as &str,
            "id",
            "1 to 200 characters",
        ),
    ] {
        let r = server
            .client
            .get(server.url(path))
            .bearer_auth(&server.reader)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["field"], field, "{path}");
        assert!(e["error"].as_str().unwrap().contains(says), "{e}");
    }
    let r = server
        .client
        .get(server.url("/api/deployments/abc/journey"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the journey is for viewers only");
    server.stop().await;
}
