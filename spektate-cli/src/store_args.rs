//! Which store and partition a command works on.

use std::sync::Arc;

use clap::Args;
use spektate::{Error, RecordStore, Result, SqliteStore};

/// Store flags shared by every command.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The record store: `sqlite:PATH` (a plain path means SQLite too).
    #[arg(long, env = "SPEKTATE_STORE", default_value = "sqlite:spektate.db", global = true)]
    pub store: String,

    /// The partition (one per project).
    #[arg(short = 'p', long = "partition-key", env = "SPEKTATE_PARTITION_KEY", default_value = "default", global = true)]
    pub partition_key: String,
}

/// Whether the command writes (and may create the store) or only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `record`: creates the store if missing.
    Write,
    /// `get`, `dashboard`: the store must exist.
    Read,
}

impl StoreArgs {
    /// Opens the store named by the flags.
    pub fn open(&self, access: Access) -> Result<Arc<dyn RecordStore>> {
        let spec = self.store.trim();
        let (scheme, rest) = match spec.split_once(':') {
            Some((s, r)) if s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => (s, r),
            _ => ("sqlite", spec),
        };
        match scheme {
            "sqlite" => {
                if rest.is_empty() {
                    return Err(Error::invalid("--store", "'sqlite:' needs a path, as in sqlite:spektate.db"));
                }
                let store = match access {
                    Access::Write => SqliteStore::open(rest)?,
                    Access::Read => SqliteStore::open_existing(rest)?,
                };
                Ok(Arc::new(store))
            }
            other => Err(Error::invalid(
                "--store",
                format!("unknown store kind '{other}'; use sqlite:PATH"),
            )),
        }
    }
}
