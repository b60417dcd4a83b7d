//! The Fabrikam demo with one more Flux v2 cluster: the scenario is played as the example plays
//! it (east-us reports with `record sync`, west-eu's Flux and central-us's Argo CD through
//! their parsers), and `north-eu` runs Flux v2 too, whose notification-controller posts signed
//! events to `spektate serve` (a generic-hmac Provider, faked: the events are shaped and signed
//! as it makes them). north-eu applies the dev manifests, then fails its health check on the
//! backend's; `spektate get -o wide` shows frontend-1001 live in all four clusters and the
//! backend's failure in both Flux clusters.

#[path = "../../examples/fabrikam/scenario.rs"]
#[allow(dead_code)]
mod scenario;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use chrono::{Duration, Utc};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use spektate::{Recorder, SqliteStore};

const SECRET: &str = "fabrikam-north-eu-flux";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spektate"));
    for var in [
        "SPEKTATE_STORE",
        "SPEKTATE_TOKENS",
        "SPEKTATE_PARTITION_KEY",
        "SPEKTATE_FLUX_SECRET",
        "SPEKTATE_FLUX_SECRET_FILE",
        "SPEKTATE_ARGOCD_HOOK_TOKEN",
        "SPEKTATE_ARGOCD_HOOK_TOKEN_FILE",
    ] {
        c.env_remove(var);
    }
    c
}

struct Serve(Child, String);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An event as notification-controller forwards it (Go's `json.Marshal` of `eventv1.Event`),
/// signed with the Provider Secret's token, posted to `/api/flux/north-eu`.
fn flux(addr: &str, severity: &str, reason: &str, message: &str, commit: &str) -> (u16, String) {
    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = format!(
        r#"{{"involvedObject":{{"kind":"Kustomization","namespace":"flux-system","name":"fabrikam-apps","uid":"2f6b7d9e-1c3a-4b5d-8e9f-0a1b2c3d4e5f","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"48213"}},"severity":"{severity}","timestamp":"{at}","message":{},"reason":"{reason}","metadata":{{"revision":"main@sha1:{commit}"}},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-6d8f7c9b5-q2w4e"}}"#,
        serde_json::json!(message)
    );
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/flux/north-eu HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\ngotk-component: kustomize-controller\r\nX-Signature: sha256={hex}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer)
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
async fn a_flux_v2_cluster_reports_through_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fabrikam.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let repos = scenario::FabrikamRepos::default();
    let secret = dir.path().join("flux-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let spec = format!("sqlite:{}", db.display());
    let mut child = bin()
        .args(["serve", "--store", &spec, "-p", "fabrikam", "--port", "0"])
        .args(["--flux-secret-file", secret.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let server = Serve(child, addr);

    let t0 = Utc::now() - Duration::minutes(22);
    for step in scenario::steps() {
        scenario::play(&step, &recorder, &repos, t0).await.unwrap();
        if step.title.starts_with("The clusters apply them") {
            let (status, answer) = flux(
                &server.1,
                "info",
                "ReconciliationSucceeded",
                "Reconciliation finished in 1.843s, next run in 10m0s",
                scenario::DEV_MANIFESTS,
            );
            assert_eq!(status, 200, "{answer}");
        }
    }
    let (status, answer) = flux(
        &server.1,
        "error",
        "HealthCheckFailed",
        "health check failed after 5m0s: timeout waiting for: [Deployment/securitybugfix/backend status: 'InProgress']",
        scenario::BACKEND_MANIFESTS,
    );
    assert_eq!(status, 200, "{answer}");
    drop(server);

    let out = bin()
        .args(["get", "--store", &spec, "-p", "fabrikam", "-o", "wide"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dev = cells(&table, "frontend-1001  ✓ 3001");
    assert_eq!(
        dev[dev.len() - 2..],
        [
            "north-eu, west-eu",
            "central-us, east-us, north-eu, west-eu"
        ],
        "the Flux clusters run the dev manifests, the others a later commit: {table}"
    );
    let backend = cells(&table, "backend-2001");
    assert_eq!(
        backend[backend.len() - 2..],
        [
            "central-us, east-us, north-eu failed (HealthCheckFailed), west-eu failed (HealthCheckFailed)",
            "central-us, east-us"
        ],
        "{table}"
    );
}
