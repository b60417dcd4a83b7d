//! The `spektate` binary on the original Bedrock stack: bedrock-cli's storage flags against
//! a real Azurite, and `get`/`validate` reading a mocked Azure DevOps.

#[path = "../../spektate-azdo/tests/common/azurite.rs"]
#[allow(dead_code)]
mod azurite;

use std::process::{Command, Output};

use azurite::Azurite;
use serde_json::{Value, json};
use spektate_azdo::table::DEV_KEY;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAT: &str = "azdo-pat-cli-3f9a";

fn fixture(name: &str) -> Value {
    let file = format!(
        "{}/../spektate-azdo/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

fn spektate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spektate"))
        .args(args)
        .env("SPEKTATE_AZDO_TOKEN", PAT)
        .env_remove("SPEKTATE_STORE")
        .env_remove("SPEKTATE_PARTITION_KEY")
        .env_remove("SPEKTATE_STORAGE_ACCOUNT")
        .env_remove("SPEKTATE_STORAGE_KEY")
        .env_remove("SPEKTATE_TABLE_NAME")
        .env_remove("SPEKTATE_TABLE_ENDPOINT")
        .env_remove("SPEKTATE_MANIFEST_REPO")
        .env_remove("SPEKTATE_GITHUB_TOKEN")
        .output()
        .expect("run spektate")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// bedrock-cli's storage flags for the Azurite table `deployments`, partition `demo`.
fn table_flags(az: &Azurite) -> Vec<String> {
    [
        "-n",
        "devstoreaccount1",
        "-t",
        "deployments",
        "-p",
        "demo",
        "--table-endpoint",
        &az.endpoint(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_with(flags: &[String], args: &[&str]) -> Output {
    // `get -t` is bedrock's --top: get names the table in full.
    let table = if args.first() == Some(&"get") {
        "--table-name"
    } else {
        "-t"
    };
    let all: Vec<&str> = args
        .iter()
        .copied()
        .chain(
            flags
                .iter()
                .map(|f| if f == "-t" { table } else { f.as_str() }),
        )
        .collect();
    spektate(&all)
}

fn build(id: u64, repo: &str, commit: &str) -> Value {
    json!({
        "_links": {"web": {"href": format!("https://dev.azure.com/fabrikam/hello/_build/results?buildId={id}")}},
        "id": id, "buildNumber": format!("20191031.{id}"), "status": "completed", "result": "succeeded",
        "queueTime": "2019-10-31T18:00:00Z", "startTime": "2019-10-31T18:00:10Z", "finishTime": "2019-10-31T18:05:00Z",
        "lastChangedDate": "2019-10-31T18:05:01Z", "sourceBranch": "refs/heads/master", "sourceVersion": commit,
        "definition": {"name": repo}, "requestedFor": {"displayName": "Samiya Akhtar"},
        "repository": {"type": "TfsGit", "name": repo, "url": format!("https://dev.azure.com/fabrikam/hello/_git/{repo}")}
    })
}

/// Azure DevOps with the runs, author, pull request and Flux tag of one journey.
async fn azure_devops() -> MockServer {
    let server = MockServer::start().await;
    let ok = |v: Value| ResponseTemplate::new(200).set_body_json(v);
    let builds = vec![
        build(
            6046,
            "hello-bedrock",
            "1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4",
        ),
        build(6051, "hld", "9d2ec1f0"),
    ];
    Mock::given(path("/fabrikam/hello/_apis/build/builds"))
        .respond_with(ok(json!({"count": 2, "value": builds})))
        .mount(&server)
        .await;
    let d = &fixture("raw-releases.json")[0];
    let mut release = d["release"].clone();
    release["releaseDefinition"] = d["releaseDefinition"].clone();
    release["environments"] = json!([{"name": "Dev", "status": "succeeded",
        "deploySteps": [{"status": "succeeded", "queuedOn": d["queuedOn"], "lastModifiedOn": d["lastModifiedOn"]}]}]);
    Mock::given(path("/fabrikam/hello/_apis/release/releases"))
        .respond_with(ok(json!({"count": 1, "value": [release]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/fabrikam/hello/_apis/git/repositories/hello-bedrock/commitsbatch",
        ))
        .respond_with(ok(
            json!({"count": 1, "value": [fixture("author-response.json")]}),
        ))
        .mount(&server)
        .await;
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/hld/pullrequests/1354",
    ))
    .respond_with(ok(fixture("pr-response.json")))
    .mount(&server)
    .await;
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/manifests/refs",
    ))
    .respond_with(ok(fixture("sync-response.json")))
    .mount(&server)
    .await;
    Mock::given(path("/fabrikam/hello/_apis/git/repositories/manifests/annotatedtags/0396d996eda4b2528dbda88dd8ab9c0bb6c27674"))
        .respond_with(ok(fixture("manifest-sync-tag-response.json")))
        .mount(&server)
        .await;
    Mock::given(path("/fabrikam/_apis/projects/hello"))
        .respond_with(ok(json!({"id": "f8a98d9c", "name": "hello"})))
        .mount(&server)
        .await;
    Mock::given(path("/fabrikam/hello/_apis/git/repositories/manifests"))
        .respond_with(ok(json!({"name": "manifests", "webUrl": "https://dev.azure.com/fabrikam/hello/_git/manifests"})))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_storage_flags_record_into_azurite_and_get_shows_linked_deployments() {
    let az = Azurite::start();
    let server = azure_devops().await;
    let flags = table_flags(&az);
    let key = ["-k", DEV_KEY];
    let p1 = ok(&run_with(
        &flags,
        &[
            &["record"][..],
            &key,
            &[
                "--p1",
                "6046",
                "--image-tag",
                "hello-bedrock-master-6046",
                "--commit-id",
                "1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4",
                "--service",
                "fabrikam/hello-bedrock",
                "--repository",
                "https://dev.azure.com/fabrikam/hello/_git/hello-bedrock",
            ],
        ]
        .concat(),
    ));
    let p2 = ok(&run_with(
        &flags,
        &[
            &["record"][..],
            &key,
            &[
                "--p2",
                "264",
                "--image-tag",
                "hello-bedrock-master-6046",
                "--hld-commit-id",
                "9d2ec1f0",
                "--env",
                "dev",
                "--pr",
                "1354",
                "--repository",
                "https://dev.azure.com/fabrikam/hello/_git/hld",
            ],
        ]
        .concat(),
    ));
    assert_eq!(p1.trim(), p2.trim(), "p2 linked to the p1 record");
    // The same table through a connection string.
    let connection = format!(
        "azure-table:DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};TableEndpoint={}",
        az.endpoint()
    );
    let p3 = ok(&spektate(&[
        "record",
        "--store",
        &connection,
        "-t",
        "deployments",
        "-p",
        "demo",
        "--p3",
        "6051",
        "--hld-commit-id",
        "9d2ec1f0",
    ]));
    assert_eq!(p3.trim(), p1.trim(), "p3 linked through the HLD commit");
    ok(&run_with(
        &flags,
        &[
            &["record"][..],
            &key,
            &[
                "--p3",
                "6051",
                "--manifest-commit-id",
                "ab4c9f1ccb67a82256763e32fba1e70c897bd82a",
                "--repository",
                "https://dev.azure.com/fabrikam/hello/_git/manifests",
            ],
        ]
        .concat(),
    ));

    let out = run_with(
        &flags,
        &[
            "get",
            "-k",
            DEV_KEY,
            "--org",
            "fabrikam",
            "--project",
            "hello",
            "--azdo-url",
            &server.uri(),
            "--manifest-repo",
            "https://dev.azure.com/fabrikam/hello/_git/manifests",
            "-o",
            "json",
        ],
    );
    let text = ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).trim().is_empty(),
        "no warnings: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ds: Value = serde_json::from_str(&text).unwrap();
    let ds = ds.as_array().unwrap();
    assert_eq!(ds.len(), 1, "{text}");
    let d = &ds[0];
    let shown = d.to_string();
    assert_eq!(d["status"], "complete", "{shown}");
    for want in [
        "Samiya Akhtar",
        "Updating samiya.frontend image tag to master-20200317.12.",
        "Release-211",
        "hello-bedrock-master-6046",
    ] {
        assert!(shown.contains(want), "{want} missing from {shown}");
    }
    assert_eq!(d["clusters"][0]["cluster"], "sync", "{shown}");
    assert!(!shown.contains(PAT) && !shown.contains(DEV_KEY));

    let table = ok(&run_with(
        &flags,
        &[
            "get",
            "--access-key",
            DEV_KEY,
            "--org",
            "fabrikam",
            "--project",
            "hello",
            "--azdo-url",
            &server.uri(),
            "-o",
            "wide",
        ],
    ));
    assert!(
        table.contains("hello-bedrock") && table.contains("Samiya Akhtar"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_checks_the_store_and_each_provider_one_line_each() {
    let az = Azurite::start();
    let server = azure_devops().await;
    let flags = table_flags(&az);
    let args = [
        "validate",
        "--access-key",
        DEV_KEY,
        "--org",
        "fabrikam",
        "--project",
        "hello",
        "--azdo-url",
        &server.uri(),
        "--manifest-repo",
        "https://dev.azure.com/fabrikam/hello/_git/manifests",
    ];
    let out = ok(&run_with(&flags, &args));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("store: ok") && lines[0].contains("deployments"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("azure-devops ") && lines[1].contains(": ok"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("repository https://dev.azure.com/fabrikam/hello/_git/manifests: ok"),
        "{out}"
    );

    // A wrong key and a rejected token: each line says why, the command fails.
    let rejecting = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401))
        .mount(&rejecting)
        .await;
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=";
    let bad = run_with(
        &flags,
        &[
            "validate",
            "--access-key",
            wrong,
            "--org",
            "fabrikam",
            "--project",
            "hello",
            "--azdo-url",
            &rejecting.uri(),
        ],
    );
    assert!(!bad.status.success());
    let text = String::from_utf8(bad.stdout).unwrap();
    assert!(
        text.contains("store: failed") && text.contains("account key was rejected"),
        "{text}"
    );
    assert!(
        text.contains("azure-devops") && text.contains("token was rejected"),
        "{text}"
    );
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(stderr.contains("2 of 2 checks failed"), "{stderr}");
    assert!(!text.contains(wrong) && !text.contains(PAT) && !stderr.contains(wrong));
}

#[test]
fn missing_storage_flags_are_named() {
    let out = spektate(&[
        "record",
        "-n",
        "devstoreaccount1",
        "-t",
        "deployments",
        "--p1",
        "1",
        "--image-tag",
        "t",
        "--commit-id",
        "c",
        "--service",
        "s",
    ]);
    assert!(!out.status.success());
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(
        e.contains("--access-key") && e.trim().lines().count() == 1,
        "{e}"
    );
    let out = spektate(&["get", "--store", "azure-table:UseDevelopmentStorage=true"]);
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success() && e.contains("--table-name"), "{e}");
}
