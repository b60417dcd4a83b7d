//! The pipeline steps in `docs/pipelines/*.md` run as a new user would copy them: every
//! `spektate record` line of the documents, with the values GitHub Actions or Azure Pipelines
//! would put in, against a fresh SQLite store, and the records they leave must link up into
//! one journey per image and ring. A document that stops working fails this test.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn spektate() -> &'static Path {
    support::spektate_bin()
}

fn doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/pipelines")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fenced code blocks of a Markdown document.
fn blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

/// The `spektate record` commands of a block, continuation lines joined.
fn record_commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = block.lines();
    while let Some(line) = lines.next() {
        let Some(at) = line.find("spektate record") else {
            continue;
        };
        let mut cmd = line[at..].trim_end().to_string();
        while cmd.ends_with('\\') {
            cmd.pop();
            cmd.push(' ');
            cmd.push_str(lines.next().unwrap_or_default().trim());
        }
        out.push(cmd);
    }
    out
}

/// Replaces `${{ expr }}` (GitHub Actions) and `$(Name)` (Azure Pipelines) with what the CI
/// would put there; an expression the test does not know fails it, naming the expression.
fn substitute(cmd: &str, values: &HashMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = cmd;
    loop {
        let gh = rest.find("${{");
        let az = rest.find("$(");
        let (start, open, close) = match (gh, az) {
            (Some(g), Some(a)) if g < a => (g, "${{", "}}"),
            (Some(g), None) => (g, "${{", "}}"),
            (_, Some(a)) => (a, "$(", ")"),
            (None, None) => break,
        };
        let end = rest[start..]
            .find(close)
            .map(|e| start + e)
            .unwrap_or_else(|| panic!("unclosed {open} in: {cmd}"));
        let expr = rest[start + open.len()..end].trim();
        let value = values
            .get(expr)
            .unwrap_or_else(|| panic!("the test has no value for {open} {expr} {close} in: {cmd}"));
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + close.len()..];
    }
    out.push_str(rest);
    out
}

struct Store {
    _dir: tempfile::TempDir,
    spec: String,
}

impl Store {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let spec = format!("sqlite:{}", dir.path().join("spektate.db").display());
        Store { _dir: dir, spec }
    }

    /// Runs a documented command in `sh` as a CI step would, with `env` as the step's
    /// environment and the `spektate` binary on the PATH.
    fn run(&self, cmd: &str, env: &HashMap<&str, String>) {
        let bin_dir = spektate().parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("set -eu\n{cmd}"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PATH", path)
            .env("SPEKTATE_STORE", &self.spec)
            .env("SPEKTATE_PARTITION_KEY", "fabrikam")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "documented command failed: {cmd}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn deployments(&self) -> Vec<Value> {
        let out = Command::new(spektate())
            .args(["get", "-o", "json", "--store", &self.spec, "-p", "fabrikam"])
            .env_remove("SPEKTATE_GITHUB_TOKEN")
            .env_remove("SPEKTATE_GITHUB_URL")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "spektate get failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

fn sha(seed: &str) -> String {
    seed.bytes()
        .cycle()
        .take(40)
        .map(|b| char::from(b"0123456789abcdef"[usize::from(b) % 16]))
        .collect()
}

fn step_id(d: &Value, step: &str) -> Option<String> {
    d[step]["id"].as_str().map(str::to_string)
}

#[test]
fn the_github_actions_steps_record_one_linked_journey() {
    let store = Store::new();
    let (hld_branch_commit, manifest_commit) = (sha("hld-branch"), sha("manifest"));
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("IMAGE_TAG", "frontend-42".into());
    env.insert("HLD_COMMIT", hld_branch_commit.clone());
    env.insert("PR", "7".into());
    env.insert("MANIFEST_COMMIT", manifest_commit.clone());
    env.insert("RESULT", "succeeded".into());
    let mut ran = 0;
    let mut run_ids = Vec::new();
    for (i, block) in blocks(&doc("github-actions.md")).iter().enumerate() {
        let commands = record_commands(block);
        if commands.is_empty() {
            continue;
        }
        // Each workflow file is one run, in its own repository, on its own commit.
        let run_id = (9_700_000_000u64 + i as u64).to_string();
        let in_service = block.contains("--p1");
        let repository = if in_service {
            "fabrikam/frontend"
        } else {
            "fabrikam/hld"
        };
        let mut values: HashMap<&str, String> = HashMap::new();
        values.insert("github.run_id", run_id.clone());
        values.insert("github.sha", sha(&format!("commit-of-block-{i}")));
        values.insert("github.server_url", "https://github.com".into());
        values.insert("github.repository", repository.into());
        values.insert("github.ref_name", "main".into());
        values.insert("github.event.repository.name", "frontend".into());
        values.insert("github.run_number", "42".into());
        values.insert("job.status", "success".into());
        run_ids.push(run_id);
        for cmd in commands {
            store.run(&substitute(&cmd, &values), &env);
            ran += 1;
        }
    }
    assert!(ran >= 7, "the document lost its record steps ({ran} found)");

    let deployments = store.deployments();
    assert_eq!(
        deployments.len(),
        1,
        "one image to one ring is one journey: {deployments:#?}"
    );
    let d = &deployments[0];
    let (source_run, manifest_run) = (&run_ids[0], &run_ids[1]);
    assert_eq!(step_id(d, "image").as_ref(), Some(source_run));
    assert_eq!(
        step_id(d, "metadata").as_ref(),
        Some(source_run),
        "p2 is a job of the image workflow"
    );
    assert_eq!(
        step_id(d, "manifest").as_ref(),
        Some(manifest_run),
        "p3 found the record through the pull request"
    );
    assert_eq!(d["service"], "frontend");
    assert_eq!(d["ring"], "prod");
    assert_eq!(d["imageTag"], "frontend-42");
    assert_eq!(d["pr"], "7");
    assert_eq!(d["manifestCommitId"], manifest_commit.as_str());
    assert_eq!(
        d["image"]["state"], "succeeded",
        "the run reports tell the image run succeeded: {d:#}"
    );
    assert_eq!(
        d["status"], "complete",
        "the manifest run reported its success: {d:#}"
    );
    assert_eq!(d["clusters"][0]["cluster"], "prod-west");
    assert_eq!(d["sourceRepo"]["name"], "frontend");
}

#[test]
fn the_azure_pipelines_steps_record_linked_journeys() {
    let store = Store::new();
    let (hld_branch_commit, manifest_commit) = (sha("hld-branch"), sha("manifest"));
    let mut ran = 0;
    let mut build_ids = Vec::new();
    for (i, block) in blocks(&doc("azure-pipelines.md")).iter().enumerate() {
        let commands = record_commands(block);
        if commands.is_empty() {
            continue;
        }
        let build_id = (4_100 + i).to_string();
        let in_service = block.contains("--p1");
        let release = block.contains("Release.ReleaseId");
        let mut values: HashMap<&str, String> = HashMap::new();
        values.insert("Build.BuildId", build_id.clone());
        values.insert("Build.SourceVersion", sha(&format!("commit-of-block-{i}")));
        values.insert("Build.SourceBranchName", "main".into());
        let repo = if in_service { "frontend" } else { "hld" };
        values.insert(
            "Build.Repository.Uri",
            format!("https://dev.azure.com/fabrikam/fabrikam/_git/{repo}"),
        );
        values.insert(
            "System.CollectionUri",
            "https://dev.azure.com/fabrikam/".into(),
        );
        values.insert("System.TeamProject", "fabrikam".into());
        values.insert("Agent.JobStatus", "Succeeded".into());
        values.insert("Release.ReleaseId", "77".into());
        values.insert("Release.EnvironmentName", "staging".into());
        // Pipeline variables (and those set with task.setvariable) arrive as macros and as
        // environment variables alike.
        let mut env: HashMap<&str, String> = HashMap::new();
        env.insert("SERVICE", "frontend".into());
        env.insert("IMAGE_TAG", "frontend-4101".into());
        env.insert(
            "HLD_COMMIT",
            if release {
                sha("hld-staging")
            } else {
                hld_branch_commit.clone()
            },
        );
        env.insert("PR", if release { "8".into() } else { "7".into() });
        env.insert("MANIFEST_COMMIT", manifest_commit.clone());
        for (k, v) in &env {
            values.insert(k, v.clone());
        }
        build_ids.push(build_id);
        for cmd in commands {
            store.run(&substitute(&cmd, &values), &env);
            ran += 1;
        }
    }
    assert!(ran >= 7, "the document lost its record steps ({ran} found)");

    let deployments = store.deployments();
    assert_eq!(
        deployments.len(),
        2,
        "prod through the multi-stage pipeline, staging through a release: {deployments:#?}"
    );
    let prod = deployments
        .iter()
        .find(|d| d["ring"] == "prod")
        .expect("a prod journey");
    let pipeline = &build_ids[0];
    assert_eq!(step_id(prod, "image").as_ref(), Some(pipeline));
    assert_eq!(step_id(prod, "metadata").as_ref(), Some(pipeline));
    assert!(
        step_id(prod, "manifest").is_some(),
        "p3 found the record through the pull request: {prod:#}"
    );
    assert_eq!(prod["manifestCommitId"], manifest_commit.as_str());
    assert_eq!(prod["image"]["state"], "succeeded");
    assert_eq!(prod["status"], "complete", "{prod:#}");
    assert_eq!(prod["clusters"][0]["cluster"], "prod-west");
    let staging = deployments
        .iter()
        .find(|d| d["ring"] == "staging")
        .expect("a staging journey");
    assert_eq!(step_id(staging, "metadata").as_deref(), Some("77"));
    assert_eq!(
        step_id(staging, "image").as_ref(),
        Some(pipeline),
        "the release carries the same image"
    );
}
