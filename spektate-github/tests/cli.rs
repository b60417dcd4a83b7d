//! `spektate get` against a GitHub Enterprise Server (the fake one), end to end: the records a
//! pipeline writes with `spektate record`, joined with workflow runs, authors, pull requests
//! and Flux tags read with the token from `SPEKTATE_GITHUB_TOKEN`.

mod support;

use chrono::{Duration, Utc};
use serde_json::Value;
use support::{
    FakeGitHub, RunSpec, TOKEN, commit, git_ref, pull, sha_of, spektate_bin, tag_object,
};
use tokio::process::Command;

struct Cli {
    _dir: tempfile::TempDir,
    store: String,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite:{}", dir.path().join("spektate.db").display());
        Cli { _dir: dir, store }
    }

    async fn run(&self, args: &[&str], token: Option<&str>) -> (bool, String, String) {
        let mut cmd = Command::new(spektate_bin());
        cmd.args(args)
            .env("SPEKTATE_STORE", &self.store)
            .env("SPEKTATE_PARTITION_KEY", "fabrikam")
            .env_remove("SPEKTATE_GITHUB_URL")
            .env_remove("SPEKTATE_MANIFEST_REPO");
        match token {
            Some(t) => cmd.env("SPEKTATE_GITHUB_TOKEN", t),
            None => cmd.env_remove("SPEKTATE_GITHUB_TOKEN"),
        };
        let out = cmd.output().await.unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        (out.status.success(), stdout, stderr)
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args, None).await;
        assert!(ok, "spektate {args:?} failed: {stderr}");
        stdout
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spektate_get_traces_a_github_enterprise_journey() {
    let gh = FakeGitHub::start().await;
    // Repositories of this Enterprise server are named by its host, as its users' URLs are.
    let host = gh.server.uri();
    let url = |full: &str| format!("{host}/{full}");
    let t = Utc::now() - Duration::hours(1);
    let (source_commit, hld_commit, manifest_commit) =
        (sha_of("src"), sha_of("hld-branch"), sha_of("manifests"));
    let (p1, p3) = (9_800_000_001u64, 9_800_000_007u64);
    {
        let mut w = gh.world();
        for r in ["fabrikam/frontend", "fabrikam/hld", "fabrikam/manifests"] {
            w.repos.insert(r.into());
        }
        let mut image = RunSpec::new("fabrikam/frontend", p1, 12, t);
        image.head_sha = source_commit.clone();
        w.runs
            .insert(("fabrikam/frontend".into(), p1), image.json());
        let mut manifests = RunSpec::new("fabrikam/hld", p3, 3, t + Duration::minutes(15));
        manifests.workflow = "generate-manifests".into();
        w.runs.insert(("fabrikam/hld".into(), p3), manifests.json());
        w.commits.insert(
            ("fabrikam/frontend".into(), source_commit.clone()),
            commit(
                "fabrikam/frontend",
                &source_commit,
                "Mona Lisa",
                "mona@fabrikam.example",
                Some(("mona", 42)),
                t,
            ),
        );
        w.pulls.insert(
            ("fabrikam/hld".into(), 7),
            pull(
                "fabrikam/hld",
                7,
                "Deploy frontend-12 to prod",
                "frontend-12-prod",
                Some("hubot"),
                t + Duration::minutes(12),
            ),
        );
        let tag = sha_of("tag-prod-west");
        w.tags.insert(
            ("fabrikam/manifests".into(), tag.clone()),
            tag_object(
                "fabrikam/manifests",
                &tag,
                "flux-prod-west",
                &manifest_commit,
                Utc::now(),
            ),
        );
        w.refs.insert(
            "fabrikam/manifests".into(),
            vec![git_ref("fabrikam/manifests", "flux-prod-west", &tag, "tag")],
        );
    }

    let cli = Cli::new();
    let (p1s, p3s) = (p1.to_string(), p3.to_string());
    let (frontend, hld, manifests) = (
        url("fabrikam/frontend"),
        url("fabrikam/hld"),
        url("fabrikam/manifests"),
    );
    cli.ok(&[
        "record",
        "--p1",
        &p1s,
        "--image-tag",
        "frontend-12",
        "--commit-id",
        &source_commit,
        "--service",
        "fabrikam/frontend",
        "--repository",
        &frontend,
    ])
    .await;
    cli.ok(&[
        "record",
        "--p2",
        &p1s,
        "--image-tag",
        "frontend-12",
        "--hld-commit-id",
        &hld_commit,
        "--env",
        "prod",
        "--pr",
        "7",
        "--repository",
        &hld,
    ])
    .await;
    cli.ok(&[
        "record",
        "--p3",
        &p3s,
        "--hld-commit-id",
        &sha_of("merge"),
        "--pr",
        "7",
    ])
    .await;
    cli.ok(&[
        "record",
        "--p3",
        &p3s,
        "--manifest-commit-id",
        &manifest_commit,
        "--repository",
        &manifests,
    ])
    .await;

    let (ok, stdout, stderr) = cli
        .run(
            &[
                "get",
                "-o",
                "json",
                "--github-url",
                &host,
                "--manifest-repo",
                &manifests,
            ],
            Some(TOKEN),
        )
        .await;
    assert!(ok, "{stderr}");
    let deployments: Vec<Value> =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(deployments.len(), 1, "{stdout}");
    let d = &deployments[0];
    assert_eq!(d["status"], "complete", "{d:#}");
    assert!(
        d["warnings"].as_array().is_none_or(|w| w.is_empty()),
        "{d:#}"
    );
    assert_eq!(d["image"]["run"]["number"], "#12");
    assert_eq!(
        d["image"]["run"]["url"],
        format!("https://github.com/fabrikam/frontend/actions/runs/{p1}")
    );
    assert_eq!(d["manifest"]["run"]["pipeline"], "generate-manifests");
    assert_eq!(d["author"]["login"], "mona");
    assert_eq!(d["pullRequest"]["title"], "Deploy frontend-12 to prod");
    assert_eq!(d["pullRequest"]["mergedBy"]["login"], "hubot");
    assert_eq!(d["clusters"][0]["cluster"], "prod-west");
    let served = gh.served();
    assert!(
        served.iter().any(|s| s.is_graphql())
            || served.iter().any(|s| s.path.contains("/commits/"))
    );
    assert!(served.len() <= 8, "{served:?}");

    // The table a person reads.
    let (ok, table, stderr) = cli
        .run(
            &[
                "get",
                "-o",
                "wide",
                "--github-url",
                &host,
                "--manifest-repo",
                &manifests,
            ],
            Some(TOKEN),
        )
        .await;
    assert!(ok, "{stderr}");
    for shown in [
        "Complete",
        "frontend",
        "prod",
        "frontend-12",
        "Mona Lisa",
        "hubot",
        "prod-west",
    ] {
        assert!(table.contains(shown), "{shown} missing from:\n{table}");
    }
    assert!(!table.contains(TOKEN) && !stderr.contains(TOKEN));

    // A wrong URL is refused, naming the flag and the value.
    let (ok, _, stderr) = cli
        .run(&["get", "--github-url", "ftp://github.example.com"], None)
        .await;
    assert!(!ok);
    assert!(
        stderr.contains("--github-url") && stderr.contains("'ftp://github.example.com'"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spektate_validate_checks_github_access_to_each_named_repository() {
    let gh = FakeGitHub::start().await;
    let host = gh.server.uri();
    gh.world().repos.insert("fabrikam/manifests".into());
    let cli = Cli::new();
    let readable = format!("{host}/fabrikam/manifests");
    let (ok, stdout, stderr) = cli
        .run(
            &[
                "validate",
                "--github-url",
                &host,
                "--manifest-repo",
                &readable,
            ],
            Some(TOKEN),
        )
        .await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("store: ok"), "{stdout}");
    assert!(
        stdout.contains("fabrikam/manifests: ok (repository readable)"),
        "{stdout}"
    );

    let hidden = format!("{host}/fabrikam/secret-hld");
    let (ok, stdout, stderr) = cli
        .run(
            &[
                "validate",
                "--github-url",
                &host,
                "--manifest-repo",
                &readable,
                "--hld-repo",
                &hidden,
            ],
            Some(TOKEN),
        )
        .await;
    assert!(!ok, "a repository the token cannot read fails validate");
    assert!(
        stdout.contains("fabrikam/secret-hld: failed")
            && stdout.contains("not visible to this token"),
        "{stdout}"
    );
    assert!(stderr.contains("1 of 4 checks failed"), "{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spektate_validate_checks_the_github_token_when_no_repository_is_named() {
    let gh = FakeGitHub::start().await;
    let host = gh.server.uri();
    let cli = Cli::new();
    let (ok, stdout, stderr) = cli
        .run(&["validate", "--github-url", &host], Some(TOKEN))
        .await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(": ok (token accepted; 4321 of 5000 requests left this hour)"),
        "{stdout}"
    );
    assert!(
        gh.served().iter().any(|s| s.path.ends_with("/rate_limit")),
        "the token was checked against the API"
    );

    let rejecting = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/api/v3/rate_limit"))
        .and(wiremock::matchers::header(
            "authorization",
            format!("Bearer {TOKEN}").as_str(),
        ))
        .respond_with(
            wiremock::ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401"
            })),
        )
        .mount(&rejecting)
        .await;
    let (ok, stdout, stderr) = cli
        .run(&["validate", "--github-url", &rejecting.uri()], Some(TOKEN))
        .await;
    assert!(!ok, "a rejected token fails validate");
    assert!(
        stdout.contains("failed")
            && stdout.contains("token was rejected (HTTP 401): Bad credentials"),
        "{stdout}"
    );
    assert!(stderr.contains("1 of 2 checks failed"), "{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
}
