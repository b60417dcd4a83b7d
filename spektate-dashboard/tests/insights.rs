//! `GET /api/metrics/dora` and the `eta` of `/api/deployments`, over journeys pipelines post
//! to the server with the times their runs reported.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use spektate_core::ingest::Kind;
use spektate_dashboard::ViewerAuth;
use support::{Counting, PARTITION, Running, start_partitions};

const HLD: &str = "https://github.com/fabrikam/hld";

async fn post(server: &Running, kind: Kind, body: Value) {
    let r = server.post(kind.path(), &server.writer, None, &body).await;
    assert_eq!(r.status(), 200, "{} {body}", kind.path());
}

/// `minutes` ago, to the second.
fn ago(now: DateTime<Utc>, minutes: i64) -> String {
    (now - chrono::Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A run queued `q` minutes before `now` and finished `f` minutes before (`None`: running).
async fn run(server: &Running, now: DateTime<Utc>, id: &str, q: i64, f: Option<i64>, result: &str) {
    let mut body = json!({"id": id, "queuedAt": ago(now, q), "startedAt": ago(now, q)});
    match f {
        Some(f) => {
            body["status"] = json!("completed");
            body["result"] = json!(result);
            body["finishedAt"] = json!(ago(now, f));
        }
        None => body["status"] = json!("inProgress"),
    }
    post(server, Kind::Run, body).await;
}

/// Journey `n` of frontend to dev: p1, p2 and p3 `[queued, finished]` minutes ago (p3 with
/// `result`); with `p1` only, the image is still being built.
async fn journey(server: &Running, now: DateTime<Utc>, n: &str, times: &[[i64; 2]], result: &str) {
    let tag = format!("frontend-{n}");
    let (p1, p2, p3) = (format!("1{n}"), format!("2{n}"), format!("3{n}"));
    let hld = format!("{n}{}", "b".repeat(40 - n.len()));
    post(
        server,
        Kind::Image,
        json!({"p1": p1, "imageTag": tag, "commitId": format!("{n}{}", "a".repeat(40 - n.len())),
               "service": "fabrikam/frontend"}),
    )
    .await;
    if times.len() == 1 {
        run(server, now, &p1, times[0][0], None, "").await;
        return;
    }
    post(
        server,
        Kind::Metadata,
        json!({"p2": p2, "imageTag": tag, "hldCommitId": hld, "env": "dev", "service": "fabrikam/frontend", "repository": HLD}),
    )
    .await;
    post(
        server,
        Kind::Manifest,
        json!({"p3": p3, "hldCommitId": hld}),
    )
    .await;
    let ids = [&p1, &p2, &p3];
    for (i, [q, f]) in times.iter().enumerate() {
        let r = if i == 2 { result } else { "succeeded" };
        run(server, now, ids[i], *q, Some(*f), r).await;
    }
}

async fn get(server: &Running, path: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(path))
        .bearer_auth(&server.reader)
        .send()
        .await
        .unwrap()
}

/// The metrics once `completed` deployments count (the refresh after a write runs in the
/// background), or after 10 s.
async fn metrics(server: &Running, query: &str, completed: u64) -> Value {
    let started = Instant::now();
    loop {
        let r = get(server, &format!("/api/metrics/dora{query}")).await;
        assert_eq!(r.status(), 200, "{query}");
        let body: Value = r.json().await.unwrap();
        if body["overall"]["deploymentFrequency"]["completed"] == completed
            || started.elapsed() > Duration::from_secs(10)
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dora_metrics_and_the_eta_over_the_api() {
    let store = std::sync::Arc::new(Counting::default());
    let server = start_partitions(ViewerAuth::Token, store, &[PARTITION, "contoso"]).await;
    let now = Utc::now();
    // #1 completes 280 min ago (lead 20), #2 fails 180 min ago, #3 completes 70 min ago (lead
    // 30, restoring after 110 min); #4's image has been building for 5 minutes.
    journey(
        &server,
        now,
        "001",
        &[[300, 290], [289, 285], [284, 280]],
        "succeeded",
    )
    .await;
    journey(
        &server,
        now,
        "002",
        &[[200, 190], [189, 185], [184, 180]],
        "failed",
    )
    .await;
    journey(
        &server,
        now,
        "003",
        &[[100, 90], [89, 85], [84, 70]],
        "succeeded",
    )
    .await;
    journey(&server, now, "004", &[[5, 0]], "").await;

    let body = metrics(&server, "?since=1d", 2).await;
    assert_eq!(body["partition"], PARTITION);
    let f = &body["overall"];
    assert_eq!(f["deploymentFrequency"]["completed"], 2);
    assert_eq!(f["deploymentFrequency"]["band"], "elite", "two in one day");
    assert_eq!(f["leadTime"]["medianSecs"], 25 * 60);
    assert_eq!(f["leadTime"]["p90Secs"], 30 * 60);
    assert_eq!(f["changeFailureRate"]["failed"], 1);
    assert_eq!(f["changeFailureRate"]["finished"], 3);
    assert_eq!(f["timeToRestore"]["medianSecs"], 110 * 60);
    assert_eq!(f["timeToRestore"]["band"], "high");
    assert!(
        body["leadTimeFrom"]
            .as_str()
            .unwrap()
            .contains("queue time")
    );

    let body = metrics(&server, "?by=service&service=frontend", 2).await;
    assert_eq!(body["by"], "service");
    assert_eq!(body["groups"][0]["key"], "frontend");
    assert_eq!(body["groups"][0]["leadTime"]["count"], 2);
    let body = metrics(&server, "?service=backend", 0).await;
    assert_eq!(body["overall"]["deploymentFrequency"]["completed"], 0);
    assert_eq!(body["overall"]["changeFailureRate"]["rate"], Value::Null);

    // The image of #4 took 10 min before (all longer than its 5 so far), metadata 5 and
    // manifests 5 and 15 (median 10), no approval, no cluster: live 25 min after its queue.
    let list: Value = get(&server, "/api/deployments?imageTag=frontend-004")
        .await
        .json()
        .await
        .unwrap();
    let eta = &list["deployments"][0]["eta"];
    let live: DateTime<Utc> = eta["liveAt"].as_str().unwrap().parse().unwrap();
    let queued: DateTime<Utc> = ago(now, 5).parse().unwrap();
    assert_eq!((live - queued).num_minutes(), 25, "{eta}");
    assert_eq!(eta["steps"][0]["segment"], "image");
    assert_eq!(
        eta["steps"][0]["basis"], "all",
        "two journeys are fewer than five"
    );
    let done: Value = get(&server, "/api/deployments?imageTag=frontend-001")
        .await
        .json()
        .await
        .unwrap();
    assert!(done["deployments"][0].get("eta").is_none(), "{done}");

    for (query, field, word) in [
        ("?by=team", "by", "'team'"),
        ("?since=yesterday", "since", "'yesterday'"),
        ("?until=soon", "until", "'soon'"),
        ("?limit=5", "query parameter", "'limit'"),
        ("?service=a&service=b", "service", "twice"),
    ] {
        let r = get(&server, &format!("/api/metrics/dora{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["field"], field, "{e}");
        assert!(e["error"].as_str().unwrap().contains(word), "{e}");
    }
    // A partition the reader's token does not name: refused, served or not.
    let r = get(&server, "/api/metrics/dora?partition=acme").await;
    assert_eq!(r.status(), 403);
    let r = server
        .client
        .get(server.url("/api/metrics/dora"))
        .bearer_auth(&server.contoso_reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "contoso's reader may not read fabrikam");
    let r = server
        .client
        .get(server.url("/api/metrics/dora"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}
