//! Stores and providers from settings, in one place: the `spektate` command builds them from
//! its flags and the Python and Node bindings from their arguments, through these types, so
//! a store spec or a provider setting means the same thing, and fails the same way,
//! everywhere. Messages name each setting as the caller spells it ([`Names`]).
//!
//! ```
//! use spektate::config::{Access, Names, ProviderSettings, StoreSettings};
//!
//! # fn main() -> spektate::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let spec = format!("sqlite:{}", dir.path().join("spektate.db").display());
//! let store = StoreSettings::spec(spec).open(&Names::FLAGS, Access::Write)?;
//! let providers = ProviderSettings {
//!     manifest_repo: Some("https://github.com/fabrikam/manifests".into()),
//!     ..ProviderSettings::default()
//! }
//! .build(&Names::FLAGS)?;
//! let tracker = providers.tracker(store, "fabrikam").build();
//! assert_eq!(tracker.partition(), "fabrikam");
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use spektate_core::{
    Error, Pipelines, RecordStore, RepoDefaults, RepoRef, Repositories, Result, SqliteStore,
    SyncSource, Tracker, TrackerBuilder,
};

/// Whether the caller writes (and may create the store) or only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Recording: a missing SQLite file is created.
    Write,
    /// Reading: the store must exist, so a mistyped path is an error naming it.
    Read,
}

/// How a caller names its settings in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    /// The store spec.
    pub store: &'static str,
    /// The storage account of an Azure table store.
    pub account: &'static str,
    /// The storage account's key.
    pub access_key: &'static str,
    /// The table of an Azure table store.
    pub table_name: &'static str,
    /// The table endpoint.
    pub table_endpoint: &'static str,
    /// The default source repository.
    pub source_repo: &'static str,
    /// The default HLD repository.
    pub hld_repo: &'static str,
    /// The manifest repository.
    pub manifest_repo: &'static str,
    /// The GitHub API URL.
    pub github_url: &'static str,
    /// The Azure DevOps organisation.
    pub org: &'static str,
    /// The Azure DevOps project.
    pub project: &'static str,
    /// Where Azure DevOps organisations live.
    pub azdo_url: &'static str,
    /// The `top` filter.
    pub top: &'static str,
}

impl Names {
    /// The flags of the `spektate` command.
    pub const FLAGS: Names = Names {
        store: "--store",
        account: "--name",
        access_key: "--access-key",
        table_name: "--table-name",
        table_endpoint: "--table-endpoint",
        source_repo: "--source-repo",
        hld_repo: "--hld-repo",
        manifest_repo: "--manifest-repo",
        github_url: "--github-url",
        org: "--org",
        project: "--project",
        azdo_url: "--azdo-url",
        top: "--top",
    };
}

/// A setting that is absent or blank is no setting.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Where records are kept.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoreSettings {
    /// `sqlite:PATH` or a plain path (the embedded SQLite store); (feature `azdo`) an Azure
    /// table: `azure-table:CONNECTION_STRING` (with an account key or a
    /// `SharedAccessSignature`), `azure-table:ACCOUNT/TABLE`, or
    /// `azure-table:https://ACCOUNT.table.core.windows.net/TABLE`, the last two optionally
    /// followed by `?` and a SAS, the table optional when [`Self::table_name`] names it; or
    /// (feature `postgres`) a `postgres://` or `postgresql://` URL.
    pub store: String,
    /// An Azure Storage account: with a credential and [`Self::table_name`], the Azure table
    /// store, whatever [`Self::store`] says.
    pub account: Option<String>,
    /// The account's key (base64).
    pub access_key: Option<String>,
    /// The table of an Azure table store.
    pub table_name: Option<String>,
    /// The table endpoint, for Azurite or another cloud (default
    /// `https://ACCOUNT.table.core.windows.net`).
    pub table_endpoint: Option<String>,
    /// A shared access signature (`sv=...&sig=...`) for the Azure table, instead of the key.
    pub table_sas: Option<String>,
    /// How the Azure table store authorizes: `key`, `sas`, or a Microsoft Entra ID token
    /// from the environment: `entra` (workload identity when `AZURE_FEDERATED_TOKEN_FILE` is
    /// set, else a managed identity), `managed-identity`, `workload-identity`. By default,
    /// the credential given.
    pub table_auth: Option<String>,
}

impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A connection string may hold the key: only its kind is shown.
        let cleaned;
        let store = match self.store.split_once(':') {
            Some((kind, _)) if kind.eq_ignore_ascii_case("azure-table") => "azure-table:***",
            _ if is_postgres_url(&self.store) => {
                cleaned = postgres_shown(&self.store);
                cleaned.as_str()
            }
            _ if looks_like_connection_string(&self.store) => "***",
            _ => {
                cleaned = spektate_core::model::url::without_credentials(&self.store);
                cleaned.as_str()
            }
        };
        f.debug_struct("StoreSettings")
            .field("store", &store)
            .field("account", &self.account)
            .field("access_key", &self.access_key.as_ref().map(|_| "***"))
            .field("table_name", &self.table_name)
            .field(
                "table_endpoint",
                &self
                    .table_endpoint
                    .as_deref()
                    .map(|e| spektate_core::model::url::shown_parts(e).0),
            )
            .field("table_sas", &self.table_sas.as_ref().map(|_| "***"))
            .field("table_auth", &self.table_auth)
            .finish()
    }
}

/// Whether a store argument is a PostgreSQL URL (`postgres://`, `postgresql://`).
fn is_postgres_url(spec: &str) -> bool {
    spec.split_once("://").is_some_and(|(scheme, _)| {
        let scheme = scheme.trim().to_ascii_lowercase();
        scheme == "postgres" || scheme == "postgresql"
    })
}

/// A PostgreSQL URL as messages show it: without its password (and, in a build without the
/// PostgreSQL store, without anything after the scheme).
fn postgres_shown(spec: &str) -> String {
    #[cfg(feature = "postgres")]
    {
        crate::postgres::url::redact(spec)
    }
    #[cfg(not(feature = "postgres"))]
    {
        let scheme = spec.split_once("://").map_or("postgres", |(s, _)| s.trim());
        format!("{scheme}://***")
    }
}

/// Whether a store argument is an Azure Storage connection string (which holds a key or a
/// signature) rather than a path: it must never become a file name or an error message.
fn looks_like_connection_string(spec: &str) -> bool {
    let lower = spec.to_ascii_lowercase();
    [
        "accountkey=",
        "sharedaccesssignature=",
        "accountname=",
        "defaultendpointsprotocol=",
        "usedevelopmentstorage=",
        "tableendpoint=",
        // A SAS (`?sv=...&sig=...`) pasted without its kind.
        "sig=",
        // A PostgreSQL keyword/value connection string (`host=db user=ci password=...`).
        "password=",
        "dbname=",
    ]
    .iter()
    .any(|k| lower.contains(k))
}

impl StoreSettings {
    /// The store a spec names, with no other setting.
    pub fn spec(store: impl Into<String>) -> Self {
        StoreSettings {
            store: store.into(),
            ..StoreSettings::default()
        }
    }

    fn kinds() -> &'static str {
        match (cfg!(feature = "azdo"), cfg!(feature = "postgres")) {
            (true, true) => {
                "sqlite:PATH, azure-table:ACCOUNT/TABLE, azure-table:<connection string> or \
                 postgres://USER@HOST/DATABASE"
            }
            (true, false) => {
                "sqlite:PATH, azure-table:ACCOUNT/TABLE or azure-table:<connection string>"
            }
            (false, true) => "sqlite:PATH or postgres://USER@HOST/DATABASE",
            (false, false) => "sqlite:PATH",
        }
    }

    /// Opens the store. Errors name the setting at fault, never a key or a connection string.
    pub fn open(&self, names: &Names, access: Access) -> Result<Arc<dyn RecordStore>> {
        #[cfg(feature = "azdo")]
        if given(self.account.as_deref()).is_some() {
            return Ok(Arc::new(self.azure_table(names, None)?));
        }
        let spec = self.store.trim();
        if spec.is_empty() {
            return Err(Error::invalid(
                names.store,
                format!("is empty; give {}", Self::kinds()),
            ));
        }
        let azure_table = spec
            .split_once(':')
            .is_some_and(|(kind, _)| kind.eq_ignore_ascii_case("azure-table"));
        if !azure_table && !is_postgres_url(spec) && looks_like_connection_string(spec) {
            return Err(Error::invalid(
                names.store,
                "looks like a connection string (it has AccountKey=, SharedAccessSignature=, \
                 AccountName=, a signature, password= or dbname=) and is not a store: write an \
                 Azure table as azure-table:<connection string> or azure-table:ACCOUNT/TABLE?<SAS>, \
                 a PostgreSQL database as postgres://USER@HOST/DATABASE",
            ));
        }
        if is_postgres_url(spec) {
            return Self::postgres(spec, names, access);
        }
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
                if rest.trim().is_empty() {
                    return Err(Error::invalid(
                        names.store,
                        "'sqlite:' needs a path, as in sqlite:spektate.db",
                    ));
                }
                let store = match access {
                    Access::Write => SqliteStore::open(rest)?,
                    Access::Read => SqliteStore::open_existing(rest)?,
                };
                Ok(Arc::new(store))
            }
            #[cfg(feature = "azdo")]
            "azure-table" => Ok(Arc::new(self.azure_table(names, Some(rest))?)),
            other => Err(Error::invalid(
                names.store,
                format!("unknown store kind '{other}'; use {}", Self::kinds()),
            )),
        }
    }

    /// The PostgreSQL store at `url`: a writer migrates its schema at first use, a reader
    /// only reads. Nothing connects before the first operation.
    fn postgres(url: &str, names: &Names, access: Access) -> Result<Arc<dyn RecordStore>> {
        #[cfg(feature = "postgres")]
        {
            let _ = names;
            let store = match access {
                Access::Write => crate::postgres::PostgresStore::open(url)?,
                Access::Read => crate::postgres::PostgresStore::open_existing(url)?,
            };
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = access;
            Err(Error::invalid(
                names.store,
                format!(
                    "{} is a PostgreSQL URL, and this build has no PostgreSQL store (feature \
                     postgres); use {}",
                    postgres_shown(url),
                    Self::kinds()
                ),
            ))
        }
    }

    /// The Azure table store of the account (`-n`) or of the spec after `azure-table:` (a
    /// connection string, `ACCOUNT/TABLE` or a table URL, with an optional `?SAS`); the
    /// table endpoint overrides the endpoint. Errors never show a key or signature.
    #[cfg(feature = "azdo")]
    fn azure_table(
        &self,
        names: &Names,
        spec: Option<&str>,
    ) -> Result<crate::azdo::AzureTableStore> {
        use crate::azdo::{AzureTableStore, TableAccount};

        let spec = spec.map(str::trim).filter(|s| !s.is_empty());
        let (mut account, spec_table) = match (spec, given(self.account.as_deref())) {
            (Some(cs), _) if is_connection_string(cs) => {
                if given(self.table_sas.as_deref()).is_some()
                    || given(self.table_auth.as_deref()).is_some_and(|a| a != "key" && a != "sas")
                {
                    return Err(Error::invalid(
                        names.store,
                        "an azure-table connection string holds its own credential; give no \
                         other SAS or Entra ID setting with it",
                    ));
                }
                (TableAccount::from_connection_string(cs)?, None)
            }
            (Some(spec), _) => {
                let place = TablePlace::parse(spec, names)?;
                let credential = self.table_credential(names, place.sas.as_deref())?;
                let account = match &place.endpoint {
                    Some(endpoint) => credential
                        .account(&place.account)?
                        .with_endpoint(endpoint)?,
                    None => credential.account(&place.account)?,
                };
                (account, place.table)
            }
            (None, Some(name)) => (
                self.table_credential(names, None)
                    .map_err(|e| match e {
                        Error::Invalid { field, .. } if field == names.store => Error::invalid(
                            names.access_key,
                            format!(
                                "is missing; the account {} needs its key, a SAS, or \
                                 Microsoft Entra ID (table auth entra)",
                                names.account
                            ),
                        ),
                        other => other,
                    })?
                    .account(name)?,
                None,
            ),
            (None, None) => {
                return Err(Error::invalid(names.account, "is missing"));
            }
        };
        if let Some(endpoint) = given(self.table_endpoint.as_deref()) {
            account = account.with_named_endpoint(names.table_endpoint, endpoint)?;
        }
        let table = match (spec_table, given(self.table_name.as_deref())) {
            (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
                return Err(Error::invalid(
                    names.table_name,
                    format!(
                        "is '{b}', and {} names the table '{a}'; give one",
                        names.store
                    ),
                ));
            }
            (Some(t), _) => t,
            (None, Some(t)) => t.to_string(),
            (None, None) => {
                return Err(Error::invalid(
                    names.table_name,
                    "is missing; an Azure table store needs a table name",
                ));
            }
        };
        AzureTableStore::new(account, &table)
    }

    /// The one credential of an Azure table given by name, SAS (in the spec or the
    /// setting), key or Entra ID: more than one, or none, is an error naming them.
    #[cfg(feature = "azdo")]
    fn table_credential(
        &self,
        names: &Names,
        spec_sas: Option<&str>,
    ) -> Result<TableCredentialSetting> {
        use crate::azdo::EntraKind;
        use spektate_core::http::Secret;

        let sas = match (spec_sas, given(self.table_sas.as_deref())) {
            (Some(a), Some(b)) if a.trim_start_matches('?') != b.trim_start_matches('?') => {
                return Err(Error::invalid(
                    names.store,
                    "has a SAS after '?', and another SAS is set; give one (neither is shown)",
                ));
            }
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
        let key = given(self.access_key.as_deref());
        let auth = given(self.table_auth.as_deref()).map(str::to_ascii_lowercase);
        let both = || {
            Error::invalid(
                names.access_key,
                "is given, and so is a SAS; an Azure table store takes one credential",
            )
        };
        match auth.as_deref() {
            None | Some("key") | Some("sas") => {}
            Some(word) => {
                let kind = EntraKind::parse(word).ok_or_else(|| {
                    Error::invalid(
                        TABLE_AUTH,
                        format!(
                            "'{word}' is not one of key, sas, entra, managed-identity, \
                             workload-identity"
                        ),
                    )
                })?;
                if key.is_some() || sas.is_some() {
                    return Err(Error::invalid(
                        TABLE_AUTH,
                        format!(
                            "is {word} (Microsoft Entra ID), and {} is given; give one credential",
                            if key.is_some() {
                                names.access_key
                            } else {
                                "a SAS"
                            }
                        ),
                    ));
                }
                return Ok(TableCredentialSetting::Entra(kind));
            }
        }
        match (key, sas, auth.as_deref()) {
            (Some(_), Some(_), _) => Err(both()),
            (Some(k), None, None | Some("key")) => Ok(TableCredentialSetting::Key(Secret::new(k))),
            (None, Some(s), None | Some("sas")) => Ok(TableCredentialSetting::Sas(Secret::new(s))),
            (_, _, Some(want)) => Err(Error::invalid(
                TABLE_AUTH,
                format!(
                    "is {want}, and no {} is given",
                    if want == "key" {
                        names.access_key
                    } else {
                        "SAS"
                    }
                ),
            )),
            (None, None, None) => Err(Error::invalid(
                names.store,
                format!(
                    "names an Azure table without a credential: give {}, a SAS (after '?' in \
                     the store, or as the table SAS setting), or Microsoft Entra ID (table \
                     auth entra)",
                    names.access_key
                ),
            )),
        }
    }
}

/// The credential an Azure table store was given.
#[cfg(feature = "azdo")]
enum TableCredentialSetting {
    Key(spektate_core::http::Secret),
    Sas(spektate_core::http::Secret),
    Entra(crate::azdo::EntraKind),
}

#[cfg(feature = "azdo")]
impl TableCredentialSetting {
    fn account(&self, name: &str) -> Result<crate::azdo::TableAccount> {
        use crate::azdo::{EntraCredential, TableAccount};
        match self {
            TableCredentialSetting::Key(key) => TableAccount::new(name, key.clone()),
            TableCredentialSetting::Sas(sas) => TableAccount::with_sas(name, sas),
            TableCredentialSetting::Entra(kind) => {
                TableAccount::with_entra(name, EntraCredential::from_env(*kind)?)
            }
        }
    }
}

/// Whether an `azure-table:` spec is a connection string (`Key=value;...`), not a place
/// (`ACCOUNT/TABLE?SAS`, a table URL): it has a `=` before any `?`.
#[cfg(feature = "azdo")]
fn is_connection_string(spec: &str) -> bool {
    spec.split('?').next().is_some_and(|p| p.contains('='))
}

/// Where an `azure-table:` spec that is not a connection string points: `ACCOUNT[/TABLE]`
/// or `http(s)://ENDPOINT[/TABLE]`, each with an optional `?SAS`.
#[cfg(feature = "azdo")]
struct TablePlace {
    account: String,
    endpoint: Option<String>,
    table: Option<String>,
    sas: Option<String>,
}

#[cfg(feature = "azdo")]
impl TablePlace {
    fn parse(spec: &str, names: &Names) -> Result<TablePlace> {
        let (place, sas) = match spec.split_once('?') {
            Some((p, q)) => (
                p.trim(),
                Some(q.trim().to_string()).filter(|q| !q.is_empty()),
            ),
            None => (spec.trim(), None),
        };
        let unusable = || {
            Error::invalid(
                names.store,
                format!(
                    "azure-table:{place} is not ACCOUNT/TABLE, an https:// table URL or a \
                     connection string"
                ),
            )
        };
        let segments = |path: &str| -> Vec<String> {
            path.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        if let Some((scheme, rest)) = place.split_once("://") {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let bare_host = host.split(':').next().unwrap_or_default();
            let path_style = bare_host.parse::<std::net::IpAddr>().is_ok()
                || bare_host.eq_ignore_ascii_case("localhost")
                || bare_host.starts_with('[');
            let parts = segments(path);
            let (account, table, endpoint) = if path_style {
                // http://127.0.0.1:10002/devstoreaccount1[/TABLE]
                let account = parts.first().cloned().ok_or_else(unusable)?;
                let endpoint = format!("{scheme}://{host}/{account}");
                (account, parts.get(1).cloned(), endpoint)
            } else {
                // https://ACCOUNT.table.core.windows.net[/TABLE]
                let account = bare_host.split('.').next().unwrap_or_default().to_string();
                (
                    account,
                    parts.first().cloned(),
                    format!("{scheme}://{host}"),
                )
            };
            if parts.len() > usize::from(path_style) + 1 {
                return Err(unusable());
            }
            return Ok(TablePlace {
                account: account.to_ascii_lowercase(),
                endpoint: Some(endpoint),
                table,
                sas,
            });
        }
        let parts = segments(place);
        match parts.as_slice() {
            [account] => Ok(TablePlace {
                account: account.clone(),
                endpoint: None,
                table: None,
                sas,
            }),
            [account, table] => Ok(TablePlace {
                account: account.clone(),
                endpoint: None,
                table: Some(table.clone()),
                sas,
            }),
            _ => Err(unusable()),
        }
    }
}

/// An optional repository URL setting: `None` when absent or blank, else parsed, with an
/// error naming `field` and the value.
pub fn repo_setting(field: &str, url: Option<&str>) -> Result<Option<RepoRef>> {
    given(url)
        .map(|u| {
            RepoRef::parse(u).map_err(|_| {
                Error::invalid(
                    field,
                    format!(
                        "'{}' is not an Azure DevOps, GitHub or GitLab repository URL",
                        spektate_core::model::url::without_credentials(u)
                    ),
                )
            })
        })
        .transpose()
}

/// The `top` filter setting (at most this many deployments, newest first): 1 or more.
pub fn top_setting(field: &str, top: Option<i64>) -> Result<Option<usize>> {
    match top {
        None => Ok(None),
        Some(n) if n < 1 => Err(Error::invalid(
            field,
            format!("{n} shows nothing; give 1 or more"),
        )),
        Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
    }
}

/// A malformed URL reported by a provider's builder, renamed to the caller's setting.
#[cfg(any(feature = "azdo", feature = "github", feature = "gitlab"))]
fn url_error(field: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Invalid { field: f, reason } if f.contains("URL") => Error::invalid(field, reason),
        other => other,
    }
}

#[cfg(any(feature = "azdo", feature = "github", feature = "gitlab"))]
fn secret(value: Option<&str>) -> Option<spektate_core::http::Secret> {
    given(value).map(spektate_core::http::Secret::new)
}

/// GitHub or GitHub Enterprise Server: Actions runs and jobs, commit authors, pull requests
/// and Flux sync tags.
#[cfg(feature = "github")]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GitHubSettings {
    /// `https://api.github.com` when `None`; for Enterprise `https://HOST` or its API URL
    /// `https://HOST/api/v3`.
    pub api_url: Option<String>,
    /// A token that can read the repositories; without one only public repositories are
    /// read, at 60 requests an hour.
    pub token: Option<String>,
    /// What a bare recorded run id names: a workflow run (the default), a job, or either
    /// (`Auto`: a job when its repository has no run of that id).
    pub bare_ids: crate::github::IdKind,
    /// A GitHub App whose installation tokens read the repositories, instead of a token.
    pub app: Option<GitHubAppSettings>,
}

/// A GitHub App: its id and private key, and optionally the one installation to use.
#[cfg(feature = "github")]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GitHubAppSettings {
    /// The app id (or its client id).
    pub app_id: String,
    /// The private key in PEM, as GitHub gives it.
    pub private_key: Option<String>,
    /// A file holding the private key, when it is not given itself.
    pub private_key_file: Option<String>,
    /// The installation to use for every repository; by default each owner's is looked up.
    pub installation_id: Option<String>,
}

#[cfg(feature = "github")]
impl fmt::Debug for GitHubAppSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubAppSettings")
            .field("app_id", &self.app_id)
            .field("private_key", &self.private_key.as_ref().map(|_| "***"))
            .field("private_key_file", &self.private_key_file)
            .field("installation_id", &self.installation_id)
            .finish()
    }
}

#[cfg(feature = "github")]
impl GitHubAppSettings {
    /// The app, its key read and checked. Errors name the setting, never the key.
    pub fn app(&self) -> Result<crate::github::GitHubApp> {
        use crate::github::GitHubApp;
        let app = match (
            given(self.private_key.as_deref()),
            given(self.private_key_file.as_deref()),
        ) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    GITHUB_APP_KEY,
                    "is given both itself and as a file; give one",
                ));
            }
            (Some(pem), None) => {
                GitHubApp::new(&self.app_id, &spektate_core::http::Secret::new(pem))?
            }
            (None, Some(file)) => GitHubApp::from_key_file(&self.app_id, file)?,
            (None, None) => {
                return Err(Error::invalid(
                    GITHUB_APP_KEY,
                    format!(
                        "is missing; the app {} needs its private key",
                        self.app_id.trim()
                    ),
                ));
            }
        };
        match given(self.installation_id.as_deref()) {
            None => Ok(app),
            Some(id) => id.parse::<u64>().map(|n| app.installation(n)).map_err(|_| {
                Error::invalid(
                    GITHUB_APP_INSTALLATION,
                    format!("'{id}' is not an installation id (a number)"),
                )
            }),
        }
    }
}

#[cfg(feature = "github")]
impl fmt::Debug for GitHubSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubSettings")
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("bare_ids", &self.bare_ids)
            .field("app", &self.app)
            .finish()
    }
}

#[cfg(feature = "github")]
impl GitHubSettings {
    /// The client its Actions and repositories providers share.
    pub fn client(&self, names: &Names) -> Result<crate::github::GitHub> {
        let mut builder =
            crate::github::GitHub::builder().maybe_token(secret(self.token.as_deref()));
        if let Some(url) = given(self.api_url.as_deref()) {
            builder = builder.api_url(url);
        }
        if let Some(app) = &self.app {
            builder = builder.app(app.app()?);
        }
        builder.build().map_err(url_error(names.github_url))
    }
}

/// What a bare recorded GitHub run id names, from its word: `run`, `job` or `auto` (a run
/// if the repository has one of that id, else a job).
#[cfg(feature = "github")]
pub fn id_kind_setting(field: &str, word: &str) -> Result<crate::github::IdKind> {
    use crate::github::IdKind;
    [IdKind::Run, IdKind::Job, IdKind::Auto]
        .into_iter()
        .find(|k| k.prefix().eq_ignore_ascii_case(word.trim()))
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("'{}' is not one of run, job, auto", word.trim()),
            )
        })
}

/// GitLab (gitlab.com or a self-managed instance): CI pipelines, commit authors, merge
/// requests and Flux sync tags.
#[cfg(feature = "gitlab")]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GitLabSettings {
    /// `https://gitlab.com` when `None`; a self-managed instance's URL, with the path it is
    /// served under if any (`https://example.com/gitlab`).
    pub url: Option<String>,
    /// A token that can read the projects; without one only public projects are read.
    pub token: Option<String>,
    /// How the token is sent: `private` (a personal, project or group access token, in
    /// `PRIVATE-TOKEN`; the default), `oauth` or `job` (a CI job token), both as
    /// `Authorization: Bearer`.
    pub token_kind: Option<String>,
    /// The project of pipelines whose record names no project of this instance: a numeric
    /// id or a `group/sub/name` path.
    pub default_project: Option<String>,
}

#[cfg(feature = "gitlab")]
impl fmt::Debug for GitLabSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLabSettings")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("token_kind", &self.token_kind)
            .field("default_project", &self.default_project)
            .finish()
    }
}

#[cfg(feature = "gitlab")]
impl GitLabSettings {
    /// The client its pipelines and repositories providers share; a bad URL is an error
    /// naming `url_field`.
    pub fn client(&self, url_field: &str) -> Result<crate::gitlab::GitLab> {
        let mut builder =
            crate::gitlab::GitLab::builder().maybe_token(secret(self.token.as_deref()));
        if let Some(url) = given(self.url.as_deref()) {
            builder = builder.url(url);
        }
        if let Some(kind) = given(self.token_kind.as_deref()) {
            builder = builder.token_kind(crate::gitlab::TokenKind::from_word(kind)?);
        }
        builder.build().map_err(url_error(url_field))
    }

    /// The pipelines provider over `client`, with the default project when one is set.
    pub fn pipelines(
        &self,
        client: &crate::gitlab::GitLab,
    ) -> Result<crate::gitlab::GitLabPipelines> {
        let mut pipelines = client.pipelines();
        if let Some(project) = given(self.default_project.as_deref()) {
            let project = crate::gitlab::Project::parse(project).map_err(|e| match e {
                Error::Invalid { reason, .. } => Error::invalid(GITLAB_PROJECT, reason),
                other => other,
            })?;
            pipelines = pipelines.default_project(project);
        }
        Ok(pipelines)
    }
}

/// Azure DevOps: the pipelines of one project (with `org` and `project`), and Azure Repos
/// (always, as records may name Azure repositories).
#[cfg(feature = "azdo")]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AzureDevOpsSettings {
    /// The organisation (or Server collection) whose builds and releases are read.
    pub org: Option<String>,
    /// The project, with the organisation.
    pub project: Option<String>,
    /// A personal access token.
    pub token: Option<String>,
    /// Where organisations live: `https://dev.azure.com` when `None`, or an Azure DevOps
    /// Server's URL above its collections (`https://tfs.example.com/tfs`).
    pub url: Option<String>,
}

#[cfg(feature = "azdo")]
impl fmt::Debug for AzureDevOpsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureDevOpsSettings")
            .field("org", &self.org)
            .field("project", &self.project)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("url", &self.url)
            .finish()
    }
}

#[cfg(feature = "azdo")]
impl AzureDevOpsSettings {
    fn url(&self) -> String {
        given(self.url.as_deref())
            .unwrap_or(crate::azdo::DEFAULT_URL)
            .trim_end_matches('/')
            .to_string()
    }

    /// The pipelines provider of the organisation and project, when both are given.
    pub fn pipelines(&self, names: &Names) -> Result<Option<crate::azdo::AzureDevOps>> {
        let (org, project) = match (given(self.org.as_deref()), given(self.project.as_deref())) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(Error::invalid(
                    names.project,
                    format!("is missing; {} needs {}", names.org, names.project),
                ));
            }
            (None, Some(_)) => {
                return Err(Error::invalid(
                    names.org,
                    format!("is missing; {} needs {}", names.project, names.org),
                ));
            }
            (Some(o), Some(p)) => (o, p),
        };
        let org_url = format!("{}/{}", self.url(), spektate_core::url_encode::segment(org));
        let mut builder = crate::azdo::AzureDevOps::builder(org_url, project);
        if let Some(token) = secret(self.token.as_deref()) {
            builder = builder.token(token);
        }
        builder.build().map(Some).map_err(url_error(names.azdo_url))
    }

    /// Azure Repos, at the URL where organisations live.
    pub fn repos(&self, names: &Names) -> Result<crate::azdo::AzureRepos> {
        let mut builder = crate::azdo::AzureRepos::builder().base_url(self.url());
        if let Some(token) = secret(self.token.as_deref()) {
            builder = builder.token(token);
        }
        builder.build().map_err(url_error(names.azdo_url))
    }
}

/// Argo CD as a sync source: which commit each application applied in each cluster, from its
/// API server's `GET /api/v1/applications`, once per refresh.
#[cfg(feature = "argocd")]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ArgoCdSettings {
    /// The API server's URL (`https://argocd.example.com`); no sync source without it.
    pub url: Option<String>,
    /// An API token of an Argo CD account or project role that can read the applications.
    pub token: Option<String>,
    /// Accept a certificate no trusted root signed (a self-signed server).
    pub insecure: bool,
    /// Only the applications of these projects (all the token reads when empty).
    pub projects: Vec<String>,
}

#[cfg(feature = "argocd")]
impl fmt::Debug for ArgoCdSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArgoCdSettings")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("insecure", &self.insecure)
            .field("projects", &self.projects)
            .finish()
    }
}

#[cfg(feature = "argocd")]
impl ArgoCdSettings {
    /// The sync source, or `None` without a URL. `url_field` and `token_field` name the
    /// settings in errors: a token, project or insecure setting without a URL is a mistake.
    pub fn source(
        &self,
        url_field: &str,
        token_field: &str,
    ) -> Result<Option<crate::argocd::ArgoCd>> {
        let Some(url) = given(self.url.as_deref()) else {
            let stray = if given(self.token.as_deref()).is_some() {
                Some(token_field.to_string())
            } else if self.insecure {
                Some("the insecure setting".to_string())
            } else if !self.projects.is_empty() {
                Some("a project".to_string())
            } else {
                None
            };
            return match stray {
                Some(what) => Err(Error::invalid(
                    url_field,
                    format!("is missing, and {what} is given for Argo CD"),
                )),
                None => Ok(None),
            };
        };
        let mut builder = crate::argocd::ArgoCd::builder(url)
            .maybe_token(given(self.token.as_deref()).map(spektate_core::http::Secret::new))
            .insecure(self.insecure);
        for p in &self.projects {
            builder = builder.project(p);
        }
        builder.build().map(Some).map_err(|e| match e {
            Error::Invalid { reason, .. } => Error::invalid(url_field, reason),
            other => other,
        })
    }
}

/// How the Azure table's kind of credential is named in messages (a setting of the command).
#[cfg(feature = "azdo")]
const TABLE_AUTH: &str = "--table-auth (SPEKTATE_TABLE_AUTH)";

/// How a GitHub App's private key is named in messages.
#[cfg(feature = "github")]
const GITHUB_APP_KEY: &str =
    "GitHub App private key (--github-app-key-file, or SPEKTATE_GITHUB_APP_KEY)";

/// How a GitHub App's installation is named in messages.
#[cfg(feature = "github")]
const GITHUB_APP_INSTALLATION: &str =
    "--github-app-installation (SPEKTATE_GITHUB_APP_INSTALLATION_ID)";

/// How the default GitLab project is named in messages.
#[cfg(feature = "gitlab")]
const GITLAB_PROJECT: &str = "--gitlab-project (SPEKTATE_GITLAB_PROJECT)";

/// How a bad GitLab URL is named in messages.
#[cfg(feature = "gitlab")]
const GITLAB_URL: &str = "GitLab URL (--gitlab-url, SPEKTATE_GITLAB_URL)";

/// Which providers a tracker reads, and the repositories it assumes for records that name
/// none. Run reports in the store are always read, after every provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSettings {
    /// The source repository, for records that name none (commit authors).
    pub source_repo: Option<String>,
    /// The HLD repository, for records that name none (pull requests, manual HLD edits).
    pub hld_repo: Option<String>,
    /// The manifest repository whose `flux-<cluster>` tags tell which cluster runs what.
    pub manifest_repo: Option<String>,
    /// Azure DevOps: asked first for runs, as it looks a batch of ids up in one call.
    #[cfg(feature = "azdo")]
    pub azure_devops: AzureDevOpsSettings,
    /// GitHub, when it is to be read.
    #[cfg(feature = "github")]
    pub github: Option<GitHubSettings>,
    /// GitLab, when it is to be read (asked after GitHub).
    #[cfg(feature = "gitlab")]
    pub gitlab: Option<GitLabSettings>,
}

impl ProviderSettings {
    /// The repositories assumed for records that name none.
    pub fn defaults(&self, names: &Names) -> Result<RepoDefaults> {
        Ok(RepoDefaults {
            source_repo: repo_setting(names.source_repo, self.source_repo.as_deref())?,
            hld_repo: repo_setting(names.hld_repo, self.hld_repo.as_deref())?,
            manifest_repo: repo_setting(names.manifest_repo, self.manifest_repo.as_deref())?,
        })
    }

    /// Builds the providers: Azure Pipelines (with an organisation and project), Azure
    /// Repos, then GitHub and GitLab (when set).
    pub fn build(&self, names: &Names) -> Result<Providers> {
        #[allow(unused_mut)]
        let mut providers = Providers {
            defaults: self.defaults(names)?,
            ..Providers::default()
        };
        #[cfg(feature = "azdo")]
        {
            // Azure DevOps first: a GitHub run id it does not have costs one batched request,
            // where GitHub would look each Azure build id up.
            if let Some(pipelines) = self.azure_devops.pipelines(names)? {
                providers.pipelines.push(Arc::new(pipelines));
            }
            providers
                .repositories
                .push(Arc::new(self.azure_devops.repos(names)?));
        }
        #[cfg(feature = "github")]
        if let Some(github) = &self.github {
            let client = github.client(names)?;
            providers
                .pipelines
                .push(Arc::new(client.actions().bare_ids(github.bare_ids)));
            providers.repositories.push(Arc::new(client.repos()));
        }
        #[cfg(feature = "gitlab")]
        if let Some(gitlab) = &self.gitlab {
            let client = gitlab.client(GITLAB_URL)?;
            providers
                .pipelines
                .push(Arc::new(gitlab.pipelines(&client)?));
            providers.repositories.push(Arc::new(client.repos()));
        }
        Ok(providers)
    }
}

/// The providers and default repositories a tracker is built with.
#[derive(Default, Clone)]
pub struct Providers {
    /// CI providers, asked in order (the store's run reports are asked last).
    pub pipelines: Vec<Arc<dyn Pipelines>>,
    /// Repository hosts; the first that serves a repository is used.
    pub repositories: Vec<Arc<dyn Repositories>>,
    /// Repositories for records that name none.
    pub defaults: RepoDefaults,
    /// Sync sources (Argo CD), each asked once per refresh.
    pub sync_sources: Vec<Arc<dyn SyncSource>>,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pipelines: Vec<String> = self.pipelines.iter().map(|p| p.name()).collect();
        let repositories: Vec<String> = self.repositories.iter().map(|r| r.name()).collect();
        let sync_sources: Vec<String> = self.sync_sources.iter().map(|s| s.name()).collect();
        f.debug_struct("Providers")
            .field("pipelines", &pipelines)
            .field("repositories", &repositories)
            .field("sync_sources", &sync_sources)
            .field("defaults", &self.defaults)
            .finish()
    }
}

impl Providers {
    /// A tracker builder over `partition` of `store` with these providers.
    pub fn tracker(
        self,
        store: Arc<dyn RecordStore>,
        partition: impl Into<String>,
    ) -> TrackerBuilder {
        let mut builder = Tracker::builder(store)
            .partition(partition)
            .defaults(self.defaults);
        for p in self.pipelines {
            builder = builder.pipelines(p);
        }
        for r in self.repositories {
            builder = builder.repositories(r);
        }
        for s in self.sync_sources {
            builder = builder.sync_source(s);
        }
        builder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: Names = Names::FLAGS;

    #[cfg(feature = "argocd")]
    #[test]
    fn argo_cd_settings_need_a_url_and_never_show_the_token() {
        let none = ArgoCdSettings::default();
        assert!(none.source("--argocd-url", "T").unwrap().is_none());
        for stray in [
            ArgoCdSettings {
                token: Some("argo-secret".into()),
                ..ArgoCdSettings::default()
            },
            ArgoCdSettings {
                insecure: true,
                ..ArgoCdSettings::default()
            },
            ArgoCdSettings {
                projects: vec!["fabrikam".into()],
                ..ArgoCdSettings::default()
            },
        ] {
            let e = err(stray.source("--argocd-url", "SPEKTATE_ARGOCD_TOKEN"));
            assert!(
                e.contains("--argocd-url") && e.contains("is missing"),
                "{e}"
            );
            assert!(!e.contains("argo-secret"), "{e}");
        }
        let bad = ArgoCdSettings {
            url: Some("argocd.fabrikam.com".into()),
            ..ArgoCdSettings::default()
        };
        let e = err(bad.source("--argocd-url", "T"));
        assert!(
            e.contains("--argocd-url") && e.contains("is not an http(s) URL"),
            "{e}"
        );
        let good = ArgoCdSettings {
            url: Some("https://argocd.fabrikam.com/".into()),
            token: Some("argo-secret".into()),
            insecure: false,
            projects: vec!["fabrikam".into()],
        };
        assert!(!format!("{good:?}").contains("argo-secret"));
        let source = good.source("--argocd-url", "T").unwrap().unwrap();
        assert_eq!(source.url(), "https://argocd.fabrikam.com");
        let providers = Providers {
            sync_sources: vec![Arc::new(source)],
            ..Providers::default()
        };
        assert!(format!("{providers:?}").contains("argocd argocd.fabrikam.com"));
    }

    #[cfg(feature = "azdo")]
    impl StoreSettings {
        fn with_table(self, table: &str) -> Self {
            StoreSettings {
                table_name: Some(table.into()),
                ..self
            }
        }
    }

    fn err<T>(r: Result<T>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn sqlite_specs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let spec = format!("sqlite:{}", path.display());
        let e = err(StoreSettings::spec(&spec).open(&NAMES, Access::Read));
        assert!(
            e.contains(&path.display().to_string()),
            "a missing store is named: {e}"
        );
        let store = StoreSettings::spec(&spec)
            .open(&NAMES, Access::Write)
            .unwrap();
        assert_eq!(store.describe(), spec);
        let plain = StoreSettings::spec(path.display().to_string())
            .open(&NAMES, Access::Read)
            .unwrap();
        assert_eq!(plain.describe(), spec, "a plain path is SQLite");
        let e = err(StoreSettings::spec("mongodb:localhost").open(&NAMES, Access::Read));
        assert!(
            e.contains("--store") && e.contains("'mongodb'") && e.contains("sqlite:PATH"),
            "{e}"
        );
        let e = err(StoreSettings::spec("  ").open(&NAMES, Access::Read));
        assert!(e.contains("--store") && e.contains("empty"), "{e}");
        let e = err(StoreSettings::spec("sqlite:").open(&NAMES, Access::Write));
        assert!(e.contains("needs a path"), "{e}");
    }

    #[test]
    fn a_repository_url_that_does_not_parse_is_named_without_its_credentials() {
        for url in [
            "https://ci:ghp_0123@git.example.com",
            "ci:ghp_0123@git.example.com",
        ] {
            let e = err(repo_setting("--manifest-repo", Some(url)));
            assert!(
                e.contains("--manifest-repo") && e.contains("git.example.com"),
                "{e}"
            );
            assert!(!e.contains("ghp_0123"), "the token is echoed: {e}");
        }
    }

    #[test]
    fn a_connection_string_without_its_kind_is_refused_unechoed_and_creates_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = "c2VjcmV0LWtleS1kby1ub3Qtc2hvdw==";
        let sas = "sv=2019-02-02&sig=c2lnbmF0dXJl";
        for spec in [
            format!("DefaultEndpointsProtocol=https;AccountName=fabrikam;AccountKey={key}"),
            format!("AccountName=fabrikam;AccountKey={key};TableEndpoint=http://127.0.0.1:1/x"),
            format!(
                "TableEndpoint=https://fabrikam.table.core.windows.net/;SharedAccessSignature={sas}"
            ),
            format!("sqlite:AccountName=fabrikam;AccountKey={key}"),
            format!("fabrikam/deployments?{sas}"),
            // libpq's keyword/value form, which no store URL takes.
            format!("host=db user=ci password={key} dbname=spektate"),
        ] {
            let in_dir = dir.path().join(&spec).display().to_string();
            for given in [spec.clone(), in_dir] {
                for access in [Access::Read, Access::Write] {
                    let e = err(StoreSettings::spec(&given).open(&NAMES, access));
                    assert!(e.contains("--store") && e.contains("azure-table:"), "{e}");
                    assert!(
                        !e.contains(key) && !e.contains("sig="),
                        "the secret is echoed: {e}"
                    );
                    let shown = format!("{:?}", StoreSettings::spec(&given));
                    assert!(!shown.contains(key) && !shown.contains("sig="), "{shown}");
                }
            }
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "a file was created: {left:?}");
        let shown = format!(
            "{:?}",
            StoreSettings::spec("postgres://app:hunter2@db/spektate")
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn postgres_urls_never_show_a_password() {
        for spec in [
            "postgres://app:hunter2@db.example.com/spektate",
            "postgresql://db.example.com/spektate?user=app&password=hunter2",
        ] {
            let shown = format!("{:?}", StoreSettings::spec(spec));
            let host = if cfg!(feature = "postgres") {
                "db.example.com"
            } else {
                "://***"
            };
            assert!(shown.contains(host), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_urls_open_a_postgres_store_without_connecting() {
        let url = "postgres://app:hunter2@db.example.com:5432/spektate?sslmode=verify-full";
        for access in [Access::Write, Access::Read] {
            let store = StoreSettings::spec(url).open(&NAMES, access).unwrap();
            assert_eq!(
                store.describe(),
                "postgres://app@db.example.com:5432/spektate?sslmode=verify-full"
            );
        }
        let e = err(
            StoreSettings::spec("postgresql://app:hunter2@db/s?sslmode=bogus")
                .open(&NAMES, Access::Read),
        );
        assert!(
            e.contains("postgresql://app@db/s") && e.contains("sslmode 'bogus'"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = err(StoreSettings::spec("mongodb:x").open(&NAMES, Access::Read));
        assert!(e.contains("postgres://USER@HOST/DATABASE"), "{e}");
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn postgres_urls_need_the_postgres_feature() {
        let e = err(StoreSettings::spec("postgres://app:hunter2@db/s").open(&NAMES, Access::Write));
        assert!(
            e.contains("--store") && e.contains("feature postgres") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[cfg(feature = "azdo")]
    #[test]
    fn azure_tables_never_show_a_key() {
        let key = "bm90LWEta2V5";
        let conn = format!("DefaultEndpointsProtocol=https;AccountName=fabrikam;AccountKey={key}");
        let mut s = StoreSettings::spec(format!("azure-table:{conn}"));
        let e = err(s.open(&NAMES, Access::Read));
        assert!(e.contains("--table-name") && !e.contains(key), "{e}");
        s.table_name = Some("deployments".into());
        let store = s.open(&NAMES, Access::Read).unwrap();
        assert!(store.describe().contains("fabrikam") && store.describe().contains("deployments"));
        assert!(!format!("{s:?}").contains(key), "{s:?}");
        let by_account = StoreSettings {
            account: Some("fabrikam".into()),
            table_name: Some("deployments".into()),
            ..StoreSettings::default()
        };
        let e = err(by_account.open(&NAMES, Access::Read));
        assert!(e.contains("--access-key") && e.contains("--name"), "{e}");
        let by_account = StoreSettings {
            access_key: Some(key.into()),
            table_endpoint: Some("http://127.0.0.1:10002/fabrikam".into()),
            ..by_account
        };
        let store = by_account.open(&NAMES, Access::Write).unwrap();
        assert!(
            store.describe().contains("127.0.0.1:10002"),
            "{}",
            store.describe()
        );
        assert!(!format!("{by_account:?}").contains(key));
    }

    #[cfg(feature = "azdo")]
    #[test]
    fn azure_tables_by_account_url_or_connection_string_with_one_credential() {
        let sas = "sv=2019-02-02&tn=deployments&sp=raud&se=2031-01-01T00%3A00%3A00Z&sig=c2lnLXNlY3JldA%3D%3D";
        let key = "bm90LWEta2V5";
        let open = |s: &StoreSettings| s.open(&NAMES, Access::Read).map(|st| st.describe());
        let spec = |store: String| StoreSettings::spec(store);
        let cases = [
            (
                spec(format!("azure-table:fabrikam/deployments?{sas}")),
                "azure-table:https://fabrikam.table.core.windows.net/deployments",
            ),
            (
                spec(format!(
                    "azure-table:https://fabrikam.table.core.chinacloudapi.cn/deployments?{sas}"
                )),
                "azure-table:https://fabrikam.table.core.chinacloudapi.cn/deployments",
            ),
            (
                spec(format!(
                    "azure-table:http://127.0.0.1:10002/devstoreaccount1/deployments?{sas}"
                )),
                "azure-table:http://127.0.0.1:10002/devstoreaccount1/deployments",
            ),
            (
                StoreSettings {
                    table_sas: Some(sas.into()),
                    table_name: Some("deployments".into()),
                    ..spec("azure-table:fabrikam".into())
                },
                "azure-table:https://fabrikam.table.core.windows.net/deployments",
            ),
            (
                spec(format!(
                    "azure-table:TableEndpoint=https://fabrikam.table.core.windows.net;SharedAccessSignature={sas}"
                ))
                .with_table("deployments"),
                "azure-table:https://fabrikam.table.core.windows.net/deployments",
            ),
            (
                StoreSettings {
                    account: Some("fabrikam".into()),
                    table_name: Some("deployments".into()),
                    table_auth: Some("managed-identity".into()),
                    ..StoreSettings::default()
                },
                "azure-table:https://fabrikam.table.core.windows.net/deployments",
            ),
            (
                StoreSettings {
                    access_key: Some(key.into()),
                    table_endpoint: Some("http://127.0.0.1:10002/fabrikam".into()),
                    ..spec("azure-table:fabrikam/deployments".into())
                },
                "azure-table:http://127.0.0.1:10002/fabrikam/deployments",
            ),
        ];
        for (settings, described) in cases {
            assert_eq!(open(&settings).unwrap(), described, "{settings:?}");
            let shown = format!("{settings:?}");
            assert!(
                !shown.contains("c2lnLXNlY3JldA") && !shown.contains(key),
                "{shown}"
            );
        }
        let refused = [
            (
                StoreSettings {
                    access_key: Some(key.into()),
                    ..spec(format!("azure-table:fabrikam/deployments?{sas}"))
                },
                "takes one credential",
            ),
            (
                StoreSettings {
                    table_auth: Some("entra".into()),
                    ..spec(format!("azure-table:fabrikam/deployments?{sas}"))
                },
                "give one credential",
            ),
            (
                StoreSettings {
                    table_auth: Some("kerberos".into()),
                    ..spec("azure-table:fabrikam/deployments".into())
                },
                "'kerberos' is not one of key, sas, entra",
            ),
            (
                StoreSettings {
                    table_auth: Some("key".into()),
                    ..spec(format!("azure-table:fabrikam/deployments?{sas}"))
                },
                "is key, and no --access-key is given",
            ),
            (
                StoreSettings {
                    table_sas: Some("sv=2019-02-02&sig=b3RoZXI%3D".into()),
                    ..spec(format!("azure-table:fabrikam/deployments?{sas}"))
                },
                "another SAS is set; give one",
            ),
            (
                StoreSettings {
                    table_sas: Some(sas.into()),
                    ..spec(format!(
                        "azure-table:DefaultEndpointsProtocol=https;AccountName=fabrikam;AccountKey={key}"
                    ))
                    .with_table("deployments")
                },
                "holds its own credential",
            ),
            (
                spec(format!("azure-table:fabrikam/a/b?{sas}")),
                "azure-table:fabrikam/a/b is not ACCOUNT/TABLE",
            ),
            // The portal's "Table service SAS URL" given as the endpoint.
            (
                StoreSettings {
                    access_key: Some(key.into()),
                    table_endpoint: Some(format!(
                        "https://u:{key}@fabrikam.table.core.windows.net/?{sas}"
                    )),
                    ..spec("azure-table:fabrikam/deployments".into())
                },
                "invalid --table-endpoint: ",
            ),
            (
                spec("azure-table:fabrikam/deployments".into()),
                "without a credential: give --access-key",
            ),
        ];
        for (settings, expected) in refused {
            let e = err(open(&settings));
            assert!(e.contains(expected), "{settings:?}: {e}");
            assert!(!e.contains("c2lnLXNlY3JldA") && !e.contains(key), "{e}");
            let shown = format!("{settings:?}");
            assert!(
                !shown.contains("c2lnLXNlY3JldA") && !shown.contains(key),
                "{shown}"
            );
        }
    }

    #[test]
    fn repositories_and_top_name_the_setting() {
        let e = err(ProviderSettings {
            manifest_repo: Some("not-a-repo".into()),
            ..Default::default()
        }
        .build(&NAMES));
        assert!(
            e.contains("--manifest-repo") && e.contains("'not-a-repo'"),
            "{e}"
        );
        let p = ProviderSettings {
            hld_repo: Some(" ".into()),
            ..Default::default()
        }
        .build(&NAMES)
        .unwrap();
        assert!(
            p.defaults.hld_repo.is_none(),
            "a blank setting is no setting"
        );
        assert_eq!(top_setting("top", Some(3)).unwrap(), Some(3));
        assert_eq!(top_setting("top", None).unwrap(), None);
        let e = err(top_setting("--top", Some(0)));
        assert!(e.contains("--top") && e.contains("0 shows nothing"), "{e}");
    }

    #[cfg(feature = "gitlab")]
    #[test]
    fn gitlab_settings_build_both_providers_and_never_show_the_token() {
        let settings = ProviderSettings {
            gitlab: Some(GitLabSettings {
                url: Some("https://gitlab.fabrikam.example/gitlab".into()),
                token: Some("glpat-secret-token".into()),
                token_kind: Some("job".into()),
                default_project: Some("21761957".into()),
            }),
            ..Default::default()
        };
        assert!(!format!("{settings:?}").contains("glpat-secret-token"));
        let providers = settings.build(&NAMES).unwrap();
        let names: Vec<String> = providers.pipelines.iter().map(|p| p.name()).collect();
        assert!(
            names
                .last()
                .is_some_and(|n| n.contains("gitlab-ci https://gitlab.fabrikam.example/gitlab")),
            "{names:?}"
        );
        let repo =
            RepoRef::parse("https://gitlab.fabrikam.example/gitlab/ops/platform/hld").unwrap();
        assert!(providers.repositories.iter().any(|r| r.serves_repo(&repo)));
        assert!(!format!("{providers:?}").contains("glpat-secret-token"));
        for (bad, named) in [
            (
                GitLabSettings {
                    url: Some("gitlab.fabrikam.example".into()),
                    ..Default::default()
                },
                "--gitlab-url",
            ),
            (
                GitLabSettings {
                    token_kind: Some("deploy".into()),
                    ..Default::default()
                },
                "'deploy'",
            ),
            (
                GitLabSettings {
                    default_project: Some("hld".into()),
                    ..Default::default()
                },
                "'hld'",
            ),
        ] {
            let e = err(ProviderSettings {
                gitlab: Some(bad),
                ..Default::default()
            }
            .build(&NAMES));
            assert!(e.contains(named), "{e}");
        }
    }

    #[cfg(all(feature = "azdo", feature = "github"))]
    #[test]
    fn providers_are_built_in_order_and_never_show_tokens() {
        let settings = ProviderSettings {
            azure_devops: AzureDevOpsSettings {
                org: Some("fabrikam".into()),
                project: Some("hello".into()),
                token: Some("azdo-secret-pat".into()),
                url: None,
            },
            github: Some(GitHubSettings {
                token: Some("ghp_secret".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("azdo-secret-pat") && !shown.contains("ghp_secret"),
            "{shown}"
        );
        let providers = settings.build(&NAMES).unwrap();
        let names: Vec<String> = providers.pipelines.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), 2);
        assert!(
            names[0].contains("dev.azure.com/fabrikam") && names[1].contains("github"),
            "{names:?}"
        );
        assert_eq!(providers.repositories.len(), 2);
        let shown = format!("{providers:?}");
        assert!(
            !shown.contains("azdo-secret-pat") && !shown.contains("ghp_secret"),
            "{shown}"
        );
        // Azure Repos are read even without an organisation: records may name them.
        let bare = ProviderSettings::default().build(&NAMES).unwrap();
        assert_eq!((bare.pipelines.len(), bare.repositories.len()), (0, 1));
        let half = AzureDevOpsSettings {
            org: Some("fabrikam".into()),
            ..Default::default()
        };
        let e = err(half.pipelines(&NAMES));
        assert!(e.contains("--project") && e.contains("--org"), "{e}");
        let bad_url = AzureDevOpsSettings {
            url: Some("ftp://tfs".into()),
            ..Default::default()
        };
        assert!(err(bad_url.repos(&NAMES)).contains("--azdo-url"));
        let bad_github = GitHubSettings {
            api_url: Some("ftp://github.example.com".into()),
            ..Default::default()
        };
        assert_eq!(
            id_kind_setting("--github-ids", "Job").unwrap(),
            crate::github::IdKind::Job
        );
        let e = err(id_kind_setting("--github-ids", "step"));
        assert!(e.contains("--github-ids") && e.contains("'step'"), "{e}");
        let e = err(bad_github.client(&NAMES));
        assert!(
            e.contains("--github-url") && e.contains("'ftp://github.example.com'"),
            "{e}"
        );
    }
}
