//! Spektate's core: where is my container?
//!
//! A change travels from a source commit through an image pipeline (p1), a metadata
//! pipeline (p2) with an approval pull request, a manifest pipeline (p3) and a GitOps agent
//! that syncs each cluster. Pipelines write [`Record`]s through the [`Recorder`]'s linking
//! rules; the [`Tracker`] joins them with what [`Pipelines`] and [`Repositories`] providers
//! know into one [`Deployment`] per change.
//!
//! ```
//! # tokio_test();
//! # fn tokio_test() {
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use spektate_core::{Filter, ImageBuilt, MemoryStore, Recorder, RunReported, RunStatus, Tracker};
//!
//! let store = Arc::new(MemoryStore::new());
//! let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
//! recorder.image_built(&ImageBuilt {
//!     p1: "101".into(), image_tag: "frontend-101".into(), commit_id: "a1b2c3d".into(),
//!     service: "frontend".into(), repository: None,
//! }).await.unwrap();
//! recorder.run_reported(&RunReported::new("101", RunStatus::InProgress)).await.unwrap();
//!
//! let tracker = Tracker::builder(store).partition("fabrikam").build();
//! let deployments = tracker.deployments(&Filter::default()).await.unwrap();
//! assert_eq!(deployments[0].service(), Some("frontend"));
//! assert_eq!(deployments[0].status.as_str(), "In Progress");
//! # });
//! # }
//! ```
#![warn(missing_docs)]

pub mod cache;
pub mod correlate;
pub mod error;
#[cfg(feature = "http")]
pub mod etag_cache;
pub mod events;
pub mod fields;
pub mod filter;
#[cfg(feature = "http")]
pub mod http;
pub mod ingest;
pub mod insights;
pub mod model;
pub mod provider;
pub mod recorder;
pub mod render;
#[cfg(feature = "http")]
pub mod request_counts;
pub mod self_trace;
pub mod store;
pub mod stored_runs;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod text;
pub mod tracker;
pub mod url_encode;
pub mod warnings;
pub mod window;

pub use correlate::{Knowledge, Lookup, RepoDefaults, correlate};
pub use error::{Error, Result};
pub use filter::Filter;
pub use model::cluster::{Applied, Attempt, ClusterHistory, ClusterReport, Live, Outcome};
pub use model::deployment::{
    Author, ClusterSync, Deployment, DeploymentKind, PullRequest, Status, Step, StepName,
    StepState, commits_match,
};
pub use model::record::{Record, display_service, new_row_key, normalize};
pub use model::repo::{RepoHost, RepoRef};
pub use model::run::{Run, RunKind, RunReport, RunResult, RunStatus, Stage};
pub use provider::{
    DEFAULT_SYNC_TAG_PREFIX, MAX_COMMIT_ORDER, MAX_SYNC_TAGS, Pipelines, Repositories, RunBatch,
    RunRequest, SyncSource, check_sync_tag_prefix,
};
pub use recorder::{
    ImageBuilt, ManifestCommitted, ManifestGenerated, MetadataUpdated, Recorder, RunReported,
};
pub use store::memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use store::sqlite::SqliteStore;
pub use store::{RecordQuery, RecordStore};
pub use stored_runs::StoredRuns;
pub use tracker::{RefreshStats, Snapshot, Tracker, TrackerBuilder, trace};
pub use window::Window;

/// Re-exported so implementors of the provider traits use the same version.
pub use async_trait::async_trait;
