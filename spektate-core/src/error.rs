//! The one error type of the core.

use std::fmt;

/// A result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core, each naming what it was doing and on what.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that cannot be accepted: names the field and the offending value.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field or argument, as a user knows it (`imageTag`, `--p1`, a URL).
        field: String,
        /// What is wrong with it, quoting the value.
        reason: String,
    },
    /// A record store failed.
    #[error("{store} store: {operation} failed: {message}")]
    Store {
        /// Which store (`sqlite:/path/spektate.db`, `azure-table:account/table`).
        store: String,
        /// What it was doing (`open`, `insert`, `query`).
        operation: String,
        /// The cause.
        message: String,
    },
    /// A conditional write lost: the record changed since it was read.
    #[error("conflict: record {row_key} in partition {partition} changed since it was read")]
    Conflict {
        /// Partition of the record.
        partition: String,
        /// Row key of the record.
        row_key: String,
    },
    /// A record that an operation needs does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for, with its key.
        what: String,
    },
    /// A provider (CI or repository host) failed.
    #[error("{provider}: {operation} {object}: {message}")]
    Provider {
        /// The provider (`azure-devops dev.azure.com/org`).
        provider: String,
        /// What it was doing (`get builds`).
        operation: String,
        /// On what (`ids 12,13`).
        object: String,
        /// The cause.
        message: String,
        /// Whether credentials were rejected (HTTP 401/403).
        auth: bool,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// An [`Error::Store`].
    pub fn store(
        store: impl Into<String>,
        operation: impl Into<String>,
        message: impl fmt::Display,
    ) -> Self {
        Error::Store {
            store: store.into(),
            operation: operation.into(),
            message: message.to_string(),
        }
    }

    /// An [`Error::Provider`] that is not about credentials.
    pub fn provider(
        provider: impl Into<String>,
        operation: impl Into<String>,
        object: impl Into<String>,
        message: impl fmt::Display,
    ) -> Self {
        Error::Provider {
            provider: provider.into(),
            operation: operation.into(),
            object: object.into(),
            message: message.to_string(),
            auth: false,
        }
    }

    /// True for a lost conditional write.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// A short machine-readable kind, shared with the bindings' exception names.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "ConfigError",
            Error::Store { .. } => "StoreError",
            Error::Conflict { .. } => "ConflictError",
            Error::NotFound { .. } => "NotFoundError",
            Error::Provider { auth: true, .. } => "AuthError",
            Error::Provider { .. } => "ProviderError",
        }
    }
}
