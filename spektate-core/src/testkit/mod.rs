//! Test kit: the conformance suite every [`crate::RecordStore`] runs ([`store_conformance`];
//! a store is done when it passes), call-counting fake providers, and a store wrapper that
//! injects faults.
//! Each conformance case works in a fresh partition of its own, so one store instance
//! (an Azure table, a SQLite file) serves the whole suite.

pub mod fakes;
mod faulty_store;
mod store_suite;

pub use fakes::{FakeCi, FakeRepos};
pub use faulty_store::{Fault, FaultyStore};
pub use store_suite::store_conformance;
