//! The Azure Table Storage record store, hand-written on the shared HTTP client: Shared Key
//! signing, shared access signatures and Microsoft Entra ID tokens, connection strings, OData filters with escaped literals, continuation paging,
//! ETag-conditional writes, entity group transactions, pages parsed as they arrive, and the
//! service's limits checked before a write is sent.

pub(crate) mod answers;
pub mod batch;
mod claims;
mod connection;
pub(crate) mod entity;
pub mod limits;
pub mod odata;
pub(crate) mod page;
pub mod signing;
mod store;

pub use connection::{
    DEV_ACCOUNT, DEV_KEY, DEV_TABLE_ENDPOINT, Sas, TableAccount, TableCredential,
    account_of_endpoint,
};
pub use store::{ANSWERS_SUFFIX, AzureTableStore, CLAIMS_SUFFIX, CLUSTERS_SUFFIX, RUNS_SUFFIX};
