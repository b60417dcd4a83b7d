//! Microsoft Entra ID access tokens for Azure Storage, without a stored secret:
//!
//! - **managed identity** through the instance metadata service (IMDS) of a VM, scale set
//!   or AKS node (`GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`
//!   with `Metadata: true`), or through the identity endpoint App Service, Functions and
//!   Container Apps give (`IDENTITY_ENDPOINT` with the `X-IDENTITY-HEADER` of `IDENTITY_HEADER`,
//!   `api-version=2019-08-01`);
//! - **workload identity federation** (AKS): the service account token in
//!   `AZURE_FEDERATED_TOKEN_FILE` (read again for every new token, as the kubelet rotates it)
//!   is exchanged at `{AZURE_AUTHORITY_HOST}/{AZURE_TENANT_ID}/oauth2/v2.0/token` in a
//!   `client_credentials` grant with a `client_assertion`, for the client `AZURE_CLIENT_ID`.
//!
//! A token is kept until five minutes before it expires (half its life for short-lived ones),
//! then fetched again; concurrent requests wait for one fetch. Tokens and the identity header
//! are [`Secret`]s: they never appear in `Debug`, errors or logs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use spektate_core::http::{
    Auth, Connection, HttpClient, Method, Policy, Request, Response, Secret,
};
use spektate_core::url_encode::query_value;
use spektate_core::warnings::clip;
use spektate_core::{Error, Result};
use tokio::sync::Mutex;

/// The resource Azure Storage tokens are issued for.
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com/";
/// The token endpoint of the instance metadata service.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// The Microsoft Entra authority of the public cloud.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// How long before its expiry a token is replaced, at most.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Which kind of Entra ID credential to take from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntraKind {
    /// Workload identity when `AZURE_FEDERATED_TOKEN_FILE` is set, else managed identity.
    Auto,
    /// A managed identity: App Service's endpoint when `IDENTITY_ENDPOINT` is set, else IMDS.
    ManagedIdentity,
    /// Workload identity federation; `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
    /// `AZURE_FEDERATED_TOKEN_FILE` must be set.
    WorkloadIdentity,
}

impl EntraKind {
    /// The kind a word names: `entra` (or `auto`), `managed-identity`, `workload-identity`.
    pub fn parse(word: &str) -> Option<EntraKind> {
        match word.trim().to_ascii_lowercase().as_str() {
            "entra" | "entra-id" | "auto" => Some(EntraKind::Auto),
            "managed-identity" | "msi" => Some(EntraKind::ManagedIdentity),
            "workload-identity" => Some(EntraKind::WorkloadIdentity),
            _ => None,
        }
    }
}

/// Where tokens come from.
#[derive(Clone)]
enum Source {
    Imds {
        endpoint: String,
        client_id: Option<String>,
    },
    AppService {
        endpoint: String,
        header: Secret,
        client_id: Option<String>,
    },
    Workload {
        authority: String,
        tenant_id: String,
        client_id: String,
        token_file: PathBuf,
    },
}

#[derive(Clone)]
struct Token {
    value: Secret,
    expires_at: DateTime<Utc>,
    obtained_at: DateTime<Utc>,
}

impl Token {
    /// Whether it can still be used at `now`: more than the refresh margin (five minutes, or
    /// half the token's life when that is shorter) before it expires.
    fn fresh(&self, now: DateTime<Utc>) -> bool {
        let life = (self.expires_at - self.obtained_at)
            .to_std()
            .unwrap_or_default();
        let margin = REFRESH_MARGIN.min(life / 2);
        (self.expires_at - now)
            .to_std()
            .is_ok_and(|left| left > margin)
    }
}

struct Inner {
    source: Source,
    resource: String,
    http: HttpClient,
    cached: Mutex<Option<Token>>,
}

/// A Microsoft Entra ID credential that fetches, caches and refreshes access tokens for
/// Azure Storage. Cheap to clone; clones share the cached token.
#[derive(Clone)]
pub struct EntraCredential {
    inner: Arc<Inner>,
}

impl fmt::Debug for EntraCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraCredential")
            .field("source", &self.describe())
            .field("resource", &self.inner.resource)
            .finish()
    }
}

/// A trimmed http(s) URL without a trailing slash, or an error naming `field` and the value.
fn endpoint_url(field: &str, url: &str) -> Result<String> {
    let u = url.trim().trim_end_matches('/');
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.split_once("://")
            .is_some_and(|(_, r)| !r.is_empty() && !r.starts_with('/'))
        && !u.contains(['?', '#', ' ']);
    if ok {
        Ok(u.to_string())
    } else {
        Err(Error::invalid(
            field,
            format!("'{}' is not an http(s) URL without a query", url.trim()),
        ))
    }
}

/// The host of an http(s) URL, lower-case, without port or brackets.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.to_ascii_lowercase()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// An authority must be https: it receives the federated token. Plain http is accepted
/// only on the loopback interface (a local test issuer).
fn authority_url(url: &str) -> Result<String> {
    let u = endpoint_url("AZURE_AUTHORITY_HOST", url)?;
    if u.starts_with("http://") && !is_loopback(&host_of(&u)) {
        return Err(Error::invalid(
            "AZURE_AUTHORITY_HOST",
            format!("'{u}' is not https; the federated token is only sent over https"),
        ));
    }
    Ok(u)
}

fn non_blank(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl EntraCredential {
    fn with_source(source: Source) -> Result<Self> {
        let policy = match &source {
            // A machine without a metadata service does not answer at all: do not wait long
            // for it.
            Source::Imds { .. } => Policy {
                timeout: Duration::from_secs(5),
                max_retries: 2,
                concurrency: 2,
                ..Policy::default()
            },
            _ => Policy {
                timeout: Duration::from_secs(10),
                max_retries: 3,
                concurrency: 2,
                ..Policy::default()
            },
        };
        let label = match &source {
            Source::Imds { .. } => "entra-id managed identity (IMDS)",
            Source::AppService { .. } => "entra-id managed identity (App Service)",
            Source::Workload { .. } => "entra-id workload identity",
        };
        // No redirect is followed: one would carry the identity header, or the federated
        // token in a re-sent body, to whatever host it names.
        let connection = Connection {
            follow_redirects: false,
            ..Connection::default()
        };
        Ok(EntraCredential {
            inner: Arc::new(Inner {
                http: HttpClient::with_connection(label, Auth::None, policy, connection)?,
                source,
                resource: STORAGE_RESOURCE.to_string(),
                cached: Mutex::new(None),
            }),
        })
    }

    /// A managed identity through the instance metadata service at `endpoint` (default
    /// [`IMDS_ENDPOINT`]); `client_id` picks a user-assigned identity.
    pub fn imds(endpoint: Option<&str>, client_id: Option<&str>) -> Result<Self> {
        let endpoint = endpoint_url("IMDS endpoint", endpoint.unwrap_or(IMDS_ENDPOINT))?;
        Self::with_source(Source::Imds {
            endpoint,
            client_id: non_blank(client_id.map(str::to_string)),
        })
    }

    /// A managed identity through App Service's identity endpoint, with its header secret.
    pub fn app_service(endpoint: &str, header: Secret, client_id: Option<&str>) -> Result<Self> {
        let endpoint = endpoint_url("IDENTITY_ENDPOINT", endpoint)?;
        if header.expose().trim().is_empty() {
            return Err(Error::invalid(
                "IDENTITY_HEADER",
                "is empty; App Service sets it beside IDENTITY_ENDPOINT",
            ));
        }
        Self::with_source(Source::AppService {
            endpoint,
            header,
            client_id: non_blank(client_id.map(str::to_string)),
        })
    }

    /// Workload identity federation: the token in `token_file` is exchanged at `authority`
    /// (default [`DEFAULT_AUTHORITY`]) for a token of the application `client_id` in
    /// `tenant_id`.
    pub fn workload_identity(
        authority: Option<&str>,
        tenant_id: &str,
        client_id: &str,
        token_file: impl AsRef<Path>,
    ) -> Result<Self> {
        let authority = authority_url(authority.unwrap_or(DEFAULT_AUTHORITY))?;
        let tenant_id = tenant_id.trim();
        let tenant_ok = !tenant_id.is_empty()
            && tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !tenant_ok {
            return Err(Error::invalid(
                "AZURE_TENANT_ID",
                format!("'{tenant_id}' is not a tenant id or domain"),
            ));
        }
        if client_id.trim().is_empty() {
            return Err(Error::invalid("AZURE_CLIENT_ID", "is empty"));
        }
        Self::with_source(Source::Workload {
            authority,
            tenant_id: tenant_id.to_string(),
            client_id: client_id.trim().to_string(),
            token_file: token_file.as_ref().to_path_buf(),
        })
    }

    /// The credential of `kind` from the process environment; see [`Self::from_vars`].
    pub fn from_env(kind: EntraKind) -> Result<Self> {
        Self::from_vars(kind, |name| std::env::var(name).ok())
    }

    /// The credential of `kind` from variables as Azure sets them: `AZURE_CLIENT_ID`,
    /// `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE` and `AZURE_AUTHORITY_HOST` (workload
    /// identity); `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` (App Service); else IMDS, at
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` when set. `AZURE_CLIENT_ID` picks a user-assigned
    /// managed identity.
    pub fn from_vars(kind: EntraKind, var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| non_blank(var(name));
        let workload = match kind {
            EntraKind::WorkloadIdentity => true,
            EntraKind::ManagedIdentity => false,
            EntraKind::Auto => var("AZURE_FEDERATED_TOKEN_FILE").is_some(),
        };
        let client_id = var("AZURE_CLIENT_ID");
        if workload {
            let needed = [
                "AZURE_CLIENT_ID",
                "AZURE_TENANT_ID",
                "AZURE_FEDERATED_TOKEN_FILE",
            ];
            let missing: Vec<&str> = needed
                .iter()
                .copied()
                .filter(|n| var(n).is_none())
                .collect();
            if !missing.is_empty() {
                return Err(Error::invalid(
                    "workload identity",
                    format!(
                        "{} not set (the AKS workload identity webhook sets them in a pod \
                         whose service account is federated)",
                        missing.join(", ")
                    ),
                ));
            }
            let authority = var("AZURE_AUTHORITY_HOST");
            return Self::workload_identity(
                authority.as_deref(),
                &var("AZURE_TENANT_ID").unwrap_or_default(),
                &client_id.unwrap_or_default(),
                var("AZURE_FEDERATED_TOKEN_FILE").unwrap_or_default(),
            );
        }
        match (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
            (Some(endpoint), Some(header)) => {
                Self::app_service(&endpoint, Secret::new(header), client_id.as_deref())
            }
            (Some(_), None) => Err(Error::invalid(
                "IDENTITY_HEADER",
                "is not set, and IDENTITY_ENDPOINT is; App Service sets both",
            )),
            _ => {
                let endpoint = var("AZURE_POD_IDENTITY_AUTHORITY_HOST").map(|host| {
                    format!(
                        "{}/metadata/identity/oauth2/token",
                        host.trim_end_matches('/')
                    )
                });
                Self::imds(endpoint.as_deref(), client_id.as_deref())
            }
        }
    }

    /// The same credential for another resource (default [`STORAGE_RESOURCE`]).
    pub fn for_resource(self, resource: &str) -> Result<Self> {
        let source = self.inner.source.clone();
        let mut fresh = Self::with_source(source)?;
        Arc::get_mut(&mut fresh.inner)
            .expect("a new credential is not shared")
            .resource = resource.trim().to_string();
        Ok(fresh)
    }

    /// What the credential is, for messages: `managed identity (IMDS)`, `workload identity
    /// (client ..., tenant ...)`.
    pub fn describe(&self) -> String {
        match &self.inner.source {
            Source::Imds { client_id, .. } => match client_id {
                Some(id) => format!("managed identity (IMDS, client {id})"),
                None => "managed identity (IMDS)".to_string(),
            },
            Source::AppService { client_id, .. } => match client_id {
                Some(id) => format!("managed identity (App Service, client {id})"),
                None => "managed identity (App Service)".to_string(),
            },
            Source::Workload {
                tenant_id,
                client_id,
                ..
            } => format!("workload identity (client {client_id}, tenant {tenant_id})"),
        }
    }

    /// A token valid for at least a few more minutes: the cached one, or a new one.
    pub async fn token(&self) -> Result<Secret> {
        let mut slot = self.inner.cached.lock().await;
        if let Some(t) = slot.as_ref().filter(|t| t.fresh(Utc::now())) {
            return Ok(t.value.clone());
        }
        let token = self.fetch().await?;
        let value = token.value.clone();
        *slot = Some(token);
        Ok(value)
    }

    /// Forgets the cached token (after the service refused it), so the next call fetches one.
    pub async fn invalidate(&self) {
        *self.inner.cached.lock().await = None;
    }

    fn err(&self, message: impl fmt::Display) -> Error {
        Error::Provider {
            provider: self.inner.http.provider().to_string(),
            operation: "get token".to_string(),
            object: format!("for {}", self.inner.resource),
            message: message.to_string(),
            auth: true,
        }
    }

    async fn fetch(&self) -> Result<Token> {
        let resource = &self.inner.resource;
        let passed = [400, 401, 403, 404];
        let request = match &self.inner.source {
            Source::Imds {
                endpoint,
                client_id,
            } => {
                let mut url = format!(
                    "{endpoint}?api-version=2018-02-01&resource={}",
                    query_value(resource)
                );
                if let Some(id) = client_id {
                    url.push_str(&format!("&client_id={}", query_value(id)));
                }
                Request::get(url, "get token", resource.as_str()).header("metadata", "true")
            }
            Source::AppService {
                endpoint,
                header,
                client_id,
            } => {
                let mut url = format!(
                    "{endpoint}?api-version=2019-08-01&resource={}",
                    query_value(resource)
                );
                if let Some(id) = client_id {
                    url.push_str(&format!("&client_id={}", query_value(id)));
                }
                Request::get(url, "get token", resource.as_str())
                    .header("x-identity-header", header.expose())
            }
            Source::Workload {
                authority,
                tenant_id,
                client_id,
                token_file,
            } => {
                let assertion = std::fs::read_to_string(token_file).map_err(|e| {
                    self.err(format!(
                        "cannot read the federated token file {}: {e}",
                        token_file.display()
                    ))
                })?;
                let assertion = assertion.trim();
                if assertion.is_empty() {
                    return Err(self.err(format!(
                        "the federated token file {} is empty",
                        token_file.display()
                    )));
                }
                let scope = format!("{}/.default", resource.trim_end_matches('/'));
                let form = [
                    ("client_id", client_id.as_str()),
                    ("scope", scope.as_str()),
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion),
                ]
                .iter()
                .map(|(k, v)| format!("{k}={}", query_value(v)))
                .collect::<Vec<_>>()
                .join("&");
                let url = format!(
                    "{authority}/{}/oauth2/v2.0/token",
                    spektate_core::url_encode::segment(tenant_id)
                );
                Request::new(Method::POST, url, "get token", resource.as_str())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form.into_bytes())
            }
        };
        let resp = self
            .inner
            .http
            .send(request.pass(&passed))
            .await
            .map_err(|e| match e {
                Error::Provider { message, .. } => self.err(message),
                other => other,
            })?;
        if !(200..300).contains(&resp.status) {
            return Err(self.err(format!("HTTP {}{}", resp.status, oauth_error(&resp))));
        }
        parse_token(&resp.body, Utc::now()).map_err(|why| self.err(why))
    }
}

/// `: error: description` of an OAuth error answer (`{"error":..,"error_description":..}`),
/// the description cut at its first line and 200 characters.
fn oauth_error(resp: &Response) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(&resp.body) else {
        return String::new();
    };
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::trim);
    let code = text("error").or_else(|| v.pointer("/error/code").and_then(Value::as_str));
    let description = text("error_description")
        .or_else(|| v.pointer("/error/message").and_then(Value::as_str))
        .map(|d| {
            d.lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>()
        });
    match (code, description) {
        (Some(c), Some(d)) => format!(": {c}: {d}"),
        (Some(c), None) => format!(": {c}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

/// A number of seconds given as a JSON number or a string of digits.
fn seconds(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An answer's value as shown in an error: its JSON, cut to 40 characters.
fn shown(v: Option<&Value>) -> String {
    v.map_or("(none)".to_string(), |v| clip(&v.to_string(), 40))
}

/// The token and its expiry from a token answer: `expires_on` (epoch seconds, IMDS and App
/// Service) or `expires_in` (seconds from now, Entra's token endpoint).
fn parse_token(body: &[u8], now: DateTime<Utc>) -> std::result::Result<Token, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("malformed token answer: {e}"))?;
    let value = v
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no access_token")?;
    // Never kept: no header can carry it, so every request would fail until it expires.
    if value.chars().any(char::is_control) {
        return Err("the answer's access_token holds a control character".into());
    }
    let expires_at = seconds(v.get("expires_on"))
        .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .or_else(|| {
            seconds(v.get("expires_in"))
                .and_then(chrono::TimeDelta::try_seconds)
                .and_then(|d| now.checked_add_signed(d))
        })
        .ok_or_else(|| match (v.get("expires_on"), v.get("expires_in")) {
            (None, None) => "the answer says neither expires_on nor expires_in".to_string(),
            (on, within) => format!(
                "the answer's expires_on {} and expires_in {} name no time a date can hold",
                shown(on),
                shown(within)
            ),
        })?;
    Ok(Token {
        value: Secret::new(value),
        expires_at,
        obtained_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_environment_picks_the_credential() {
        let wi = [
            ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                "/var/run/secrets/azure/tokens/azure-identity-token",
            ),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
        ];
        let c = EntraCredential::from_vars(EntraKind::Auto, vars(&wi)).unwrap();
        assert_eq!(
            c.describe(),
            "workload identity (client 11111111-2222-3333-4444-555555555555, tenant contoso.onmicrosoft.com)"
        );
        let app = [
            ("IDENTITY_ENDPOINT", "http://localhost:8081/msi/token"),
            ("IDENTITY_HEADER", "hdr-secret"),
        ];
        let c = EntraCredential::from_vars(EntraKind::Auto, vars(&app)).unwrap();
        assert_eq!(c.describe(), "managed identity (App Service)");
        assert!(!format!("{c:?}").contains("hdr-secret"));
        let c = EntraCredential::from_vars(EntraKind::Auto, vars(&[])).unwrap();
        assert_eq!(c.describe(), "managed identity (IMDS)");
        // Forced kinds: workload identity with nothing set names what is missing.
        let e = EntraCredential::from_vars(EntraKind::WorkloadIdentity, vars(&app))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE not set"),
            "{e}"
        );
        let c = EntraCredential::from_vars(EntraKind::ManagedIdentity, vars(&wi)).unwrap();
        assert_eq!(
            c.describe(),
            "managed identity (IMDS, client 11111111-2222-3333-4444-555555555555)",
            "AZURE_CLIENT_ID picks a user-assigned identity"
        );
        let e = EntraCredential::from_vars(
            EntraKind::Auto,
            vars(&[("IDENTITY_ENDPOINT", "http://localhost:8081/msi/token")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("IDENTITY_HEADER"), "{e}");
    }

    #[test]
    fn the_federated_token_goes_only_to_an_https_authority() {
        let e = EntraCredential::workload_identity(
            Some("http://login.example.com"),
            "t",
            "c",
            "/tmp/x",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not https"), "{e}");
        assert!(
            EntraCredential::workload_identity(Some("http://127.0.0.1:9"), "t", "c", "/tmp/x")
                .is_ok()
        );
        let e = EntraCredential::workload_identity(None, "a/b", "c", "/tmp/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("AZURE_TENANT_ID") && e.contains("'a/b'"), "{e}");
    }

    #[test]
    fn token_answers_of_imds_app_service_and_entra() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        // IMDS: every number is a string.
        let t = parse_token(
            br#"{"access_token":"eyJ0","expires_in":"86399","expires_on":"1767355199","resource":"https://storage.azure.com/","token_type":"Bearer"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at.timestamp(), 1_767_355_199);
        // Entra's v2 token endpoint: expires_in as a number.
        let t = parse_token(
            br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ1"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_at, now + chrono::TimeDelta::seconds(3599));
        assert_eq!(t.value.expose(), "eyJ1");
        assert!(parse_token(br#"{"expires_in":3599}"#, now).is_err());
        // A lifetime no date can hold is no expiry, not a crash.
        for huge in [
            r#""expires_in":10000000000000000"#,
            r#""expires_in":"-9223372036854775807""#,
            r#""expires_on":"9223372036854775807""#,
        ] {
            let body = format!(r#"{{"access_token":"x",{huge}}}"#);
            let Err(err) = parse_token(body.as_bytes(), now) else {
                panic!("{body} is refused");
            };
            assert!(err.contains("name no time a date can hold"), "{err}");
            assert!(err.contains(&huge[huge.find(':').unwrap() + 1..]), "{err}");
        }
        assert!(parse_token(br#"{"access_token":"x"}"#, now).is_err());
        assert!(parse_token(b"<html>", now).is_err());
        // A token no header can carry is refused, not kept until a far expiry; the error
        // does not show it.
        let Err(e) = parse_token(
            br#"{"access_token":"eyJ2\nsecond-line","expires_on":"253402300799"}"#,
            now,
        ) else {
            panic!("a token with a line break is kept");
        };
        assert!(
            e.contains("control character") && !e.contains("eyJ2"),
            "{e}"
        );
    }

    #[test]
    fn a_token_is_replaced_five_minutes_before_it_expires() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let hour = Token {
            value: Secret::new("t"),
            expires_at: at + chrono::TimeDelta::hours(1),
            obtained_at: at,
        };
        assert!(hour.fresh(at + chrono::TimeDelta::minutes(54)));
        assert!(!hour.fresh(at + chrono::TimeDelta::minutes(56)));
        let short = Token {
            value: Secret::new("t"),
            expires_at: at + chrono::TimeDelta::seconds(60),
            obtained_at: at,
        };
        assert!(short.fresh(at + chrono::TimeDelta::seconds(29)));
        assert!(!short.fresh(at + chrono::TimeDelta::seconds(31)));
    }
}
