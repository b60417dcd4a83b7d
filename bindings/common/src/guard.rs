//! Calls into the library that never let a panic unwind into Python or JavaScript: a panic
//! becomes a [`Panic`], which each binding raises as its internal error (`SpektateError`).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use futures::FutureExt;

/// A call that panicked; shown as `internal error: <the panic's message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic(pub String);

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "internal error: {}", self.0)
    }
}

impl Panic {
    /// The panic of a payload `catch_unwind` returned: its message, when it has one.
    pub fn of(payload: &(dyn Any + Send)) -> Self {
        Panic(
            payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".to_string()),
        )
    }
}

/// Runs `f`, catching a panic.
pub fn call<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| Panic::of(&*p))
}

/// Runs `fut` to its output, catching a panic in any of its polls.
pub async fn run<T>(fut: impl Future<Output = T>) -> Result<T, Panic> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|p| Panic::of(&*p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_a_value_passes_through() {
        assert_eq!(call(|| 7), Ok(7));
        let e = call(|| -> u8 { panic!("store {} broke", "x") }).unwrap_err();
        assert_eq!(e.to_string(), "internal error: store x broke");
        let e = call(|| std::panic::panic_any(42)).unwrap_err();
        assert_eq!(e, Panic("unknown cause".to_string()));
    }

    #[tokio::test]
    async fn a_panic_while_polling_is_caught() {
        assert_eq!(run(async { 7 }).await, Ok(7));
        let e = run(async {
            tokio::task::yield_now().await;
            panic!("late");
        })
        .await;
        assert_eq!(e, Err::<(), _>(Panic("late".to_string())));
    }
}
