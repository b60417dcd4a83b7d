//! `Store`, and the store argument of `Recorder` and `Tracker`: a `Store`, or a spec or path.

use std::sync::Arc;

use pyo3::prelude::*;
use spektate::config::Access;
use spektate::{MemoryStore, RecordStore};
use spektate_bindings_common::store;

use crate::errors::{detached, invalid};
use crate::names::{NAMES, quoted};
use crate::values::{path_or_str, type_name};

/// A record store: where pipelines record and trackers read.
#[pyclass(frozen, module = "spektate", name = "Store")]
#[derive(Clone)]
pub struct PyStore(pub Arc<dyn RecordStore>);

#[pymethods]
impl PyStore {
    /// Opens the store `spec` names: `sqlite:PATH` or a plain path (SQLite, one file),
    /// `azure-table:CONNECTION_STRING` with `table`, or `postgres://USER:PASSWORD@HOST/DATABASE`
    /// (PostgreSQL; nothing connects before the first read or write). With `create=True` it
    /// is opened for writing: a missing SQLite file is created, a PostgreSQL schema is created
    /// or migrated at the first write; without, it must exist and is read.
    #[staticmethod]
    #[pyo3(signature = (spec, *, table = None, create = false))]
    fn open(
        py: Python<'_>,
        spec: &Bound<'_, PyAny>,
        table: Option<String>,
        create: bool,
    ) -> PyResult<Self> {
        let spec = path_or_str("store", spec)?;
        detached(py, || store::open(spec, table, create, &NAMES)).map(PyStore)
    }

    /// A store in memory, gone with the process (tests, notebooks).
    #[staticmethod]
    fn memory() -> Self {
        PyStore(Arc::new(MemoryStore::new()))
    }

    /// What the store is (`sqlite:/srv/spektate.db`, `postgres://ci@db/spektate`); never a
    /// credential.
    #[getter]
    fn description(&self) -> String {
        self.0.describe()
    }

    fn __repr__(&self) -> String {
        format!("Store({})", quoted(&self.0.describe()))
    }
}

/// A `Store`, or a spec or path to open with `access`.
pub fn store_arg(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    access: Access,
) -> PyResult<Arc<dyn RecordStore>> {
    if let Ok(store) = value.cast::<PyStore>() {
        return Ok(store.get().0.clone());
    }
    // Not echoed: bytes or an object may hold a connection string with its password.
    let spec = path_or_str("store", value).map_err(|_| {
        invalid(
            "store",
            format!(
                "a {} is not a Store, a store spec or a path",
                type_name(value)
            ),
        )
    })?;
    detached(py, || store::from_spec(spec, access, &NAMES))
}
