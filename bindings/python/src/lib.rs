//! The native part of the `spektate` Python package (`spektate._spektate`): thin classes
//! over the Rust library. The package's `__init__.py` re-exports them with the enums.
//!
//! One convention holds for every I/O method: `name(...)` returns an awaitable for asyncio
//! (call it inside a running event loop), and `name_blocking(...)` takes the same
//! arguments and returns the result directly, with the GIL released while it waits. Both
//! come from one definition ([`twins`]).

mod bridge;
mod errors;
mod filter;
mod insights;
mod names;
mod providers;
mod recorder;
mod results;
mod server;
mod store;
mod tracker;
mod twins;
mod values;

use pyo3::prelude::*;

#[pymodule]
fn _spektate(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    bridge::register(m)?;
    m.add_class::<store::PyStore>()?;
    m.add_class::<recorder::PyRecorder>()?;
    m.add_class::<server::PyServerRecorder>()?;
    m.add_class::<filter::PyFilter>()?;
    m.add_class::<tracker::PyTracker>()?;
    m.add_class::<providers::PyGitHub>()?;
    m.add_class::<providers::PyGitLab>()?;
    m.add_class::<providers::PyAzureDevOps>()?;
    m.add_class::<results::PyDeployment>()?;
    m.add_class::<results::PyStep>()?;
    m.add_class::<results::PyRun>()?;
    m.add_class::<results::PyStage>()?;
    m.add_class::<results::PyAuthor>()?;
    m.add_class::<results::PyPullRequest>()?;
    m.add_class::<results::PyClusterSync>()?;
    m.add_class::<results::PyLive>()?;
    m.add_class::<results::PyClusterReport>()?;
    m.add_class::<results::PyRepo>()?;
    m.add_class::<results::PyRecord>()?;
    m.add_class::<results::PyRunReport>()?;
    m.add_class::<results::PyRefreshStats>()?;
    m.add_class::<insights::PyMetrics>()?;
    m.add_class::<insights::PyFigures>()?;
    m.add_class::<insights::PyMetricsGroup>()?;
    m.add_class::<insights::PyDeploymentFrequency>()?;
    m.add_class::<insights::PyLeadTime>()?;
    m.add_class::<insights::PyLeadTimeShares>()?;
    m.add_class::<insights::PyChangeFailureRate>()?;
    m.add_class::<insights::PyTimeToRestore>()?;
    m.add_class::<insights::PyEta>()?;
    m.add_class::<insights::PyEtaStep>()?;
    Ok(())
}
