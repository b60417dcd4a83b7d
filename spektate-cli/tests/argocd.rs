//! `spektate get`, `validate`, `dashboard` and `serve` with Argo CD as the sync source
//! (--argocd-url, SPEKTATE_ARGOCD_TOKEN), against a fake Argo CD API server.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HLD: &str = "https://github.com/fabrikam/hld";
const MANIFESTS: &str = "https://github.com/fabrikam/manifests";
const M1: &str = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const M2: &str = "2222222aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN: &str = "argo-api-token-for-tests";

fn spektate(store: &Path, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
    cmd.args(args)
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_ARGOCD_URL")
        .env_remove("SPEKTATE_ARGOCD_PROJECT")
        .env_remove("SPEKTATE_GITHUB_TOKEN");
    match token {
        Some(t) => cmd.env("SPEKTATE_ARGOCD_TOKEN", t),
        None => cmd.env_remove("SPEKTATE_ARGOCD_TOKEN"),
    };
    cmd.output().expect("run spektate")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// frontend/dev through p3 to manifest commit M1, then backend/dev to M2.
fn record(db: &Path) {
    for (n, service, manifest) in [(1, "frontend", M1), (2, "backend", M2)] {
        let (p2, p3, hld) = (
            format!("20{n}"),
            format!("30{n}"),
            format!("{n}{n}{n}{n}{n}{n}{n}bbbb"),
        );
        let steps: Vec<Vec<String>> = vec![
            vec![
                "record",
                "--p2",
                &p2,
                "--image-tag",
                &format!("{service}-{n}"),
                "--hld-commit-id",
                &hld,
                "--env",
                "dev",
                "--service",
                &format!("fabrikam/{service}"),
                "--repository",
                HLD,
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            vec![
                "record",
                "run",
                "--id",
                &p2,
                "--status",
                "completed",
                "--result",
                "succeeded",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            vec!["record", "--p3", &p3, "--hld-commit-id", &hld]
                .into_iter()
                .map(String::from)
                .collect(),
            vec![
                "record",
                "--p3",
                &p3,
                "--manifest-commit-id",
                manifest,
                "--repository",
                MANIFESTS,
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            vec![
                "record",
                "run",
                "--id",
                &p3,
                "--status",
                "completed",
                "--result",
                "succeeded",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ];
        for step in steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            ok(&spektate(db, &args, None));
        }
    }
}

/// Argo CD with one application in east-us, synced to backend's manifest commit.
async fn fake_argocd() -> MockServer {
    let server = MockServer::start().await;
    let body = json!({
        "metadata": {"resourceVersion": "9"},
        "items": [{
            "metadata": {"name": "fabrikam-dev", "namespace": "argocd"},
            "spec": {
                "destination": {"name": "east-us", "namespace": "fabrikam"},
                "source": {"repoURL": format!("{MANIFESTS}.git"), "path": "dev", "targetRevision": "HEAD"},
                "project": "fabrikam",
            },
            "status": {
                "sync": {"status": "Synced", "revision": M2},
                "health": {"status": "Healthy"},
                "operationState": {"phase": "Succeeded", "finishedAt": "2026-11-26T12:00:42Z", "syncResult": {"revision": M2}},
                "history": [{"id": 1, "revision": M1, "deployedAt": "2026-11-26T11:00:00Z"}, {"id": 2, "revision": M2, "deployedAt": "2026-11-26T12:00:42Z"}],
            },
        }],
    });
    Mock::given(method("GET"))
        .and(path("/api/v1/applications"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    server
}

/// The cells of the table line that holds `needle`.
fn cells(table: &str, needle: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} in {table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_shows_synced_and_live_clusters_from_argo_cd() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let server = fake_argocd().await;
    let url = server.uri();
    let db2 = db.clone();
    let (wide, json) = tokio::task::spawn_blocking(move || {
        record(&db2);
        let wide = ok(&spektate(
            &db2,
            &["get", "-o", "wide", "--argocd-url", &url],
            Some(TOKEN),
        ));
        let json = ok(&spektate(
            &db2,
            &["get", "-o", "json", "--argocd-url", &url],
            Some(TOKEN),
        ));
        (wide, json)
    })
    .await
    .unwrap();

    assert!(
        wide.lines()
            .next()
            .unwrap()
            .ends_with("Cluster Sync  Live In"),
        "{wide}"
    );
    let frontend = cells(&wide, "frontend-1");
    assert_eq!(frontend[1], "Complete (live)", "{wide}");
    assert_eq!(frontend[frontend.len() - 2..], ["-", "east-us"], "{wide}");
    let backend = cells(&wide, "backend-2");
    assert_eq!(backend[1], "Complete (synced)", "{wide}");
    assert_eq!(
        backend[backend.len() - 2..],
        ["east-us", "east-us"],
        "{wide}"
    );

    let ds: Value = serde_json::from_str(&json).unwrap();
    let by_tag = |tag: &str| {
        ds.as_array()
            .unwrap()
            .iter()
            .find(|d| d["imageTag"] == tag)
            .unwrap()
            .clone()
    };
    let f = by_tag("frontend-1");
    assert_eq!(f["clusters"], json!([]));
    assert_eq!(
        f["liveIn"],
        json!([{"cluster": "east-us", "commit": M2, "exact": false, "appliedAt": "2026-11-26T12:00:42Z"}])
    );
    let b = by_tag("backend-2");
    assert_eq!(b["clusters"][0]["cluster"], "east-us");
    assert_eq!(b["clusters"][0]["tagger"], "argocd fabrikam-dev");
    assert_eq!(b["liveIn"][0]["exact"], true);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "one request per get"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_checks_argo_cd_and_a_token_without_a_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let server = fake_argocd().await;
    let url = server.uri();
    let host = url.trim_start_matches("http://").to_string();
    let (valid, rejected, stray) = tokio::task::spawn_blocking(move || {
        ok(&spektate(
            &db,
            &["record", "run", "--id", "1", "--status", "queued"],
            None,
        ));
        let valid = spektate(&db, &["validate", "--argocd-url", &url], Some(TOKEN));
        let rejected = spektate(
            &db,
            &["validate", "--argocd-url", &url],
            Some("wrong-token"),
        );
        let stray = spektate(&db, &["get"], Some(TOKEN));
        (valid, rejected, stray)
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&valid.stdout);
    assert!(
        out.contains(&format!(
            "argocd {host}: ok (1 applications with a git source in 1 clusters)"
        )),
        "{out}"
    );
    let out = String::from_utf8_lossy(&rejected.stdout);
    assert!(!rejected.status.success());
    assert!(out.contains(&format!("argocd {host}: failed:")), "{out}");
    assert!(!out.contains("wrong-token"), "{out}");
    let e = String::from_utf8_lossy(&stray.stderr);
    assert!(!stray.status.success());
    assert_eq!(
        e.trim(),
        "spektate: invalid --argocd-url: is missing, and SPEKTATE_ARGOCD_TOKEN is given for Argo CD"
    );
}

#[test]
fn dashboard_and_serve_take_the_argo_cd_flags() {
    for cmd in ["get", "dashboard", "serve", "validate"] {
        let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for flag in ["--argocd-url", "--argocd-insecure", "--argocd-project"] {
            assert!(help.contains(flag), "{cmd} --help has no {flag}");
        }
        assert!(help.contains("SPEKTATE_ARGOCD_TOKEN"), "{cmd} --help");
    }
}
