//! `spektate serve --flux-secret-file` and `--argocd-hook-token-file` as processes: a signed
//! Flux event and an Argo CD notification reach the store through the server, `spektate get
//! -o wide` shows the cluster and the failure, a wrong signature writes nothing, and an empty
//! secret file is refused naming the flag.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

const SECRET: &str = "flux-hmac-0c6f1e";
const ARGO: &str = "argo-hook-5d2a77";
const HLD: &str = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c";
const MANIFEST: &str = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spektate"));
    for var in [
        "SPEKTATE_STORE",
        "SPEKTATE_SERVER",
        "SPEKTATE_TOKEN",
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

fn serve(dir: &Path, store: &str, extra: &[&str]) -> Serve {
    let mut child = bin()
        .args(["serve", "--store", store, "-p", "fabrikam", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("hooks: Flux (signed)"), "{line}");
    assert!(line.contains("Argo CD Notifications"), "{line}");
    assert!(!line.contains(SECRET) && !line.contains(ARGO), "{line}");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .trim_start_matches("http://")
        .to_string();
    Serve(child, url)
}

/// A POST over HTTP/1.1; the status and the body.
fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

fn sign(body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn record(store: &str, args: &[&str]) {
    let out = bin()
        .args(["record", "--store", store, "-p", "fabrikam"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wide(store: &str) -> String {
    let out = bin()
        .args(["get", "--store", store, "-p", "fabrikam", "-o", "wide"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn flux_and_argo_cd_report_through_serve_and_get_shows_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("spektate.db").display());
    record(
        &store,
        &[
            "--p2",
            "1043",
            "--image-tag",
            "frontend-1042",
            "--hld-commit-id",
            HLD,
            "--env",
            "prod",
            "--service",
            "fabrikam/frontend",
        ],
    );
    record(
        &store,
        &[
            "--p3",
            "1044",
            "--hld-commit-id",
            HLD,
            "--manifest-commit-id",
            MANIFEST,
        ],
    );
    let flux_file = dir.path().join("flux-secret");
    std::fs::write(&flux_file, format!("{SECRET}\n")).unwrap();
    let argo_file = dir.path().join("argo-token");
    std::fs::write(&argo_file, format!("  {ARGO}\n")).unwrap();
    let server = serve(
        dir.path(),
        &store,
        &[
            "--flux-secret-file",
            flux_file.to_str().unwrap(),
            "--argocd-hook-token-file",
            argo_file.to_str().unwrap(),
        ],
    );

    let event = format!(
        r#"{{"involvedObject":{{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"7d0c","apiVersion":"kustomize.toolkit.fluxcd.io/v1"}},"severity":"info","timestamp":"2026-03-02T10:00:00Z","message":"Reconciliation finished in 1.2s, next run in 10m0s","reason":"ReconciliationSucceeded","metadata":{{"revision":"main@sha1:{MANIFEST}"}},"reportingController":"kustomize-controller"}}"#
    );
    let (status, body) = post(
        &server.1,
        "/api/flux/east-us",
        &[("X-Signature", "sha256=00")],
        event.as_bytes(),
    );
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(
        &server.1,
        "/api/flux/east-us",
        &[("X-Signature", &sign(event.as_bytes()))],
        event.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");

    let argo = format!(
        r#"{{"application": "argocd/frontend-west", "destinationName": "west-eu", "destinationServer": "https://west-eu.example:6443", "revision": "{MANIFEST}", "syncStatus": "OutOfSync", "health": "Degraded", "phase": "Failed", "finishedAt": "2026-03-02T10:05:00Z", "message": "one or more objects failed to apply"}}"#
    );
    let bearer = format!("Bearer {ARGO}");
    let (status, body) = post(
        &server.1,
        "/api/argocd",
        &[("Authorization", &bearer)],
        argo.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    drop(server);

    let table = wide(&store);
    assert!(
        table.contains("east-us, west-eu failed (SyncFailed)"),
        "{table}"
    );
}

#[test]
fn an_empty_secret_file_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let store = format!("sqlite:{}", dir.path().join("spektate.db").display());
    let out = bin()
        .args(["serve", "--store", &store, "-p", "fabrikam", "--port", "0"])
        .args(["--flux-secret-file", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--flux-secret-file"), "{err}");
}
