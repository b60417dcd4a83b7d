//! `spektate get --include-expired`: deployments whose runs Azure DevOps no longer has are
//! hidden by default and shown, marked expired, from what the store kept of their runs.
//!
//! A tracker over the SQLite store (as `spektate serve` runs one) learns builds 1, 2 and 3
//! and keeps them in the store; then retention deletes builds 1 and 2, and the real binary
//! reads the same store.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::{Value, json};
use spektate_azdo::AzureDevOps;
use spektate_core::http::Secret;
use spektate_core::{Filter, RecordStore, SqliteStore, Tracker};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn sha(id: u64) -> String {
    format!("{id:040x}")
}

/// A completed build as `GET _apis/build/builds` lists it.
fn build(uri: &str, id: u64) -> Value {
    json!({
        "_links": {"web": {"href": format!("{uri}/fabrikam/hello/_build/results?buildId={id}")}},
        "id": id, "buildNumber": format!("20260302.{id}"),
        "status": "completed", "result": "succeeded",
        "queueTime": format!("2026-03-0{id}T10:00:00Z"), "startTime": format!("2026-03-0{id}T10:01:00Z"),
        "finishTime": format!("2026-03-0{id}T10:07:00Z"),
        "lastChangedDate": format!("2026-03-0{id}T10:07:01Z"),
        "sourceBranch": "refs/heads/main", "sourceVersion": sha(id),
        "definition": {"name": "frontend"},
        "repository": {"type": "TfsGit", "name": "frontend", "url": format!("{uri}/fabrikam/hello/_git/frontend")}
    })
}

/// Azure DevOps listing the builds `ids` (and the commits' authors).
async fn serve_builds(server: &MockServer, ids: &[u64]) {
    let uri = server.uri();
    let builds: Vec<Value> = ids.iter().map(|&id| build(&uri, id)).collect();
    Mock::given(method("GET"))
        .and(path("/fabrikam/hello/_apis/build/builds"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"count": builds.len(), "value": builds})),
        )
        .mount(server)
        .await;
    let commits: Vec<Value> = (1..=3)
        .map(|id| {
            json!({
                "commitId": sha(id),
                "author": {"name": "Samiya Akhtar", "email": "saakhta@example.com", "date": "2026-03-01T09:00:00Z"},
                "committer": {"name": "Samiya Akhtar", "email": "saakhta@example.com", "date": "2026-03-01T09:00:00Z"},
                "comment": "Updated azure-pipelines.yml",
                "remoteUrl": format!("https://dev.azure.com/fabrikam/hello/_git/frontend/commit/{}", sha(id))
            })
        })
        .collect();
    Mock::given(method("POST"))
        .and(path(
            "/fabrikam/hello/_apis/git/repositories/frontend/commitsbatch",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"count": commits.len(), "value": commits})),
        )
        .mount(server)
        .await;
}

fn spektate(store: &Path, server: &MockServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(args)
        .args(["--org", "fabrikam", "--project", "hello"])
        .args(["--azdo-url", &server.uri()])
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env("SPEKTATE_AZDO_TOKEN", "pat-retention-0000")
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_CACHE")
        .output()
        .expect("run spektate")
}

fn json_of(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn get_hides_deployments_the_ci_forgot_and_include_expired_shows_what_was_kept() {
    let server = MockServer::start().await;
    serve_builds(&server, &[1, 2, 3]).await;
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("s.db");
    for id in 1..=3u64 {
        let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
            .args(["record", "--p1", &id.to_string()])
            .args(["--image-tag", &format!("frontend-{id}")])
            .args(["--service", "frontend", "--commit-id", &sha(id)])
            .env("SPEKTATE_STORE", format!("sqlite:{}", store_path.display()))
            .env("SPEKTATE_PARTITION_KEY", "fabrikam")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A tracker that writes to the store learns the three builds, and keeps them there.
    let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(&store_path).unwrap());
    let azdo = AzureDevOps::builder(format!("{}/fabrikam", server.uri()), "hello")
        .token(Secret::new("pat-retention-0000".to_string()))
        .build()
        .unwrap();
    let learned = Tracker::builder(store)
        .partition("fabrikam")
        .pipelines(Arc::new(azdo))
        .build()
        .deployments(&Filter::default())
        .await
        .unwrap();
    assert_eq!(learned.len(), 3);

    // Retention: Azure DevOps now lists build 3 only.
    server.reset().await;
    serve_builds(&server, &[3]).await;

    let shown = json_of(&spektate(
        &store_path,
        &server,
        &["get", "-o", "json", "--since", "all"],
    ));
    let tags: Vec<&str> = shown
        .iter()
        .map(|d| d["imageTag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["frontend-3"], "expired deployments are hidden");
    assert_eq!(shown[0]["expired"], false);

    let all = json_of(&spektate(
        &store_path,
        &server,
        &["get", "-o", "json", "--since", "all", "--include-expired"],
    ));
    assert_eq!(all.len(), 3);
    for id in [1, 2] {
        let d = all
            .iter()
            .find(|d| d["imageTag"] == format!("frontend-{id}"))
            .unwrap();
        assert_eq!(d["expired"], true, "frontend-{id}");
        assert_eq!(d["status"], "incomplete", "frontend-{id}: an image alone");
        let run = &d["image"]["run"];
        assert_eq!(d["image"]["state"], "succeeded", "frontend-{id}");
        assert_eq!(
            run["buildNumber"].as_str().or(run["number"].as_str()),
            Some(format!("20260302.{id}").as_str())
        );
        assert_eq!(run["finishedAt"], format!("2026-03-0{id}T10:07:00Z"));
        assert_eq!(
            d["durationSecs"],
            7 * 60,
            "frontend-{id}: from the kept run"
        );
    }

    let table = spektate(
        &store_path,
        &server,
        &["get", "--since", "all", "--include-expired"],
    );
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    let expired_rows = text.lines().filter(|l| l.contains("(expired)")).count();
    assert_eq!(expired_rows, 2, "{text}");
}
