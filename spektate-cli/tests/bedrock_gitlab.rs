//! The original dashboard's GitLab settings: `spektate dashboard` with only its variables
//! (`REACT_APP_STORAGE_*`, `REACT_APP_SOURCE_REPO_PROJECT_ID`, `REACT_APP_HLD_REPO_PROJECT_ID`,
//! `REACT_APP_MANIFEST_REPO_PROJECT_ID`, the access tokens) reads GitLab pipelines in the
//! projects those ids name, against a fake GitLab and the Azure table in Azurite. The
//! instance is the fake's (`SPEKTATE_GITLAB_URL`; the original read gitlab.com).

#[path = "../../spektate-azdo/tests/common/azurite.rs"]
#[allow(dead_code)]
mod azurite;
#[path = "../../spektate-gitlab/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use azurite::Azurite;
use chrono::{Duration, Utc};
use serde_json::Value;
use spektate_azdo::table::DEV_KEY;
use support::{FakeGitLab, TOKEN, commit, job, merge_request, pipeline, sha_of, tag};
use wiremock::MockServer;

const FRONTEND: &str = "fabrikam/web/frontend";
const HLD: &str = "fabrikam/platform/hld";
const MANIFESTS: &str = "fabrikam/platform/manifests";

/// The binary without Spektate's and the dashboard's variables.
fn spektate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SPEKTATE_") || k.starts_with("REACT_APP_") || k == "PORT" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// `deployment create` into the Azurite table `deployments`, partition `demo`.
fn create(az: &Azurite, home: &std::path::Path, args: &[&str]) {
    let out = spektate()
        .args([
            "deployment",
            "create",
            "-n",
            "devstoreaccount1",
            "-k",
            DEV_KEY,
        ])
        .args(["-t", "deployments", "-p", "demo", "--table-endpoint"])
        .arg(az.endpoint())
        .args(args)
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "create {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A GET over plain HTTP/1.1: status line and body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(StdDuration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// Stops the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn react_app_gitlab_project_ids_show_gitlab_pipelines_deployments() {
    let az = Azurite::start();
    let gl = FakeGitLab::start().await;
    // Another host a record names: nothing, and no token, may go there.
    let elsewhere = MockServer::start().await;
    let base = gl.url();
    let t = Utc::now() - Duration::hours(1);
    let (source, hld_commit, manifest) = (sha_of("src"), sha_of("hld"), sha_of("manifests"));
    let (p1, p2, p3) = (208_859_532u64, 208_859_611u64, 208_955_061u64);
    let (front_id, hld_id, manifests_id);
    {
        let mut w = gl.world();
        front_id = w.add_project(FRONTEND);
        hld_id = w.add_project(HLD);
        manifests_id = w.add_project(MANIFESTS);
        let image = pipeline(&base, FRONTEND, front_id, p1, 12, "success", &source, t);
        let update = pipeline(
            &base,
            FRONTEND,
            front_id,
            p2,
            13,
            "success",
            &source,
            t + Duration::minutes(6),
        );
        let pipelines = w.pipelines.entry(FRONTEND.into()).or_default();
        pipelines.insert(p1, image);
        pipelines.insert(p2, update);
        w.jobs.insert(
            p1,
            vec![job(&base, FRONTEND, 9001, p1, "build", "success", t)],
        );
        let generate = pipeline(
            &base,
            HLD,
            hld_id,
            p3,
            3,
            "failed",
            &hld_commit,
            t + Duration::minutes(15),
        );
        w.pipelines
            .entry(HLD.into())
            .or_default()
            .insert(p3, generate);
        let author = commit(
            &base,
            FRONTEND,
            &source,
            "Mona Lisa",
            "mona@fabrikam.example",
            Some("mona"),
            t,
        );
        w.commits.insert((FRONTEND.into(), source.clone()), author);
        let mr = merge_request(
            &base,
            HLD,
            7,
            "Deploy frontend-12 to dev",
            "frontend-12-dev",
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
            "flux-east-us",
            &manifest,
            true,
            Utc::now(),
        );
        w.tags.entry(MANIFESTS.into()).or_default().push(sync);
    }

    let home = tempfile::tempdir().unwrap();
    let (p1s, p2s, p3s) = (p1.to_string(), p2.to_string(), p3.to_string());
    // As the original's GitLab pipelines recorded: no repository URLs.
    create(
        &az,
        home.path(),
        &[
            "--p1",
            &p1s,
            "--image-tag",
            "frontend-12",
            "--commit-id",
            &source,
            "--service",
            "frontend",
        ],
    );
    create(
        &az,
        home.path(),
        &[
            "--p2",
            &p2s,
            "--image-tag",
            "frontend-12",
            "--hld-commit-id",
            &hld_commit,
            "--env",
            "dev",
            "--pr",
            "7",
        ],
    );
    create(
        &az,
        home.path(),
        &[
            "--p3",
            &p3s,
            "--hld-commit-id",
            &hld_commit,
            "--manifest-commit-id",
            &manifest,
        ],
    );
    // A pipeline of a repository on another host.
    let foreign = format!("{}/fabrikam/web/backend", elsewhere.uri());
    create(
        &az,
        home.path(),
        &[
            "--p1",
            "208859777",
            "--image-tag",
            "backend-3",
            "--commit-id",
            &sha_of("backend"),
            "--service",
            "backend",
            "--repository",
            &foreign,
        ],
    );

    let child = spektate()
        .arg("dashboard")
        .env("HOME", home.path())
        .env("REACT_APP_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
        .env("REACT_APP_STORAGE_ACCESS_KEY", DEV_KEY)
        .env("REACT_APP_STORAGE_TABLE_NAME", "deployments")
        .env("REACT_APP_STORAGE_PARTITION_KEY", "demo")
        .env("REACT_APP_SOURCE_REPO_PROJECT_ID", front_id.to_string())
        .env("REACT_APP_HLD_REPO_PROJECT_ID", hld_id.to_string())
        .env(
            "REACT_APP_MANIFEST_REPO_PROJECT_ID",
            manifests_id.to_string(),
        )
        .env("REACT_APP_PIPELINE_ACCESS_TOKEN", TOKEN)
        .env("REACT_APP_SOURCE_REPO_ACCESS_TOKEN", TOKEN)
        .env("REACT_APP_MANIFEST_ACCESS_TOKEN", TOKEN)
        .env("REACT_APP_CACHE_REFRESH_INTERVAL_IN_SEC", "1")
        .env("PORT", "0")
        .env("SPEKTATE_TABLE_ENDPOINT", az.endpoint())
        .env("SPEKTATE_GITLAB_URL", gl.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Server(child);
    let mut line = String::new();
    BufReader::new(running.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("partition demo"), "{line}");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split([' ', '/']).next())
        .unwrap()
        .to_string();
    let frontend = |body: &str| -> Option<Value> {
        let v: Value = serde_json::from_str(body).ok()?;
        let list = v.get("deployments").cloned().unwrap_or(v);
        list.as_array()?
            .iter()
            .find(|d| d.to_string().contains("frontend-12"))
            .cloned()
    };
    let mut body = String::new();
    for _ in 0..60 {
        let (status, b) = http_get(&addr, "/api/deployments");
        assert_eq!(status, "HTTP/1.1 200 OK", "{b}");
        body = b;
        let shown = frontend(&body).map(|d| d.to_string()).unwrap_or_default();
        if shown.contains("east-us") && shown.contains("Mona Lisa") && shown.contains("hubot") {
            break;
        }
        std::thread::sleep(StdDuration::from_millis(500));
    }
    let d = frontend(&body).unwrap_or_else(|| panic!("no frontend-12 deployment: {body}"));
    let shown = d.to_string();
    // p1 and p2 from the source project, p3 (failed) from the HLD project.
    for wanted in [
        format!("{FRONTEND}/-/pipelines/{p1}"),
        format!("{FRONTEND}/-/pipelines/{p2}"),
        format!("{HLD}/-/pipelines/{p3}"),
        "Mona Lisa".to_string(),
        "hubot".to_string(),
        "east-us".to_string(),
    ] {
        assert!(shown.contains(&wanted), "{wanted} not in {shown}");
    }
    assert!(
        shown.contains("failed") || shown.contains("Failed"),
        "{shown}"
    );
    assert!(!body.contains(TOKEN), "the token is never shown");

    let served = gl.served();
    let asked = |part: &str| served.iter().any(|s| s.path.contains(part));
    for part in [
        format!("/projects/{front_id}"),
        format!("/projects/{hld_id}"),
        format!("/projects/{manifests_id}"),
        "/pipelines".to_string(),
        "/repository/tags".to_string(),
    ] {
        assert!(asked(&part), "{part} never asked: {served:?}");
    }
    assert!(
        served.iter().all(|s| s.status != 401),
        "every request carried the token: {served:?}"
    );
    let foreign_requests = elsewhere.received_requests().await.unwrap_or_default();
    assert!(
        foreign_requests.is_empty(),
        "another host was asked: {foreign_requests:?}"
    );
    drop(running);
}
