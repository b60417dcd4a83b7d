//! The Azure table store with the credentials a platform team hands out instead of the
//! account key: shared access signatures, checked by a real Azurite, and Microsoft Entra ID
//! tokens (managed identity through IMDS or App Service, workload identity federation),
//! fetched from fakes of those endpoints shaped as Azure documents them and sent to a fake
//! table endpoint (Azurite accepts bearer tokens only over HTTPS).

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::azurite::Azurite;
use common::sas::{account_sas, table_sas};
use serde_json::json;
use spektate_azdo::table::DEV_ACCOUNT;
use spektate_azdo::{AzureTableStore, EntraCredential, EntraKind, TableAccount};
use spektate_core::http::Secret;
use spektate_core::{ImageBuilt, Record, RecordQuery, RecordStore, Recorder};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn sas_store(az: &Azurite, table: &str, sas: &str) -> AzureTableStore {
    let account = TableAccount::with_sas(DEV_ACCOUNT, &Secret::new(sas))
        .unwrap()
        .with_endpoint(&az.endpoint())
        .unwrap();
    AzureTableStore::new(account, table).unwrap()
}

fn in_a_year() -> chrono::DateTime<Utc> {
    Utc::now() + TimeDelta::days(365)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_table_sas_passes_the_conformance_suite_on_the_table_it_names() {
    let az = Azurite::start();
    // The table exists (an administrator made it); the SAS may only use it.
    AzureTableStore::new(az.account(), "deployments")
        .unwrap()
        .ensure_table()
        .await
        .unwrap();
    let sas = table_sas("deployments", "raud", in_a_year());
    let store = sas_store(&az, "deployments", &sas);
    spektate_core::testkit::store_conformance(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_sas_creates_its_table_and_records_a_pipeline_step() {
    let az = Azurite::start();
    let sas = account_sas("rwdlacu", in_a_year());
    let store = Arc::new(sas_store(&az, "fresh", &format!("?{sas}")));
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let id = recorder
        .image_built(&ImageBuilt {
            p1: "1042".into(),
            image_tag: "frontend-1042".into(),
            commit_id: "a3f9c2e71b0d".into(),
            service: "fabrikam/frontend".into(),
            repository: None,
        })
        .await
        .unwrap();
    // Read back through the account key: the row is really in the table.
    let by_key = AzureTableStore::new(az.account(), "fresh").unwrap();
    let rows = by_key.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].row_key, id.row_key);
    assert_eq!(rows[0].image_tag.as_deref(), Some("frontend-1042"));
    assert!(!format!("{store:?} {}", store.describe()).contains("sig="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sas_says_why_without_showing_the_signature() {
    let az = Azurite::start();
    AzureTableStore::new(az.account(), "deployments")
        .unwrap()
        .ensure_table()
        .await
        .unwrap();
    let sig_of = |sas: &str| {
        sas.split('&')
            .find_map(|p| p.strip_prefix("sig="))
            .unwrap()
            .to_string()
    };
    let check = |e: String, sas: &str| {
        let sig = sig_of(sas);
        assert!(e.contains("the SAS was rejected (HTTP 403)"), "{e}");
        assert!(!e.contains(&sig) && !e.contains("sig="), "{e}");
        e
    };

    // Read-only: reading works, writing is refused.
    let read_only = table_sas("deployments", "r", in_a_year());
    let store = sas_store(&az, "deployments", &read_only);
    assert!(
        store
            .query("demo", &RecordQuery::all())
            .await
            .unwrap()
            .is_empty()
    );
    check(
        store
            .insert(&Record::new("demo"))
            .await
            .unwrap_err()
            .to_string(),
        &read_only,
    );

    // Expired: the error says when.
    let expired = table_sas("deployments", "raud", Utc::now() - TimeDelta::hours(1));
    let e = check(
        sas_store(&az, "deployments", &expired)
            .query("demo", &RecordQuery::all())
            .await
            .unwrap_err()
            .to_string(),
        &expired,
    );
    assert!(e.contains("the SAS expired at"), "{e}");

    // A table SAS used on another table says which table it is for.
    AzureTableStore::new(az.account(), "other")
        .unwrap()
        .ensure_table()
        .await
        .unwrap();
    let e = check(
        sas_store(&az, "other", &table_sas("deployments", "raud", in_a_year()))
            .query("demo", &RecordQuery::all())
            .await
            .unwrap_err()
            .to_string(),
        "sig=x",
    );
    assert!(
        e.contains("the SAS is for the table 'deployments', not 'other'"),
        "{e}"
    );

    // A forged signature.
    let good = table_sas("deployments", "raud", in_a_year());
    let forged = good.replace(&sig_of(&good), "Zm9yZ2VkLXNpZ25hdHVyZQ%3D%3D");
    check(
        sas_store(&az, "deployments", &forged)
            .query("demo", &RecordQuery::all())
            .await
            .unwrap_err()
            .to_string(),
        &forged,
    );
}

/// A fake table endpoint that answers a query with no rows and an insert with its entity,
/// for any request that carries a bearer token.
async fn fake_table() -> MockServer {
    let table = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/Tables"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&table)
        .await;
    Mock::given(method("GET"))
        .and(path("/deployments()"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": [] })))
        .mount(&table)
        .await;
    Mock::given(method("POST"))
        .and(path("/deployments"))
        .respond_with(|req: &Request| {
            let mut entity: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            entity["odata.etag"] = json!("W/\"datetime'2026-01-01T12%3A00%3A00.0000000Z'\"");
            entity["Timestamp"] = json!("2026-01-01T12:00:00.0000000Z");
            ResponseTemplate::new(201)
                .insert_header("etag", "W/\"datetime'2026-01-01T12%3A00%3A00.0000000Z'\"")
                .set_body_json(entity)
        })
        .mount(&table)
        .await;
    table
}

fn entra_store(table: &MockServer, credential: EntraCredential) -> AzureTableStore {
    let account = TableAccount::with_entra("fabrikam", credential)
        .unwrap()
        .with_endpoint(&table.uri())
        .unwrap();
    AzureTableStore::new(account, "deployments").unwrap()
}

/// The bearer tokens the table endpoint received, checking that each request carried the API
/// version README names, 2019-02-02 (bearer tokens need 2017-11-09 or later), and no
/// signature of another kind.
async fn bearer_tokens(table: &MockServer) -> Vec<String> {
    let mut tokens = Vec::new();
    for req in table.received_requests().await.unwrap() {
        let version = req.headers.get("x-ms-version").unwrap().to_str().unwrap();
        assert_eq!(version, "2019-02-02", "x-ms-version");
        assert!(!req.url.query().unwrap_or_default().contains("sig="));
        let auth = req.headers.get("authorization").unwrap().to_str().unwrap();
        tokens.push(auth.strip_prefix("Bearer ").expect(auth).to_string());
    }
    tokens
}

/// IMDS's answer (every number a string), for a token that lasts `seconds`.
fn imds_token(token: &str, seconds: i64) -> ResponseTemplate {
    let now = Utc::now().timestamp();
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": token,
        "client_id": "8d0f1a2b-0000-4000-8000-00000000cafe",
        "expires_in": seconds.to_string(),
        "expires_on": (now + seconds).to_string(),
        "ext_expires_in": seconds.to_string(),
        "not_before": now.to_string(),
        "resource": "https://storage.azure.com/",
        "token_type": "Bearer"
    }))
}

/// Answers with one token after another, each lasting `seconds`.
struct Tokens {
    next: std::sync::atomic::AtomicUsize,
    seconds: i64,
}

impl Respond for Tokens {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        imds_token(&format!("eyJ.mi-token-{}", n + 1), self.seconds)
    }
}

#[tokio::test]
async fn a_managed_identity_token_from_imds_is_fetched_once_and_sent_as_bearer() {
    let imds = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/metadata/identity/oauth2/token"))
        .and(query_param("api-version", "2018-02-01"))
        .and(query_param("resource", "https://storage.azure.com/"))
        .and(header("metadata", "true"))
        .respond_with(Tokens {
            next: 0.into(),
            seconds: 3600,
        })
        .mount(&imds)
        .await;
    let table = fake_table().await;
    let credential = EntraCredential::imds(
        Some(&format!("{}/metadata/identity/oauth2/token", imds.uri())),
        None,
    )
    .unwrap();
    let store = Arc::new(entra_store(&table, credential));
    // Eight reads at once and a write: one token, fetched once.
    let reads = (0..8).map(|_| {
        let store = store.clone();
        async move { store.query("fabrikam", &RecordQuery::all()).await }
    });
    for r in futures::future::join_all(reads).await {
        assert!(r.unwrap().is_empty());
    }
    store.insert(&Record::new("fabrikam")).await.unwrap();
    assert_eq!(imds.received_requests().await.unwrap().len(), 1);
    let tokens = bearer_tokens(&table).await;
    assert_eq!(tokens.len(), 10, "8 reads, create table, insert");
    assert!(tokens.iter().all(|t| t == "eyJ.mi-token-1"), "{tokens:?}");
    let shown = format!("{store:?}");
    assert!(!shown.contains("mi-token"), "{shown}");
    assert_eq!(
        store.check_credential().await.unwrap(),
        "token of the managed identity (IMDS)"
    );
}

#[tokio::test]
async fn a_token_is_fetched_again_before_it_expires() {
    let imds = MockServer::start().await;
    Mock::given(path("/metadata/identity/oauth2/token"))
        .respond_with(Tokens {
            next: 0.into(),
            seconds: 6,
        })
        .mount(&imds)
        .await;
    let table = fake_table().await;
    let store = entra_store(
        &table,
        EntraCredential::imds(
            Some(&format!("{}/metadata/identity/oauth2/token", imds.uri())),
            Some("8d0f1a2b-0000-4000-8000-00000000cafe"),
        )
        .unwrap(),
    );
    store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    // Half of a six-second life later (its expiry is in whole seconds: 5 to 6 s), the token
    // is replaced before it runs out.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(
        bearer_tokens(&table).await,
        ["eyJ.mi-token-1", "eyJ.mi-token-1", "eyJ.mi-token-2"]
    );
    let asked = imds.received_requests().await.unwrap();
    assert_eq!(asked.len(), 2);
    assert!(
        asked[0]
            .url
            .query()
            .unwrap()
            .contains("client_id=8d0f1a2b-0000-4000-8000-00000000cafe"),
        "a user-assigned identity is named: {}",
        asked[0].url
    );
}

/// The credential the environment `vars` picks.
fn credential_of(vars: &[(&str, String)]) -> EntraCredential {
    EntraCredential::from_vars(EntraKind::Auto, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap()
}

#[tokio::test]
async fn app_service_hands_out_tokens_for_its_identity_header() {
    let endpoint = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/msi/token"))
        .and(query_param("api-version", "2019-08-01"))
        .and(query_param("resource", "https://storage.azure.com/"))
        .and(header("x-identity-header", "a1b2c3-identity-header"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "eyJ.app-service-token",
            "expires_on": (Utc::now().timestamp() + 86_400).to_string(),
            "resource": "https://storage.azure.com/",
            "token_type": "Bearer",
            "client_id": "5c1d0d07-0000-4000-8000-000000000001"
        })))
        .mount(&endpoint)
        .await;
    let vars = [
        ("IDENTITY_ENDPOINT", format!("{}/msi/token", endpoint.uri())),
        ("IDENTITY_HEADER", "a1b2c3-identity-header".to_string()),
    ];
    let credential = credential_of(&vars);
    let table = fake_table().await;
    let store = entra_store(&table, credential);
    store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(bearer_tokens(&table).await, ["eyJ.app-service-token"]);
}

#[tokio::test]
async fn a_token_endpoint_that_redirects_elsewhere_gets_no_identity_header_or_federated_token() {
    let elsewhere = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "eyJ.stolen", "expires_in": 3600
        })))
        .mount(&elsewhere)
        .await;
    let redirect = |to: String| ResponseTemplate::new(307).insert_header("location", to.as_str());
    // App Service: the identity header would follow a redirect to another host.
    let endpoint = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(redirect(format!("{}/msi/token", elsewhere.uri())))
        .mount(&endpoint)
        .await;
    let vars = [
        ("IDENTITY_ENDPOINT", format!("{}/msi/token", endpoint.uri())),
        ("IDENTITY_HEADER", "a1b2c3-identity-header".to_string()),
    ];
    let app_service = credential_of(&vars);
    // Workload identity: a 307 would re-send the body holding the federated token.
    let entra = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(redirect(format!("{}/token", elsewhere.uri())))
        .mount(&entra)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, "eyJ.sa-token-first\n").unwrap();
    let vars = [
        (
            "AZURE_CLIENT_ID",
            "0f6b6a2e-0000-4000-8000-00000000beef".to_string(),
        ),
        (
            "AZURE_TENANT_ID",
            "72f988bf-86f1-41af-91ab-2d7cd011db47".to_string(),
        ),
        ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ("AZURE_AUTHORITY_HOST", format!("{}/", entra.uri())),
    ];
    let workload = credential_of(&vars);
    for credential in [app_service, workload] {
        let table = fake_table().await;
        let store = entra_store(&table, credential);
        let err = store
            .query("fabrikam", &RecordQuery::all())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("307"), "the redirect is the answer: {err}");
        assert!(
            bearer_tokens(&table).await.is_empty(),
            "no token reached the table"
        );
    }
    let asked = elsewhere.received_requests().await.unwrap();
    assert!(asked.is_empty(), "the other host was asked: {asked:?}");
}

#[tokio::test]
async fn workload_identity_exchanges_the_current_federated_token() {
    let entra = MockServer::start().await;
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    for (n, assertion) in ["eyJ.sa-token-first", "eyJ.sa-token-rotated"]
        .iter()
        .enumerate()
    {
        Mock::given(method("POST"))
            .and(path(format!("/{tenant}/oauth2/v2.0/token")))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(body_string_contains("grant_type=client_credentials"))
            .and(body_string_contains(
                "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
            ))
            .and(body_string_contains("scope=https%3A%2F%2Fstorage.azure.com%2F.default"))
            .and(body_string_contains("client_id=0f6b6a2e-0000-4000-8000-00000000beef"))
            .and(body_string_contains(format!("client_assertion={assertion}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer",
                "expires_in": 2,
                "ext_expires_in": 2,
                "access_token": format!("eyJ.entra-token-{}", n + 1)
            })))
            .mount(&entra)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, "eyJ.sa-token-first\n").unwrap();
    let vars = [
        (
            "AZURE_CLIENT_ID",
            "0f6b6a2e-0000-4000-8000-00000000beef".to_string(),
        ),
        ("AZURE_TENANT_ID", tenant.to_string()),
        ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ("AZURE_AUTHORITY_HOST", format!("{}/", entra.uri())),
    ];
    let credential = credential_of(&vars);
    let table = fake_table().await;
    let store = entra_store(&table, credential);
    store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    // The kubelet rotates the projected token; the next exchange sends the new one.
    std::fs::write(&file, "eyJ.sa-token-rotated\n").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    store.query("fabrikam", &RecordQuery::all()).await.unwrap();
    assert_eq!(
        bearer_tokens(&table).await,
        ["eyJ.entra-token-1", "eyJ.entra-token-2"]
    );
}

#[tokio::test]
async fn token_failures_name_the_identity_and_the_cause_but_no_secret() {
    // IMDS on a machine whose identity is not assigned.
    let imds = MockServer::start().await;
    Mock::given(path("/metadata/identity/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_request",
            "error_description": "Identity not found"
        })))
        .mount(&imds)
        .await;
    let table = fake_table().await;
    let store = entra_store(
        &table,
        EntraCredential::imds(
            Some(&format!("{}/metadata/identity/oauth2/token", imds.uri())),
            None,
        )
        .unwrap(),
    );
    let e = store
        .query("fabrikam", &RecordQuery::all())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no Entra ID token")
            && e.contains("managed identity (IMDS)")
            && e.contains("HTTP 400: invalid_request: Identity not found"),
        "{e}"
    );
    assert!(
        table.received_requests().await.unwrap().is_empty(),
        "nothing sent without a token"
    );
    let e = store.check_credential().await.unwrap_err().to_string();
    assert!(e.contains("Identity not found"), "{e}");

    // Entra refuses the federated token; the token file's content never shows.
    let entra = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:ci:spektate'.\r\nTrace ID: 1",
            "error_codes": [700213]
        })))
        .mount(&entra)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "eyJ.sa-token-secret").unwrap();
    let credential = EntraCredential::workload_identity(
        Some(&entra.uri()),
        "contoso.onmicrosoft.com",
        "0f6b",
        &file,
    )
    .unwrap();
    let e = entra_store(&table, credential)
        .query("fabrikam", &RecordQuery::all())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("workload identity") && e.contains("HTTP 401: invalid_client: AADSTS700213"),
        "{e}"
    );
    assert!(
        !e.contains("sa-token-secret") && !e.contains("Trace ID"),
        "{e}"
    );
}

#[tokio::test]
async fn a_refused_token_is_named_and_replaced_on_the_next_request() {
    let imds = MockServer::start().await;
    Mock::given(path("/metadata/identity/oauth2/token"))
        .respond_with(Tokens {
            next: 0.into(),
            seconds: 3600,
        })
        .mount(&imds)
        .await;
    let table = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer eyJ.mi-token-1"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "odata.error": {
                "code": "AuthorizationPermissionMismatch",
                "message": { "lang": "en-US", "value": "This request is not authorized to perform this operation using this permission.\nRequestId:1" }
            }
        })))
        .mount(&table)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer eyJ.mi-token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": [] })))
        .mount(&table)
        .await;
    let store = entra_store(
        &table,
        EntraCredential::imds(
            Some(&format!("{}/metadata/identity/oauth2/token", imds.uri())),
            None,
        )
        .unwrap(),
    );
    let e = store
        .query("fabrikam", &RecordQuery::all())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the Entra ID token of the managed identity (IMDS) was rejected (HTTP 403)")
            && e.contains("not authorized to perform this operation"),
        "{e}"
    );
    assert!(!e.contains("mi-token"), "{e}");
    // After a role assignment lands, the next request gets a new token and goes through.
    assert!(
        store
            .query("fabrikam", &RecordQuery::all())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_machine_without_a_metadata_service_is_told_so_quickly() {
    // A port nothing listens on, as 169.254.169.254 is off Azure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let table = fake_table().await;
    let store = entra_store(
        &table,
        EntraCredential::imds(
            Some(&format!(
                "http://127.0.0.1:{closed}/metadata/identity/oauth2/token"
            )),
            None,
        )
        .unwrap(),
    );
    let started = std::time::Instant::now();
    let e = store.check_credential().await.unwrap_err().to_string();
    assert!(
        e.contains("no Entra ID token")
            && e.contains("managed identity (IMDS)")
            && e.contains("could not connect"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(table.received_requests().await.unwrap().is_empty());
}
