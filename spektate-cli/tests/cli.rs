//! The `spektate` binary as pipelines and people use it.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

fn spektate(store: &Path, args: &[&str]) -> Output {
    spektate_os(store, &args.iter().map(OsStr::new).collect::<Vec<_>>())
}

fn spektate_os(store: &Path, args: &[&OsStr]) -> Output {
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
    assert!(
        !out.status.success(),
        "should have failed; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let e = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(e.trim_end().lines().count(), 1, "one line on stderr: {e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

#[test]
fn a_journey_recorded_step_by_step_reads_back_linked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let steps: &[&[&str]] = &[
        &[
            "record",
            "--p1",
            "101",
            "--image-tag",
            "frontend-101",
            "--commit-id",
            "a1b2c3d4e5f6",
            "--service",
            "fabrikam/frontend",
            "--repository",
            "https://github.com/fabrikam/frontend",
        ],
        &[
            "record",
            "run",
            "--id",
            "101",
            "--status",
            "completed",
            "--result",
            "succeeded",
            "--queued-at",
            "2026-11-26T10:00:00Z",
            "--finished-at",
            "2026-11-26T10:04:00Z",
        ],
        &[
            "record",
            "--p2",
            "201",
            "--image-tag",
            "frontend-101",
            "--hld-commit-id",
            "hld0001",
            "--env",
            "dev",
            "--pr",
            "41",
        ],
        &[
            "record",
            "--p2",
            "202",
            "--image-tag",
            "frontend-101",
            "--hld-commit-id",
            "hld0002",
            "--env",
            "prod",
            "--pr",
            "42",
        ],
        &[
            "record",
            "run",
            "--id",
            "201",
            "--status",
            "completed",
            "--queued-at",
            "2026-11-26T10:05:00Z",
            "--finished-at",
            "2026-11-26T10:06:00Z",
        ],
        &["record", "--p3", "301", "--hld-commit-id", "hld0001"],
        &[
            "record",
            "run",
            "--id",
            "301",
            "--status",
            "inProgress",
            "--queued-at",
            "2026-11-26T10:10:00Z",
        ],
        &[
            "record",
            "--p3",
            "301",
            "--manifest-commit-id",
            "man0001abcdef",
        ],
        &[
            "record",
            "sync",
            "--cluster",
            "east-us",
            "--commit",
            "man0001",
        ],
    ];
    let mut keys = Vec::new();
    for s in steps {
        keys.push(ok(&spektate(&db, s)).trim().to_string());
    }
    assert_eq!(keys[0].len(), 12, "record prints the row key");
    assert_eq!(keys[1], "101", "record run prints the run id");
    assert_eq!(keys[8], "east-us", "record sync prints the cluster");
    assert_eq!(keys[2], keys[0], "p2 dev updated the p1 record");
    assert_ne!(keys[3], keys[0], "p2 prod is a second record");

    let json = ok(&spektate(&db, &["get", "-o", "json"]));
    let ds: serde_json::Value =
        serde_json::from_str(&json).expect("stdout of -o json is clean JSON");
    let ds = ds.as_array().unwrap();
    assert_eq!(ds.len(), 2);
    let dev = ds.iter().find(|d| d["ring"] == "dev").unwrap();
    assert_eq!(dev["service"], "frontend");
    assert_eq!(dev["image"]["id"], "101");
    assert_eq!(dev["image"]["state"], "succeeded");
    assert_eq!(
        (
            &dev["image"]["run"]["queuedAt"],
            &dev["image"]["run"]["startedAt"],
            &dev["image"]["run"]["finishedAt"],
        ),
        (
            &serde_json::json!("2026-11-26T10:00:00Z"),
            &serde_json::json!("2026-11-26T10:00:00Z"),
            &serde_json::json!("2026-11-26T10:04:00Z"),
        ),
        "a backdated run without a start started when queued, not now after its finish"
    );
    assert_eq!(dev["metadata"]["id"], "201");
    assert_eq!(dev["manifest"]["id"], "301");
    assert_eq!(dev["manifest"]["state"], "inProgress");
    assert_eq!(dev["manifestCommitId"], "man0001abcdef");
    assert_eq!(dev["status"], "inProgress");
    assert_eq!(dev["clusters"][0]["cluster"], "east-us");
    assert_eq!(dev["pr"], "41");
    let prod = ds.iter().find(|d| d["ring"] == "prod").unwrap();
    assert_eq!(
        prod["image"]["id"], "101",
        "the second ring links the same image run"
    );
    assert_eq!(
        prod["metadata"]["state"], "unknown",
        "no report for 202 yet"
    );

    let table = ok(&spektate(&db, &["get", "--ring", "dev"]));
    assert!(
        table.lines().next().unwrap().contains("Src to ACR"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 2, "header + the dev row: {table}");
    assert!(
        table.contains("frontend-101") && table.contains("In Progress (synced)"),
        "{table}"
    );
    let wide = ok(&spektate(&db, &["get", "-o", "wide", "--top", "1"]));
    assert!(
        wide.lines().next().unwrap().starts_with("Start Time") && wide.contains("Cluster Sync"),
        "{wide}"
    );
    let none = ok(&spektate(&db, &["get", "--service", "backend"]));
    assert_eq!(none.trim(), "No deployments found.");
    let by_build = ok(&spektate(&db, &["get", "--build-id", "202", "-o", "json"]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&by_build)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn errors_are_one_clear_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let e = err(&spektate(
        &db,
        &["record", "--p1", "1", "--image-tag", "t", "--service", "s"],
    ));
    assert!(e.contains("--commit-id"), "a missing flag is named: {e}");
    let e = err(&spektate(
        &db,
        &[
            "record",
            "--p1",
            "",
            "--image-tag",
            "t",
            "--commit-id",
            "c",
            "--service",
            "s",
        ],
    ));
    assert!(e.contains("--p1") && e.contains("empty"), "{e}");
    let e = err(&spektate(&db, &["record", "--image-tag", "t"]));
    assert!(e.contains("--p1, --p2 or --p3"), "{e}");
    let e = err(&spektate(
        &db,
        &["record", "run", "--id", "1", "--status", "done"],
    ));
    assert!(e.contains("--status") && e.contains("'done'"), "{e}");
    let e = err(&spektate(
        &db,
        &[
            "record",
            "run",
            "--id",
            "1",
            "--status",
            "completed",
            "--finished-at",
            "yesterday",
        ],
    ));
    assert!(
        e.contains("--finished-at") && e.contains("'yesterday'"),
        "{e}"
    );
    let e = err(&spektate(
        &db,
        &[
            "record",
            "run",
            "--id",
            "1",
            "--status",
            "completed",
            "--started-at",
            "2026-11-26T10:05:00Z",
            "--finished-at",
            "2026-11-26T10:04:00Z",
        ],
    ));
    assert!(
        e.contains("--started-at")
            && e.contains("'2026-11-26T10:05:00Z' is after finished-at '2026-11-26T10:04:00Z'"),
        "{e}"
    );
    let e = err(&spektate(
        &db,
        &["record", "--p3", "9", "--manifest-commit-id", "abc"],
    ));
    assert!(e.contains("p3 '9'"), "{e}");
    ok(&spektate(
        &db,
        &[
            "record",
            "--p1",
            "1",
            "--image-tag",
            "t",
            "--commit-id",
            "c",
            "--service",
            "s",
        ],
    ));
    let e = err(&spektate(&db, &["get", "-o", "xml"]));
    assert!(
        e.contains("'xml'") && e.contains("normal, wide, json"),
        "valid outputs listed: {e}"
    );
    let missing = dir.path().join("nope").join("x.db");
    let e = err(&spektate(&missing, &["get"]));
    assert!(
        e.contains(&missing.display().to_string()),
        "the store path is named: {e}"
    );
    let e = err(&spektate(&db, &["get", "--store", "mongodb:localhost"]));
    assert!(e.contains("'mongodb'"), "{e}");
    let e = err(&spektate(&db, &["get", "--manifest-repo", "not-a-repo"]));
    assert!(
        e.contains("--manifest-repo") && e.contains("'not-a-repo'"),
        "{e}"
    );
    // A write token with no server to send it to: nothing is written anywhere.
    let recorded = [
        "record",
        "--p1",
        "2",
        "--image-tag",
        "t",
        "--commit-id",
        "c",
        "--service",
        "s",
    ];
    let elsewhere = dir.path().join("elsewhere.db");
    for server in [None, Some("")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
        cmd.args(recorded)
            .env("SPEKTATE_STORE", format!("sqlite:{}", elsewhere.display()))
            .env("SPEKTATE_PARTITION_KEY", "fabrikam")
            .env("SPEKTATE_TOKEN", "spk_write_0123");
        match server {
            Some(s) => cmd.env("SPEKTATE_SERVER", s),
            None => cmd.env_remove("SPEKTATE_SERVER"),
        };
        let e = err(&cmd.output().unwrap());
        assert!(
            e.contains("--server") && e.contains("SPEKTATE_TOKEN"),
            "{e}"
        );
        assert!(!e.contains("spk_write_0123"), "{e}");
        assert!(!elsewhere.exists(), "a record was written locally");
    }
    for blank in ["", "  "] {
        let e = err(&spektate(&db, &["get", "-p", blank]));
        assert!(e.contains("--partition-key") && e.contains("empty"), "{e}");
    }
    // A partition no store holds is refused by the flag's name, before any store opens.
    for (args, named) in [
        (&["get", "-p", "a/b"][..], "\"a/b\""),
        (&["record", "--p1", "1", "-p", "a#b"], "\"a#b\""),
    ] {
        let e = err(&spektate(&db, args));
        assert!(e.contains("--partition-key") && e.contains(named), "{e}");
    }
    // bedrock's own flags: a partition no store holds is named by its flag.
    let e = err(&spektate(
        &db,
        &["deployment", "get", "--partition-key", "a/b"],
    ));
    assert!(
        e.contains("--partition-key") && e.contains("\"a/b\""),
        "{e}"
    );
    // A deadline no clock holds is refused, not a crash.
    let huge = u64::MAX.to_string();
    for cmd in [&["get"][..], &["metrics"], &["deployment", "get"]] {
        let args: Vec<&str> = cmd.iter().copied().chain(["--timeout", &huge]).collect();
        let e = err(&spektate(&db, &args));
        assert!(
            e.contains("--timeout") && e.contains("more than a day"),
            "{cmd:?}: {e}"
        );
    }
}

#[test]
fn bad_input_is_an_error_or_a_faithful_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let huge = "x".repeat(100 * 1024);
    let e = err(&spektate(
        &db,
        &[
            "record",
            "--p1",
            "1",
            "--image-tag",
            &huge,
            "--commit-id",
            "c",
            "--service",
            "s",
        ],
    ));
    assert!(
        e.contains("--image-tag") && e.contains("102400 characters") && e.len() < 400,
        "{e}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bad = OsStr::from_bytes(b"tag-\xff\xfe");
        let out = spektate_os(
            &db,
            &[
                OsStr::new("record"),
                OsStr::new("--p1"),
                OsStr::new("1"),
                OsStr::new("--image-tag"),
                bad,
                OsStr::new("--commit-id"),
                OsStr::new("c"),
                OsStr::new("--service"),
                OsStr::new("s"),
            ],
        );
        assert!(!out.status.success());
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains("UTF-8") && !e.contains("panicked"), "{e}");
    }
    let quoted = "it's' or 'a' eq 'a";
    ok(&spektate(
        &db,
        &[
            "record",
            "--p1",
            "7",
            "--image-tag",
            quoted,
            "--commit-id",
            "c0ffee1",
            "--service",
            "line\nbreak",
        ],
    ));
    ok(&spektate(
        &db,
        &[
            "record",
            "--p1",
            "8",
            "--image-tag",
            "other",
            "--commit-id",
            "c0ffee2",
            "--service",
            "s",
        ],
    ));
    let json = ok(&spektate(
        &db,
        &["get", "--image-tag", quoted, "-o", "json"],
    ));
    let ds: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        ds.as_array().unwrap().len(),
        1,
        "the quote matched exactly one record"
    );
    assert_eq!(ds[0]["imageTag"], quoted);
    assert_eq!(ds[0]["service"], "line\nbreak");
    let table = ok(&spektate(&db, &["get"]));
    assert_eq!(
        table.lines().count(),
        3,
        "a newline in a value does not break the table: {table}"
    );
}

/// A GitHub Enterprise host that accepts connections and never answers (a listener that
/// holds every connection without writing a byte): `spektate get --timeout 1` comes back
/// within seconds with the deployment it knows from the store, and says on stderr, in one
/// line per provider and cause, what it could not look up.
#[test]
fn get_shows_what_it_has_when_a_provider_never_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().take(64) {
            match conn {
                Ok(c) => held.push(c),
                Err(_) => break,
            }
        }
        std::thread::park();
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let repo = format!("{host}/fabrikam/frontend");
    ok(&spektate(
        &db,
        &[
            "record",
            "--p1",
            "101",
            "--image-tag",
            "frontend-101",
            "--commit-id",
            "a1b2c3d4e5f6",
            "--service",
            "fabrikam/frontend",
            "--repository",
            &repo,
        ],
    ));
    ok(&spektate(
        &db,
        &[
            "record",
            "run",
            "--id",
            "101",
            "--status",
            "completed",
            "--result",
            "succeeded",
        ],
    ));

    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["get", "--timeout", "1", "--github-url", &host])
        .env("SPEKTATE_STORE", format!("sqlite:{}", db.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .env_remove("SPEKTATE_GITHUB_URL")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .output()
        .expect("run spektate");
    let took = started.elapsed();
    let table = ok(&out);
    assert!(
        took < std::time::Duration::from_secs(8),
        "took {took:?}: {table}"
    );
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("frontend-101") && row.contains("✓ 101"),
        "the deployment, with its run from the run report: {table}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let warnings: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        warnings.iter().all(|l| l.starts_with("warning: ")),
        "{stderr}"
    );
    assert!(
        warnings.iter().any(|l| l.contains("github")
            && l.contains("author of 1 commit")
            && l.contains("no answer within the 1 s deadline")),
        "{stderr}"
    );
    assert!(warnings.len() <= 3, "{stderr}");
}

/// A GitHub Enterprise server whose GraphQL endpoint fails: authors are fetched one request
/// each over REST instead, and `spektate get` says so once, with the number of commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_says_once_when_github_falls_back_from_graphql_to_rest() {
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/graphql"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let commit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spektate-github/tests/fixtures/author-response.json"
    ))
    .unwrap();
    Mock::given(method("GET"))
        .and(path_regex(
            "^/api/v3/repos/fabrikam/frontend/commits/[0-9a-f]+$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(commit))
        .mount(&server)
        .await;
    let host = server.uri();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    let repo = format!("{host}/fabrikam/frontend");
    for i in 1..=3 {
        let (p1, tag, sha) = (
            format!("10{i}"),
            format!("frontend-{i}"),
            format!("a1b2c3d{i}"),
        );
        ok(&spektate(
            &db,
            &[
                "record",
                "--p1",
                &p1,
                "--image-tag",
                &tag,
                "--commit-id",
                &sha,
                "--service",
                "fabrikam/frontend",
                "--repository",
                &repo,
            ],
        ));
        ok(&spektate(
            &db,
            &["record", "run", "--id", &p1, "--status", "inProgress"],
        ));
    }

    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["get", "-o", "wide", "--github-url", &host])
        .env("SPEKTATE_STORE", format!("sqlite:{}", db.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env("SPEKTATE_GITHUB_TOKEN", "ghp_test")
        .env_remove("SPEKTATE_GITHUB_URL")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .output()
        .expect("run spektate");
    let table = ok(&out);
    assert_eq!(
        table.matches("Edaena Salinas").count(),
        3,
        "every author, over REST: {table}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let fallback: Vec<&str> = stderr.lines().filter(|l| l.contains("GraphQL")).collect();
    assert_eq!(
        fallback,
        [format!(
            "warning: github {}: author of 3 commits: GraphQL failed (HTTP 502); asked one at a time over REST",
            host.trim_start_matches("http://")
        )],
        "{stderr}"
    );
}

#[test]
fn get_shows_the_last_90_days_unless_told_a_wider_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spektate.db");
    for n in ["1", "2"] {
        ok(&spektate(
            &db,
            &[
                "record",
                "--p1",
                n,
                "--image-tag",
                &format!("frontend-{n}"),
                "--commit-id",
                "a1b2c3d4",
                "--service",
                "fabrikam/frontend",
            ],
        ));
    }
    // Image 1 was last written a year before image 2.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE records SET timestamp = '2025-06-01T00:00:00Z' WHERE imageTag = 'frontend-1'",
            [],
        )
        .unwrap();
    let tags = |args: &[&str]| {
        let out = ok(&spektate(&db, &[&["get", "-o", "json"], args].concat()));
        let ds: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut tags: Vec<String> = ds
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["imageTag"].as_str().unwrap().to_string())
            .collect();
        tags.sort();
        tags
    };
    assert_eq!(tags(&[]), ["frontend-2"]);
    assert_eq!(tags(&["--since", "all"]), ["frontend-1", "frontend-2"]);
    assert_eq!(
        tags(&["--since", "2025-05-31"]),
        ["frontend-1", "frontend-2"]
    );
    assert_eq!(tags(&["--since", "2025-06-02"]), ["frontend-2"]);
    let out = spektate(&db, &["get", "--since", "last-year"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.stdout.is_empty(), "{e}");
    assert!(
        e.contains("--since") && e.contains("'last-year' is not"),
        "{e}"
    );
}

/// Every variable the command reads may hold a credential (a URL with user info, a key):
/// `--help` of every command names the variables and never shows their values.
#[test]
fn help_never_shows_the_value_of_a_variable() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = std::collections::BTreeSet::new();
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split("env = \"").skip(1) {
                names.insert(part.split('"').next().unwrap().to_string());
            }
        }
    }
    assert!(names.len() > 30, "{names:?}");
    let secret = "https://ci:s3cretPAT@example.com/o/p/_git/manifests";
    let commands: [&[&str]; 14] = [
        &["--help"],
        &["record", "--help"],
        &["record", "run", "--help"],
        &["get", "--help"],
        &["status", "--help"],
        &["dashboard", "--help"],
        &["validate", "--help"],
        &["prune", "--help"],
        &["serve", "--help"],
        &["token", "--help"],
        &["metrics", "--help"],
        &["deployment", "get", "--help"],
        &["deployment", "create", "--help"],
        &["deployment", "onboard", "--help"],
    ];
    for args in commands {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
        cmd.args(args);
        for name in &names {
            // Words and switches take a valid value; every other variable the secret.
            let value = match name.as_str() {
                "SPEKTATE_PARTITION_KEY" => "fabrikam",
                "SPEKTATE_TABLE_AUTH" => "key",
                "SPEKTATE_AUTH" => "none",
                "SPEKTATE_LOG_FORMAT" => "text",
                "SPEKTATE_GITHUB_IDS" => "run",
                "SPEKTATE_GITLAB_TOKEN_KIND" => "private",
                "SPEKTATE_OIDC" | "SPEKTATE_OTLP_SELF_TRACES" => "false",
                _ => secret,
            };
            cmd.env(name, value);
        }
        let out = cmd.output().unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("[env: SPEKTATE_"), "{args:?}: {shown}");
        assert!(
            !shown.contains("s3cretPAT"),
            "{args:?} shows a value: {shown}"
        );
        for name in &names {
            assert!(
                !shown.contains(&format!("{name}=")),
                "{args:?} shows {name}: {shown}"
            );
        }
    }
}
