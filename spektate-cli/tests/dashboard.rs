//! `spektate dashboard` as a person starts it: serving what pipelines recorded, stopping on
//! SIGTERM, and refusing bad flags with a clear message.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn spektate(store: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spektate"));
    c.env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_HLD_REPO")
        .env_remove("SPEKTATE_SOURCE_REPO");
    c
}

fn record(store: &Path, args: &[&str]) {
    let out = spektate(store).arg("record").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A GET over plain HTTP/1.1: status line and body.
fn get(addr: &str, path: &str) -> (String, String) {
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

/// Stops the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `signal` (`TERM`, or `INT` as Ctrl-C does) and waits for the exit.
fn stop(child: &mut Child, signal: &str) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard did not stop on SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_dashboard_serves_what_pipelines_recorded_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    record(
        &db,
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
    );
    record(
        &db,
        &[
            "run",
            "--id",
            "101",
            "--status",
            "inProgress",
            "--url",
            "https://ci.example.com/101",
        ],
    );

    let child = spektate(&db)
        .args(["dashboard", "--port", "0", "--refresh", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("Spektate dashboard on http://127.0.0.1:"),
        "{line}"
    );
    assert!(
        line.contains("partition fabrikam, refreshing every 1 s"),
        "{line}"
    );
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();

    let (status, page) = get(&addr, "/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains("Synced Cluster"));
    let (status, body) = get(&addr, "/api/deployments?service=frontend");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 1);
    assert_eq!(v["deployments"][0]["state"], "inProgress");
    assert_eq!(
        v["deployments"][0]["links"]["imageRun"],
        "https://ci.example.com/101"
    );

    // The run finishes; the server sees it without being asked.
    record(
        &db,
        &[
            "run",
            "--id",
            "101",
            "--status",
            "completed",
            "--result",
            "failed",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = get(&addr, "/api/deployments");
        if body.contains("\"state\":\"failed\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the refresh never showed the failed run: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = get(&addr, "/api/deployments?limit=none");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    assert!(
        body.contains("invalid limit: 'none' is not a whole number from 1 to 10000"),
        "{body}"
    );

    let status = stop(&mut server.0, "TERM");
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
}

fn fails(out: Output) -> String {
    assert!(
        !out.status.success(),
        "should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(!e.contains("panicked"), "{e}");
    e
}

#[test]
fn bad_dashboard_flags_name_the_flag_and_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    record(
        &db,
        &[
            "--p1",
            "1",
            "--image-tag",
            "t-1",
            "--commit-id",
            "abcdef1",
            "--service",
            "web",
        ],
    );
    let cases: [(&[&str], &str); 7] = [
        (
            &["--port", "70000"],
            "invalid value '70000' for '--port <PORT>'",
        ),
        (
            &["--port", "http"],
            "invalid value 'http' for '--port <PORT>'",
        ),
        (
            &["--bind", "my-laptop"],
            "invalid value 'my-laptop' for '--bind <ADDRESS>': 'my-laptop' is not an IP address",
        ),
        (
            &["--refresh", "0"],
            "invalid value '0' for '--refresh <SECONDS>'",
        ),
        (
            &["--header-timeout", "0"],
            "invalid value '0' for '--header-timeout <SECONDS>'",
        ),
        (
            &["--idle-timeout", "forever"],
            "invalid value 'forever' for '--idle-timeout <SECONDS>'",
        ),
        (
            &["--max-connections", "0"],
            "invalid value '0' for '--max-connections <N>'",
        ),
    ];
    for (args, want) in cases {
        let e = fails(spektate(&db).arg("dashboard").args(args).output().unwrap());
        assert!(e.contains(want), "{args:?}: {e}");
    }

    let e = fails(
        spektate(&dir.path().join("none.db"))
            .arg("dashboard")
            .output()
            .unwrap(),
    );
    assert!(
        e.starts_with("spektate: ") && e.contains("none.db") && e.contains("no such file"),
        "{e}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let e = fails(
        spektate(&db)
            .args(["dashboard", "--port", &port])
            .output()
            .unwrap(),
    );
    assert!(
        e.starts_with(&format!(
            "spektate: invalid --port: cannot listen on 127.0.0.1:{port}: "
        )),
        "{e}"
    );
    assert!(e.trim_end().ends_with("choose another --port"), "{e}");
}

/// A connection that sent the request line and one header, not the blank line ending it.
fn half_open(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET /api/deployments HTTP/1.1\r\nHost: {addr}\r\n").unwrap();
    s
}

/// Whether the server closed `s` within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn slow_clients_are_held_to_the_header_timeout_and_the_connection_cap() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    record(
        &db,
        &[
            "--p1",
            "1",
            "--image-tag",
            "web-1",
            "--commit-id",
            "abcdef1",
            "--service",
            "web",
        ],
    );
    let child = spektate(&db)
        .args(["dashboard", "--port", "0"])
        .args(["--header-timeout", "10", "--max-connections", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    assert_eq!(get(&addr, "/api/deployments").0, "HTTP/1.1 200 OK");

    let mut slow: Vec<TcpStream> = (0..4).map(|_| half_open(&addr)).collect();
    let asked = Instant::now();
    let (status, body) = get(&addr, "/api/deployments");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    // Long before the 10 s header timeout would close one: the cap made room.
    assert!(
        asked.elapsed() < Duration::from_secs(6),
        "with the 4 connections allowed all half-open, a request still got an answer in {:?}",
        asked.elapsed()
    );
    assert!(
        closed_within(&mut slow[0], Duration::from_secs(2)),
        "the oldest half-open connection made room"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "slow[0] closed {:?} after the request, near the header timeout: not by the cap",
        asked.elapsed()
    );
    assert!(
        !closed_within(&mut slow[1], Duration::from_millis(100)),
        "only the oldest made room"
    );
    assert!(
        slow[1..]
            .iter_mut()
            .all(|s| closed_within(s, Duration::from_secs(15))),
        "the others are closed by the 10 s header timeout"
    );

    let status = stop(&mut server.0, "INT");
    assert!(
        status.success(),
        "SIGINT (Ctrl-C) is a clean stop: {status:?}"
    );
}
