//! With `SPEKTATE_SPECS_OUT=DIR`, every request the fake Argo CD answered through
//! `serve` goes, one JSON object a line, into `DIR/argocd-served.jsonl`: method, path and
//! query, status, the JSON answered, and whether it is off the description on purpose. `tests/specs/run.sh` checks them against Argo CD's
//! API description in `tests/specs/argocd`. Without the variable nothing is written.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

fn log_file() -> Option<&'static Mutex<File>> {
    static FILE: OnceLock<Option<Mutex<File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::path::PathBuf::from(std::env::var_os("SPEKTATE_SPECS_OUT")?);
        std::fs::create_dir_all(&dir).expect("SPEKTATE_SPECS_OUT can be created");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("argocd-served.jsonl"))
            .expect("argocd-served.jsonl opens");
        Some(Mutex::new(file))
    })
    .as_ref()
}

/// Notes one answered request: `path` with its query, the JSON answered, and whether the test
/// made it `malformed`.
pub fn served(method: &str, path: &str, status: u16, body: &Value, malformed: bool) {
    let Some(file) = log_file() else {
        return;
    };
    let line = json!({"method": method, "path": path, "status": status, "body": body, "malformed": malformed});
    let mut file = file.lock().unwrap();
    writeln!(file, "{line}").expect("argocd-served.jsonl is written");
}
