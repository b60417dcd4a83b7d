//! The exception classes, one per kind of [`spektate::Error`], and the runner that turns a
//! Rust future into an awaitable or a blocking call without letting a panic escape.

use std::future::Future;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use spektate_bindings_common::guard::{self, Panic};

create_exception!(
    spektate,
    SpektateError,
    PyException,
    "Base class of every error Spektate raises."
);
create_exception!(
    spektate,
    ConfigError,
    SpektateError,
    "Input that cannot be accepted: the message names the setting or argument and its value."
);
create_exception!(
    spektate,
    StoreError,
    SpektateError,
    "The record store failed (it names the store and the operation)."
);
create_exception!(
    spektate,
    ConflictError,
    SpektateError,
    "A conditional write lost: the record changed since it was read."
);
create_exception!(
    spektate,
    NotFoundError,
    SpektateError,
    "A record an operation needs does not exist."
);
create_exception!(
    spektate,
    ProviderError,
    SpektateError,
    "A CI or repository provider failed (it names the provider, operation and object)."
);
create_exception!(
    spektate,
    AuthError,
    ProviderError,
    "A provider rejected the credentials (HTTP 401 or 403)."
);

/// The exception for a library error, chosen by [`spektate::Error::kind`]. A field the
/// library names in camelCase (`imageTag`, as JSON spells it) is named as the Python
/// keyword is (`image_tag`).
pub fn to_py(e: spektate::Error) -> PyErr {
    let e = match e {
        spektate::Error::Invalid { field, reason } => spektate::Error::Invalid {
            field: snake_case(&field),
            reason,
        },
        other => other,
    };
    let message = e.to_string();
    match e.kind() {
        "ConfigError" => ConfigError::new_err(message),
        "StoreError" => StoreError::new_err(message),
        "ConflictError" => ConflictError::new_err(message),
        "NotFoundError" => NotFoundError::new_err(message),
        "AuthError" => AuthError::new_err(message),
        "ProviderError" => ProviderError::new_err(message),
        _ => SpektateError::new_err(message),
    }
}

/// `imageTag` as `image_tag`; anything but one camelCase word (`p1`, `partition key`,
/// `GitHub API URL`) as it is.
fn snake_case(field: &str) -> String {
    let word = field.starts_with(|c: char| c.is_ascii_lowercase())
        && field.chars().all(|c| c.is_ascii_alphanumeric())
        && field.chars().any(|c| c.is_ascii_uppercase());
    if !word {
        return field.to_string();
    }
    let mut out = String::with_capacity(field.len() + 4);
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A [`ConfigError`] naming `field` and what is wrong with its value.
pub fn invalid(field: &str, reason: impl std::fmt::Display) -> PyErr {
    to_py(spektate::Error::invalid(field, reason))
}

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SpektateError", py.get_type::<SpektateError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("ConflictError", py.get_type::<ConflictError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("ProviderError", py.get_type::<ProviderError>())?;
    m.add("AuthError", py.get_type::<AuthError>())?;
    Ok(())
}

/// A guarded call's outcome: a library error as its exception, a panic as a
/// [`SpektateError`] (a panic never unwinds into Python).
pub(crate) fn settle<T>(outcome: Result<spektate::Result<T>, Panic>) -> PyResult<T> {
    match outcome {
        Ok(result) => result.map_err(to_py),
        Err(panic) => Err(SpektateError::new_err(panic.to_string())),
    }
}

/// The awaitable of a coroutine method: runs `fut` on Spektate's Tokio runtime. Must be
/// called with a running asyncio event loop (from inside `async def`); see [`crate::bridge`].
pub fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = spektate::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    crate::bridge::awaitable(py, fut)
}

/// The blocking twin: runs `fut` on the same runtime with the GIL released, so other Python
/// threads run meanwhile.
pub fn blocking<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = spektate::Result<T>> + Send,
    T: Send,
{
    py.detach(|| settle(pyo3_async_runtimes::tokio::get_runtime().block_on(guard::run(fut))))
}

/// Runs a synchronous library call with the GIL released, panics caught.
pub fn detached<F, T>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> spektate::Result<T> + Send,
    T: Send,
{
    py.detach(|| settle(guard::call(f)))
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn camel_case_fields_are_named_as_python_keywords() {
        for (given, want) in [
            ("imageTag", "image_tag"),
            ("hldCommitId", "hld_commit_id"),
            ("queuedAt", "queued_at"),
            ("p1", "p1"),
            ("partition key", "partition key"),
            ("GitHub API URL", "GitHub API URL"),
            ("--table-auth", "--table-auth"),
        ] {
            assert_eq!(snake_case(given), want, "{given}");
        }
    }
}
