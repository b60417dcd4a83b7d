//! A standard output that closes (`| head`, `| true`, a reader that exits) ends a command
//! with an error that says so, never with the panic of `println!` (exit 101), and never
//! before `deployment validate -s` deleted the rows of its self-test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use spektate::{RecordQuery, RecordStore, SqliteStore};
use spektate_azdo::table::DEV_KEY;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The binary without Spektate's and the dashboard's variables, its home in `home`.
fn spektate(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SPEKTATE_") || k.starts_with("REACT_APP_") || k == "PORT" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home).env("TZ", "UTC");
    cmd
}

/// Runs `cmd` with its standard output a pipe whose reader is already gone: every write
/// fails with `EPIPE`.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = cmd
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run spektate");
    drop(cmd);
    child.wait_with_output().unwrap()
}

/// An exit with status 1 that says why, not a panic.
fn failed_on_stdout(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what} panicked: {err}");
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(
        err.contains("stdout") && err.contains("could not be written"),
        "{what} says why: {err}"
    );
}

async fn records(db: &Path, partition: &str) -> usize {
    SqliteStore::open_existing(db)
        .unwrap()
        .query(partition, &RecordQuery::all())
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_fail_without_a_panic_when_stdout_is_closed() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("s.db");
    let store = format!("sqlite:{}", db.display());
    let table = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/devstoreaccount1/Tables"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&table)
        .await;
    let endpoint = format!("{}/devstoreaccount1", table.uri());
    let runs: [&[&str]; 7] = [
        &["validate", "--store", &store, "-p", "demo"],
        &["prune", "--dry-run", "--store", &store, "-p", "demo"],
        &["metrics", "--store", &store, "-p", "demo"],
        &["metrics", "--store", &store, "-p", "demo", "-o", "json"],
        &[
            "deployment",
            "validate",
            "--store",
            &store,
            "--partition-key",
            "demo",
        ],
        &[
            "deployment",
            "validate",
            "-s",
            "--store",
            &store,
            "--partition-key",
            "hello",
        ],
        &[
            "deployment",
            "onboard",
            "-s",
            "devstoreaccount1",
            "-t",
            "onboarded",
            "-k",
            DEV_KEY,
            "--table-endpoint",
            &endpoint,
        ],
    ];
    for args in runs {
        let mut cmd = spektate(home.path());
        cmd.args(args);
        failed_on_stdout(&with_closed_stdout(cmd), &args.join(" "));
    }
    assert_eq!(records(&db, "hello~probe").await, 0, "no probe row is left");
    let saved = std::fs::read_to_string(home.path().join(".bedrock/config.yaml")).unwrap();
    assert!(
        saved.contains("table_name: onboarded"),
        "onboard saves the table it made: {saved}"
    );
}

/// `deployment validate -s` whose reader exits once the self-test began writing: the row it
/// wrote is deleted, and the command fails for the closed output, without a panic. The
/// store is held locked while the reader goes, so the row is written after the close.
#[test]
fn a_self_test_whose_reader_exits_deletes_its_rows() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("s.db");
    let store = format!("sqlite:{}", db.display());
    let validate = |self_test: bool| {
        let mut cmd = spektate(home.path());
        cmd.args(["deployment", "validate"]);
        if self_test {
            cmd.arg("-s");
        }
        cmd.args(["--store", &store, "--partition-key", "hello"]);
        cmd
    };
    // The store exists, so the self-test opens it without writing.
    let made = validate(false).output().unwrap();
    assert!(made.status.success(), "{made:?}");

    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut child = validate(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut line = String::new();
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.contains("Adding src to ACR data") {
                // The reader exits: the pipe's only reading end closes.
                drop(lines);
                let _ = tx.send(());
                return;
            }
            line.clear();
        }
    });
    let reached = rx.recv_timeout(Duration::from_secs(60));
    // The first row is written now, with nobody reading.
    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(
        reached.is_ok(),
        "the self-test did not begin: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    failed_on_stdout(&out, "deployment validate -s");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let written: i64 = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'records'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(written >= 1, "the self-test wrote its first row");
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM records WHERE partition_key = 'hello~probe'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "no probe row is left");
}
