//! `spektate get --watch N` and `spektate status --watch N`: the table is drawn again every N
//! seconds from what the store holds then, so a deployment recorded while it runs appears.
//! With stdout not a terminal (a pipe, as here) each refresh prints the whole table again,
//! header first, with no escape codes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long a test may wait for the watcher, in all.
const DEADLINE: Duration = Duration::from_secs(30);

const MANIFESTS: &str = "https://github.com/fabrikam/manifests";
const M1: &str = "e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0";
const M2: &str = "2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";

/// `spektate` on the SQLite store `store`, with no provider and no setting from the
/// environment the test runs in.
fn command(store: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SPEKTATE_") {
            cmd.env_remove(name);
        }
    }
    let dir = store.parent().unwrap();
    cmd.args(args)
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env("XDG_CACHE_HOME", dir.join("cache"));
    cmd
}

fn ok(store: &Path, args: &[&str]) -> String {
    let out: Output = command(store, args).output().expect("run spektate");
    assert!(
        out.status.success(),
        "spektate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A `spektate ... --watch` process whose stdout lines arrive on a channel; killed and
/// waited for when dropped, whether the test passed or not.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: PathBuf,
    started: Instant,
}

impl Watcher {
    fn start(store: &Path, args: &[&str]) -> Self {
        let stderr = store.with_extension("stderr");
        let mut child = command(store, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start spektate");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher {
            child,
            lines,
            seen: Vec::new(),
            stderr,
            started: Instant::now(),
        }
    }

    /// Reads lines until one satisfies `done`; fails, with what was printed, when the
    /// process ends or the deadline passes first.
    fn read_until(&mut self, what: &str, done: impl Fn(&[String]) -> bool) {
        while !done(&self.seen) {
            let left = DEADLINE.saturating_sub(self.started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{what}: not within {DEADLINE:?}; {}", self.transcript())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "{what}: the watcher ended first ({status:?}); {}",
                        self.transcript()
                    )
                }
            }
        }
    }

    fn transcript(&self) -> String {
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!(
            "stdout:\n{}\nstderr:\n{stderr}",
            self.seen
                .iter()
                .map(|l| format!("{l:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rows of each table printed, split where a header line (starting `header`) begins one.
fn renders(lines: &[String], header: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for line in lines {
        if line.starts_with(header) {
            out.push(Vec::new());
        } else {
            out.last_mut()
                .unwrap_or_else(|| panic!("a row before any header: {line:?}"))
                .push(line.clone());
        }
    }
    out
}

/// The cells of a table row.
fn cells(row: &str) -> Vec<&str> {
    row.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// The cells of a `status` row but its Since (`just now`, `12 seconds ago`).
fn but_since(row: &str) -> Vec<&str> {
    let mut cells = cells(row);
    assert_eq!(cells.len(), 7, "{row}");
    cells.remove(5);
    cells
}

/// Whether the last line printed is a header that follows a row holding `tag`: the table
/// that showed `tag` is complete.
fn table_with_done(lines: &[String], tag: &str, header: &str) -> bool {
    lines.last().is_some_and(|l| l.starts_with(header)) && lines.iter().any(|l| l.contains(tag))
}

fn p1(store: &Path, id: &str, tag: &str, service: &str) {
    ok(
        store,
        &[
            "record",
            "--p1",
            id,
            "--image-tag",
            tag,
            "--commit-id",
            "a1b2c3d4e5f6",
            "--service",
            service,
        ],
    );
}

#[test]
fn get_watch_redraws_the_table_with_a_deployment_recorded_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("watch.db");
    p1(&store, "101", "frontend-101", "fabrikam/frontend");

    let mut watcher = Watcher::start(&store, &["get", "--watch", "1"]);
    watcher.read_until("the first table", |l| {
        l.iter().any(|l| l.contains("frontend-101"))
    });
    let recorded = Instant::now();
    p1(&store, "102", "frontend-102", "fabrikam/frontend");
    watcher.read_until("a table with frontend-102, complete", |l| {
        table_with_done(l, "frontend-102", "Status ")
    });
    let appeared = recorded.elapsed();

    let lines = &watcher.seen;
    assert!(
        lines.iter().all(|l| !l.contains('\x1b')),
        "no escape codes when stdout is not a terminal: {}",
        watcher.transcript()
    );
    let tables = renders(lines, "Status ");
    assert_eq!(
        cells(&lines[0])[..3],
        ["Status", "Service", "Ring"],
        "the output starts with the header, and each refresh with it again: {}",
        watcher.transcript()
    );
    let first = &tables[0];
    assert_eq!(first.len(), 1, "{}", watcher.transcript());
    assert_eq!(cells(&first[0])[1], "frontend");
    assert!(first[0].contains("frontend-101"), "{first:?}");
    let with_both = tables
        .iter()
        .position(|t| t.iter().any(|r| r.contains("frontend-102")))
        .unwrap();
    assert!(with_both >= 1, "{}", watcher.transcript());
    for table in &tables[..with_both] {
        assert!(
            table.len() == 1 && table[0].contains("frontend-101"),
            "before the second deployment, each refresh is the one-row table again: {}",
            watcher.transcript()
        );
    }
    let both = &tables[with_both];
    assert_eq!(both.len(), 2, "{}", watcher.transcript());
    assert!(
        both[0].contains("frontend-102") && both[1].contains("frontend-101"),
        "both deployments, newest first: {both:?}"
    );
    assert!(
        appeared < Duration::from_secs(10),
        "with --watch 1 the new deployment shows within seconds, took {appeared:?}"
    );
    let status = watcher.child.try_wait().unwrap();
    assert!(
        status.is_none(),
        "still watching after {} tables: {status:?}",
        tables.len()
    );
}

/// One image reaching ring dev and manifest commit `manifest`, then `cluster` reporting it
/// runs that commit.
fn journey(store: &Path, n: &str, service: &str, tag: &str, manifest: &str, cluster: &str) {
    let (p1_id, p2_id, p3_id) = (format!("1{n}"), format!("2{n}"), format!("3{n}"));
    let hld = format!("{n}{}", "b".repeat(40 - n.len()));
    let service = format!("fabrikam/{service}");
    p1(store, &p1_id, tag, &service);
    ok(
        store,
        &[
            "record",
            "--p2",
            &p2_id,
            "--image-tag",
            tag,
            "--hld-commit-id",
            &hld,
            "--env",
            "dev",
            "--service",
            &service,
        ],
    );
    ok(store, &["record", "--p3", &p3_id, "--hld-commit-id", &hld]);
    ok(
        store,
        &[
            "record",
            "--p3",
            &p3_id,
            "--manifest-commit-id",
            manifest,
            "--repository",
            MANIFESTS,
        ],
    );
    ok(
        store,
        &["record", "sync", "--cluster", cluster, "--commit", manifest],
    );
}

#[test]
fn status_watch_redraws_the_table_with_a_cluster_reported_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("status-watch.db");
    journey(&store, "01", "frontend", "frontend-101", M1, "west-us");

    let mut watcher = Watcher::start(&store, &["status", "--watch", "1"]);
    watcher.read_until("the first table", |l| {
        l.iter().any(|l| l.contains("frontend-101"))
    });
    journey(&store, "02", "backend", "backend-201", M2, "east-us");
    watcher.read_until("a table with backend-201, complete", |l| {
        table_with_done(l, "backend-201", "Service ")
    });

    let lines = &watcher.seen;
    assert!(
        lines.iter().all(|l| !l.contains('\x1b')),
        "no escape codes when stdout is not a terminal: {}",
        watcher.transcript()
    );
    let tables = renders(lines, "Service ");
    assert_eq!(
        tables[0].iter().map(|r| but_since(r)).collect::<Vec<_>>(),
        [[
            "frontend",
            "dev",
            "west-us",
            "frontend-101",
            "e9f8a7b",
            "up to date"
        ]],
        "{}",
        watcher.transcript()
    );
    let later = tables
        .iter()
        .find(|t| t.iter().any(|r| r.contains("backend-201")))
        .unwrap();
    let backend: Vec<_> = later
        .iter()
        .filter(|r| r.starts_with("backend"))
        .map(|r| but_since(r))
        .collect();
    assert_eq!(
        backend,
        [[
            "backend",
            "dev",
            "east-us",
            "backend-201",
            "2c3d4e5",
            "up to date"
        ]],
        "{}",
        watcher.transcript()
    );
    assert!(
        later
            .iter()
            .any(|r| cells(r)[..4] == ["frontend", "dev", "west-us", "frontend-101"]),
        "the first cluster's row stays: {}",
        watcher.transcript()
    );
    assert!(
        watcher.child.try_wait().unwrap().is_none(),
        "still watching"
    );
}
