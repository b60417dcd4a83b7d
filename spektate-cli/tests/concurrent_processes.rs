//! 8 `spektate record` processes recording p2 and p3 for the same images at once on one
//! SQLite file: every link present, no record lost or duplicated.

use std::process::{Command, Stdio};

fn record(db: &std::path::Path, args: &[String]) {
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .arg("record")
        .args(args)
        .env("SPEKTATE_STORE", format!("sqlite:{}", db.display()))
        .env("SPEKTATE_PARTITION_KEY", "race")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn eight_processes_on_one_sqlite_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("race.db");
    let images = 4;
    for i in 0..images {
        record(
            &db,
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
    }
    // 8 processes: each owns one (image, ring) pair, and all four images get two rings at once.
    let rings = ["dev", "prod"];
    let mut workers = Vec::new();
    for i in 0..images {
        for ring in rings {
            let db = db.clone();
            workers.push(std::thread::spawn(move || {
                let hld = format!("h{i}{ring}");
                record(
                    &db,
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
                    &db,
                    &s(&["--p3", &format!("m{i}{ring}"), "--hld-commit-id", &hld]),
                );
                record(
                    &db,
                    &s(&[
                        "--p3",
                        &format!("m{i}{ring}"),
                        "--manifest-commit-id",
                        &format!("mc{i}{ring}"),
                    ]),
                );
            }));
        }
    }
    assert_eq!(workers.len(), 8);
    for w in workers {
        w.join().unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["get", "-o", "json"])
        .env("SPEKTATE_STORE", format!("sqlite:{}", db.display()))
        .env("SPEKTATE_PARTITION_KEY", "race")
        .output()
        .unwrap();
    assert!(out.status.success());
    let ds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ds = ds.as_array().unwrap();
    assert_eq!(
        ds.len(),
        images * rings.len(),
        "one deployment per image and ring: none lost, none duplicated"
    );
    for i in 0..images {
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
