//! `Store`, and the store argument of `Recorder` and `Tracker`: a `Store`, or a spec or path.

use std::sync::Arc;

use napi::Either;
use napi::bindgen_prelude::ClassInstance;
use napi_derive::napi;
use spektate::config::Access;
use spektate::{MemoryStore, RecordStore};
use spektate_bindings_common::store;

use crate::NAMES;
use crate::errors::{Result, sync};

/// Options of `Store.open`.
#[napi(object)]
pub struct StoreOptions {
    /// The table of an `azure-table:` store.
    pub table: Option<String>,
    /// Open it for writing (default `false`: it must exist, and is read): a missing SQLite
    /// file is created, a PostgreSQL schema is created or migrated at the first write.
    pub create: Option<bool>,
}

/// A record store: where pipelines record and trackers read.
#[napi]
pub struct Store {
    pub(crate) inner: Arc<dyn RecordStore>,
}

#[napi]
impl Store {
    /// Opens the store `spec` names: `sqlite:PATH` or a plain path (SQLite, one file),
    /// `azure-table:CONNECTION_STRING` with `options.table`, or
    /// `postgres://USER:PASSWORD@HOST/DATABASE` (PostgreSQL; nothing connects before the
    /// first read or write).
    #[napi(factory)]
    pub fn open(spec: String, options: Option<StoreOptions>) -> Result<Store> {
        let (table, create) =
            options.map_or((None, false), |o| (o.table, o.create.unwrap_or(false)));
        sync(|| store::open(spec, table, create, &NAMES)).map(|inner| Store { inner })
    }

    /// A store in memory, gone with the process.
    #[napi(factory)]
    pub fn memory() -> Store {
        Store {
            inner: Arc::new(MemoryStore::new()),
        }
    }

    /// What the store is (`sqlite:/srv/spektate.db`, `postgres://ci@db/spektate`); never a
    /// credential.
    #[napi(getter)]
    pub fn description(&self) -> String {
        self.inner.describe()
    }
}

/// A `Store`, or a spec or path to open with `access`.
pub fn store_arg(
    store: Either<ClassInstance<'_, Store>, String>,
    access: Access,
) -> Result<Arc<dyn RecordStore>> {
    match store {
        Either::A(s) => Ok(s.inner.clone()),
        Either::B(spec) => sync(|| store::from_spec(spec, access, &NAMES)),
    }
}
