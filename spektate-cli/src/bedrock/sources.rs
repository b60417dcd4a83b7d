//! Which store and providers a `deployment` command reads: its flags first (a `SPEKTATE_*`
//! variable a flag names counts as that flag), then `~/.bedrock/config.yaml` (as bedrock did).

use clap::Args;
use spektate::config::{Names, StoreSettings};
use spektate::http::Secret;
use spektate::{Error, Result};

use super::config::BedrockConfig;
use super::roles::RoleTokens;
use crate::providers::ProviderArgs;
use crate::store_args::StoreArgs;

/// The storage flags `deployment create` takes with bedrock's short names.
#[derive(Debug, Clone, Args)]
pub struct CreateStoreFlags {
    /// Access key of the storage account
    #[arg(short = 'k', long = "access-key", value_name = "access-key", env = "SPEKTATE_STORAGE_KEY", hide_env_values = true, value_parser = secret)]
    pub access_key: Option<Secret>,
    /// Name of the storage account
    #[arg(
        short = 'n',
        long = "name",
        value_name = "account-name",
        env = "SPEKTATE_STORAGE_ACCOUNT",
        hide_env_values = true
    )]
    pub name: Option<String>,
    /// Partition key for the storage account
    #[arg(
        short = 'p',
        long = "partition-key",
        value_name = "partition-key",
        env = "SPEKTATE_PARTITION_KEY",
        hide_env_values = true
    )]
    pub partition_key: Option<String>,
    /// Name of table in storage account
    #[arg(
        short = 't',
        long = "table-name",
        value_name = "table-name",
        env = "SPEKTATE_TABLE_NAME",
        hide_env_values = true
    )]
    pub table_name: Option<String>,
    #[command(flatten)]
    pub more: MoreStoreFlags,
}

/// The storage flags of `deployment get`, `dashboard` and `validate`, which bedrock took
/// from its settings file only: long names (their short letters mean other things there),
/// `-n` and `-k` aside.
#[derive(Debug, Clone, Args)]
pub struct ReadStoreFlags {
    /// Storage account of the Azure table (default: introspection.azure.account_name)
    #[arg(
        short = 'n',
        long = "name",
        value_name = "account-name",
        env = "SPEKTATE_STORAGE_ACCOUNT",
        hide_env_values = true
    )]
    pub name: Option<String>,
    /// Key of the storage account (default: introspection.azure.key)
    #[arg(short = 'k', long = "access-key", value_name = "access-key", env = "SPEKTATE_STORAGE_KEY", hide_env_values = true, value_parser = secret)]
    pub access_key: Option<Secret>,
    /// Table of the storage account (default: introspection.azure.table_name)
    #[arg(
        long = "table-name",
        value_name = "table-name",
        env = "SPEKTATE_TABLE_NAME",
        hide_env_values = true
    )]
    pub table_name: Option<String>,
    /// Partition (default: introspection.azure.partition_key)
    #[arg(
        long = "partition-key",
        value_name = "partition-key",
        env = "SPEKTATE_PARTITION_KEY",
        hide_env_values = true
    )]
    pub partition_key: Option<String>,
    #[command(flatten)]
    pub more: MoreStoreFlags,
}

/// Store settings Spektate adds to bedrock's: another store, another endpoint.
#[derive(Debug, Clone, Args)]
pub struct MoreStoreFlags {
    /// Another store instead of an Azure table named by account: `sqlite:PATH`,
    /// `azure-table:...` or `postgres://...` (as `spektate --store`)
    #[arg(
        long,
        env = "SPEKTATE_STORE",
        value_name = "STORE",
        hide_env_values = true
    )]
    pub store: Option<String>,
    /// Table endpoint, for Azurite or another cloud (default https://ACCOUNT.table.core.windows.net)
    #[arg(
        long = "table-endpoint",
        env = "SPEKTATE_TABLE_ENDPOINT",
        value_name = "URL",
        hide_env_values = true
    )]
    pub table_endpoint: Option<String>,
}

fn secret(value: &str) -> std::result::Result<Secret, String> {
    Ok(Secret::new(value.trim()))
}

/// The storage settings a command was given, flags and settings file merged.
#[derive(Debug, Clone, Default)]
pub struct StoreChoice {
    /// Storage account.
    pub name: Option<String>,
    /// Its key.
    pub access_key: Option<String>,
    /// Table.
    pub table_name: Option<String>,
    /// Partition.
    pub partition_key: Option<String>,
    /// Another store.
    pub store: Option<String>,
    /// Table endpoint.
    pub table_endpoint: Option<String>,
}

fn given(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl CreateStoreFlags {
    /// The flags as a choice.
    pub fn choice(&self) -> StoreChoice {
        StoreChoice {
            name: given(self.name.as_deref()),
            access_key: self
                .access_key
                .as_ref()
                .and_then(|k| given(Some(k.expose()))),
            table_name: given(self.table_name.as_deref()),
            partition_key: given(self.partition_key.as_deref()),
            store: given(self.more.store.as_deref()),
            table_endpoint: given(self.more.table_endpoint.as_deref()),
        }
    }
}

impl ReadStoreFlags {
    /// The flags as a choice.
    pub fn choice(&self) -> StoreChoice {
        StoreChoice {
            name: given(self.name.as_deref()),
            access_key: self
                .access_key
                .as_ref()
                .and_then(|k| given(Some(k.expose()))),
            table_name: given(self.table_name.as_deref()),
            partition_key: given(self.partition_key.as_deref()),
            store: given(self.more.store.as_deref()),
            table_endpoint: given(self.more.table_endpoint.as_deref()),
        }
    }
}

/// Where the records are, and which partition.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The store.
    pub settings: StoreSettings,
    /// The partition.
    pub partition: String,
}

impl StoreChoice {
    /// `~/.bedrock/config.yaml`, for the values the flags leave unset, as bedrock read it.
    /// When the flags name the store (`-n` or `--store`), a file that cannot be read is set
    /// aside with a warning that says why.
    pub fn config(&self) -> Result<Option<BedrockConfig>> {
        match BedrockConfig::load() {
            Ok(c) => Ok(c),
            Err(e) if self.name.is_some() || self.store.is_some() => {
                eprintln!("spektate: warning: ~/.bedrock/config.yaml is not read: {e}");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The store: an Azure table when an account is named (`-n`), else `--store`, else the
    /// settings file's `introspection.azure`; each unset value from the settings file.
    pub fn resolve(&self, config: Option<&BedrockConfig>) -> Result<Resolved> {
        let from_file =
            |f: fn(&BedrockConfig) -> &Option<String>| config.and_then(|c| given(f(c).as_deref()));
        let account = match (&self.name, &self.store) {
            (Some(name), _) => Some(name.clone()),
            (None, Some(_)) => None,
            (None, None) => from_file(|c| &c.account_name),
        };
        let Some(account) = account else {
            let Some(store) = &self.store else {
                return Err(Error::invalid(
                    "--name",
                    "is missing: name the storage account with -n (and -k KEY -t TABLE -p PARTITION), \
                     give --store, or set introspection.azure in ~/.bedrock/config.yaml",
                ));
            };
            let partition = self
                .partition_key
                .clone()
                .or_else(|| from_file(|c| &c.partition_key))
                .unwrap_or_else(|| "default".to_string());
            let partition = checked(partition)?;
            return Ok(Resolved {
                settings: StoreSettings {
                    table_name: self.table_name.clone(),
                    access_key: self.access_key.clone(),
                    table_endpoint: self.table_endpoint.clone(),
                    ..StoreSettings::spec(store.clone())
                },
                partition,
            });
        };
        let missing = |flag: &str, key: &str| {
            Error::invalid(
                flag,
                format!(
                    "is missing: give {flag}, or set introspection.azure.{key} in ~/.bedrock/config.yaml"
                ),
            )
        };
        let settings = StoreSettings {
            account: Some(account),
            access_key: Some(
                self.access_key
                    .clone()
                    .or_else(|| from_file(|c| &c.key))
                    .ok_or_else(|| missing("--access-key", "key"))?,
            ),
            table_name: Some(
                self.table_name
                    .clone()
                    .or_else(|| from_file(|c| &c.table_name))
                    .ok_or_else(|| missing("--table-name", "table_name"))?,
            ),
            table_endpoint: self.table_endpoint.clone(),
            ..StoreSettings::default()
        };
        let partition = self
            .partition_key
            .clone()
            .or_else(|| from_file(|c| &c.partition_key))
            .ok_or_else(|| missing("--partition-key", "partition_key"))?;
        let partition = checked(partition)?;
        Ok(Resolved {
            settings,
            partition,
        })
    }
}

impl Resolved {
    /// The same as Spektate's store flags, for the commands both share.
    pub fn store_args(&self, base: &StoreArgs) -> StoreArgs {
        let mut args = base.clone();
        let s = &self.settings;
        args.store = s.store.clone();
        args.account = s.account.clone();
        args.access_key = s.access_key.as_deref().map(Secret::new);
        args.table_name = s.table_name.clone();
        args.table_endpoint = s.table_endpoint.clone();
        args.table_sas = None;
        args.table_auth = None;
        args.partition_keys = vec![self.partition.clone()];
        args.partition_key = self.partition.clone();
        args
    }

    /// Opens the store.
    pub fn open(
        &self,
        access: spektate::config::Access,
    ) -> Result<std::sync::Arc<dyn spektate::RecordStore>> {
        self.settings.open(&Names::FLAGS, access)
    }
}

/// The providers of a `deployment` command: its flags, then the settings file's
/// `azure_devops` (organisation, project, HLD and manifest repositories) and tokens
/// (`access_token` for Azure DevOps only, `source_repo_access_token` for the repositories).
pub fn providers_with_config(flags: &ProviderArgs, config: Option<&BedrockConfig>) -> ProviderArgs {
    let mut p = flags.clone();
    let Some(c) = config else {
        return p;
    };
    let fill = |mine: &mut Option<String>, theirs: &Option<String>| {
        if mine.as_deref().is_none_or(|v| v.trim().is_empty())
            && let Some(v) = theirs.as_deref().filter(|v| !v.trim().is_empty())
        {
            *mine = Some(v.to_string());
        }
    };
    fill(&mut p.org, &c.org);
    fill(&mut p.project, &c.project);
    fill(&mut p.manifest_repo, &c.manifest_repository);
    fill(&mut p.hld_repo, &c.hld_repository);
    let mut roles = p.roles.clone();
    // `azure_devops.access_token` is an Azure DevOps token: it goes to Azure DevOps only
    // (its pipelines, and its repositories without `source_repo_access_token`), never to
    // GitHub or GitLab, which read with their own tokens (SPEKTATE_GITHUB_TOKEN, ...).
    roles.fill(RoleTokens {
        pipelines: None,
        source_repos: c.source_repo_access_token.clone(),
        manifest_repo: c.source_repo_access_token.clone(),
        azure_devops: c.access_token.clone(),
    });
    p.roles = roles;
    p
}

/// `partition` if a store can hold it, else an error naming `--partition-key`.
fn checked(partition: String) -> Result<String> {
    crate::store_args::partition_arg(&partition)?;
    Ok(partition)
}
