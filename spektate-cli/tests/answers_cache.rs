//! `spektate get --cache FILE`: a second call asks Azure DevOps only about what is not final.
//! The first call fetches 12 builds and their authors; the second reads the 11 completed
//! builds and the authors from the file, and asks only about the build still running.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BUILDS: u64 = 12;
const RUNNING: u64 = 12;

fn sha(id: u64) -> String {
    format!("{id:040x}")
}

/// A build as `GET _apis/build/builds` lists it.
fn build(uri: &str, id: u64) -> Value {
    let running = id == RUNNING;
    json!({
        "_links": {"web": {"href": format!("{uri}/fabrikam/hello/_build/results?buildId={id}")}},
        "id": id, "buildNumber": format!("20261129.{id}"),
        "status": if running { "inProgress" } else { "completed" },
        "result": if running { Value::Null } else { json!("succeeded") },
        "queueTime": format!("2026-11-29T10:{id:02}:00Z"), "startTime": format!("2026-11-29T10:{id:02}:10Z"),
        "finishTime": if running { Value::Null } else { json!(format!("2026-11-29T10:{id:02}:50Z")) },
        "lastChangedDate": format!("2026-11-29T10:{id:02}:51Z"),
        "sourceBranch": "refs/heads/main", "sourceVersion": sha(id),
        "definition": {"name": "frontend"},
        "repository": {"type": "TfsGit", "name": "frontend", "url": format!("{uri}/fabrikam/hello/_git/frontend")}
    })
}

/// A commit as the commits batch API returns it.
fn commit(id: &str) -> Value {
    json!({
        "commitId": id,
        "author": {"name": "Samiya Akhtar", "email": "saakhta@example.com", "date": "2026-11-29T09:00:00Z"},
        "committer": {"name": "Samiya Akhtar", "email": "saakhta@example.com", "date": "2026-11-29T09:00:00Z"},
        "comment": "Updated azure-pipelines.yml",
        "remoteUrl": format!("https://dev.azure.com/fabrikam/hello/_git/frontend/commit/{id}")
    })
}

async fn azure_devops() -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    let builds: Vec<Value> = (1..=BUILDS).map(|id| build(&uri, id)).collect();
    Mock::given(method("GET"))
        .and(path("/fabrikam/hello/_apis/build/builds"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"count": builds.len(), "value": builds})),
        )
        .mount(&server)
        .await;
    let commits: Vec<Value> = (1..=BUILDS).map(|id| commit(&sha(id))).collect();
    Mock::given(method("POST"))
        .and(path(
            "/fabrikam/hello/_apis/git/repositories/frontend/commitsbatch",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"count": commits.len(), "value": commits})),
        )
        .mount(&server)
        .await;
    server
}

fn get(store: &Path, cache: &Path, server: &MockServer) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["get", "-o", "json", "--since", "all", "--org", "fabrikam"])
        .args(["--project", "hello", "--azdo-url", &server.uri()])
        .args(["--cache", &cache.display().to_string()])
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env("SPEKTATE_AZDO_TOKEN", "pat-cache-0000")
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_CACHE")
        .output()
        .expect("run spektate")
}

/// The deployments `get -o json` printed, without what depends on the moment it ran (the
/// duration and ETA of a deployment still on its way).
fn shown(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut all = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    for d in &mut all {
        if let Some(d) = d.as_object_mut() {
            d.remove("durationSecs");
            d.remove("eta");
        }
    }
    all
}

#[tokio::test]
async fn a_second_get_with_the_cache_asks_only_about_the_running_build() {
    let server = azure_devops().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let cache = dir.path().join("cache").join("answers.sqlite");
    for id in 1..=BUILDS {
        let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
            .args(["record", "--p1", &id.to_string()])
            .args([
                "--image-tag",
                &format!("frontend-{id}"),
                "--service",
                "frontend",
            ])
            .args(["--commit-id", &sha(id)])
            .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
            .env("SPEKTATE_PARTITION_KEY", "fabrikam")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let first = shown(&get(&store, &cache, &server));
    let cold = server.received_requests().await.unwrap();
    let second = shown(&get(&store, &cache, &server));
    let all = server.received_requests().await.unwrap();
    let warm = &all[cold.len()..];

    assert_eq!(first.len() as u64, BUILDS);
    assert_eq!(first, second, "the second call shows the same deployments");
    let authors = second
        .iter()
        .filter(|d| d["author"]["name"] == "Samiya Akhtar")
        .count();
    assert_eq!(authors as u64, BUILDS, "every author is known");
    // Cold: the builds, then the authors of their commits.
    assert_eq!(cold.len(), 2, "{cold:?}");
    // Warm: only the build still running, by id.
    assert_eq!(warm.len(), 1, "{warm:?}");
    let asked = warm[0].url.query().unwrap_or_default().to_string();
    assert!(
        warm[0].url.path().ends_with("/_apis/build/builds"),
        "{asked}"
    );
    assert!(asked.contains(&format!("buildIds={RUNNING}")), "{asked}");
    assert!(
        !String::from_utf8_lossy(&std::fs::read(&cache).unwrap()).contains("pat-cache-0000"),
        "no token in the cache file"
    );

    // --no-cache asks about everything again.
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["get", "-o", "json", "--since", "all", "--org", "fabrikam"])
        .args([
            "--project",
            "hello",
            "--azdo-url",
            &server.uri(),
            "--no-cache",
        ])
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env("SPEKTATE_AZDO_TOKEN", "pat-cache-0000")
        .env("SPEKTATE_CACHE", cache.display().to_string())
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .output()
        .unwrap();
    assert_eq!(shown(&out), first);
    let after = server.received_requests().await.unwrap().len();
    assert_eq!(
        after - all.len(),
        cold.len(),
        "--no-cache asks as the first call did"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_cache_is_left_alone_with_one_warning() {
    let server = azure_devops().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args([
            "record",
            "--p1",
            "1",
            "--image-tag",
            "frontend-1",
            "--service",
            "frontend",
        ])
        .args(["--commit-id", &sha(1)])
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cache = dir.path().join("notes.txt");
    std::fs::write(&cache, "not a database, just some text that is long enough").unwrap();
    let out = get(&store, &cache, &server);
    assert_eq!(shown(&out).len(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
    assert!(err.contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&cache).unwrap(),
        "not a database, just some text that is long enough"
    );
}
