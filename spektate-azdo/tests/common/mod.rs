//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod azurite;
pub mod fake_org;
pub mod fixtures;
pub mod history_table;
pub mod raw_table;
pub mod sas;
