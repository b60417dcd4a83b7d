//! Which store and partition a command works on.

use std::sync::Arc;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, CommandFactory};
use spektate::config::{Names, StoreSettings};
use spektate::http::Secret;
use spektate::{RecordStore, Result};

/// Store flags shared by every command.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The record store: `sqlite:PATH` (a plain path means SQLite too); an Azure table as
    /// `azure-table:ACCOUNT/TABLE` (a credential from --access-key, --table-sas or
    /// --table-auth), `azure-table:ACCOUNT/TABLE?<SAS>`, `azure-table:https://ACCOUNT.table.core.windows.net/TABLE?<SAS>`
    /// or `azure-table:<connection string>` with --table-name; or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full`.
    #[arg(
        long,
        env = "SPEKTATE_STORE",
        default_value = "sqlite:spektate.db",
        global = true,
        hide_env_values = true
    )]
    pub store: String,

    /// The partition (one per project). `serve` takes several: repeat it or separate them
    /// with commas; the first is the default.
    #[arg(
        short = 'p',
        long = "partition-key",
        env = "SPEKTATE_PARTITION_KEY",
        default_value = "default",
        global = true,
        action = clap::ArgAction::Append,
        value_name = "PARTITION", hide_env_values = true)]
    pub partition_keys: Vec<String>,

    /// The partition of a command that works on one, the first of `serve`'s ([`StoreArgs::settle`]).
    #[arg(skip)]
    pub partition_key: String,

    /// Azure Storage account of an Azure table store (`-n` of `bedrock deployment create`).
    #[arg(
        short = 'n',
        long = "name",
        env = "SPEKTATE_STORAGE_ACCOUNT",
        value_name = "ACCOUNT",
        global = true,
        hide_env_values = true
    )]
    pub account: Option<String>,

    /// Key of the storage account (`-k` of `bedrock deployment create`).
    #[arg(short = 'k', long = "access-key", env = "SPEKTATE_STORAGE_KEY", value_name = "KEY", global = true, hide_env_values = true, value_parser = secret)]
    pub access_key: Option<Secret>,

    /// Table of an Azure table store.
    #[arg(
        short = 't',
        long = "table-name",
        env = "SPEKTATE_TABLE_NAME",
        value_name = "TABLE",
        global = true,
        hide_env_values = true
    )]
    pub table_name: Option<String>,

    /// Shared access signature of the Azure table (`sv=...&sig=...`), instead of the key:
    /// a table SAS (its table must exist) or an account SAS. Better set in the variable
    /// than on the command line.
    #[arg(long = "table-sas", env = "SPEKTATE_TABLE_SAS", value_name = "SAS", global = true, hide_env_values = true, value_parser = secret)]
    pub table_sas: Option<Secret>,

    /// How the Azure table store authorizes: `key` (--access-key), `sas` (--table-sas or
    /// `?<SAS>` in --store), or a Microsoft Entra ID token: `entra` (workload identity when
    /// AZURE_FEDERATED_TOKEN_FILE is set, else the managed identity), `managed-identity`,
    /// `workload-identity`. By default, the credential given.
    #[arg(
        long = "table-auth",
        env = "SPEKTATE_TABLE_AUTH",
        value_name = "KIND",
        global = true,
        value_parser = ["key", "sas", "entra", "managed-identity", "workload-identity"], hide_env_values = true)]
    pub table_auth: Option<String>,

    /// Table endpoint, for Azurite or another cloud (default `https://ACCOUNT.table.core.windows.net`).
    #[arg(
        long = "table-endpoint",
        env = "SPEKTATE_TABLE_ENDPOINT",
        value_name = "URL",
        global = true,
        hide_env_values = true
    )]
    pub table_endpoint: Option<String>,
}

fn secret(value: &str) -> std::result::Result<Secret, String> {
    Ok(Secret::new(value.trim()))
}

/// Checks that a store can hold `partition` (not blank, no `/ \\ # ?`), naming
/// `--partition-key` when it cannot.
pub fn partition_arg(partition: &str) -> Result<()> {
    match spektate::recorder::check_partition(partition) {
        Err(spektate::Error::Invalid { reason, .. }) => {
            Err(spektate::Error::invalid("--partition-key", reason))
        }
        other => other,
    }
}

/// Whether the command writes (and may create the store) or only reads.
pub use spektate::config::Access;

impl StoreArgs {
    /// Checks the partitions given and sets [`StoreArgs::partition_key`]: a command that
    /// works on one partition takes one `-p`; with `several` (`serve`) each `-p` may also be a
    /// comma list, and the first is the default.
    pub fn settle(&mut self, several: bool) -> Result<()> {
        let given: Vec<&str> = if several {
            self.partition_keys
                .iter()
                .flat_map(|p| p.split(','))
                .collect()
        } else {
            self.partition_keys.iter().map(String::as_str).collect()
        };
        let partitions = if several {
            self.partitions()
        } else {
            self.partition_keys.clone()
        };
        for partition in given {
            partition_arg(partition)?;
        }
        match partitions.as_slice() {
            [one] => self.partition_key = one.clone(),
            [first, ..] if several => self.partition_key = first.clone(),
            [] => {
                return Err(spektate::Error::invalid(
                    "--partition-key",
                    "is empty; give a partition",
                ));
            }
            many => {
                return Err(spektate::Error::invalid(
                    "--partition-key",
                    format!(
                        "is given {} times ({}); this command works on one partition (only serve takes several)",
                        many.len(),
                        many.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every partition given, each `-p` split at commas, in order.
    pub fn partitions(&self) -> Vec<String> {
        self.partition_keys
            .iter()
            .flat_map(|p| p.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The store settings the flags give.
    pub fn settings(&self) -> StoreSettings {
        StoreSettings {
            store: self.store.clone(),
            account: self.account.clone(),
            access_key: self.access_key.as_ref().map(|k| k.expose().to_string()),
            table_name: self.table_name.clone(),
            table_endpoint: self.table_endpoint.clone(),
            table_sas: self.table_sas.as_ref().map(|s| s.expose().to_string()),
            table_auth: self.table_auth.clone(),
        }
    }

    /// Opens the store named by the flags: `--name` with a credential (`--access-key`,
    /// `--table-sas` or `--table-auth entra`) and `--table-name` (an Azure table), else
    /// `--store` (`sqlite:PATH`, `azure-table:...`, `postgres://...`).
    pub fn open(&self, access: Access) -> Result<Arc<dyn RecordStore>> {
        self.settings().open(&Names::FLAGS, access)
    }
}

/// The `spektate` command line with no short flag that means something else in
/// bedrock-cli's command of the same name: `get -t` is `--top` (the table is
/// `--table-name`), `get -r` the ring, `get -h` is not help (`--help` is); `dashboard -p` is
/// `--port` (the partition is `--partition-key`); `validate -s` is bedrock's self-test,
/// which Spektate's `validate` always runs. The store flags stay global: before or after a
/// subcommand.
pub fn command<C: CommandFactory>() -> clap::Command {
    C::command()
        .mut_subcommand("get", |get| {
            get.arg(table_name_long_only())
                .mut_arg("top", |a| a.short('t'))
                .mut_arg("env", |a| a.visible_short_alias('r'))
                .disable_help_flag(true)
                .arg(
                    Arg::new("help")
                        .long("help")
                        .action(ArgAction::Help)
                        .help("Print help"),
                )
        })
        .mut_subcommand("dashboard", |dashboard| {
            dashboard
                .arg(partition_long_only())
                .mut_arg("port", |a| a.short('p'))
        })
        .mut_subcommand("validate", |validate| {
            validate.arg(
                Arg::new("self_test")
                    .short('s')
                    .long("self-test")
                    .action(ArgAction::SetTrue)
                    .help(
                        "bedrock's self-test: validate always writes, reads back and deletes a \
                         probe record in a partition of its own",
                    ),
            )
        })
}

/// `--table-name` without `-t`, for a subcommand where `-t` means something else.
fn table_name_long_only() -> Arg {
    Arg::new("table_name")
        .long("table-name")
        .env("SPEKTATE_TABLE_NAME")
        .hide_env_values(true)
        .value_name("TABLE")
        .help("Table of an Azure table store")
}

/// `--partition-key` without `-p`, for a subcommand where `-p` means something else.
fn partition_long_only() -> Arg {
    Arg::new("partition_keys")
        .long("partition-key")
        .env("SPEKTATE_PARTITION_KEY")
        .hide_env_values(true)
        .default_value("default")
        .action(ArgAction::Append)
        .value_name("PARTITION")
        .help("The partition (one per project)")
}

/// The store flag given on the command line before `deployment`, whose commands take
/// their own store flags after their name.
pub fn given_before_deployment(matches: &ArgMatches) -> Option<&'static str> {
    [
        ("store", "--store"),
        ("partition_keys", "--partition-key"),
        ("account", "--name"),
        ("access_key", "--access-key"),
        ("table_name", "--table-name"),
        ("table_sas", "--table-sas"),
        ("table_auth", "--table-auth"),
        ("table_endpoint", "--table-endpoint"),
    ]
    .into_iter()
    .find(|(id, _)| matches.value_source(id) == Some(ValueSource::CommandLine))
    .map(|(_, flag)| flag)
}

#[cfg(test)]
mod tests {
    use clap::FromArgMatches;

    /// The store flags of `spektate ARGS`, parsed as `main` parses them.
    fn store(args: &[&str]) -> super::StoreArgs {
        let argv = ["spektate"].iter().chain(args);
        let m = super::command::<crate::Cli>()
            .try_get_matches_from(argv)
            .unwrap();
        crate::Cli::from_arg_matches(&m).unwrap().store
    }

    #[test]
    fn a_partition_no_store_holds_is_refused_alone_or_among_others() {
        for (args, several) in [
            (&["get", "-p", ""][..], false),
            (&["serve", "-p", "fabrikam", "-p", " "], true),
            (&["serve", "-p", "fabrikam,,contoso"], true),
        ] {
            let e = store(args).settle(several).unwrap_err().to_string();
            assert!(
                e.contains("--partition-key") && e.contains("empty"),
                "{args:?}: {e}"
            );
        }
        // A partition no store can hold, alone or in a list, is named with its flag.
        for (args, several, named) in [
            (&["get", "-p", "a/b"][..], false, "\"a/b\""),
            (&["serve", "-p", "fabrikam,b?c"], true, "\"b?c\""),
            (
                &["serve", "-p", "fabrikam", "-p", "a\\b"],
                true,
                "\"a\\\\b\"",
            ),
        ] {
            let e = store(args).settle(several).unwrap_err().to_string();
            assert!(
                e.contains("--partition-key") && e.contains(named),
                "{args:?}: {e}"
            );
        }
        let mut fine = store(&["serve", "-p", "fabrikam,contoso"]);
        fine.settle(true).unwrap();
        assert_eq!(fine.partition_key, "fabrikam");
    }
}
