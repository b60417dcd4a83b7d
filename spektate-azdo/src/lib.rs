//! Azure DevOps for Spektate: where is my container, on the Bedrock stack?
//!
//! - [`AzureDevOps`] — a [`Pipelines`](spektate_core::Pipelines) provider: builds by id
//!   (chunked so no URL exceeds 2,000 characters), classic releases by id, and the stages of
//!   multi-stage builds from their timelines.
//! - [`AzureRepos`] — a [`Repositories`](spektate_core::Repositories) provider: commit
//!   authors through the commits batch API, approval pull requests, and the clusters Flux
//!   marked with `flux-<cluster>` tags.
//! - [`AzureTableStore`] — a [`RecordStore`](spektate_core::RecordStore) over an Azure
//!   Storage table, reading and writing the rows of existing Spektate tables as they are.
//!
//! Every request goes through the core's HTTP client: a PAT as basic auth with an empty
//! user (for the table: Shared Key signing, a shared access signature, or a Microsoft Entra
//! ID token from a managed identity or workload identity federation, see [`entra`]), a timeout, retries with backoff on 429 and
//! 5xx honoring `Retry-After`, and at most 8 requests in flight per provider.
//!
//! ```no_run
//! # async fn run() -> spektate_core::Result<()> {
//! use std::sync::Arc;
//! use spektate_azdo::{AzureDevOps, AzureRepos, AzureTableStore};
//! use spektate_core::http::Secret;
//! use spektate_core::{Filter, RepoRef, Tracker};
//!
//! let pat = Secret::new(std::env::var("SPEKTATE_AZDO_TOKEN").unwrap_or_default());
//! let store = AzureTableStore::from_connection_string("UseDevelopmentStorage=true", "deployments")?;
//! let tracker = Tracker::builder(Arc::new(store))
//!     .partition("hello-bedrock")
//!     .pipelines(Arc::new(AzureDevOps::cloud("fabrikam", "hello-bedrock", pat.clone())?))
//!     .repositories(Arc::new(AzureRepos::new(pat)?))
//!     .manifest_repo(RepoRef::parse("https://dev.azure.com/fabrikam/hello-bedrock/_git/manifests")?)
//!     .build();
//! for d in tracker.deployments(&Filter::default()).await? {
//!     println!("{} {:?} {}", d.status.as_str(), d.service(), d.clusters.len());
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod api;
pub mod builds;
pub mod entra;
mod history;
mod pipelines;
pub mod releases;
mod repos;
pub mod table;

pub use api::{DEFAULT_URL, parse_time};
pub use entra::{EntraCredential, EntraKind};
pub use pipelines::{AzureDevOps, AzureDevOpsBuilder};
pub use repos::{AzureRepos, AzureReposBuilder, commit_author, pull_request};
pub use table::{AzureTableStore, TableAccount, TableCredential};

/// The parsers of Azure DevOps and Table Storage answers, reachable for the fuzz targets and
/// the never-panic test. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::table::entity::{
        entity_cluster, entity_record, entity_report, etag_time, insertion_time,
    };

    use spektate_core::Record;
    use spektate_core::cache::{Answer, AnswerKey};

    use crate::table::answers::{AnswerRow, read_row};
    use crate::table::page::{RecordRow, parse_page};

    /// A record row as the store reads one: its ordering time and record; `None` for a row
    /// without keys.
    pub type ReadRecord = Option<(Option<chrono::DateTime<chrono::Utc>>, Record)>;

    /// A kept answer row as the store reads one: the key it names and its answer for that
    /// key; `None` for a row naming no key.
    pub type ReadAnswer = Option<(AnswerKey, spektate_core::Result<Answer>)>;

    /// A Query Entities page of records, parsed as it streams in.
    pub fn record_page(body: &[u8]) -> serde_json::Result<Vec<ReadRecord>> {
        let mut out = Vec::new();
        parse_page(body, |row: RecordRow| out.push(row.0))?;
        Ok(out)
    }

    /// A Query Entities page of a `<partition>~answers` partition, parsed as it streams in.
    pub fn answer_page(body: &[u8]) -> serde_json::Result<Vec<ReadAnswer>> {
        let mut out = Vec::new();
        parse_page(body, |row: AnswerRow| out.push(read_row(row)))?;
        Ok(out)
    }

    /// One kept answer entity, as a point read returns it.
    pub fn answer_entity(body: &[u8]) -> serde_json::Result<ReadAnswer> {
        serde_json::from_slice(body).map(read_row)
    }

    /// A field of an answer as text, as the providers read one
    /// ([`spektate_core::fields::non_empty_text`]).
    pub fn text(value: Option<&serde_json::Value>) -> Option<String> {
        spektate_core::fields::non_empty_text(value)
    }
}
