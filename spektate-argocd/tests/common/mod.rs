//! With `SPEKTATE_SPECS_OUT=DIR`, every request the fake Argo CD answered through `serve` goes
//! into `DIR/argocd-served.jsonl`: method, path and query, status, the JSON answered, and
//! whether it is off the description on purpose. `tests/specs/run.sh` checks them against
//! Argo CD's API description in `tests/specs/argocd`.

use serde_json::{Value, json};

/// Notes one answered request: `path` with its query, the JSON answered, and whether the test
/// made it `malformed` (see `spektate_core::testkit::specs_log`).
pub fn served(method: &str, path: &str, status: u16, body: &Value, malformed: bool) {
    spektate_core::testkit::specs_log::note(
        "argocd-served.jsonl",
        &json!({"method": method, "path": path, "status": status, "body": body, "malformed": malformed}),
    );
}
