//! `deployment onboard|o`: creates the table in an existing storage account and saves the
//! account and table in `~/.bedrock/config.yaml`. Creating the storage account itself needs
//! Azure's management API (a service principal, a resource group), which Spektate does not
//! call: the account must exist, and the command says so when it cannot be reached.

use clap::Args;
use spektate::azdo::{AzureTableStore, TableAccount};
use spektate::http::Secret;
use spektate::{Error, Result};

use super::config::{self, BedrockConfig};

/// `deployment onboard` flags, as bedrock's; the storage key is Spektate's addition, as it
/// reads no key through Azure's management API.
#[derive(Debug, Args)]
pub struct OnboardCmd {
    /// Azure storage account name
    #[arg(
        short = 's',
        long = "storage-account-name",
        value_name = "storage-account-name"
    )]
    pub account: Option<String>,
    /// Azure storage table name
    #[arg(
        short = 't',
        long = "storage-table-name",
        value_name = "storage-table-name"
    )]
    pub table: Option<String>,
    /// Azure location to create new storage account when it does not exist (not used: Spektate creates no storage account)
    #[arg(
        short = 'l',
        long = "storage-location",
        value_name = "storage-location"
    )]
    pub location: Option<String>,
    /// Name of the resource group to create new storage account when it does not exist (not used: Spektate creates no storage account)
    #[arg(
        short = 'r',
        long = "storage-resource-group-name",
        value_name = "storage-resource-group-name"
    )]
    pub resource_group: Option<String>,
    /// Azure service principal id with `contributor` role in Azure Resource Group (not used)
    #[arg(long = "service-principal-id", value_name = "service-principal-id")]
    pub service_principal_id: Option<String>,
    /// The Azure service principal password (not used)
    #[arg(long = "service-principal-password", value_name = "service-principal-password", value_parser = secret)]
    pub service_principal_password: Option<Secret>,
    /// The Azure AD tenant id of service principal (not used)
    #[arg(long = "tenant-id", value_name = "tenant-id")]
    pub tenant_id: Option<String>,
    /// The Azure subscription id (not used)
    #[arg(long = "subscription-id", value_name = "subscription-id")]
    pub subscription_id: Option<String>,
    /// Key of the storage account (default: introspection.azure.key)
    #[arg(short = 'k', long = "access-key", value_name = "access-key", env = "SPEKTATE_STORAGE_KEY", hide_env_values = true, value_parser = secret)]
    pub access_key: Option<Secret>,
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

/// bedrock's rule for a table name: 3 to 63 letters and digits, a letter first.
fn check_table(name: &str) -> Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--storage-table-name",
            format!("'{name}' is not a table name: 3 to 63 letters and digits, a letter first"),
        ))
    }
}

/// Runs `deployment onboard`.
pub async fn run(cmd: OnboardCmd) -> Result<()> {
    let path = config::default_path().ok_or_else(|| {
        Error::invalid("HOME", "is not set, so ~/.bedrock/config.yaml has no place")
    })?;
    let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let flags_suffice = cmd.account.is_some() && cmd.table.is_some() && cmd.access_key.is_some();
    let file = match BedrockConfig::load() {
        Ok(c) => c,
        Err(_) if flags_suffice => None,
        Err(e) => return Err(e),
    };
    let from_file =
        |f: fn(&BedrockConfig) -> &Option<String>| file.as_ref().and_then(|c| f(c).clone());
    let account = given(&cmd.account)
        .or_else(|| from_file(|c| &c.account_name))
        .ok_or_else(|| {
            Error::invalid(
                "--storage-account-name",
                "is missing: give -s ACCOUNT, or set introspection.azure.account_name in ~/.bedrock/config.yaml",
            )
        })?;
    let table = given(&cmd.table)
        .or_else(|| from_file(|c| &c.table_name))
        .ok_or_else(|| {
            Error::invalid(
                "--storage-table-name",
                "is missing: give -t TABLE, or set introspection.azure.table_name in ~/.bedrock/config.yaml",
            )
        })?;
    check_table(&table)?;
    let key = cmd
        .access_key
        .clone()
        .filter(|k| !k.expose().is_empty())
        .or_else(|| from_file(|c| &c.key).map(Secret::new))
        .ok_or_else(|| {
            Error::invalid(
                "--access-key",
                "is missing: Spektate reads no key through Azure's management API; give -k KEY \
                 (az storage account keys list --account-name ACCOUNT), SPEKTATE_STORAGE_KEY, \
                 or introspection.azure.key in ~/.bedrock/config.yaml",
            )
        })?;
    let creating = [
        cmd.location.is_some(),
        cmd.resource_group.is_some(),
        cmd.service_principal_id.is_some(),
        cmd.service_principal_password.is_some(),
        cmd.tenant_id.is_some(),
        cmd.subscription_id.is_some(),
    ];
    if creating.iter().any(|g| *g) {
        eprintln!(
            "spektate: the location, resource group, service principal, tenant and subscription \
             are for creating the storage account, which needs Azure's management API: Spektate \
             does not create it, and they are not used"
        );
    }
    let mut place = TableAccount::new(&account, key)?;
    if let Some(endpoint) = cmd
        .table_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        place = place.with_endpoint(endpoint)?;
    }
    let store = AzureTableStore::new(place, &table)?;
    store.ensure_table().await.map_err(|e| {
        Error::invalid(
            "--storage-account-name",
            format!(
                "the table {table} could not be created in the storage account {account}: {e}. \
                 onboard creates the table in an existing storage account; creating the account \
                 needs Azure's management API, which Spektate does not call: create it first \
                 (az storage account create --name {account} --resource-group GROUP --location LOCATION)"
            ),
        )
    })?;
    // Saved even when the output is closed: the table is made, the file says so.
    let said = crate::stdout::line(&format!(
        "Table {table} is ready in the existing storage account {account}."
    ));
    BedrockConfig::save_storage(&path, &account, &table)?;
    said?;
    crate::stdout::line(&format!(
        "Saved introspection.azure.account_name and table_name in {}.",
        path.display()
    ))
}
