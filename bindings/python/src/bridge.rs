//! The awaitable of a coroutine method: a Rust future run on Spektate's Tokio runtime whose
//! outcome settles an asyncio future, without ever touching Python once the interpreter is
//! shutting down.
//!
//! A thread that is not Python's and takes the GIL while the interpreter finalizes is ended
//! by CPython with `pthread_exit`, which aborts the whole process when the thread runs Rust
//! code (exit status 134). Settling a future takes the GIL from a runtime thread, and even
//! after the awaiting coroutine has its result, `call_soon_threadsafe` may still be writing
//! to the event loop's wake-up socket with the GIL released, while the main thread returns
//! from `asyncio.run` and exits. So each settlement is counted while it uses Python, and an
//! `atexit` hook (which runs before finalization starts) closes the door to new ones and
//! waits, with the GIL released, for those under way. (So a coroutine method awaited in an
//! `atexit` hook that runs after this one, one registered before `spektate` was imported,
//! never completes; its blocking twin does.)

use std::future::Future;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use spektate_bindings_common::guard;
use tokio::task::AbortHandle;

use crate::errors::settle;

/// How long the exit hook waits for settlements under way (each takes microseconds).
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// Settlements using Python now, and whether the interpreter is exiting.
struct Door {
    busy: usize,
    closed: bool,
}

static DOOR: Mutex<Door> = Mutex::new(Door {
    busy: 0,
    closed: false,
});
static LEFT: Condvar = Condvar::new();

/// Runs `f` with the GIL unless the interpreter is exiting; counted, so the exit hook waits.
fn with_python(f: impl FnOnce(Python<'_>)) {
    {
        let mut door = DOOR.lock().unwrap_or_else(|e| e.into_inner());
        if door.closed {
            return;
        }
        door.busy += 1;
    }
    Python::attach(f);
    let mut door = DOOR.lock().unwrap_or_else(|e| e.into_inner());
    door.busy -= 1;
    LEFT.notify_all();
}

/// The `atexit` hook: no settlement starts any more, and those under way finish.
#[pyfunction]
fn _settle_before_exit(py: Python<'_>) {
    py.detach(|| {
        let mut door = DOOR.lock().unwrap_or_else(|e| e.into_inner());
        door.closed = true;
        let _ = LEFT
            .wait_timeout_while(door, EXIT_WAIT, |d| d.busy > 0)
            .map_err(|e| e.into_inner());
    });
}

/// Registers the exit hook.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(_settle_before_exit, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}

/// The done callback of the asyncio future: a cancelled future cancels the Rust task.
#[pyclass(frozen)]
struct CancelTask(AbortHandle);

#[pymethods]
impl CancelTask {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.0.abort();
        }
        Ok(())
    }
}

/// Called on the event loop's thread: settles the future unless it is already done
/// (cancelled meanwhile).
#[pyclass(frozen)]
struct Settle;

#[pymethods]
impl Settle {
    fn __call__(
        &self,
        future: &Bound<'_, PyAny>,
        ok: bool,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if future.call_method0("done")?.is_truthy()? {
            return Ok(());
        }
        let method = if ok { "set_result" } else { "set_exception" };
        future.call_method1(method, (value,))?;
        Ok(())
    }
}

/// The awaitable of `fut`: an asyncio future of the running event loop (a `RuntimeError`
/// when there is none), settled with `fut`'s value or its error's exception.
pub fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = spektate::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let runtime = pyo3_async_runtimes::tokio::get_runtime();
    let task = runtime.spawn(guard::run(fut));
    future.call_method1("add_done_callback", (CancelTask(task.abort_handle()),))?;
    let (event_loop, target) = (event_loop.unbind(), future.clone().unbind());
    runtime.spawn(async move {
        // Aborted: the asyncio future was cancelled and wants nothing.
        let Ok(outcome) = task.await else { return };
        // Python is not touched on a runtime worker, where holding the GIL would stall others.
        let _ = tokio::task::spawn_blocking(move || {
            with_python(|py| {
                let (ok, value) = match settle(outcome).and_then(|v| v.into_py_any(py)) {
                    Ok(v) => (true, v),
                    Err(e) => (false, e.into_value(py).into_any()),
                };
                let sent = event_loop
                    .bind(py)
                    .call_method1("call_soon_threadsafe", (Settle, target.bind(py), ok, value));
                // A closed event loop has nobody left to tell.
                drop(sent);
                drop((event_loop, target));
            });
        })
        .await;
    });
    Ok(future)
}
