//! Errors as JavaScript sees them: an `Error` whose `code` is the kind of the library error
//! (`ConfigError`, `StoreError`, `ConflictError`, `NotFoundError`, `ProviderError`,
//! `AuthError`; `SpektateError` for an internal failure), the same names as the Python
//! exception classes. A panic never crosses into JavaScript.

use std::future::Future;

use napi::bindgen_prelude::{ToNapiValue, TypeName, Unknown, ValueType};
use napi::sys;
use spektate_bindings_common::guard::{self, Panic};

/// The `code` of a thrown error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// The result of a synchronous call: an error throws with its kind as `code`.
pub type Result<T> = napi::Result<T, Code>;

/// The thrown form of a library error.
pub fn to_js(e: spektate::Error) -> napi::Error<Code> {
    napi::Error::new(Code(e.kind()), e.to_string())
}

/// A `ConfigError` naming `field` and what is wrong with its value.
pub fn invalid(field: &str, reason: impl std::fmt::Display) -> napi::Error<Code> {
    to_js(spektate::Error::invalid(field, reason))
}

/// A guarded call's outcome: a library error thrown with its kind, a panic as
/// `SpektateError`.
fn outcome<T>(outcome: std::result::Result<spektate::Result<T>, Panic>) -> Result<T> {
    match outcome {
        Ok(result) => result.map_err(to_js),
        Err(panic) => Err(napi::Error::new(Code("SpektateError"), panic.to_string())),
    }
}

/// Runs a synchronous library call, mapping its error and catching a panic.
pub fn sync<T>(f: impl FnOnce() -> spektate::Result<T>) -> Result<T> {
    outcome(guard::call(f))
}

/// How an asynchronous call ended. Converting it on the JavaScript thread settles the
/// promise: with the value, or rejected with an `Error` that carries the kind as `code`.
pub struct Settled<T>(std::result::Result<T, napi::Error<Code>>);

impl<T> TypeName for Settled<T> {
    fn type_name() -> &'static str {
        "Settled"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl<T: ToNapiValue> ToNapiValue for Settled<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            // SAFETY: called by napi on the JavaScript thread with its env.
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => {
                // A JavaScript `Error` with `code` set, handed back as the rejection (napi
                // rejects with the very object an error refers to).
                let error = unsafe { napi::JsError::from(e).into_value(env) };
                let unknown = unsafe { Unknown::from_raw_unchecked(env, error) };
                Err(napi::Error::from(unknown))
            }
        }
    }
}

/// Runs `fut` to a [`Settled`], mapping a library error to its kind and a panic to
/// `SpektateError`.
pub async fn settle<T>(fut: impl Future<Output = spektate::Result<T>>) -> napi::Result<Settled<T>> {
    Ok(Settled(outcome(guard::run(fut).await)))
}

/// A [`Settled`] that failed before any work started (bad arguments).
pub fn failed<T>(e: napi::Error<Code>) -> napi::Result<Settled<T>> {
    Ok(Settled(Err(e)))
}
