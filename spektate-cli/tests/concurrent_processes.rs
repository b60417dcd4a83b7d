//! Many `spektate record` processes at once on one store, each linking its own image in two
//! rings: 64 on one SQLite file, 32 on a real Azurite table, 64 on a real PostgreSQL server.
//! Every write is present afterwards and none is duplicated.

#[path = "../../spektate-azdo/tests/common/azurite.rs"]
#[allow(dead_code)]
mod azurite;

use std::process::{Command, Stdio};

use azurite::Azurite;
use spektate_postgres::testkit::TestServer;

/// The environment that names a store for every command.
type StoreEnv = Vec<(&'static str, String)>;

fn spektate(env: &StoreEnv, args: &[String]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
    cmd.args(args)
        .env_remove("SPEKTATE_STORE")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env("SPEKTATE_PARTITION_KEY", "race")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn record(env: &StoreEnv, args: &[String]) {
    let all: Vec<String> = std::iter::once("record".to_string())
        .chain(args.iter().cloned())
        .collect();
    let out = spektate(env, &all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// `workers` processes at once, each recording its image (p1) and sending it to two rings
/// (p2, then p3 with its manifest commit); then every deployment is checked.
fn race(env: StoreEnv, workers: usize) {
    let rings = ["dev", "prod"];
    let mut threads = Vec::new();
    for i in 0..workers {
        let env = env.clone();
        threads.push(std::thread::spawn(move || {
            record(
                &env,
                &s(&[
                    "--p1",
                    &i.to_string(),
                    "--image-tag",
                    &format!("img-{i}"),
                    "--commit-id",
                    &format!("c{i:07}"),
                    "--service",
                    "svc",
                ]),
            );
            for ring in rings {
                let hld = format!("h{i}{ring}");
                record(
                    &env,
                    &s(&[
                        "--p2",
                        &format!("r{i}{ring}"),
                        "--image-tag",
                        &format!("img-{i}"),
                        "--hld-commit-id",
                        &hld,
                        "--env",
                        ring,
                    ]),
                );
                record(
                    &env,
                    &s(&["--p3", &format!("m{i}{ring}"), "--hld-commit-id", &hld]),
                );
                record(
                    &env,
                    &s(&[
                        "--p3",
                        &format!("m{i}{ring}"),
                        "--manifest-commit-id",
                        &format!("mc{i}{ring}"),
                    ]),
                );
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let out = spektate(&env, &s(&["get", "-o", "json"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ds = ds.as_array().unwrap();
    assert_eq!(
        ds.len(),
        workers * rings.len(),
        "one deployment per image and ring: none lost, none duplicated"
    );
    for i in 0..workers {
        for ring in rings {
            let hits: Vec<_> = ds
                .iter()
                .filter(|d| d["imageTag"] == format!("img-{i}") && d["ring"] == ring)
                .collect();
            assert_eq!(hits.len(), 1, "img-{i} {ring}");
            let d = hits[0];
            assert_eq!(d["image"]["id"], i.to_string());
            assert_eq!(d["commitId"], format!("c{i:07}"));
            assert_eq!(d["metadata"]["id"], format!("r{i}{ring}"));
            assert_eq!(d["manifest"]["id"], format!("m{i}{ring}"));
            assert_eq!(d["manifestCommitId"], format!("mc{i}{ring}"));
        }
    }
}

#[test]
fn sixty_four_processes_on_one_sqlite_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("race.db");
    race(
        vec![("SPEKTATE_STORE", format!("sqlite:{}", db.display()))],
        64,
    );
}

#[test]
fn thirty_two_processes_on_one_azure_table_lose_nothing() {
    let az = Azurite::start();
    race(
        vec![
            (
                "SPEKTATE_STORE",
                format!("azure-table:{}", az.connection_string()),
            ),
            ("SPEKTATE_TABLE_NAME", "race".to_string()),
        ],
        32,
    );
}

#[test]
fn sixty_four_processes_on_one_postgres_database_lose_nothing() {
    let server = TestServer::start();
    race(vec![("SPEKTATE_STORE", server.url())], 64);
}
