//! How the Python classes name their settings in messages, and how they quote strings in
//! `repr()`.

use spektate::config::Names;

/// The settings named by the Python argument names.
pub const NAMES: Names = Names {
    store: "store",
    account: "account",
    access_key: "access_key",
    table_name: "table",
    table_endpoint: "table_endpoint",
    source_repo: "source_repo",
    hld_repo: "hld_repo",
    manifest_repo: "manifest_repo",
    github_url: "api_url",
    org: "org",
    project: "project",
    azdo_url: "url",
    top: "top",
};

/// `repr()` of a string, Python style.
pub fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}
