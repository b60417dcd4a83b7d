//! The PostgreSQL record store for Spektate: one database that pipelines on many machines,
//! and several servers, share.
//!
//! ```no_run
//! # async fn demo() -> spektate_core::Result<()> {
//! use std::sync::Arc;
//! use spektate_core::{ImageBuilt, Recorder};
//! use spektate_postgres::PostgresStore;
//!
//! let store = PostgresStore::open("postgres://spektate:secret@db.example.com/spektate?sslmode=verify-full")?;
//! let recorder = Recorder::new(Arc::new(store), "fabrikam")?;
//! recorder.image_built(&ImageBuilt {
//!     p1: "1042".into(), image_tag: "frontend-1042".into(), commit_id: "a3f9c2e".into(),
//!     service: "fabrikam/frontend".into(), repository: None,
//! }).await?;
//! # Ok(()) }
//! ```
//!
//! - **Pool**: connections come from a pool ([deadpool-postgres](deadpool_postgres)), made on
//!   demand and kept for reuse.
//! - **TLS**: rustls, by the URL's `sslmode` and `sslrootcert` as libpq reads them ([`tls`]).
//! - **Schema**: versioned; writers migrate, readers only check ([`schema`]).
//! - **Conditional writes**: a record's etag is its `version`; a replace or delete names the
//!   version it read and loses to any write in between.
//! - **What changed**: every write takes a change sequence under a per-partition lock held
//!   until commit, so a reader following the sequence misses no late commit ([`schema`]).
//! - **Providers' answers**: completed runs, their stages, commit authors and merged pull
//!   requests are kept per partition (`spektate_answers`, schema version 2), so a deployment's
//!   history outlives the CI's retention of its runs.
//! - **Claims**: servers sharing the database claim each notification (`spektate_claims`,
//!   which writers add without a schema version, as no reader reads it), so one of them
//!   sends it.
//! - **No secrets shown**: [`PostgresStore`]'s description, `Debug` and errors show the URL
//!   without its password ([`url::redact`]).
#![warn(missing_docs)]

mod answers;
mod errors;
mod read;
mod records;
pub mod schema;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tls;
pub mod url;

pub use store::PostgresStore;
