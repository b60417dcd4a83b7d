//! GitHub through a GitHub App, against the fake GitHub (Enterprise paths, `/api/v3`) with
//! the app endpoints answering as GitHub documents them: a JWT signed with the app's key
//! finds each owner's installation and mints its installation token; every data request
//! carries the token of its owner's installation; tokens are kept until five minutes
//! before they expire; keys, JWTs and tokens never show.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use spektate_core::http::Secret;
use spektate_core::{Pipelines, RepoRef, Repositories};
use spektate_github::GitHubApp;
use support::{FakeGitHub, commit, pull, sha_of};
use wiremock::matchers::{header, method, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const APP_ID: u64 = 12345;

fn repo(full: &str) -> RepoRef {
    RepoRef::parse(&format!("https://github.com/{full}")).unwrap()
}

/// A fresh RSA key: the PKCS#1 PEM GitHub hands out, the PKCS#8 PEM `openssl pkey` writes,
/// and the public key (PKCS#1 DER) GitHub checks JWTs with.
struct TestKey {
    pkcs1_pem: String,
    pkcs8_pem: String,
    public_der: Vec<u8>,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The RSAPrivateKey of a PKCS#8 PrivateKeyInfo, read the long way (the test's own DER walk).
fn inner_key(pkcs8: &[u8]) -> Vec<u8> {
    fn element(d: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = d[0];
        let (len, at) = if d[1] < 0x80 {
            (d[1] as usize, 2)
        } else {
            let n = (d[1] & 0x7f) as usize;
            (
                d[2..2 + n].iter().fold(0, |a, &b| (a << 8) | b as usize),
                2 + n,
            )
        };
        (tag, &d[at..at + len], &d[at + len..])
    }
    let (_, info, _) = element(pkcs8);
    let (_, _, rest) = element(info); // version
    let (_, _, rest) = element(rest); // algorithm
    let (tag, key, _) = element(rest);
    assert_eq!(tag, 0x04);
    key.to_vec()
}

fn test_key() -> TestKey {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = pair.as_der().unwrap();
    let pkcs8 = pkcs8.as_ref();
    TestKey {
        pkcs1_pem: pem("RSA PRIVATE KEY", &inner_key(pkcs8)),
        pkcs8_pem: pem("PRIVATE KEY", pkcs8),
        public_der: pair.public_key().as_ref().to_vec(),
    }
}

/// The app side of the fake: `/app`, `/app/installations`,
/// `/repos/{owner}/{repo}/installation` and `POST /app/installations/{id}/access_tokens`,
/// each refusing a JWT that the app's key did not sign, or that lives too long.
struct AppEndpoints {
    public_der: Vec<u8>,
    /// Installations by owner.
    installations: Vec<(&'static str, u64)>,
    /// Tokens minted, in order, as (installation, token).
    minted: Arc<Mutex<Vec<(u64, String)>>>,
    /// How long each minted token lives, in minutes, in order; the last one repeats.
    lifetimes: Vec<i64>,
    /// The claims of every JWT received.
    claims: Arc<Mutex<Vec<Value>>>,
    mints: AtomicUsize,
    /// An owner whose installation lookup answers only after this long.
    slow: Option<(&'static str, std::time::Duration)>,
    /// Whether the first token minted ends with a line break, as a broken proxy could
    /// answer.
    broken_first: bool,
}

fn github_error(status: u16, message: &str) -> (u16, Value) {
    (
        status,
        json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.to_string()
        }),
    )
}

/// An organization account as GitHub's `simple-user` shows it.
fn organization(login: &str, id: u64) -> Value {
    let mut account = support::user(login, id);
    account["type"] = json!("Organization");
    account
}

fn installation(owner: &str, id: u64) -> Value {
    json!({
        "id": id,
        "client_id": "Iv23liSpektateCI",
        "account": organization(owner, id * 10),
        "repository_selection": "all",
        "access_tokens_url": format!("https://api.github.com/app/installations/{id}/access_tokens"),
        "repositories_url": "https://api.github.com/installation/repositories",
        "html_url": format!("https://github.com/organizations/{owner}/settings/installations/{id}"),
        "app_id": APP_ID, "app_slug": "spektate-ci", "target_id": id * 10, "target_type": "Organization",
        "permissions": {"actions": "read", "contents": "read", "metadata": "read", "pull_requests": "read"},
        "events": [], "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-05T10:00:00Z",
        "single_file_name": null, "suspended_at": null, "suspended_by": null
    })
}

impl AppEndpoints {
    /// The status and JSON body of the answer to `req`.
    fn answer(&self, req: &Request) -> (u16, Value) {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some(jwt) = auth.strip_prefix("Bearer ") else {
            return github_error(401, "Bad credentials");
        };
        let mut validation = Validation::new(Algorithm::RS256);
        // `iss` is the app id as a number, which the library's own `iss` check does not
        // read: it is checked below.
        validation.set_required_spec_claims(&["exp"]);
        let key = DecodingKey::from_rsa_der(&self.public_der);
        let claims = match jsonwebtoken::decode::<Value>(jwt, &key, &validation) {
            Ok(data) => data.claims,
            Err(_) => {
                return github_error(401, "A JSON web token could not be decoded");
            }
        };
        self.claims.lock().unwrap().push(claims.clone());
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        if claims["iss"] != json!(APP_ID) || exp - iat > 600 {
            return github_error(
                401,
                "'Expiration time' claim ('exp') is too far in the future",
            );
        }
        let p = req
            .url
            .path()
            .strip_prefix("/api/v3")
            .unwrap_or(req.url.path());
        let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        match (req.method.as_str(), parts.as_slice()) {
            ("GET", ["app"]) => (
                200,
                json!({
                    "id": APP_ID, "slug": "spektate-ci", "client_id": "Iv23liSpektateCI",
                    "node_id": "A_kwHOAAAAAA", "name": "Spektate CI",
                    "owner": organization("fabrikam", 420),
                    "description": "Reads runs and pull requests", "external_url": "https://spektate.fabrikam.example",
                    "html_url": "https://github.com/apps/spektate-ci", "created_at": "2026-01-05T10:00:00Z",
                    "updated_at": "2026-01-05T10:00:00Z", "permissions": {"actions": "read"}, "events": [],
                    "installations_count": self.installations.len()
                }),
            ),
            ("GET", ["app", "installations"]) => (
                200,
                Value::Array(
                    self.installations
                        .iter()
                        .map(|(o, id)| installation(o, *id))
                        .collect(),
                ),
            ),
            ("GET", ["repos", owner, _, "installation"]) => {
                match self.installations.iter().find(|(o, _)| o == owner) {
                    Some((o, id)) => (200, installation(o, *id)),
                    None => github_error(404, "Not Found"),
                }
            }
            ("POST", ["app", "installations", id, "access_tokens"]) => {
                let id: u64 = id.parse().unwrap();
                if !self.installations.iter().any(|(_, i)| *i == id) {
                    return github_error(404, "Not Found");
                }
                let n = self.mints.fetch_add(1, Ordering::SeqCst);
                let minutes = self.lifetimes[n.min(self.lifetimes.len() - 1)];
                let mut token = format!("ghs_{id}x{n}TokenForInstallation");
                if self.broken_first && n == 0 {
                    token.push('\n');
                }
                self.minted.lock().unwrap().push((id, token.clone()));
                (
                    201,
                    json!({
                        "token": token,
                        "expires_at": (Utc::now() + Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                        "permissions": {"actions": "read", "contents": "read", "metadata": "read", "pull_requests": "read"},
                        "repository_selection": "all"
                    }),
                )
            }
            _ => github_error(404, "Not Found"),
        }
    }
}

impl Respond for AppEndpoints {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let (status, body) = self.answer(req);
        let path = req.url.path();
        let delay = self
            .slow
            .filter(|(owner, _)| {
                path.ends_with("/installation") && path.contains(&format!("/{owner}/"))
            })
            .map(|(_, d)| d)
            .unwrap_or_default();
        spektate_core::testkit::specs_log::served(
            support::SPECS_LOG,
            req.method.as_str(),
            path.strip_prefix("/api/v3").unwrap_or(path),
            status,
            None,
            &body,
        );
        ResponseTemplate::new(status)
            .set_body_json(body)
            .set_delay(delay)
    }
}

struct Fake {
    gh: FakeGitHub,
    minted: Arc<Mutex<Vec<(u64, String)>>>,
    claims: Arc<Mutex<Vec<Value>>>,
}

async fn fake(key: &TestKey, installations: Vec<(&'static str, u64)>, lifetimes: Vec<i64>) -> Fake {
    fake_with(key, installations, lifetimes, None, false).await
}

/// [`fake`], with one owner's installation lookup answering late, or the first token
/// minted broken.
async fn fake_with(
    key: &TestKey,
    installations: Vec<(&'static str, u64)>,
    lifetimes: Vec<i64>,
    slow: Option<(&'static str, std::time::Duration)>,
    broken_first: bool,
) -> Fake {
    let gh = FakeGitHub::start().await;
    let minted = Arc::new(Mutex::new(Vec::new()));
    let claims = Arc::new(Mutex::new(Vec::new()));
    let endpoints = Arc::new(AppEndpoints {
        public_der: key.public_der.clone(),
        installations,
        minted: minted.clone(),
        lifetimes,
        claims: claims.clone(),
        mints: AtomicUsize::new(0),
        slow,
        broken_first,
    });
    for (verb, route) in [
        ("GET", r"^/api/v3/app$"),
        ("GET", r"^/api/v3/app/installations$"),
        ("GET", r"^/api/v3/repos/[^/]+/[^/]+/installation$"),
        ("POST", r"^/api/v3/app/installations/[0-9]+/access_tokens$"),
    ] {
        let endpoints = endpoints.clone();
        Mock::given(method(verb))
            .and(path_regex(route))
            .respond_with(move |req: &Request| endpoints.respond(req))
            .with_priority(1)
            .mount(&gh.server)
            .await;
    }
    Fake { gh, minted, claims }
}

/// The fake's repositories, read as the app's installation 42.
fn as_installation_42(fake: &Fake, key: &TestKey) -> spektate_github::GitHubRepos {
    let app = GitHubApp::new(&APP_ID.to_string(), &Secret::new(key.pkcs8_pem.clone()))
        .unwrap()
        .installation(42);
    fake.gh.builder().app(app).build().unwrap().repos()
}

/// Every request the fake received that is not one of the app's own: its path (or, for
/// GraphQL, the owner it asked about) and the bearer token it carried.
async fn data_requests(gh: &FakeGitHub) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for req in gh.server.received_requests().await.unwrap() {
        let p = req.url.path().to_string();
        if p.starts_with("/api/v3/app") || p.ends_with("/installation") {
            continue;
        }
        let what = if p.ends_with("/graphql") {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            format!(
                "graphql {}",
                body["variables"]["owner"].as_str().unwrap_or("-")
            )
        } else {
            p
        };
        let auth = req
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        out.push((what, auth));
    }
    out
}

fn world(gh: &FakeGitHub) -> (String, String) {
    let t = Utc::now();
    let sha = sha_of("c1");
    let mut w = gh.world();
    for r in ["fabrikam/frontend", "contoso/hld"] {
        w.repos.insert(r.into());
    }
    for i in 0..2 {
        let s = sha_of(&format!("c{i}"));
        w.commits.insert(
            ("fabrikam/frontend".into(), s.clone()),
            commit(
                "fabrikam/frontend",
                &s,
                "Mona Lisa",
                "mona@fabrikam.example",
                Some(("mona", 42)),
                t,
            ),
        );
    }
    w.pulls.insert(
        ("contoso/hld".into(), 7),
        pull(
            "contoso/hld",
            7,
            "Update frontend",
            "frontend-1042",
            Some("octocat"),
            t,
        ),
    );
    (sha, sha_of("c0"))
}

#[tokio::test]
async fn each_owner_is_read_with_its_own_installation_token() {
    let key = test_key();
    let fake = fake(&key, vec![("fabrikam", 42), ("contoso", 43)], vec![60]).await;
    let (c1, c0) = world(&fake.gh);
    let app = GitHubApp::new(&APP_ID.to_string(), &Secret::new(key.pkcs1_pem.clone())).unwrap();
    let gh = fake.gh.builder().app(app).build().unwrap();
    let repos = gh.repos();
    for _ in 0..2 {
        let authors = repos
            .authors(&repo("fabrikam/frontend"), &[c0.clone(), c1.clone()])
            .await
            .unwrap();
        assert_eq!(authors.len(), 2);
        let pulls = repos
            .pull_requests(&repo("contoso/hld"), &["7".to_string()])
            .await
            .unwrap();
        assert_eq!(pulls["7"].merged_by.as_ref().unwrap().name, "octocat");
        // One commit goes through REST, under the owner's token too.
        repos
            .authors(&repo("fabrikam/frontend"), std::slice::from_ref(&c1))
            .await
            .unwrap();
    }
    let minted = fake.minted.lock().unwrap().clone();
    assert_eq!(
        minted.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [42, 43],
        "one token per installation, kept for the second round"
    );
    let token_of = |id: u64| {
        format!(
            "Bearer {}",
            minted.iter().find(|(i, _)| *i == id).unwrap().1
        )
    };
    let data = data_requests(&fake.gh).await;
    assert!(data.len() >= 6, "{data:?}");
    for (what, auth) in &data {
        let owner_token = if what.contains("fabrikam") {
            token_of(42)
        } else {
            assert!(what.contains("contoso"), "{what}");
            token_of(43)
        };
        assert_eq!(auth, &owner_token, "{what}");
    }
    // Each installation was looked up once, by a repository of its owner.
    let lookups: Vec<String> = fake
        .gh
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .filter(|p| p.ends_with("/installation"))
        .collect();
    assert_eq!(
        lookups,
        [
            "/api/v3/repos/fabrikam/frontend/installation",
            "/api/v3/repos/contoso/hld/installation"
        ]
    );
    // The JWTs: the app id as issuer, issued a minute back and valid nine minutes (GitHub
    // takes at most ten from `iat`).
    let now = Utc::now().timestamp();
    for claims in fake.claims.lock().unwrap().iter() {
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert_eq!(claims["iss"], json!(APP_ID));
        assert_eq!(exp - iat, 600, "{claims}");
        assert!((now - 70..=now - 55).contains(&iat), "{claims}");
    }
    let shown = format!("{gh:?}");
    assert!(
        !shown.contains("ghs_") && !shown.contains("PRIVATE KEY"),
        "{shown}"
    );
}

/// The requests the fake received whose path ends with `ending`.
async fn lookups(fake: &Fake, ending: &str) -> usize {
    let received = fake.gh.server.received_requests().await.unwrap();
    received
        .iter()
        .filter(|r| r.url.path().ends_with(ending))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_installation_lookup_holds_up_only_its_own_owner() {
    let key = test_key();
    let slow = std::time::Duration::from_secs(6);
    let fake = fake_with(
        &key,
        vec![("fabrikam", 42), ("contoso", 43)],
        vec![60],
        Some(("fabrikam", slow)),
        false,
    )
    .await;
    let (c1, c0) = world(&fake.gh);
    let app = GitHubApp::new(&APP_ID.to_string(), &Secret::new(key.pkcs1_pem.clone())).unwrap();
    let gh = fake.gh.builder().app(app).build().unwrap();
    let repos = gh.repos();
    let (frontend, commits) = (repo("fabrikam/frontend"), [c0, c1]);
    let fabrikam = || repos.authors(&frontend, &commits);
    let contoso = async {
        // Asked once fabrikam's lookup is under way.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let start = std::time::Instant::now();
        let pulls = repos
            .pull_requests(&repo("contoso/hld"), &["7".to_string()])
            .await
            .unwrap();
        (pulls.len(), start.elapsed())
    };
    let (a, b, (pulls, took)) = tokio::join!(fabrikam(), fabrikam(), contoso);
    assert_eq!((a.unwrap().len(), b.unwrap().len(), pulls), (2, 2, 1));
    assert!(
        took < std::time::Duration::from_secs(4),
        "contoso waited {took:?} for fabrikam's installation"
    );
    // Fabrikam's two requests shared one lookup and one token.
    let minted: Vec<u64> = fake
        .minted
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(minted, [43, 42]);
    assert_eq!(lookups(&fake, "/fabrikam/frontend/installation").await, 1);
}

#[tokio::test]
async fn an_installation_token_is_minted_again_five_minutes_before_it_expires() {
    let key = test_key();
    // The first token has four minutes left when it arrives: too little to keep.
    let fake = fake(&key, vec![("fabrikam", 42)], vec![4, 60]).await;
    let (c1, _) = world(&fake.gh);
    let repos = as_installation_42(&fake, &key);
    for _ in 0..3 {
        repos
            .authors(&repo("fabrikam/frontend"), std::slice::from_ref(&c1))
            .await
            .unwrap();
    }
    let minted = fake.minted.lock().unwrap().clone();
    assert_eq!(minted.len(), 2, "{minted:?}");
    let used: Vec<String> = data_requests(&fake.gh)
        .await
        .into_iter()
        .map(|(_, auth)| auth)
        .collect();
    let second = format!("Bearer {}", minted[1].1);
    assert_eq!(
        used,
        [format!("Bearer {}", minted[0].1), second.clone(), second],
        "the short-lived token is used once, the next one kept"
    );
    assert_eq!(
        lookups(&fake, "/installation").await,
        0,
        "a fixed installation is not looked up"
    );
}

#[tokio::test]
async fn a_token_github_refuses_is_dropped_and_the_next_request_mints_another() {
    let key = test_key();
    let fake = fake(&key, vec![("fabrikam", 42)], vec![60]).await;
    let (c1, _) = world(&fake.gh);
    // GitHub revokes the first installation token before it expires.
    Mock::given(header(
        "authorization",
        "Bearer ghs_42x0TokenForInstallation",
    ))
    .respond_with(ResponseTemplate::new(401).set_body_json(json!({
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401"
    })))
    .with_priority(1)
    .mount(&fake.gh.server)
    .await;
    let repos = as_installation_42(&fake, &key);
    let frontend = repo("fabrikam/frontend");
    let ask = || repos.authors(&frontend, std::slice::from_ref(&c1));
    let first = format!("{:?}", ask().await);
    assert!(
        first.contains("401") || first.contains("Bad credentials"),
        "{first}"
    );
    assert!(!first.contains("ghs_42x0"), "the token shows: {first}");
    let second = ask().await.unwrap();
    assert_eq!(
        second.get(&c1).map(|a| a.name.as_str()),
        Some("Mona Lisa"),
        "{second:?}"
    );
    let minted: Vec<String> = fake
        .minted
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(
        minted.len(),
        2,
        "a token minted again after the refusal: {minted:?}"
    );
    let used: Vec<String> = data_requests(&fake.gh)
        .await
        .into_iter()
        .map(|(_, auth)| auth)
        .collect();
    assert_eq!(
        used.last(),
        Some(&format!("Bearer {}", minted[1])),
        "the refused token is not sent again: {used:?}"
    );
    assert_eq!(
        used.iter().filter(|a| a.contains(&minted[0])).count(),
        1,
        "{used:?}"
    );
}

#[tokio::test]
async fn a_minted_token_no_header_can_carry_is_not_kept() {
    let key = test_key();
    let fake = fake_with(&key, vec![("fabrikam", 42)], vec![60], None, true).await;
    let (c1, _) = world(&fake.gh);
    let repos = as_installation_42(&fake, &key);
    let frontend = repo("fabrikam/frontend");
    let ask = || repos.authors(&frontend, std::slice::from_ref(&c1));
    let first = ask().await.unwrap_err().to_string();
    assert!(first.contains("installation 42"), "{first}");
    assert!(!first.contains("ghs_42x0"), "the token shows: {first}");
    // The next request mints another instead of failing with the broken one until it expires.
    let second = ask().await.unwrap();
    assert_eq!(second.get(&c1).map(|a| a.name.as_str()), Some("Mona Lisa"));
    assert_eq!(fake.minted.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn runs_on_later_pages_are_read_with_the_owner_token() {
    let key = test_key();
    let fake = fake(&key, vec![("fabrikam", 42)], vec![60]).await;
    let t = Utc::now();
    {
        let mut w = fake.gh.world();
        w.repos.insert("fabrikam/frontend".into());
        for i in 0..150u64 {
            let run = support::RunSpec::new(
                "fabrikam/frontend",
                9000 + i,
                i + 1,
                t - Duration::minutes(i as i64),
            );
            w.runs
                .insert(("fabrikam/frontend".into(), 9000 + i), run.json());
        }
    }
    let app = GitHubApp::new(&APP_ID.to_string(), &Secret::new(key.pkcs1_pem.clone())).unwrap();
    let gh = fake.gh.builder().app(app).build().unwrap();
    let actions = gh.actions().default_repo(repo("fabrikam/frontend"));
    let ids: Vec<spektate_core::RunRequest> = (0..150u64)
        .step_by(5)
        .map(|i| spektate_core::RunRequest {
            id: format!("run:{}", 9000 + i),
            repo: None,
        })
        .collect();
    let runs = actions
        .runs(spektate_core::RunKind::Build, &ids)
        .await
        .unwrap();
    assert_eq!(runs.found.len(), ids.len(), "{runs:?}");
    let data = data_requests(&fake.gh).await;
    assert!(
        data.iter()
            .any(|(p, _)| p.starts_with("/api/v3/repositories/")),
        "a second page was read: {data:?}"
    );
    let token = format!("Bearer {}", fake.minted.lock().unwrap()[0].1);
    assert!(data.iter().all(|(_, auth)| *auth == token), "{data:?}");
}

#[tokio::test]
async fn recorded_jobs_of_two_owners_go_in_one_graphql_query_per_owner() {
    let key = test_key();
    let fake = fake(&key, vec![("fabrikam", 42), ("contoso", 43)], vec![60]).await;
    let t = Utc::now() - Duration::hours(1);
    let mut asked = Vec::new();
    {
        let mut w = fake.gh.world();
        for (full, ids) in [
            ("fabrikam/frontend", [701, 702]),
            ("contoso/hld", [801, 802]),
        ] {
            w.repos.insert(full.into());
            for id in ids {
                let job = support::job(full, id, id * 10, "build", "completed", Some("success"), t);
                w.jobs.insert(id, (full.into(), job));
                asked.push(spektate_core::RunRequest {
                    id: format!("job:{id}"),
                    repo: Some(Arc::new(repo(full))),
                });
            }
        }
    }
    let app = GitHubApp::new(&APP_ID.to_string(), &Secret::new(key.pkcs1_pem.clone())).unwrap();
    let actions = fake.gh.builder().app(app).build().unwrap().actions();
    let batch = actions
        .runs(spektate_core::RunKind::Build, &asked)
        .await
        .unwrap();
    assert_eq!(batch.found.len(), 4, "{batch:?}");
    let minted = fake.minted.lock().unwrap().clone();
    let token_of = |id: u64| {
        format!(
            "Bearer {}",
            minted.iter().find(|(i, _)| *i == id).unwrap().1
        )
    };
    let queries: Vec<(String, String)> = fake
        .gh
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/graphql"))
        .map(|r| {
            let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
            (
                String::from_utf8_lossy(&r.body).into_owned(),
                auth.to_string(),
            )
        })
        .collect();
    assert_eq!(queries.len(), 2, "one query per owner: {queries:?}");
    for (body, auth) in &queries {
        let fabrikam = body.contains("/fabrikam/frontend/runs/");
        let contoso = body.contains("/contoso/hld/runs/");
        assert!(fabrikam != contoso, "one owner per query: {body}");
        assert_eq!(*auth, token_of(if fabrikam { 42 } else { 43 }));
    }
}

#[tokio::test]
async fn a_missing_installation_or_a_wrong_key_says_so_without_secrets() {
    let key = test_key();
    let fake = fake(&key, vec![("fabrikam", 42)], vec![60]).await;
    world(&fake.gh);
    let app = GitHubApp::new(&APP_ID.to_string(), &Secret::new(key.pkcs1_pem.clone())).unwrap();
    let repos = fake.gh.builder().app(app).build().unwrap().repos();
    let e = repos
        .pull_requests(&repo("contoso/hld"), &["7".to_string()])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the GitHub App 12345 is not installed on contoso/hld"),
        "{e}"
    );

    let other = test_key();
    let app = GitHubApp::new(&APP_ID.to_string(), &Secret::new(other.pkcs1_pem.clone())).unwrap();
    let repos = fake.gh.builder().app(app).build().unwrap().repos();
    let e = Repositories::check(&repos).await.unwrap_err().to_string();
    assert!(
        e.contains(
            "the GitHub App 12345 was refused (HTTP 401: A JSON web token could not be decoded)"
        ),
        "{e}"
    );
    let body = |pem: &str| pem.lines().nth(1).unwrap().to_string();
    assert!(
        !e.contains(&body(&other.pkcs1_pem)) && !e.contains("eyJ"),
        "{e}"
    );
    let data = data_requests(&fake.gh).await;
    assert!(data.is_empty(), "nothing read without a token: {data:?}");
}

#[tokio::test]
async fn the_check_names_the_app_and_its_installations() {
    let key = test_key();
    let fake = fake(&key, vec![("fabrikam", 42), ("contoso", 43)], vec![60]).await;
    let app = GitHubApp::new(&APP_ID.to_string(), &Secret::new(key.pkcs1_pem.clone())).unwrap();
    let repos = fake.gh.builder().app(app.clone()).build().unwrap().repos();
    assert_eq!(
        Repositories::check(&repos).await.unwrap().unwrap(),
        "GitHub App spektate-ci (id 12345) accepted; installed on fabrikam (installation 42), contoso (installation 43)"
    );
    let fixed = fake
        .gh
        .builder()
        .app(app.clone().installation(43))
        .build()
        .unwrap();
    assert_eq!(
        fixed.check_token().await.unwrap(),
        "GitHub App spektate-ci (id 12345) accepted; installation 43 (contoso) token minted"
    );
    let wrong = fake.gh.builder().app(app.installation(99)).build().unwrap();
    let e = wrong.check_token().await.unwrap_err().to_string();
    assert!(
        e.contains("has no installation 99; it is installed on: fabrikam (installation 42), contoso (installation 43)"),
        "{e}"
    );
}

#[test]
fn keys_from_files_and_one_line_variables() {
    let key = test_key();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spektate-ci.2026-01-05.private-key.pem");
    std::fs::write(&file, &key.pkcs1_pem).unwrap();
    let app = GitHubApp::from_key_file("12345", &file).unwrap();
    assert_eq!(app.app_id(), "12345");
    assert!(!format!("{app:?}").contains(&key.pkcs1_pem[40..80]));
    // A CI secret kept on one line, its line breaks written as \n.
    let one_line = key.pkcs8_pem.replace('\n', "\\n");
    assert!(GitHubApp::new("Iv23liSpektateCI", &Secret::new(one_line)).is_ok());
    let e = GitHubApp::from_key_file("12345", dir.path().join("missing.pem"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.pem"), "{e}");
    let e = spektate_github::GitHub::builder()
        .token(Secret::new("ghp_x"))
        .app(app)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("give one"), "{e}");
}

/// Runs the `spektate` binary with a SQLite store in `dir` and only the given variables of
/// the GitHub App.
async fn spektate(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(support::spektate_bin());
    cmd.args(args)
        .env(
            "SPEKTATE_STORE",
            format!("sqlite:{}", dir.join("spektate.db").display()),
        )
        .env("SPEKTATE_PARTITION_KEY", "fabrikam");
    for name in [
        "SPEKTATE_GITHUB_URL",
        "SPEKTATE_GITHUB_TOKEN",
        "SPEKTATE_MANIFEST_REPO",
        "SPEKTATE_GITHUB_APP_ID",
        "SPEKTATE_GITHUB_APP_KEY",
        "SPEKTATE_GITHUB_APP_KEY_FILE",
        "SPEKTATE_GITHUB_APP_INSTALLATION_ID",
    ] {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spektate_validate_and_get_read_github_as_the_app() {
    let key = test_key();
    let fake = fake(&key, vec![("fabrikam", 42)], vec![60]).await;
    let host = fake.gh.server.uri();
    fake.gh.world().repos.insert("fabrikam/manifests".into());
    let dir = tempfile::tempdir().unwrap();
    let manifests = format!("{host}/fabrikam/manifests");
    let key_file = dir.path().join("spektate-ci.private-key.pem");
    std::fs::write(&key_file, &key.pkcs1_pem).unwrap();
    let key_file = key_file.display().to_string();

    // The key in a variable, the app id as a flag.
    let (ok, said) = spektate(
        dir.path(),
        &[
            "validate",
            "--github-url",
            &host,
            "--github-app-id",
            "12345",
            "--manifest-repo",
            &manifests,
        ],
        &[("SPEKTATE_GITHUB_APP_KEY", key.pkcs1_pem.as_str())],
    )
    .await;
    assert!(ok, "{said}");
    assert!(
        said.contains("ok (GitHub App spektate-ci (id 12345) accepted; installed on fabrikam (installation 42))"),
        "{said}"
    );
    assert!(
        said.contains("fabrikam/manifests: ok (repository readable)"),
        "{said}"
    );
    let minted = fake.minted.lock().unwrap().clone();
    assert_eq!(minted.len(), 1, "{minted:?}");
    assert!(
        !said.contains(&minted[0].1) && !said.contains("PRIVATE KEY"),
        "{said}"
    );
    assert!(
        data_requests(&fake.gh)
            .await
            .iter()
            .filter(|(p, _)| p.contains("/repos/fabrikam/manifests"))
            .all(|(_, auth)| *auth == format!("Bearer {}", minted[0].1))
    );

    // Everything in variables, the key in a file, a fixed installation: get reads GitHub.
    let sha = sha_of("c7");
    fake.gh.world().commits.insert(
        ("fabrikam/manifests".into(), sha.clone()),
        commit(
            "fabrikam/manifests",
            &sha,
            "Mona Lisa",
            "mona@fabrikam.example",
            Some(("mona", 42)),
            Utc::now(),
        ),
    );
    let (ok, said) = spektate(
        dir.path(),
        &[
            "record",
            "--p1",
            "run:9001",
            "--image-tag",
            "frontend-9001",
            "--commit-id",
            &sha,
            "--service",
            "fabrikam/frontend",
            "--repository",
            &manifests,
        ],
        &[],
    )
    .await;
    assert!(ok, "{said}");
    let (ok, said) = spektate(
        dir.path(),
        &["get", "-o", "json", "--manifest-repo", &manifests],
        &[
            ("SPEKTATE_GITHUB_URL", host.as_str()),
            ("SPEKTATE_GITHUB_APP_ID", "12345"),
            ("SPEKTATE_GITHUB_APP_KEY_FILE", key_file.as_str()),
            ("SPEKTATE_GITHUB_APP_INSTALLATION_ID", "42"),
        ],
    )
    .await;
    assert!(ok, "{said}");
    assert!(said.contains("Mona Lisa"), "the author was read: {said}");
    // It read the commit's author with a token of installation 42, minted without looking
    // the installation up.
    let minted = fake.minted.lock().unwrap().clone();
    assert_eq!(
        minted.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [42, 42]
    );
    let asked = fake.gh.server.received_requests().await.unwrap();
    assert_eq!(
        asked
            .iter()
            .filter(|r| r.url.path().ends_with("/installation"))
            .count(),
        1,
        "only validate looked the installation up"
    );
    let second = format!("Bearer {}", minted[1].1);
    assert!(
        data_requests(&fake.gh)
            .await
            .iter()
            .any(|(p, auth)| p.contains(&sha) && *auth == second),
        "{:?}",
        data_requests(&fake.gh).await
    );

    // A key without the app id, or an app the server refuses, is said plainly.
    let (ok, said) = spektate(
        dir.path(),
        &[
            "validate",
            "--github-url",
            &host,
            "--github-app-key-file",
            &key_file,
        ],
        &[],
    )
    .await;
    assert!(!ok);
    assert!(
        said.contains("--github-app-id: is missing, and --github-app-key-file is set"),
        "{said}"
    );
    let other = test_key();
    let (ok, said) = spektate(
        dir.path(),
        &[
            "validate",
            "--github-url",
            &host,
            "--github-app-id",
            "12345",
        ],
        &[("SPEKTATE_GITHUB_APP_KEY", other.pkcs1_pem.as_str())],
    )
    .await;
    assert!(!ok);
    assert!(
        said.contains("the GitHub App 12345 was refused (HTTP 401"),
        "{said}"
    );
    assert!(
        !said.contains(other.pkcs1_pem.lines().nth(1).unwrap()),
        "{said}"
    );
}
