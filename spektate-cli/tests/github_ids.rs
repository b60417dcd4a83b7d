//! What a bare recorded id names on GitHub: `spektate get` reads `--p1 4242` as workflow run
//! 4242 (`GET /repos/{owner}/{repo}/actions/runs/4242`) unless `--github-ids job` (or
//! `SPEKTATE_GITHUB_IDS=job`) says the pipelines recorded job ids, when it reads job 4242
//! (`GET /repos/{owner}/{repo}/actions/jobs/4242`) instead.

use std::process::Command;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ID: u64 = 4242;
const RUN_OF_JOB: u64 = 9_100_000_001;
const SHA: &str = "32b0b95f4ca771dee6808a17415d48790f62c6a9";

/// Workflow run 4242 of `repo`, still running, as `GET /repos/{owner}/{repo}/actions/runs/{id}`
/// answers.
fn workflow_run(repo: &str) -> Value {
    let api = format!("https://api.github.com/repos/{repo}");
    json!({
        "id": ID, "name": "build-and-deploy", "node_id": "WFR_kwLOA4242",
        "head_branch": "main", "head_sha": SHA, "path": ".github/workflows/build.yml",
        "display_title": "Deploy 32b0b95", "run_number": 17, "event": "push",
        "status": "in_progress", "conclusion": null, "workflow_id": 161335,
        "check_suite_id": 12726, "check_suite_node_id": "CS_kwDO12726",
        "url": format!("{api}/actions/runs/{ID}"),
        "html_url": format!("https://github.com/{repo}/actions/runs/{ID}"),
        "pull_requests": [], "created_at": "2026-11-26T10:00:00Z",
        "updated_at": "2026-11-26T10:02:00Z",
        "actor": user(), "triggering_actor": user(), "run_attempt": 1,
        "referenced_workflows": [], "run_started_at": "2026-11-26T10:00:20Z",
        "jobs_url": format!("{api}/actions/runs/{ID}/jobs"),
        "logs_url": format!("{api}/actions/runs/{ID}/logs"),
        "check_suite_url": format!("{api}/check-suites/12726"),
        "cancel_url": format!("{api}/actions/runs/{ID}/cancel"),
        "rerun_url": format!("{api}/actions/runs/{ID}/rerun"),
        "artifacts_url": format!("{api}/actions/runs/{ID}/artifacts"),
        "workflow_url": format!("{api}/actions/workflows/161335"),
        "head_commit": {"id": SHA, "tree_id": "a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3",
            "message": "Build", "timestamp": "2026-11-26T09:59:00Z",
            "author": {"name": "Mona Lisa", "email": "mona@example.com"},
            "committer": {"name": "GitHub", "email": "noreply@github.com"}},
        "repository": {"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
            "name": "frontend", "full_name": repo, "private": false, "owner": user(),
            "html_url": format!("https://github.com/{repo}"), "url": api}
    })
}

/// Job 4242 of `repo`, finished and failed, as `GET /repos/{owner}/{repo}/actions/jobs/{id}`
/// answers.
fn job(repo: &str) -> Value {
    let api = format!("https://api.github.com/repos/{repo}");
    json!({
        "id": ID, "run_id": RUN_OF_JOB, "run_attempt": 1, "node_id": "CR_kwDO4242",
        "head_sha": SHA, "head_branch": "main", "workflow_name": "build-and-deploy",
        "url": format!("{api}/actions/jobs/{ID}"),
        "html_url": format!("https://github.com/{repo}/actions/runs/{RUN_OF_JOB}/job/{ID}"),
        "run_url": format!("{api}/actions/runs/{RUN_OF_JOB}"),
        "status": "completed", "conclusion": "failure",
        "created_at": "2026-11-26T10:00:00Z", "started_at": "2026-11-26T10:00:05Z",
        "completed_at": "2026-11-26T10:03:05Z", "name": "Build",
        "steps": [{"name": "Set up job", "status": "completed", "conclusion": "success",
            "number": 1, "started_at": "2026-11-26T10:00:05Z",
            "completed_at": "2026-11-26T10:00:09Z"}],
        "check_run_url": format!("{api}/check-runs/{ID}"), "labels": ["ubuntu-latest"],
        "runner_id": 1, "runner_name": "GitHub Actions 1", "runner_group_id": 1,
        "runner_group_name": "GitHub Actions"
    })
}

/// `GET /repos/{owner}/{repo}` (`full-repository`, the fields that matter here).
fn repository(repo: &str) -> Value {
    let api = format!("https://api.github.com/repos/{repo}");
    json!({"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": "frontend",
        "full_name": repo, "private": true, "owner": user(),
        "html_url": format!("https://github.com/{repo}"), "description": null, "fork": false,
        "url": api, "default_branch": "main", "visibility": "private",
        "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-11-26T10:00:00Z",
        "pushed_at": "2026-11-26T09:59:00Z",
        "permissions": {"admin": false, "maintain": false, "push": false, "triage": false, "pull": true}})
}

fn user() -> Value {
    json!({"login": "octocat", "id": 1, "node_id": "MDQ6VXNlcjE=", "type": "User",
        "avatar_url": "https://github.com/images/error/octocat_happy.gif",
        "html_url": "https://github.com/octocat", "site_admin": false})
}

/// What one `spektate get` showed and what it asked the fake GitHub.
struct Seen {
    table: String,
    stderr: String,
    requests: Vec<String>,
}

/// Records `--p1 4242` of the fake GitHub Enterprise's `fabrikam/frontend`, then runs
/// `spektate get -o wide --github-url FAKE` with `args` and `envs` added. The fake holds the
/// repository, its commit, job 4242 and, when `run`, workflow run 4242; everything else is
/// a 404.
async fn get(run: bool, args: &[&str], envs: &[(&str, &str)]) -> Seen {
    let server = MockServer::start().await;
    let host = server.uri();
    let repo = "fabrikam/frontend";
    if run {
        Mock::given(method("GET"))
            .and(path(format!("/api/v3/repos/{repo}/actions/runs/{ID}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(workflow_run(repo)))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/repos/{repo}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(repository(repo)))
        .mount(&server)
        .await;
    let commit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spektate-github/tests/fixtures/author-response.json"
    ))
    .unwrap();
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/repos/{repo}/commits/{SHA}")))
        .respond_with(ResponseTemplate::new(200).set_body_string(commit))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/repos/{repo}/actions/jobs/{ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(job(repo)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("spektate.db").display());
    let command = |args: &[&str], envs: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SPEKTATE_") {
                cmd.env_remove(name);
            }
        }
        cmd.args(args)
            .env("SPEKTATE_STORE", &store)
            .env("SPEKTATE_PARTITION_KEY", "fabrikam")
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .envs(envs.iter().copied());
        cmd
    };
    let source = format!("{host}/{repo}");
    let id = ID.to_string();
    let record = command(
        &[
            "record",
            "--p1",
            &id,
            "--image-tag",
            "frontend-4242",
            "--commit-id",
            SHA,
            "--service",
            repo,
            "--repository",
            &source,
        ],
        &[],
    )
    .output()
    .unwrap();
    assert!(
        record.status.success(),
        "{}",
        String::from_utf8_lossy(&record.stderr)
    );

    let mut get = vec!["get", "-o", "wide", "--no-cache", "--github-url", &host];
    get.extend_from_slice(args);
    let mut envs = envs.to_vec();
    envs.push(("SPEKTATE_GITHUB_TOKEN", "ghp_test"));
    let mut cmd = command(&get, &envs);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let requests = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    Seen {
        table: String::from_utf8(out.stdout).unwrap(),
        stderr,
        requests,
    }
}

impl Seen {
    /// The requests for Actions runs and jobs, in the order the fake received them.
    fn actions(&self) -> Vec<&str> {
        self.requests
            .iter()
            .map(String::as_str)
            .filter(|r| r.contains("/actions/"))
            .collect()
    }

    /// The deployment's row, by column name.
    fn cell(&self, column: &str) -> &str {
        let lines: Vec<&str> = self.table.lines().collect();
        assert_eq!(lines.len(), 2, "one deployment: {}", self.table);
        let (header, row) = (cells(lines[0]), cells(lines[1]));
        assert_eq!(header.len(), row.len(), "{}", self.table);
        let at = header
            .iter()
            .position(|h| *h == column)
            .unwrap_or_else(|| panic!("no column {column}: {}", self.table));
        row[at]
    }

    fn no_warnings(&self) {
        assert!(
            !self.stderr.contains("warning"),
            "{}\n{}",
            self.stderr,
            self.table
        );
    }
}

/// The cells of a table line: columns are two spaces or more apart.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

const RUN: &str = "GET /api/v3/repos/fabrikam/frontend/actions/runs/4242";
const JOB: &str = "GET /api/v3/repos/fabrikam/frontend/actions/jobs/4242";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_recorded_id_is_a_workflow_run_unless_github_ids_says_job() {
    let run = get(true, &[], &[]).await;
    assert_eq!(run.actions(), [RUN], "{:?}", run.requests);
    run.no_warnings();
    assert_eq!(run.cell("Status"), "In Progress", "{}", run.table);
    assert_eq!(
        run.cell("Src to ACR"),
        "… #17",
        "the running workflow run, by its number: {}",
        run.table
    );
    assert_eq!(run.cell("Author"), "Edaena Salinas");

    for (how, job) in [
        (
            "--github-ids job",
            get(true, &["--github-ids", "job"], &[]).await,
        ),
        (
            "SPEKTATE_GITHUB_IDS=job",
            get(true, &[], &[("SPEKTATE_GITHUB_IDS", "job")]).await,
        ),
    ] {
        assert_eq!(job.actions(), [JOB], "{how}: {:?}", job.requests);
        job.no_warnings();
        assert_eq!(job.cell("Status"), "Failed", "{how}: {}", job.table);
        assert_eq!(
            job.cell("Src to ACR"),
            "✗ 4242",
            "{how}: the failed job: {}",
            job.table
        );
        assert_eq!(job.cell("Duration"), "3m 5s", "{how}: {}", job.table);
        assert_eq!(job.cell("Start Time"), "2026-11-26 10:00:00");
    }
}

/// `get`'s default is `run`, not the `auto` of bedrock's `deployment get`: an id the
/// repository has no run of is not asked for as a job, but a warning names the flag that
/// reads job ids, where `--github-ids auto` asks, after the run, with one more request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_id_with_no_run_is_asked_as_a_job_only_under_github_ids_auto() {
    let run = get(false, &[], &[]).await;
    assert_eq!(run.actions(), [RUN], "{:?}", run.requests);
    assert_eq!(run.cell("Status"), "Incomplete", "{}", run.table);
    assert_eq!(run.cell("Src to ACR"), "? 4242", "{}", run.table);
    // Whoever recorded job ids learns which flag reads them, in the one warning of the run.
    let warnings: Vec<&str> = (run.stderr.lines())
        .filter_map(|l| l.strip_prefix("warning: github-actions 127.0.0.1:"))
        .map(|l| l.split_once(": ").map_or(l, |(_port, rest)| rest))
        .collect();
    assert_eq!(
        warnings,
        [
            "1 run: not found, nor any other run asked for: if the pipelines recorded job ids, \
             pass --github-ids job (auto tries both); else check the project and the token"
        ],
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.matches("warning:").count(), 1, "{}", run.stderr);

    let auto = get(false, &["--github-ids", "auto"], &[]).await;
    assert_eq!(auto.actions(), [RUN, JOB], "{:?}", auto.requests);
    auto.no_warnings();
    assert_eq!(auto.cell("Status"), "Failed", "{}", auto.table);
    assert_eq!(auto.cell("Src to ACR"), "✗ 4242", "{}", auto.table);
}
