//! OIDC ID tokens for writes: a pipeline of GitHub Actions or Azure Pipelines sends the ID
//! token its CI gives it, and needs no stored secret.
//!
//! A bearer token that is not a Spektate token (`spk_...`) is read as a JWT, in this order:
//!
//! 1. its header: the algorithm must be RS256 or ES256 (`none`, HMAC and the rest are
//!    refused);
//! 2. its unverified `iss`: unless a rule names that issuer the token is refused here, before
//!    anything is fetched, so an issuer of the sender's choosing never makes the server
//!    connect anywhere;
//! 3. the issuer's key with the token's `kid` (see [`keys`](self) for fetching and caching);
//! 4. the signature, `exp`, `nbf` and `iat` (with [`LEEWAY`] for clock skew), `iss`, and an
//!    `aud` of a rule of that issuer;
//! 5. the rules: a rule whose audience and claim conditions hold, and that lists the
//!    partition written. No rule for the claims, or none for the partition, is a 403.
//!
//! Tokens are never logged; a refusal names the issuer, the subject and why.

mod keys;
mod rules;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::time::Duration;

use axum::http::StatusCode;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

pub use keys::{DEFAULT_TTL, MAX_KEYS, MAX_STALE, MAX_TTL, MIN_TTL, REFETCH_AFTER};
pub(crate) use rules::glob;
pub use rules::{Condition, OidcRule, OidcRules};

use crate::Error;
use keys::{KeyError, Keys};

/// The clock skew allowed for `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(30);
/// The longest bearer token read as an ID token.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Checks ID tokens against rules, with the keys of the rules' issuers.
pub struct Oidc {
    rules: OidcRules,
    keys: Keys,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("rules", &self.rules.rules.len())
            .finish()
    }
}

/// A pipeline an ID token let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OidcWriter {
    /// As logs and metrics show it: `oidc <sub>`.
    pub(crate) name: String,
    /// Whose idempotency keys its requests use: the issuer and subject.
    pub(crate) owner: String,
}

/// Why a token was refused: the status (401, 403, or 503 while keys cannot be fetched) and
/// a sentence for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OidcRefusal {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

fn unauthorized(message: impl Into<String>) -> OidcRefusal {
    OidcRefusal {
        status: StatusCode::UNAUTHORIZED,
        message: message.into(),
    }
}

/// Text from a token, cut short for a message.
fn shown(text: &str) -> String {
    spektate_core::text::shown(text, 200)
}

/// Whether a bearer token has the shape of a JWT (three base64url parts).
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

impl Oidc {
    /// A checker of `rules`; their issuers' keys are fetched when a token first needs them.
    pub fn new(rules: OidcRules) -> Result<Oidc, Error> {
        let keys = Keys::new(&rules.issuers())?;
        Ok(Oidc { rules, keys })
    }

    /// How soon after a fetch of an issuer's keys a token with an unknown key id fetches
    /// them again (default [`REFETCH_AFTER`]).
    pub fn refetch_after(mut self, after: Duration) -> Self {
        self.keys.refetch_after = after;
        self
    }

    /// The rules.
    pub fn rules(&self) -> &OidcRules {
        &self.rules
    }

    /// The writer `token` is, if it may write `partition`.
    pub(crate) async fn check(
        &self,
        token: &str,
        partition: &str,
    ) -> Result<OidcWriter, OidcRefusal> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(unauthorized(format!(
                "the ID token is longer than {MAX_TOKEN_LEN} bytes"
            )));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            unauthorized(
                "the bearer token is neither a Spektate token nor an ID token signed with RS256 or ES256",
            )
        })?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(unauthorized(format!(
                "the ID token is signed with {:?}; this server accepts RS256 and ES256",
                header.alg
            )));
        }
        // Read before the signature is checked, only to choose the issuer: nothing else in
        // it is believed until then.
        let unverified = jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
            .map_err(|_| unauthorized("the ID token's claims are not a JSON object"))?;
        let Some(issuer) = unverified.claims.get("iss").and_then(Value::as_str) else {
            return Err(unauthorized("the ID token has no issuer (iss)"));
        };
        if !self.keys.knows(issuer) {
            tracing::info!(issuer = %shown(issuer), "an ID token of an issuer no rule names was refused");
            return Err(unauthorized(format!(
                "the ID token's issuer {} is not one this server trusts",
                shown(issuer)
            )));
        }
        let key = match self
            .keys
            .key(issuer, header.kid.as_deref(), header.alg)
            .await
        {
            Ok(k) => k,
            Err(KeyError::Unknown) => {
                return Err(unauthorized(format!(
                    "the ID token is signed with a key {issuer} does not publish"
                )));
            }
            Err(KeyError::Unavailable(why)) => {
                return Err(OidcRefusal {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: format!(
                        "the keys of {issuer} cannot be fetched just now ({}); send the request again",
                        shown(&why)
                    ),
                });
            }
        };
        let audiences: Vec<&str> = self
            .rules
            .rules
            .iter()
            .filter(|r| r.issuer == issuer)
            .map(|r| r.audience.as_str())
            .collect();
        let mut validation = Validation::new(key.alg);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let verified = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| {
                unauthorized(match e.kind() {
                    ErrorKind::ExpiredSignature => "the ID token has expired".to_string(),
                    ErrorKind::ImmatureSignature => "the ID token is not valid yet (nbf)".into(),
                    ErrorKind::InvalidAudience => format!(
                        "the ID token is made for another audience than this server's rules for {issuer} accept"
                    ),
                    ErrorKind::InvalidSignature => "the ID token's signature does not verify".into(),
                    ErrorKind::MissingRequiredClaim(c) => format!("the ID token has no {c} claim"),
                    ErrorKind::InvalidAlgorithm => {
                        "the ID token's algorithm does not fit its key".into()
                    }
                    _ => "the ID token cannot be verified".into(),
                })
            })?;
        let claims = verified.claims;
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(iat) = claims.get("iat") {
            let Some(iat) = iat.as_f64() else {
                return Err(unauthorized("the ID token's iat is not a time"));
            };
            if iat > (now + LEEWAY.as_secs()) as f64 {
                return Err(unauthorized("the ID token is issued in the future (iat)"));
            }
        }
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        let matching: Vec<&OidcRule> = self
            .rules
            .rules
            .iter()
            .filter(|r| r.matches(&claims))
            .collect();
        if matching.is_empty() {
            tracing::info!(issuer, subject = %shown(subject), "an ID token matched no OIDC rule");
            return Err(OidcRefusal {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "the ID token of {} matches no OIDC rule of this server",
                    shown(subject)
                ),
            });
        }
        if !matching
            .iter()
            .any(|r| r.partitions.iter().any(|p| p == partition))
        {
            return Err(OidcRefusal {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "the ID token of {} may not write partition {}",
                    shown(subject),
                    spektate_core::text::shown(partition, 100)
                ),
            });
        }
        Ok(OidcWriter {
            name: format!("oidc {}", shown(subject)),
            owner: format!("oidc {issuer} {subject}"),
        })
    }
}
