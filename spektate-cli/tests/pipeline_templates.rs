//! The pipeline steps README names, run as their runners run them, on this machine and
//! offline: the GitHub Action (`action.yml`, a composite action) and the Azure Pipelines
//! template (`ci/azure-pipelines/spektate-record.yml`).
//!
//! This build is served on 127.0.0.1 as a release (`spektate-X.Y.Z-TARGET.tar.gz` and its
//! `.sha256`, made as `scripts/release-check.sh` makes them, with `install.sh` at its
//! raw.githubusercontent.com path). Each template is evaluated as its runner evaluates it —
//! GitHub's `${{ }}` expressions, `if:`, `GITHUB_OUTPUT` and `GITHUB_PATH`; Azure's template
//! expressions, `$(macros)`, `##vso` logging commands and `condition:` — failing on any
//! expression this file does not know, and its scripts run with bash. Each run installs the
//! binary, puts it on PATH and records a step whose arguments are split as a shell quotes them
//! and never expanded: the record is read back from the store with its image tag intact. A
//! second run restores the cache, skips the install and downloads nothing; a version that is
//! not X.Y.Z stops at the version step with the template's error line.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use regex::{Captures, Regex};
use serde_norway::{Mapping, Value};

/// The `args` both templates are given: a quoted space, and `$HOME`, which must reach the
/// command as written.
const ARGS: &str = r#"record --p1 4242 --image-tag "frontend 4242 $HOME" --commit-id e3d6504 --service fabrikam/frontend"#;
/// The image tag as the store keeps it (every recorded value is trimmed and lower-cased).
const STORED_TAG: &str = "frontend 4242 $home";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The workspace version, as `spektate --version` prints it.
fn version() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim()
        .strip_prefix("spektate ")
        .expect("spektate X.Y.Z")
        .to_string()
}

fn host_target() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        other => !text(other).is_empty(),
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).map(|s| {
        s.as_str()
            .unwrap_or_else(|| panic!("{key} is not a string: {s:?}"))
    })
}

/// Fails on a key (of a step, its inputs, the template) the runners below give no meaning to.
fn only_keys(map: &Value, allowed: &[&str]) {
    for key in map.as_mapping().expect("a mapping").keys() {
        let key = text(key);
        assert!(
            allowed.contains(&key.as_str()),
            "key {key} is not run by this test: {map:?}"
        );
    }
}

/// Replaces each `${{ expr }}` in `text` by `eval(expr)`.
fn interpolate(text: &str, eval: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed ${{{{ in {text}"));
        out.push_str(&rest[..start]);
        out.push_str(&eval(rest[start + 3..start + end].trim()));
        rest = &rest[start + end + 2..];
    }
    out + rest
}

// ---------------------------------------------------------------------------------------
// The release, served on 127.0.0.1.

/// This build as a GitHub release under `root`: `releases/download/vX.Y.Z/` holding
/// `spektate-X.Y.Z-TARGET.tar.gz` and its `.sha256`, and the repository's `install.sh` at its
/// raw.githubusercontent.com path for the tag.
fn release_site(root: &Path, version: &str) {
    let name = format!("spektate-{version}-{}", host_target());
    let staging = root.join("staging");
    let download = root.join(format!("releases/download/v{version}"));
    std::fs::create_dir_all(staging.join(&name)).unwrap();
    std::fs::create_dir_all(&download).unwrap();
    // The test build without its debug info, so the archive is made in a moment.
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new("strip")
        .arg("-o")
        .arg(staging.join(&name).join("spektate"))
        .arg(env!("CARGO_BIN_EXE_spektate")));
    ok(Command::new("sh")
        .args([
            "-c",
            r#"tar -cf - -C "$1" "$2" | gzip -1 >"$3/$2.tar.gz""#,
            "sh",
        ])
        .arg(&staging)
        .arg(&name)
        .arg(&download));
    ok(Command::new("sh")
        .args([
            "-c",
            r#"sha256sum "$1.tar.gz" >"$1.tar.gz.sha256""#,
            "sh",
            name.as_str(),
        ])
        .current_dir(&download));
    let raw = root.join(format!(
        "raw.githubusercontent.com/spektate/spektate-rs/v{version}/scripts"
    ));
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::copy(repo().join("scripts/install.sh"), raw.join("install.sh")).unwrap();
}

/// A file server for a folder on 127.0.0.1, stopped when dropped (a failing test too).
struct Server {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (root, asked2, stop2) = (root.to_path_buf(), asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve_file(&root, stream, &asked2);
                }
            }
        });
        Server {
            addr,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The paths asked for since the last call.
    fn asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.asked.lock().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one GET with the file at its path under `root`, or 404.
fn serve_file(root: &Path, mut stream: TcpStream, asked: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap().to_string();
    let body = if path.contains("..") {
        None
    } else {
        std::fs::read(root.join(path.trim_start_matches('/'))).ok()
    };
    asked.lock().unwrap().push(path);
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"not found\n".to_vec()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

// ---------------------------------------------------------------------------------------
// What runners have in common.

/// The environment every step process starts from: this machine's PATH, the job's own home
/// and temporary folder, and for all but 127.0.0.1 a proxy where nothing listens, so nothing
/// leaves the machine.
fn agent_env(root: &Path) -> BTreeMap<String, String> {
    let (home, tmp) = (root.join("home"), root.join("tmp"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let mut env = BTreeMap::new();
    env.insert("PATH".into(), std::env::var("PATH").unwrap());
    env.insert("HOME".into(), home.display().to_string());
    env.insert("TMPDIR".into(), tmp.display().to_string());
    for proxy in ["http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
        env.insert(proxy.into(), "http://127.0.0.1:9".into());
    }
    env.insert("no_proxy".into(), "127.0.0.1".into());
    env
}

/// The job's store settings.
fn store_env(root: &Path) -> [(String, String); 2] {
    [
        (
            "SPEKTATE_STORE".into(),
            format!("sqlite:{}", root.join("s.db").display()),
        ),
        ("SPEKTATE_PARTITION_KEY".into(), "fabrikam".into()),
    ]
}

/// Runs a step's script file with `shell` (a shell and its options), in that environment only.
fn run_script(shell: &[&str], script: &Path, env: &BTreeMap<String, String>, cwd: &Path) -> Output {
    std::fs::create_dir_all(cwd).unwrap();
    Command::new(shell[0])
        .args(&shell[1..])
        .arg(script)
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// PATH with the folders a step added in front, the last added first.
fn with_path(env: &mut BTreeMap<String, String>, added: &[String]) {
    let mut path: Vec<String> = added.iter().rev().cloned().collect();
    path.push(env["PATH"].clone());
    env.insert("PATH".into(), path.join(":"));
}

/// What one run of a template did.
#[derive(Default, Debug)]
struct Run {
    /// Each step run, by name, with its output.
    ran: Vec<(String, String)>,
    skipped: Vec<String>,
    failed: Option<String>,
    /// Error annotations (`::error::`, `##vso[task.logissue type=error]`).
    errors: Vec<String>,
    /// Folders added to PATH (`GITHUB_PATH`, `##vso[task.prependpath]`).
    path: Vec<String>,
    /// The action's outputs, or the variables the steps set.
    values: BTreeMap<String, String>,
    /// How many URLs were rewritten to the local server.
    rewritten: usize,
}

impl Run {
    fn names(&self) -> Vec<&str> {
        self.ran.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn output_of(&self, name: &str) -> &str {
        &self
            .ran
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no step {name} ran: {:?}", self.names()))
            .1
    }

    fn log(&self) -> String {
        self.ran
            .iter()
            .map(|(n, out)| format!("--- {n}\n{out}"))
            .collect()
    }

    fn record(&mut self, name: &str, out: &Output) {
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.ran.push((name.to_string(), log));
        if !out.status.success() && self.failed.is_none() {
            self.failed = Some(name.to_string());
        }
    }
}

/// The pipeline cache between runs: a folder saved under a key after a job whose cache step
/// missed, restored on a later hit.
struct Caches {
    store: PathBuf,
    saved: BTreeMap<String, PathBuf>,
    /// What this job's cache steps missed, saved when the job succeeds.
    missed: Vec<(String, PathBuf)>,
}

impl Caches {
    fn new(store: PathBuf) -> Caches {
        Caches {
            store,
            saved: BTreeMap::new(),
            missed: Vec::new(),
        }
    }

    /// Puts the folder saved under `key` at `path`, replacing what is there (a fresh agent
    /// would have nothing); false on a miss.
    fn restore(&mut self, key: &str, path: &Path) -> bool {
        let Some(saved) = self.saved.get(key) else {
            self.missed.push((key.to_string(), path.to_path_buf()));
            return false;
        };
        if path.exists() {
            std::fs::remove_dir_all(path).unwrap();
        }
        copy_dir(saved, path);
        true
    }

    /// The cache steps' post-job part: a job that succeeded saves what they missed.
    fn job_ended(&mut self, succeeded: bool) {
        for (key, path) in std::mem::take(&mut self.missed) {
            if !succeeded {
                continue;
            }
            assert!(
                path.is_dir(),
                "the cached path {} is not there",
                path.display()
            );
            let to = self.store.join(self.saved.len().to_string());
            copy_dir(&path, &to);
            self.saved.insert(key, to);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success(), "cp -a {} {}", from.display(), to.display());
}

/// The deployments in the job's store, as `spektate get -o json` prints them.
fn deployments(root: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(["get", "-o", "json"])
        .env_clear()
        .envs(agent_env(root))
        .envs(store_env(root))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json.as_array().unwrap().clone()
}

/// The one recorded deployment has the arguments as given, `$HOME` not expanded.
fn assert_recorded(root: &Path) {
    let ds = deployments(root);
    assert_eq!(ds.len(), 1, "one record, updated by each run: {ds:#?}");
    let d = &ds[0];
    assert_eq!(d["imageTag"], STORED_TAG, "{d:#}");
    assert_eq!(d["image"]["id"], "4242");
    assert_eq!(d["commitId"], "e3d6504");
    assert_eq!(d["record"]["service"], "fabrikam/frontend");
}

// ---------------------------------------------------------------------------------------
// GitHub Actions: the composite action.

/// A job on a GitHub-hosted Linux x64 runner, as far as an action sees it.
struct GitHubJob {
    root: PathBuf,
    env: BTreeMap<String, String>,
    caches: Caches,
}

/// The expressions action.yml may use, and their values in one run.
struct GitHubContext<'a> {
    inputs: &'a BTreeMap<String, String>,
    action_ref: &'a str,
    /// The outputs of the steps before, by id.
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

impl GitHubContext<'_> {
    fn lookup(&self, path: &str) -> String {
        match path.split('.').collect::<Vec<_>>().as_slice() {
            ["inputs", name] => self
                .inputs
                .get(*name)
                .unwrap_or_else(|| panic!("action.yml declares no input {name}"))
                .clone(),
            ["steps", id, "outputs", name] => self
                .steps
                .get(*id)
                .unwrap_or_else(|| panic!("{path}: no step {id} before"))
                .get(*name)
                .cloned()
                .unwrap_or_default(),
            ["github", "action_ref"] => self.action_ref.to_string(),
            ["runner", "os"] => "Linux".into(),
            ["runner", "arch"] => "X64".into(),
            _ => panic!("action.yml uses ${{{{ {path} }}}}, which this test does not evaluate"),
        }
    }

    /// A literal `'...'` or a context path.
    fn operand(&self, s: &str) -> String {
        let s = s.trim();
        if let Some(inner) = s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            assert!(!inner.replace("''", "").contains('\''), "expression {s}");
            return inner.replace("''", "'");
        }
        let is_path = s.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        });
        assert!(
            is_path,
            "action.yml uses the expression `{s}`, which this test does not evaluate"
        );
        self.lookup(s)
    }

    /// An expression: one operand, or two compared with `==` or `!=` (ignoring case, as
    /// GitHub compares strings).
    fn eval(&self, expr: &str) -> Value {
        let mut quoted = false;
        let bytes = expr.as_bytes();
        for i in 0..bytes.len() {
            match bytes[i] {
                b'\'' => quoted = !quoted,
                b'=' | b'!' if !quoted && bytes.get(i + 1) == Some(&b'=') => {
                    let (a, b) = (self.operand(&expr[..i]), self.operand(&expr[i + 2..]));
                    let equal = a.to_lowercase() == b.to_lowercase();
                    return Value::Bool(if bytes[i] == b'=' { equal } else { !equal });
                }
                _ => {}
            }
        }
        Value::String(self.operand(expr))
    }

    fn interpolate(&self, s: &str) -> String {
        interpolate(s, |e| text(&self.eval(e)))
    }

    /// An `if:`, with or without `${{ }}` around it.
    fn condition(&self, cond: &str) -> bool {
        let c = cond.trim();
        let expr = match c.strip_prefix("${{").and_then(|c| c.strip_suffix("}}")) {
            Some(inner) => inner,
            None => {
                assert!(!c.contains("${{"), "`if: {c}` is a string, always true");
                c
            }
        };
        truthy(&self.eval(expr))
    }
}

impl GitHubJob {
    fn new(root: &Path, env: BTreeMap<String, String>) -> GitHubJob {
        GitHubJob {
            root: root.to_path_buf(),
            env,
            caches: Caches::new(root.join("actions-cache")),
        }
    }

    fn tool_cache(&self) -> PathBuf {
        self.root.join("toolcache")
    }

    /// Runs action.yml as `uses: spektate/spektate-rs@<action_ref>` with these inputs.
    fn run_action(&mut self, given: &[(&str, &str)], action_ref: &str) -> Run {
        let action = yaml("action.yml");
        assert_eq!(str_at(&action["runs"], "using"), Some("composite"));
        let declared = action["inputs"].as_mapping().expect("inputs");
        let mut inputs: BTreeMap<String, String> = declared
            .iter()
            .map(|(k, v)| (text(k), text(&v["default"])))
            .collect();
        for (k, v) in given {
            assert!(inputs.contains_key(*k), "action.yml has no input {k}");
            inputs.insert(k.to_string(), v.to_string());
        }
        let mut ctx = GitHubContext {
            inputs: &inputs,
            action_ref,
            steps: BTreeMap::new(),
        };
        let mut run = Run::default();
        let steps = action["runs"]["steps"].as_sequence().expect("steps");
        for (n, step) in steps.iter().enumerate() {
            only_keys(
                step,
                &["id", "name", "if", "shell", "env", "run", "uses", "with"],
            );
            let id = str_at(step, "id").map_or(format!("__{n}"), str::to_string);
            let name =
                ctx.interpolate(str_at(step, "name").or(str_at(step, "uses")).unwrap_or(&id));
            // Without a status function in `if:`, a step after a failure is skipped.
            let wanted = str_at(step, "if").is_none_or(|c| ctx.condition(c));
            let outputs = if run.failed.is_some() || !wanted {
                run.skipped.push(name);
                BTreeMap::new()
            } else if let Some(uses) = str_at(step, "uses") {
                self.cache_step(uses, step, &ctx, name, &mut run)
            } else {
                self.bash_step(n, step, &ctx, name, &mut run)
            };
            ctx.steps.insert(id, outputs);
        }
        self.caches.job_ended(run.failed.is_none());
        for (k, v) in action["outputs"].as_mapping().expect("outputs") {
            run.values
                .insert(text(k), ctx.interpolate(str_at(v, "value").unwrap()));
        }
        run
    }

    /// actions/cache, which cannot run here: a hit restores what an earlier run saved.
    fn cache_step(
        &mut self,
        uses: &str,
        step: &Value,
        ctx: &GitHubContext,
        name: String,
        run: &mut Run,
    ) -> BTreeMap<String, String> {
        assert!(uses.starts_with("actions/cache@"), "{uses} cannot run here");
        only_keys(&step["with"], &["path", "key"]);
        let with = |k: &str| ctx.interpolate(str_at(&step["with"], k).unwrap());
        let (path, key) = (PathBuf::from(with("path")), with("key"));
        let hit = self.caches.restore(&key, &path);
        run.ran.push((name, format!("cache {key}: hit {hit}\n")));
        BTreeMap::from([("cache-hit".to_string(), hit.to_string())])
    }

    /// A `run:` step, through `bash --noprofile --norc -eo pipefail` as the runner runs it;
    /// its outputs are read back from GITHUB_OUTPUT, and GITHUB_PATH goes to `run.path`.
    fn bash_step(
        &self,
        n: usize,
        step: &Value,
        ctx: &GitHubContext,
        name: String,
        run: &mut Run,
    ) -> BTreeMap<String, String> {
        assert_eq!(str_at(step, "shell"), Some("bash"), "{name}");
        let (temp, workspace) = (self.root.join("runner-temp"), self.root.join("work"));
        std::fs::create_dir_all(&temp).unwrap();
        let script = temp.join(format!("step-{n}.sh"));
        std::fs::write(&script, ctx.interpolate(str_at(step, "run").unwrap())).unwrap();
        let (output_file, path_file) = (temp.join("output"), temp.join("path"));
        std::fs::write(&output_file, "").unwrap();
        std::fs::write(&path_file, "").unwrap();
        let mut env = self.env.clone();
        with_path(&mut env, &run.path);
        for (k, v) in [
            ("GITHUB_OUTPUT", output_file.display().to_string()),
            ("GITHUB_PATH", path_file.display().to_string()),
            ("GITHUB_ACTION_PATH", repo().display().to_string()),
            ("GITHUB_WORKSPACE", workspace.display().to_string()),
            ("RUNNER_TEMP", temp.display().to_string()),
            ("RUNNER_TOOL_CACHE", self.tool_cache().display().to_string()),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", "X64".into()),
        ] {
            env.insert(k.into(), v);
        }
        if let Some(vars) = step["env"].as_mapping() {
            for (k, v) in vars {
                env.insert(text(k), ctx.interpolate(&text(v)));
            }
        }
        let shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail"];
        let out = run_script(&shell, &script, &env, &workspace);
        run.errors
            .extend(workflow_errors(&String::from_utf8_lossy(&out.stdout)));
        let added = std::fs::read_to_string(&path_file).unwrap();
        run.path.extend(added.lines().map(str::to_string));
        run.record(&name, &out);
        github_outputs(&output_file)
    }
}

/// The messages of a step's `::error::` lines; no other workflow command is expected.
fn workflow_errors(stdout: &str) -> Vec<String> {
    let commands = stdout.lines().filter_map(|l| l.strip_prefix("::"));
    commands
        .map(|command| match command.split_once("::") {
            Some((head, message)) if head.split(' ').next() == Some("error") => message.to_string(),
            _ => panic!("workflow command ::{command} is not run by this test"),
        })
        .collect()
}

/// The `name=value` lines of a GITHUB_OUTPUT file.
fn github_outputs(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .map(|line| {
            let (k, v) = line
                .split_once('=')
                .filter(|(k, _)| !k.contains("<<"))
                .unwrap_or_else(|| panic!("GITHUB_OUTPUT line {line} is not name=value"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A GitHub job whose store and release server are in `root`.
fn github_job(root: &Path, releases: &str) -> GitHubJob {
    let mut env = agent_env(root);
    env.extend(store_env(root));
    env.insert(
        "SPEKTATE_RELEASES_URL".into(),
        format!("{releases}/releases"),
    );
    GitHubJob::new(root, env)
}

#[test]
fn the_github_action_installs_spektate_cached_and_records_a_step() {
    let version = version();
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    release_site(&site, &version);
    let server = Server::start(&site);
    let root = dir.path().join("job");
    let mut job = github_job(&root, &server.url());
    let bin_dir = job.tool_cache().join(format!("spektate/{version}/X64"));
    let install = format!("Install spektate {version}");
    let record = format!("spektate {ARGS}");
    let given = [("version", version.as_str()), ("args", ARGS)];
    let action_ref = format!("v{version}");

    let first = job.run_action(&given, &action_ref);
    assert_eq!(first.failed, None, "{}", first.log());
    assert_eq!(
        first.names(),
        [
            "Spektate version",
            "actions/cache@v5",
            install.as_str(),
            "spektate on PATH",
            record.as_str()
        ],
        "{}",
        first.log()
    );
    assert_eq!(first.values["version"], version);
    assert_eq!(first.path, [bin_dir.display().to_string()]);
    assert!(
        first
            .output_of("spektate on PATH")
            .contains(&format!("spektate {version}\n")),
        "{}",
        first.log()
    );
    let name = format!("spektate-{version}-{}.tar.gz", host_target());
    let archive = format!("/releases/download/v{version}/{name}");
    assert_eq!(
        server.asked(),
        [archive.clone(), format!("{archive}.sha256")]
    );
    let key = first.output_of(&record).trim().to_string();
    assert_eq!(key.len(), 12, "record prints the row key: {}", first.log());

    // The same job again: the cache restores the folder, nothing is downloaded.
    let second = job.run_action(&given, &action_ref);
    assert_eq!(second.failed, None, "{}", second.log());
    assert_eq!(second.skipped, [install.as_str()], "{}", second.log());
    assert!(second.output_of("actions/cache@v5").contains("hit true"));
    assert_eq!(second.path, [bin_dir.display().to_string()]);
    assert_eq!(second.values["version"], version);
    assert_eq!(second.output_of(&record).trim(), key, "{}", second.log());
    assert_eq!(server.asked(), Vec::<String>::new());

    // No inputs at spektate/spektate-rs@vX.Y.Z: that version, from the cache, and no command.
    let third = job.run_action(&[], &action_ref);
    assert_eq!(third.failed, None, "{}", third.log());
    assert_eq!(third.values["version"], version);
    assert_eq!(third.skipped, [install, "spektate ".to_string()]);
    assert_eq!(server.asked(), Vec::<String>::new());

    let out = Command::new(bin_dir.join("spektate"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("spektate {version}")
    );
    assert_recorded(&root);
}

#[test]
fn the_github_action_stops_at_a_version_that_is_not_x_y_z() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: nothing may be downloaded.
    let mut job = github_job(dir.path(), "http://127.0.0.1:9");
    let run = job.run_action(&[("version", "1.2"), ("args", ARGS)], "v1.2");
    assert_eq!(run.failed.as_deref(), Some("Spektate version"));
    assert_eq!(run.names(), ["Spektate version"]);
    assert_eq!(run.skipped.len(), 4, "{:?}", run.skipped);
    assert!(
        run.output_of("Spektate version")
            .lines()
            .any(|l| l == "::error::spektate version '1.2' is not X.Y.Z"),
        "{}",
        run.log()
    );
    assert_eq!(run.errors, ["spektate version '1.2' is not X.Y.Z"]);
    assert!(!job.tool_cache().exists());
}

// ---------------------------------------------------------------------------------------
// Azure Pipelines: the steps template.

/// Pipeline variables, named without regard to case as Azure names them.
#[derive(Default)]
struct Variables(BTreeMap<String, (String, String)>);

impl Variables {
    fn set(&mut self, name: &str, value: &str) {
        self.0
            .insert(name.to_lowercase(), (name.to_string(), value.to_string()));
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_lowercase()).map(|(_, v)| v.as_str())
    }

    /// Each variable as the agent puts it in a step's environment: `Agent.OS` as `AGENT_OS`.
    fn env(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.0
            .values()
            .map(|(k, v)| (k.to_uppercase().replace(['.', ' '], "_"), v.clone()))
    }

    /// Replaces each `$(name)` macro by its variable. A name with no variable is left as it
    /// is, as Azure leaves it, unless `strict`: in a script that is more likely a mistake.
    fn expand(&self, text: &str, strict: bool) -> String {
        static MACRO: OnceLock<Regex> = OnceLock::new();
        let re = MACRO.get_or_init(|| Regex::new(r"\$\(([A-Za-z0-9_][A-Za-z0-9_.\-]*)\)").unwrap());
        re.replace_all(text, |c: &Captures| match self.get(&c[1]) {
            Some(v) => v.to_string(),
            None if !strict => c[0].to_string(),
            None => panic!("$({}) is no variable here: {text}", &c[1]),
        })
        .into_owned()
    }
}

/// An Azure Pipelines expression: `'literals'`, names (resolved by `name`), and the functions
/// the template uses: `and`, `ne` (ignoring case) and `succeeded()` (`status`, at run time).
struct AzureExpr<'a> {
    text: &'a str,
    chars: Vec<char>,
    at: usize,
    name: &'a dyn Fn(&str) -> Value,
    status: Option<bool>,
}

fn az_eval(text: &str, name: &dyn Fn(&str) -> Value, status: Option<bool>) -> Value {
    let mut e = AzureExpr {
        text,
        chars: text.chars().collect(),
        at: 0,
        name,
        status,
    };
    let v = e.value();
    e.space();
    assert_eq!(
        e.at,
        e.chars.len(),
        "expression `{text}` is not evaluated by this test"
    );
    v
}

impl AzureExpr<'_> {
    fn space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.space();
        let found = self.chars.get(self.at) == Some(&c);
        self.at += usize::from(found);
        found
    }

    fn value(&mut self) -> Value {
        if self.eat('\'') {
            let mut s = String::new();
            loop {
                let c = *self.chars.get(self.at).expect("unclosed quote");
                self.at += 1;
                if c != '\'' {
                    s.push(c);
                } else if self.chars.get(self.at) == Some(&'\'') {
                    self.at += 1;
                    s.push(c);
                } else {
                    return Value::String(s);
                }
            }
        }
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at].iter().collect();
        assert!(
            !word.is_empty(),
            "expression `{}` is not evaluated by this test",
            self.text
        );
        if !self.eat('(') {
            return (self.name)(&word);
        }
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                args.push(self.value());
                if self.eat(')') {
                    break;
                }
                assert!(self.eat(','), "expression `{}`", self.text);
            }
        }
        match (word.as_str(), args.as_slice()) {
            ("and", [_, _, ..]) => Value::Bool(args.iter().all(truthy)),
            ("ne", [a, b]) => Value::Bool(!text(a).eq_ignore_ascii_case(&text(b))),
            ("succeeded", []) => Value::Bool(self.status.expect("succeeded() is for run time")),
            _ => panic!(
                "{word}() with {} arguments in `{}` is not evaluated by this test",
                args.len(),
                self.text
            ),
        }
    }
}

/// The `if` or `each` of a `${{ if ... }}` / `${{ each ... }}` key.
fn directive(key: &str) -> Option<&str> {
    let inner = key.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim();
    let word = inner.split_whitespace().next()?;
    ["if", "each", "else", "elseif"]
        .contains(&word)
        .then_some(inner)
}

/// A template value with its `${{ }}` expressions evaluated: a string that is one expression
/// takes its value (an object too), `${{ if }}` items are inserted when true and
/// `${{ each pair in ... }}` keys repeated for each pair.
fn expand(v: &Value, name: &dyn Fn(&str) -> Value) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if let Some(inner) = t.strip_prefix("${{").and_then(|t| t.strip_suffix("}}"))
                && !inner.contains("${{")
            {
                return az_eval(inner.trim(), name, None);
            }
            Value::String(interpolate(s, |e| text(&az_eval(e, name, None))))
        }
        Value::Sequence(items) => {
            let mut out = Vec::new();
            for item in items {
                let cond = item.as_mapping().filter(|m| m.len() == 1).and_then(|m| {
                    let (k, body) = m.iter().next()?;
                    Some((directive(k.as_str()?)?.strip_prefix("if ")?, body))
                });
                match cond {
                    Some((cond, body)) => {
                        if truthy(&az_eval(cond, name, None)) {
                            let body = expand(body, name);
                            out.extend(body.as_sequence().expect("a list under if").clone());
                        }
                    }
                    None => out.push(expand(item, name)),
                }
            }
            Value::Sequence(out)
        }
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, body) in m {
                let key = text(k);
                let Some(d) = directive(&key) else {
                    out.insert(expand(k, name), expand(body, name));
                    continue;
                };
                let each: Vec<&str> = d.split_whitespace().collect();
                let ["each", var, "in", collection] = each.as_slice() else {
                    panic!("{key} is not expanded by this test");
                };
                let pairs = az_eval(collection, name, None);
                for (pk, pv) in pairs.as_mapping().expect("each over an object") {
                    let inner =
                        |n: &str| match n.strip_prefix(var).and_then(|r| r.strip_prefix('.')) {
                            Some("key") => pk.clone(),
                            Some("value") => pv.clone(),
                            Some(other) => panic!("{var}.{other}"),
                            None => name(n),
                        };
                    let expanded = expand(body, &inner);
                    out.extend(expanded.as_mapping().expect("each gives keys").clone());
                }
            }
            Value::Mapping(out)
        }
        other => other.clone(),
    }
}

/// The template's steps for these parameters, as Azure compiles them.
fn compile(template: &Value, given: &[(&str, Value)]) -> Vec<Value> {
    only_keys(template, &["parameters", "steps"]);
    let mut params = Mapping::new();
    for p in template["parameters"].as_sequence().expect("parameters") {
        let name = str_at(p, "name").unwrap();
        let value = given
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(&p["default"], |(_, v)| v);
        match str_at(p, "type").unwrap() {
            "string" => assert!(value.is_string(), "{name}: a string"),
            "object" => {}
            other => panic!("{name}: type {other} is not checked by this test"),
        }
        params.insert(name.into(), value.clone());
    }
    for (k, _) in given {
        assert!(params.contains_key(*k), "the template has no parameter {k}");
    }
    let name = |n: &str| match n.strip_prefix("parameters.") {
        Some(p) => params
            .get(p)
            .unwrap_or_else(|| panic!("no parameter {p}"))
            .clone(),
        None => panic!("${{{{ {n} }}}} is not evaluated by this test"),
    };
    let steps = expand(&template["steps"], &name);
    steps.as_sequence().expect("steps").clone()
}

/// A job on a Microsoft-hosted Linux x64 agent, as far as a steps template sees it.
struct AzureJob {
    root: PathBuf,
    env: BTreeMap<String, String>,
    variables: Vec<(String, String)>,
    caches: Caches,
    /// A URL prefix in scripts, and the one it is fetched from here.
    rewrite: Option<(String, String)>,
}

impl AzureJob {
    fn workspace(&self) -> PathBuf {
        self.root.join("pipeline")
    }

    fn temp(&self) -> PathBuf {
        self.root.join("agent-temp")
    }

    /// The agent's predefined variables the template uses, and the job's own.
    fn variables(&self) -> Variables {
        let mut vars = Variables::default();
        let workspace = self.workspace().display().to_string();
        vars.set("Pipeline.Workspace", &workspace);
        vars.set("System.DefaultWorkingDirectory", &format!("{workspace}/s"));
        vars.set("Agent.TempDirectory", &self.temp().display().to_string());
        vars.set("Agent.OS", "Linux");
        vars.set("Agent.OSArchitecture", "X64");
        for (k, v) in &self.variables {
            vars.set(k, v);
        }
        vars
    }

    /// Runs the template's steps with these parameters.
    fn run_template(&mut self, given: &[(&str, Value)]) -> Run {
        let steps = compile(&yaml("ci/azure-pipelines/spektate-record.yml"), given);
        let mut vars = self.variables();
        let mut run = Run::default();
        for (n, step) in steps.iter().enumerate() {
            only_keys(
                step,
                &["bash", "task", "displayName", "env", "condition", "inputs"],
            );
            let shown = str_at(step, "displayName")
                .or(str_at(step, "task"))
                .unwrap_or("bash");
            let name = vars.expand(shown, false);
            let condition = str_at(step, "condition").unwrap_or("succeeded()");
            let variable = |n: &str| match n.strip_prefix("variables.") {
                Some(v) => vars.get(v).map_or(Value::Null, Value::from),
                None => panic!("{n} in condition {condition} is not evaluated by this test"),
            };
            if !truthy(&az_eval(condition, &variable, Some(run.failed.is_none()))) {
                run.skipped.push(name);
            } else if let Some(task) = str_at(step, "task") {
                self.cache_task(task, step, &mut vars, name, &mut run);
            } else {
                self.bash_step(n, step, &mut vars, name, &mut run);
            }
        }
        self.caches.job_ended(run.failed.is_none());
        run
    }

    /// Cache@2, which cannot run here: a hit restores what an earlier run saved.
    fn cache_task(
        &mut self,
        task: &str,
        step: &Value,
        vars: &mut Variables,
        name: String,
        run: &mut Run,
    ) {
        assert_eq!(task, "Cache@2", "{task} cannot run here");
        only_keys(&step["inputs"], &["key", "path", "cacheHitVar"]);
        let input = |k: &str| vars.expand(str_at(&step["inputs"], k).unwrap(), true);
        let key: Vec<String> = input("key")
            .split('|')
            .map(|part| part.trim().trim_matches('"').to_string())
            .collect();
        let (key, path, hit_var) = (
            key.join("|"),
            PathBuf::from(input("path")),
            input("cacheHitVar"),
        );
        let hit = self.caches.restore(&key, &path);
        vars.set(&hit_var, &hit.to_string());
        run.values.insert(hit_var, hit.to_string());
        run.ran.push((name, format!("cache {key}: hit {hit}\n")));
    }

    /// A `bash:` step: the Bash task runs its inline script from a file, without -e, with every
    /// variable in its environment, and acts on the `##vso[...]` lines it prints.
    fn bash_step(&self, n: usize, step: &Value, vars: &mut Variables, name: String, run: &mut Run) {
        let mut script = vars.expand(str_at(step, "bash").expect("a bash step"), true);
        if let Some((from, to)) = &self.rewrite {
            run.rewritten += script.matches(from.as_str()).count();
            script = script.replace(from.as_str(), to);
        }
        std::fs::create_dir_all(self.temp()).unwrap();
        let file = self.temp().join(format!("step-{n}.sh"));
        std::fs::write(&file, script).unwrap();
        let mut env = self.env.clone();
        env.extend(vars.env());
        with_path(&mut env, &run.path);
        if let Some(step_env) = step["env"].as_mapping() {
            for (k, v) in step_env {
                env.insert(text(k), vars.expand(&text(v), true));
            }
        }
        let cwd = PathBuf::from(vars.get("System.DefaultWorkingDirectory").unwrap());
        let out = run_script(&["bash", "--noprofile", "--norc"], &file, &env, &cwd);
        logging_commands(&String::from_utf8_lossy(&out.stdout), vars, run);
        run.record(&name, &out);
    }
}

/// Acts on the `##vso[...]` lines of a step's output: setvariable, prependpath and error
/// issues; no other logging command is expected.
fn logging_commands(stdout: &str, vars: &mut Variables, run: &mut Run) {
    for line in stdout.lines() {
        let Some(command) = line.trim_start().strip_prefix("##vso[") else {
            continue;
        };
        let (head, message) = command.split_once(']').expect("##vso[...]");
        match head.split_once(' ').unwrap_or((head, "")) {
            ("task.setvariable", props) => {
                let var = props.strip_prefix("variable=").expect(line);
                assert!(
                    !var.contains(';'),
                    "{line}: properties not run by this test"
                );
                vars.set(var, message);
                run.values.insert(var.to_string(), message.to_string());
            }
            ("task.prependpath", "") => run.path.push(message.to_string()),
            ("task.logissue", "type=error") => run.errors.push(message.to_string()),
            _ => panic!("logging command {line} is not run by this test"),
        }
    }
}

/// An Azure job whose store and release server are in `root`.
fn azure_job(root: &Path, server: &str) -> AzureJob {
    AzureJob {
        root: root.to_path_buf(),
        env: agent_env(root),
        variables: vec![("SPEKTATE_RELEASES_URL".into(), format!("{server}/releases"))],
        caches: Caches::new(root.join("pipeline-caches")),
        rewrite: Some((
            "https://raw.githubusercontent.com/".into(),
            format!("{server}/raw.githubusercontent.com/"),
        )),
    }
}

/// The template's `env` parameter: the job's store settings.
fn env_parameter(root: &Path) -> Value {
    let mut env = Mapping::new();
    for (k, v) in store_env(root) {
        env.insert(k.into(), v.into());
    }
    Value::Mapping(env)
}

#[test]
fn the_azure_pipelines_template_installs_spektate_cached_and_records_a_step() {
    let version = version();
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    release_site(&site, &version);
    let server = Server::start(&site);
    let root = dir.path().join("job");
    // The install step fetches install.sh from raw.githubusercontent.com, out of reach here:
    // only that URL's prefix is rewritten to the local server, which serves the repository's
    // scripts/install.sh at the same path.
    let mut job = azure_job(&root, &server.url());
    let bin_dir = job.workspace().join(format!(".spektate/{version}"));
    let install = format!("Install spektate {version}");
    let record = format!("spektate {ARGS}");
    let given = [
        ("version", Value::from(version.as_str())),
        ("args", Value::from(ARGS)),
        ("env", env_parameter(&root)),
    ];

    let first = job.run_template(&given);
    assert_eq!(first.failed, None, "{}", first.log());
    assert_eq!(
        first.names(),
        [
            "Spektate version",
            format!("Cache spektate {version}").as_str(),
            install.as_str(),
            "spektate on PATH",
            record.as_str()
        ],
        "{}",
        first.log()
    );
    assert_eq!(
        first.rewritten, 1,
        "install.sh's URL is in the install step"
    );
    assert_eq!(first.values["SPEKTATE_VERSION_RESOLVED"], version);
    assert_eq!(first.values["SPEKTATE_CACHE_RESTORED"], "false");
    assert_eq!(first.path, [bin_dir.display().to_string()]);
    assert!(
        first
            .output_of("spektate on PATH")
            .contains(&format!("spektate {version}\n")),
        "{}",
        first.log()
    );
    let name = format!("spektate-{version}-{}.tar.gz", host_target());
    let archive = format!("/releases/download/v{version}/{name}");
    let script =
        format!("/raw.githubusercontent.com/spektate/spektate-rs/v{version}/scripts/install.sh");
    assert_eq!(
        server.asked(),
        [script, archive.clone(), format!("{archive}.sha256")]
    );
    let key = first.output_of(&record).trim().to_string();
    assert_eq!(key.len(), 12, "record prints the row key: {}", first.log());

    // The same job again: the Cache task restores the folder, nothing is downloaded.
    let second = job.run_template(&given);
    assert_eq!(second.failed, None, "{}", second.log());
    assert_eq!(second.values["SPEKTATE_CACHE_RESTORED"], "true");
    assert_eq!(second.skipped, [install.as_str()], "{}", second.log());
    assert_eq!(second.path, [bin_dir.display().to_string()]);
    assert_eq!(second.output_of(&record).trim(), key, "{}", second.log());
    assert_eq!(server.asked(), Vec::<String>::new());

    // Without args, the command's step is not in the job at all.
    let third = job.run_template(&[("version", Value::from(version.as_str()))]);
    assert_eq!(third.failed, None, "{}", third.log());
    assert_eq!(
        third.names(),
        [
            "Spektate version",
            format!("Cache spektate {version}").as_str(),
            "spektate on PATH"
        ]
    );
    assert_eq!(third.skipped, [install]);
    assert_eq!(server.asked(), Vec::<String>::new());

    let out = Command::new(bin_dir.join("spektate"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("spektate {version}")
    );
    assert_recorded(&root);
}

#[test]
fn the_azure_pipelines_template_stops_at_a_version_that_is_not_x_y_z() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: nothing may be downloaded.
    let mut job = azure_job(dir.path(), "http://127.0.0.1:9");
    let run = job.run_template(&[
        ("version", Value::from("1.2")),
        ("args", Value::from(ARGS)),
        ("env", env_parameter(dir.path())),
    ]);
    assert_eq!(run.failed.as_deref(), Some("Spektate version"));
    assert_eq!(run.names(), ["Spektate version"]);
    assert_eq!(run.skipped.len(), 4, "{:?}", run.skipped);
    assert!(
        run.output_of("Spektate version")
            .lines()
            .any(|l| l == "##vso[task.logissue type=error]spektate version '1.2' is not X.Y.Z"),
        "{}",
        run.log()
    );
    assert_eq!(run.errors, ["spektate version '1.2' is not X.Y.Z"]);
    assert!(!job.workspace().join(".spektate").exists());
}
