//! With `SPEKTATE_SPECS_OUT=DIR`, every request a fake answered goes, one JSON object a line,
//! into `DIR/github-served.jsonl`: method, path and query (without `/api/v3`), status, the
//! GraphQL request body, and the JSON answered. `tests/specs/run.sh` checks them against
//! GitHub's published descriptions. Without the variable nothing is written.

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
            .open(dir.join("github-served.jsonl"))
            .expect("github-served.jsonl opens");
        Some(Mutex::new(file))
    })
    .as_ref()
}

/// Notes one answered request; `request` is the JSON request body (GraphQL), `body` the
/// JSON answered (`Value::Null` for none).
pub fn served(method: &str, path: &str, status: u16, request: Option<&Value>, body: &Value) {
    let Some(file) = log_file() else {
        return;
    };
    let line =
        json!({"method": method, "path": path, "status": status, "request": request, "body": body});
    let mut file = file.lock().unwrap();
    writeln!(file, "{line}").expect("github-served.jsonl is written");
}
