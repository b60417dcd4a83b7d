//! A local OpenID Connect issuer for tests: RSA and P-256 keys made in the test, the
//! discovery document and JWKS served on 127.0.0.1, and ID tokens signed with them, shaped
//! as GitHub Actions and Azure Pipelines shape theirs. Nothing here is for production.
//!
//! ```no_run
//! # async fn run() {
//! use spektate_dashboard::oidc::testkit::Issuer;
//! let issuer = Issuer::start().await;
//! let claims = issuer.github_claims("fabrikam/frontend", "https://spektate.example.com");
//! let token = issuer.sign(&claims);
//! # }
//! ```

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// The path the JWKS is served at.
pub const JWKS_PATH: &str = "/.well-known/jwks";
/// The `Cache-Control` of the JWKS answer.
pub const JWKS_CACHE_CONTROL: &str = "public, max-age=300";

/// base64url without padding, as JWTs and JWKs write bytes.
pub fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A token with `header` and `claims` and no signature (`alg: none` when the header says so).
pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct KeyEntry {
    kid: String,
    signer: Signer,
    published: bool,
}

/// A running issuer: its URL is the `iss` of the tokens it signs.
pub struct Issuer {
    server: MockServer,
    keys: Mutex<Vec<KeyEntry>>,
    /// The JWKS answered now.
    served: Arc<Mutex<Value>>,
}

/// Answers with the JWKS published last.
struct Served(Arc<Mutex<Value>>);

impl Respond for Served {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let jwks = self.0.lock().unwrap().clone();
        ResponseTemplate::new(200)
            .insert_header("cache-control", JWKS_CACHE_CONTROL)
            .set_body_json(jwks)
    }
}

impl Issuer {
    /// Starts an issuer with an RSA key `rsa-1` and a P-256 key `ec-1`, both published.
    pub async fn start() -> Issuer {
        let issuer = Issuer {
            server: MockServer::start().await,
            keys: Mutex::new(vec![
                KeyEntry {
                    kid: "rsa-1".into(),
                    signer: Signer::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key")),
                    published: true,
                },
                KeyEntry {
                    kid: "ec-1".into(),
                    signer: Signer::Ec(
                        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key"),
                    ),
                    published: true,
                },
            ]),
            served: Arc::default(),
        };
        issuer.publish();
        issuer.mount().await;
        issuer
    }

    /// The issuer's URL (`http://127.0.0.1:PORT`), the `iss` of its tokens.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The server behind it, to mount more (a CI's token endpoint) or read its requests.
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Makes a new RSA key `kid`; published now or only later with [`Issuer::publish_all`].
    pub fn add_rsa_key(&self, kid: &str, published: bool) {
        self.keys.lock().unwrap().push(KeyEntry {
            kid: kid.into(),
            signer: Signer::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key")),
            published,
        });
        self.publish();
    }

    /// Publishes every key made so far.
    pub fn publish_all(&self) {
        for k in self.keys.lock().unwrap().iter_mut() {
            k.published = true;
        }
        self.publish();
    }

    /// The JWKS as served.
    pub fn jwks(&self) -> Value {
        let keys = self.keys.lock().unwrap();
        let list: Vec<Value> = keys
            .iter()
            .filter(|k| k.published)
            .map(|k| match &k.signer {
                Signer::Rsa(pair) => {
                    let c = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
                           "n": b64url(&c.n), "e": b64url(&c.e)})
                }
                Signer::Ec(pair) => {
                    let point = pair.public_key().as_ref();
                    json!({"kty": "EC", "use": "sig", "alg": "ES256", "kid": k.kid, "crv": "P-256",
                           "x": b64url(&point[1..33]), "y": b64url(&point[33..65])})
                }
            })
            .collect();
        json!({ "keys": list })
    }

    fn publish(&self) {
        *self.served.lock().unwrap() = self.jwks();
    }

    async fn mount(&self) {
        let discovery = json!({
            "issuer": self.url(),
            "jwks_uri": format!("{}{JWKS_PATH}", self.url()),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"]
        });
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(discovery))
            .named("discovery")
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path(JWKS_PATH))
            .respond_with(Served(self.served.clone()))
            .named("jwks")
            .mount(&self.server)
            .await;
    }

    /// How many times the JWKS was fetched.
    pub async fn jwks_fetches(&self) -> usize {
        self.requests_to(JWKS_PATH).await
    }

    /// How many requests `path` got.
    pub async fn requests_to(&self, wanted: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == wanted)
            .count()
    }

    /// Claims as GitHub Actions writes them for a push to `main` of `repository`, for
    /// `audience`, valid for five minutes from now.
    pub fn github_claims(&self, repository: &str, audience: &str) -> Value {
        let owner = repository.split('/').next().unwrap_or_default();
        let now = now();
        json!({
            "iss": self.url(), "aud": audience,
            "sub": format!("repo:{repository}:ref:refs/heads/main"),
            "repository": repository, "repository_owner": owner,
            "repository_id": "74", "repository_owner_id": "65",
            "ref": "refs/heads/main", "ref_type": "branch", "event_name": "push",
            "workflow_ref": format!("{repository}/.github/workflows/build.yml@refs/heads/main"),
            "run_id": "1042", "run_attempt": "1", "actor": "mona",
            "jti": format!("{:x}", now), "iat": now, "nbf": now - 5, "exp": now + 300
        })
    }

    /// Claims as Azure Pipelines writes them for a pipeline of `organization/project`
    /// (subject `p://organization/project/pipeline`).
    pub fn azure_claims(&self, organization: &str, project: &str, pipeline: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url(), "aud": "api://AzureADTokenExchange",
            "sub": format!("p://{organization}/{project}/{pipeline}"),
            "org_id": "00000000-0000-4000-8000-000000000001",
            "prj_id": "00000000-0000-4000-8000-000000000002",
            "def_id": "7", "run_id": "1042",
            "rpo_uri": format!("https://dev.azure.com/{organization}/{project}/_git/{pipeline}"),
            "rpo_ref": "refs/heads/main",
            "jti": format!("{:x}", now), "iat": now, "nbf": now - 5, "exp": now + 600
        })
    }

    /// `claims` signed with RS256 by `rsa-1`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with("rsa-1", claims)
    }

    /// `claims` signed by the key `kid` (RS256 or ES256 by its kind).
    pub fn sign_with(&self, kid: &str, claims: &Value) -> String {
        let keys = self.keys.lock().unwrap();
        let entry = keys
            .iter()
            .find(|k| k.kid == kid)
            .unwrap_or_else(|| panic!("no key {kid}"));
        let alg = match entry.signer {
            Signer::Rsa(_) => "RS256",
            Signer::Ec(_) => "ES256",
        };
        let header = json!({"typ": "JWT", "alg": alg, "kid": kid});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = match &entry.signer {
            Signer::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .expect("RSA signature");
                sig
            }
            Signer::Ec(pair) => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .expect("EC signature")
                .as_ref()
                .to_vec(),
        };
        format!("{input}.{}", b64url(&signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_has_no_padding() {
        assert_eq!(b64url(b""), "");
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }
}
