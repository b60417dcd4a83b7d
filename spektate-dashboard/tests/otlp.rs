//! OpenTelemetry export against a local OTLP/HTTP collector (wiremock) that decodes what
//! arrives (JSON with serde, protobuf with prost messages of its own): each finished
//! deployment once, as one trace, the same in both encodings, with the headers of
//! `OTEL_EXPORTER_OTLP_HEADERS`; the same trace ids after a restart; the OTLP/HTTP answers
//! (a partial success logged and not sent again, 429 with `Retry-After` retried, 502, 503 and
//! 504 sent again, 500 only through the helper's retries, 400 not, a redirect not followed).

mod otlp_proto;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use spektate_core::{
    ClusterSync, ImageBuilt, ManifestCommitted, ManifestGenerated, MemoryStore, MetadataUpdated,
    RecordStore, Recorder, RunReported, RunResult, RunStatus, Tracker,
};
use spektate_dashboard::otlp::{OtlpSettings, start};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ago(minutes: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::minutes(minutes)
}

async fn report(r: &Recorder, id: &str, queued: i64, finished: i64, result: RunResult) {
    let mut e = RunReported::new(id, RunStatus::Completed);
    e.result = Some(result);
    e.queued_at = Some(ago(queued));
    e.started_at = Some(ago(queued));
    e.finished_at = Some(ago(finished));
    r.run_reported(&e).await.unwrap();
}

/// Journey `n` of frontend to prod, started `start` minutes ago: p1 10 min, p2 5, p3 5 (with
/// `p3` as its result), and a report of a cluster of its own 2 min after p3 when `synced`.
async fn journey(store: &Arc<MemoryStore>, n: u32, start: i64, p3: RunResult, synced: bool) {
    let r = Recorder::new(store.clone(), "fabrikam").unwrap();
    let (hld, manifest) = (
        format!("{n:07x}{}", "b".repeat(33)),
        format!("{n:07x}{}", "c".repeat(33)),
    );
    r.image_built(&ImageBuilt {
        p1: format!("1{n}"),
        image_tag: format!("frontend-{n}"),
        commit_id: format!("{n:07x}{}", "a".repeat(33)),
        service: "fabrikam/frontend".into(),
        repository: Some("https://github.com/fabrikam/frontend".into()),
    })
    .await
    .unwrap();
    report(
        &r,
        &format!("1{n}"),
        start,
        start - 10,
        RunResult::Succeeded,
    )
    .await;
    r.metadata_updated(&MetadataUpdated {
        p2: format!("2{n}"),
        image_tag: format!("frontend-{n}"),
        hld_commit_id: hld.clone(),
        env: "prod".into(),
        service: Some("fabrikam/frontend".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    report(
        &r,
        &format!("2{n}"),
        start - 10,
        start - 15,
        RunResult::Succeeded,
    )
    .await;
    r.manifest_generated(&ManifestGenerated {
        p3: format!("3{n}"),
        hld_commit_id: hld,
        ..Default::default()
    })
    .await
    .unwrap();
    r.manifest_committed(&ManifestCommitted {
        p3: format!("3{n}"),
        manifest_commit_id: manifest.clone(),
        repository: Some(format!("https://github.com/fabrikam/manifests-{n}")),
    })
    .await
    .unwrap();
    report(&r, &format!("3{n}"), start - 15, start - 20, p3).await;
    if synced {
        store
            .put_cluster_sync(
                "fabrikam",
                &ClusterSync {
                    cluster: format!("prod-{n}"),
                    commit: manifest,
                    synced_at: Some(ago(start - 22)),
                    tagger: Some("flux".into()),
                },
            )
            .await
            .unwrap();
    }
}

/// The export requests the collector received, once there are `n`, or after 10 s.
async fn received(collector: &MockServer, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let got = collector.received_requests().await.unwrap_or_default();
        if got.len() >= n || started.elapsed() > Duration::from_secs(10) {
            return got
                .iter()
                .map(
                    |r| match r.headers.get("content-type").unwrap().to_str().unwrap() {
                        "application/json" => serde_json::from_slice(&r.body).unwrap(),
                        "application/x-protobuf" => otlp_proto::decode(&r.body),
                        other => panic!("content type {other}"),
                    },
                )
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn spans(body: &Value) -> Vec<Value> {
    body["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap()
        .clone()
}

fn tag_of(span: &Value) -> Option<String> {
    span["attributes"].as_array()?.iter().find_map(|a| {
        (a["key"] == "spektate.image_tag")
            .then(|| a["value"]["stringValue"].as_str().unwrap().to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_finished_deployment_is_exported_once_as_a_trace() {
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .and(header("api-key", "s3cr=t"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&collector)
        .await;
    let store = Arc::new(MemoryStore::new());
    // #1 live 8 min ago; #2 failed at its manifests; #3 finished three days ago (exported by
    // an earlier run, so not again).
    journey(&store, 1, 30, RunResult::Succeeded, true).await;
    journey(&store, 2, 25, RunResult::Failed, false).await;
    journey(&store, 3, 3 * 24 * 60, RunResult::Succeeded, true).await;
    let tracker = Tracker::builder(store.clone())
        .partition("fabrikam")
        .build();
    tracker.refresh().await.unwrap();

    let settings = keyed(&collector, Some("http/json"));
    let exporter = start(settings.clone(), vec![tracker.clone()]).unwrap();
    let bodies = received(&collector, 1).await;
    assert_eq!(bodies.len(), 1);
    let got = spans(&bodies[0]);
    let roots: Vec<&Value> = got
        .iter()
        .filter(|s| s.get("parentSpanId").is_none())
        .collect();
    let mut tags: Vec<String> = roots.iter().filter_map(|s| tag_of(s)).collect();
    tags.sort();
    assert_eq!(
        tags,
        ["frontend-1", "frontend-2"],
        "not #3, finished long before"
    );
    for root in &roots {
        let children: Vec<&Value> = got
            .iter()
            .filter(|s| s["parentSpanId"] == root["spanId"])
            .collect();
        assert!(children.iter().all(|c| c["traceId"] == root["traceId"]));
        let names: Vec<&str> = children
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        if tag_of(root).as_deref() == Some("frontend-1") {
            assert_eq!(
                names,
                [
                    "image build",
                    "metadata update",
                    "manifest generation",
                    "sync"
                ]
            );
            assert_eq!(root["status"]["code"], 1);
            let start: i64 = root["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
            let end: i64 = root["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
            // From p1's queue 30 min ago to the sync 8 min ago.
            assert_eq!((end - start) / 60_000_000_000, 22);
        } else {
            assert_eq!(
                names,
                ["image build", "metadata update", "manifest generation"]
            );
            assert_eq!(root["status"]["code"], 2);
        }
    }

    // Later refreshes send nothing again; a deployment that finishes later is sent alone.
    tracker.refresh().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received(&collector, 1).await.len(), 1);
    journey(&store, 4, 24, RunResult::Succeeded, true).await;
    tracker.refresh().await.unwrap();
    let bodies = received(&collector, 2).await;
    assert_eq!(bodies.len(), 2);
    let tags: Vec<String> = spans(&bodies[1]).iter().filter_map(tag_of).collect();
    assert_eq!(tags, ["frontend-4"]);
    exporter.abort();

    // After a restart the recent ones go again, as the same traces.
    let first_ids: Vec<Value> = roots.iter().map(|r| r["traceId"].clone()).collect();
    let again = start(settings, vec![tracker.clone()]).unwrap();
    let bodies = received(&collector, 3).await;
    let resent: Vec<Value> = spans(&bodies[2])
        .iter()
        .filter(|s| s.get("parentSpanId").is_none())
        .map(|s| s["traceId"].clone())
        .collect();
    for id in &first_ids {
        assert!(resent.contains(id), "{id} resent with the same id");
    }
    again.abort();
}

/// A collector that answers each of `refusals` (a status, so many times, with
/// `Retry-After: 0`), then `then` for good.
async fn collector_answering(refusals: &[(u16, u64)], then: u16) -> MockServer {
    let collector = MockServer::start().await;
    for &(status, times) in refusals {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).insert_header("retry-after", "0"))
            .up_to_n_times(times)
            .mount(&collector)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(then).insert_header("retry-after", "0"))
        .mount(&collector)
        .await;
    collector
}

/// What `collector` received of `tracker`'s deployments once it has `n` requests and 300 ms
/// more have passed, so requests past `n` show.
async fn exported(collector: &MockServer, tracker: &Tracker, n: usize) -> Vec<Value> {
    let exporter = start(settings(collector, None), vec![tracker.clone()]).unwrap();
    received(collector, n).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bodies = received(collector, n).await;
    exporter.abort();
    bodies
}

/// 502, 503 and 504 are OTLP's "try again": the spans are sent until taken. A 500 (or 408)
/// is retried by the shared helper, as for every provider, then taken as a refusal, as a
/// 400 is at once: logged, and not sent again.
#[tokio::test]
async fn an_unavailable_collector_is_asked_again_a_bad_request_is_not() {
    let store = Arc::new(MemoryStore::new());
    journey(&store, 1, 30, RunResult::Succeeded, true).await;
    let tracker = Tracker::builder(store.clone())
        .partition("fabrikam")
        .build();
    tracker.refresh().await.unwrap();
    // Each refused through every try of one look (the first and the helper's four retries).
    let collector = collector_answering(&[(502, 5), (503, 5), (504, 5)], 200).await;
    let bodies = exported(&collector, &tracker, 16).await;
    assert_eq!(
        bodies.len(),
        16,
        "five 502s, 503s and 504s, then taken, and not again"
    );
    assert_eq!(spans(&bodies[0]), spans(&bodies[15]));

    let retries = spektate_core::http::Policy::default().max_retries as usize;
    for (status, asked) in [(400, 1), (500, retries + 1)] {
        let collector = collector_answering(&[], status).await;
        let bodies = exported(&collector, &tracker, asked).await;
        assert_eq!(bodies.len(), asked, "{status} is not asked again");
    }
}

/// A tracker over journeys #1 (live) and #2 (failed at its manifests), refreshed.
async fn two_journeys() -> Tracker {
    let store = Arc::new(MemoryStore::new());
    journey(&store, 1, 30, RunResult::Succeeded, true).await;
    journey(&store, 2, 25, RunResult::Failed, false).await;
    let tracker = Tracker::builder(store.clone())
        .partition("fabrikam")
        .build();
    tracker.refresh().await.unwrap();
    tracker
}

fn settings(collector: &MockServer, protocol: Option<&'static str>) -> OtlpSettings {
    OtlpSettings::new(Some(&collector.uri()), move |k| match k {
        "OTEL_EXPORTER_OTLP_PROTOCOL" => protocol.map(str::to_string),
        _ => None,
    })
    .unwrap()
    .unwrap()
    .every(Duration::from_millis(50))
}

/// [`settings`] with the collector's key, `api-key: s3cr=t`, in `OTEL_EXPORTER_OTLP_HEADERS`.
fn keyed(collector: &MockServer, protocol: Option<&'static str>) -> OtlpSettings {
    OtlpSettings::new(Some(&collector.uri()), move |k| match k {
        "OTEL_EXPORTER_OTLP_PROTOCOL" => protocol.map(str::to_string),
        "OTEL_EXPORTER_OTLP_HEADERS" => Some("api-key=s3cr%3Dt".to_string()),
        _ => None,
    })
    .unwrap()
    .unwrap()
    .every(Duration::from_millis(50))
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_is_the_default_and_carries_the_same_traces_as_json() {
    let proto = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .and(header("content-type", "application/x-protobuf"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-protobuf")
                .set_body_bytes(Vec::new()),
        )
        .mount(&proto)
        .await;
    let json = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&json)
        .await;
    let tracker = two_journeys().await;
    let a = start(settings(&proto, None), vec![tracker.clone()]).unwrap();
    let b = start(settings(&json, Some("http/json")), vec![tracker]).unwrap();
    let from_proto = received(&proto, 1).await;
    let from_json = received(&json, 1).await;
    a.abort();
    b.abort();
    assert_eq!(from_proto.len(), 1, "the default encoding is protobuf");
    assert_eq!(from_json.len(), 1);
    assert_eq!(
        from_proto[0], from_json[0],
        "the protobuf request, decoded by prost, says what the JSON one says"
    );
    let size = |c: Vec<wiremock::Request>| c[0].body.len();
    let (proto_bytes, json_bytes) = (
        size(proto.received_requests().await.unwrap()),
        size(json.received_requests().await.unwrap()),
    );
    eprintln!("9 spans: {proto_bytes} bytes in protobuf, {json_bytes} in JSON");
    assert!(proto_bytes < json_bytes, "{proto_bytes} < {json_bytes}");

    let got = spans(&from_proto[0]);
    let live: Vec<&Value> = got
        .iter()
        .filter(|s| s["traceId"] == got[0]["traceId"])
        .collect();
    let root = live[0];
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(root["kind"], 1);
    let tag = tag_of(root).unwrap();
    let n = &tag["frontend-".len()..];
    assert_eq!(root["name"], "deploy frontend to prod");
    assert_eq!(
        attr(root, "spektate.service").unwrap()["stringValue"],
        "frontend"
    );
    assert_eq!(attr(root, "spektate.ring").unwrap()["stringValue"], "prod");
    assert_eq!(
        attr(root, "vcs.ref.head.revision").unwrap()["stringValue"],
        format!("{:07x}{}", n.parse::<u32>().unwrap(), "a".repeat(33))
    );
    let names: Vec<&str> = live[1..]
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let image = live[1];
    assert_eq!(image["parentSpanId"], root["spanId"]);
    assert_eq!(
        attr(image, "cicd.pipeline.run.id").unwrap()["stringValue"],
        format!("1{n}")
    );
    if tag == "frontend-1" {
        assert_eq!(
            names,
            [
                "image build",
                "metadata update",
                "manifest generation",
                "sync"
            ]
        );
        assert_eq!(root["status"]["code"], 1);
        assert_eq!(
            attr(live[4], "k8s.cluster.name").unwrap()["stringValue"],
            "prod-1"
        );
    } else {
        assert_eq!(
            names,
            ["image build", "metadata update", "manifest generation"]
        );
        assert_eq!(root["status"]["code"], 2);
        assert_eq!(
            attr(live[3], "cicd.pipeline.result").unwrap()["stringValue"],
            "failure"
        );
    }
}

/// What the exporter logged, captured by a subscriber of this thread (the tests that use it
/// run on a current-thread runtime, so the exporter's task logs here too).
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Waits (at most 10 s) until the logs say `text`.
async fn logged(logs: &Logs, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !logs.text().contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "not logged within 10 s: {text}\n{}",
            logs.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_partial_success_is_logged_in_either_encoding_and_not_sent_again() {
    let logs = Logs::default();
    let writer = logs.clone();
    let _log = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    let tracker = two_journeys().await;

    let proto = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-protobuf")
                .set_body_bytes(otlp_proto::partial_success(2, "2 spans\nare too old")),
        )
        .mount(&proto)
        .await;
    let exporter = start(settings(&proto, None), vec![tracker.clone()]).unwrap();
    received(&proto, 1).await;
    logged(&logs, "the collector rejected 2 of 9 spans").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    exporter.abort();
    assert_eq!(
        received(&proto, 1).await.len(),
        1,
        "a partial success is not retried"
    );
    let said = logs.text();
    assert!(
        said.contains("the collector rejected 2 of 9 spans")
            && said.contains("): 2 spans are too old\n"),
        "{said}"
    );

    let json = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "partialSuccess": {"rejectedSpans": "1", "errorMessage": "span name too long"}
        })))
        .mount(&json)
        .await;
    let exporter = start(settings(&json, Some("http/json")), vec![tracker]).unwrap();
    received(&json, 1).await;
    logged(&logs, "the collector rejected 1 of 9 spans").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    exporter.abort();
    assert_eq!(received(&json, 1).await.len(), 1);
    let said = logs.text();
    assert!(
        said.contains("the collector rejected 1 of 9 spans") && said.contains("span name too long"),
        "{said}"
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after_and_an_unauthorized_export_is_not_asked_again() {
    let tracker = two_journeys().await;
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&collector)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&collector)
        .await;
    let began = Instant::now();
    let exporter = start(settings(&collector, None), vec![tracker.clone()]).unwrap();
    let bodies = received(&collector, 2).await;
    assert_eq!(bodies.len(), 2, "refused, then sent again");
    assert!(
        began.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 was honored"
    );
    assert_eq!(bodies[0], bodies[1]);
    exporter.abort();

    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string("bad api key"))
        .mount(&collector)
        .await;
    let exporter = start(settings(&collector, None), vec![tracker]).unwrap();
    received(&collector, 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    exporter.abort();
    assert_eq!(
        received(&collector, 1).await.len(),
        1,
        "a 401 is never retried (OTLP/HTTP: only 429, 502, 503, 504 are)"
    );
}

/// The collector's key rides in a header that a redirect would carry to any host: a
/// collector answering 307 to another server is not followed there, and the spans stay
/// unsent, so they go to the collector again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_never_carries_the_collectors_key_elsewhere() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("api-key", "s3cr=t"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/v1/traces", elsewhere.uri())),
        )
        .mount(&collector)
        .await;
    let tracker = two_journeys().await;
    let exporter = start(keyed(&collector, None), vec![tracker]).unwrap();
    let asked = received(&collector, 2).await;
    exporter.abort();
    assert!(
        asked.len() >= 2,
        "sent again after the 3xx: {}",
        asked.len()
    );
    assert_eq!(spans(&asked[0]), spans(&asked[1]), "the same spans");
    let leaked = elsewhere.received_requests().await.unwrap_or_default();
    assert!(leaked.is_empty(), "followed to {}", elsewhere.uri());
}
