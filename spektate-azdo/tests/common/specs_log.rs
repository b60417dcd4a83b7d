//! With `SPEKTATE_SPECS_OUT=DIR`, every request the fake organisation answered goes, one JSON
//! object a line, into `DIR/azure-devops-served.jsonl`: method, path and query, status, the
//! JSON request body, and the JSON answered. `tests/specs/run.sh` checks them against the
//! Azure DevOps REST descriptions in `tests/specs/azure-devops`. Without the variable nothing
//! is written.

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
            .open(dir.join("azure-devops-served.jsonl"))
            .expect("azure-devops-served.jsonl opens");
        Some(Mutex::new(file))
    })
    .as_ref()
}

/// Notes one answered request; `request` is the JSON request body, `body` the JSON answered
/// (`Value::Null` for none).
pub fn served(method: &str, path: &str, status: u16, request: Option<&Value>, body: &Value) {
    let Some(file) = log_file() else {
        return;
    };
    let line =
        json!({"method": method, "path": path, "status": status, "request": request, "body": body});
    let mut file = file.lock().unwrap();
    writeln!(file, "{line}").expect("azure-devops-served.jsonl is written");
}
