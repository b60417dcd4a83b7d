//! `spektate prune`: only runs the CI says are gone are pruned, never a whole partition by
//! mistake.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn build(id: u64) -> Value {
    json!({
        "_links": {"web": {"href": format!("https://dev.azure.com/fabrikam/hello/_build/results?buildId={id}")}},
        "id": id, "buildNumber": format!("20261129.{id}"), "status": "completed", "result": "succeeded",
        "queueTime": "2026-11-29T10:00:00Z", "startTime": "2026-11-29T10:00:10Z", "finishTime": "2026-11-29T10:05:00Z",
        "lastChangedDate": "2026-11-29T10:05:01Z", "sourceBranch": "refs/heads/main", "sourceVersion": format!("{id:040}"),
        "definition": {"name": "frontend"},
        "repository": {"type": "TfsGit", "name": "frontend", "url": "https://dev.azure.com/fabrikam/hello/_git/frontend"}
    })
}

/// Azure DevOps whose project `hello` still has builds 1 to 3 (4 and 5 expired), and whose
/// project `other` has none of them.
async fn azure_devops() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/fabrikam/hello/_apis/build/builds"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"count": 3, "value": [build(1), build(2), build(3)]})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/fabrikam/other/_apis/build/builds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 0, "value": []})))
        .mount(&server)
        .await;
    server
}

fn spektate(store: &Path, server: &MockServer, project: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .arg("prune")
        .args([
            "--org",
            "fabrikam",
            "--project",
            project,
            "--azdo-url",
            &server.uri(),
        ])
        .args(args)
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env("SPEKTATE_AZDO_TOKEN", "pat-prune-0000")
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .output()
        .expect("run spektate")
}

fn records(store: &Path) -> usize {
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args([
            "get",
            "-o",
            "json",
            "--store",
            &format!("sqlite:{}", store.display()),
        ])
        .args(["-p", "fabrikam"])
        .env_remove("SPEKTATE_AZDO_TOKEN")
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn prune_lists_first_needs_force_above_a_fifth_and_never_trusts_an_empty_project() {
    let server = azure_devops().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    for id in 1..=5 {
        let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
            .args([
                "record",
                "--p1",
                &id.to_string(),
                "--image-tag",
                &format!("frontend-{id}"),
            ])
            .args(["--commit-id", &format!("{id:040}"), "--service", "frontend"])
            .env("SPEKTATE_STORE", format!("sqlite:{}", db.display()))
            .env("SPEKTATE_PARTITION_KEY", "fabrikam")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(records(&db), 5);

    // A project that sees none of the runs proves nothing: nothing is expired.
    let out = spektate(&db, &server, "other", &["--force"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("deleted 0 of 5"), "{text}");
    assert_eq!(records(&db), 5);

    let out = spektate(&db, &server, "hello", &["--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("frontend-4") && text.contains("frontend-5"),
        "{text}"
    );
    assert!(!text.contains("frontend-1 "), "{text}");
    assert!(text.contains("would delete 2 of 5"), "{text}");
    assert_eq!(records(&db), 5, "a dry run deletes nothing");

    let out = spektate(&db, &server, "hello", &[]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("--force") && e.contains("40%"),
        "{e}"
    );
    assert_eq!(records(&db), 5);

    let out = spektate(&db, &server, "hello", &["--force"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("deleted 2 of 5"), "{text}");
    assert_eq!(records(&db), 3);

    // No time for the providers is refused, as `get` refuses it, before anything is read.
    let out = spektate(&db, &server, "hello", &["--force", "--timeout", "0"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("--timeout") && e.contains("0 leaves no time"),
        "{e}"
    );
    assert_eq!(records(&db), 3);
}
