//! `spektate serve` and `spektate record --server` as processes: a pipeline's record goes
//! through the server into the store and shows in `spektate get`, with the same output as a
//! local record; tokens are created, refused and revoked; every documented `spektate record`
//! line works through a server.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spektate"));
    for var in [
        "SPEKTATE_STORE",
        "SPEKTATE_SERVER",
        "SPEKTATE_TOKEN",
        "SPEKTATE_TOKENS",
        "SPEKTATE_PARTITION_KEY",
        "SPEKTATE_GITHUB_TOKEN",
        "SPEKTATE_AZDO_TOKEN",
        "SPEKTATE_OIDC",
        "SPEKTATE_OIDC_AUDIENCE",
        "SPEKTATE_OIDC_RULES",
        "SPEKTATE_OIDC_SERVICE_CONNECTION",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GITHUB_ACTIONS",
        "SYSTEM_OIDCREQUESTURI",
        "SYSTEM_ACCESSTOKEN",
        "TF_BUILD",
    ] {
        c.env_remove(var);
    }
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `spektate serve` process on a free port, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    url: String,
    stderr: PathBuf,
}

impl Server {
    fn start(dir: &Path, store: &str, extra: &[&str]) -> Server {
        Server::start_on(dir, store, 0, extra)
    }

    /// Starts it on `port` (0: a free one).
    fn start_on(dir: &Path, store: &str, port: u16, extra: &[&str]) -> Server {
        let stderr = dir.join(format!("serve-{}-{port}.log", extra.len()));
        let mut child = bin()
            .args([
                "serve",
                "--store",
                store,
                "-p",
                "fabrikam",
                "--port",
                &port.to_string(),
                "--refresh",
                "1",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| {
                panic!(
                    "no URL in {line:?}: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            })
            .trim_end_matches('/')
            .to_string();
        Server { child, url, stderr }
    }

    /// Stops it as a container runtime does, and says how it ended.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        (
            status,
            std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(tokens: &Path, args: &[&str]) -> String {
    let out = bin()
        .arg("token")
        .arg("--tokens")
        .arg(tokens)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "token {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

/// `spektate record ARGS` into a local store, or through a server with a token.
fn record(target: &Target, args: &[&str]) -> Output {
    let mut c = bin();
    c.arg("record")
        .args(args)
        .env("SPEKTATE_PARTITION_KEY", "fabrikam");
    match target {
        Target::Store(spec) => c.env("SPEKTATE_STORE", spec),
        Target::Server { url, token } => c
            .env("SPEKTATE_SERVER", url)
            .env("SPEKTATE_TOKEN", token)
            .env("SPEKTATE_STORE", "sqlite:/nonexistent/never-opened.db"),
    };
    c.output().unwrap()
}

enum Target {
    Store(String),
    Server { url: String, token: String },
}

fn deployments(store: &str) -> Vec<Value> {
    let out = bin()
        .args(["get", "-o", "json", "--store", store, "-p", "fabrikam"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The fields of a deployment that come from its record (not the clock).
fn recorded(d: &Value) -> Value {
    let keys = [
        "id",
        "service",
        "ring",
        "imageTag",
        "commitId",
        "hldCommitId",
        "manifestCommitId",
        "pr",
        "status",
    ];
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), d[*k].clone()))
            .collect(),
    )
}

const JOURNEY: &[&[&str]] = &[
    &[
        "run",
        "--id",
        "1042",
        "--status",
        "inProgress",
        "--url",
        "https://github.com/fabrikam/frontend/actions/runs/1042",
    ],
    &[
        "--p1",
        "1042",
        "--image-tag",
        "frontend-1042",
        "--commit-id",
        "a1b2c3d4e5f6",
        "--service",
        "fabrikam/frontend",
        "--repository",
        "https://github.com/fabrikam/frontend",
    ],
    &[
        "--p2",
        "1042",
        "--image-tag",
        "frontend-1042",
        "--hld-commit-id",
        "b2c3d4e5f6a1",
        "--env",
        "dev",
        "--pr",
        "41",
        "--repository",
        "https://github.com/fabrikam/hld",
    ],
    &[
        "run",
        "--id",
        "1042",
        "--status",
        "completed",
        "--result",
        "succeeded",
    ],
    &[
        "--p3",
        "2001",
        "--hld-commit-id",
        "c0ffee000001",
        "--pr",
        "41",
    ],
    &[
        "--p3",
        "2001",
        "--manifest-commit-id",
        "d3adbeef0001",
        "--repository",
        "https://github.com/fabrikam/manifests",
    ],
    &[
        "run",
        "--id",
        "2001",
        "--status",
        "completed",
        "--attempt",
        "1",
    ],
    &["sync", "--cluster", "east-us", "--commit", "d3adbeef0001"],
];

/// A token is shown once: when it cannot be (a full disk behind stdout), none is kept, and
/// the command fails saying so, instead of a panic after the file kept its hash.
#[test]
#[cfg(target_os = "linux")]
fn a_token_that_cannot_be_shown_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = bin()
        .args(["token", "create", "ci", "--tokens"])
        .arg(&tokens)
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let e = text(&out.stderr);
    assert!(
        e.contains("stdout") && e.contains("could not be written"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    let listed = token(&tokens, &["list"]);
    assert!(
        !listed.contains("ci"),
        "a token nobody saw was kept: {listed}"
    );
    // A record's key goes the same way: the write is done, and the command says the key
    // was not shown.
    let db = format!("sqlite:{}", dir.path().join("s.db").display());
    let out = bin()
        .args([
            "record",
            "--store",
            &db,
            "-p",
            "fabrikam",
            "--p1",
            "1",
            "--image-tag",
            "t",
            "--commit-id",
            "c1",
            "--service",
            "s",
        ])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("stdout"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_record_through_the_server_prints_what_a_local_record_prints_and_shows_in_get() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let secret = token(&tokens, &["create", "ci", "-p", "fabrikam"]);
    // spk_<id>_<256 random bits>: an 8-digit hex id, then 64 hex digits.
    let parts: Vec<&str> = secret.split('_').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(
        parts.len() == 3 && parts[0] == "spk" && hex(parts[1], 8) && hex(parts[2], 64),
        "{secret}"
    );
    let served = format!("sqlite:{}", dir.path().join("served.db").display());
    let local = format!("sqlite:{}", dir.path().join("local.db").display());
    let server = Server::start(dir.path(), &served, &["--tokens", tokens.to_str().unwrap()]);
    let through = Target::Server {
        url: server.url.clone(),
        token: secret.clone(),
    };
    for step in JOURNEY {
        let remote = record(&through, step);
        let here = record(&Target::Store(local.clone()), step);
        assert!(
            remote.status.success(),
            "{step:?}: {}",
            text(&remote.stderr)
        );
        assert!(here.status.success(), "{step:?}: {}", text(&here.stderr));
        assert_eq!(text(&remote.stdout), text(&here.stdout), "{step:?}");
    }
    let (served_list, local_list) = (deployments(&served), deployments(&local));
    assert_eq!(served_list.len(), 1, "{served_list:#?}");
    assert_eq!(
        served_list.iter().map(recorded).collect::<Vec<_>>(),
        local_list.iter().map(recorded).collect::<Vec<_>>()
    );
    assert_eq!(served_list[0]["status"], "complete");
    assert_eq!(served_list[0]["clusters"][0]["cluster"], "east-us");

    // Bad input reads the same through the server as locally, whichever side checks it.
    let long = "x".repeat(2000);
    let bad: &[&[&str]] = &[
        &["--p2", "9", "--image-tag", "t"],
        &[
            "--p1",
            "9",
            "--image-tag",
            "t",
            "--commit-id",
            "c",
            "--service",
            "s",
            "--repository",
            "ftp://example.com/x",
        ],
        &[
            "--p1",
            "9",
            "--image-tag",
            &long,
            "--commit-id",
            "c",
            "--service",
            "s",
        ],
        &[
            "run", "--id", "9", "--status", "queued", "--result", "failed",
        ],
        &["--p3", "404", "--manifest-commit-id", "m"],
    ];
    for step in bad {
        let remote = record(&through, step);
        let here = record(&Target::Store(local.clone()), step);
        assert!(
            !remote.status.success() && !here.status.success(),
            "{step:?}"
        );
        assert_eq!(text(&remote.stderr), text(&here.stderr), "{:?}", &step[..2]);
        assert!(
            text(&remote.stderr).starts_with("spektate: "),
            "{}",
            text(&remote.stderr)
        );
    }
    let (status, log) = server.stop();
    assert!(
        status.success(),
        "serve ended with {status} on SIGTERM: {log}"
    );
    assert!(log.contains("status=200"), "the access log: {log}");
    assert!(!log.contains(&secret), "the token is in the log");
    let file = std::fs::read_to_string(&tokens).unwrap();
    assert!(!file.contains(&secret), "the token file holds the token");
}

#[test]
fn refused_and_revoked_tokens_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let fabrikam = token(&tokens, &["create", "ci", "--partition", "fabrikam"]);
    let contoso = token(&tokens, &["create", "contoso-ci", "--partition", "contoso"]);
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let server = Server::start(dir.path(), &store, &["--tokens", tokens.to_str().unwrap()]);
    let p1 = [
        "--p1",
        "7",
        "--image-tag",
        "t-7",
        "--commit-id",
        "c",
        "--service",
        "s",
    ];
    for (token, want) in [
        ("", "set SPEKTATE_TOKEN"),
        ("spk_12345678_guess", "HTTP 401"),
        (contoso.as_str(), "HTTP 403"),
    ] {
        let out = record(
            &Target::Server {
                url: server.url.clone(),
                token: token.into(),
            },
            &p1,
        );
        assert!(!out.status.success());
        let e = text(&out.stderr);
        assert!(e.contains(want) && e.lines().count() == 1, "{e}");
        assert!(
            !e.contains("spk_") || token.is_empty() || !e.contains(token),
            "{e}"
        );
    }
    assert!(
        deployments(&store).is_empty(),
        "a refused record was written"
    );

    let list = token(&tokens, &["list"]);
    assert!(
        list.contains("ci") && list.contains("contoso-ci") && !list.contains("spk_"),
        "{list}"
    );
    let revoked = token(&tokens, &["revoke", "ci"]);
    assert!(revoked.starts_with("revoked token "), "{revoked}");
    std::thread::sleep(Duration::from_millis(1100));
    let out = record(
        &Target::Server {
            url: server.url.clone(),
            token: fabrikam,
        },
        &p1,
    );
    assert!(
        !out.status.success() && text(&out.stderr).contains("HTTP 401"),
        "{}",
        text(&out.stderr)
    );
    assert!(deployments(&store).is_empty());
    drop(server);
}

#[test]
fn serve_without_viewer_auth_stays_on_loopback_unless_told() {
    let out = bin()
        .args([
            "serve",
            "--store",
            "sqlite:/nonexistent/x.db",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = text(&out.stderr);
    assert!(
        e.contains("--bind") && e.contains("--insecure-no-auth") && e.contains("--auth header"),
        "{e}"
    );
    let out = bin().args(["serve", "--auth", "token"]).output().unwrap();
    assert!(
        text(&out.stderr).contains("--tokens"),
        "{}",
        text(&out.stderr)
    );
    // Viewer rules hold proxy-named viewers only: without --auth header they are refused
    // before the store is opened.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let out = bin()
        .args([
            "serve",
            "--viewer-rule",
            "partition=fabrikam,user=*@fabrikam.com",
        ])
        .arg("--store")
        .arg(format!("sqlite:{}", db.display()))
        .output()
        .unwrap();
    let e = text(&out.stderr);
    assert!(!out.status.success() && e.contains("--auth header"), "{e}");
    assert!(!db.exists(), "a refused server creates no store");
}

/// The fenced blocks of a Markdown document, and the `spektate record` lines in them.
fn documented_records(markdown: &str) -> Vec<(usize, String)> {
    let (mut out, mut block, mut inside) = (Vec::new(), 0, false);
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
            block += 1;
            continue;
        }
        let Some(at) = line.find("spektate record").filter(|_| inside) else {
            continue;
        };
        let mut cmd = line[at..].trim_end().to_string();
        while cmd.ends_with('\\') {
            cmd.pop();
            cmd.push_str(lines.next().unwrap_or_default().trim());
        }
        out.push((block, cmd));
    }
    out
}

/// What a CI would put in for `${{ expr }}` and `$(Name)`: a status word where one is
/// expected, else a value made from the expression (the same one everywhere).
fn ci_value(expr: &str) -> String {
    match expr {
        "job.status" => "success".into(),
        "Agent.JobStatus" => "Succeeded".into(),
        e if e.contains("server_url") => "https://github.com".into(),
        e if e.ends_with(".repository") => "fabrikam/frontend".into(),
        "Build.Repository.Uri" => "https://dev.azure.com/fabrikam/fabrikam/_git/frontend".into(),
        "System.CollectionUri" => "https://dev.azure.com/fabrikam/".into(),
        e => format!(
            "{:012x}",
            e.bytes()
                .fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b))
                    .wrapping_mul(0x100000001b3))
                >> 16
        ),
    }
}

fn substitute(cmd: &str) -> String {
    let mut out = String::new();
    let mut rest = cmd;
    while let Some(start) = rest.find("${{").or_else(|| rest.find("$(")) {
        let (open, close) = if rest[start..].starts_with("${{") {
            ("${{", "}}")
        } else {
            ("$(", ")")
        };
        let end = start + rest[start..].find(close).unwrap();
        out.push_str(&rest[..start]);
        out.push_str(&ci_value(rest[start + open.len()..end].trim()));
        rest = &rest[end + close.len()..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_documented_record_line_works_through_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let secret = token(&tokens, &["create", "ci", "-p", "fabrikam"]);
    let served = format!("sqlite:{}", dir.path().join("served.db").display());
    let local = format!("sqlite:{}", dir.path().join("local.db").display());
    let server = Server::start(dir.path(), &served, &["--tokens", tokens.to_str().unwrap()]);
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/pipelines");
    let mut ran = 0;
    for doc in ["github-actions.md", "azure-pipelines.md", "gitlab-ci.md"] {
        let markdown = std::fs::read_to_string(docs.join(doc)).unwrap();
        assert!(
            markdown.contains("SPEKTATE_SERVER") && markdown.contains("SPEKTATE_TOKEN"),
            "{doc} has no server variant"
        );
        for (block, cmd) in documented_records(&markdown) {
            let cmd = substitute(&cmd);
            let env: HashMap<&str, String> = [
                ("IMAGE_TAG", format!("frontend-{block}")),
                ("SERVICE", "frontend".into()),
                ("HLD_COMMIT", "b2c3d4e5f6a1".into()),
                ("PR", "41".into()),
                ("MANIFEST_COMMIT", "c3d4e5f6a1b2".into()),
                ("RESULT", "succeeded".into()),
                // GitLab CI's predefined variables, which its jobs read from the shell.
                ("CI_PIPELINE_ID", "208859532".into()),
                (
                    "CI_PIPELINE_URL",
                    "https://gitlab.com/fabrikam/frontend/-/pipelines/208859532".into(),
                ),
                ("CI_COMMIT_SHA", "a1b2c3d4e5f6".into()),
                ("CI_COMMIT_REF_NAME", "main".into()),
                (
                    "CI_PROJECT_URL",
                    "https://gitlab.com/fabrikam/frontend".into(),
                ),
                ("CI_PROJECT_PATH", "fabrikam/frontend".into()),
                ("CI_SERVER_URL", "https://gitlab.com".into()),
                ("CI_JOB_STATUS", "success".into()),
                ("HLD_PROJECT", "fabrikam/platform/hld".into()),
                ("MANIFEST_PROJECT", "fabrikam/platform/manifests".into()),
            ]
            .into();
            let bin_dir = Path::new(env!("CARGO_BIN_EXE_spektate"))
                .parent()
                .unwrap()
                .to_path_buf();
            let run = |extra: &[(&str, &str)]| {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("set -eu\n{cmd}"));
                c.env(
                    "PATH",
                    format!(
                        "{}:{}",
                        bin_dir.display(),
                        std::env::var("PATH").unwrap_or_default()
                    ),
                );
                c.env("SPEKTATE_PARTITION_KEY", "fabrikam")
                    .env_remove("SPEKTATE_SERVER")
                    .env_remove("SPEKTATE_TOKEN");
                c.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
                c.envs(extra.iter().copied());
                c.output().unwrap()
            };
            let remote = run(&[
                ("SPEKTATE_SERVER", &server.url),
                ("SPEKTATE_TOKEN", &secret),
                ("SPEKTATE_STORE", "sqlite:/nonexistent/x.db"),
            ]);
            let here = run(&[("SPEKTATE_STORE", &local)]);
            assert!(
                remote.status.success(),
                "{doc}: {cmd}\n{}",
                text(&remote.stderr)
            );
            assert!(
                here.status.success(),
                "{doc}: {cmd}\n{}",
                text(&here.stderr)
            );
            assert_eq!(text(&remote.stdout), text(&here.stdout), "{doc}: {cmd}");
            ran += 1;
        }
    }
    assert!(ran >= 27, "the documents lost their record lines ({ran})");
    let ids = |store: &str| deployments(store).iter().map(recorded).collect::<Vec<_>>();
    assert_eq!(ids(&served), ids(&local));
    assert!(!ids(&served).is_empty());
    let (status, _) = server.stop();
    assert!(status.success());
}

/// The first YAML block of a pipeline document's OIDC section: the block, and its
/// `SPEKTATE_*` variables.
fn oidc_block(markdown: &str) -> (String, Vec<(String, String)>) {
    let at = markdown
        .find("with no secret at all (OIDC)")
        .expect("the document has an OIDC section");
    let section = &markdown[at..];
    let start = section.find("```yaml").expect("a YAML block") + "```yaml".len();
    let block = &section[start..];
    let block = block[..block.find("```").unwrap()].to_string();
    let vars = block
        .lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once(':')?;
            k.starts_with("SPEKTATE_")
                .then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect();
    (block, vars)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn pipelines_record_through_the_server_with_their_ci_id_token_and_no_secret() {
    use spektate_dashboard::oidc::testkit::Issuer;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let issuer = runtime.block_on(Issuer::start());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");

    // What the documents tell each CI to set: no secret, an ID token instead.
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/pipelines");
    let doc_env = |doc: &str| {
        let markdown = std::fs::read_to_string(docs.join(doc)).unwrap();
        let (block, vars) = oidc_block(&markdown);
        assert!(!block.contains("SPEKTATE_TOKEN"), "{doc}: {block}");
        let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["SPEKTATE_SERVER", "SPEKTATE_OIDC", "SPEKTATE_PARTITION_KEY"],
            "{doc}"
        );
        (block, vars)
    };
    let (github_block, github_vars) = doc_env("github-actions.md");
    assert!(github_block.contains("id-token: write"), "{github_block}");
    let (azure_block, azure_vars) = doc_env("azure-pipelines.md");
    assert!(
        azure_block.contains("SYSTEM_ACCESSTOKEN: $(System.AccessToken)"),
        "{azure_block}"
    );

    // The two CIs' token endpoints, handing out tokens the local issuer signed.
    let fabrikam = issuer.sign(&issuer.github_claims("fabrikam/frontend", &url));
    let contoso = issuer.sign(&issuer.github_claims("contoso/frontend", &url));
    let azure = issuer.sign(&issuer.azure_claims("fabrikam", "hello-bedrock", "frontend-ci"));
    runtime.block_on(async {
        for (request_token, id_token) in [("gh-fabrikam", &fabrikam), ("gh-contoso", &contoso)] {
            Mock::given(method("GET"))
                .and(path("/github/token"))
                .and(query_param("audience", url.as_str()))
                .and(header(
                    "authorization",
                    format!("Bearer {request_token}").as_str(),
                ))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_json(serde_json::json!({"count": 1, "value": id_token})),
                )
                .mount(issuer.server())
                .await;
        }
        Mock::given(method("POST"))
            .and(path("/azure/oidctoken"))
            .and(query_param("api-version", "7.1-preview.1"))
            .and(header("authorization", "Bearer system-access-token"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"oidcToken": azure})),
            )
            .mount(issuer.server())
            .await;
    });

    let served = format!("sqlite:{}", dir.path().join("served.db").display());
    let local = format!("sqlite:{}", dir.path().join("local.db").display());
    let github_rule = format!(
        "issuer={},audience={url},repository_owner=fabrikam,ref=refs/heads/main,partitions=fabrikam",
        issuer.url()
    );
    let azure_rule = format!(
        "issuer={},audience=api://AzureADTokenExchange,project=hello-bedrock,partitions=fabrikam",
        issuer.url()
    );
    let server = Server::start_on(
        dir.path(),
        &served,
        port,
        &["--oidc-rule", &github_rule, "--oidc-rule", &azure_rule],
    );
    assert_eq!(server.url, url);

    let in_ci = |vars: &[(String, String)], ci: &[(&str, String)], args: &[&str]| {
        let mut c = bin();
        c.arg("record").args(args);
        for (k, v) in vars {
            let v = if k == "SPEKTATE_SERVER" { &url } else { v };
            c.env(k, v);
        }
        c.envs(ci.iter().map(|(k, v)| (*k, v.as_str())));
        c.env("SPEKTATE_STORE", "sqlite:/nonexistent/never-opened.db");
        c.output().unwrap()
    };
    let github = |request_token: &str| {
        vec![
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("{}/github/token?api-version=2.0", issuer.url()),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token.to_string()),
            ("GITHUB_ACTIONS", "true".to_string()),
        ]
    };
    let azure_ci = vec![
        (
            "SYSTEM_OIDCREQUESTURI",
            format!("{}/azure/oidctoken", issuer.url()),
        ),
        ("SYSTEM_ACCESSTOKEN", "system-access-token".to_string()),
        ("TF_BUILD", "True".to_string()),
    ];

    // The journey, its steps taken in turn by a GitHub Actions job and an Azure Pipelines
    // job: the same output as a local record, and the same deployments.
    for (i, args) in JOURNEY.iter().enumerate() {
        let remote = if i % 2 == 0 {
            in_ci(&github_vars, &github("gh-fabrikam"), args)
        } else {
            in_ci(&azure_vars, &azure_ci, args)
        };
        let here = record(&Target::Store(local.clone()), args);
        assert!(
            remote.status.success(),
            "{args:?}: {}",
            text(&remote.stderr)
        );
        assert!(here.status.success(), "{args:?}: {}", text(&here.stderr));
        assert_eq!(text(&remote.stdout), text(&here.stdout), "{args:?}");
    }
    let seen = |store: &str| deployments(store).iter().map(recorded).collect::<Vec<_>>();
    assert_eq!(seen(&served), seen(&local));
    assert!(!seen(&served).is_empty());

    // Another owner's repository is refused, and so is a job without id-token: write;
    // neither writes, and no token is printed.
    let before = seen(&served);
    let image = [
        "--p1",
        "9999",
        "--image-tag",
        "frontend-9999",
        "--commit-id",
        "abcdef123456",
        "--service",
        "contoso/frontend",
    ];
    let refused = in_ci(&github_vars, &github("gh-contoso"), &image);
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("HTTP 403") && said.contains("matches no OIDC rule"),
        "{said}"
    );
    for secret in [&fabrikam, &contoso, &azure] {
        assert!(!said.contains(secret.as_str()), "a token in {said}");
    }
    assert!(!said.contains("gh-contoso"), "{said}");
    let no_permission = in_ci(
        &github_vars,
        &[("GITHUB_ACTIONS", "true".to_string())],
        &image,
    );
    assert!(!no_permission.status.success());
    assert!(
        text(&no_permission.stderr).contains("permissions: id-token: write"),
        "{}",
        text(&no_permission.stderr)
    );
    assert_eq!(seen(&served), before);
    // The same record with the owner's token is written: the refusals were the token's.
    let written = in_ci(&github_vars, &github("gh-fabrikam"), &image);
    assert!(written.status.success(), "{}", text(&written.stderr));
    assert_eq!(seen(&served).len(), before.len() + 1);
    let (status, log) = server.stop();
    assert!(status.success(), "{log}");
    for secret in [&fabrikam, &contoso, &azure] {
        assert!(
            !log.contains(secret.as_str()),
            "a token in the server's log"
        );
    }
}

/// `GET path` on a server: the status and the JSON body.
fn http_get(base: &str, path: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    (status, serde_json::from_str(body).unwrap())
}

/// The image tags `GET /api/deployments?partition=P` lists once it lists `n` of them.
fn listed(base: &str, partition: &str, n: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let (status, list) = http_get(base, &format!("/api/deployments?partition={partition}"));
        assert_eq!(status, 200, "{list}");
        let tags: Vec<String> = list["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["imageTag"].as_str().unwrap_or_default().to_string())
            .collect();
        if tags.len() == n || started.elapsed() > Duration::from_secs(10) {
            return tags;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn one_server_serves_every_partition_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let fabrikam = token(&tokens, &["create", "ci", "-p", "fabrikam"]);
    let contoso = token(&tokens, &["create", "contoso-ci", "-p", "contoso"]);
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    // -p fabrikam (the default) from Server::start, then a comma list.
    let server = Server::start(
        dir.path(),
        &store,
        &["--tokens", tokens.to_str().unwrap(), "-p", "contoso,acme"],
    );
    let (_, health) = http_get(&server.url, "/api/health");
    let names: Vec<&str> = health["partitions"]
        .as_array()
        .unwrap_or_else(|| panic!("{health}"))
        .iter()
        .map(|p| p["partition"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fabrikam", "contoso", "acme"]);

    let p1 = |id: &str, tag: &str| {
        [
            "--p1".to_string(),
            id.to_string(),
            "--image-tag".to_string(),
            tag.to_string(),
            "--commit-id".to_string(),
            "c0ffee1".to_string(),
            "--service".to_string(),
            "fabrikam/frontend".to_string(),
        ]
    };
    let through = |token: &str| Target::Server {
        url: server.url.clone(),
        token: token.into(),
    };
    let fab = p1("7", "fab-7");
    let out = record(&through(&fabrikam), &fab.each_ref().map(String::as_str));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut con: Vec<&str> = vec!["-p", "contoso"];
    let con_args = p1("8", "con-8");
    con.extend(con_args.iter().map(String::as_str));
    let out = record(&through(&contoso), &con);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A token for one partition cannot write the other.
    let mut cross: Vec<&str> = vec!["-p", "contoso"];
    let cross_args = p1("9", "cross-9");
    cross.extend(cross_args.iter().map(String::as_str));
    let out = record(&through(&fabrikam), &cross);
    assert!(
        !out.status.success() && text(&out.stderr).contains("HTTP 403"),
        "{}",
        text(&out.stderr)
    );

    assert_eq!(listed(&server.url, "fabrikam", 1), ["fab-7"]);
    assert_eq!(listed(&server.url, "contoso", 1), ["con-8"]);
    assert!(listed(&server.url, "acme", 0).is_empty());
    let (status, e) = http_get(&server.url, "/api/deployments?partition=initech");
    assert_eq!(status, 404, "{e}");
    assert!(e["error"].as_str().unwrap().contains("'initech'"), "{e}");
    // The store agrees: each record is in its own partition.
    let tags = deployments(&store)
        .iter()
        .map(|d| d["imageTag"].clone())
        .collect::<Vec<_>>();
    assert_eq!(tags, ["fab-7"]);
    drop(server);

    // Commands of one partition take one; a partition is served once.
    let out = bin()
        .args(["get", "--store", &store, "-p", "fabrikam", "-p", "contoso"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("only serve takes several"),
        "{}",
        text(&out.stderr)
    );
    let out = bin()
        .args([
            "serve",
            "--store",
            &store,
            "-p",
            "fabrikam,fabrikam",
            "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("'fabrikam' is served already"),
        "{}",
        text(&out.stderr)
    );
}

/// Sends `method path` with `headers` and `body` (Connection: close) and returns the status.
fn http_status(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// README: "`--log-format json` writes one JSON object a line on stderr, an access line per
/// request (method, path, status, milliseconds, who)"; tokens never appear in logs, which
/// name a token by its id and name.
#[test]
fn log_format_json_writes_one_object_a_line_with_an_access_line_per_request_and_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let secret = token(&tokens, &["create", "ci", "--partition", "fabrikam"]);
    let id = secret.split('_').nth(1).unwrap().to_string();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let server = Server::start(
        dir.path(),
        &store,
        &["--tokens", tokens.to_str().unwrap(), "--log-format", "json"],
    );
    let guess = "spk_12345678_aguessedsecretthatmustnotbelogged";
    let body = r#"{"p1":"7","imageTag":"t-7","commitId":"c","service":"s"}"#;
    let json = ("Content-Type", "application/json");
    let requests = [
        // 200 once the first refresh is done, 503 before: the log says which.
        ("GET", "/api/health", None, None),
        ("GET", "/no/such/page", None, Some(404)),
        (
            "POST",
            "/api/records/image?partition=fabrikam",
            None,
            Some(401),
        ),
        (
            "POST",
            "/api/records/image",
            Some(guess.to_string()),
            Some(401),
        ),
        (
            "POST",
            "/api/records/image",
            Some(secret.clone()),
            Some(200),
        ),
    ];
    let mut answered = Vec::new();
    for (method, path, bearer, want) in &requests {
        let auth = bearer.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![json];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        let got = http_status(&server.url, method, path, &headers, body);
        if let Some(want) = want {
            assert_eq!(got, *want, "{method} {path}");
        }
        answered.push(got);
    }
    let (status, log) = server.stop();
    assert!(status.success(), "serve exited {status:?}: {log}");

    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v.is_object(), "not an object: {l}");
            v
        })
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "spektate::access")
        .collect();
    assert_eq!(
        access.len(),
        requests.len(),
        "one access line per request:\n{log}"
    );
    for ((line, (method, path, bearer, _)), got) in access.iter().zip(&requests).zip(&answered) {
        assert_eq!(line["method"], *method, "{line}");
        // The path, never the query.
        assert_eq!(line["path"], path.split('?').next().unwrap(), "{line}");
        assert_eq!(line["status"], *got, "{line}");
        let ms = line["ms"]
            .as_f64()
            .unwrap_or_else(|| panic!("no ms in {line}"));
        assert!((0.0..10_000.0).contains(&ms), "{line}");
        let who = line["who"]
            .as_str()
            .unwrap_or_else(|| panic!("no who in {line}"));
        if bearer.as_deref() == Some(secret.as_str()) {
            assert_eq!(who, format!("token {id} (ci)"), "{line}");
        } else {
            assert_eq!(who, "", "{line}");
        }
    }
    let hidden = secret.rsplit('_').next().unwrap();
    assert!(
        !log.contains(hidden),
        "the token's secret is in the log:\n{log}"
    );
    assert!(
        !log.contains("aguessedsecret"),
        "a presented token is in the log:\n{log}"
    );
}

#[test]
fn a_json_log_stays_one_object_a_line_when_serve_warns_that_nothing_may_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let server = Server::start(dir.path(), &store, &["--log-format", "json"]);
    // Answered once, so it is serving (and stops on SIGTERM) before it is stopped.
    http_status(&server.url, "GET", "/api/health", &[], "");
    let (status, log) = server.stop();
    assert!(status.success(), "serve exited {status:?}: {log}");
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN"
                && l.to_string().contains("no --tokens and no --oidc-rule")),
        "the warning is a log line:\n{log}"
    );
}

#[test]
fn a_server_url_holding_a_credential_is_refused_before_an_id_token_is_asked_for_it() {
    // The CI's token endpoint: it must get no request, since the default audience is the
    // server's URL and this one holds a password.
    let endpoint = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    endpoint.set_nonblocking(true).unwrap();
    let request_url = format!(
        "http://{}/token?api-version=2.0",
        endpoint.local_addr().unwrap()
    );
    for server in [
        "https://ci:hunter2-pw@spektate.example.com",
        "https://spektate.example.com/?key=hunter2-pw",
    ] {
        let out = bin()
            .args(["record", "--server", server, "--oidc"])
            .args(["--p1", "1042", "--image-tag", "frontend-1042"])
            .args(["--service", "fabrikam/frontend", "--commit-id", "a1b2c3d"])
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token")
            .env("GITHUB_ACTIONS", "true")
            .env("SPEKTATE_STORE", "sqlite:/nonexistent/never-opened.db")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{server}: {stderr}");
        assert!(stderr.contains("--server"), "{stderr}");
        assert!(
            !stderr.contains("hunter2") && !text(&out.stdout).contains("hunter2"),
            "{stderr}"
        );
        assert!(
            matches!(endpoint.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{server}: the token endpoint was asked"
        );
    }
}
