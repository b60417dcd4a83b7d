//! `spektate serve --otlp-endpoint` and the OpenTelemetry variables: what is refused before
//! anything is served; a recorded journey exported in the default protobuf encoding (decoded
//! by prost messages of the test's own); with `--otlp-self-traces`, each refresh and the
//! Azure DevOps requests made during it, without the token.

#[path = "../../spektate-dashboard/tests/otlp_proto/mod.rs"]
mod otlp_proto;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn serve(envs: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
    cmd.args(["serve", "--port", "0"])
        .args(args)
        .env(
            "SPEKTATE_STORE",
            format!("sqlite:{}", dir.path().join("s.db").display()),
        )
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("SPEKTATE_OTLP_SELF_TRACES")
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn otlp_settings_that_cannot_work_are_refused_by_name() {
    let (ok, e) = serve(
        &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")],
        &["--otlp-endpoint", "http://127.0.0.1:4318"],
    );
    assert!(!ok);
    assert!(
        e.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            && e.contains("'grpc'")
            && e.contains("http/protobuf"),
        "{e}"
    );
    for (envs, args) in [
        (&[][..], &["--otlp-self-traces"][..]),
        (&[("SPEKTATE_OTLP_SELF_TRACES", "1")][..], &[][..]),
    ] {
        let (ok, e) = serve(envs, args);
        assert!(!ok);
        assert!(
            e.contains("--otlp-self-traces") && e.contains("--otlp-endpoint"),
            "{e}"
        );
    }
    let (ok, e) = serve(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=hunter2"),
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        e.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && e.contains("'collector:4318'"),
        "{e}"
    );
    let (ok, e) = serve(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "udp://collector/traces",
            ),
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        e.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") && e.contains("'udp://collector/traces'"),
        "{e}"
    );
    let (ok, e) = serve(
        &[("OTEL_EXPORTER_OTLP_HEADERS", "api-key hunter2")],
        &["--otlp-endpoint", "http://127.0.0.1:4318"],
    );
    assert!(!ok);
    assert!(
        e.contains("OTEL_EXPORTER_OTLP_HEADERS") && !e.contains("hunter2"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}

fn spektate(store: &str, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(args)
        .env("SPEKTATE_STORE", store)
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ago(minutes: i64) -> String {
    (Utc::now() - chrono::Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exports_a_recorded_journey_to_the_collector() {
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .and(header("x-tenant", "fabrikam"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&collector)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let manifest = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
    for args in [
        &[
            "record",
            "--p1",
            "101",
            "--image-tag",
            "frontend-101",
            "--commit-id",
            "a1b2c3d4e5f6a7b8",
            "--service",
            "fabrikam/frontend",
        ][..],
        &[
            "record",
            "--p2",
            "201",
            "--image-tag",
            "frontend-101",
            "--hld-commit-id",
            "c0ffee00c0ffee00",
            "--env",
            "prod",
        ],
        &[
            "record",
            "--p3",
            "301",
            "--hld-commit-id",
            "c0ffee00c0ffee00",
            "--manifest-commit-id",
            manifest,
        ],
    ] {
        spektate(&store, args);
    }
    for (id, q, f) in [("101", 20, 12), ("201", 11, 9), ("301", 8, 5)] {
        spektate(
            &store,
            &[
                "record",
                "run",
                "--id",
                id,
                "--status",
                "completed",
                "--queued-at",
                &ago(q),
                "--finished-at",
                &ago(f),
            ],
        );
    }
    spektate(
        &store,
        &[
            "record",
            "sync",
            "--cluster",
            "prod-east",
            "--commit",
            manifest,
        ],
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args([
            "serve",
            "--store",
            &store,
            "-p",
            "fabrikam",
            "--port",
            "0",
            "--refresh",
            "1",
        ])
        .args(["--otlp-endpoint", &collector.uri()])
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=fabrikam")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("Traces") && said.lines().count() < 5 {
        if out.read_line(&mut said).unwrap() == 0 {
            break;
        }
    }
    assert!(
        said.contains("Traces of finished deployments go to") && said.contains("(http/protobuf)"),
        "{said}"
    );
    let started = Instant::now();
    while collector
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The exporter looks again every 5 s, each time after a new refresh (every second here):
    // past its next look, a journey exported again would have arrived.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let got = collector.received_requests().await.unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.len(), 1, "one export, none again at the next look");
    assert_eq!(
        got[0].headers.get("content-type").unwrap(),
        "application/x-protobuf",
        "protobuf is the default"
    );
    let body = otlp_proto::decode(&got[0].body);
    let spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "deploy frontend to prod",
            "image build",
            "metadata update",
            "manifest generation",
            "sync"
        ]
    );
    assert!(spans[4]["attributes"].to_string().contains("prod-east"));
}

const PAT: &str = "pat-otlp-self-trace-0000";

/// An Azure DevOps build as `GET _apis/build/builds` lists it.
fn build(uri: &str, id: u64) -> Value {
    json!({
        "_links": {"web": {"href": format!("{uri}/fabrikam/hello/_build/results?buildId={id}")}},
        "id": id, "buildNumber": format!("20261130.{id}"),
        "status": "completed", "result": "succeeded",
        "queueTime": format!("2026-11-30T01:{id:02}:00Z"), "startTime": format!("2026-11-30T01:{id:02}:10Z"),
        "finishTime": format!("2026-11-30T01:{id:02}:50Z"),
        "lastChangedDate": format!("2026-11-30T01:{id:02}:51Z"),
        "sourceBranch": "refs/heads/main", "sourceVersion": format!("{id:040x}"),
        "definition": {"name": "frontend"},
        "repository": {"type": "TfsGit", "name": "frontend", "url": format!("{uri}/fabrikam/hello/_git/frontend")}
    })
}

/// A commit as the commits batch API returns it.
fn commit(id: u64) -> Value {
    json!({
        "commitId": format!("{id:040x}"),
        "author": {"name": "Samiya Akhtar", "email": "saakhta@example.com", "date": "2026-11-30T01:00:00Z"},
        "committer": {"name": "Samiya Akhtar", "email": "saakhta@example.com", "date": "2026-11-30T01:00:00Z"},
        "comment": "Updated azure-pipelines.yml"
    })
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_traces_its_refresh_and_each_provider_request_without_the_token() {
    let azdo = MockServer::start().await;
    let uri = azdo.uri();
    let builds: Vec<Value> = (1..=3).map(|id| build(&uri, id)).collect();
    Mock::given(method("GET"))
        .and(path("/fabrikam/hello/_apis/build/builds"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"count": 3, "value": builds})),
        )
        .mount(&azdo)
        .await;
    let commits: Vec<Value> = (1..=3).map(commit).collect();
    Mock::given(method("POST"))
        .and(path(
            "/fabrikam/hello/_apis/git/repositories/frontend/commitsbatch",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"count": 3, "value": commits})),
        )
        .mount(&azdo)
        .await;
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&collector)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    for id in 1..=3u64 {
        spektate(
            &store,
            &[
                "record",
                "--p1",
                &id.to_string(),
                "--image-tag",
                &format!("frontend-{id}"),
                "--service",
                "frontend",
                "--commit-id",
                &format!("{id:040x}"),
            ],
        );
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["serve", "--store", &store, "-p", "fabrikam", "--port", "0"])
        .args(["--refresh", "3600", "--no-cache", "--since", "all"])
        .args([
            "--org",
            "fabrikam",
            "--project",
            "hello",
            "--azdo-url",
            &uri,
        ])
        .args(["--otlp-endpoint", &collector.uri(), "--otlp-self-traces"])
        .env("SPEKTATE_AZDO_TOKEN", PAT)
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_CACHE")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    while !said.contains("Traces") && said.lines().count() < 5 {
        if out.read_line(&mut said).unwrap() == 0 {
            break;
        }
    }
    assert!(
        said.contains("Traces of finished deployments and of the server's refreshes go to"),
        "{said}"
    );
    // The first refresh, at start, is the only one within the hour.
    let started = Instant::now();
    let (refresh, requests, bodies) = loop {
        let bodies: Vec<Vec<u8>> = collector
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.body)
            .collect();
        let spans: Vec<Value> = bodies
            .iter()
            .flat_map(|b| {
                otlp_proto::decode(b)["resourceSpans"][0]["scopeSpans"][0]["spans"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .collect();
        if let Some(refresh) = spans.iter().find(|s| s["name"] == "spektate.refresh") {
            let children: Vec<Value> = spans
                .iter()
                .filter(|s| s["parentSpanId"] == refresh["spanId"])
                .cloned()
                .collect();
            break (refresh.clone(), children, bodies);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no refresh span arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(refresh["kind"], 1);
    assert_eq!(refresh["status"]["code"], 1);
    assert_eq!(
        attr(&refresh, "spektate.partition").unwrap()["stringValue"],
        "fabrikam"
    );
    assert_eq!(
        attr(&refresh, "spektate.refresh.records_read").unwrap()["intValue"],
        "3"
    );
    assert_eq!(
        attr(&refresh, "spektate.refresh.runs_requested").unwrap()["intValue"],
        "3"
    );
    // One child span for each request Azure DevOps received, named by its method.
    let sent = azdo.received_requests().await.unwrap();
    assert!(!sent.is_empty());
    assert_eq!(requests.len(), sent.len(), "{requests:#?}");
    assert_eq!(
        attr(&refresh, "spektate.refresh.requests").unwrap()["intValue"],
        sent.len().to_string()
    );
    let mut seen: Vec<(String, String)> = requests
        .iter()
        .map(|r| {
            let method = attr(r, "http.request.method").unwrap()["stringValue"]
                .as_str()
                .unwrap()
                .to_string();
            assert_eq!(r["name"], method.as_str());
            assert_eq!(r["kind"], 3, "client spans");
            assert_eq!(r["traceId"], refresh["traceId"]);
            assert_eq!(
                attr(r, "http.response.status_code").unwrap()["intValue"],
                "200"
            );
            assert_eq!(
                attr(r, "server.address").unwrap()["stringValue"],
                "127.0.0.1"
            );
            assert_eq!(
                attr(r, "server.port").unwrap()["intValue"],
                azdo.address().port().to_string()
            );
            assert!(attr(r, "error.type").is_none());
            let url = attr(r, "url.full").unwrap()["stringValue"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(
                url.starts_with(&format!("{uri}/fabrikam/hello/_apis/")),
                "{url}"
            );
            (method, url.split('?').next().unwrap().to_string())
        })
        .collect();
    let mut expected: Vec<(String, String)> = sent
        .iter()
        .map(|r| (r.method.to_string(), format!("{uri}{}", r.url.path())))
        .collect();
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);
    // The token went to Azure DevOps, never to the collector, in no form.
    assert!(sent[0].headers.get("authorization").is_some());
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(":{PAT}"));
    for body in &bodies {
        let text = String::from_utf8_lossy(body);
        assert!(!text.contains(PAT) && !text.contains(&basic), "{text}");
        assert!(!text.to_ascii_lowercase().contains("authorization"));
    }
}
