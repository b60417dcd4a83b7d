//! The `spektate` binary on an Azure table without the account key: a shared access
//! signature in the store spec or in SPEKTATE_TABLE_SAS against a real Azurite, and
//! Microsoft Entra ID tokens (App Service's identity endpoint, AKS workload identity) from
//! fakes of those endpoints, sent to a fake table endpoint. No output shows a signature or
//! token.

#[path = "../../spektate-azdo/tests/common/azurite.rs"]
#[allow(dead_code)]
mod azurite;
#[path = "../../spektate-azdo/tests/common/sas.rs"]
#[allow(dead_code)]
mod sas;

use std::process::{Command, Output};

use azurite::Azurite;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use spektate_azdo::AzureTableStore;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The variables a run may inherit that would change which credential is used.
const CLEARED: &[&str] = &[
    "SPEKTATE_STORE",
    "SPEKTATE_PARTITION_KEY",
    "SPEKTATE_STORAGE_ACCOUNT",
    "SPEKTATE_STORAGE_KEY",
    "SPEKTATE_TABLE_NAME",
    "SPEKTATE_TABLE_ENDPOINT",
    "SPEKTATE_TABLE_SAS",
    "SPEKTATE_TABLE_AUTH",
    "SPEKTATE_GITHUB_TOKEN",
    "SPEKTATE_MANIFEST_REPO",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
];

fn spektate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
    cmd.args(args);
    for name in CLEARED {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run spektate")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "failed: {stderr}\n{stdout}");
    stdout
}

fn failed(out: &Output) -> String {
    let (stdout, stderr) = text(out);
    assert!(!out.status.success(), "succeeded: {stdout}");
    format!("{stdout}{stderr}")
}

fn sig(sas: &str) -> String {
    sas.split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_sas_in_the_spec_or_the_variable_records_gets_and_validates() {
    let az = Azurite::start();
    // The platform team made the table and handed out a SAS for it.
    AzureTableStore::new(az.account(), "deployments")
        .unwrap()
        .ensure_table()
        .await
        .unwrap();
    let sas = sas::table_sas("deployments", "raud", Utc::now() + TimeDelta::days(30));
    let in_spec = format!("azure-table:{}/deployments?{sas}", az.endpoint());
    let out = spektate(
        &[
            "record",
            "--store",
            &in_spec,
            "-p",
            "demo",
            "--p1",
            "1042",
            "--image-tag",
            "frontend-1042",
            "--commit-id",
            "a3f9c2e71b0d",
            "--service",
            "fabrikam/frontend",
        ],
        &[],
    );
    let id = ok(&out).trim().to_string();
    assert_eq!(id.len(), 12, "{id}");

    // The same table by account and name, the SAS in the variable.
    let endpoint = az.endpoint();
    let by_name = [
        "--store",
        "azure-table:devstoreaccount1/deployments",
        "--table-endpoint",
        &endpoint,
        "-p",
        "demo",
    ];
    let env = [("SPEKTATE_TABLE_SAS", sas.as_str())];
    let get: Vec<&str> = ["get", "-o", "json"]
        .iter()
        .chain(&by_name)
        .copied()
        .collect();
    let out = spektate(&get, &env);
    let shown: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(shown[0]["id"], json!(id), "{shown}");
    assert_eq!(shown[0]["imageTag"], json!("frontend-1042"), "{shown}");

    let validate: Vec<&str> = ["validate"].iter().chain(&by_name).copied().collect();
    let out = spektate(&validate, &env);
    let said = ok(&out);
    assert!(
        said.contains("store: ok (azure-table:")
            && said.contains("/devstoreaccount1/deployments partition demo: read; wrote, read back and deleted a probe record"),
        "{said}"
    );
    // -n ACCOUNT --table-name TABLE with --table-sas works the same.
    let out = spektate(
        &[
            "get",
            "-o",
            "json",
            "-n",
            "devstoreaccount1",
            "--table-name",
            "deployments",
            "--table-endpoint",
            &endpoint,
            "-p",
            "demo",
            "--table-sas",
            &sas,
        ],
        &[],
    );
    assert!(ok(&out).contains("frontend-1042"));

    // A read-only SAS reads and is refused a write, saying so without the signature.
    let read_only = sas::table_sas("deployments", "r", Utc::now() + TimeDelta::days(30));
    let out = spektate(&get, &[("SPEKTATE_TABLE_SAS", read_only.as_str())]);
    assert!(ok(&out).contains("frontend-1042"));
    let record: Vec<&str> = [
        "record",
        "--p1",
        "1043",
        "--image-tag",
        "frontend-1043",
        "--commit-id",
        "b4",
        "--service",
        "fabrikam/frontend",
    ]
    .iter()
    .chain(&by_name)
    .copied()
    .collect();
    let said = failed(&spektate(
        &record,
        &[("SPEKTATE_TABLE_SAS", read_only.as_str())],
    ));
    assert!(said.contains("the SAS was rejected (HTTP 403)"), "{said}");
    for s in [&sas, &read_only] {
        assert!(!said.contains(&sig(s)), "{said}");
    }
    for out in [spektate(&get, &env), spektate(&validate, &env)] {
        let (stdout, stderr) = text(&out);
        assert!(!stdout.contains(&sig(&sas)) && !stderr.contains(&sig(&sas)));
    }
}

#[test]
fn credentials_are_one_at_a_time_and_a_missing_one_is_named() {
    let sas =
        "sv=2019-02-02&tn=deployments&sp=raud&se=2031-01-01T00%3A00%3A00Z&sig=c2VjcmV0LXNpZw%3D%3D";
    let key = "c2VjcmV0LWtleS1kby1ub3Qtc2hvdw==";
    let bare = format!("fabrikam/deployments?{sas}");
    let in_spec = format!("azure-table:fabrikam/deployments?{sas}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--store", "azure-table:fabrikam/deployments"],
            "names an Azure table without a credential: give --access-key",
        ),
        (
            vec![
                "--store",
                "azure-table:fabrikam/deployments",
                "--access-key",
                key,
                "--table-sas",
                sas,
            ],
            "an Azure table store takes one credential",
        ),
        (
            vec![
                "--store",
                "azure-table:fabrikam/deployments",
                "--table-auth",
                "entra",
                "--table-sas",
                sas,
            ],
            "is entra (Microsoft Entra ID), and a SAS is given; give one credential",
        ),
        (
            vec!["--store", &bare],
            "looks like a connection string (it has AccountKey=",
        ),
        (
            vec!["--store", &in_spec, "--table-name", "other"],
            "--table-name: is 'other', and --store names the table 'deployments'",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in cases {
        let all: Vec<&str> = ["get"]
            .iter()
            .copied()
            .chain(args.iter().copied())
            .collect();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spektate"));
        cmd.args(&all).current_dir(dir.path());
        for name in CLEARED {
            cmd.env_remove(name);
        }
        let said = failed(&cmd.output().unwrap());
        assert!(said.contains(expected), "{all:?}: {said}");
        assert!(
            !said.contains("c2VjcmV0"),
            "the key or signature is echoed: {said}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "a file was created: {left:?}");
}

/// A fake table endpoint: an empty table that answers any authorized query.
async fn fake_table() -> MockServer {
    let table = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/deployments()"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "value": [] })))
        .mount(&table)
        .await;
    table
}

async fn bearer_tokens(table: &MockServer) -> Vec<String> {
    table
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r: &Request| {
            let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
            auth.strip_prefix("Bearer ").unwrap_or(auth).to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_id_from_app_service_and_from_workload_identity() {
    // App Service: IDENTITY_ENDPOINT and IDENTITY_HEADER.
    let identity = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/msi/token"))
        .and(query_param("api-version", "2019-08-01"))
        .and(query_param("resource", "https://storage.azure.com/"))
        .and(header("x-identity-header", "app-service-header-value"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "eyJ.app-service-access-token",
            "expires_on": (Utc::now().timestamp() + 3600).to_string(),
            "resource": "https://storage.azure.com/",
            "token_type": "Bearer",
            "client_id": "5c1d0d07-0000-4000-8000-000000000001"
        })))
        .mount(&identity)
        .await;
    let table = fake_table().await;
    let endpoint = format!("{}/msi/token", identity.uri());
    let table_uri = table.uri();
    let args = [
        "get",
        "-o",
        "json",
        "--store",
        "azure-table:fabrikam/deployments",
        "--table-endpoint",
        &table_uri,
        "-p",
        "demo",
        "--table-auth",
        "entra",
    ];
    let out = spektate(
        &args,
        &[
            ("IDENTITY_ENDPOINT", endpoint.as_str()),
            ("IDENTITY_HEADER", "app-service-header-value"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "[]");
    assert!(!stderr.contains("app-service-access-token"));
    assert!(
        bearer_tokens(&table)
            .await
            .iter()
            .all(|t| t == "eyJ.app-service-access-token")
    );

    // AKS workload identity: the projected token exchanged at the authority.
    let entra = MockServer::start().await;
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    Mock::given(method("POST"))
        .and(path(format!("/{tenant}/oauth2/v2.0/token")))
        .and(body_string_contains(
            "client_assertion=eyJ.projected-sa-token",
        ))
        .and(body_string_contains(
            "client_id=0f6b6a2e-0000-4000-8000-00000000beef",
        ))
        .and(body_string_contains(
            "scope=https%3A%2F%2Fstorage.azure.com%2F.default",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": "eyJ.workload-access-token"
        })))
        .mount(&entra)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, "eyJ.projected-sa-token").unwrap();
    let table = fake_table().await;
    let table_uri = table.uri();
    let authority = format!("{}/", entra.uri());
    let file_name = file.display().to_string();
    let args = [
        "get",
        "-o",
        "json",
        "--store",
        "azure-table:fabrikam/deployments",
        "--table-endpoint",
        &table_uri,
        "-p",
        "demo",
    ];
    let env = [
        ("SPEKTATE_TABLE_AUTH", "workload-identity"),
        ("AZURE_CLIENT_ID", "0f6b6a2e-0000-4000-8000-00000000beef"),
        ("AZURE_TENANT_ID", tenant),
        ("AZURE_FEDERATED_TOKEN_FILE", file_name.as_str()),
        ("AZURE_AUTHORITY_HOST", authority.as_str()),
    ];
    assert_eq!(ok(&spektate(&args, &env)).trim(), "[]");
    assert!(
        bearer_tokens(&table)
            .await
            .iter()
            .all(|t| t == "eyJ.workload-access-token")
    );

    // Without the pod's variables, workload identity says which are missing.
    let said = failed(&spektate(&args, &env[..1]));
    assert!(
        said.contains("AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE not set"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_identity_fails_get_and_validate_with_the_cause() {
    let identity = MockServer::start().await;
    Mock::given(path("/msi/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_request",
            "error_description": "Identity not found"
        })))
        .mount(&identity)
        .await;
    let table = fake_table().await;
    let endpoint = format!("{}/msi/token", identity.uri());
    let table_uri = table.uri();
    let env = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", "app-service-header-value"),
        ("SPEKTATE_TABLE_AUTH", "managed-identity"),
    ];
    for command in ["get", "validate"] {
        let said = failed(&spektate(
            &[
                command,
                "--store",
                "azure-table:fabrikam/deployments",
                "--table-endpoint",
                &table_uri,
                "-p",
                "demo",
            ],
            &env,
        ));
        assert!(
            said.contains("no Entra ID token")
                && said.contains("managed identity (App Service)")
                && said.contains("Identity not found"),
            "{command}: {said}"
        );
        assert!(!said.contains("app-service-header-value"), "{said}");
    }
    assert!(
        table.received_requests().await.unwrap().is_empty(),
        "nothing is sent to the table without a token"
    );
}

#[test]
fn every_reading_command_takes_the_new_credentials() {
    for command in ["get", "dashboard", "serve", "validate"] {
        let out = spektate(&[command, "--help"], &[]);
        let help = ok(&out);
        for flag in [
            "--table-sas <SAS>",
            "[env: SPEKTATE_TABLE_SAS]",
            "--table-auth <KIND>",
            "[env: SPEKTATE_TABLE_AUTH]",
            "--github-app-id <APP_ID>",
            "[env: SPEKTATE_GITHUB_APP_ID]",
            "--github-app-key-file <FILE>",
            "--github-app-installation <ID>",
        ] {
            assert!(
                help.contains(flag),
                "{command} --help lacks {flag}:\n{help}"
            );
        }
    }
}
