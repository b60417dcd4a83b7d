//! The deployment files (`Dockerfile`, `deploy/kubernetes`, `deploy/helm/spektate`) against
//! the binary they deploy. No container engine or cluster runs here, so each file is parsed
//! (the chart's templates rendered by the small Go-template renderer below, with its default
//! values and with every option on) and checked for what can drift from the binary: flags it
//! accepts, environment variables it reads, the port it listens on, probe paths its router
//! serves, the user it runs as. Then `spektate serve` is started as each of them starts it
//! (same arguments and environment, a SQLite store in a temporary folder for the PostgreSQL
//! Secret, the mounted paths in that folder, 127.0.0.1 and a port of its choosing) and asked
//! for the probe paths, and for the page and the write API with and without the credentials
//! each setup gives. That no flag is refused with the file's own `--bind` (where the server
//! checks viewers sign in before it listens on a wider address) is shown by starting it so
//! once more on a port that is taken, which it must get to and refuse.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = repo().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document of a text, empty ones left out.
fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in text.lines().chain(std::iter::once("---")) {
        if line.trim_end() == "---" {
            let doc: Value = serde_norway::from_str(&current)
                .unwrap_or_else(|e| panic!("{what} is not YAML: {e}\n{current}"));
            if !doc.is_null() {
                docs.push(doc);
            }
            current.clear();
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

fn strings(v: &Value, what: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not a list: {v}"))
        .iter()
        .map(|s| str_of(s, what).to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// What the binary says about itself.

/// `spektate serve --help`, and the sources of the command, as facts to check against.
struct Binary {
    help: String,
    flags: BTreeSet<String>,
    envs: BTreeSet<String>,
    sources: String,
}

fn binary() -> &'static Binary {
    static BINARY: OnceLock<Binary> = OnceLock::new();
    BINARY.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
            .args(["serve", "--help"])
            .env_clear()
            .output()
            .unwrap();
        assert!(out.status.success(), "spektate serve --help failed");
        let help = String::from_utf8(out.stdout).unwrap();
        let flags = Regex::new(r"(?m)^\s+(?:-[a-zA-Z], )?--([a-z][a-z0-9-]*)")
            .unwrap()
            .captures_iter(&help)
            .map(|c| c[1].to_string())
            .collect();
        let envs = Regex::new(r"\[env: ([A-Z0-9_]+)")
            .unwrap()
            .captures_iter(&help)
            .map(|c| c[1].to_string())
            .collect();
        let mut sources = String::new();
        for dir in ["spektate-cli/src", "src"] {
            for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "rs") {
                    sources.push_str(&std::fs::read_to_string(path).unwrap());
                }
            }
        }
        Binary {
            help,
            flags,
            envs,
            sources,
        }
    })
}

impl Binary {
    /// Whether `serve` reads the variable: `--help` lists it as a flag's `[env: ...]`, or
    /// names it and the command's sources read it with `std::env::var` (the provider
    /// tokens, which have no flag).
    fn reads_env(&self, name: &str) -> bool {
        if self.envs.contains(name) {
            return true;
        }
        let read = Regex::new(&format!(
            r#"(env::var|env_token)\(\s*"{}"\s*\)"#,
            regex::escape(name)
        ))
        .unwrap();
        self.help.contains(name) && read.is_match(&self.sources)
    }

    /// The help text of one flag (its line and description, up to the next flag).
    fn flag_help(&self, flag: &str) -> String {
        let start = Regex::new(&format!(r"(?m)^\s+(?:-[a-zA-Z], )?--{flag}\b"))
            .unwrap()
            .find(&self.help)
            .unwrap_or_else(|| panic!("serve --help has no --{flag}"))
            .start();
        let rest = &self.help[start..];
        let next = Regex::new(r"(?m)^\s+-")
            .unwrap()
            .find_at(rest, 1)
            .map_or(rest.len(), |m| m.start());
        rest[..next].to_string()
    }

    /// A flag's default, from `[default: ...]` in `--help`.
    fn default_of(&self, flag: &str) -> Option<String> {
        Regex::new(r"\[default: ([^\]]+)\]")
            .unwrap()
            .captures(&self.flag_help(flag))
            .map(|c| c[1].to_string())
    }

    /// The values `--help` lists for a flag (`[possible values: a, b]`).
    fn possible_values(&self, flag: &str) -> Option<Vec<String>> {
        Regex::new(r"\[possible values: ([^\]]+)\]")
            .unwrap()
            .captures(&self.flag_help(flag))
            .map(|c| c[1].split(", ").map(str::to_string).collect())
    }
}

/// The value given to `--flag` in `args` (`--flag VALUE` or `--flag=VALUE`), the last wins.
fn arg_value(args: &[String], flag: &str) -> Option<String> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == flag {
            found = args.get(i + 1).cloned();
            i += 1;
        } else if let Some(v) = args[i].strip_prefix(&format!("{flag}=")) {
            found = Some(v.to_string());
        }
        i += 1;
    }
    found
}

/// The port `spektate serve` listens on with these arguments: `--port`, else its default.
fn port_of(args: &[String]) -> u16 {
    arg_value(args, "--port")
        .or_else(|| binary().default_of("port"))
        .expect("a port")
        .parse()
        .expect("a port number")
}

/// Checks the arguments of `spektate` against `serve --help`: the subcommand, every flag,
/// and the values of flags with a fixed list.
fn check_args(args: &[String], what: &str) {
    let b = binary();
    assert_eq!(
        args.first().map(String::as_str),
        Some("serve"),
        "{what} starts `spektate {args:?}`, not `spektate serve`"
    );
    for a in &args[1..] {
        if let Some(flag) = a.strip_prefix("--") {
            let flag = flag.split('=').next().unwrap();
            assert!(
                b.flags.contains(flag),
                "{what} passes --{flag}, which `spektate serve --help` does not list"
            );
            let given = arg_value(args, &format!("--{flag}"));
            if let (Some(values), Some(v)) = (b.possible_values(flag), given) {
                assert!(
                    values.contains(&v),
                    "{what}: --{flag} {v} is not one of {values:?}"
                );
            }
        }
    }
}

/// What one deployment file makes of the server: how it starts it and what it expects.
#[derive(Debug, Clone)]
struct Launch {
    /// Which file, for messages.
    what: String,
    /// The arguments after `spektate`.
    args: Vec<String>,
    /// Environment variables with literal values.
    env: Vec<(String, String)>,
    /// Variables filled from a Secret, which the test fills itself: the store (SQLite in a
    /// temporary folder); optional ones are left unset, as when the Secret does not exist.
    secret_env: Vec<String>,
    /// Paths the deployment mounts (volumes), writable or filled by the test.
    mounts: Vec<String>,
    /// Those of `mounts` the server may write to (the others are Secrets).
    writable: Vec<String>,
    /// Files the deployment provides at a mounted path: the token file.
    token_file: Option<String>,
    /// Paths the platform GETs on the server and expects 200 from.
    probes: Vec<String>,
    /// The proxy in front, when there is one.
    proxy: Option<Proxy>,
}

/// oauth2-proxy in front of the server.
#[derive(Debug, Clone)]
struct Proxy {
    /// Paths matched without sign-in, by method.
    skip: Vec<(Option<String>, Regex)>,
    /// Whether the rules see the `?query` too: they do before oauth2-proxy v7.11.0, which
    /// matches them against the path alone.
    matches_query: bool,
    /// The headers it sets on requests it passes, naming the viewer.
    headers: Vec<String>,
}

impl Proxy {
    /// Whether a request for `uri` (a path, maybe with a `?query`) passes without sign-in.
    fn skips(&self, method: &str, uri: &str) -> bool {
        let matched = match self.matches_query {
            true => uri,
            false => uri.split('?').next().unwrap(),
        };
        self.skip
            .iter()
            .any(|(m, re)| m.as_deref().is_none_or(|m| m == method) && re.is_match(matched))
    }
}

impl Launch {
    /// The port the server listens on.
    fn port(&self) -> u16 {
        port_of(&self.args)
    }

    fn bind(&self) -> String {
        arg_value(&self.args, "--bind")
            .or_else(|| binary().default_of("bind"))
            .expect("an address")
    }

    fn auth(&self) -> String {
        arg_value(&self.args, "--auth")
            .or_else(|| self.env_value("SPEKTATE_AUTH"))
            .or_else(|| binary().default_of("auth"))
            .expect("an --auth")
    }

    fn env_value(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// The token file the server reads: `--tokens`, else SPEKTATE_TOKENS.
    fn tokens_path(&self) -> Option<String> {
        arg_value(&self.args, "--tokens").or_else(|| self.env_value("SPEKTATE_TOKENS"))
    }

    /// HOME: the variable when set, else the image's user's home directory.
    fn home(&self) -> String {
        self.env_value("HOME")
            .unwrap_or_else(|| dockerfile().home())
    }

    /// The answers cache file the server opens once it asks a provider: `--cache`, else
    /// SPEKTATE_CACHE, else under XDG_CACHE_HOME or HOME; none with `--no-cache`.
    fn cache_path(&self) -> Option<String> {
        if self.args.iter().any(|a| a == "--no-cache") {
            return None;
        }
        let default = || {
            let dir = self
                .env_value("XDG_CACHE_HOME")
                .unwrap_or_else(|| format!("{}/.cache", self.home()));
            format!("{dir}/spektate/answers.sqlite")
        };
        Some(
            arg_value(&self.args, "--cache")
                .or_else(|| self.env_value("SPEKTATE_CACHE"))
                .unwrap_or_else(default),
        )
    }

    /// Checks what can be checked without running it.
    fn check(&self) {
        let what = &self.what;
        check_args(&self.args, what);
        for name in self.env.iter().map(|(n, _)| n).chain(&self.secret_env) {
            assert!(
                binary().reads_env(name),
                "{what} sets {name}, which `spektate serve` does not read"
            );
        }
        let auth = self.auth();
        let loopback = matches!(self.bind().as_str(), "127.0.0.1" | "::1" | "localhost");
        match auth.as_str() {
            "header" => {
                assert!(
                    loopback,
                    "{what}: --auth header trusts a header anyone could set unless only the proxy reaches the server; it binds {}",
                    self.bind()
                );
                let proxy = self
                    .proxy
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: --auth header with no proxy in front"));
                let trusted = arg_value(&self.args, "--auth-header")
                    .or_else(|| binary().default_of("auth-header"))
                    .unwrap();
                let trusted: Vec<String> = trusted
                    .split(',')
                    .map(|h| h.trim().to_lowercase())
                    .collect();
                assert!(
                    proxy
                        .headers
                        .iter()
                        .any(|h| trusted.contains(&h.to_lowercase())),
                    "{what}: the proxy sets {:?}, the server trusts {trusted:?}",
                    proxy.headers
                );
            }
            "token" => {
                assert!(
                    self.tokens_path().is_some(),
                    "{what}: --auth token without a token file"
                );
            }
            other => panic!(
                "{what}: viewers sign in with --auth {other}; a team server needs token or header"
            ),
        }
        let tokens = self
            .tokens_path()
            .unwrap_or_else(|| panic!("{what}: no token file, so every write is refused"));
        assert!(
            self.mounts.iter().any(|m| under(&tokens, m)),
            "{what}: the token file {tokens} is not on a mounted volume"
        );
        if let Some(file) = &self.token_file {
            assert_eq!(
                &tokens, file,
                "{what}: the server reads another token file than the one mounted"
            );
        }
        // Every path the server writes is on a writable volume: the root file system is
        // read-only.
        if let Some(cache) = self.cache_path() {
            assert!(
                self.writable.iter().any(|m| under(&cache, m)),
                "{what}: the answers cache {cache} is on no writable volume ({:?}), so it is never kept",
                self.writable
            );
        }
    }
}

fn under(path: &str, mount: &str) -> bool {
    path == mount || path.starts_with(&format!("{}/", mount.trim_end_matches('/')))
}

// ---------------------------------------------------------------------------------------
// Running the server as a deployment file starts it.

/// A server started for a test, stopped however the test ends.
struct Running {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// An answer: status and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {raw}"));
    Answer {
        status,
        body: body.to_string(),
    }
}

/// Where the test puts a deployment's mounted paths, and how it rewrites paths into them.
struct Mounts {
    map: Vec<(String, PathBuf)>,
}

impl Mounts {
    fn new(launch: &Launch, dir: &Path) -> Mounts {
        let map = launch
            .mounts
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let local = dir.join(format!("mount{i}"));
                std::fs::create_dir_all(&local).unwrap();
                (m.clone(), local)
            })
            .collect();
        Mounts { map }
    }

    /// `path` in the test's folder when it is on a mount.
    fn on_volume(&self, path: &str) -> Option<PathBuf> {
        let (mount, local) = self
            .map
            .iter()
            .filter(|(m, _)| under(path, m))
            .max_by_key(|(m, _)| m.len())?;
        Some(local.join(path[mount.len()..].trim_start_matches('/')))
    }

    /// `path` in the test's folder; a path on no mount is the deployment's root file
    /// system, which is read-only.
    fn local(&self, path: &str, what: &str) -> PathBuf {
        self.on_volume(path).unwrap_or_else(|| {
            panic!("{what}: {path} is on no volume, and the root file system is read-only")
        })
    }

    /// An argument or variable's value with its mounted paths rewritten.
    fn rewrite(&self, value: &str, what: &str) -> String {
        if let Some(path) = value.strip_prefix("sqlite:") {
            return format!("sqlite:{}", self.local(path, what).display());
        }
        if value.starts_with('/') {
            return self.local(value, what).display().to_string();
        }
        value.to_string()
    }
}

/// The command line and environment a deployment file gives, rewritten for this machine:
/// mounted paths into `mounts` (HOME too, else a folder on no mount), a SQLite store for the
/// store Secret, `--bind` and `--port` replaced when given.
fn command(
    launch: &Launch,
    mounts: &Mounts,
    dir: &Path,
    bind: Option<&str>,
    port: Option<u16>,
) -> Command {
    let what = &launch.what;
    let mut args = Vec::new();
    let mut i = 0;
    while i < launch.args.len() {
        let a = &launch.args[i];
        let replaced = match a.as_str() {
            "--bind" => bind.map(str::to_string),
            "--port" => port.map(|p| p.to_string()),
            _ => None,
        };
        args.push(a.clone());
        if a.starts_with("--")
            && !a.contains('=')
            && i + 1 < launch.args.len()
            && !launch.args[i + 1].starts_with("--")
        {
            let v = &launch.args[i + 1];
            args.push(replaced.unwrap_or_else(|| mounts.rewrite(v, what)));
            i += 1;
        }
        i += 1;
    }
    if let Some(p) = port.filter(|_| arg_value(&launch.args, "--port").is_none()) {
        args.extend(["--port".to_string(), p.to_string()]);
    }
    let home = mounts
        .on_volume(&launch.home())
        .unwrap_or_else(|| dir.join("root-file-system-home"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_spektate"));
    c.args(&args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home);
    for (k, v) in &launch.env {
        c.env(k, mounts.rewrite(v, what));
    }
    for name in &launch.secret_env {
        if name == "SPEKTATE_STORE" {
            c.env(
                name,
                format!("sqlite:{}", dir.join("spektate.db").display()),
            );
        }
    }
    c
}

/// The test's tokens: one that writes and one that reads the partition.
struct Tokens {
    write: String,
    read: String,
}

fn make_tokens(path: &Path, partition: &str) -> Tokens {
    use spektate::dashboard::tokens::{Scope, TokenFile};
    let mut file = TokenFile::default();
    let write = file
        .create("ci", &[Scope::Write], &[partition.to_string()])
        .unwrap();
    let read = file
        .create("team", &[Scope::Read], &[partition.to_string()])
        .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    file.save(path).unwrap();
    Tokens {
        write: write.expose().to_string(),
        read: read.expose().to_string(),
    }
}

/// Starts the server as `launch` says, on 127.0.0.1 and a port it picks (`--port 0`), and
/// waits until it says where it listens; fails with its log if it stops instead.
fn start(launch: &Launch, mounts: &Mounts, dir: &Path) -> Running {
    let log = dir.join("server.log");
    let out = dir.join("server.out");
    let mut c = command(launch, mounts, dir, Some("127.0.0.1"), Some(0));
    let child = c
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut running = Running {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        log,
    };
    let url = Regex::new(r"http://127\.0\.0\.1:(\d+)/").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            panic!(
                "{}: spektate {:?} stopped ({status}):\n{}",
                launch.what,
                launch.args,
                running.log()
            );
        }
        let said = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(port) = url.captures(&said) {
            running.addr.set_port(port[1].parse().unwrap());
            return running;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the server does not listen after 60 s:\n{}",
            launch.what,
            running.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GETs `path` until it answers 200, while it answers 503 (health does until the first
/// refresh is done).
fn eventually_ok(server: &Running, path: &str, headers: &[(&str, &str)], what: &str) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = request(server.addr, "GET", path, headers, "");
        if a.status == 200 {
            return a;
        }
        assert!(
            a.status == 503 && Instant::now() < deadline,
            "{what}: GET {path} answers {}: {}\n{}",
            a.status,
            a.body,
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts the server exactly as `launch` does, but on a port already taken on loopback: it
/// must get as far as listening (so it accepts every flag and the address with its `--auth`)
/// and then refuse the port, without ever listening on a wider address here. Given a GitHub
/// token, as when the providers' Secret exists, it has opened its answers cache by then: at
/// the path the deployment gives, on its volume.
fn check_accepted_up_to_listening(launch: &Launch) {
    let dir = tempfile::tempdir().unwrap();
    let mounts = Mounts::new(launch, dir.path());
    if let Some(path) = launch.tokens_path() {
        make_tokens(&mounts.local(&path, &launch.what), "default");
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let log = dir.path().join("server.log");
    let child = command(launch, &mounts, dir.path(), None, Some(port))
        .env("SPEKTATE_GITHUB_TOKEN", "a-github-token")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut running = Running {
        child,
        addr: taken.local_addr().unwrap(),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{}: still running after 60 s on a port that is taken:\n{}",
            launch.what,
            running.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = running.log();
    assert!(
        !status.success() && stderr.contains("invalid --port"),
        "{}: spektate {:?} with its own --bind should reach listening and find the port taken; it said:\n{stderr}",
        launch.what,
        launch.args
    );
    if let Some(cache) = launch.cache_path() {
        assert!(
            mounts.local(&cache, &launch.what).is_file(),
            "{}: no answers cache at {cache}; the server said:\n{stderr}",
            launch.what
        );
    }
    drop(taken);
}

/// Runs the server as `launch` starts it and checks it from the outside as the platform and
/// its users reach it.
fn exercise(launch: &Launch) {
    let what = &launch.what;
    launch.check();
    check_accepted_up_to_listening(launch);
    let dir = tempfile::tempdir().unwrap();
    let mounts = Mounts::new(launch, dir.path());
    let partition = launch
        .env_value("SPEKTATE_PARTITION_KEY")
        .or_else(|| binary().default_of("partition-key"))
        .unwrap();
    let tokens_path = launch.tokens_path().unwrap();
    let tokens = make_tokens(&mounts.local(&tokens_path, what), &partition);
    let server = start(launch, &mounts, dir.path());

    for path in &launch.probes {
        eventually_ok(&server, path, &[], what);
    }

    // Viewers: refused without credentials, let in with those the setup gives them.
    let read = format!("Bearer {}", tokens.read);
    let viewer: Vec<(&str, &str)> = match (&launch.proxy, launch.auth().as_str()) {
        (Some(proxy), "header") => vec![(proxy.headers[0].as_str(), "mona@example.com")],
        (_, "token") => vec![("Authorization", read.as_str())],
        (_, other) => panic!("{what}: --auth {other}"),
    };
    for path in ["/", "/api/deployments"] {
        let anonymous = request(server.addr, "GET", path, &[], "");
        assert_eq!(
            anonymous.status, 401,
            "{what}: GET {path} without sign-in: {}",
            anonymous.body
        );
        eventually_ok(&server, path, &viewer, what);
    }

    // Pipelines write with a token from the mounted token file.
    let kind = spektate::ingest::Kind::Run;
    let body = spektate::dashboard::example(kind).to_string();
    let refused = request(server.addr, "POST", kind.path(), &[], &body);
    assert_eq!(
        refused.status, 401,
        "{what}: a write without a token: {}",
        refused.body
    );
    let write = format!("Bearer {}", tokens.write);
    let written = request(
        server.addr,
        "POST",
        kind.path(),
        &[("Authorization", write.as_str())],
        &body,
    );
    assert!(
        (200..300).contains(&written.status),
        "{what}: a write with a write token from {tokens_path}: {} {}\n{}",
        written.status,
        written.body,
        server.log()
    );

    // The proxy lets through exactly what the server checks itself.
    if let Some(proxy) = &launch.proxy {
        let doc: Value =
            serde_json::from_str(&eventually_ok(&server, "/api/openapi.json", &viewer, what).body)
                .unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                let method = method.to_uppercase();
                let public = op["security"].as_array().is_some_and(Vec::is_empty);
                let skipped = proxy.skips(&method, path);
                if method == "POST" {
                    assert!(
                        skipped,
                        "{what}: the proxy asks pipelines to sign in for POST {path}"
                    );
                    // As `spektate record --server` and the GitOps agents' hooks send it.
                    let sent = format!("{path}?partition={partition}");
                    assert!(
                        proxy.skips(&method, &sent),
                        "{what}: the proxy asks pipelines to sign in for POST {sent}"
                    );
                } else if !public {
                    assert!(
                        !skipped,
                        "{what}: the proxy lets anyone through to {method} {path}, which is for viewers"
                    );
                }
            }
        }
        for path in launch.probes.iter().map(String::as_str).chain(["/metrics"]) {
            assert!(
                proxy.skips("GET", path),
                "{what}: the proxy asks the platform to sign in for GET {path}"
            );
            assert!(
                paths.contains_key(path),
                "{what}: {path} is not a route of the server"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Kubernetes objects, from kustomize or the chart.

/// The objects of one deployment, and what they may refer to that is made elsewhere.
struct Objects<'a> {
    what: String,
    objects: Vec<Value>,
    /// Secrets made outside these objects (kustomize's generator, or by hand), with the
    /// keys they hold when known.
    outside: &'a [(&'a str, Option<Vec<String>>)],
}

impl Objects<'_> {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one(&self, kind: &str) -> &Value {
        let all = self.of_kind(kind);
        assert_eq!(all.len(), 1, "{}: {} {kind} objects", self.what, all.len());
        all[0]
    }

    /// The keys of the Secret named `name`: one of the objects, or made outside.
    fn secret_keys(&self, name: &str) -> Option<Option<Vec<String>>> {
        if let Some(s) = self
            .of_kind("Secret")
            .into_iter()
            .find(|s| s["metadata"]["name"] == name)
        {
            let mut keys = Vec::new();
            for field in ["data", "stringData"] {
                if let Some(m) = s[field].as_object() {
                    keys.extend(m.keys().cloned());
                }
            }
            return Some(Some(keys));
        }
        self.outside
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, keys)| keys.clone())
    }

    /// Checks that a Secret reference resolves, unless it is optional.
    fn check_secret(&self, name: &str, key: Option<&str>, optional: bool, at: &str) {
        match self.secret_keys(name) {
            Some(Some(keys)) => {
                if let Some(key) = key {
                    assert!(
                        keys.iter().any(|k| k == key) || optional,
                        "{}: {at} reads key {key} of Secret {name}, which has {keys:?}",
                        self.what
                    );
                }
            }
            Some(None) => {}
            None => assert!(
                optional,
                "{}: {at} reads Secret {name}, which nothing makes",
                self.what
            ),
        }
    }
}

fn labels_match(selector: &Value, labels: &Value, what: &str) {
    let selector = selector
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no selector"));
    assert!(!selector.is_empty(), "{what}: an empty selector");
    for (k, v) in selector {
        assert_eq!(
            &labels[k], v,
            "{what}: selects {k}={v}, the pods have {}",
            labels[k]
        );
    }
}

/// The container port a probe or Service port names: a number, or a port's name in `own`.
fn resolve_port(port: &Value, own: &Value, pod: &Value, what: &str) -> (String, u16) {
    let containers = pod["containers"].as_array().unwrap();
    if let Some(name) = port.as_str() {
        let p = own["ports"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .unwrap_or_else(|| panic!("{what}: no port named {name} in container {}", own["name"]));
        return (
            own["name"].as_str().unwrap().to_string(),
            p["containerPort"].as_u64().unwrap() as u16,
        );
    }
    let number = port
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: port {port}")) as u16;
    let c = containers
        .iter()
        .find(|c| {
            c["ports"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["containerPort"] == number))
        })
        .unwrap_or_else(|| panic!("{what}: no container declares port {number}"));
    (c["name"].as_str().unwrap().to_string(), number)
}

/// A container's port by its name, in any container of the pod (what a Service's
/// targetPort name means).
fn named_port(pod: &Value, name: &str, what: &str) -> (String, u16) {
    for c in pod["containers"].as_array().unwrap() {
        if let Some(p) = c["ports"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        {
            return (
                c["name"].as_str().unwrap().to_string(),
                p["containerPort"].as_u64().unwrap() as u16,
            );
        }
    }
    panic!("{what}: no container has a port named {name}")
}

/// Checks the security settings of a pod and its containers.
fn check_security(pod: &Value, c: &Value, uid: u64, what: &str) {
    let p = &pod["securityContext"];
    let s = &c["securityContext"];
    let either = |key: &str| if s[key].is_null() { &p[key] } else { &s[key] };
    assert_eq!(either("runAsNonRoot"), &json!(true), "{what}: runAsNonRoot");
    let user = either("runAsUser");
    assert!(
        user.is_null() || user == &json!(uid),
        "{what}: runs as user {user}, the image's user is {uid}"
    );
    assert_eq!(
        either("seccompProfile")["type"],
        "RuntimeDefault",
        "{what}: seccomp profile"
    );
    assert_eq!(
        s["readOnlyRootFilesystem"],
        json!(true),
        "{what}: readOnlyRootFilesystem"
    );
    assert_eq!(
        s["allowPrivilegeEscalation"],
        json!(false),
        "{what}: allowPrivilegeEscalation"
    );
    assert_eq!(
        s["capabilities"]["drop"],
        json!(["ALL"]),
        "{what}: capabilities"
    );
    assert!(
        s["capabilities"]["add"].is_null(),
        "{what}: adds capabilities"
    );
    assert!(s["privileged"] != json!(true), "{what}: privileged");
}

/// Checks a deployment's objects and returns how it starts the server.
fn check_objects(objs: &Objects, uid: u64, replicas: u64) -> Launch {
    let what = &objs.what;
    let deployment = objs.one("Deployment");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], json!(replicas), "{what}: replicas");
    let template = &spec["template"];
    let pod = &template["spec"];
    let pod_labels = &template["metadata"]["labels"];
    labels_match(
        &spec["selector"]["matchLabels"],
        pod_labels,
        &format!("{what} Deployment"),
    );
    assert_eq!(
        pod["enableServiceLinks"],
        json!(false),
        "{what}: the kubelet would set SPEKTATE_* variables of a Service named spektate"
    );
    assert_eq!(
        pod["automountServiceAccountToken"],
        json!(false),
        "{what}: a token for the Kubernetes API the server never uses"
    );
    if let Some(sa) = pod["serviceAccountName"].as_str() {
        assert!(
            objs.of_kind("ServiceAccount")
                .iter()
                .any(|s| s["metadata"]["name"] == sa),
            "{what}: service account {sa} is not made"
        );
    }

    let containers = pod["containers"].as_array().unwrap();
    let c = containers
        .iter()
        .find(|c| c["name"] == "spektate")
        .unwrap_or_else(|| panic!("{what}: no container spektate"));
    for each in containers {
        check_security(
            pod,
            each,
            uid,
            &format!("{what} container {}", each["name"]),
        );
        let r = &each["resources"];
        for need in [
            &r["requests"]["cpu"],
            &r["requests"]["memory"],
            &r["limits"]["memory"],
        ] {
            assert!(
                !need.is_null(),
                "{what} container {}: resources {r}",
                each["name"]
            );
        }
    }
    assert!(
        c["command"].is_null(),
        "{what}: the container replaces the image's entrypoint"
    );
    let args = strings(&c["args"], "args");

    let mut env = Vec::new();
    let mut secret_env = Vec::new();
    for e in c["env"].as_array().into_iter().flatten() {
        let name = str_of(&e["name"], "env name").to_string();
        if let Some(v) = e.get("value") {
            env.push((name, str_of(v, &format!("{what} env value")).to_string()));
            continue;
        }
        let r = &e["valueFrom"]["secretKeyRef"];
        assert!(
            !r.is_null(),
            "{what}: env {name} from something other than a Secret: {e}"
        );
        let optional = r["optional"] == json!(true);
        objs.check_secret(
            str_of(&r["name"], "secret name"),
            r["key"].as_str(),
            optional,
            &format!("env {name}"),
        );
        if name == "SPEKTATE_STORE" {
            assert!(!optional, "{what}: the store's Secret is optional");
        }
        if !optional {
            secret_env.push(name.clone());
        } else {
            // Checked as read, not set while running here.
            assert!(
                binary().reads_env(&name),
                "{what} sets {name}, which `spektate serve` does not read"
            );
        }
    }
    assert!(
        secret_env.iter().any(|n| n == "SPEKTATE_STORE"),
        "{what}: the store URL does not come from a Secret"
    );

    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    let mut mounts = Vec::new();
    let mut writable = Vec::new();
    let mut token_file = None;
    let tokens_arg = arg_value(&args, "--tokens");
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let name = str_of(&m["name"], "mount name");
        let path = str_of(&m["mountPath"], "mountPath").to_string();
        let v = volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{what}: mount {name} names no volume"));
        if let Some(secret) = v["secret"]["secretName"].as_str() {
            assert_eq!(
                m["readOnly"],
                json!(true),
                "{what}: the Secret volume {name} is writable"
            );
            let file = tokens_arg
                .as_deref()
                .filter(|t| under(t, &path))
                .unwrap_or_else(|| {
                    panic!("{what}: Secret volume {name} at {path} holds no file the server reads")
                });
            let key = &file[path.len()..].trim_start_matches('/');
            objs.check_secret(secret, Some(key), false, &format!("volume {name}"));
            token_file = Some(file.to_string());
        } else {
            assert!(!v["emptyDir"].is_null(), "{what}: volume {name}: {v}");
            writable.push(path.clone());
        }
        mounts.push(path);
    }

    // Probes: paths and ports, through the proxy when there is one.
    let mut probes = Vec::new();
    let mut proxy = None;
    let port = port_of(&args);
    for kind in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let p = &c[kind]["httpGet"];
        assert!(!p.is_null(), "{what}: no HTTP {kind}");
        let path = str_of(&p["path"], "probe path").to_string();
        let (target, at) = resolve_port(&p["port"], c, pod, &format!("{what} {kind}"));
        if target == "spektate" {
            assert_eq!(
                at, port,
                "{what}: {kind} asks port {at}, the server listens on {port}"
            );
        } else {
            let (_, upstream) = proxy_of(pod, &target, what);
            assert_eq!(
                upstream, port,
                "{what}: the proxy passes to port {upstream}, the server listens on {port}"
            );
            proxy = Some(proxy_settings(pod, &target, at, what));
        }
        probes.push(path);
    }
    assert!(
        probes.iter().any(|p| p == "/api/health"),
        "{what}: no probe on /api/health"
    );
    assert!(
        probes.iter().any(|p| p == "/api/ready"),
        "{what}: no probe on /api/ready"
    );
    if let Some(cp) = c["ports"].as_array() {
        for p in cp {
            assert_eq!(
                p["containerPort"],
                json!(port),
                "{what}: the container declares {p}, the server listens on {port}"
            );
        }
    }

    // The Service reaches the server, or the proxy in front of it.
    let service = objs.one("Service");
    labels_match(
        &service["spec"]["selector"],
        pod_labels,
        &format!("{what} Service"),
    );
    for sp in service["spec"]["ports"].as_array().unwrap() {
        let target = &sp["targetPort"];
        let (container, at) = match target.as_str() {
            Some(name) => named_port(pod, name, &format!("{what} Service")),
            None => resolve_port(target, c, pod, &format!("{what} Service")),
        };
        if container == "spektate" {
            assert_eq!(
                at, port,
                "{what}: the Service sends to {at}, the server listens on {port}"
            );
        } else {
            assert!(
                proxy.is_some(),
                "{what}: the Service sends to container {container}, which is no proxy the probes use"
            );
            assert_eq!(
                at,
                proxy_listen(pod, &container, what),
                "{what}: the Service sends to {at} of {container}"
            );
        }
    }
    for pdb in objs.of_kind("PodDisruptionBudget") {
        labels_match(
            &pdb["spec"]["selector"]["matchLabels"],
            pod_labels,
            &format!("{what} PodDisruptionBudget"),
        );
        assert!(
            pdb["spec"]["minAvailable"].as_u64().unwrap() < replicas,
            "{what}: the budget blocks every drain"
        );
    }

    Launch {
        what: what.clone(),
        args,
        env,
        secret_env,
        mounts,
        writable,
        token_file,
        probes,
        proxy,
    }
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// The address a proxy container listens on (`--http-address`) and the port it passes to
/// on loopback (`--upstream`).
fn proxy_of(pod: &Value, name: &str, what: &str) -> (u16, u16) {
    let args = strings(&container(pod, name)["args"], "proxy args");
    let upstream = arg_value(&args, "--upstream")
        .unwrap_or_else(|| panic!("{what}: {name} has no --upstream"));
    let port = Regex::new(r"^http://127\.0\.0\.1:(\d+)/?$")
        .unwrap()
        .captures(&upstream)
        .unwrap_or_else(|| {
            panic!("{what}: {name} passes to {upstream}, not to the server on loopback")
        })[1]
        .parse()
        .unwrap();
    (proxy_listen(pod, name, what), port)
}

fn proxy_listen(pod: &Value, name: &str, what: &str) -> u16 {
    let args = strings(&container(pod, name)["args"], "proxy args");
    let listen = arg_value(&args, "--http-address")
        .unwrap_or_else(|| panic!("{what}: {name} has no --http-address"));
    listen.rsplit(':').next().unwrap().parse().unwrap()
}

/// oauth2-proxy's settings: what it lets through without sign-in and which headers it sets.
fn proxy_settings(pod: &Value, name: &str, probe_port: u16, what: &str) -> Proxy {
    let c = container(pod, name);
    let image = str_of(&c["image"], "image");
    assert!(
        image.contains("oauth2-proxy"),
        "{what}: the proxy is {image}"
    );
    let version = Regex::new(r":v(\d+)\.(\d+)\.(\d+)$")
        .unwrap()
        .captures(image)
        .map(|v| {
            let n = |i: usize| v[i].parse::<u32>().unwrap();
            (n(1), n(2), n(3))
        })
        .unwrap_or_else(|| panic!("{what}: the proxy image {image} is not tagged vX.Y.Z"));
    assert_eq!(
        proxy_listen(pod, name, what),
        probe_port,
        "{what}: the probes ask {name} on another port"
    );
    let args = strings(&c["args"], "proxy args");
    let flag = |f: &str| arg_value(&args, f);
    assert_eq!(
        flag("--pass-user-headers").as_deref(),
        Some("true"),
        "{what}: the proxy must name the viewer"
    );
    assert_eq!(
        flag("--skip-auth-strip-headers").as_deref(),
        Some("true"),
        "{what}: the proxy must drop the viewer headers a client sends"
    );
    for sets_authorization in ["--pass-basic-auth", "--pass-authorization-header"] {
        assert_eq!(
            flag(sets_authorization).as_deref(),
            Some("false"),
            "{what}: with {sets_authorization} the proxy replaces (and drops) pipelines' Authorization header"
        );
    }
    let mut skip = Vec::new();
    let method_rule = Regex::new(r"^([A-Z]+)=(.*)$").unwrap();
    for a in &args {
        if let Some(rule) = a.strip_prefix("--skip-auth-route=") {
            assert!(!rule.contains("!="), "{what}: negated rule {rule}");
            let method = method_rule.captures(rule);
            let (method, pattern) = match method {
                Some(m) => (Some(m[1].to_string()), m[2].to_string()),
                None => (None, rule.to_string()),
            };
            skip.push((method, Regex::new(&pattern).unwrap()));
        }
    }
    Proxy {
        skip,
        // v7.11.0 and later match --skip-auth-route against the path without the ?query.
        matches_query: version < (7, 11, 0),
        headers: vec!["X-Forwarded-User".into(), "X-Forwarded-Email".into()],
    }
}

// ---------------------------------------------------------------------------------------
// The Dockerfile.

/// The instructions of a Dockerfile, stage by stage.
struct Dockerfile {
    stages: Vec<Vec<(String, String)>>,
}

fn dockerfile() -> Dockerfile {
    let text = read("Dockerfile");
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let t = line.trim();
        if logical.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if t.starts_with('#') {
            continue;
        }
        if let Some(part) = t.strip_suffix('\\') {
            logical.push_str(part);
            logical.push(' ');
            continue;
        }
        logical.push_str(t);
        let (word, rest) = logical
            .split_once(char::is_whitespace)
            .unwrap_or((&logical, ""));
        let word = word.to_uppercase();
        if word == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("a FROM first")
            .push((word, rest.trim().to_string()));
        logical.clear();
    }
    Dockerfile { stages }
}

impl Dockerfile {
    fn last(&self) -> &[(String, String)] {
        self.stages.last().unwrap()
    }

    fn get(&self, word: &str) -> Vec<&str> {
        self.last()
            .iter()
            .filter(|(w, _)| w == word)
            .map(|(_, r)| r.as_str())
            .collect()
    }

    fn only(&self, word: &str) -> &str {
        let all = self.get(word);
        assert_eq!(all.len(), 1, "the final stage has {} {word}", all.len());
        all[0]
    }

    /// The numeric user and group the final stage runs as.
    fn uid(&self) -> u64 {
        let user = self.only("USER");
        let (u, g) = user.split_once(':').unwrap_or((user, ""));
        assert!(
            g.is_empty() || g.parse::<u64>().is_ok(),
            "USER {user}: a numeric group"
        );
        let uid: u64 = u.parse().unwrap_or_else(|_| {
            panic!("USER {user}: Kubernetes checks runAsNonRoot only against a numeric user")
        });
        assert_ne!(uid, 0, "USER {user} is root");
        uid
    }

    /// The home directory of the user the final stage makes (`useradd --home-dir`).
    fn home(&self) -> String {
        let homes: Vec<String> = self
            .get("RUN")
            .iter()
            .flat_map(|r| {
                Regex::new(r"useradd .*--home-dir (\S+)")
                    .unwrap()
                    .captures(r)
            })
            .map(|c| c[1].to_string())
            .collect();
        assert_eq!(homes.len(), 1, "the final stage makes one user: {homes:?}");
        homes[0].clone()
    }

    fn exec_form(&self, word: &str) -> Vec<String> {
        let v: Value = serde_json::from_str(self.only(word))
            .unwrap_or_else(|e| panic!("{word} is not in exec form (a JSON list): {e}"));
        strings(&v, word)
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for rest in self.get("ENV") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("ENV {rest}: use KEY=VALUE"));
                env.push((k.to_string(), v.trim_matches('"').to_string()));
            }
        }
        env
    }
}

#[test]
fn the_dockerfile_builds_the_binary_and_runs_it_as_a_user_with_a_health_check() {
    let d = dockerfile();
    assert!(d.stages.len() >= 2, "a multi-stage build");
    let build = &d.stages[0];
    let (_, from) = &build[0];
    let build_name = from
        .split_whitespace()
        .last()
        .filter(|_| from.to_uppercase().contains(" AS "))
        .expect("the build stage is named");
    let rust = Regex::new(r"^rust:(\d+)\.(\d+)")
        .unwrap()
        .captures(from)
        .unwrap_or_else(|| panic!("the build stage is FROM {from}, not a versioned rust image"));
    let wanted = Regex::new(r#"rust-version = "(\d+)\.(\d+)""#)
        .unwrap()
        .captures(&read("Cargo.toml"))
        .map(|c| (c[1].parse::<u32>().unwrap(), c[2].parse::<u32>().unwrap()))
        .unwrap();
    let have = (
        rust[1].parse::<u32>().unwrap(),
        rust[2].parse::<u32>().unwrap(),
    );
    assert!(
        have >= wanted,
        "Rust {have:?} is older than the workspace's rust-version {wanted:?}"
    );
    let builds = build
        .iter()
        .any(|(w, r)| w == "RUN" && r.contains("cargo build --release --locked -p spektate-cli"));
    assert!(
        builds,
        "the build stage builds spektate-cli in release mode from Cargo.lock"
    );

    let last = d.last();
    assert!(
        !last[0].1.starts_with("rust:"),
        "the image ships the Rust toolchain"
    );
    let copy = d
        .get("COPY")
        .into_iter()
        .find(|c| c.contains(&format!("--from={build_name}")))
        .expect("the binary is copied from the build stage");
    assert!(copy.ends_with("/usr/local/bin/spektate"), "COPY {copy}");
    assert_eq!(d.exec_form("ENTRYPOINT"), ["spektate"]);
    // The user README names is the one the image runs as.
    let readme = read("README.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        readme.contains(&format!("--auth token` as user {}, ", d.uid())),
        "README names another user than USER {}",
        d.uid()
    );

    // The health check: a program the image has, asking the server's own port and path.
    let check = d.only("HEALTHCHECK");
    let cmd = check
        .split_once("CMD ")
        .map(|(_, c)| c)
        .expect("HEALTHCHECK CMD [...]");
    let cmd: Vec<String> = strings(&serde_json::from_str(cmd).unwrap(), "HEALTHCHECK CMD");
    let installed = d
        .get("RUN")
        .iter()
        .any(|r| r.contains("apt-get install") && r.split_whitespace().any(|w| w == cmd[0]));
    assert!(
        installed,
        "the health check runs {}, which the final stage does not install",
        cmd[0]
    );
    assert!(
        cmd.iter().any(|a| a == "--fail"),
        "the health check must fail on an error status"
    );
    let url = cmd.last().unwrap();
    let url = Regex::new(r"^http://127\.0\.0\.1:(\d+)(/.*)$")
        .unwrap()
        .captures(url)
        .unwrap_or_else(|| panic!("the health check asks {url}"));
    let launch = docker_launch(&d, vec![url[2].to_string()]);
    assert_eq!(
        url[1].parse::<u16>().unwrap(),
        launch.port(),
        "the health check asks another port"
    );
    assert_eq!(url[2].to_string(), "/api/health");
    let exposed: Vec<u16> = d
        .get("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .map(|p| p.trim_end_matches("/tcp").parse().unwrap())
        .collect();
    assert_eq!(exposed, [launch.port()], "EXPOSE");
    exercise(&launch);
}

/// How the image starts the server, run as its comment shows: read-only, with the volumes
/// and tmpfs that command line gives.
fn docker_launch(d: &Dockerfile, probes: Vec<String>) -> Launch {
    let mut args = d.exec_form("ENTRYPOINT")[1..].to_vec();
    args.extend(d.exec_form("CMD"));
    let text = read("Dockerfile");
    let run = Regex::new(r"(?m)^#\s+docker run (.*) spektate$")
        .unwrap()
        .captures(&text)
        .expect("the Dockerfile shows how to run the server")[1]
        .to_string();
    let words: Vec<&str> = run.split_whitespace().collect();
    assert!(
        words.contains(&"--read-only"),
        "docker run {run}: not --read-only"
    );
    let mut mounts = Vec::new();
    for pair in words.windows(2) {
        match pair[0] {
            "--tmpfs" => mounts.push(pair[1].to_string()),
            "-v" | "--volume" => mounts.push(pair[1].split(':').nth(1).unwrap().to_string()),
            "-p" | "--publish" => {
                let inside: u16 = pair[1].rsplit(':').next().unwrap().parse().unwrap();
                assert_eq!(
                    inside,
                    port_of(&args),
                    "docker run {run}: publishes another port"
                );
            }
            _ => {}
        }
    }
    for volume in d.get("VOLUME").iter().flat_map(|v| v.split_whitespace()) {
        assert!(
            mounts.iter().any(|m| m == volume),
            "docker run {run}: no volume at {volume}"
        );
    }
    Launch {
        what: "Dockerfile".into(),
        args,
        env: d.env(),
        secret_env: vec![],
        writable: mounts.clone(),
        mounts,
        token_file: None,
        probes,
        proxy: None,
    }
}

/// Runs the `spektate token create` lines of a document with `env`, the token file moved to
/// `file`; checks that each token is in the file and may use `partition`.
fn run_token_lines(doc: &str, what: &str, env: &[(String, String)], file: &Path, partition: &str) {
    let lines: Vec<&str> = Regex::new(r"(?m)spektate (token create [^`\n]*)")
        .unwrap()
        .captures_iter(doc)
        .map(|c| c.get(1).unwrap().as_str().trim())
        .collect();
    assert!(!lines.is_empty(), "{what} shows no `spektate token create`");
    for line in lines {
        let mut args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if let Some(at) = args.iter().position(|a| a == "--tokens") {
            args[at + 1] = file.display().to_string();
        }
        let out = Command::new(env!("CARGO_BIN_EXE_spektate"))
            .args(&args)
            .env_clear()
            .envs(env.iter().cloned())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{what}: spektate {line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap();
        let tokens = spektate::dashboard::tokens::TokenFile::load(file).unwrap();
        let entry = tokens.verify(token.trim()).unwrap_or_else(|| {
            panic!("{what}: spektate {line} made a token the server's file does not hold")
        });
        assert!(
            entry.partitions.iter().any(|p| p == partition),
            "{what}: spektate {line} makes a token for {:?}; the server serves {partition}",
            entry.partitions
        );
    }
}

#[test]
fn the_documented_token_commands_make_tokens_the_servers_accept() {
    // The image: `docker run --rm -v spektate:/data spektate token create ...`, with the
    // image's environment and its volume.
    let d = dockerfile();
    let launch = docker_launch(&d, vec![]);
    let dir = tempfile::tempdir().unwrap();
    let mounts = Mounts::new(&launch, dir.path());
    let env: Vec<(String, String)> = launch
        .env
        .iter()
        .map(|(k, v)| (k.clone(), mounts.rewrite(v, "Dockerfile")))
        .collect();
    let file = mounts.local(&launch.tokens_path().unwrap(), "Dockerfile");
    let text = read("Dockerfile");
    assert!(
        text.contains("docker run --rm -v spektate:/data spektate token create"),
        "the Dockerfile shows how to make a token in the image's volume"
    );
    run_token_lines(
        &text,
        "Dockerfile",
        &env,
        &file,
        &binary().default_of("partition-key").unwrap(),
    );

    // deploy/kubernetes: the secrets' README, for the Deployment's partition.
    let deployment = &yaml_docs(
        &read("deploy/kubernetes/deployment.yaml"),
        "deployment.yaml",
    )[0];
    let partition = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SPEKTATE_PARTITION_KEY")
        .map(|e| str_of(&e["value"], "partition").to_string())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    run_token_lines(
        &read("deploy/kubernetes/secrets/README.md"),
        "deploy/kubernetes/secrets/README.md",
        &[],
        &dir.path().join("tokens.json"),
        &partition,
    );

    // The chart's notes, for its partition.
    for partition in ["default", "fabrikam"] {
        let notes = render_chart("spektate", &json!({"partition": partition})).notes;
        let dir = tempfile::tempdir().unwrap();
        run_token_lines(
            &notes,
            "NOTES.txt",
            &[],
            &dir.path().join("tokens.json"),
            partition,
        );
    }
}

#[test]
fn the_dockerignore_keeps_what_the_build_needs() {
    let patterns: Vec<Regex> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|p| {
            assert!(!p.starts_with('!'), "exceptions are not checked here: {p}");
            let mut re = String::from("^");
            let p = p.trim_start_matches("/").trim_end_matches('/');
            let mut chars = p.chars().peekable();
            while let Some(ch) = chars.next() {
                match ch {
                    '*' if chars.peek() == Some(&'*') => {
                        chars.next();
                        if chars.peek() == Some(&'/') {
                            chars.next();
                        }
                        re.push_str("(?:.*/)?");
                    }
                    '*' => re.push_str("[^/]*"),
                    '?' => re.push_str("[^/]"),
                    c => re.push_str(&regex::escape(&c.to_string())),
                }
            }
            re.push_str("(?:/.*)?$");
            Regex::new(&re).unwrap()
        })
        .collect();
    let excluded = |path: &str| patterns.iter().any(|p| p.is_match(path));
    let manifest = read("Cargo.toml");
    let members = Regex::new(r#"members = \[([^\]]*)\]"#)
        .unwrap()
        .captures(&manifest)
        .unwrap()[1]
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_string())
        .collect::<Vec<_>>();
    let mut needed = vec![
        "Cargo.toml".to_string(),
        "Cargo.lock".to_string(),
        "src/lib.rs".to_string(),
    ];
    for m in &members {
        needed.push(format!("{m}/Cargo.toml"));
    }
    // Files the crates embed.
    let embed = Regex::new(r#"include_(?:str|bytes)!\("([^"]+)"\)"#).unwrap();
    for dir in members.iter().map(String::as_str).chain(["."]) {
        let src = repo().join(dir).join("src");
        let mut stack = vec![src];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    for c in embed.captures_iter(&std::fs::read_to_string(&path).unwrap()) {
                        let file = path.parent().unwrap().join(&c[1]);
                        let file = std::fs::canonicalize(&file).unwrap();
                        let rel = file
                            .strip_prefix(std::fs::canonicalize(repo()).unwrap())
                            .unwrap();
                        needed.push(rel.to_string_lossy().into_owned());
                    }
                }
            }
        }
    }
    // Targets the root manifest declares.
    let field = |block: &str, key: &str| {
        Regex::new(&format!(r#"(?m)^{key} = "([^"]+)""#))
            .unwrap()
            .captures(block)
            .map(|c| c[1].to_string())
    };
    let mut targets = 0;
    for block in manifest.split("\n[").skip(1) {
        let dir = match block.lines().next() {
            Some("[bench]]") => "benches",
            Some("[example]]") => "examples",
            _ => continue,
        };
        let name = field(block, "name").expect("a target has a name");
        needed.push(field(block, "path").unwrap_or(format!("{dir}/{name}.rs")));
        targets += 1;
    }
    assert_eq!(
        targets,
        manifest.matches("[[bench]]").count() + manifest.matches("[[example]]").count()
    );
    assert!(
        needed.iter().any(|n| n == "README.md"),
        "the README is embedded by the facade: {needed:?}"
    );
    for path in &needed {
        assert!(repo().join(path).exists(), "{path} does not exist");
        assert!(
            !excluded(path),
            ".dockerignore leaves out {path}, which the build needs"
        );
    }
    for big in ["target", ".git", "bindings/node/node_modules", "fuzz"] {
        assert!(excluded(big), ".dockerignore sends {big} to the builder");
    }
}

// ---------------------------------------------------------------------------------------
// deploy/kubernetes

#[test]
fn the_kustomization_starts_the_server_as_the_binary_expects() {
    let dir = repo().join("deploy/kubernetes");
    let k: Value = serde_norway::from_str(&read("deploy/kubernetes/kustomization.yaml")).unwrap();
    let resources = strings(&k["resources"], "resources");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    let mut listed = resources.clone();
    listed.sort();
    assert_eq!(
        listed, files,
        "every manifest in deploy/kubernetes, and only those, is a resource"
    );
    let mut objects = Vec::new();
    for r in &resources {
        objects.extend(yaml_docs(&read(format!("deploy/kubernetes/{r}")), r));
    }
    for o in &objects {
        assert!(
            o["apiVersion"].is_string()
                && o["kind"].is_string()
                && o["metadata"]["name"].is_string(),
            "{o}"
        );
    }

    // The generated Secrets and their keys (from the files, or their examples when the
    // secrets are not written here).
    let mut generated: Vec<(String, Option<Vec<String>>)> = Vec::new();
    for g in k["secretGenerator"].as_array().unwrap() {
        let name = str_of(&g["name"], "generator name").to_string();
        let mut keys = Vec::new();
        for f in g["files"].as_array().into_iter().flatten() {
            let f = str_of(f, "file");
            let (key, path) = f
                .split_once('=')
                .unwrap_or((f.rsplit('/').next().unwrap(), f));
            keys.push(key.to_string());
            ignored_secret(&dir, path);
        }
        for e in g["envs"].as_array().into_iter().flatten() {
            let path = str_of(e, "env file");
            ignored_secret(&dir, path);
            let example = dir.join(format!("{path}.example"));
            let text = std::fs::read_to_string(&example)
                .unwrap_or_else(|_| panic!("{} shows what {path} holds", example.display()));
            keys.extend(
                text.lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, _)| k.trim().to_string()),
            );
        }
        generated.push((name, Some(keys)));
    }
    let outside: Vec<(&str, Option<Vec<String>>)> = generated
        .iter()
        .map(|(n, k)| (n.as_str(), k.clone()))
        .collect();
    let objs = Objects {
        what: "deploy/kubernetes".into(),
        objects,
        outside: &outside,
    };

    let deployment = objs.one("Deployment");
    let images = k["images"].as_array().unwrap();
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    let image = images
        .iter()
        .find(|i| i["name"] == c["image"])
        .unwrap_or_else(|| panic!("kustomization images do not set {}", c["image"]));
    assert_eq!(
        image["newTag"],
        env!("CARGO_PKG_VERSION"),
        "the image tag is this version"
    );

    let launch = check_objects(&objs, dockerfile().uid(), 2);
    assert_eq!(launch.auth(), "token");
    exercise(&launch);
}

/// A Secret's source file is kept out of git.
fn ignored_secret(dir: &Path, path: &str) {
    let (folder, file) = path.rsplit_once('/').unwrap_or((".", path));
    let ignore = std::fs::read_to_string(dir.join(folder).join(".gitignore"))
        .unwrap_or_else(|_| panic!("{folder}/.gitignore keeps the secret {path} out of git"));
    assert!(
        ignore.lines().any(|l| l.trim() == file),
        "{folder}/.gitignore does not name {file}"
    );
}

// ---------------------------------------------------------------------------------------
// deploy/helm/spektate, through a renderer of the Go-template subset the chart uses.

mod tpl {
    //! Go templates as Helm uses them, as far as the chart does: actions with `{{-`/`-}}`
    //! trimming, comments, `if`/`else if`/`else`, `with`, `range`, `define` and `include`,
    //! `$variables`, pipelines and parentheses, and the functions listed in [`call`].
    //! Stricter than Helm where that finds mistakes: printing a missing value, or calling
    //! a function or reading a field it does not know, fails.

    use std::collections::HashMap;

    use serde_json::Value;

    #[derive(Debug, Clone)]
    enum Node {
        Text(String),
        Out(Pipe),
        Assign(String, Pipe),
        If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
        With(Pipe, Vec<Node>, Vec<Node>),
        Range(Pipe, Vec<Node>),
    }

    #[derive(Debug, Clone)]
    struct Pipe(Vec<Vec<Term>>);

    #[derive(Debug, Clone)]
    enum Term {
        Field(Vec<String>),
        Var(String, Vec<String>),
        Str(String),
        Int(i64),
        Bool(bool),
        Func(String),
        Sub(Pipe),
    }

    enum Tok {
        Text(String),
        Action(String),
    }

    fn lex(src: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut rest = src;
        let mut trim_next = false;
        while let Some(open) = rest.find("{{") {
            let mut text = &rest[..open];
            if trim_next {
                text = text.trim_start();
            }
            let mut inner = &rest[open + 2..];
            if inner.starts_with("- ") || inner.starts_with("-\n") {
                text = text.trim_end();
                inner = &inner[1..];
            }
            out.push(Tok::Text(text.to_string()));
            let close = inner.find("}}").expect("an unclosed {{");
            let mut action = &inner[..close];
            trim_next = false;
            if action.ends_with(" -") || action.ends_with("\n-") {
                trim_next = true;
                action = &action[..action.len() - 1];
            }
            let action = action.trim();
            if !(action.starts_with("/*") && action.ends_with("*/")) {
                out.push(Tok::Action(action.to_string()));
            }
            rest = &inner[close + 2..];
        }
        out.push(Tok::Text(
            if trim_next { rest.trim_start() } else { rest }.to_string(),
        ));
        out
    }

    /// Parsed templates: the defines, and each file's nodes.
    pub struct Templates {
        defines: HashMap<String, Vec<Node>>,
        files: Vec<(String, Vec<Node>)>,
    }

    enum Closed {
        Eof,
        End,
        Else(Option<String>),
    }

    impl Templates {
        pub fn new() -> Self {
            Templates {
                defines: HashMap::new(),
                files: Vec::new(),
            }
        }

        pub fn add(&mut self, name: &str, src: &str) {
            let toks = lex(src);
            let mut i = 0;
            let (nodes, end) = self.parse(&toks, &mut i);
            assert!(
                matches!(end, Closed::Eof),
                "{name}: an {{{{end}}}} or {{{{else}}}} too many"
            );
            self.files.push((name.to_string(), nodes));
        }

        fn parse(&mut self, toks: &[Tok], i: &mut usize) -> (Vec<Node>, Closed) {
            let mut nodes = Vec::new();
            while *i < toks.len() {
                let tok = &toks[*i];
                *i += 1;
                let action = match tok {
                    Tok::Text(t) => {
                        if !t.is_empty() {
                            nodes.push(Node::Text(t.clone()));
                        }
                        continue;
                    }
                    Tok::Action(a) => a.as_str(),
                };
                let (word, rest) = action
                    .split_once(char::is_whitespace)
                    .unwrap_or((action, ""));
                match word {
                    "end" => return (nodes, Closed::End),
                    "else" => {
                        let cond = rest.trim();
                        let cond = cond.strip_prefix("if ").map(|c| c.trim().to_string());
                        assert!(rest.trim().is_empty() || cond.is_some(), "else {rest}");
                        return (nodes, Closed::Else(cond));
                    }
                    "if" => {
                        let mut arms = vec![];
                        let mut cond = pipe(rest);
                        let otherwise = loop {
                            let (body, end) = self.parse(toks, i);
                            arms.push((cond, body));
                            match end {
                                Closed::End => break Vec::new(),
                                Closed::Else(Some(c)) => cond = pipe(&c),
                                Closed::Else(None) => {
                                    let (body, end) = self.parse(toks, i);
                                    assert!(matches!(end, Closed::End), "if: else without end");
                                    break body;
                                }
                                Closed::Eof => panic!("if {rest} without end"),
                            }
                        };
                        nodes.push(Node::If(arms, otherwise));
                    }
                    "with" => {
                        let (body, end) = self.parse(toks, i);
                        let otherwise = match end {
                            Closed::End => Vec::new(),
                            Closed::Else(None) => {
                                let (b, e) = self.parse(toks, i);
                                assert!(matches!(e, Closed::End), "with: else without end");
                                b
                            }
                            _ => panic!("with {rest}: no end"),
                        };
                        nodes.push(Node::With(pipe(rest), body, otherwise));
                    }
                    "range" => {
                        let (body, end) = self.parse(toks, i);
                        assert!(matches!(end, Closed::End), "range {rest}: no end");
                        nodes.push(Node::Range(pipe(rest), body));
                    }
                    "define" => {
                        let name = rest.trim().trim_matches('"').to_string();
                        let (body, end) = self.parse(toks, i);
                        assert!(matches!(end, Closed::End), "define {name}: no end");
                        self.defines.insert(name, body);
                    }
                    "template" | "block" | "break" | "continue" => {
                        panic!("{{{{{action}}}}} is not supported here")
                    }
                    _ if action.starts_with('$') && action.contains(":=") => {
                        let (var, value) = action.split_once(":=").unwrap();
                        nodes.push(Node::Assign(var.trim().to_string(), pipe(value)));
                    }
                    _ => nodes.push(Node::Out(pipe(action))),
                }
            }
            (nodes, Closed::Eof)
        }

        /// Renders every file with `dot` as the data; returns (name, text).
        pub fn render_all(&self, dot: &Value) -> Vec<(String, String)> {
            self.files
                .iter()
                .map(|(name, nodes)| {
                    let mut out = String::new();
                    let mut vars = vec![("$".to_string(), dot.clone())];
                    self.render(nodes, dot, &mut vars, &mut out, name);
                    (name.clone(), out)
                })
                .collect()
        }

        fn render(
            &self,
            nodes: &[Node],
            dot: &Value,
            vars: &mut Vec<(String, Value)>,
            out: &mut String,
            at: &str,
        ) {
            let depth = vars.len();
            for node in nodes {
                match node {
                    Node::Text(t) => out.push_str(t),
                    Node::Out(p) => out.push_str(&text(&self.eval(p, dot, vars, at), at)),
                    Node::Assign(name, p) => {
                        let v = self.eval(p, dot, vars, at);
                        vars.push((name.clone(), v));
                    }
                    Node::If(arms, otherwise) => {
                        let arm = arms
                            .iter()
                            .find(|(c, _)| truthy(&self.eval(c, dot, vars, at)));
                        let body = arm.map_or(otherwise, |(_, b)| b);
                        self.render(body, dot, vars, out, at);
                    }
                    Node::With(p, body, otherwise) => {
                        let v = self.eval(p, dot, vars, at);
                        if truthy(&v) {
                            self.render(body, &v, vars, out, at);
                        } else {
                            self.render(otherwise, dot, vars, out, at);
                        }
                    }
                    Node::Range(p, body) => {
                        let v = self.eval(p, dot, vars, at);
                        let items: Vec<Value> = match v {
                            Value::Array(a) => a,
                            Value::Object(m) => m.into_values().collect(),
                            Value::Null => vec![],
                            other => panic!("{at}: range over {other}"),
                        };
                        for item in &items {
                            self.render(body, item, vars, out, at);
                        }
                    }
                }
            }
            vars.truncate(depth);
        }

        fn eval(&self, p: &Pipe, dot: &Value, vars: &[(String, Value)], at: &str) -> Value {
            let mut acc: Option<Value> = None;
            for cmd in &p.0 {
                acc = Some(match &cmd[0] {
                    Term::Func(name) => {
                        let mut args: Vec<Value> = cmd[1..]
                            .iter()
                            .map(|t| self.term(t, dot, vars, at))
                            .collect();
                        args.extend(acc.take());
                        self.call(name, args, at)
                    }
                    t => {
                        assert!(
                            cmd.len() == 1 && acc.is_none(),
                            "{at}: {t:?} takes no arguments"
                        );
                        self.term(t, dot, vars, at)
                    }
                });
            }
            acc.expect("an empty pipeline")
        }

        fn term(&self, t: &Term, dot: &Value, vars: &[(String, Value)], at: &str) -> Value {
            match t {
                Term::Field(path) => field(dot, path, at),
                Term::Var(name, path) => {
                    let v = vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .unwrap_or_else(|| panic!("{at}: undefined variable {name}"));
                    field(&v.1, path, at)
                }
                Term::Str(s) => Value::String(s.clone()),
                Term::Int(n) => Value::from(*n),
                Term::Bool(b) => Value::Bool(*b),
                Term::Func(name) => self.call(name, vec![], at),
                Term::Sub(p) => self.eval(p, dot, vars, at),
            }
        }

        fn call(&self, name: &str, args: Vec<Value>, at: &str) -> Value {
            let s = |i: usize| text(&args[i], at);
            let n = |i: usize| {
                args[i]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{at}: {name} wants a number, got {}", args[i]))
            };
            match (name, args.len()) {
                ("include", 2) => {
                    let body = self
                        .defines
                        .get(&s(0))
                        .unwrap_or_else(|| panic!("{at}: no template {}", s(0)));
                    let mut out = String::new();
                    let mut vars = vec![("$".to_string(), args[1].clone())];
                    self.render(body, &args[1], &mut vars, &mut out, at);
                    Value::String(out)
                }
                ("toYaml", 1) => Value::String(
                    serde_norway::to_string(&args[0])
                        .unwrap()
                        .trim_end_matches('\n')
                        .to_string(),
                ),
                ("nindent", 2) => Value::String(format!("\n{}", indent(n(0) as usize, &s(1)))),
                ("indent", 2) => Value::String(indent(n(0) as usize, &s(1))),
                ("quote", 1) => Value::String(serde_json::to_string(&s(0)).unwrap()),
                ("default", 2) => {
                    if truthy(&args[1]) {
                        args[1].clone()
                    } else {
                        args[0].clone()
                    }
                }
                ("printf", _) => {
                    let mut out = String::new();
                    let mut rest = args[1..].iter();
                    let format = s(0);
                    let mut chars = format.chars();
                    while let Some(c) = chars.next() {
                        if c != '%' {
                            out.push(c);
                            continue;
                        }
                        match chars.next() {
                            Some('%') => out.push('%'),
                            Some('s' | 'd' | 'v') => out.push_str(&text(
                                rest.next().expect("printf: too few arguments"),
                                at,
                            )),
                            other => panic!("{at}: printf %{other:?}"),
                        }
                    }
                    assert!(rest.next().is_none(), "{at}: printf: too many arguments");
                    Value::String(out)
                }
                ("trunc", 2) => Value::String(s(1).chars().take(n(0) as usize).collect()),
                ("trimSuffix", 2) => {
                    Value::String(s(1).strip_suffix(&s(0)).map_or(s(1), str::to_string))
                }
                ("contains", 2) => Value::Bool(s(1).contains(&s(0))),
                ("sha256sum", 1) => {
                    use sha2::Digest;
                    Value::String(format!("{:x}", sha2::Sha256::digest(s(0))))
                }
                ("eq", 2) => Value::Bool(args[0] == args[1]),
                ("ne", 2) => Value::Bool(args[0] != args[1]),
                ("not", 1) => Value::Bool(!truthy(&args[0])),
                ("and", _) => args
                    .iter()
                    .find(|a| !truthy(a))
                    .unwrap_or(args.last().unwrap())
                    .clone(),
                ("or", _) => args
                    .iter()
                    .find(|a| truthy(a))
                    .unwrap_or(args.last().unwrap())
                    .clone(),
                ("required", 2) => {
                    assert!(truthy(&args[1]), "{at}: {}", s(0));
                    args[1].clone()
                }
                ("fail", 1) => panic!("{at}: fail: {}", s(0)),
                _ => panic!(
                    "{at}: the function {name} with {} arguments is not supported here",
                    args.len()
                ),
            }
        }
    }

    fn indent(n: usize, s: &str) -> String {
        let pad = " ".repeat(n);
        format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
    }

    fn field(v: &Value, path: &[String], at: &str) -> Value {
        let mut v = v.clone();
        for (i, key) in path.iter().enumerate() {
            v = match &v {
                Value::Object(m) => m.get(key).cloned().unwrap_or(Value::Null),
                other => panic!("{at}: .{} of {other}", path[..=i].join(".")),
            };
        }
        v
    }

    pub fn truthy(v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(m) => !m.is_empty(),
        }
    }

    fn text(v: &Value, at: &str) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => panic!("{at}: prints a missing value"),
            other => panic!("{at}: prints {other}"),
        }
    }

    fn pipe(src: &str) -> Pipe {
        let mut chars = src.chars().peekable();
        let p = parse_pipe(&mut chars, src);
        assert!(chars.next().is_none(), "unbalanced ) in {src}");
        p
    }

    fn parse_pipe(chars: &mut std::iter::Peekable<std::str::Chars>, src: &str) -> Pipe {
        let mut cmds = vec![Vec::new()];
        while let Some(&c) = chars.peek() {
            match c {
                c if c.is_whitespace() => {
                    chars.next();
                }
                ')' => break,
                '|' => {
                    chars.next();
                    cmds.push(Vec::new());
                }
                '(' => {
                    chars.next();
                    let sub = parse_pipe(chars, src);
                    assert_eq!(chars.next(), Some(')'), "unbalanced ( in {src}");
                    cmds.last_mut().unwrap().push(Term::Sub(sub));
                }
                '"' => {
                    chars.next();
                    let mut s = String::new();
                    loop {
                        match chars
                            .next()
                            .unwrap_or_else(|| panic!("unclosed string in {src}"))
                        {
                            '"' => break,
                            '\\' => s.push(match chars.next().unwrap() {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            }),
                            other => s.push(other),
                        }
                    }
                    cmds.last_mut().unwrap().push(Term::Str(s));
                }
                _ => {
                    let mut word = String::new();
                    while let Some(&c) = chars.peek() {
                        if c.is_whitespace() || "()|\"".contains(c) {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                    let path = |s: &str| -> Vec<String> {
                        s.split('.')
                            .filter(|p| !p.is_empty())
                            .map(str::to_string)
                            .collect()
                    };
                    let term = if let Some(f) = word.strip_prefix('.') {
                        Term::Field(path(f))
                    } else if word.starts_with('$') {
                        let (var, rest) = word.split_once('.').unwrap_or((&word, ""));
                        Term::Var(var.to_string(), path(rest))
                    } else if let Ok(n) = word.parse() {
                        Term::Int(n)
                    } else if word == "true" || word == "false" {
                        Term::Bool(word == "true")
                    } else {
                        assert!(
                            word.chars().all(|c| c.is_ascii_alphanumeric()),
                            "{word} in {src}"
                        );
                        Term::Func(word)
                    };
                    cmds.last_mut().unwrap().push(term);
                }
            }
        }
        assert!(
            cmds.iter().all(|c| !c.is_empty()),
            "an empty command in {src}"
        );
        Pipe(cmds)
    }
}

/// The chart, rendered by [`tpl`] with its values merged with `overrides`: each file's
/// objects, and the notes.
struct Rendered {
    objects: Vec<Value>,
    notes: String,
}

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            // A map values.yaml leaves empty takes any key; others only their own.
            let open = b.is_empty();
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None if open => {
                        b.insert(k.clone(), v.clone());
                    }
                    None => panic!("the override {k} is not in values.yaml"),
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn chart_dir() -> PathBuf {
    repo().join("deploy/helm/spektate")
}

fn render_chart(release: &str, overrides: &Value) -> Rendered {
    let chart: Value = serde_norway::from_str(&read("deploy/helm/spektate/Chart.yaml")).unwrap();
    let mut values: Value =
        serde_norway::from_str(&read("deploy/helm/spektate/values.yaml")).unwrap();
    merge(&mut values, overrides);
    let dot = json!({
        "Values": values,
        "Release": {"Name": release, "Namespace": "spektate", "Service": "Helm", "IsInstall": true, "IsUpgrade": false},
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
    });
    let mut templates = tpl::Templates::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(chart_dir().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in &names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".yaml") || name.ends_with(".tpl") || name == "NOTES.txt",
            "templates/{name}: Helm renders it, this test does not know it"
        );
        templates.add(&name, &std::fs::read_to_string(path).unwrap());
    }
    let mut objects = Vec::new();
    let mut notes = String::new();
    for (name, text) in templates.render_all(&dot) {
        if name == "NOTES.txt" {
            notes = text;
        } else if !name.starts_with('_') {
            objects.extend(yaml_docs(&text, &format!("templates/{name} rendered")));
        }
    }
    for o in &objects {
        let labels = &o["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/instance"], release,
            "labels of {}",
            o["metadata"]["name"]
        );
    }
    Rendered { objects, notes }
}

#[test]
fn the_chart_matches_the_binary_and_its_version() {
    let chart: Value = serde_norway::from_str(&read("deploy/helm/spektate/Chart.yaml")).unwrap();
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "spektate");
    assert_eq!(
        chart["appVersion"],
        env!("CARGO_PKG_VERSION"),
        "appVersion is the image's version"
    );
    assert!(chart["version"].is_string());

    // Every variable any branch of the templates sets for the server is one it reads.
    let deployment =
        std::fs::read_to_string(chart_dir().join("templates/deployment.yaml")).unwrap();
    let named = Regex::new(r"name: (SPEKTATE_[A-Z0-9_]+)").unwrap();
    let names: BTreeSet<&str> = named
        .captures_iter(&deployment)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        assert!(
            binary().reads_env(name),
            "the chart can set {name}, which `spektate serve` does not read"
        );
    }
}

#[test]
fn the_chart_with_its_default_values_starts_the_server_as_the_binary_expects() {
    let rendered = render_chart("spektate", &json!({}));
    // The store's and the tokens' Secrets are made by hand with the defaults (NOTES.txt
    // says how), and the providers' is optional.
    let outside = [("spektate-store", None), ("spektate-tokens", None)];
    assert!(
        rendered
            .notes
            .contains("kubectl create secret generic spektate-store"),
        "{}",
        rendered.notes
    );
    assert!(
        rendered
            .notes
            .contains("kubectl create secret generic spektate-tokens"),
        "{}",
        rendered.notes
    );
    let objs = Objects {
        what: "the chart with its default values".into(),
        objects: rendered.objects,
        outside: &outside,
    };
    assert!(objs.of_kind("Secret").is_empty());
    assert!(
        objs.one("Deployment")["spec"]["template"]["metadata"]["annotations"].is_null(),
        "annotations without a store Secret of the chart or podAnnotations"
    );
    let c = &objs.one("Deployment")["spec"]["template"]["spec"]["containers"];
    assert_eq!(c.as_array().unwrap().len(), 1, "no proxy unless asked for");
    assert_eq!(
        c[0]["image"],
        format!("spektate:{}", env!("CARGO_PKG_VERSION"))
    );
    let launch = check_objects(&objs, dockerfile().uid(), 2);
    assert_eq!(launch.auth(), "token");
    exercise(&launch);
}

#[test]
fn the_chart_with_oauth2_proxy_lets_viewers_in_by_its_header_only() {
    let rendered = render_chart("team", &json!({"oauth2Proxy": {"enabled": true}}));
    let outside = [
        ("team-spektate-store", None),
        ("team-spektate-tokens", None),
        (
            "oauth2-proxy",
            Some(vec![
                "client-id".into(),
                "client-secret".into(),
                "cookie-secret".into(),
            ]),
        ),
    ];
    let objs = Objects {
        what: "the chart with oauth2Proxy.enabled".into(),
        objects: rendered.objects,
        outside: &outside,
    };
    let pod = &objs.one("Deployment")["spec"]["template"]["spec"];
    let proxy = container(pod, "oauth2-proxy");
    // Nobody may sign in until the operator says who.
    let args = strings(&proxy["args"], "proxy args");
    assert!(
        !args.iter().any(|a| a.starts_with("--email-domain")),
        "{args:?}"
    );
    assert!(
        rendered.notes.contains("oauth2Proxy.emailDomains"),
        "{}",
        rendered.notes
    );
    for e in proxy["env"].as_array().unwrap() {
        let r = &e["valueFrom"]["secretKeyRef"];
        objs.check_secret(
            str_of(&r["name"], "name"),
            r["key"].as_str(),
            false,
            "oauth2-proxy env",
        );
        assert!(str_of(&e["name"], "env").starts_with("OAUTH2_PROXY_"));
    }
    let launch = check_objects(&objs, dockerfile().uid(), 2);
    assert_eq!(launch.auth(), "header");
    assert!(launch.proxy.is_some(), "the probes pass the proxy");
    exercise(&launch);
}

#[test]
fn the_chart_with_every_option_set_refers_only_to_what_it_makes() {
    let tokens = "{\"tokens\": []}\n";
    let rendered = render_chart(
        "team",
        &json!({
            "replicaCount": 3,
            "partition": "fabrikam",
            "store": {"url": "postgres://spektate:secret@db:5432/spektate?sslmode=verify-full"},
            "tokens": {"json": tokens},
            "providers": {
                "existingSecret": "ci-tokens",
                "githubUrl": "https://github.example.com",
                "azdoOrg": "fabrikam",
                "azdoProject": "hello",
                "azdoUrl": "https://tfs.example.com/tfs",
                "manifestRepo": "https://github.com/fabrikam/manifests",
                "hldRepo": "https://github.com/fabrikam/hld",
                "sourceRepo": "https://github.com/fabrikam/app"
            },
            "extraArgs": ["--since", "30d"],
            "podAnnotations": {"example.com/team": "platform"},
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "oauth2Proxy": {"enabled": true, "emailDomains": ["*"], "extraArgs": ["--github-org=fabrikam"]}
        }),
    );
    let outside = [(
        "oauth2-proxy",
        Some(vec![
            "client-id".into(),
            "client-secret".into(),
            "cookie-secret".into(),
        ]),
    )];
    let objs = Objects {
        what: "the chart with every option".into(),
        objects: rendered.objects,
        outside: &outside,
    };
    let secrets = objs.of_kind("Secret");
    assert_eq!(secrets.len(), 2, "the store's and the tokens' Secrets");
    let store = secrets
        .iter()
        .find(|s| s["metadata"]["name"] == "team-spektate-store")
        .unwrap();
    assert_eq!(
        store["stringData"]["url"],
        "postgres://spektate:secret@db:5432/spektate?sslmode=verify-full"
    );
    let file = secrets
        .iter()
        .find(|s| s["metadata"]["name"] == "team-spektate-tokens")
        .unwrap();
    assert_eq!(file["stringData"]["tokens.json"], tokens);
    let launch = check_objects(&objs, dockerfile().uid(), 3);
    assert_eq!(arg_value(&launch.args, "--since").as_deref(), Some("30d"));
    assert_eq!(
        launch.env_value("SPEKTATE_PARTITION_KEY").as_deref(),
        Some("fabrikam")
    );
    assert_eq!(launch.env.len(), 9, "{:?}", launch.env);
    let pod = &objs.one("Deployment")["spec"]["template"];
    assert_eq!(
        pod["metadata"]["annotations"]["example.com/team"],
        "platform"
    );
    // The server reads the store URL at start only: a new one changes the pods, which rolls
    // them.
    let url_sha256 = "b511732967447cb82315fc6e36d482fce569be758b1dbde94eeb3707f143dce1";
    assert_eq!(
        pod["metadata"]["annotations"]["checksum/store"], url_sha256,
        "the pods' annotations: {}",
        pod["metadata"]["annotations"]
    );
    // Not for a Secret the chart does not make.
    let elsewhere = render_chart(
        "team",
        &json!({"store": {"url": "postgres://db/spektate", "existingSecret": "db"}}),
    );
    let deployment = elsewhere
        .objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    assert!(
        deployment["spec"]["template"]["metadata"]["annotations"].is_null(),
        "{}",
        deployment["spec"]["template"]["metadata"]
    );
    assert_eq!(pod["spec"]["nodeSelector"]["kubernetes.io/os"], "linux");
    let proxy_args = strings(
        &container(&pod["spec"], "oauth2-proxy")["args"],
        "proxy args",
    );
    assert!(
        proxy_args.iter().any(|a| a == "--email-domain=*"),
        "{proxy_args:?}"
    );
    assert!(
        proxy_args.iter().any(|a| a == "--github-org=fabrikam"),
        "{proxy_args:?}"
    );
    launch.check();
    check_accepted_up_to_listening(&launch);
}

#[test]
fn the_renderer_fails_on_what_helm_would_print_wrong() {
    // The renderer is strict so that the chart's tests mean something.
    let mut t = tpl::Templates::new();
    t.add("a", "x: {{ .Values.missing }}\n");
    let missing = std::panic::catch_unwind(|| t.render_all(&json!({"Values": {}})));
    assert!(missing.is_err(), "a missing value printed");
    let mut t = tpl::Templates::new();
    t.add(
        "b",
        "{{- define \"n\" -}}\nn: {{ .x | quote }}\n{{- end }}\nitems:\n  {{- range .Values.l }}\n  - {{ . }}\n  {{- end }}\n{{- with .Values.m }}\nm:\n  {{- toYaml . | nindent 2 }}\n{{- end }}\n{{ include \"n\" .Values }}\n{{ if eq .Values.x \"b\" }}no{{ else if .Values.x }}yes{{ end }}",
    );
    let out = t.render_all(&json!({"Values": {"l": ["p", "q"], "m": {"k": 1}, "x": "a"}}));
    assert_eq!(
        out[0].1,
        "\nitems:\n  - p\n  - q\nm:\n  k: 1\nn: \"a\"\nyes"
    );
    let mut t = tpl::Templates::new();
    t.add("c", "{{ .Values.s | sha256sum }}");
    let out = t.render_all(&json!({"Values": {"s": "abc"}}));
    assert_eq!(
        out[0].1,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
