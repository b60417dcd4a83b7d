//! With `SPEKTATE_SPECS_OUT=DIR`, every request a fake answered goes into
//! `DIR/github-served.jsonl`: method, path and query (without `/api/v3`), status, the GraphQL
//! request body, and the JSON answered. `tests/specs/run.sh` checks them against GitHub's
//! published descriptions.

use serde_json::{Value, json};

/// Notes one answered request (see `spektate_core::testkit::specs_log`).
pub fn served(method: &str, path: &str, status: u16, request: Option<&Value>, body: &Value) {
    spektate_core::testkit::specs_log::note(
        "github-served.jsonl",
        &json!({"method": method, "path": path, "status": status, "request": request, "body": body}),
    );
}
