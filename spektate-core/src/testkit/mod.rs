//! Test kit: the conformance suites every [`crate::RecordStore`] ([`store_conformance`], and
//! [`answers_conformance`] when it keeps providers' answers),
//! [`crate::Pipelines`] ([`pipelines_conformance`]) and [`crate::Repositories`]
//! ([`repositories_conformance`]) implementation runs (one is done when it passes),
//! call-counting fake providers, a store wrapper that injects faults, and the log of what
//! fakes answered ([`specs_log`]).
//!
//! Each store case works in a fresh partition of its own, so one store instance (an Azure
//! table, a SQLite file) serves the whole suite. A provider runs its suites against a fake of
//! its own service's API ([`PipelinesFake`], [`RepositoriesFake`]) that pages, fails and
//! revalidates as the service does.

mod answers_suite;
pub mod fakes;
mod faulty_store;
mod pipelines_suite;
mod report;
mod repositories_suite;
mod served;
pub mod specs_log;
mod store_suite;

pub use answers_suite::answers_conformance;
pub use fakes::{FakeCi, FakeRepos, requests};
pub use faulty_store::{Fault, FaultyStore};
pub use pipelines_suite::{PipelinesFake, RunSpec, pipelines_conformance};
pub use report::Report;
pub use repositories_suite::{Listed, PullState, RepositoriesFake, repositories_conformance};
pub use served::{Served, describe};
pub use store_suite::store_conformance;
