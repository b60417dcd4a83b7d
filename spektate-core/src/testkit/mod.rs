//! Conformance suites: every [`RecordStore`] runs [`store_conformance`], and a store is done
//! when it passes. Each case works in a fresh partition of its own, so one store instance
//! (an Azure table, a SQLite file) serves the whole suite.

mod store_suite;

pub use store_suite::store_conformance;
