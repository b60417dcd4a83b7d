//! Correlation: from records and what providers know to deployments
//! (docs/ARCHITECTURE.md, Correlation).

pub mod deadline;
pub mod fetch;
pub mod join;
pub mod key;
mod live;
pub mod placement;
pub mod status;
mod tables;

pub use deadline::within;
pub use join::{Knowledge, Lookup, RepoDefaults, SourceAnswer, correlate, deployment};
pub use key::Key;
