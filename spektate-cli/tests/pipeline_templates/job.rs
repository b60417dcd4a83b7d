//! What both runners give a job: environment, store, step scripts, and what a run did.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// The environment every step process starts from: this machine's PATH, the job's own home
/// and temporary folder, and for all but 127.0.0.1 a proxy where nothing listens, so nothing
/// leaves the machine.
pub fn agent_env(root: &Path) -> BTreeMap<String, String> {
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
pub fn store_env(root: &Path) -> [(String, String); 2] {
    [
        (
            "SPEKTATE_STORE".into(),
            format!("sqlite:{}", root.join("s.db").display()),
        ),
        ("SPEKTATE_PARTITION_KEY".into(), "fabrikam".into()),
    ]
}

/// Runs a step's script file with `shell` (a shell and its options), in that environment only.
pub fn run_script(
    shell: &[&str],
    script: &Path,
    env: &BTreeMap<String, String>,
    cwd: &Path,
) -> Output {
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
pub fn with_path(env: &mut BTreeMap<String, String>, added: &[String]) {
    let mut path: Vec<String> = added.iter().rev().cloned().collect();
    path.push(env["PATH"].clone());
    env.insert("PATH".into(), path.join(":"));
}

/// What one run of a template did.
#[derive(Default, Debug)]
pub struct Run {
    /// Each step run, by name, with its output.
    pub ran: Vec<(String, String)>,
    pub skipped: Vec<String>,
    pub failed: Option<String>,
    /// Error annotations (`::error::`, `##vso[task.logissue type=error]`).
    pub errors: Vec<String>,
    /// Folders added to PATH (`GITHUB_PATH`, `##vso[task.prependpath]`).
    pub path: Vec<String>,
    /// The action's outputs, or the variables the steps set.
    pub values: BTreeMap<String, String>,
    /// How many URLs were rewritten to the local server.
    pub rewritten: usize,
}

impl Run {
    pub fn names(&self) -> Vec<&str> {
        self.ran.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn output_of(&self, name: &str) -> &str {
        &self
            .ran
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no step {name} ran: {:?}", self.names()))
            .1
    }

    pub fn log(&self) -> String {
        self.ran
            .iter()
            .map(|(n, out)| format!("--- {n}\n{out}"))
            .collect()
    }

    pub fn record(&mut self, name: &str, out: &Output) {
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

/// The deployments in the job's store, as `spektate get -o json` prints them.
pub fn deployments(root: &Path) -> Vec<serde_json::Value> {
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
