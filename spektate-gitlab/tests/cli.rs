//! `spektate get` and `spektate validate` against a self-managed GitLab served under a path
//! (the fake one), end to end: the records a pipeline writes with `spektate record`, joined
//! with pipelines, stages, authors, merge requests and Flux tags read with the token from
//! `SPEKTATE_GITLAB_TOKEN`, which never shows.

mod support;

use chrono::{Duration, Utc};
use serde_json::Value;
use support::{FakeGitLab, TOKEN, commit, job, merge_request, pipeline, sha_of, spektate_bin, tag};
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
            .env("SPEKTATE_PARTITION_KEY", "fabrikam");
        for var in [
            "SPEKTATE_GITLAB_URL",
            "SPEKTATE_GITLAB_TOKEN_KIND",
            "SPEKTATE_GITLAB_PROJECT",
            "SPEKTATE_GITHUB_URL",
            "SPEKTATE_GITHUB_TOKEN",
            "SPEKTATE_MANIFEST_REPO",
            "SPEKTATE_AZDO_ORG",
        ] {
            cmd.env_remove(var);
        }
        match token {
            Some(t) => cmd.env("SPEKTATE_GITLAB_TOKEN", t),
            None => cmd.env_remove("SPEKTATE_GITLAB_TOKEN"),
        };
        let out = cmd.output().await.unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args, None).await;
        assert!(ok, "spektate {args:?} failed: {stderr}");
        stdout
    }
}

const FRONTEND: &str = "fabrikam/web/frontend";
const HLD: &str = "fabrikam/platform/hld";
const MANIFESTS: &str = "fabrikam/platform/manifests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spektate_get_traces_a_self_managed_gitlab_journey() {
    let gl = FakeGitLab::start_under("/gitlab").await;
    let base = gl.url();
    let t = Utc::now() - Duration::hours(1);
    let (source, hld_commit, manifest) = (sha_of("src"), sha_of("hld"), sha_of("manifests"));
    // p2 is a later stage of p1's pipeline, whose stages come from its jobs.
    let (p1, p3) = (208_859_532u64, 208_955_061u64);
    {
        let mut w = gl.world();
        let front = w.add_project(FRONTEND);
        let hld = w.add_project(HLD);
        w.add_project(MANIFESTS);
        let image = pipeline(&base, FRONTEND, front, p1, 12, "success", &source, t);
        w.pipelines
            .entry(FRONTEND.into())
            .or_default()
            .insert(p1, image);
        w.jobs.insert(
            p1,
            vec![
                job(&base, FRONTEND, 9001, p1, "build", "success", t),
                job(&base, FRONTEND, 9002, p1, "update-hld", "success", t),
            ],
        );
        let generate = pipeline(
            &base,
            HLD,
            hld,
            p3,
            3,
            "success",
            &hld_commit,
            t + Duration::minutes(15),
        );
        w.pipelines
            .entry(HLD.into())
            .or_default()
            .insert(p3, generate);
        let c = commit(
            &base,
            FRONTEND,
            &source,
            "Mona Lisa",
            "mona@fabrikam.example",
            Some("mona"),
            t,
        );
        w.commits.insert((FRONTEND.into(), source.clone()), c);
        let mr = merge_request(
            &base,
            HLD,
            7,
            "Deploy frontend-12 to prod",
            "frontend-12-prod",
            "merged",
            Some("hubot"),
            t + Duration::minutes(12),
        );
        w.merge_requests
            .entry(HLD.into())
            .or_default()
            .insert(7, mr);
        let sync = tag(
            &base,
            MANIFESTS,
            "flux-prod-west",
            &manifest,
            true,
            Utc::now(),
        );
        w.tags.entry(MANIFESTS.into()).or_default().push(sync);
    }

    let cli = Cli::new();
    let (p1s, p3s) = (p1.to_string(), p3.to_string());
    let (frontend, hld, manifests) = (
        gl.project_url(FRONTEND),
        gl.project_url(HLD),
        gl.project_url(MANIFESTS),
    );
    cli.ok(&[
        "record",
        "--p1",
        &p1s,
        "--image-tag",
        "frontend-12",
        "--commit-id",
        &source,
        "--service",
        "fabrikam/frontend",
        "--repository",
        &format!("{frontend}.git"),
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
        &hld_commit,
        "--pr",
        "7",
    ])
    .await;
    cli.ok(&[
        "record",
        "--p3",
        &p3s,
        "--manifest-commit-id",
        &manifest,
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
                "--gitlab-url",
                &base,
                "--hld-repo",
                &hld,
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
        format!("{base}/{FRONTEND}/-/pipelines/{p1}")
    );
    assert_eq!(d["author"]["login"], "mona");
    assert_eq!(d["pullRequest"]["title"], "Deploy frontend-12 to prod");
    assert_eq!(d["pullRequest"]["mergedBy"]["login"], "hubot");
    assert_eq!(d["clusters"][0]["cluster"], "prod-west");
    let served = gl.served();
    assert!(served.iter().all(|s| s.status != 401), "{served:?}");
    assert!(served.len() <= 10, "{served:?}");

    // The table a person reads.
    let (ok, table, stderr) = cli
        .run(
            &[
                "get",
                "-o",
                "wide",
                "--gitlab-url",
                &base,
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
        "hubot",
        "prod-west",
    ] {
        assert!(table.contains(shown), "{shown} missing from:\n{table}");
    }
    assert!(!table.contains(TOKEN) && !stderr.contains(TOKEN));

    // A wrong URL is refused, naming the flag and the value.
    let (ok, _, stderr) = cli
        .run(&["get", "--gitlab-url", "ftp://gitlab.example.com"], None)
        .await;
    assert!(!ok);
    assert!(
        stderr.contains("--gitlab-url") && stderr.contains("'ftp://gitlab.example.com'"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spektate_validate_checks_the_gitlab_token_and_each_project() {
    let gl = FakeGitLab::start_under("/gitlab").await;
    gl.world().add_project(MANIFESTS);
    let base = gl.url();
    let cli = Cli::new();
    let readable = gl.project_url(MANIFESTS);
    let (ok, stdout, stderr) = cli
        .run(
            &[
                "validate",
                "--gitlab-url",
                &base,
                "--manifest-repo",
                &readable,
            ],
            Some(TOKEN),
        )
        .await;
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("token accepted for @spektate-bot"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{MANIFESTS}: ok (project readable)")),
        "{stdout}"
    );

    let hidden = gl.project_url("fabrikam/platform/secret-hld");
    let (ok, stdout, _) = cli
        .run(
            &[
                "validate",
                "--gitlab-url",
                &base,
                "--manifest-repo",
                &readable,
                "--hld-repo",
                &hidden,
            ],
            Some(TOKEN),
        )
        .await;
    assert!(!ok, "a project the token cannot read fails validate");
    assert!(
        stdout.contains("secret-hld: failed") && stdout.contains("not visible to this token"),
        "{stdout}"
    );

    // A rejected token fails, and is never shown.
    let wrong = "glpat-wrong-token-never-shown";
    let (ok, stdout, stderr) = cli
        .run(&["validate", "--gitlab-url", &base], Some(wrong))
        .await;
    assert!(!ok, "a rejected token fails validate");
    assert!(
        stdout.contains("token was rejected (HTTP 401): 401 Unauthorized"),
        "{stdout}"
    );
    assert!(!stdout.contains(wrong) && !stderr.contains(wrong));
}

#[tokio::test]
async fn every_reading_command_takes_the_gitlab_flags() {
    let cli = Cli::new();
    for command in ["get", "dashboard", "serve", "validate"] {
        let (ok, help, stderr) = cli.run(&[command, "--help"], None).await;
        assert!(ok, "{stderr}");
        for flag in [
            "--gitlab\n",
            "--gitlab-url <URL>",
            "[env: SPEKTATE_GITLAB_URL]",
            "--gitlab-token-kind <private|oauth|job>",
            "--gitlab-project <PROJECT>",
            "SPEKTATE_GITLAB_TOKEN",
        ] {
            assert!(
                help.contains(flag),
                "{command} --help lacks {flag}:\n{help}"
            );
        }
    }
}
