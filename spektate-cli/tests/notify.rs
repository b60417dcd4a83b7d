//! `spektate serve`'s notification flags as a process: refused settings name the flag and
//! never the webhook's secret path; a journey recorded with `spektate record` reaches a Slack
//! webhook, a CDEvents sink and GitHub Deployments (a fake GitHub Enterprise API) with the
//! configured token, and a failing destination is logged without its URL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "T00000000/B00000000/XXXXsecretXXXX";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spektate"));
    for var in [
        "SPEKTATE_STORE",
        "SPEKTATE_PARTITION_KEY",
        "SPEKTATE_GITHUB_TOKEN",
        "SPEKTATE_GITHUB_URL",
        "SPEKTATE_MANIFEST_REPO",
        "SPEKTATE_TOKENS",
        "SPEKTATE_NOTIFY_WEBHOOK",
        "SPEKTATE_CDEVENTS_SINK",
        "SPEKTATE_PUBLIC_URL",
    ] {
        c.env_remove(var);
    }
    c
}

fn serve_fails(dir: &Path, args: &[&str]) -> String {
    let out = bin()
        .args(["serve", "--port", "0", "-p", "fabrikam", "--store"])
        .arg(format!("sqlite:{}", dir.join("s.db").display()))
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_notification_flags_are_refused_naming_the_flag_not_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = serve_fails(
        d,
        &[
            "--notify-webhook",
            &format!("discord:https://hooks.slack.com/services/{SECRET}"),
        ],
    );
    assert!(
        e.contains("--notify-webhook") && e.contains("'discord'") && !e.contains(SECRET),
        "{e}"
    );
    let e = serve_fails(
        d,
        &[
            "--notify-webhook",
            &format!("ftp://hooks.slack.com/services/{SECRET}"),
        ],
    );
    assert!(
        e.contains("--notify-webhook")
            && e.contains("ftp://hooks.slack.com/...")
            && !e.contains(SECRET),
        "{e}"
    );
    let e = serve_fails(d, &["--cdevents-sink", "cdevents.example"]);
    assert!(e.contains("--cdevents-sink"), "{e}");
    let e = serve_fails(
        d,
        &[
            "--notify-webhook",
            "json:http://127.0.0.1:9/h",
            "--notify-pr-wait",
            "4x",
        ],
    );
    assert!(e.contains("--notify-pr-wait") && e.contains("'4x'"), "{e}");
    let e = serve_fails(d, &["--notify-pr-wait", "4h"]);
    assert!(e.contains("give --notify-webhook too"), "{e}");
    let e = serve_fails(d, &["--github-deployments"]);
    assert!(
        e.contains("--github-deployments") && e.contains("SPEKTATE_GITHUB_TOKEN"),
        "{e}"
    );
    // With a token, the repositories it may write to must be named, and named well.
    let with_token = |args: &[&str]| {
        let out = bin()
            .args(["serve", "--port", "0", "-p", "fabrikam", "--store"])
            .arg(format!("sqlite:{}", d.join("s.db").display()))
            .arg("--github-deployments")
            .args(args)
            .env("SPEKTATE_GITHUB_TOKEN", "ghp_notshown")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let e = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!e.contains("ghp_notshown"), "{e}");
        e
    };
    let e = with_token(&[]);
    assert!(
        e.contains("--github-deployments-repo") && e.contains("give at least one"),
        "{e}"
    );
    let e = with_token(&["--github-deployments-repo", "frontend"]);
    assert!(
        e.contains("invalid --github-deployments-repo") && e.contains("'frontend'"),
        "{e}"
    );
    let help = bin()
        .args(["serve", "--help"])
        .env(
            "SPEKTATE_NOTIFY_WEBHOOK",
            format!("slack:https://hooks.slack.com/services/{SECRET}"),
        )
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--notify-webhook") && help.contains("--github-deployments"));
    assert!(!help.contains(SECRET), "{help}");
}

/// `spektate serve` on a free port; killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn record(db: &str, args: &[&str]) -> Output {
    let out = bin()
        .arg("record")
        .args(args)
        .env("SPEKTATE_STORE", db)
        .env("SPEKTATE_PARTITION_KEY", "fabrikam")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "record {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn wait_for(server: &MockServer, path_is: &str, n: usize) -> Vec<wiremock::Request> {
    for _ in 0..300 {
        let got: Vec<_> = server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == path_is)
            .collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path_is}: fewer than {n} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_reaches_slack_cdevents_and_github_deployments() {
    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/repos/fabrikam/frontend/deployments"))
        .and(header("authorization", "Bearer ghp_test"))
        .and(body_partial_json(json!({
            "ref": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "environment": "prod",
            "auto_merge": false,
            "required_contexts": []
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": 7,
            "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "ref": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "environment": "prod",
            "statuses_url": "https://github.fabrikam.com/api/v3/repos/fabrikam/frontend/deployments/7/statuses"
        })))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/api/v3/repos/fabrikam/frontend/deployments/7/statuses",
        ))
        .and(header("authorization", "Bearer ghp_test"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": 1, "state": "success"})),
        )
        .mount(&github)
        .await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/services/{SECRET}")))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/cdevents"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"message": "broker down"})))
        .mount(&hooks)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("s.db").display());
    let host = github.uri();
    let repo = format!("{host}/fabrikam/frontend");
    let log = dir.path().join("serve.log");
    let mut child = bin()
        .args([
            "serve",
            "--port",
            "0",
            "-p",
            "fabrikam",
            "--refresh",
            "1",
            "--store",
            &db,
        ])
        .args(["--github-url", &host, "--github-deployments"])
        .env(
            "SPEKTATE_GITHUB_DEPLOYMENTS_REPOS",
            "fabrikam/frontend other:fabrikam/*",
        )
        .args([
            "--notify-webhook",
            &format!("slack:{}/services/{SECRET}", hooks.uri()),
        ])
        .args(["--cdevents-sink", &format!("{}/cdevents", hooks.uri())])
        .env("SPEKTATE_GITHUB_TOKEN", "ghp_test")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    out.read_line(&mut banner).unwrap();
    out.read_line(&mut banner).unwrap();
    let _server = Server(child);
    assert!(
        banner.contains("Notifications: 1 webhook (slack), CDEvents to 127.0.0.1:")
            && banner.contains("GitHub Deployments"),
        "{banner}"
    );
    assert!(!banner.contains(SECRET), "{banner}");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let h = "c0ffee0000000000000000000000000000000001";
    let m = "e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0";
    let ok = ["--status", "completed", "--result", "succeeded"];
    record(
        &db,
        &[
            "--p1",
            "101",
            "--image-tag",
            "frontend-1001",
            "--commit-id",
            "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "--service",
            "fabrikam/frontend",
            "--repository",
            &repo,
        ],
    );
    record(&db, &[&["run", "--id", "101"][..], &ok].concat());
    record(
        &db,
        &[
            "--p2",
            "201",
            "--image-tag",
            "frontend-1001",
            "--hld-commit-id",
            h,
            "--env",
            "prod",
            "--pr",
            "41",
        ],
    );
    record(&db, &[&["run", "--id", "201"][..], &ok].concat());
    record(
        &db,
        &[
            "--p3",
            "301",
            "--hld-commit-id",
            h,
            "--manifest-commit-id",
            m,
        ],
    );
    record(&db, &[&["run", "--id", "301"][..], &ok].concat());
    record(&db, &["sync", "--cluster", "east-us", "--commit", m]);

    let slack = wait_for(&hooks, &format!("/services/{SECRET}"), 1).await;
    let body: Value = serde_json::from_slice(&slack[0].body).unwrap();
    assert_eq!(
        body["text"],
        "frontend-1001 is live in east-us (ring prod reached)"
    );
    let statuses = wait_for(
        &github,
        "/api/v3/repos/fabrikam/frontend/deployments/7/statuses",
        1,
    )
    .await;
    let last: Value = serde_json::from_slice(&statuses.last().unwrap().body).unwrap();
    let states: Vec<String> = statuses
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    if last["state"] != "success" {
        let more = wait_for(
            &github,
            "/api/v3/repos/fabrikam/frontend/deployments/7/statuses",
            statuses.len() + 1,
        )
        .await;
        let last: Value = serde_json::from_slice(&more.last().unwrap().body).unwrap();
        assert_eq!(last["state"], "success", "{states:?}");
    } else {
        assert_eq!(last["environment"], "prod");
        assert_eq!(last["description"], "frontend-1001: live in east-us");
    }
    // The CDEvents sink refuses (503, retried): the failure is logged, the URL's path is not.
    let ce = wait_for(&hooks, "/cdevents", 1).await;
    assert_eq!(
        ce[0].headers.get("ce-type").unwrap().to_str().unwrap(),
        "dev.cdevents.service.deployed.0.2.0"
    );
    let mut logged = String::new();
    for _ in 0..300 {
        logged = std::fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("notification to CDEvents sink") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        logged.contains("notification to CDEvents sink 127.0.0.1:") && logged.contains("HTTP 503"),
        "{logged}"
    );
    assert!(
        !logged.contains(SECRET) && !logged.contains("ghp_test"),
        "{logged}"
    );
}
