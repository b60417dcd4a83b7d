//! Which store and partition a command works on.

use std::sync::Arc;

use clap::Args;
use spektate::azdo::{AzureTableStore, TableAccount};
use spektate::http::Secret;
use spektate::{Error, RecordStore, Result, SqliteStore};

/// Store flags shared by every command.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The record store: `sqlite:PATH` (a plain path means SQLite too), or
    /// `azure-table:<connection string>` with --table-name.
    #[arg(
        long,
        env = "SPEKTATE_STORE",
        default_value = "sqlite:spektate.db",
        global = true,
        hide_env_values = true
    )]
    pub store: String,

    /// The partition (one per project).
    #[arg(
        short = 'p',
        long = "partition-key",
        env = "SPEKTATE_PARTITION_KEY",
        default_value = "default",
        global = true
    )]
    pub partition_key: String,

    /// Azure Storage account of an Azure table store (`-n` of `bedrock deployment create`).
    #[arg(
        short = 'n',
        long = "name",
        env = "SPEKTATE_STORAGE_ACCOUNT",
        value_name = "ACCOUNT",
        global = true
    )]
    pub account: Option<String>,

    /// Key of the storage account (`record` also takes it as `-k`).
    #[arg(long = "access-key", env = "SPEKTATE_STORAGE_KEY", value_name = "KEY", global = true, hide_env_values = true, value_parser = secret)]
    pub access_key: Option<Secret>,

    /// Table of an Azure table store.
    #[arg(
        short = 't',
        long = "table-name",
        env = "SPEKTATE_TABLE_NAME",
        value_name = "TABLE",
        global = true
    )]
    pub table_name: Option<String>,

    /// Table endpoint, for Azurite or another cloud (default `https://ACCOUNT.table.core.windows.net`).
    #[arg(
        long = "table-endpoint",
        env = "SPEKTATE_TABLE_ENDPOINT",
        value_name = "URL",
        global = true
    )]
    pub table_endpoint: Option<String>,
}

fn secret(value: &str) -> std::result::Result<Secret, String> {
    Ok(Secret::new(value.trim()))
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
        if self.account.is_some() {
            return self
                .azure_table(None)
                .map(|s| Arc::new(s) as Arc<dyn RecordStore>);
        }
        let spec = self.store.trim();
        let (scheme, rest) = match spec.split_once(':') {
            Some((s, r))
                if s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                (s, r)
            }
            _ => ("sqlite", spec),
        };
        match scheme {
            "sqlite" => {
                if rest.is_empty() {
                    return Err(Error::invalid(
                        "--store",
                        "'sqlite:' needs a path, as in sqlite:spektate.db",
                    ));
                }
                let store = match access {
                    Access::Write => SqliteStore::open(rest)?,
                    Access::Read => SqliteStore::open_existing(rest)?,
                };
                Ok(Arc::new(store))
            }
            "azure-table" => self
                .azure_table(Some(rest))
                .map(|s| Arc::new(s) as Arc<dyn RecordStore>),
            other => Err(Error::invalid(
                "--store",
                format!(
                    "unknown store kind '{other}'; use sqlite:PATH or azure-table:<connection string>"
                ),
            )),
        }
    }

    /// The same flags with the storage key `record` took as `-k`, when given.
    pub fn with_access_key(&self, key: Option<Secret>) -> StoreArgs {
        let mut args = self.clone();
        if key.is_some() {
            args.access_key = key;
        }
        args
    }

    /// The Azure table store of `--name`/`--access-key`, or of a connection string; both
    /// need `--table-name`, and `--table-endpoint` overrides the endpoint.
    fn azure_table(&self, connection_string: Option<&str>) -> Result<AzureTableStore> {
        let mut account = match (connection_string, &self.account) {
            (Some(cs), _) => TableAccount::from_connection_string(cs)?,
            (None, Some(name)) => {
                let key = self.access_key.clone().ok_or_else(|| {
                    Error::invalid(
                        "--access-key",
                        "is missing; give -k/--access-key or SPEKTATE_STORAGE_KEY with --name",
                    )
                })?;
                TableAccount::new(name, key)?
            }
            (None, None) => {
                return Err(Error::invalid(
                    "--name",
                    "is missing; give -n/--name or SPEKTATE_STORAGE_ACCOUNT",
                ));
            }
        };
        if let Some(endpoint) = self
            .table_endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty())
        {
            account = account.with_endpoint(endpoint)?;
        }
        let table = self
            .table_name
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid(
                    "--table-name",
                    "is missing; an Azure table store needs -t/--table-name or SPEKTATE_TABLE_NAME",
                )
            })?;
        AzureTableStore::new(account, table)
    }
}
