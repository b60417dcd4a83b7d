//! OIDC ID tokens over HTTP, against a local issuer (keys made in the test, discovery and
//! JWKS on 127.0.0.1): a token whose issuer, audience and claims match a rule writes; every
//! other token is refused with 401 or 403 and writes nothing; an issuer no rule names is
//! never contacted; keys are fetched once and again only for a new key id.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use spektate_core::ingest::Kind;
use spektate_dashboard::oidc::testkit::{Issuer, now, unsigned};
use spektate_dashboard::{Oidc, OidcRule, OidcRules, ViewerAuth, example};
use support::{PARTITION, Running, start_with};

const AUDIENCE: &str = "https://spektate.fabrikam.test";

fn github_rule(issuer: &Issuer) -> OidcRule {
    OidcRule::parse(&format!(
        "issuer={},audience={AUDIENCE},repository=fabrikam/*,ref=refs/heads/main,partitions={PARTITION}",
        issuer.url()
    ))
    .unwrap()
}

fn oidc(rules: Vec<OidcRule>) -> Oidc {
    Oidc::new(OidcRules { rules }).unwrap()
}

/// POSTs a cluster sync with `token`; the status and the error body (or the answer).
async fn sync(server: &Running, token: &str, query: &str) -> (u16, Value, Option<String>) {
    let r = server
        .post(
            &format!("{}{query}", Kind::Sync.path()),
            token,
            None,
            &example(Kind::Sync),
        )
        .await;
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap(), challenge)
}

/// `claims` with `changes` applied (a null removes the claim).
fn with(claims: &Value, changes: Value) -> Value {
    let mut out = claims.clone();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            out.as_object_mut().unwrap().remove(k);
        } else {
            out[k] = v.clone();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_id_token_writes_and_every_other_token_is_refused_and_writes_nothing() {
    let issuer = Issuer::start().await;
    let stranger = Issuer::start().await;
    let server = start_with(ViewerAuth::None, Some(oidc(vec![github_rule(&issuer)]))).await;
    let good = issuer.github_claims("fabrikam/frontend", AUDIENCE);
    let now = now();

    // A token whose payload was changed after signing: the signature is the original's.
    let valid = issuer.sign(&good);
    let tampered = {
        let parts: Vec<&str> = valid.split('.').collect();
        let other = issuer.sign(&with(&good, json!({"repository": "fabrikam/evil"})));
        let payload = other.split('.').nth(1).unwrap().to_string();
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    issuer.add_rsa_key("rsa-unpublished", false);
    // The stranger signs a token naming the trusted issuer, with a key id the issuer uses.
    let forged = stranger.sign_with("rsa-1", &good);

    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "expired",
            issuer.sign(&with(
                &good,
                json!({"iat": now - 900, "nbf": now - 900, "exp": now - 120}),
            )),
            401,
            "has expired",
        ),
        (
            "wrong audience",
            issuer.sign(&with(&good, json!({"aud": "https://other.example.com"}))),
            401,
            "another audience",
        ),
        (
            "no audience",
            issuer.sign(&with(&good, json!({"aud": null}))),
            401,
            "no aud claim",
        ),
        (
            "wrong repository",
            issuer.sign(&issuer.github_claims("contoso/frontend", AUDIENCE)),
            403,
            "repo:contoso/frontend:ref:refs/heads/main matches no OIDC rule",
        ),
        (
            "wrong ref",
            issuer.sign(&with(&good, json!({"ref": "refs/heads/feature"}))),
            403,
            "matches no OIDC rule",
        ),
        (
            "unknown issuer",
            stranger.sign(&stranger.github_claims("fabrikam/frontend", AUDIENCE)),
            401,
            "is not one this server trusts",
        ),
        (
            "forged by another key",
            forged,
            401,
            "signature does not verify",
        ),
        ("tampered", tampered, 401, "signature does not verify"),
        (
            "alg none",
            unsigned(&json!({"alg": "none", "typ": "JWT"}), &good),
            401,
            "neither a Spektate token nor an ID token",
        ),
        (
            "HS256 over the public key",
            format!(
                "{}AAAA",
                unsigned(
                    &json!({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}),
                    &good
                )
            ),
            401,
            "signed with HS256",
        ),
        (
            "not valid yet",
            issuer.sign(&with(&good, json!({"nbf": now + 600, "exp": now + 900}))),
            401,
            "not valid yet",
        ),
        (
            "issued in the future",
            issuer.sign(&with(&good, json!({"iat": now + 600}))),
            401,
            "issued in the future",
        ),
        (
            "unpublished key",
            issuer.sign_with("rsa-unpublished", &good),
            401,
            "does not publish",
        ),
    ];
    for (what, token, want, says) in &cases {
        let (status, body, challenge) = sync(&server, token, "").await;
        assert_eq!(status, *want, "{what}: {body}");
        assert_eq!(body["kind"], "AuthError", "{what}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(says), "{what}: {error}");
        assert!(
            !body.to_string().contains(token.as_str()),
            "{what}: the token in {body}"
        );
        if *want == 401 {
            assert_eq!(challenge.as_deref(), Some("Bearer"), "{what}");
        }
    }
    // The right token for another partition.
    let (status, body, _) = sync(&server, &valid, "?partition=contoso").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .ends_with("may not write partition contoso"),
        "{body}"
    );
    assert_eq!(server.store.writes(), 0, "a refused token wrote something");
    assert_eq!(
        stranger.server().received_requests().await.unwrap().len(),
        0,
        "an issuer no rule names was contacted"
    );

    // The matching tokens write, RS256 and ES256, and write tokens still do.
    let (status, body, _) = sync(&server, &valid, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "east-us");
    let r = server
        .post(
            Kind::Image.path(),
            &issuer.sign_with("ec-1", &good),
            Some("image-1"),
            &example(Kind::Image),
        )
        .await;
    assert_eq!(r.status(), 200);
    // A retry of the pipeline (a new ID token of the same subject) with the same key writes
    // nothing again.
    let again = server
        .post(
            Kind::Image.path(),
            &issuer.sign(&good),
            Some("image-1"),
            &example(Kind::Image),
        )
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let (status, _, _) = sync(&server, &server.writer, "").await;
    assert_eq!(status, 200);
    let (records, syncs) = server.store.contents(PARTITION).await;
    assert_eq!((records.len(), syncs.len()), (1, 1));
    assert_eq!(records[0].p1.as_deref(), Some("1042"));

    // Every token above was checked against keys fetched once.
    assert_eq!(issuer.jwks_fetches().await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_fetched_again_for_a_new_key_id_at_most_once_an_interval() {
    let issuer = Issuer::start().await;
    let interval = Duration::from_secs(2);
    let checker = oidc(vec![github_rule(&issuer)]).refetch_after(interval);
    let server = start_with(ViewerAuth::None, Some(checker)).await;
    let good = issuer.github_claims("fabrikam/frontend", AUDIENCE);
    assert_eq!(sync(&server, &issuer.sign(&good), "").await.0, 200);
    assert_eq!(issuer.jwks_fetches().await, 1);

    // The issuer rotates to a new key; tokens signed with it arrive at once, and so do
    // tokens with key ids made up to make the server fetch.
    issuer.add_rsa_key("rsa-2", true);
    let rotated = issuer.sign_with("rsa-2", &good);
    assert_eq!(sync(&server, &rotated, "").await.0, 401);
    for i in 0..20 {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": format!("made-up-{i}")});
        let token = format!("{}c2ln", unsigned(&header, &good));
        assert_eq!(sync(&server, &token, "").await.0, 401);
    }
    assert_eq!(
        issuer.jwks_fetches().await,
        1,
        "unknown key ids fetched within the interval"
    );

    // After the interval, the new key id fetches the keys once more, and is accepted.
    tokio::time::sleep(interval + Duration::from_millis(200)).await;
    let (status, body, _) = sync(&server, &rotated, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(issuer.jwks_fetches().await, 2);
    assert_eq!(sync(&server, &issuer.sign(&good), "").await.0, 200);
    assert_eq!(issuer.jwks_fetches().await, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_pipelines_token_writes_the_partitions_of_its_project() {
    let issuer = Issuer::start().await;
    let rule = OidcRule::parse(&format!(
        "issuer={},audience=api://AzureADTokenExchange,project=hello-bedrock,partitions={PARTITION}",
        issuer.url()
    ))
    .unwrap();
    let server = start_with(ViewerAuth::None, Some(oidc(vec![rule]))).await;
    let ours = issuer.sign(&issuer.azure_claims("fabrikam", "hello-bedrock", "frontend-ci"));
    let theirs = issuer.sign(&issuer.azure_claims("fabrikam", "other-project", "frontend-ci"));
    let (status, body, _) = sync(&server, &theirs, "").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("p://fabrikam/other-project/frontend-ci"),
        "{body}"
    );
    assert_eq!(server.store.writes(), 0);
    let (status, body, _) = sync(&server, &ours, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.store.writes(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_cannot_be_reached_is_a_503_to_retry_and_writes_nothing() {
    // Nothing listens on port 1.
    let rule = OidcRule::parse(&format!(
        "issuer=http://127.0.0.1:1,audience={AUDIENCE},repository=fabrikam/*,partitions={PARTITION}"
    ))
    .unwrap();
    let server = start_with(ViewerAuth::None, Some(oidc(vec![rule]))).await;
    let signer = Issuer::start().await;
    let claims = with(
        &signer.github_claims("fabrikam/frontend", AUDIENCE),
        json!({"iss": "http://127.0.0.1:1"}),
    );
    let r = server
        .post(
            Kind::Sync.path(),
            &signer.sign(&claims),
            None,
            &example(Kind::Sync),
        )
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cannot be fetched just now"),
        "{body}"
    );
    assert_eq!(server.store.writes(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_a_discovery_document_naming_another_issuer_are_not_used() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // An issuer whose discovery document points at the keys of another issuer.
    let signer = Issuer::start().await;
    let impostor = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": signer.url(),
            "jwks_uri": format!("{}/.well-known/jwks", signer.url())
        })))
        .mount(&impostor)
        .await;
    let rule = OidcRule::parse(&format!(
        "issuer={},audience={AUDIENCE},repository=fabrikam/*,partitions={PARTITION}",
        impostor.uri()
    ))
    .unwrap();
    let server = start_with(ViewerAuth::None, Some(oidc(vec![rule]))).await;
    let claims = with(
        &signer.github_claims("fabrikam/frontend", AUDIENCE),
        json!({"iss": impostor.uri()}),
    );
    let (status, body, _) = sync(&server, &signer.sign(&claims), "").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("names another issuer"),
        "{body}"
    );
    assert_eq!(signer.jwks_fetches().await, 0);
    assert_eq!(server.store.writes(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_document_names_id_tokens_when_the_server_takes_them() {
    let issuer = Issuer::start().await;
    let server = start_with(ViewerAuth::None, Some(oidc(vec![github_rule(&issuer)]))).await;
    let doc: Value = server
        .client
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for kind in Kind::ALL {
        assert_eq!(
            doc["paths"][kind.path()]["post"]["security"],
            json!([{"pipelineToken": []}, {"oidcToken": []}]),
            "{kind:?}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["oidcToken"]["bearerFormat"],
        "JWT"
    );
    assert_eq!(
        issuer.jwks_fetches().await,
        0,
        "keys are fetched when a token needs them"
    );
    server.stop().await;
}

/// README states how often an unknown key id may fetch the keys again; it is the server's.
#[test]
fn readme_states_how_often_keys_are_fetched_again() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let secs = spektate_dashboard::oidc::REFETCH_AFTER.as_secs();
    let said = format!("refetched at most every {secs} s for an unknown key id");
    assert!(readme.contains(&said), "README does not say {said}");
}
