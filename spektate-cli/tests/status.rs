//! `spektate status`: where each service is running, from what pipelines and clusters
//! recorded with `spektate record`.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::Value;

const HLD: &str = "https://github.com/fabrikam/hld";
const MANIFESTS: &str = "https://github.com/fabrikam/manifests";
const M1: &str = "e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0";
const M2: &str = "2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";
const M3: &str = "7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e";

fn spektate(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(args)
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_ARGOCD_URL")
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .env_remove("SPEKTATE_AZDO_TOKEN")
        .output()
        .expect("run spektate")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn run_ok(store: &Path, id: &str, finished_hours_ago: i64) {
    let finished = Utc::now() - Duration::hours(finished_hours_ago);
    let queued = (finished - Duration::minutes(4)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let finished = finished.to_rfc3339_opts(SecondsFormat::Secs, true);
    ok(&spektate(
        store,
        &[
            "record",
            "run",
            "--id",
            id,
            "--status",
            "completed",
            "--result",
            "succeeded",
            "--queued-at",
            &queued,
            "--started-at",
            &queued,
            "--finished-at",
            &finished,
        ],
    ));
}

/// One image's journey to ring dev: p1 built it `built` hours ago, p2 wrote it into the HLD,
/// p3 rendered manifest commit `manifest`.
fn journey(store: &Path, n: &str, service: &str, tag: &str, manifest: &str, built: i64) {
    let (p1, p2, p3) = (format!("1{n}"), format!("2{n}"), format!("3{n}"));
    let hld = format!("{n}{}", "b".repeat(40 - n.len()));
    let service = format!("fabrikam/{service}");
    let source = format!("https://github.com/{service}");
    let commit = format!("{n}{}", "a".repeat(40 - n.len()));
    let steps: [&[&str]; 4] = [
        &[
            "record",
            "--p1",
            &p1,
            "--image-tag",
            tag,
            "--commit-id",
            &commit,
            "--service",
            &service,
            "--repository",
            &source,
        ],
        &[
            "record",
            "--p2",
            &p2,
            "--image-tag",
            tag,
            "--hld-commit-id",
            &hld,
            "--env",
            "dev",
            "--service",
            &service,
            "--repository",
            HLD,
        ],
        &["record", "--p3", &p3, "--hld-commit-id", &hld],
        &[
            "record",
            "--p3",
            &p3,
            "--manifest-commit-id",
            manifest,
            "--repository",
            MANIFESTS,
        ],
    ];
    for step in steps {
        ok(&spektate(store, step));
    }
    run_ok(store, &p1, built);
    run_ok(store, &p2, built);
    run_ok(store, &p3, built);
}

/// frontend-1001, backend-2001, then frontend-1002 reach dev; west-us runs frontend-1001's
/// manifests, east-us the backend's, central-us frontend-1002's.
fn record(store: &Path) {
    journey(store, "001", "frontend", "frontend-1001", M1, 3);
    journey(store, "002", "backend", "backend-2001", M2, 3);
    journey(store, "003", "frontend", "frontend-1002", M3, 2);
    for (cluster, commit) in [("west-us", M1), ("east-us", M2), ("central-us", M3)] {
        ok(&spektate(
            store,
            &["record", "sync", "--cluster", cluster, "--commit", commit],
        ));
    }
}

fn cells(table: &str, service: &str, cluster: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.starts_with(service) && l.contains(&format!(" {cluster} ")))
        .unwrap_or_else(|| panic!("no {service} in {cluster}:\n{table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn status_shows_each_service_per_cluster_with_its_tag_since_and_lag() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("status.db");
    record(&store);

    let table = ok(&spektate(&store, &["status"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "Service", "Ring", "Cluster", "Image", "Tag", "Commit", "Since", "Behind"
        ]
    );
    assert_eq!(lines.len(), 6, "five rows:\n{table}");
    assert_eq!(
        cells(&table, "frontend", "west-us"),
        [
            "frontend",
            "dev",
            "west-us",
            "frontend-1001",
            "e9f8a7b",
            "just now",
            "1 newer: frontend-1002 (built 2 hours ago)"
        ]
    );
    assert_eq!(
        cells(&table, "frontend", "east-us"),
        [
            "frontend",
            "dev",
            "east-us",
            "frontend-1001",
            "2c3d4e5 (later)",
            "just now or earlier",
            "1 newer: frontend-1002 (built 2 hours ago)"
        ],
        "east-us runs the backend's later commit: frontend-1001 is still live there"
    );
    assert_eq!(cells(&table, "frontend", "central-us")[3], "frontend-1002");
    assert_eq!(cells(&table, "frontend", "central-us")[6], "up to date");
    assert_eq!(cells(&table, "backend", "east-us")[4], "2c3d4e5");
    assert_eq!(cells(&table, "backend", "central-us")[4], "7d8e9f0 (later)");
    assert!(
        !table.contains("backend   dev   west-us"),
        "west-us runs a commit before the backend's:\n{table}"
    );

    let json: Value = serde_json::from_str(&ok(&spektate(
        &store,
        &[
            "status",
            "-o",
            "json",
            "--cluster",
            "EAST-US",
            "-s",
            "frontend",
        ],
    )))
    .unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{json:#}");
    let row = &rows[0];
    assert_eq!(row["service"], "frontend");
    assert_eq!(row["ring"], "dev");
    assert_eq!(row["cluster"], "east-us");
    assert_eq!(row["imageTag"], "frontend-1001");
    assert_eq!(row["commit"], M2);
    assert_eq!(row["exact"], false);
    assert!(row["since"].as_str().unwrap().starts_with("20"), "{row}");
    assert_eq!(row["behind"]["images"], 1);
    assert_eq!(row["behind"]["newestTag"], "frontend-1002");
    let built = row["behind"]["newestBuiltAt"].as_str().unwrap();
    let built = chrono::DateTime::parse_from_rfc3339(built).unwrap();
    let age = Utc::now() - built.with_timezone(&Utc);
    assert!(
        (Duration::minutes(119)..Duration::minutes(125)).contains(&age),
        "{age}"
    );

    let tagged = ok(&spektate(
        &store,
        &["status", "--image-tag", "frontend-1002"],
    ));
    assert_eq!(tagged.lines().count(), 2, "{tagged}");
    assert!(tagged.contains("central-us"), "{tagged}");
    let none = ok(&spektate(&store, &["status", "--ring", "prod"]));
    assert!(none.starts_with("No service is live"), "{none}");

    let bad = spektate(&store, &["status", "-o", "wide"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--output") && err.contains("'wide'") && err.contains("normal, json"),
        "{err}"
    );
}
