//! A storage account: name, key and table endpoint, from flags or a connection string.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use spektate_core::http::Secret;
use spektate_core::{Error, Result};

/// The account of the storage emulator (Azurite).
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// The well-known key of the storage emulator, published in its documentation.
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The table endpoint of a local storage emulator.
pub const DEV_TABLE_ENDPOINT: &str = "http://127.0.0.1:10002/devstoreaccount1";

/// A storage account with a shared key. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct TableAccount {
    name: String,
    key: Secret,
    key_bytes: Vec<u8>,
    endpoint: String,
}

impl fmt::Debug for TableAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableAccount")
            .field("name", &self.name)
            .field("key", &self.key)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl TableAccount {
    /// The account `name` with its base64 `key`, at `https://{name}.table.core.windows.net`.
    pub fn new(name: &str, key: Secret) -> Result<Self> {
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
        let key_bytes = STANDARD.decode(key.expose().trim()).map_err(|_| {
            Error::invalid(
                "storage account key",
                "is not base64 (the key itself is not shown)",
            )
        })?;
        if key_bytes.is_empty() {
            return Err(Error::invalid(
                "storage account key",
                "is empty; a value is required",
            ));
        }
        Ok(TableAccount {
            endpoint: format!("https://{name}.table.core.windows.net"),
            name: name.to_string(),
            key,
            key_bytes,
        })
    }

    /// The storage emulator's account, at `endpoint` (default `http://127.0.0.1:10002/devstoreaccount1`).
    pub fn development(endpoint: Option<&str>) -> Result<Self> {
        Self::new(DEV_ACCOUNT, Secret::new(DEV_KEY))?
            .with_endpoint(endpoint.unwrap_or(DEV_TABLE_ENDPOINT))
    }

    /// The same account at another table endpoint (Azurite, sovereign clouds, private links).
    /// A path-style endpoint (`http://127.0.0.1:10002/devstoreaccount1`) keeps its path.
    pub fn with_endpoint(mut self, endpoint: &str) -> Result<Self> {
        let e = endpoint.trim().trim_end_matches('/');
        let ok = (e.starts_with("https://") || e.starts_with("http://"))
            && e.split_once("://")
                .is_some_and(|(_, r)| !r.is_empty() && !r.starts_with('/'))
            && !e.contains(['?', '#', ' ']);
        if !ok {
            return Err(Error::invalid(
                "table endpoint",
                format!(
                    "'{}' is not an http(s) URL without a query",
                    endpoint.trim()
                ),
            ));
        }
        self.endpoint = e.to_string();
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
        if get("sharedaccesssignature").is_some() {
            return Err(Error::invalid(
                "connection string",
                "SharedAccessSignature connection strings are not supported; give AccountName and AccountKey",
            ));
        }
        let name = get("accountname")
            .ok_or_else(|| Error::invalid("connection string", "AccountName is missing"))?;
        let key = get("accountkey")
            .ok_or_else(|| Error::invalid("connection string", "AccountKey is missing"))?;
        let account = Self::new(name, Secret::new(key))?;
        if let Some(endpoint) = get("tableendpoint") {
            return account.with_endpoint(endpoint);
        }
        let protocol = get("defaultendpointsprotocol")
            .unwrap_or("https")
            .to_ascii_lowercase();
        if protocol != "https" && protocol != "http" {
            return Err(Error::invalid(
                "connection string",
                format!("DefaultEndpointsProtocol '{protocol}' is not http or https"),
            ));
        }
        let suffix = get("endpointsuffix").unwrap_or("core.windows.net");
        let endpoint = format!("{protocol}://{}.table.{suffix}", account.name);
        account.with_endpoint(&endpoint)
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

    pub(crate) fn key_bytes(&self) -> &[u8] {
        &self.key_bytes
    }
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
        assert!(e.contains("not supported") && !e.contains("sig=abc"), "{e}");
        let a = TableAccount::new("spektate", Secret::new(KEY)).unwrap();
        assert!(!format!("{a:?}").contains(KEY));
        let e = a.with_endpoint("127.0.0.1:10002").unwrap_err().to_string();
        assert!(e.contains("'127.0.0.1:10002'"), "{e}");
    }
}
