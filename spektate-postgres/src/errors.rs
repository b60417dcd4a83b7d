//! Messages for driver and pool errors: the whole chain of causes, and for a server error
//! its message, SQLSTATE, detail and hint. The server and the driver never repeat a password.

use deadpool_postgres::{PoolError, TimeoutType};
use tokio_postgres::error::SqlState;

/// A driver error as one line.
pub fn pg(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str("; ");
            text.push_str(detail);
        }
        if let Some(hint) = db.hint() {
            text.push_str("; hint: ");
            text.push_str(hint);
        }
        if db.code() == &SqlState::LOCK_NOT_AVAILABLE {
            text.push_str(
                "; another session held the lock longer than lock_timeout (the store's \
                 default is 30 s; a URL's options=-c lock_timeout=... sets another)",
            );
        }
        return text;
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A pool error as one line; `wait` is how long a caller waits for a free connection.
pub fn pool(e: &PoolError, wait: std::time::Duration) -> String {
    match e {
        PoolError::Backend(e) => pg(e),
        PoolError::Timeout(TimeoutType::Wait) => {
            format!("no free connection in the pool within {} s", wait.as_secs())
        }
        PoolError::Timeout(TimeoutType::Create) => {
            "no connection to the server within the connect timeout".to_string()
        }
        PoolError::Timeout(TimeoutType::Recycle) => {
            "a pooled connection did not answer in time".to_string()
        }
        other => other.to_string(),
    }
}

/// Whether a driver error is the server's unique violation (an insert of an existing key).
pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Whether a driver error is the server's "relation does not exist".
pub fn is_undefined_table(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNDEFINED_TABLE)
}
