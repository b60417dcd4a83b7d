//! `spektate deployment ...` as a drop-in for `bedrock deployment ...`: every
//! `bedrock deployment create` line of bedrock-cli's documentation and pipeline templates
//! against Azurite and SQLite, bedrock's end-to-end check of `deployment get --build-id X -o
//! json`, its tables (golden files), `~/.bedrock/config.yaml`, the original dashboard's
//! `REACT_APP_*` variables with a token per role, `validate -s`, `onboard`, and the binary
//! called through a link named `bedrock`.

#[path = "../../spektate-azdo/tests/common/azurite.rs"]
#[allow(dead_code)]
mod azurite;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use azurite::Azurite;
use base64::Engine;
use serde_json::{Value, json};
use spektate_azdo::table::DEV_KEY;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PIPELINE_PAT: &str = "pipeline-pat-5d1c";
const SOURCE_PAT: &str = "source-repo-pat-77e0";
const MANIFEST_PAT: &str = "manifest-pat-9b42";
const MANIFEST_COMMIT: &str = "ab4c9f1ccb67a82256763e32fba1e70c897bd82a";

/// The `bedrock deployment create` lines, as bedrock-cli's docs and templates print them.
mod lines {
    /// `src/commands/deployment/create.md`, the three examples.
    pub const CREATE_MD_P1: &str = "bedrock deployment create  -n $AZURE_STORAGE_ACCOUNT_NAME -k $AZURE_ACCOUNT_KEY -t $AZURE_TABLE_NAME  -p $AZURE_TABLE_PARTITION_KEY --p1 $(Build.BuildId) --image-tag $tag_name --commit-id $commitId --service $service --repository $repourl";
    pub const CREATE_MD_P2: &str = "bedrock deployment create  -n $AZURE_STORAGE_ACCOUNT_NAME -k $AZURE_ACCOUNT_KEY -t $AZURE_TABLE_NAME  -p $AZURE_TABLE_PARTITION_KEY --p2 $(Build.BuildId) --hld-commit-id $latest_commit --env $(Build.SourceBranchName) --image-tag $tag_name --pr $pr_id --repository $repourl";
    pub const CREATE_MD_P3: &str = "bedrock deployment create  -n $AZURE_STORAGE_ACCOUNT_NAME -k $AZURE_ACCOUNT_KEY -t $AZURE_TABLE_NAME  -p $AZURE_TABLE_PARTITION_KEY --p3 $(Build.BuildId) --hld-commit-id $commitId --pr $pr_id --repository $repourl";
    /// `guides/service-introspection-onboarding.md`: the source build.
    pub const GUIDE_P1: &str = "./bedrock/bedrock deployment create -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY) --p1 $(Build.BuildId) --image-tag $tag_name --commit-id $commitId --service $service";
    /// The guide's release, option 1 (an Azure release pipeline).
    pub const GUIDE_P2_RELEASE: &str = "./bedrock/bedrock deployment create  -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY)  --p2 $(Release.ReleaseId) --hld-commit-id $latest_commit --env $(Release.EnvironmentName) --image-tag $(Build.BuildId)";
    /// The guide's release, option 2 (a stage of a multi-stage pipeline).
    pub const GUIDE_P2_STAGE: &str = "./bedrock/bedrock deployment create  -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY)  --p2 $(Build.BuildId) --hld-commit-id $latest_commit --env $(Build.SourceBranchName) --image-tag $tag_name";
    /// The guide's HLD manifest pipeline.
    pub const GUIDE_P3: &str = "./bedrock/bedrock deployment create -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY) --p3 $(Build.BuildId) --hld-commit-id $commitId --manifest-commit-id $latest_commit";
    /// `src/lib/fileutils.ts`: the service build pipeline template.
    pub const TEMPLATE_P1: &str = "./bedrock/bedrock deployment create -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY) --p1 $(Build.BuildId) --image-tag $tag_name --commit-id $commitId --service $service --repository $repourl";
    /// Its release stage.
    pub const TEMPLATE_P2: &str = "./bedrock/bedrock deployment create  -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY) --p2 $(Build.BuildId) --hld-commit-id $latest_commit --env $(Build.SourceBranchName) --image-tag $tag_name --pr $pr_id --repository $repourl";
    /// The HLD-to-manifest pipeline template, without and with the pull request.
    pub const TEMPLATE_P3: &str = "./bedrock/bedrock deployment create -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY) --p3 $(Build.BuildId) --hld-commit-id $commitId";
    pub const TEMPLATE_P3_PR: &str = "./bedrock/bedrock deployment create -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY) --p3 $(Build.BuildId) --hld-commit-id $commitId --pr $pullrequestid";
    /// Its manifest commit step.
    pub const TEMPLATE_P3_COMMIT: &str = "./bedrock/bedrock deployment create -n $(INTROSPECTION_ACCOUNT_NAME) -k $(INTROSPECTION_ACCOUNT_KEY) -t $(INTROSPECTION_TABLE_NAME) -p $(INTROSPECTION_PARTITION_KEY) --p3 $(Build.BuildId) --manifest-commit-id $latest_commit --repository $repourl";
}

const SOURCE: &str = "https://dev.azure.com/fabrikam/hello/_git/hello-bedrock";
const HLD: &str = "https://dev.azure.com/fabrikam/hello/_git/hld";
const MANIFESTS: &str = "https://dev.azure.com/fabrikam/hello/_git/manifests";

/// A pipeline step: a line and the pipeline's variables.
struct Step {
    line: &'static str,
    vars: &'static [(&'static str, &'static str)],
}

/// Four journeys through every line: create.md's (a classic release), the guide's classic
/// release, the guide's multi-stage pipeline with the template's p3, and the templates'
/// multi-stage pipeline with an approval pull request (bedrock's end-to-end journey).
const JOURNEYS: [&[Step]; 4] = [
    &[
        Step {
            line: lines::CREATE_MD_P1,
            vars: &[
                ("Build.BuildId", "6046"),
                ("tag_name", "hello-bedrock-master-6046"),
                ("commitId", "1bbcd91"),
                ("service", "hello-bedrock"),
                ("repourl", SOURCE),
            ],
        },
        Step {
            line: lines::CREATE_MD_P2,
            vars: &[
                ("Build.BuildId", "264"),
                ("latest_commit", "9d2ec1f"),
                ("Build.SourceBranchName", "dev"),
                ("tag_name", "hello-bedrock-master-6046"),
                ("pr_id", "1354"),
                ("repourl", HLD),
            ],
        },
        Step {
            line: lines::CREATE_MD_P3,
            vars: &[
                ("Build.BuildId", "6051"),
                ("commitId", "9d2ec1f"),
                ("pr_id", "1354"),
                ("repourl", HLD),
            ],
        },
        Step {
            line: lines::TEMPLATE_P3_COMMIT,
            vars: &[
                ("Build.BuildId", "6051"),
                ("latest_commit", MANIFEST_COMMIT),
                ("repourl", MANIFESTS),
            ],
        },
    ],
    &[
        Step {
            line: lines::GUIDE_P1,
            vars: &[
                ("Build.BuildId", "6060"),
                ("tag_name", "6060"),
                ("commitId", "2c4f8a1"),
                ("service", "hello-spektate"),
            ],
        },
        Step {
            line: lines::GUIDE_P2_RELEASE,
            vars: &[
                ("Release.ReleaseId", "265"),
                ("latest_commit", "5e1b7c2"),
                ("Release.EnvironmentName", "prod"),
                ("Build.BuildId", "6060"),
            ],
        },
        Step {
            line: lines::GUIDE_P3,
            vars: &[
                ("Build.BuildId", "6061"),
                ("commitId", "5e1b7c2"),
                ("latest_commit", "7f3e9a0"),
            ],
        },
    ],
    &[
        Step {
            line: lines::GUIDE_P1,
            vars: &[
                ("Build.BuildId", "6070"),
                ("tag_name", "hello-spektate-master-6070"),
                ("commitId", "3d5e6f7"),
                ("service", "hello-spektate"),
            ],
        },
        Step {
            line: lines::GUIDE_P2_STAGE,
            vars: &[
                ("Build.BuildId", "6070"),
                ("latest_commit", "6a7b8c9"),
                ("Build.SourceBranchName", "master"),
                ("tag_name", "hello-spektate-master-6070"),
            ],
        },
        Step {
            line: lines::TEMPLATE_P3,
            vars: &[("Build.BuildId", "6071"), ("commitId", "6a7b8c9")],
        },
    ],
    &[
        Step {
            line: lines::TEMPLATE_P1,
            vars: &[
                ("Build.BuildId", "6080"),
                ("tag_name", "hello-bedrock-master-6080"),
                ("commitId", "4e5f6a7"),
                ("service", "fabrikam/hello-bedrock"),
                ("repourl", SOURCE),
            ],
        },
        Step {
            line: lines::TEMPLATE_P2,
            vars: &[
                ("Build.BuildId", "6080"),
                ("latest_commit", "8b9c0d1"),
                ("Build.SourceBranchName", "master"),
                ("tag_name", "hello-bedrock-master-6080"),
                ("pr_id", "1355"),
                ("repourl", HLD),
            ],
        },
        Step {
            line: lines::TEMPLATE_P3_PR,
            vars: &[
                ("Build.BuildId", "6081"),
                ("commitId", "8b9c0d1"),
                ("pullrequestid", "1355"),
            ],
        },
        Step {
            line: lines::TEMPLATE_P3_COMMIT,
            vars: &[
                ("Build.BuildId", "6081"),
                ("latest_commit", "9c0d1e2"),
                ("repourl", MANIFESTS),
            ],
        },
    ],
];

/// Where the test records: Azurite through bedrock's storage flags, or SQLite through
/// `SPEKTATE_STORE` with the storage flags left out.
enum Target<'a> {
    Azurite(&'a Azurite),
    Sqlite(PathBuf),
}

/// The words of `line` after `deployment`, the pipeline's variables and the storage
/// settings filled in as a shell would.
fn expand(line: &str, vars: &[(&str, &str)], target: &Target) -> Vec<String> {
    let storage: HashMap<&str, String> = match target {
        Target::Azurite(_) => [
            (
                "devstoreaccount1",
                [
                    "$AZURE_STORAGE_ACCOUNT_NAME",
                    "$(INTROSPECTION_ACCOUNT_NAME)",
                ],
            ),
            (
                DEV_KEY,
                ["$AZURE_ACCOUNT_KEY", "$(INTROSPECTION_ACCOUNT_KEY)"],
            ),
            (
                "deployments",
                ["$AZURE_TABLE_NAME", "$(INTROSPECTION_TABLE_NAME)"],
            ),
            (
                "demo",
                [
                    "$AZURE_TABLE_PARTITION_KEY",
                    "$(INTROSPECTION_PARTITION_KEY)",
                ],
            ),
        ]
        .into_iter()
        .flat_map(|(v, names)| names.map(|n| (n, v.to_string())))
        .collect(),
        Target::Sqlite(_) => [
            ("$AZURE_TABLE_PARTITION_KEY", "demo".to_string()),
            ("$(INTROSPECTION_PARTITION_KEY)", "demo".to_string()),
        ]
        .into_iter()
        .collect(),
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "deployment").unwrap();
    let mut out = Vec::new();
    let mut i = at + 1;
    while i < words.len() {
        let w = words[i];
        if matches!(target, Target::Sqlite(_)) && ["-n", "-k", "-t"].contains(&w) {
            i += 2;
            continue;
        }
        let value = if let Some(v) = storage.get(w) {
            v.clone()
        } else if let Some(name) = w.strip_prefix("$(").and_then(|n| n.strip_suffix(')')) {
            lookup(vars, name, line)
        } else if let Some(name) = w.strip_prefix('$') {
            lookup(vars, name, line)
        } else {
            w.to_string()
        };
        out.push(value);
        i += 1;
    }
    out
}

fn lookup(vars: &[(&str, &str)], name: &str, line: &str) -> String {
    vars.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("no value for {name} in {line}"))
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_spektate")
}

/// The binary with a clean environment of Spektate and dashboard variables.
fn spektate() -> Command {
    clean(Command::new(bin()))
}

/// `cmd` without Spektate's and the dashboard's variables, in UTC.
fn clean(mut cmd: Command) -> Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("SPEKTATE_") || k.starts_with("REACT_APP_") || k == "PORT" {
            cmd.env_remove(k);
        }
    }
    cmd.env("TZ", "UTC");
    cmd
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn with_target(cmd: &mut Command, target: &Target, home: &Path) {
    cmd.env("HOME", home);
    match target {
        Target::Azurite(az) => {
            cmd.env("SPEKTATE_TABLE_ENDPOINT", az.endpoint());
        }
        Target::Sqlite(db) => {
            cmd.env("SPEKTATE_STORE", format!("sqlite:{}", db.display()));
        }
    }
}

/// Records every journey, each line as its pipeline runs it; the row keys, per journey.
fn record_all(target: &Target, home: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    for journey in JOURNEYS {
        let mut written = Vec::new();
        for step in journey {
            let args = expand(step.line, step.vars, target);
            let mut cmd = spektate();
            cmd.arg("deployment").args(&args);
            with_target(&mut cmd, target, home);
            let key = ok(&cmd.output().unwrap()).trim().to_string();
            assert_eq!(key.len(), 12, "{args:?}: {key}");
            written.push(key);
        }
        assert!(
            written.iter().all(|k| *k == written[0]),
            "every step of a journey links to one record: {written:?}"
        );
        keys.push(written[0].clone());
    }
    keys
}

fn fixture(name: &str) -> Value {
    let file = format!(
        "{}/../spektate-azdo/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

/// An Azure DevOps build (`GET _apis/build/builds`), queued `minute` minutes after 18:00
/// and taking `took` seconds.
fn build(id: u64, repo: &str, commit: &str, result: &str, minute: u32, took: u32) -> Value {
    let queued = 18 * 3600 + minute * 60;
    let at = |s: u32| {
        format!(
            "2019-10-31T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    };
    json!({
        "_links": {"web": {"href": format!("https://dev.azure.com/fabrikam/hello/_build/results?buildId={id}")}},
        "id": id, "buildNumber": format!("20191031.{id}"), "status": "completed", "result": result,
        "queueTime": at(queued), "startTime": at(queued + 10), "finishTime": at(queued + took),
        "lastChangedDate": at(queued + took + 1), "sourceBranch": "refs/heads/master", "sourceVersion": commit,
        "definition": {"name": repo}, "requestedFor": {"displayName": "Samiya Akhtar"},
        "repository": {"type": "TfsGit", "name": repo, "url": format!("https://dev.azure.com/fabrikam/hello/_git/{repo}")}
    })
}

/// A release of the fixture's shape with another id, name and times.
fn release(id: u64, name: &str, shift_minutes: i64) -> Value {
    let d = &fixture("raw-releases.json")[0];
    let mut release = d["release"].clone();
    release["id"] = json!(id);
    release["name"] = json!(name);
    release["releaseDefinition"] = d["releaseDefinition"].clone();
    let shift = |t: &Value| {
        let t: chrono::DateTime<chrono::Utc> = t.as_str().unwrap().parse().unwrap();
        json!(
            (t + chrono::Duration::minutes(shift_minutes))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    };
    release["environments"] = json!([{"name": "Dev", "status": "succeeded",
        "deploySteps": [{"status": "succeeded", "queuedOn": shift(&d["queuedOn"]), "lastModifiedOn": shift(&d["lastModifiedOn"])}]}]);
    release
}

/// Azure DevOps holding the journeys' runs, the source commits' author, both pull requests
/// (1354 merged, 1355 still open) and the manifest repository's Flux tag.
async fn azure_devops() -> MockServer {
    let server = MockServer::start().await;
    remount(&server).await;
    server
}

/// Mounts the journeys' Azure DevOps on `server`.
async fn remount(server: &MockServer) {
    let ok = |v: Value| ResponseTemplate::new(200).set_body_json(v);
    let builds = vec![
        build(6046, "hello-bedrock", "1bbcd91", "succeeded", 0, 205),
        build(6051, "hld", "9d2ec1f", "succeeded", 14, 71),
        build(6060, "hello-spektate", "2c4f8a1", "succeeded", 20, 130),
        build(6061, "hld", "5e1b7c2", "succeeded", 40, 62),
        build(6070, "hello-spektate", "3d5e6f7", "succeeded", 50, 341),
        build(6071, "hld", "6a7b8c9", "failed", 58, 45),
        build(6080, "hello-bedrock", "4e5f6a7", "succeeded", 70, 406),
        build(6081, "hld", "8b9c0d1", "succeeded", 80, 66),
    ];
    Mock::given(path("/fabrikam/hello/_apis/build/builds"))
        .respond_with(ok(json!({"count": builds.len(), "value": builds})))
        .mount(server)
        .await;
    let releases = vec![
        release(264, "Release-211", 0),
        release(265, "Release-212", 24),
    ];
    Mock::given(path("/fabrikam/hello/_apis/release/releases"))
        .respond_with(ok(json!({"count": 2, "value": releases})))
        .mount(server)
        .await;
    for repo in ["hello-bedrock", "hello-spektate", "hld"] {
        Mock::given(method("POST"))
            .and(path(format!(
                "/fabrikam/hello/_apis/git/repositories/{repo}/commitsbatch"
            )))
            .respond_with(ok(
                json!({"count": 1, "value": [fixture("author-response.json")]}),
            ))
            .mount(server)
            .await;
    }
    let merged = fixture("pr-response.json");
    let mut open = merged.clone();
    open["pullRequestId"] = json!(1355);
    open["status"] = json!("active");
    open["mergeStatus"] = json!("queued");
    for k in [
        "closedBy",
        "closedDate",
        "completionOptions",
        "lastMergeCommit",
    ] {
        open.as_object_mut().unwrap().remove(k);
    }
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/hld/pullrequests/1354",
    ))
    .respond_with(ok(merged))
    .mount(server)
    .await;
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/hld/pullrequests/1355",
    ))
    .respond_with(ok(open))
    .mount(server)
    .await;
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/manifests/refs",
    ))
    .respond_with(ok(fixture("sync-response.json")))
    .mount(server)
    .await;
    Mock::given(path("/fabrikam/hello/_apis/git/repositories/manifests/annotatedtags/0396d996eda4b2528dbda88dd8ab9c0bb6c27674"))
        .respond_with(ok(fixture("manifest-sync-tag-response.json")))
        .mount(server)
        .await;
}

/// `deployment get ARGS` against the fake Azure DevOps, with Spektate's own flags.
fn get(target: &Target, home: &Path, server: &MockServer, args: &[&str]) -> Output {
    let mut cmd = spektate();
    cmd.args(["deployment", "get"]).args(args).args([
        "--org",
        "fabrikam",
        "--project",
        "hello",
        "--azdo-url",
        &server.uri(),
        "--manifest-repo",
        MANIFESTS,
    ]);
    cmd.env("SPEKTATE_AZDO_TOKEN", PIPELINE_PAT);
    with_target(&mut cmd, target, home);
    match target {
        Target::Azurite(_) => {
            cmd.args([
                "-n",
                "devstoreaccount1",
                "-k",
                DEV_KEY,
                "--table-name",
                "deployments",
                "--partition-key",
                "demo",
            ]);
        }
        Target::Sqlite(_) => {
            cmd.args(["--partition-key", "demo"]);
        }
    }
    cmd.output().unwrap()
}

/// Each journey read back as one deployment with its runs linked.
fn assert_journeys(json: &str) {
    let ds: Value = serde_json::from_str(json).unwrap();
    let ds = ds.as_array().unwrap();
    assert_eq!(ds.len(), 4, "{json}");
    let by_p1 = |id: u64| {
        ds.iter()
            .find(|d| d["srcToDockerBuild"]["id"] == json!(id))
            .unwrap_or_else(|| panic!("no deployment of p1 {id}: {json}"))
    };
    let j1 = by_p1(6046);
    // A build and a release as the spektate package's IBuild and IRelease hold them.
    let build = &j1["srcToDockerBuild"];
    assert_eq!(
        (&build["status"], &build["result"]),
        (&json!("completed"), &json!("succeeded"))
    );
    assert_eq!(build["queueTime"], "2019-10-31T18:00:00.000Z");
    assert_eq!(build["startTime"], "2019-10-31T18:00:10.000Z");
    assert_eq!(build["finishTime"], "2019-10-31T18:03:25.000Z");
    assert_eq!(
        build["URL"],
        "https://dev.azure.com/fabrikam/hello/_build/results?buildId=6046"
    );
    let release = &j1["dockerToHldRelease"];
    assert_eq!(release["status"], "succeeded");
    assert_eq!(release["queueTime"], "2019-10-31T18:11:30.410Z");
    assert_eq!(release["finishTime"], "2019-10-31T18:13:07.600Z");
    assert_eq!(j1["dockerToHldRelease"]["id"], json!(264));
    assert_eq!(j1["dockerToHldRelease"]["releaseName"], "Release-211");
    assert_eq!(j1["hldToManifestBuild"]["id"], json!(6051));
    assert_eq!(j1["manifestCommitId"], MANIFEST_COMMIT);
    assert_eq!(j1["pr"], "1354");
    assert_eq!(j1["status"], "Complete");
    let j2 = by_p1(6060);
    assert_eq!(j2["dockerToHldRelease"]["id"], json!(265));
    assert_eq!(j2["hldToManifestBuild"]["id"], json!(6061));
    assert_eq!(j2["environment"], "prod");
    let j3 = by_p1(6070);
    assert_eq!(j3["dockerToHldReleaseStage"]["id"], json!(6070));
    assert_eq!(j3["hldToManifestBuild"]["result"], "failed");
    assert_eq!(j3["status"], "failed");
    let j4 = by_p1(6080);
    assert_eq!(j4["service"], "hello-bedrock", "org/name shown as name");
    assert_eq!(j4["dockerToHldReleaseStage"]["id"], json!(6080));
    assert_eq!(j4["hldToManifestBuild"]["id"], json!(6081));
    assert_eq!(j4["manifestCommitId"], "9c0d1e2");
    for d in ds {
        for k in [
            "commitId",
            "deploymentId",
            "environment",
            "hldCommitId",
            "imageTag",
            "manifestCommitId",
            "service",
            "timeStamp",
            "status",
            "endTime",
            "duration",
        ] {
            assert!(d.get(k).is_some(), "{k} missing from {d}");
        }
        assert!(!d.to_string().contains(DEV_KEY) && !d.to_string().contains(PIPELINE_PAT));
    }
}

/// bedrock's end-to-end check (`tests/validations.sh`): `deployment get --build-id X -o
/// json` returns the deployment of p1 X with its stage, manifest build and pull request.
fn assert_end_to_end(json: &str, p1: u64) {
    let ds: Value = serde_json::from_str(json).unwrap();
    let ds = ds.as_array().unwrap();
    assert_eq!(ds.len(), 1, "{json}");
    let src = &ds[0]["srcToDockerBuild"]["id"];
    let acr = &ds[0]["dockerToHldReleaseStage"]["id"];
    let hld = &ds[0]["hldToManifestBuild"]["id"];
    let pr = &ds[0]["pr"];
    assert_eq!(src, &json!(p1), "jq prints it as $pipeline1id: {json}");
    assert_eq!(acr, src);
    assert!(hld.is_u64(), "{json}");
    assert!(pr.is_string() && pr != "", "{json}");
}

fn golden(name: &str, actual: &str) {
    let file = format!(
        "{}/tests/fixtures/bedrock/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("SPEKTATE_BLESS").is_some() {
        std::fs::write(&file, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(actual, expected, "{name} differs from {file}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_create_line_of_bedrocks_docs_and_templates_records_into_azurite() {
    let az = Azurite::start();
    let home = tempfile::tempdir().unwrap();
    let target = Target::Azurite(&az);
    let keys = record_all(&target, home.path());
    assert_eq!(
        keys.iter().collect::<std::collections::HashSet<_>>().len(),
        4
    );
    let server = azure_devops().await;

    let out = get(&target, home.path(), &server, &["-o", "json"]);
    assert_journeys(&ok(&out));
    let out = get(
        &target,
        home.path(),
        &server,
        &["--build-id", "6080", "-o", "json"],
    );
    assert_end_to_end(&ok(&out), 6080);

    // bedrock's tables, as golden files.
    let normal = ok(&get(&target, home.path(), &server, &[]));
    golden("get-normal.txt", &normal);
    let wide = ok(&get(&target, home.path(), &server, &["-o", "wide"]));
    golden("get-wide.txt", &wide);
    let bare = ok(&get(&target, home.path(), &server, &["-o", "wide", "-h"]));
    golden("get-wide-hide-separators.txt", &bare);
    let top = ok(&get(
        &target,
        home.path(),
        &server,
        &["-t", "1", "-r", "master", "-s", "hello-bedrock"],
    ));
    assert_eq!(top.lines().count(), 2, "heading and one row: {top}");
    assert!(top.contains("hello-bedrock-master-6080"), "{top}");
    let none = ok(&get(&target, home.path(), &server, &["-i", "no-such-tag"]));
    assert_eq!(none, "No deployments found for specified filters.\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_create_line_records_into_sqlite_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::Sqlite(dir.path().join("spektate.db"));
    record_all(&target, dir.path());
    let server = azure_devops().await;
    let out = get(&target, dir.path(), &server, &["-o", "json"]);
    assert_journeys(&ok(&out));
    let out = get(&target, dir.path(), &server, &["-b", "6080", "-o", "json"]);
    assert_end_to_end(&ok(&out), 6080);
    let normal = ok(&get(&target, dir.path(), &server, &[]));
    golden("get-normal.txt", &normal);

    // -w prints the table again every 5 seconds, as bedrock's watch did.
    let mut cmd = spektate();
    cmd.args(["deployment", "get", "-w", "-h", "--partition-key", "demo"])
        .args([
            "--org",
            "fabrikam",
            "--project",
            "hello",
            "--azdo-url",
            &server.uri(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    with_target(&mut cmd, &target, dir.path());
    let mut watching = Server(cmd.spawn().unwrap());
    let lines = BufReader::new(watching.0.stdout.take().unwrap()).lines();
    let mut headings = Vec::new();
    for line in lines {
        if line.unwrap().starts_with("Status") {
            headings.push(std::time::Instant::now());
            if headings.len() == 2 {
                break;
            }
        }
    }
    let between = headings[1] - headings[0];
    assert!(
        between >= Duration::from_millis(4500) && between < Duration::from_secs(15),
        "{between:?}"
    );
}

/// Records journey 4 (the templates' multi-stage pipeline) with `deployment create`, the
/// storage flags left to `extra` and the environment.
fn record_journey_four(home: &Path, env: &[(&str, String)], extra: &[&str]) -> String {
    let mut key = String::new();
    for step in JOURNEYS[3] {
        let args = expand(step.line, step.vars, &Target::Sqlite(PathBuf::new()));
        let args: Vec<String> = {
            // Without -p: the partition comes from the settings too.
            let mut a = Vec::new();
            let mut i = 0;
            while i < args.len() {
                if args[i] == "-p" {
                    i += 2;
                    continue;
                }
                a.push(args[i].clone());
                i += 1;
            }
            a
        };
        let mut cmd = spektate();
        cmd.arg("deployment")
            .args(&args)
            .args(extra)
            .env("HOME", home);
        for (k, v) in env {
            cmd.env(k, v);
        }
        key = ok(&cmd.output().unwrap()).trim().to_string();
    }
    key
}

fn basic(token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(":{token}"))
    )
}

/// The tokens each path of the fake Azure DevOps was asked with.
async fn tokens_by_path(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let auth = r
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            (r.url.path().to_string(), auth)
        })
        .collect()
}

fn asked_with(seen: &[(String, String)], path_part: &str, token: &str) {
    let matching: Vec<&(String, String)> =
        seen.iter().filter(|(p, _)| p.contains(path_part)).collect();
    assert!(!matching.is_empty(), "{path_part} was not asked: {seen:?}");
    for (p, auth) in matching {
        assert_eq!(auth, &basic(token), "{p} was asked with another token");
    }
}

const SETTINGS: &str = r#"# bedrock init's file, with its ${env:...} references
azure_devops:
  org: "${env:AZDO_ORG}"
  project: hello
  access_token: "${env:ACCESS_TOKEN_SECRET}"
  manifest_repository: "https://dev.azure.com/${env:AZDO_ORG}/hello/_git/manifests"
infra:
  terraform: "v0.12.6"
introspection:
  dashboard:
    image: "samiyaakhtar/spektate:prod"
  azure:
    account_name: "${env:AZ_STORAGE_ACCOUNT}"
    table_name: deployments
    partition_key: demo
    key: "${env:sa_access_key}"
    source_repo_access_token: "${env:SOURCE_TOKEN}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrocks_settings_file_drives_create_get_and_validate_self_test() {
    let az = Azurite::start();
    let server = azure_devops().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".bedrock")).unwrap();
    std::fs::write(home.path().join(".bedrock/config.yaml"), SETTINGS).unwrap();
    let env = vec![
        ("AZDO_ORG", "fabrikam".to_string()),
        ("ACCESS_TOKEN_SECRET", PIPELINE_PAT.to_string()),
        ("AZ_STORAGE_ACCOUNT", "devstoreaccount1".to_string()),
        ("sa_access_key", DEV_KEY.to_string()),
        ("SOURCE_TOKEN", SOURCE_PAT.to_string()),
        ("SPEKTATE_TABLE_ENDPOINT", az.endpoint()),
        ("SPEKTATE_AZDO_URL", server.uri()),
    ];
    let run = |args: &[&str], env: &[(&str, String)]| {
        let mut cmd = spektate();
        cmd.args(args).env("HOME", home.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // Pipelines that name no storage account record into the configured one.
    record_journey_four(home.path(), &env, &[]);

    let out = ok(&run(
        &["deployment", "get", "--build-id", "6080", "-o", "json"],
        &env,
    ));
    assert_end_to_end(&out, 6080);
    let seen = tokens_by_path(&server).await;
    asked_with(&seen, "/_apis/build/builds", PIPELINE_PAT);
    asked_with(&seen, "/pullrequests/1355", SOURCE_PAT);
    asked_with(&seen, "/manifests/refs", SOURCE_PAT);

    // validate, then its self-test in a probe partition that is left empty.
    let out = ok(&run(&["deployment", "validate"], &env));
    assert_eq!(out, "Configuration validation: SUCCEEDED\n");
    let out = ok(&run(&["deployment", "v", "-s"], &env));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "Configuration validation: SUCCEEDED",
            "Writing self-test data for introspection...",
            "Adding src to ACR data to service introspection...",
            "Adding ACR to HLD data to service introspection...",
            lines[4],
            "Deleting self-test data...",
            "Finished running self-test. Service introspection self-test status: SUCCEEDED.",
        ],
        "{out}"
    );
    assert!(
        lines[4].starts_with("Read the self-test data back as one deployment ("),
        "{out}"
    );
    let probe = ok(&run(
        &[
            "deployment",
            "get",
            "--partition-key",
            "demo~probe",
            "-o",
            "json",
        ],
        &env,
    ));
    assert_eq!(probe.trim(), "[]", "the self-test's rows are deleted");
    let demo = ok(&run(&["deployment", "get", "-o", "json"], &env));
    assert_eq!(
        serde_json::from_str::<Value>(&demo)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1,
        "the configured partition is untouched: {demo}"
    );

    // A reference to a variable that is not set is named, with its setting.
    let without: Vec<(&str, String)> = env
        .iter()
        .filter(|(k, _)| *k != "sa_access_key")
        .cloned()
        .collect();
    let out = run(&["deployment", "get"], &without);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("introspection.azure.key") && err.contains("sa_access_key"),
        "{err}"
    );
    assert!(!err.contains(DEV_KEY) && !err.contains(PIPELINE_PAT));

    // -n names the account; the key, table and partition it leaves unset come from the
    // file, as bedrock took them.
    let named = [
        "deployment",
        "create",
        "-n",
        "devstoreaccount1",
        "--p1",
        "7001",
        "--image-tag",
        "hello-bedrock-7001",
        "--commit-id",
        "a1b2c3d",
        "--service",
        "hello-bedrock",
    ];
    let key = ok(&run(&named, &env));
    let got = ok(&run(
        &["deployment", "get", "--build-id", "7001", "-o", "json"],
        &env,
    ));
    assert!(got.contains(key.trim()), "{got}");
    // With the account named, a file that cannot be read is set aside, and the warning says
    // why when a value is then missing.
    let out = run(&named, &without);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.yaml is not read") && err.contains("sa_access_key"),
        "{err}"
    );
}

/// A GET over plain HTTP/1.1: status line and body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// Stops the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_dashboards_variables_drive_dashboard_and_serve_with_a_token_per_role() {
    let az = Azurite::start();
    let server = azure_devops().await;
    let home = tempfile::tempdir().unwrap();
    let flags = [
        "-n",
        "devstoreaccount1",
        "-k",
        DEV_KEY,
        "-t",
        "deployments",
        "-p",
        "demo",
        "--table-endpoint",
        &az.endpoint(),
    ];
    record_journey_four(home.path(), &[], &flags);

    for command in ["dashboard", "serve"] {
        let body = serve_with_dashboard_env(command, home.path(), &az, &server);
        assert!(
            body.contains("hello-bedrock-master-6080") && body.contains("20191031.6081"),
            "{command}: the runs are read: {body}"
        );
        assert!(!body.contains(DEV_KEY) && !body.contains(PIPELINE_PAT));
        let seen = tokens_by_path(&server).await;
        asked_with(&seen, "/_apis/build/builds", PIPELINE_PAT);
        asked_with(&seen, "/pullrequests/1355", SOURCE_PAT);
        asked_with(&seen, "/manifests/refs", MANIFEST_PAT);
        server.reset().await;
        remount(&server).await;
    }
}

/// Starts `command` (`dashboard` or `serve`) with only the original dashboard's variables
/// and `PORT=0`, and returns `/api/deployments` once it shows journey 4's runs.
fn serve_with_dashboard_env(
    command: &str,
    home: &Path,
    az: &Azurite,
    server: &MockServer,
) -> String {
    let child = spektate()
        .arg(command)
        .env("HOME", home)
        .env("REACT_APP_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
        .env("REACT_APP_STORAGE_ACCESS_KEY", DEV_KEY)
        .env("REACT_APP_STORAGE_TABLE_NAME", "deployments")
        .env("REACT_APP_STORAGE_PARTITION_KEY", "demo")
        .env("REACT_APP_PIPELINE_ORG", "fabrikam")
        .env("REACT_APP_PIPELINE_PROJECT", "hello")
        .env("REACT_APP_PIPELINE_ACCESS_TOKEN", PIPELINE_PAT)
        .env("REACT_APP_SOURCE_REPO_ACCESS_TOKEN", SOURCE_PAT)
        .env("REACT_APP_MANIFEST_ACCESS_TOKEN", MANIFEST_PAT)
        .env("REACT_APP_MANIFEST", "manifests")
        .env("REACT_APP_CACHE_REFRESH_INTERVAL_IN_SEC", "1")
        .env("PORT", "0")
        .env("SPEKTATE_TABLE_ENDPOINT", az.endpoint())
        .env("SPEKTATE_AZDO_URL", server.uri())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Server(child);
    let mut line = String::new();
    BufReader::new(running.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("partition demo"), "{command}: {line}");
    if command == "dashboard" {
        assert!(line.contains("refreshing every 1 s"), "{line}");
    }
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split([' ', '/']).next())
        .unwrap()
        .to_string();
    let mut body = String::new();
    for _ in 0..60 {
        let (status, b) = http_get(&addr, "/api/deployments");
        assert_eq!(status, "HTTP/1.1 200 OK", "{command}: {b}");
        body = b;
        if body.contains("hello-bedrock-master-6080") && body.contains("20191031.6081") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboard_creates_the_table_in_an_existing_account_and_saves_it() {
    let az = Azurite::start();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".bedrock")).unwrap();
    std::fs::write(
        home.path().join(".bedrock/config.yaml"),
        "key_vault_name: fabrikam-kv\nintrospection:\n  azure:\n    partition_key: demo\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        spektate()
            .args(args)
            .env("HOME", home.path())
            .env("SPEKTATE_TABLE_ENDPOINT", az.endpoint())
            .output()
            .unwrap()
    };
    let out = run(&[
        "deployment",
        "onboard",
        "-s",
        "devstoreaccount1",
        "-t",
        "onboarded",
        "-l",
        "westus",
        "-r",
        "fabrikam-rg",
        "--subscription-id",
        "0000",
        "--service-principal-id",
        "sp",
        "--service-principal-password",
        "sp-secret-31",
        "--tenant-id",
        "tenant",
        "-k",
        DEV_KEY,
    ]);
    let said = ok(&out);
    assert!(
        said.contains("Table onboarded is ready in the existing storage account devstoreaccount1."),
        "{said}"
    );
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("management API") && !note.contains("sp-secret-31"),
        "{note}"
    );
    let saved = std::fs::read_to_string(home.path().join(".bedrock/config.yaml")).unwrap();
    assert!(
        saved.contains("account_name: devstoreaccount1")
            && saved.contains("table_name: onboarded")
            && saved.contains("key_vault_name: fabrikam-kv")
            && saved.contains("partition_key: demo"),
        "{saved}"
    );
    assert!(!saved.contains(DEV_KEY), "the key is not written: {saved}");

    // The saved account and table take the records: only the key is given.
    ok(&run(&[
        "deployment",
        "create",
        "-k",
        DEV_KEY,
        "--p1",
        "7001",
        "--image-tag",
        "web-7001",
        "--commit-id",
        "0a1b2c3",
        "--service",
        "web",
    ]));
    let got = ok(&run(&["deployment", "get", "-k", DEV_KEY, "-o", "json"]));
    assert!(got.contains("web-7001"), "{got}");

    // An account that cannot be reached: the command says it creates no account.
    let out = spektate()
        .args([
            "deployment",
            "onboard",
            "-s",
            "devstoreaccount1",
            "-t",
            "other",
            "-k",
            DEV_KEY,
            "--table-endpoint",
            "http://127.0.0.1:9/devstoreaccount1",
        ])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("existing storage account") && err.contains("management API"),
        "{err}"
    );
    let e = String::from_utf8_lossy(
        &run(&[
            "deployment",
            "onboard",
            "-s",
            "devstoreaccount1",
            "-t",
            "no",
            "-k",
            DEV_KEY,
        ])
        .stderr,
    )
    .to_string();
    assert!(
        e.contains("--storage-table-name") && e.contains("'no'"),
        "{e}"
    );
}

#[test]
fn spektates_own_commands_take_bedrocks_short_flags_without_traps() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let run = |args: &[&str]| {
        spektate()
            .args(args)
            .env("SPEKTATE_STORE", &store)
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    // Store flags before or after the subcommand, and before `run`.
    ok(&run(&[
        "-p",
        "demo",
        "record",
        "--p1",
        "11",
        "--image-tag",
        "web-11",
        "--commit-id",
        "c11",
        "--service",
        "web",
    ]));
    ok(&run(&[
        "record",
        "--p1",
        "12",
        "--image-tag",
        "api-12",
        "--commit-id",
        "c12",
        "--service",
        "api",
        "-p",
        "demo",
    ]));
    ok(&run(&[
        "record",
        "--p2",
        "12",
        "--image-tag",
        "api-12",
        "--hld-commit-id",
        "h12",
        "--env",
        "dev",
        "-p",
        "demo",
    ]));
    ok(&run(&[
        "record",
        "-p",
        "demo",
        "run",
        "--id",
        "11",
        "--status",
        "completed",
    ]));
    let e = String::from_utf8_lossy(
        &run(&[
            "record",
            "--p1",
            "13",
            "run",
            "--id",
            "13",
            "--status",
            "completed",
        ])
        .stderr,
    )
    .to_string();
    assert!(e.contains("--p1") && e.contains("record run"), "{e}");

    // `get -t` is the top, `-r` the ring, as in bedrock's get.
    let top: Value =
        serde_json::from_str(&ok(&run(&["get", "-p", "demo", "-t", "1", "-o", "json"]))).unwrap();
    assert_eq!(top.as_array().unwrap().len(), 1);
    let ring: Value =
        serde_json::from_str(&ok(&run(&["get", "-p", "demo", "-r", "dev", "-o", "json"]))).unwrap();
    assert_eq!(ring.as_array().unwrap().len(), 1);
    assert!(ring.to_string().contains("api-12"), "{ring}");
    let help = ok(&run(&["get", "--help"]));
    assert!(
        help.contains("-t, --top") && help.contains("--table-name"),
        "{help}"
    );
    assert!(
        !help.contains("-t, --table-name") && !help.contains("-h, --help"),
        "{help}"
    );
    let help = ok(&run(&["dashboard", "--help"]));
    assert!(
        help.contains("-p, --port") && help.contains("--partition-key"),
        "{help}"
    );
    assert!(!help.contains("-p, --partition-key"), "{help}");
    // `validate -s`, bedrock's self-test: Spektate's probe.
    let out = ok(&run(&["validate", "-s", "-p", "demo"]));
    assert!(
        out.contains("wrote, read back and deleted a probe record"),
        "{out}"
    );
    // Store flags before `deployment` are refused, not dropped.
    let e = String::from_utf8_lossy(&run(&["-p", "demo", "deployment", "get"]).stderr).to_string();
    assert!(
        e.contains("--partition-key") && e.contains("before `deployment`"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn a_link_named_bedrock_runs_bedrock_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("bedrock");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let run = |args: &[&str]| {
        clean(Command::new(&link))
            .args(args)
            .env("SPEKTATE_STORE", &store)
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    let help = ok(&run(&["deployment", "get", "--help"]));
    assert!(help.contains("Usage: bedrock deployment get"), "{help}");
    // bedrock's one-letter aliases of the two subcommands not run below.
    for (alias, name) in [("d", "dashboard"), ("o", "onboard")] {
        let help = ok(&run(&["deployment", alias, "--help"]));
        assert!(
            help.contains(&format!("Usage: bedrock deployment {name}")),
            "{alias}: {help}"
        );
    }
    assert!(
        help.contains("-h, --hide-separators") && help.contains("[default: 50]"),
        "{help}"
    );
    let key = ok(&run(&[
        "deployment",
        "c",
        "-p",
        "demo",
        "--p1",
        "21",
        "--image-tag",
        "web-21",
        "--commit-id",
        "c21",
        "--service",
        "web",
    ]));
    let got = ok(&run(&[
        "deployment",
        "g",
        "--partition-key",
        "demo",
        "-o",
        "json",
    ]));
    assert!(got.contains(key.trim()) && got.contains("web-21"), "{got}");
    let e =
        String::from_utf8_lossy(&run(&["deployment", "create", "-p", "demo", "--p3", "5"]).stderr)
            .to_string();
    assert!(
        e.contains("--hld-commit-id") && e.contains("--manifest-commit-id"),
        "{e}"
    );
}

/// A table the original GitHub Actions pipelines wrote holds job ids: `deployment get`
/// reads a bare id that is not a run of its repository as a job, with one more request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_get_reads_a_recorded_github_job_id_as_the_job() {
    let server = MockServer::start().await;
    let api = "/api/v3/repos/andrebriggs/spartan-app";
    let job = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spektate-github/tests/fixtures/gh-actions-1115488431.json"
    ))
    .unwrap();
    Mock::given(method("GET"))
        .and(path(format!("{api}/actions/runs/1115488431")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 1, "name": "spartan-app", "full_name": "andrebriggs/spartan-app", "private": false}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{api}/actions/jobs/1115488431")))
        .respond_with(ResponseTemplate::new(200).set_body_string(job))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let host = server.uri();
    let repo = format!("{host}/andrebriggs/spartan-app");
    let run = |args: &[&str]| {
        spektate()
            .args(args)
            .env("SPEKTATE_STORE", &store)
            .env("HOME", dir.path())
            .env("SPEKTATE_GITHUB_TOKEN", "ghp_test")
            .output()
            .unwrap()
    };
    ok(&run(&[
        "deployment",
        "create",
        "-p",
        "demo",
        "--p1",
        "1115488431",
        "--image-tag",
        "spartan-app-1115488431",
        "--commit-id",
        "32b0b95",
        "--service",
        "spartan-app",
        "--repository",
        &repo,
    ]));
    let out = ok(&run(&[
        "deployment",
        "get",
        "--partition-key",
        "demo",
        "-o",
        "json",
        "--github-url",
        &host,
    ]));
    let ds: Value = serde_json::from_str(&out).unwrap();
    let build = &ds[0]["srcToDockerBuild"];
    assert_eq!(build["id"], json!(1115488431u64), "{out}");
    assert_eq!(build["result"], "succeeded", "{out}");
    assert_eq!(
        build["URL"],
        "https://github.com/andrebriggs/spartan-app/runs/1115488431"
    );
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        asked
            .iter()
            .filter(|p| p.ends_with("/actions/jobs/1115488431"))
            .count(),
        1,
        "{asked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_dashboard_serves_the_configured_table_in_this_process() {
    let az = Azurite::start();
    let server = azure_devops().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".bedrock")).unwrap();
    std::fs::write(home.path().join(".bedrock/config.yaml"), SETTINGS).unwrap();
    let env = vec![
        ("AZDO_ORG", "fabrikam".to_string()),
        ("ACCESS_TOKEN_SECRET", PIPELINE_PAT.to_string()),
        ("AZ_STORAGE_ACCOUNT", "devstoreaccount1".to_string()),
        ("sa_access_key", DEV_KEY.to_string()),
        ("SOURCE_TOKEN", SOURCE_PAT.to_string()),
        ("SPEKTATE_TABLE_ENDPOINT", az.endpoint()),
        ("SPEKTATE_AZDO_URL", server.uri()),
    ];
    record_journey_four(home.path(), &env, &[]);
    let mut cmd = spektate();
    cmd.args(["deployment", "dashboard", "-p", "0", "-r"])
        .env("HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut running = Server(cmd.spawn().unwrap());
    let mut line = String::new();
    BufReader::new(running.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("partition demo"), "{line}");
    let mut note = String::new();
    BufReader::new(running.0.stderr.take().unwrap())
        .read_line(&mut note)
        .unwrap();
    assert!(
        note.contains("--remove-all") && note.contains("runs in this process"),
        "{note}"
    );
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split([' ', '/']).next())
        .unwrap()
        .to_string();
    let mut body = String::new();
    for _ in 0..60 {
        body = http_get(&addr, "/api/deployments").1;
        if body.contains("20191031.6081") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        body.contains("hello-bedrock-master-6080") && body.contains("20191031.6081"),
        "{body}"
    );
    let seen = tokens_by_path(&server).await;
    asked_with(&seen, "/_apis/build/builds", PIPELINE_PAT);
    asked_with(&seen, "/pullrequests/1355", SOURCE_PAT);
}

/// `azure_devops.access_token` of `~/.bedrock/config.yaml` is an Azure DevOps token:
/// `deployment get` reading GitHub (`--github-url`, `--github`) or GitLab (`--gitlab-url`)
/// never sends it there, in any header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_files_azure_devops_token_never_goes_to_github_or_gitlab() {
    const AZDO_PAT: &str = "AZDOPATSECRET";
    let server = MockServer::start().await;
    let azdo = azure_devops().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".bedrock")).unwrap();
    std::fs::write(
        home.path().join(".bedrock/config.yaml"),
        format!("azure_devops:\n  org: fabrikam\n  project: hello\n  access_token: {AZDO_PAT}\n"),
    )
    .unwrap();
    let store = format!("sqlite:{}", home.path().join("s.db").display());
    let host = server.uri();
    let run = |args: &[&str]| {
        spektate()
            .args(args)
            .env("SPEKTATE_STORE", &store)
            .env("HOME", home.path())
            .env("SPEKTATE_AZDO_URL", azdo.uri())
            .output()
            .unwrap()
    };
    for (p1, repo) in [
        ("4242", format!("{host}/andrebriggs/spartan-app")),
        ("4343", format!("{host}/group/spartan-app")),
    ] {
        ok(&run(&[
            "deployment",
            "create",
            "-p",
            "demo",
            "--p1",
            p1,
            "--image-tag",
            &format!("spartan-app-{p1}"),
            "--commit-id",
            "32b0b95",
            "--service",
            "spartan-app",
            "--repository",
            &repo,
        ]));
    }
    // A build of Azure DevOps, which the token is for.
    ok(&run(&[
        "deployment",
        "create",
        "-p",
        "demo",
        "--p1",
        "6046",
        "--image-tag",
        "hello-6046",
        "--commit-id",
        "1bbcd91",
        "--service",
        "hello",
    ]));
    for flags in [
        vec!["--github-url", host.as_str()],
        vec!["--github", "--github-url", host.as_str()],
        vec!["--gitlab-url", host.as_str()],
        vec!["--gitlab", "--gitlab-url", host.as_str()],
    ] {
        server.reset().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
            .mount(&server)
            .await;
        let mut args = vec!["deployment", "get", "--partition-key", "demo", "-o", "json"];
        args.extend(&flags);
        let out = run(&args);
        let asked = server.received_requests().await.unwrap();
        assert!(
            !asked.is_empty(),
            "{flags:?}: the fake host was not asked: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for r in &asked {
            for (name, value) in &r.headers {
                let value = value.to_str().unwrap_or_default();
                let decoded = value
                    .strip_prefix("Basic ")
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                assert!(
                    !value.contains(AZDO_PAT) && !decoded.contains(AZDO_PAT),
                    "{flags:?}: {} was asked with the Azure DevOps token in {name}",
                    r.url.path()
                );
            }
        }
    }
    // Azure DevOps still reads with it.
    asked_with(
        &tokens_by_path(&azdo).await,
        "/_apis/build/builds",
        AZDO_PAT,
    );
}

/// `deployment onboard` rewrites `~/.bedrock/config.yaml`, which holds the storage key and
/// the Azure DevOps token: a file only its owner reads stays so, and a new one is made so.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboard_keeps_the_settings_file_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let table = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/devstoreaccount1/Tables"))
        .respond_with(ResponseTemplate::new(409).set_body_json(
            json!({"odata.error": {"code": "TableAlreadyExists", "message": {"value": "exists"}}}),
        ))
        .mount(&table)
        .await;
    let endpoint = format!("{}/devstoreaccount1", table.uri());
    let onboard = |home: &Path| {
        spektate()
            .args([
                "deployment",
                "onboard",
                "-s",
                "devstoreaccount1",
                "-t",
                "onboarded",
                "-k",
                DEV_KEY,
                "--table-endpoint",
                &endpoint,
            ])
            .env("HOME", home)
            .output()
            .unwrap()
    };
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".bedrock/config.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "azure_devops:\n  access_token: AZDOPATSECRET\nintrospection:\n  azure:\n    key: storage-key\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(&onboard(home.path()));
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.contains("table_name: onboarded") && saved.contains("AZDOPATSECRET"),
        "{saved}"
    );
    assert_eq!(mode(&file), 0o600, "an owner-only file stays owner-only");

    let fresh = tempfile::tempdir().unwrap();
    ok(&onboard(fresh.path()));
    let file = fresh.path().join(".bedrock/config.yaml");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("account_name: devstoreaccount1")
    );
    assert_eq!(mode(&file), 0o600, "a new settings file is owner-only");
}
