//! What a test fake answered, for `tests/specs/run.sh` to check against the service's
//! published API description: with `SPEKTATE_SPECS_OUT=DIR`, each [`note`] is one JSON object
//! a line in a file of `DIR`. Without the variable nothing is written.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Mutex;

use serde_json::{Value, json};

/// The files opened so far, by name.
static FILES: Mutex<Vec<(String, File)>> = Mutex::new(Vec::new());

/// Appends `line` to `DIR/file` when `SPEKTATE_SPECS_OUT` names `DIR`.
///
/// # Panics
/// When the folder or the file cannot be written: a check fed half a log would pass wrongly.
pub fn note(file: &str, line: &Value) {
    let Some(dir) = std::env::var_os("SPEKTATE_SPECS_OUT") else {
        return;
    };
    let mut files = FILES.lock().unwrap_or_else(|e| e.into_inner());
    let at = match files.iter().position(|(name, _)| name == file) {
        Some(at) => at,
        None => {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("SPEKTATE_SPECS_OUT can be created");
            let opened = OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(file))
                .unwrap_or_else(|e| panic!("{file} opens: {e}"));
            files.push((file.to_string(), opened));
            files.len() - 1
        }
    };
    writeln!(files[at].1, "{line}").unwrap_or_else(|e| panic!("{file} is written: {e}"));
}

/// Notes one request a fake answered in `DIR/file`: its method, path with query, status, JSON
/// request body (if any) and the JSON answered.
pub fn served(
    file: &str,
    method: &str,
    path: &str,
    status: u16,
    request: Option<&Value>,
    body: &Value,
) {
    note(
        file,
        &json!({"method": method, "path": path, "status": status, "request": request, "body": body}),
    );
}
