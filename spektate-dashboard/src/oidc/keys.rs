//! The signing keys of the configured issuers: their discovery document
//! (`/.well-known/openid-configuration`) gives `jwks_uri`, which gives the keys. Only issuers
//! of a rule have an entry, so a token naming any other issuer makes the server fetch
//! nothing.
//!
//! Keys are kept for the `max-age` of the JWKS answer's `Cache-Control` (kept between
//! [`MIN_TTL`] and [`MAX_TTL`]; [`DEFAULT_TTL`] without one). A token signed with a key id
//! the server does not know makes it fetch again, at most once every [`REFETCH_AFTER`] per
//! issuer, so tokens with made-up key ids cannot make it fetch on every request. One fetch
//! per issuer runs at a time; requests that need it wait for it. When a fetch fails, keys
//! fetched before are used for up to [`MAX_STALE`] past their time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use spektate_core::http::{Auth, HttpClient, Policy, Request};

use crate::Error;

/// How long keys are kept when the JWKS answer says nothing.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The shortest time keys are kept, whatever the answer says.
pub const MIN_TTL: Duration = Duration::from_secs(60);
/// The longest time keys are kept, whatever the answer says.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// How soon after a fetch an unknown key id (or a failed fetch) fetches again.
pub const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// How long past their time keys still serve while their issuer cannot be reached.
pub const MAX_STALE: Duration = Duration::from_secs(24 * 3600);
/// The most keys kept of one issuer; further keys of a JWKS are ignored.
pub const MAX_KEYS: usize = 32;
/// The largest discovery document or JWKS read.
const MAX_BODY: usize = 256 * 1024;

/// A key of an issuer, ready to verify.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

/// Why no key could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The issuer's keys could not be fetched (and none are kept).
    Unavailable(String),
    /// The issuer has no key with this id for this algorithm.
    Unknown,
}

#[derive(Default)]
struct State {
    keys: Vec<Key>,
    /// When the keys were fetched, and until when they are fresh.
    fetched: Option<(Instant, Instant)>,
    /// When a fetch was last tried (worked or not).
    tried: Option<Instant>,
    failure: Option<String>,
}

struct Issuer {
    issuer: String,
    state: RwLock<State>,
    fetching: tokio::sync::Mutex<()>,
}

/// The keys of the configured issuers.
pub(crate) struct Keys {
    http: HttpClient,
    issuers: HashMap<String, Arc<Issuer>>,
    /// How soon after a fetch an unknown key id fetches again ([`REFETCH_AFTER`]).
    pub(crate) refetch_after: Duration,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Keys {
    /// Keys of `issuers`, fetched when first needed.
    pub(crate) fn new(issuers: &[String]) -> Result<Keys, Error> {
        let policy = Policy {
            timeout: Duration::from_secs(10),
            max_retries: 1,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            concurrency: 8,
            max_body_bytes: MAX_BODY,
        };
        let http = HttpClient::with_policy("OIDC issuer", Auth::None, policy)
            .map_err(|e| Error::invalid("OIDC", e))?;
        Ok(Keys {
            http,
            refetch_after: REFETCH_AFTER,
            issuers: issuers
                .iter()
                .map(|i| {
                    (
                        i.clone(),
                        Arc::new(Issuer {
                            issuer: i.clone(),
                            state: RwLock::default(),
                            fetching: tokio::sync::Mutex::new(()),
                        }),
                    )
                })
                .collect(),
        })
    }

    /// Whether `issuer` is one of the configured issuers.
    pub(crate) fn knows(&self, issuer: &str) -> bool {
        self.issuers.contains_key(issuer)
    }

    /// The key of `issuer` with `kid` for `alg`, fetched when not known (see the module).
    pub(crate) async fn key(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Key, KeyError> {
        let Some(entry) = self.issuers.get(issuer) else {
            return Err(KeyError::Unknown);
        };
        let now = Instant::now();
        {
            let state = entry.state.read().unwrap_or_else(|p| p.into_inner());
            if state.fetched.is_some_and(|(_, fresh)| now < fresh)
                && let Some(k) = find(&state.keys, kid, alg)
            {
                return Ok(k);
            }
        }
        let _one_fetch = entry.fetching.lock().await;
        let now = Instant::now();
        let due = {
            let state = entry.state.read().unwrap_or_else(|p| p.into_inner());
            let fresh = state.fetched.is_some_and(|(_, fresh)| now < fresh);
            if fresh && let Some(k) = find(&state.keys, kid, alg) {
                return Ok(k);
            }
            state
                .tried
                .is_none_or(|t| now.duration_since(t) >= self.refetch_after)
        };
        if due {
            let fetched = self.fetch(&entry.issuer).await;
            let mut state = entry.state.write().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            state.tried = Some(now);
            match fetched {
                Ok((keys, ttl)) => {
                    tracing::info!(issuer = %entry.issuer, keys = keys.len(), ttl_s = ttl.as_secs(), "OIDC keys fetched");
                    state.keys = keys;
                    state.fetched = Some((now, now + ttl));
                    state.failure = None;
                }
                Err(why) => {
                    tracing::warn!(issuer = %entry.issuer, "OIDC keys cannot be fetched: {why}");
                    state.failure = Some(why);
                }
            }
        }
        let state = entry.state.read().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let usable = state
            .fetched
            .is_some_and(|(_, fresh)| now < fresh + MAX_STALE);
        match (usable, &state.failure) {
            (true, _) => find(&state.keys, kid, alg).ok_or(KeyError::Unknown),
            (false, Some(why)) => Err(KeyError::Unavailable(why.clone())),
            (false, None) => Err(KeyError::Unavailable(
                "no keys were fetched yet".to_string(),
            )),
        }
    }

    /// Fetches the discovery document, then the keys; says how long to keep them.
    async fn fetch(&self, issuer: &str) -> Result<(Vec<Key>, Duration), String> {
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self
            .http
            .send(Request::get(
                &discovery_url,
                "read discovery document",
                issuer,
            ))
            .await
            .and_then(|r| r.json())
            .map_err(|e| e.to_string())?;
        if discovery.issuer != issuer {
            return Err(format!(
                "its discovery document names another issuer ({})",
                shown(&discovery.issuer)
            ));
        }
        let jwks_uri = discovery.jwks_uri.trim();
        let plain_ok = issuer.to_ascii_lowercase().starts_with("http://");
        let lower = jwks_uri.to_ascii_lowercase();
        if !(lower.starts_with("https://") || plain_ok && lower.starts_with("http://")) {
            return Err(format!(
                "its jwks_uri '{}' is not an https:// URL",
                shown(jwks_uri)
            ));
        }
        let response = self
            .http
            .send(Request::get(jwks_uri, "read JWKS", issuer))
            .await
            .map_err(|e| e.to_string())?;
        let ttl = response
            .header("cache-control")
            .map_or(DEFAULT_TTL, max_age)
            .clamp(MIN_TTL, MAX_TTL);
        let set: KeySet = serde_json::from_slice(&response.body)
            .map_err(|e| format!("its JWKS is not a JSON key set: {e}"))?;
        // Keys of kinds this server does not verify with are passed over, not an error.
        let keys: Vec<Key> = set
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .filter_map(|k| usable(&k))
            .take(MAX_KEYS)
            .collect();
        if keys.is_empty() {
            return Err("its JWKS has no RS256 or ES256 signing key".to_string());
        }
        Ok((keys, ttl))
    }
}

/// A value of an issuer's answer as an error shows it: one line, at most 200 characters.
fn shown(value: &str) -> String {
    spektate_core::text::shown(value, 200)
}

/// The `max-age` of a `Cache-Control` value (`no-cache` and `no-store` keep nothing, so
/// [`MIN_TTL`] after clamping); [`DEFAULT_TTL`] without one.
pub(crate) fn max_age(value: &str) -> Duration {
    let mut age = None;
    for directive in value.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if d == "no-cache" || d == "no-store" {
            return Duration::ZERO;
        }
        if let Some(n) = d.strip_prefix("max-age=") {
            age = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age.unwrap_or(DEFAULT_TTL)
}

/// A JWK as a verifying key: RSA for RS256, P-256 for ES256, meant for signatures.
fn usable(jwk: &Jwk) -> Option<Key> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    let declared = jwk.common.key_algorithm;
    let fits = match declared {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    if !fits {
        return None;
    }
    Some(Key {
        kid: jwk.common.key_id.clone(),
        alg,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

/// The key for `alg` with `kid`; without a key id, the only key for `alg`.
fn find(keys: &[Key], kid: Option<&str>, alg: Algorithm) -> Option<Key> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.alg == alg && k.kid.as_deref() == Some(kid))
            .cloned(),
        None => {
            let mut of_alg = keys.iter().filter(|k| k.alg == alg);
            match (of_alg.next(), of_alg.next()) {
                (Some(k), None) => Some(k.clone()),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=600"), Duration::from_secs(600));
        assert_eq!(
            max_age("max-age=\"90\", must-revalidate"),
            Duration::from_secs(90)
        );
        assert_eq!(max_age("no-store"), Duration::ZERO);
        assert_eq!(max_age("public"), DEFAULT_TTL);
        assert_eq!(max_age("max-age=x"), DEFAULT_TTL);
    }

    #[tokio::test]
    async fn a_jwks_uri_that_is_not_https_is_named_cut() {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let long = format!("ftp://keys.example/{}", "k".repeat(60_000));
        for (jwks_uri, shown) in [
            ("ftp://keys.example/jwks", "'ftp://keys.example/jwks'"),
            (long.as_str(), "'ftp://keys.example/kkk"),
        ] {
            let issuer = MockServer::start().await;
            // An issuer whose discovery document puts its keys at an ftp:// address.
            Mock::given(method("GET"))
                .and(path("/.well-known/openid-configuration"))
                .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "issuer": issuer.uri(), "jwks_uri": jwks_uri
                })))
                .mount(&issuer)
                .await;
            let keys = Keys::new(&[issuer.uri()]).unwrap();
            let Err(KeyError::Unavailable(why)) =
                keys.key(&issuer.uri(), None, Algorithm::RS256).await
            else {
                panic!("keys from {jwks_uri:.40}");
            };
            assert!(
                why.contains(&format!("its jwks_uri {shown}")) && why.contains("https://"),
                "{why:.300}"
            );
            assert!(why.len() < 400, "{} bytes", why.len());
        }
    }
}
