//! `spektate serve --otlp-endpoint` and the OpenTelemetry variables: what is refused before
//! anything is served.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
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
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
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
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")],
        &["--otlp-endpoint", "http://127.0.0.1:4318"],
    );
    assert!(!ok);
    assert!(
        e.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && e.contains("http/json"),
        "{e}"
    );
    let (ok, e) = serve(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=hunter2"),
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        e.contains("--otlp-endpoint") && e.contains("'collector:4318'"),
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
        said.contains("Traces of finished deployments go to"),
        "{said}"
    );
    let started = Instant::now();
    let got = loop {
        let got = collector.received_requests().await.unwrap_or_default();
        if !got.is_empty() || started.elapsed() > Duration::from_secs(20) {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.len(), 1, "one export");
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
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
