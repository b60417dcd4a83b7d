//! `Store`, and the store argument of `Recorder` and `Tracker`: a `Store`, or a spec or path.

use std::sync::Arc;

use napi::bindgen_prelude::{ClassInstance, Either3, Unknown};
use napi::{Either, ValueType};
use napi_derive::napi;
use spektate::config::Access;
use spektate::{MemoryStore, RecordStore};
use spektate_bindings_common::store;

use crate::NAMES;
use crate::errors::{Code, Result, invalid, sync};
use crate::input::number;

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
    pub fn open(
        #[napi(ts_arg_type = "string")] spec: Either<String, Unknown<'_>>,
        options: Option<StoreOptions>,
    ) -> Result<Store> {
        let spec = match spec {
            Either::A(spec) => spec,
            Either::B(other) => return Err(refused(&other, "a store spec or a path")),
        };
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

/// The store argument as given: a `Store`, a spec or path, or any other value, which
/// [`store_arg`] refuses. Declared `Store | string` in `index.d.ts` (`ts_arg_type`).
pub type StoreArg<'a> = Either3<ClassInstance<'a, Store>, String, Unknown<'a>>;

/// A `Store`, or a spec or path to open with `access`.
pub fn store_arg(store: StoreArg<'_>, access: Access) -> Result<Arc<dyn RecordStore>> {
    match store {
        Either3::A(s) => Ok(s.inner.clone()),
        Either3::B(spec) => sync(|| store::from_spec(spec, access, &NAMES)),
        Either3::C(other) => Err(refused(&other, "a Store, a store spec or a path")),
    }
}

/// The `ConfigError` of a store argument that is not `wanted`, instead of napi's, which
/// names no argument and may echo an object holding a password.
fn refused(value: &Unknown<'_>, wanted: &str) -> napi::Error<Code> {
    invalid(NAMES.store, format!("{} is not {wanted}", shown(value)))
}

/// A value that is no store, as a message shows it: a number or boolean as itself, anything
/// else by its type alone (an object may hold a connection string with its password).
fn shown(value: &Unknown<'_>) -> String {
    match value.get_type() {
        // SAFETY: each cast is to the type `get_type` said the value has.
        Ok(ValueType::Number) => unsafe { value.cast::<f64>() }.map_or_else(
            |_| "a number".into(),
            |n| format!("the number {}", number(n)),
        ),
        Ok(ValueType::Boolean) => unsafe { value.cast::<bool>() }
            .map_or_else(|_| "a boolean".into(), |b| format!("the boolean {b}")),
        Ok(ValueType::Undefined) => "undefined".into(),
        Ok(ValueType::Null) => "null".into(),
        Ok(ValueType::String) => "a string".into(),
        Ok(ValueType::Symbol) => "a symbol".into(),
        Ok(ValueType::Object) => "an object".into(),
        Ok(ValueType::Function) => "a function".into(),
        Ok(ValueType::External) => "an external".into(),
        Ok(ValueType::BigInt) => "a bigint".into(),
        Ok(ValueType::Unknown) | Err(_) => "a value".into(),
    }
}
