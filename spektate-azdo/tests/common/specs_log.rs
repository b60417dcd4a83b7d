//! With `SPEKTATE_SPECS_OUT=DIR`, every request the fake organisation answered goes into
//! `DIR/azure-devops-served.jsonl`: method, path and query, status, the JSON request body, and
//! the JSON answered. `tests/specs/run.sh` checks them against the Azure DevOps REST
//! descriptions in `tests/specs/azure-devops`.

use serde_json::{Value, json};

/// Notes one answered request (see `spektate_core::testkit::specs_log`).
pub fn served(method: &str, path: &str, status: u16, request: Option<&Value>, body: &Value) {
    spektate_core::testkit::specs_log::note(
        "azure-devops-served.jsonl",
        &json!({"method": method, "path": path, "status": status, "request": request, "body": body}),
    );
}
