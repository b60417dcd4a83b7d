//! The `spektate` command on a real PostgreSQL server: `record`, `get`, `dashboard` and `serve` with
//! `--store postgres://...` or `SPEKTATE_STORE`, and what it says when the database is not a
//! store or the password is wrong, never showing the password.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use spektate_postgres::testkit::TestServer;

fn spektate(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spektate"));
    c.args(args)
        .env_remove("SPEKTATE_STORE")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_HLD_REPO")
        .env_remove("SPEKTATE_SOURCE_REPO")
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .stdin(Stdio::null());
    c
}

fn ok(out: Output, secret: &str) -> String {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    stdout
}

/// The one line a failed command prints, checked not to hold `secret`.
fn failure(out: Output, secret: &str) -> String {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    stderr
}

fn record(store: &str, args: &[&str], secret: &str) -> String {
    let mut all = vec!["record"];
    all.extend(args);
    all.extend(["--store", store]);
    ok(spektate(&all).output().unwrap(), secret)
}

/// One deployment recorded step by step: p1 with its run report, p2, p3 in two steps, and
/// the cluster that runs it.
fn record_journey(url: &str, secret: &str) -> String {
    let id = record(
        url,
        &[
            "--p1",
            "101",
            "--image-tag",
            "frontend-101",
            "--commit-id",
            "a1b2c3d4e5f6",
            "--service",
            "fabrikam/frontend",
        ],
        secret,
    );
    record(
        url,
        &[
            "run",
            "--id",
            "101",
            "--status",
            "completed",
            "--result",
            "succeeded",
        ],
        secret,
    );
    record(
        url,
        &[
            "--p2",
            "201",
            "--image-tag",
            "frontend-101",
            "--hld-commit-id",
            "bbb222",
            "--env",
            "dev",
        ],
        secret,
    );
    record(url, &["--p3", "301", "--hld-commit-id", "bbb222"], secret);
    record(
        url,
        &["--p3", "301", "--manifest-commit-id", "ccc333"],
        secret,
    );
    record(
        url,
        &["sync", "--cluster", "east-us", "--commit", "ccc333"],
        secret,
    );
    id.trim().to_string()
}

#[test]
fn record_and_get_through_a_real_server() {
    let server = TestServer::start();
    let url = server.url();
    let id = record_journey(&url, server.password());
    assert_eq!(id.len(), 12, "record prints the deployment id: {id}");

    // `get` reads the store from SPEKTATE_STORE.
    let out = spektate(&["get", "-o", "json"])
        .env("SPEKTATE_STORE", &url)
        .output()
        .unwrap();
    let ds: serde_json::Value = serde_json::from_str(&ok(out, server.password())).unwrap();
    let ds = ds.as_array().unwrap();
    assert_eq!(ds.len(), 1, "{ds:?}");
    let d = &ds[0];
    assert_eq!(d["id"], id);
    assert_eq!(d["imageTag"], "frontend-101");
    assert_eq!(d["ring"], "dev");
    assert_eq!(d["image"]["id"], "101");
    assert_eq!(d["image"]["state"], "succeeded");
    assert_eq!(d["metadata"]["id"], "201");
    assert_eq!(d["manifest"]["id"], "301");
    assert_eq!(d["manifestCommitId"], "ccc333");
    assert_eq!(d["clusters"][0]["cluster"], "east-us");

    let table = ok(
        spektate(&["get", "--store", &url, "-o", "wide"])
            .output()
            .unwrap(),
        server.password(),
    );
    assert!(
        table.contains("frontend") && table.contains("east-us"),
        "{table}"
    );
}

#[test]
fn get_on_a_database_without_a_store_says_so_and_creates_nothing() {
    let server = TestServer::start();
    let url = server.create_database("empty");
    let out = spektate(&["get", "--store", &url]).output().unwrap();
    let line = failure(out, server.password());
    assert!(
        line.starts_with("spektate: postgres://postgres@127.0.0.1:")
            && line.contains("/empty store: open failed: has no spektate schema"),
        "{line}"
    );
    assert_eq!(spektate_objects(&server, "empty"), "0");
}

fn spektate_objects(server: &TestServer, database: &str) -> String {
    server.psql(
        database,
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'spektate%'",
    )
}

#[test]
fn a_wrong_password_is_one_line_without_the_password() {
    let server = TestServer::start();
    let secret = "wrong-password-5e1d";
    let url = format!(
        "postgres://postgres:{secret}@127.0.0.1:{}/postgres",
        server.port()
    );
    let out = spektate(&[
        "record",
        "--store",
        &url,
        "--p1",
        "1",
        "--image-tag",
        "t",
        "--commit-id",
        "c",
        "--service",
        "s",
    ])
    .output()
    .unwrap();
    let line = failure(out, secret);
    assert!(line.contains("password authentication failed"), "{line}");
    let help = spektate(&["get", "--help"])
        .env("SPEKTATE_STORE", &url)
        .output()
        .unwrap();
    ok(help, secret);
}

/// Stops the dashboard however the test ends.
struct Dashboard(Child);

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET over plain HTTP/1.1: status line and body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// Asks `path` until `done` holds for its status and JSON body, for at most 30 s.
fn poll(
    addr: &str,
    path: &str,
    done: impl Fn(&str, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(addr, path);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if done(&status, &v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{path}: {status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_dashboard_waits_for_a_store_then_serves_what_was_recorded_into_postgres() {
    let server = TestServer::start();
    let url = server.create_database("team");
    let child = spektate(&[
        "dashboard",
        "--store",
        &url,
        "--port",
        "0",
        "--refresh",
        "1",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut dashboard = Dashboard(child);
    let mut line = String::new();
    BufReader::new(dashboard.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(!line.contains(server.password()), "{line}");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    // Before any pipeline recorded, the dashboard says why it has nothing, and creates nothing.
    let health = poll(&addr, "/api/health", |_, v| {
        v["reasons"].to_string().contains("no spektate schema")
    });
    assert_eq!(health["status"], "unavailable");
    assert!(!health.to_string().contains(server.password()));
    assert_eq!(spektate_objects(&server, "team"), "0");

    let id = record_journey(&url, server.password());
    let v = poll(&addr, "/api/deployments", |status, v| {
        status == "HTTP/1.1 200 OK"
            && v["total"] == 1
            && v["deployments"][0]["manifestCommitId"] == "ccc333"
    });
    assert_eq!(v["deployments"][0]["id"], id);
    poll(&addr, "/api/health", |_, v| v["status"] == "ok");
}

/// `spektate serve` on `url` with pipeline tokens from `tokens`: the child and its address.
fn serve(url: &str, tokens: &std::path::Path) -> (Dashboard, String) {
    let child = spektate(&["serve", "--store", url, "--port", "0", "--refresh", "1"])
        .arg("--tokens")
        .arg(tokens)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Dashboard(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split(['/', ' ', '\n']).next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (server, addr)
}

#[test]
fn two_servers_on_one_database_show_what_either_was_sent_and_a_restart_loses_nothing() {
    let pg = TestServer::start();
    let url = pg.create_database("team");
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let out = spektate(&[
        "token", "create", "ci", "-p", "fabrikam", "--scope", "write",
    ])
    .arg("--tokens")
    .arg(&tokens)
    .output()
    .unwrap();
    let token = ok(out, pg.password()).trim().to_string();

    let (a, at_a) = serve(&url, &tokens);
    let (_b, at_b) = serve(&url, &tokens);
    let out = spektate(&[
        "record",
        "--p1",
        "101",
        "--image-tag",
        "frontend-101",
        "--commit-id",
        "a1b2c3d4",
        "--service",
        "fabrikam/frontend",
    ])
    .env("SPEKTATE_SERVER", format!("http://{at_a}"))
    .env("SPEKTATE_TOKEN", &token)
    .output()
    .unwrap();
    let id = ok(out, &token).trim().to_string();
    assert!(!id.is_empty());

    // The other server, on the same database, shows it within a refresh or two.
    let v = poll(&at_b, "/api/deployments", |status, v| {
        status == "HTTP/1.1 200 OK" && v["total"] == 1
    });
    assert_eq!(v["deployments"][0]["id"], id.as_str());
    assert_eq!(v["deployments"][0]["imageTag"], "frontend-101");

    // A restarted server has it too: nothing lived only in the first one's memory.
    drop(a);
    let (_a, at_a) = serve(&url, &tokens);
    let v = poll(&at_a, "/api/deployments", |status, v| {
        status == "HTTP/1.1 200 OK" && v["total"] == 1
    });
    assert_eq!(v["deployments"][0]["id"], id.as_str());
}
