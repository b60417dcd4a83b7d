//! Correlation: from records and what providers know to deployments (DESIGN §3).

pub mod fetch;
pub mod join;
pub mod status;

pub use join::{Knowledge, Lookup, RepoDefaults, correlate, deployment};
