//! `spektate get --cache FILE`: a second call asks Azure DevOps only about what is not final.
//! The first call fetches 12 builds and their authors; the second reads the 11 completed
//! builds and the authors from the file, and asks only about the build still running.
//! Against GitHub, a second call revalidates the list pages the first fetched (`304`s) and
//! asks no tag object again; a call with another token uses none of those pages.

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

// ---------------------------------------------------------------------------------------
// GitHub: list pages revalidated and tag objects reused by a second process.

/// The token of the first two `get`s, and another user's.
const TOKEN_A: &str = "ghp_cacheTokenA0123456789abcdefghijklmn";
const TOKEN_B: &str = "ghp_cacheTokenB0123456789abcdefghijklmn";
/// The flux tag object and the manifest commit it names.
const TAG_OBJECT: &str = "7d57f93bcb572c8cbb02fe7fd1c4d3f143746b1d";
const MANIFEST_COMMIT: &str = "57cb69b0594e45b5f3e2d5e505b42f5412349f76";
/// Five image builds of frontend; the newest still running.
const GH_RUNS: [u64; 5] = [9101, 9102, 9103, 9104, 9105];

/// One request as the fake GitHub answered it.
#[derive(Debug, Clone)]
struct Asked {
    path: String,
    status: u16,
    if_none_match: Option<String>,
    token: Option<String>,
}

/// A fake GitHub (Enterprise paths, `/api/v3`) answering GETs from a table of bodies by path,
/// each with a strong ETag of its body, and `304 Not Modified` to an `If-None-Match` naming it,
/// as GitHub's conditional requests do. GraphQL is not offered (answers 404), so everything
/// comes over REST.
#[derive(Clone)]
struct FakeGitHub {
    bodies: std::sync::Arc<std::collections::HashMap<String, Value>>,
    log: std::sync::Arc<std::sync::Mutex<Vec<Asked>>>,
}

impl wiremock::Respond for FakeGitHub {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let path = req.url.path().trim_start_matches("/api/v3").to_string();
        let (status, template) = match self.bodies.get(&path) {
            Some(body) if req.method.as_str() == "GET" => {
                let text = body.to_string();
                let etag = format!("\"{:016x}\"", fnv(text.as_bytes()));
                if header("if-none-match").as_deref() == Some(etag.as_str()) {
                    (
                        304,
                        ResponseTemplate::new(304).insert_header("etag", etag.as_str()),
                    )
                } else {
                    (
                        200,
                        ResponseTemplate::new(200)
                            .insert_header("etag", etag.as_str())
                            .insert_header("content-type", "application/json; charset=utf-8")
                            .set_body_string(text),
                    )
                }
            }
            _ => (
                404,
                ResponseTemplate::new(404).set_body_json(json!({
                    "message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest"
                })),
            ),
        };
        self.log.lock().unwrap().push(Asked {
            path: req.url.path().to_string(),
            status,
            if_none_match: header("if-none-match"),
            token: header("authorization"),
        });
        template
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn gh_user(login: &str) -> Value {
    json!({"login": login, "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
        "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4", "gravatar_id": "",
        "url": format!("https://api.github.com/users/{login}"), "html_url": format!("https://github.com/{login}"),
        "type": "User", "site_admin": false})
}

/// A workflow run as `GET /repos/{owner}/{repo}/actions/runs` lists it.
fn gh_run(id: u64) -> Value {
    let running = id == GH_RUNS[4];
    let minute = id - 9100;
    json!({
        "id": id, "name": "build-and-deploy", "node_id": format!("WFR_kwLOA{id}"),
        "head_branch": "main", "head_sha": sha(id), "path": ".github/workflows/build.yml",
        "display_title": "Build", "run_number": minute, "event": "push",
        "status": if running { "in_progress" } else { "completed" },
        "conclusion": if running { Value::Null } else { json!("success") },
        "workflow_id": 161335, "check_suite_id": id * 3,
        "url": format!("https://api.github.com/repos/fabrikam/frontend/actions/runs/{id}"),
        "html_url": format!("https://github.com/fabrikam/frontend/actions/runs/{id}"),
        "pull_requests": [],
        "created_at": format!("2026-11-29T10:{minute:02}:00Z"),
        "updated_at": format!("2026-11-29T10:{minute:02}:50Z"),
        "run_started_at": format!("2026-11-29T10:{minute:02}:10Z"),
        "actor": gh_user("octocat"), "triggering_actor": gh_user("octocat"), "run_attempt": 1,
        "repository": {"id": 1296269, "name": "frontend", "full_name": "fabrikam/frontend",
            "owner": gh_user("fabrikam"), "private": true,
            "html_url": "https://github.com/fabrikam/frontend", "url": "https://api.github.com/repos/fabrikam/frontend"}
    })
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../spektate-github/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

async fn fake_github() -> (MockServer, FakeGitHub) {
    let server = MockServer::start().await;
    let mut bodies = std::collections::HashMap::new();
    let runs: Vec<Value> = GH_RUNS.iter().rev().map(|&id| gh_run(id)).collect();
    bodies.insert(
        "/repos/fabrikam/frontend/actions/runs".to_string(),
        json!({"total_count": runs.len(), "workflow_runs": runs}),
    );
    for &id in &GH_RUNS {
        bodies.insert(
            format!("/repos/fabrikam/frontend/actions/runs/{id}"),
            gh_run(id),
        );
    }
    // Every build is of one commit, so its author is asked once.
    let mut author = fixture("author-response.json");
    author["sha"] = json!(sha(1));
    bodies.insert(
        format!("/repos/fabrikam/frontend/commits/{}", sha(1)),
        author,
    );
    let refs = fixture("sync-response.json");
    bodies.insert(
        "/repos/fabrikam/manifests/git/matching-refs/tags/flux-".to_string(),
        json!([refs[0]]),
    );
    bodies.insert(
        format!("/repos/fabrikam/manifests/git/tags/{TAG_OBJECT}"),
        fixture("sync-response-1.json"),
    );
    let fake = FakeGitHub {
        bodies: std::sync::Arc::new(bodies),
        log: Default::default(),
    };
    Mock::given(wiremock::matchers::any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn gh_get(store: &Path, cache: &Path, server: &MockServer, token: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["get", "-o", "json", "--since", "all"])
        .args(["--github-url", &server.uri()])
        .args(["--cache", &cache.display().to_string()])
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .env("SPEKTATE_GITHUB_TOKEN", token)
        .env(
            "SPEKTATE_MANIFEST_REPO",
            format!("{}/fabrikam/manifests", server.uri()),
        )
        .env_remove("SPEKTATE_GITHUB_URL")
        .env_remove("SPEKTATE_AZDO_TOKEN")
        .env_remove("SPEKTATE_CACHE")
        .output()
        .expect("run spektate")
}

#[tokio::test]
async fn a_second_get_revalidates_the_pages_the_first_fetched_and_asks_no_tag_object_again() {
    let (server, fake) = fake_github().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let cache = dir.path().join("answers.sqlite");
    let repo = format!("{}/fabrikam/frontend", server.uri());
    for id in GH_RUNS {
        let mut args = vec!["record".to_string(), "--p1".into(), id.to_string()];
        args.extend(["--image-tag".into(), format!("frontend-{id}")]);
        args.extend([
            "--commit-id".into(),
            sha(1),
            "--service".into(),
            "frontend".into(),
        ]);
        args.extend(["--repository".into(), repo.clone()]);
        let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
            .args(&args)
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
    // The newest build's manifests are the commit the flux tag marks.
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["record", "--p3", "9999", "--hld-commit-id", "abc1234"])
        .args(["--manifest-commit-id", MANIFEST_COMMIT])
        .env("SPEKTATE_STORE", format!("sqlite:{}", store.display()))
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let take = || std::mem::take(&mut *fake.log.lock().unwrap());

    let first = shown(&gh_get(&store, &cache, &server, TOKEN_A));
    let cold = take();
    let second = shown(&gh_get(&store, &cache, &server, TOKEN_A));
    let warm = take();
    println!("cold: {} requests {cold:#?}", cold.len());
    println!("second process: {} requests {warm:#?}", warm.len());

    assert_eq!(first, second, "the second call shows the same deployments");
    let synced = first
        .iter()
        .find(|d| d["manifestCommitId"] == MANIFEST_COMMIT)
        .expect("the manifest deployment");
    assert_eq!(synced["clusters"][0]["cluster"], "alaska", "{synced}");
    let list = "/api/v3/repos/fabrikam/frontend/actions/runs";
    let tag = format!("/api/v3/repos/fabrikam/manifests/git/tags/{TAG_OBJECT}");
    let refs = "/api/v3/repos/fabrikam/manifests/git/matching-refs/tags/flux-";
    assert!(
        cold.iter().any(|a| a.path == list && a.status == 200),
        "{cold:#?}"
    );
    assert!(cold.iter().any(|a| a.path == tag), "{cold:#?}");
    assert!(cold.iter().all(|a| a.if_none_match.is_none()), "{cold:#?}");

    // The second process: the run list and the tags revalidated (304s), no tag object asked.
    assert!(
        warm.iter().all(|a| a.path != tag),
        "a tag object asked again: {warm:#?}"
    );
    for path in [list, refs] {
        let asked: Vec<&Asked> = warm.iter().filter(|a| a.path == path).collect();
        assert_eq!(asked.len(), 1, "{path}: {warm:#?}");
        assert!(
            asked[0].if_none_match.is_some() && asked[0].status == 304,
            "{path} revalidated: {warm:#?}"
        );
    }
    // Besides the manifest repository's history, a GraphQL query (which has no ETag, and
    // which this fake does not offer), only revalidations.
    assert!(
        warm.iter()
            .filter(|a| a.path != "/api/graphql")
            .all(|a| a.status == 304),
        "only revalidations: {warm:#?}"
    );

    // Another token: no page of token A is used (nothing sent with If-None-Match), and it
    // sees the same deployments.
    let third = shown(&gh_get(&store, &cache, &server, TOKEN_B));
    let other = take();
    println!("token B: {} requests {other:#?}", other.len());
    assert_eq!(third, first);
    assert!(
        other.iter().all(|a| a.if_none_match.is_none()),
        "a page fetched with token A served to token B: {other:#?}"
    );
    // Token A's completed runs are answers that cannot change, so only the running one is
    // asked, by id, and the tags are listed afresh.
    let running = format!("{list}/{}", GH_RUNS[4]);
    for path in [running.as_str(), refs] {
        assert!(
            other.iter().any(|a| a.path == path && a.status == 200),
            "{path}: {other:#?}"
        );
    }
    assert!(
        other
            .iter()
            .all(|a| a.token.as_deref() == Some(&*format!("Bearer {TOKEN_B}"))),
        "{other:#?}"
    );
    let file = String::from_utf8_lossy(&std::fs::read(&cache).unwrap()).to_string();
    assert!(
        !file.contains(TOKEN_A) && !file.contains(TOKEN_B) && !file.contains("cacheToken"),
        "no token in the cache file"
    );
}
