//! `spektate metrics` over journeys recorded with the times their pipelines reported.

use std::path::Path;
use std::process::{Command, Output};

fn spektate(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(args)
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env_remove("SPEKTATE_MANIFEST_REPO")
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

fn err(out: &Output) -> String {
    assert!(!out.status.success(), "should have failed");
    let e = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(e.trim_end().lines().count(), 1, "one line on stderr: {e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

/// A run report: `id` queued at `queued` and finished at `finished` (`HH:MM` on `day`).
fn run(db: &Path, id: &str, day: &str, queued: &str, finished: &str, result: &str) {
    ok(&spektate(
        db,
        &[
            "record",
            "run",
            "--id",
            id,
            "--status",
            "completed",
            "--result",
            result,
            "--queued-at",
            &format!("{day}T{queued}:00Z"),
            "--started-at",
            &format!("{day}T{queued}:30Z"),
            "--finished-at",
            &format!("{day}T{finished}:00Z"),
        ],
    ));
}

/// One journey of `service` to `ring`: p1, p2, p3 with the times given (`[queued, finished]`
/// each) and p3's result.
fn journey(
    db: &Path,
    n: u32,
    service: &str,
    ring: &str,
    day: &str,
    times: [[&str; 2]; 3],
    p3: &str,
) {
    let tag = format!("{service}-{n}");
    let (p1, p2, p3id) = (format!("1{n}"), format!("2{n}"), format!("3{n}"));
    let hld = format!("{n:07x}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    let manifest = format!("{n:07x}bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    ok(&spektate(
        db,
        &[
            "record",
            "--p1",
            &p1,
            "--image-tag",
            &tag,
            "--commit-id",
            &format!("{n:07x}ccccccccccccccccccccccccccccccccc"),
            "--service",
            &format!("fabrikam/{service}"),
        ],
    ));
    run(db, &p1, day, times[0][0], times[0][1], "succeeded");
    ok(&spektate(
        db,
        &[
            "record",
            "--p2",
            &p2,
            "--image-tag",
            &tag,
            "--hld-commit-id",
            &hld,
            "--env",
            ring,
            "--service",
            &format!("fabrikam/{service}"),
        ],
    ));
    run(db, &p2, day, times[1][0], times[1][1], "succeeded");
    ok(&spektate(
        db,
        &[
            "record",
            "--p3",
            &p3id,
            "--hld-commit-id",
            &hld,
            "--manifest-commit-id",
            &manifest,
        ],
    ));
    run(db, &p3id, day, times[2][0], times[2][1], p3);
}

/// Frontend to prod: #1 09:00 to 09:21 (lead 21 min), #2 fails at 10:20, #3 11:00 to 11:30
/// (lead 30, restores #2 after 70 min); backend to dev the next day: 09:00 to 09:20 (20).
fn history(db: &Path) {
    let d1 = "2026-11-02";
    journey(
        db,
        1,
        "frontend",
        "prod",
        d1,
        [["09:00", "09:10"], ["09:11", "09:15"], ["09:16", "09:21"]],
        "succeeded",
    );
    journey(
        db,
        2,
        "frontend",
        "prod",
        d1,
        [["10:00", "10:10"], ["10:11", "10:15"], ["10:16", "10:20"]],
        "failed",
    );
    journey(
        db,
        3,
        "frontend",
        "prod",
        d1,
        [["11:00", "11:10"], ["11:11", "11:15"], ["11:16", "11:30"]],
        "succeeded",
    );
    journey(
        db,
        4,
        "backend",
        "dev",
        "2026-11-03",
        [["09:00", "09:08"], ["09:09", "09:12"], ["09:13", "09:20"]],
        "succeeded",
    );
}

#[test]
fn metrics_of_a_recorded_week_as_json_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    history(&db);
    let window = ["metrics", "--since", "2026-11-02", "--until", "2026-11-09"];

    let json: serde_json::Value = serde_json::from_str(&ok(&spektate(
        &db,
        &[&window[..], &["-o", "json"]].concat(),
    )))
    .unwrap();
    let f = &json["overall"];
    // Three completed in seven days.
    assert_eq!(f["deploymentFrequency"]["completed"], 3);
    assert_eq!(f["deploymentFrequency"]["days"], 7.0);
    assert_eq!(f["deploymentFrequency"]["perWeek"], 3.0);
    assert_eq!(f["deploymentFrequency"]["band"], "high");
    // Leads 20, 21, 30 min, no cluster reporting: median 21, p90 30.
    assert_eq!(f["leadTime"]["count"], 3);
    assert_eq!(f["leadTime"]["live"], 0);
    assert_eq!(f["leadTime"]["medianSecs"], 21 * 60);
    assert_eq!(f["leadTime"]["p90Secs"], 30 * 60);
    assert_eq!(f["leadTime"]["band"], "elite");
    // Image 10 + 10 + 8 = 28 of 71 min.
    let image = f["leadTime"]["shares"]["image"].as_f64().unwrap();
    assert!((image - 28.0 / 71.0).abs() < 1e-9, "{image}");
    // One failure in four finished.
    assert_eq!(f["changeFailureRate"]["failed"], 1);
    assert_eq!(f["changeFailureRate"]["finished"], 4);
    assert_eq!(f["changeFailureRate"]["rate"], 0.25);
    assert_eq!(f["changeFailureRate"]["band"], "low");
    // #2 failed at 10:20, #3 completed at 11:30.
    assert_eq!(f["timeToRestore"]["restorations"], 1);
    assert_eq!(f["timeToRestore"]["medianSecs"], 70 * 60);
    assert_eq!(f["timeToRestore"]["band"], "high");
    assert!(
        json["leadTimeFrom"]
            .as_str()
            .unwrap()
            .contains("queue time")
    );

    let table = ok(&spektate(
        &db,
        &[&window[..], &["--by", "service"]].concat(),
    ));
    for line in [
        "DORA metrics from 2026-11-02 00:00 to 2026-11-09 00:00 (7.0 days)",
        "Lead time starts at the source commit's time, as its repository provider gives it; \
         the image pipeline's queue time where the commit's time is unknown (0 of 3 from the commit).",
        "0.43/day, 3.0/week (3)",
        "21m 0s (p90 30m 0s; 3 changes, 0 live)",
        "25.0% (1 of 4)",
        "1h 10m (1 restored, 0 open)",
        "Lead time by segment: commit to image pipeline 0.0%, image 39.4%",
        "change failure rate: elite <= 5%",
    ] {
        assert!(table.contains(line), "{line} missing in:\n{table}");
    }
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("backend") || l.starts_with("frontend"))
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows[0].contains("0.14/day") && rows[0].contains("0.0% (0 of 1)"),
        "{}",
        rows[0]
    );
    assert!(rows[1].contains("33.3% (1 of 3)"), "{}", rows[1]);

    // The filters of `get`: only backend.
    let json: serde_json::Value = serde_json::from_str(&ok(&spektate(
        &db,
        &[&window[..], &["-s", "backend", "-o", "json"]].concat(),
    )))
    .unwrap();
    assert_eq!(json["overall"]["deploymentFrequency"]["completed"], 1);
    assert_eq!(json["overall"]["leadTime"]["medianSecs"], 20 * 60);
}

#[test]
fn bad_metrics_flags_are_refused_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    history(&db);
    let e = String::from_utf8(spektate(&db, &["metrics", "--by", "team"]).stderr).unwrap();
    assert!(
        e.contains("'team'") && e.contains("service, ring, week"),
        "{e}"
    );
    let e = err(&spektate(&db, &["metrics", "-o", "wide"]));
    assert!(e.contains("--output") && e.contains("'wide'"), "{e}");
    let e = err(&spektate(
        &db,
        &["metrics", "--since", "2026-11-09", "--until", "2026-11-02"],
    ));
    assert!(e.contains("--until") && e.contains("2026-11-02"), "{e}");
    let e = String::from_utf8(spektate(&db, &["metrics", "--until", "next week"]).stderr).unwrap();
    assert!(e.contains("'next week'"), "{e}");
    let e = err(&spektate(&db, &["metrics", "--kind", "image"]));
    assert_eq!(
        e.trim(),
        "spektate: invalid --kind: 'image' is not one of deployment, manual-hld-edit"
    );
}
