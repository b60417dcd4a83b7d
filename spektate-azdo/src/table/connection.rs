//! A storage account: name, table endpoint and credential (account key, shared access
//! signature or Microsoft Entra ID), from flags or a connection string.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use spektate_core::http::Secret;
use spektate_core::{Error, Result};

use crate::entra::EntraCredential;

/// The account of the storage emulator (Azurite).
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// The well-known key of the storage emulator, published in its documentation.
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The table endpoint of a local storage emulator.
pub const DEV_TABLE_ENDPOINT: &str = "http://127.0.0.1:10002/devstoreaccount1";

/// How requests to the table service are authorized.
#[derive(Clone)]
pub enum TableCredential {
    /// Shared Key: every request signed with the account key.
    SharedKey {
        /// The key as given (base64).
        key: Secret,
        /// The decoded key.
        bytes: Vec<u8>,
    },
    /// A shared access signature, appended to every request's query.
    Sas(Sas),
    /// A Microsoft Entra ID token (`Authorization: Bearer`), from a managed identity or
    /// workload identity federation.
    Entra(EntraCredential),
}

impl fmt::Debug for TableCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableCredential::SharedKey { .. } => f.write_str("SharedKey(***)"),
            TableCredential::Sas(sas) => write!(f, "{sas:?}"),
            TableCredential::Entra(c) => write!(f, "Entra({})", c.describe()),
        }
    }
}

impl TableCredential {
    /// What kind of credential it is, for messages: `account key`, `SAS`, or the Entra ID
    /// credential's description.
    pub fn kind(&self) -> String {
        match self {
            TableCredential::SharedKey { .. } => "account key".to_string(),
            TableCredential::Sas(_) => "SAS".to_string(),
            TableCredential::Entra(c) => format!("Entra ID token of the {}", c.describe()),
        }
    }
}

/// A shared access signature: the query parameters `sv=...&sig=...` (an account SAS, or a
/// table SAS with `tn=`). `Debug` shows only its version, table and expiry, never `sig`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sas {
    query: Secret,
}

impl fmt::Debug for Sas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sas")
            .field("sv", &self.param("sv"))
            .field("tn", &self.param("tn"))
            .field("se", &self.param("se"))
            .field("sig", &"***")
            .finish()
    }
}

impl Sas {
    /// A SAS from its query string (with or without the leading `?`). It must hold `sv=` and
    /// `sig=`; errors never show it.
    pub fn new(sas: &Secret) -> Result<Self> {
        let q = sas.expose().trim().trim_start_matches('?').trim();
        let names: Vec<&str> = q
            .split('&')
            .filter_map(|p| p.split_once('=').map(|(k, _)| k))
            .collect();
        if q.contains(['#', ' ', '\n']) || !names.contains(&"sig") || !names.contains(&"sv") {
            return Err(Error::invalid(
                "shared access signature",
                "is not a SAS query string with sv= and sig= (the value is not shown)",
            ));
        }
        Ok(Sas {
            query: Secret::new(q),
        })
    }

    /// The query string, without `?`. Never log it.
    pub fn expose(&self) -> &str {
        self.query.expose()
    }

    /// A parameter's value (still percent-encoded); `None` for `sig`.
    pub fn param(&self, name: &str) -> Option<&str> {
        if name == "sig" {
            return None;
        }
        self.query
            .expose()
            .split('&')
            .find_map(|p| p.split_once('=').filter(|(k, _)| *k == name))
            .map(|(_, v)| v)
    }

    /// The table a table SAS is for (`tn`), lower-case; `None` for an account SAS.
    pub fn table(&self) -> Option<String> {
        self.param("tn").map(str::to_ascii_lowercase)
    }

    /// When it expires (`se`), when it says and the time parses.
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        let se = self.param("se")?.replace("%3A", ":").replace("%3a", ":");
        DateTime::parse_from_rfc3339(&se)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(&se, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            })
    }
}

/// A storage account: its name, table endpoint and credential. `Debug` never prints a key,
/// signature or token.
#[derive(Clone)]
pub struct TableAccount {
    name: String,
    credential: TableCredential,
    endpoint: String,
}

impl fmt::Debug for TableAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableAccount")
            .field("name", &self.name)
            .field("credential", &self.credential)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

fn check_account_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        || name.len() > 24
    {
        return Err(Error::invalid(
            "storage account name",
            format!("'{name}' must be 1 to 24 lower-case letters and digits"),
        ));
    }
    Ok(name.to_string())
}

impl TableAccount {
    /// The account `name` with its base64 `key`, at `https://{name}.table.core.windows.net`.
    pub fn new(name: &str, key: Secret) -> Result<Self> {
        let name = check_account_name(name)?;
        let bytes = STANDARD.decode(key.expose().trim()).map_err(|_| {
            Error::invalid(
                "storage account key",
                "is not base64 (the key itself is not shown)",
            )
        })?;
        if bytes.is_empty() {
            return Err(Error::invalid(
                "storage account key",
                "is empty; a value is required",
            ));
        }
        Ok(Self::with_credential(
            &name,
            TableCredential::SharedKey { key, bytes },
        ))
    }

    /// The account `name` with a shared access signature (`sv=...&sig=...`), at
    /// `https://{name}.table.core.windows.net`.
    pub fn with_sas(name: &str, sas: &Secret) -> Result<Self> {
        let name = check_account_name(name)?;
        Ok(Self::with_credential(
            &name,
            TableCredential::Sas(Sas::new(sas)?),
        ))
    }

    /// The account `name` with a Microsoft Entra ID credential, at
    /// `https://{name}.table.core.windows.net`.
    pub fn with_entra(name: &str, credential: EntraCredential) -> Result<Self> {
        let name = check_account_name(name)?;
        Ok(Self::with_credential(
            &name,
            TableCredential::Entra(credential),
        ))
    }

    fn with_credential(name: &str, credential: TableCredential) -> Self {
        TableAccount {
            endpoint: format!("https://{name}.table.core.windows.net"),
            name: name.to_string(),
            credential,
        }
    }

    /// The storage emulator's account, at `endpoint` (default `http://127.0.0.1:10002/devstoreaccount1`).
    pub fn development(endpoint: Option<&str>) -> Result<Self> {
        Self::new(DEV_ACCOUNT, Secret::new(DEV_KEY))?
            .with_endpoint(endpoint.unwrap_or(DEV_TABLE_ENDPOINT))
    }

    /// The same account at another table endpoint (Azurite, sovereign clouds, private links).
    /// A path-style endpoint (`http://127.0.0.1:10002/devstoreaccount1`) keeps its path.
    ///
    /// An endpoint with a query (a SAS URL), a fragment or user info is refused; the error
    /// shows its scheme, host and path only.
    pub fn with_endpoint(self, endpoint: &str) -> Result<Self> {
        self.with_named_endpoint("table endpoint", endpoint)
    }

    /// [`Self::with_endpoint`], its errors naming `field`, the setting as the user gave it
    /// (`--table-endpoint`, `tableEndpoint`).
    pub fn with_named_endpoint(mut self, field: &str, endpoint: &str) -> Result<Self> {
        self.endpoint = checked_endpoint(endpoint, ENDPOINT_SAS_IN)
            .map_err(|reason| Error::invalid(field, reason))?;
        Ok(self)
    }

    /// The endpoint of a connection string's `TableEndpoint=`, errors naming it.
    fn with_connection_string_endpoint(mut self, endpoint: &str) -> Result<Self> {
        self.endpoint =
            checked_endpoint(endpoint, "SharedAccessSignature= in the connection string").map_err(
                |reason| Error::invalid("connection string", format!("TableEndpoint {reason}")),
            )?;
        Ok(self)
    }

    /// Parses a connection string: `DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;
    /// EndpointSuffix=...` with an optional `TableEndpoint=...`, or `UseDevelopmentStorage=true`.
    pub fn from_connection_string(s: &str) -> Result<Self> {
        let mut fields: Vec<(String, String)> = Vec::new();
        for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                // The part is not shown: it may be a key pasted in the wrong place.
                return Err(Error::invalid(
                    "connection string",
                    "is not a list of key=value pairs separated by ';'",
                ));
            };
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let get = |k: &str| {
            fields
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        if get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            let endpoint = match get("developmentstorageproxyuri") {
                Some(proxy) => format!("{}:10002/{DEV_ACCOUNT}", proxy.trim_end_matches('/')),
                None => DEV_TABLE_ENDPOINT.to_string(),
            };
            return Self::development(Some(&endpoint));
        }
        if let Some(sas) = get("sharedaccesssignature") {
            if get("accountkey").is_some() {
                return Err(Error::invalid(
                    "connection string",
                    "has both AccountKey and SharedAccessSignature; give one",
                ));
            }
            let endpoint = get("tableendpoint");
            let name = match (get("accountname"), endpoint) {
                (Some(name), _) => name.to_string(),
                (None, Some(e)) => account_of_endpoint(e).ok_or_else(|| {
                    Error::invalid(
                        "connection string",
                        format!(
                            "AccountName is missing and TableEndpoint {} does not name the account",
                            shown_endpoint(e)
                        ),
                    )
                })?,
                (None, None) => {
                    return Err(Error::invalid(
                        "connection string",
                        "a SharedAccessSignature needs TableEndpoint or AccountName",
                    ));
                }
            };
            let account = Self::with_sas(&name, &Secret::new(sas))?;
            return match endpoint {
                Some(e) => account.with_connection_string_endpoint(e),
                None => account.at_suffix(get("defaultendpointsprotocol"), get("endpointsuffix")),
            };
        }
        let name = get("accountname")
            .ok_or_else(|| Error::invalid("connection string", "AccountName is missing"))?;
        let key = get("accountkey")
            .ok_or_else(|| Error::invalid("connection string", "AccountKey is missing"))?;
        let account = Self::new(name, Secret::new(key))?;
        if let Some(endpoint) = get("tableendpoint") {
            return account.with_connection_string_endpoint(endpoint);
        }
        account.at_suffix(get("defaultendpointsprotocol"), get("endpointsuffix"))
    }

    /// The account at `{protocol}://{name}.table.{suffix}` (defaults `https`,
    /// `core.windows.net`).
    fn at_suffix(self, protocol: Option<&str>, suffix: Option<&str>) -> Result<Self> {
        let protocol = protocol.unwrap_or("https").to_ascii_lowercase();
        if protocol != "https" && protocol != "http" {
            return Err(Error::invalid(
                "connection string",
                format!("DefaultEndpointsProtocol '{protocol}' is not http or https"),
            ));
        }
        let suffix = suffix.unwrap_or("core.windows.net");
        let endpoint = format!("{protocol}://{}.table.{suffix}", self.name);
        self.with_endpoint(&endpoint)
    }

    /// The account name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table endpoint, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The path part of the endpoint (`/devstoreaccount1` for path-style URLs, else empty).
    pub(crate) fn endpoint_path(&self) -> &str {
        let rest = self.endpoint.split_once("://").map_or("", |(_, r)| r);
        rest.find('/').map_or("", |i| &rest[i..])
    }

    /// How requests are authorized.
    pub fn credential(&self) -> &TableCredential {
        &self.credential
    }
}

/// Where an endpoint's error tells to give a SAS found in its query.
const ENDPOINT_SAS_IN: &str =
    "the table SAS setting (--table-sas) or SharedAccessSignature= in a connection string";

/// `endpoint` as a message may show it, quoted: its scheme, host (and port) and path, with
/// what was left out said after it (`'https://a.table.core.windows.net/' (its query left
/// out)`). User info, query and fragment never appear: a SAS or a password rides there.
fn shown_endpoint(endpoint: &str) -> String {
    match spektate_core::model::url::shown_parts(endpoint) {
        (shown, left_out) if left_out.is_empty() => format!("'{shown}'"),
        (shown, left_out) => format!("'{shown}' (its {} left out)", left_out.join(" and ")),
    }
}

/// `endpoint` checked and without a trailing slash: an http(s) URL with a host, and no user
/// info, query, fragment or blank. The error (the reason, after the field) shows it as
/// [`shown_endpoint`] does; a SAS in its query is told to be given in `sas_in` instead.
fn checked_endpoint(endpoint: &str, sas_in: &str) -> std::result::Result<String, String> {
    let given = endpoint.trim();
    let shown = shown_endpoint(given);
    let e = given.trim_end_matches('/');
    if let Some((_, query)) = e.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        let is_sas = query
            .split('&')
            .any(|p| p.split_once('=').is_some_and(|(k, _)| k == "sig"));
        return Err(if is_sas {
            format!(
                "{shown} holds a shared access signature in its query; give the endpoint \
                 without it, and the SAS in {sas_in}"
            )
        } else {
            format!("{shown} has a query; a table endpoint is an http(s) URL without one")
        });
    }
    let rest = e
        .strip_prefix("https://")
        .or_else(|| e.strip_prefix("http://"));
    let authority = rest.map(|r| r.split('/').next().unwrap_or_default());
    if authority.is_some_and(|a| a.contains('@')) {
        return Err(format!(
            "{shown} holds user info; a table endpoint takes no credential: give the key or \
             SAS on its own"
        ));
    }
    if authority.is_none_or(str::is_empty) || e.contains('#') || e.contains(char::is_whitespace) {
        return Err(format!(
            "{shown} is not an http(s) URL with a host and no query, fragment or blank"
        ));
    }
    Ok(e.to_string())
}

/// The account an endpoint names: the first label of `ACCOUNT.table.core.windows.net`, or
/// the first path segment of a path-style endpoint (`http://127.0.0.1:10002/devstoreaccount1`).
pub fn account_of_endpoint(endpoint: &str) -> Option<String> {
    let rest = endpoint.trim().split_once("://")?.1;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    let first_path = path.split('/').find(|s| !s.is_empty());
    let candidate = match first_path {
        Some(seg) => seg,
        None => host.split('.').next().unwrap_or_default(),
    };
    let candidate = candidate.to_ascii_lowercase();
    check_account_name(&candidate).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "c2VjcmV0LWFjY291bnQta2V5";

    #[test]
    fn full_connection_strings() {
        let a = TableAccount::from_connection_string(&format!(
            "DefaultEndpointsProtocol=https;AccountName=spektate;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn"
        ))
        .unwrap();
        assert_eq!(a.endpoint(), "https://spektate.table.core.chinacloudapi.cn");
        assert_eq!(a.endpoint_path(), "");
        let a = TableAccount::from_connection_string(&format!(
            "AccountName=devstoreaccount1;AccountKey={DEV_KEY};TableEndpoint=http://127.0.0.1:41000/devstoreaccount1;"
        ))
        .unwrap();
        assert_eq!(a.endpoint_path(), "/devstoreaccount1");
    }

    #[test]
    fn development_storage() {
        let a = TableAccount::from_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(
            (a.name(), a.endpoint()),
            (
                "devstoreaccount1",
                "http://127.0.0.1:10002/devstoreaccount1"
            )
        );
        let a = TableAccount::from_connection_string(
            "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://azurite",
        )
        .unwrap();
        assert_eq!(a.endpoint(), "http://azurite:10002/devstoreaccount1");
    }

    #[test]
    fn errors_name_the_problem_and_never_the_key() {
        let e = TableAccount::from_connection_string("AccountName=x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("AccountKey is missing"), "{e}");
        let e = TableAccount::from_connection_string("AccountName=x;AccountKey=not*base64!")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not base64") && !e.contains("not*base64!"),
            "{e}"
        );
        let e = TableAccount::new("Bad_Name", Secret::new(KEY))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'Bad_Name'"), "{e}");
        let e = TableAccount::from_connection_string("SharedAccessSignature=sv=2020&sig=abc")
            .unwrap_err()
            .to_string();
        assert!(e.contains("TableEndpoint") && !e.contains("sig=abc"), "{e}");
        let e = TableAccount::from_connection_string(
            "TableEndpoint=https://fabrikam.table.core.windows.net;SharedAccessSignature=sp=r&sig=abc",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("sv= and sig=") && !e.contains("sig=abc"), "{e}");
        let a = TableAccount::new("spektate", Secret::new(KEY)).unwrap();
        assert!(!format!("{a:?}").contains(KEY));
        let e = a.with_endpoint("127.0.0.1:10002").unwrap_err().to_string();
        assert!(e.contains("'127.0.0.1:10002'"), "{e}");
    }

    #[test]
    fn sas_connection_strings_and_their_account() {
        let sas =
            "sv=2019-02-02&ss=t&srt=sco&sp=rwdlacu&se=2031-01-01T00:00:00Z&sig=c2ln%2Bbg%3D%3D";
        let a = TableAccount::from_connection_string(&format!(
            "TableEndpoint=https://fabrikam.table.core.windows.net/;SharedAccessSignature={sas}"
        ))
        .unwrap();
        assert_eq!(
            (a.name(), a.endpoint()),
            ("fabrikam", "https://fabrikam.table.core.windows.net")
        );
        let TableCredential::Sas(s) = a.credential() else {
            panic!("not a SAS: {a:?}")
        };
        assert_eq!(s.expose(), sas);
        assert_eq!(s.table(), None, "an account SAS names no table");
        assert_eq!(
            s.expiry().unwrap().to_rfc3339(),
            "2031-01-01T00:00:00+00:00"
        );
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("c2ln") && shown.contains("2019-02-02"),
            "{shown}"
        );
        let a = TableAccount::from_connection_string(&format!(
            "AccountName=fabrikam;SharedAccessSignature=?{sas};EndpointSuffix=core.chinacloudapi.cn"
        ))
        .unwrap();
        assert_eq!(a.endpoint(), "https://fabrikam.table.core.chinacloudapi.cn");
        let e = TableAccount::from_connection_string(&format!(
            "AccountName=fabrikam;AccountKey={KEY};SharedAccessSignature={sas}"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("give one") && !e.contains("c2ln"), "{e}");
        assert_eq!(
            account_of_endpoint("http://127.0.0.1:10002/devstoreaccount1").as_deref(),
            Some("devstoreaccount1")
        );
        assert_eq!(
            account_of_endpoint("https://fabrikam.table.core.windows.net").as_deref(),
            Some("fabrikam")
        );
        let table_sas =
            Sas::new(&Secret::new("?sv=2019-02-02&tn=Deployments&sp=raud&sig=x")).unwrap();
        assert_eq!(table_sas.table().as_deref(), Some("deployments"));
        assert_eq!(table_sas.param("sig"), None);
    }

    #[test]
    fn endpoint_errors_never_show_a_query_or_user_info() {
        let sas_url = "https://acct.table.core.windows.net/?sv=2022-11-02&ss=t&srt=sco&sp=rwdlacu&se=2031-01-01T00:00:00Z&sig=SIGSECRET";
        let a = TableAccount::new("acct", Secret::new(KEY)).unwrap();
        // --table-endpoint / SPEKTATE_TABLE_ENDPOINT: the portal's "Table service SAS URL".
        let e = a.clone().with_endpoint(sas_url).unwrap_err().to_string();
        assert!(
            !e.contains("SIGSECRET") && !e.contains("sv=") && !e.contains("rwdlacu"),
            "{e}"
        );
        assert!(
            e.contains("'https://acct.table.core.windows.net/' (its query left out)")
                && e.contains("shared access signature")
                && e.contains("--table-sas"),
            "{e}"
        );
        let e = a
            .clone()
            .with_named_endpoint("--table-endpoint", sas_url)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--table-endpoint") && !e.contains("SIGSECRET"),
            "{e}"
        );
        // TableEndpoint= in a connection string, with a key, with a SAS, and alone.
        for cs in [
            format!("AccountName=acct;AccountKey={KEY};TableEndpoint={sas_url}"),
            format!("TableEndpoint={sas_url};SharedAccessSignature=sv=2022-11-02&sig=OTHER"),
            format!("AccountName=acct;TableEndpoint={sas_url};SharedAccessSignature=sv=1&sig=x"),
        ] {
            let e = TableAccount::from_connection_string(&cs)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("TableEndpoint 'https://acct.table.core.windows.net/'")
                    && e.contains("SharedAccessSignature=")
                    && !e.contains("SIGSECRET")
                    && !e.contains("sv=2022"),
                "{e}"
            );
        }
        // A query that is no SAS, user info, a fragment: none of them shown either.
        for (given, shown) in [
            (
                "https://acct.table.core.windows.net/?token=QSECRET",
                "'https://acct.table.core.windows.net/' (its query left out)",
            ),
            (
                "https://me:PWSECRET@acct.table.core.windows.net/t",
                "'https://acct.table.core.windows.net/t' (its user info left out)",
            ),
            (
                "acct.table.core.windows.net?sig=QSECRET",
                "'acct.table.core.windows.net' (its query left out)",
            ),
            (
                "ftp://u:PWSECRET@h/p#QSECRET",
                "'ftp://h/p' (its user info and fragment left out)",
            ),
        ] {
            let e = a.clone().with_endpoint(given).unwrap_err().to_string();
            assert!(e.contains(shown) && !e.contains("SECRET"), "{given}: {e}");
        }
        let e = TableAccount::from_connection_string(
            "TableEndpoint=https://u:PWSECRET@127.0.0.1:10002/?sig=QSECRET;SharedAccessSignature=sv=1&sig=x",
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains("SECRET"), "{e}");
    }
}
