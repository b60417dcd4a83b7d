//! A GitHub App as the credential: the app's private key signs a JWT (RS256, issued a
//! minute in the past, valid nine minutes), which mints an installation token per
//! installation (`POST /app/installations/{id}/access_tokens`). The installation of an
//! owner is the configured one, or the one `GET /repos/{owner}/{repo}/installation` names.
//! Installation tokens last an hour; each is kept until five minutes before it expires, then
//! minted again. Keys and tokens are [`Secret`]s and go only to the configured API.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use spektate_core::http::{HttpClient, Method, Request, Response, Secret};
use spektate_core::{Error, Result};
use tokio::sync::Mutex;

/// How long before its expiry an installation token is replaced.
const REFRESH_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// A GitHub App's identity: its id (or client id) and private key, and optionally the one
/// installation to use. `Debug` never shows the key.
#[derive(Clone)]
pub struct GitHubApp {
    app_id: String,
    key: EncodingKey,
    installation: Option<u64>,
}

impl fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubApp")
            .field("app_id", &self.app_id)
            .field("key", &"***")
            .field("installation", &self.installation)
            .finish()
    }
}

#[derive(serde::Serialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: serde_json::Value,
}

/// The DER bytes of the first PEM block labelled `label`.
fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop]
        // A key kept in a one-line variable may have its line breaks written as `\n`.
        .replace("\\n", "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

/// One DER element at the start of `der`: (tag, content, rest).
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (SEQUENCE of version,
/// algorithm, OCTET STRING holding the key).
pub fn pkcs1_of_pkcs8(der: &[u8]) -> Option<Vec<u8>> {
    let (0x30, info, _) = der_element(der)? else {
        return None;
    };
    let (0x02, _, rest) = der_element(info)? else {
        return None;
    };
    let (0x30, algorithm, rest) = der_element(rest)? else {
        return None;
    };
    // 1.2.840.113549.1.1.1 rsaEncryption
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    if !algorithm.starts_with(RSA) {
        return None;
    }
    let (0x04, key, _) = der_element(rest)? else {
        return None;
    };
    Some(key.to_vec())
}

impl GitHubApp {
    /// The app `app_id` (its numeric id, or its client id) with its private key in PEM, as
    /// GitHub gives it (`BEGIN RSA PRIVATE KEY`; a PKCS#8 `BEGIN PRIVATE KEY` works too).
    /// A key that cannot sign is an error that never shows the key.
    pub fn new(app_id: &str, private_key_pem: &Secret) -> Result<Self> {
        let app_id = app_id.trim();
        if app_id.is_empty() || !app_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                "GitHub App id",
                format!("'{app_id}' is not an app id or client id"),
            ));
        }
        let pem = private_key_pem.expose();
        let der = pem_block(pem, "RSA PRIVATE KEY")
            .or_else(|| pem_block(pem, "PRIVATE KEY").and_then(|d| pkcs1_of_pkcs8(&d)))
            .ok_or_else(|| {
                Error::invalid(
                    "GitHub App private key",
                    "is not an RSA private key in PEM (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE \
                     KEY); the key itself is not shown",
                )
            })?;
        let app = GitHubApp {
            app_id: app_id.to_string(),
            key: EncodingKey::from_rsa_der(&der),
            installation: None,
        };
        // Sign once now, so a broken key fails here and not at the first lookup.
        app.jwt(Utc::now()).map_err(|_| {
            Error::invalid(
                "GitHub App private key",
                "cannot sign: it is not a usable RSA key (the key itself is not shown)",
            )
        })?;
        Ok(app)
    }

    /// The app with its private key read from a PEM file.
    pub fn from_key_file(app_id: &str, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let pem = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(
                "GitHub App private key file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Self::new(app_id, &Secret::new(pem))
    }

    /// Uses this installation for every repository (an app installed on one organisation),
    /// instead of looking each owner's installation up.
    pub fn installation(mut self, id: u64) -> Self {
        self.installation = Some(id);
        self
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The fixed installation, when one was given.
    pub fn installation_id(&self) -> Option<u64> {
        self.installation
    }

    /// A JWT for the app at `now`: RS256, `iat` a minute back (clock drift), `exp` nine
    /// minutes ahead (GitHub accepts at most ten), `iss` the app id.
    pub fn jwt(&self, now: DateTime<Utc>) -> std::result::Result<Secret, String> {
        let iss = match self.app_id.parse::<u64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(self.app_id.clone()),
        };
        let claims = Claims {
            iat: now.timestamp() - 60,
            exp: now.timestamp() + 9 * 60,
            iss,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| e.to_string())
    }
}

#[derive(Clone)]
struct InstallationToken {
    token: Secret,
    expires_at: DateTime<Utc>,
}

#[derive(Default)]
struct State {
    /// Installation by owner (lower-case).
    installations: HashMap<String, u64>,
    /// Token by installation.
    tokens: HashMap<u64, InstallationToken>,
}

/// The tokens of one app against one API: installations found, tokens minted and cached.
/// The state is locked only to read and write it, never across a request: a slow lookup or
/// mint holds up only the requests of its own owner, which wait on that owner's flight.
pub(crate) struct AppTokens {
    app: GitHubApp,
    state: Mutex<State>,
    /// One lookup and mint at a time per owner (per installation when the app names one),
    /// while some request needs it.
    flights: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
    #[serde(default)]
    account: Option<Account>,
}

#[derive(Deserialize)]
struct Account {
    login: String,
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
    expires_at: DateTime<Utc>,
}

/// The `message` of a GitHub error answer, when there is one.
fn message(resp: &Response) -> String {
    serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
        .unwrap_or_default()
}

impl AppTokens {
    pub fn new(app: GitHubApp) -> Self {
        AppTokens {
            app,
            state: Mutex::new(State::default()),
            flights: Default::default(),
        }
    }

    pub fn app(&self) -> &GitHubApp {
        &self.app
    }

    fn err(&self, http: &HttpClient, operation: &str, object: &str, message: String) -> Error {
        Error::Provider {
            provider: http.provider().to_string(),
            operation: operation.to_string(),
            object: object.to_string(),
            message,
            auth: true,
        }
    }

    /// A request to `url` (under `api`) signed with the app's JWT.
    async fn as_app(
        &self,
        http: &HttpClient,
        method: Method,
        url: String,
        operation: &str,
        object: &str,
    ) -> Result<Response> {
        let jwt = self
            .app
            .jwt(Utc::now())
            .map_err(|e| self.err(http, operation, object, format!("cannot sign the JWT: {e}")))?;
        let req = Request::new(method, url, operation, object)
            .header("authorization", &format!("Bearer {}", jwt.expose()))
            .pass(&[401, 403, 404, 422]);
        let resp = http.send(req).await?;
        match resp.status {
            200..=299 => Ok(resp),
            401 => Err(self.err(
                http,
                operation,
                object,
                format!(
                    "the GitHub App {} was refused (HTTP 401{}): is the app id right, and is \
                     this its current private key?",
                    self.app.app_id,
                    message(&resp)
                ),
            )),
            s => Err(self.err(
                http,
                operation,
                object,
                format!("HTTP {s}{}", message(&resp)),
            )),
        }
    }

    /// The app as GitHub knows it (`GET /app`): its slug and id.
    pub async fn describe_app(&self, http: &HttpClient, api: &str) -> Result<String> {
        let resp = self
            .as_app(
                http,
                Method::GET,
                format!("{api}/app"),
                "check GitHub App",
                "app",
            )
            .await?;
        let v: serde_json::Value = resp.json()?;
        let slug = v
            .get("slug")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?");
        let id = v
            .get("id")
            .and_then(serde_json::Value::as_u64)
            .map_or_else(|| self.app.app_id.clone(), |n| n.to_string());
        Ok(format!("GitHub App {slug} (id {id})"))
    }

    /// The accounts the app is installed on (`GET /app/installations`, first 100).
    pub async fn installations(&self, http: &HttpClient, api: &str) -> Result<Vec<(String, u64)>> {
        let resp = self
            .as_app(
                http,
                Method::GET,
                format!("{api}/app/installations?per_page=100"),
                "list installations",
                "app",
            )
            .await?;
        let list: Vec<Installation> = resp.json()?;
        Ok(list
            .into_iter()
            .map(|i| (i.account.map(|a| a.login).unwrap_or_default(), i.id))
            .collect())
    }

    /// The installation token for the repository `owner/repo`: the cached one while it has
    /// more than five minutes left, else a new one.
    pub async fn token(
        &self,
        http: &HttpClient,
        api: &str,
        owner: &str,
        repo: Option<&str>,
    ) -> Result<Secret> {
        let owner_key = owner.to_ascii_lowercase();
        let flight_key = match self.app.installation {
            Some(id) => format!("#{id}"),
            None => owner_key.clone(),
        };
        let flight = self.flight(flight_key);
        let _one = flight.lock.lock().await;
        self.token_of(http, api, owner, &owner_key, repo).await
    }

    /// The flight of `key`, shared by the requests that need it at the same time.
    fn flight(&self, key: String) -> Flight<'_> {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        let lock = flights.entry(key.clone()).or_default().clone();
        Flight {
            tokens: self,
            key,
            lock,
        }
    }
}

/// A request's place in its owner's flight. When the last request of a flight ends (or is
/// dropped unfinished), the flight is forgotten, so owners named once leave nothing behind.
struct Flight<'a> {
    tokens: &'a AppTokens,
    key: String,
    lock: Arc<Mutex<()>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut flights = (self.tokens.flights.lock()).unwrap_or_else(|e| e.into_inner());
        // Held by the map and by this request alone: no other request is in the flight.
        let last = |f: &Arc<Mutex<()>>| Arc::ptr_eq(f, &self.lock) && Arc::strong_count(f) == 2;
        if flights.get(&self.key).is_some_and(last) {
            flights.remove(&self.key);
        }
    }
}

impl AppTokens {
    /// [`Self::token`], inside the owner's flight.
    async fn token_of(
        &self,
        http: &HttpClient,
        api: &str,
        owner: &str,
        owner_key: &str,
        repo: Option<&str>,
    ) -> Result<Secret> {
        let object = match repo {
            Some(r) => format!("{owner}/{r}"),
            None => owner.to_string(),
        };
        let known = match self.app.installation {
            Some(id) => Some(id),
            None => self
                .state
                .lock()
                .await
                .installations
                .get(owner_key)
                .copied(),
        };
        let id = match known {
            Some(id) => id,
            None => {
                let url = match repo {
                    Some(r) => format!("{api}/repos/{owner}/{r}/installation"),
                    None => format!("{api}/users/{owner}/installation"),
                };
                let resp = self
                    .as_app(http, Method::GET, url, "find installation", &object)
                    .await
                    .map_err(|e| match e {
                        Error::Provider { message, .. } if message.starts_with("HTTP 404") => self
                            .err(
                                http,
                                "find installation",
                                &object,
                                format!(
                                    "the GitHub App {} is not installed on {object}",
                                    self.app.app_id
                                ),
                            ),
                        other => other,
                    })?;
                let found: Installation = resp.json()?;
                let mut state = self.state.lock().await;
                state.installations.insert(owner_key.to_string(), found.id);
                found.id
            }
        };
        let now = Utc::now();
        if let Some(t) = self.state.lock().await.tokens.get(&id)
            && t.expires_at - now > REFRESH_MARGIN
        {
            return Ok(t.token.clone());
        }
        let resp = self
            .as_app(
                http,
                Method::POST,
                format!("{api}/app/installations/{id}/access_tokens"),
                "mint installation token",
                &format!("installation {id}"),
            )
            .await?;
        let minted: AccessToken = resp.json()?;
        // Not kept when no header can carry it: every request would fail until it expires.
        if minted.token.is_empty() || minted.token.chars().any(char::is_control) {
            return Err(Error::provider(
                http.provider(),
                "mint installation token",
                format!("installation {id}"),
                "the token answered is empty or holds a control character; it is not used",
            ));
        }
        let token = Secret::new(minted.token);
        self.state.lock().await.tokens.insert(
            id,
            InstallationToken {
                token: token.clone(),
                expires_at: minted.expires_at,
            },
        );
        Ok(token)
    }

    /// Forgets the token used for `owner` (GitHub refused it), so the next request mints one.
    pub async fn forget(&self, owner: &str) {
        let mut state = self.state.lock().await;
        let id = self.app.installation.or_else(|| {
            state
                .installations
                .get(&owner.to_ascii_lowercase())
                .copied()
        });
        if let Some(id) = id {
            state.tokens.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_rsa_pem_are_refused_unshown() {
        let not_pem = Secret::new("ghp_not-a-key-at-all");
        let e = GitHubApp::new("123", &not_pem).unwrap_err().to_string();
        assert!(e.contains("not an RSA private key in PEM"), "{e}");
        assert!(!e.contains("ghp_not-a-key"), "{e}");
        let garbage = Secret::new(
            "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
        );
        let e = GitHubApp::new("123", &garbage).unwrap_err().to_string();
        assert!(
            e.contains("cannot sign") && !e.contains("bm90IGEga2V5"),
            "{e}"
        );
        let e = GitHubApp::new("12 3", &garbage).unwrap_err().to_string();
        assert!(e.contains("'12 3'"), "{e}");
    }

    #[test]
    fn der_lengths_of_every_form_are_read() {
        assert_eq!(
            der_element(&[0x04, 0x02, 1, 2, 9]),
            Some((0x04, &[1u8, 2][..], &[9u8][..]))
        );
        let long = [&[0x04, 0x81, 0x80][..], &[7u8; 0x80]].concat();
        assert_eq!(der_element(&long).map(|(_, c, _)| c.len()), Some(0x80));
        assert_eq!(der_element(&[0x04, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_element(&[0x04, 0x05, 1]), None);
        assert_eq!(pkcs1_of_pkcs8(&[0x30, 0x00]), None);
    }
}
