//! `@spektate/node`: Spektate for Node.js, a thin napi-rs layer over the Rust library.
//!
//! `Store`, `Recorder`, `ServerRecorder`, `Tracker` and `AzureDevOps` are classes; every I/O
//! method returns a Promise; results are plain objects with `Date`s; errors carry a `code`
//! naming their kind.

mod errors;
mod input;
mod insights;
mod objects;
mod providers;
mod recorder;
mod server;
mod store;
mod tracker;

use napi_derive::napi;
use spektate::config::Names;

/// How messages name the settings: by the JavaScript option names.
const NAMES: Names = Names {
    store: "store",
    account: "account",
    access_key: "accessKey",
    table_name: "table",
    table_endpoint: "tableEndpoint",
    source_repo: "sourceRepo",
    hld_repo: "hldRepo",
    manifest_repo: "manifestRepo",
    github_url: "apiUrl",
    org: "org",
    project: "project",
    azdo_url: "url",
    top: "top",
};

/// The package version.
#[napi]
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
