//! The data model: records, runs, repositories and deployments.

pub mod cluster;
pub mod deployment;
pub mod record;
pub mod repo;
pub mod run;
pub mod url;
