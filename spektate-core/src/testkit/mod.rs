//! Test kit: the conformance suite every [`crate::RecordStore`] runs ([`store_conformance`];
//! a store is done when it passes), and call-counting fake providers.
//! Each conformance case works in a fresh partition of its own, so one store instance
//! (an Azure table, a SQLite file) serves the whole suite.

pub mod fakes;
mod store_suite;

pub use fakes::{FakeCi, FakeRepos};
pub use store_suite::store_conformance;
