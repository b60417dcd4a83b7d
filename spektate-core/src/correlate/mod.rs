//! Correlation: from records and what providers know to deployments
//! (docs/ARCHITECTURE.md, Correlation).

pub mod deadline;
pub mod fetch;
pub mod join;
pub mod status;

pub use deadline::within;
pub use join::{Knowledge, Lookup, RepoDefaults, correlate, deployment};
