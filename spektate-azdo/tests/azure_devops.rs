//! The Azure DevOps providers against a mock server answering with captured responses and
//! responses built in the documented shapes.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fixtures::{fast, list, load, release, tfs_build};
use serde_json::{Value, json};
use spektate_azdo::releases::artifact_image;
use spektate_azdo::{AzureDevOps, AzureRepos};
use spektate_core::http::Secret;
use spektate_core::testkit::requests;
use spektate_core::warnings::{Subject, collect_notices};
use spektate_core::{
    Error, Filter, MemoryStore, Pipelines, Record, RecordStore, RepoHost, RepoRef, Repositories,
    RunKind, RunResult, RunStatus, StepState, Tracker,
};
use wiremock::matchers::{body_json, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PAT: &str = "azdo-pat-7f3e2d1a";

fn pipelines(server: &MockServer) -> AzureDevOps {
    AzureDevOps::builder(format!("{}/fabrikam", server.uri()), "hello")
        .token(Secret::new(PAT))
        .policy(fast())
        .build()
        .unwrap()
}

fn repos(server: &MockServer) -> AzureRepos {
    AzureRepos::builder()
        .base_url(server.uri())
        .token(Secret::new(PAT))
        .policy(fast())
        .build()
        .unwrap()
}

fn hld() -> RepoRef {
    RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/hld").unwrap()
}

const BUILDS: &str = "/fabrikam/hello/_apis/build/builds";

#[tokio::test]
async fn builds_of_a_github_repository_come_back_with_branch_commit_and_requester() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(BUILDS))
        .and(query_param("buildIds", "7176,7271"))
        .and(query_param("api-version", "6.0"))
        .and(header(
            "authorization",
            format!("Basic {}", b64(&format!(":{PAT}"))).as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(list(load("raw-builds.json").as_array().unwrap().clone())),
        )
        .expect(1)
        .mount(&server)
        .await;
    let batch = pipelines(&server)
        .runs(RunKind::Build, &requests(&["7271", "7176"]))
        .await
        .unwrap();
    assert!(
        batch.not_found.is_empty() && batch.failed.is_empty(),
        "{batch:?}"
    );
    let run = &batch.found["7176"];
    assert_eq!(run.number.as_deref(), Some("20191030.1"));
    assert_eq!(
        (run.status, run.result),
        (RunStatus::Completed, Some(RunResult::Succeeded))
    );
    assert_eq!(run.source_branch.as_deref(), Some("master"));
    assert_eq!(
        run.source_commit.as_deref(),
        Some("f19cb81f889d8d29dd21d860df04967fdf5af567")
    );
    assert_eq!(run.requested_by.as_deref(), Some("Samiya Akhtar"));
    assert_eq!(run.pipeline.as_deref(), Some("edaena.spartan-app"));
    assert_eq!(
        run.url.as_deref(),
        Some(
            "https://dev.azure.com/epicstuff/f8a98d9c-8f11-46ef-89e4-07b4a56d1ad5/_build/results?buildId=7176"
        )
    );
    let repo = run
        .repository
        .as_ref()
        .expect("the GitHub repository is kept");
    assert_eq!(
        (repo.provider, repo.owner.as_str(), repo.name.as_str()),
        (RepoHost::GitHub, "edaena", "spartan-app")
    );
    assert_eq!(
        run.queued_at.unwrap().to_rfc3339(),
        "2019-10-30T20:58:57.432351+00:00"
    );
    assert_eq!(
        run.finished_at.unwrap().to_rfc3339(),
        "2019-10-30T21:05:25.768973200+00:00"
    );
    assert_eq!(
        run.last_changed_at.unwrap().to_rfc3339(),
        "2019-10-30T21:05:25.953+00:00"
    );
}

#[tokio::test]
async fn a_build_in_progress_has_no_result_and_keeps_its_azure_repository() {
    let server = MockServer::start().await;
    let mut running = tfs_build(
        &server.uri(),
        14690,
        "inProgress",
        None,
        "frontend",
        "c3e9904bde5aba657866beeb76b10ef09fdec707",
    );
    running["result"] = Value::Null;
    Mock::given(path(BUILDS))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(vec![running])))
        .mount(&server)
        .await;
    let batch = pipelines(&server).builds(&["14690".into()]).await;
    let run = &batch.found["14690"];
    assert_eq!(
        (run.status, run.result, run.finished_at),
        (RunStatus::InProgress, None, None)
    );
    let repo = run.repository.as_ref().unwrap();
    assert_eq!(
        (repo.provider, repo.project.as_deref(), repo.name.as_str()),
        (RepoHost::AzureDevOps, Some("hello"), "frontend")
    );
}

/// Answers `builds?buildIds=` with the builds asked for, except the ids it lacks; counts
/// the requests and remembers the longest URL.
struct BuildList {
    missing: Vec<u64>,
    failing: Option<u64>,
}

impl Respond for BuildList {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let ids: Vec<u64> = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "buildIds")
            .map(|(_, v)| v.split(',').filter_map(|s| s.parse().ok()).collect())
            .unwrap_or_default();
        if self.failing.is_some_and(|f| ids.contains(&f)) {
            return ResponseTemplate::new(500)
                .set_body_json(json!({"message": "TF400898: An Internal Error Occurred."}));
        }
        let builds: Vec<Value> = ids
            .iter()
            .filter(|id| !self.missing.contains(id))
            .map(|id| {
                tfs_build(
                    "https://dev.azure.com/fabrikam",
                    *id,
                    "completed",
                    Some("succeeded"),
                    "frontend",
                    "a1b2c3d",
                )
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(list(builds))
    }
}

#[tokio::test]
async fn a_thousand_ids_go_in_chunks_under_2000_characters_and_one_failed_chunk_fails_only_its_ids()
{
    let server = MockServer::start().await;
    Mock::given(path(BUILDS))
        .respond_with(BuildList {
            missing: vec![100_010, 100_500],
            failing: Some(100_999),
        })
        .mount(&server)
        .await;
    let ids: Vec<String> = (100_000..101_000).map(|n| n.to_string()).collect();
    let batch = pipelines(&server).builds(&ids).await;
    let received = server.received_requests().await.unwrap();
    assert!(received.len() >= 4, "{} requests", received.len());
    for r in &received {
        assert!(
            r.url.as_str().len() <= 2000,
            "a URL of {} characters",
            r.url.as_str().len()
        );
    }
    assert!(
        batch.not_found.contains("100010") && batch.not_found.contains("100500"),
        "deleted builds are not found"
    );
    assert!(
        batch.failed.contains_key("100999"),
        "the failing chunk's ids failed"
    );
    assert!(
        batch.failed["100999"].contains("HTTP 500") && batch.failed["100999"].contains("TF400898"),
        "{}",
        batch.failed["100999"]
    );
    assert!(
        batch.found.contains_key("100000"),
        "the other chunks are still found"
    );
    assert_eq!(
        batch.found.len() + batch.not_found.len() + batch.failed.len(),
        1000
    );
    assert!(!batch.failed.contains_key("100000"));
}

#[tokio::test]
async fn a_failed_multi_stage_build_says_its_metadata_stage_failed() {
    let server = MockServer::start().await;
    let mut failed = tfs_build(
        &server.uri(),
        6676,
        "completed",
        Some("failed"),
        "hello-bedrock",
        "1bbcd91c",
    );
    failed["result"] = json!("failed");
    Mock::given(path(BUILDS))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(vec![failed])))
        .mount(&server)
        .await;
    Mock::given(path("/fabrikam/hello/_apis/build/builds/6676/timeline"))
        .respond_with(ResponseTemplate::new(200).set_body_json(load("raw-build-stages.json")))
        // Once asked directly, once by the tracker for the run that did not succeed.
        .expect(2)
        .mount(&server)
        .await;

    let provider = pipelines(&server);
    let stages = provider.build_stages("6676").await.unwrap();
    let shown: Vec<(&str, u32, Option<RunResult>)> = stages
        .iter()
        .map(|s| (s.name.as_str(), s.order, s.result))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("build", 1, Some(RunResult::Succeeded)),
            ("hld_update", 2, Some(RunResult::Failed))
        ]
    );

    // Through the tracker: p1 == p2 is one multi-stage run; the image step succeeded, the
    // metadata step failed.
    let store = Arc::new(MemoryStore::new());
    let mut r = Record::new("hello");
    for (c, v) in [
        ("p1", "6676"),
        ("p2", "6676"),
        ("imageTag", "hello-bedrock-master-6676"),
        ("service", "hello-bedrock"),
    ] {
        r.set_column(c, Some(v.into()));
    }
    store.insert(&r).await.unwrap();
    let tracker = Tracker::builder(store)
        .partition("hello")
        .pipelines(Arc::new(provider))
        .build();
    let d = &tracker.deployments(&Filter::default()).await.unwrap()[0];
    assert_eq!(d.image.as_ref().unwrap().state, StepState::Succeeded);
    assert_eq!(d.metadata.as_ref().unwrap().state, StepState::Failed);
    assert_eq!(d.status.as_str(), "Failed");
    // The failed step names its stage, linked to the run's logs at that stage.
    let stage = d.metadata.as_ref().unwrap().stage.as_ref().unwrap();
    assert_eq!(stage.name, "hld_update");
    assert_eq!(
        stage.url.as_deref(),
        Some(
            format!(
                "{}/hello/_build/results?buildId=6676&view=logs&s=aada13ef-0589-5a6e-c7d2-264f8607de21",
                server.uri()
            )
            .as_str()
        )
    );
    assert_eq!(
        stages.iter().map(|s| s.url.clone()).collect::<Vec<_>>(),
        vec![None, None],
        "build_stages knows no run page to link to"
    );
}

#[tokio::test]
async fn a_release_carries_its_image_version_and_registry() {
    let server = MockServer::start().await;
    let deployed = release(
        264,
        "Dev",
        "succeeded",
        "hello-bedrock-master-7254",
        [
            "2019-10-31T18:11:30.41Z",
            "2019-10-31T18:11:43.297Z",
            "2019-10-31T18:13:07.6Z",
        ],
    );
    let deploying = release(
        263,
        "Dev",
        "inProgress",
        "hello-bedrock-master-7043",
        [
            "2019-10-31T17:00:00Z",
            "2019-10-31T17:00:12Z",
            "2019-10-31T17:01:00Z",
        ],
    );
    Mock::given(method("GET"))
        .and(path("/fabrikam/hello/_apis/release/releases"))
        .and(query_param("releaseIdFilter", "263,264"))
        .and(query_param("$expand", "environments,artifacts"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(list(vec![deployed.clone(), deploying])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let batch = pipelines(&server)
        .runs(RunKind::Release, &requests(&["264", "263"]))
        .await
        .unwrap();
    let run = &batch.found["264"];
    assert_eq!(
        (run.kind, run.number.as_deref()),
        (RunKind::Release, Some("Release-264"))
    );
    assert_eq!(
        (run.status, run.result),
        (RunStatus::Completed, Some(RunResult::Succeeded))
    );
    assert_eq!(
        run.image_version.as_deref(),
        Some("hello-bedrock-master-7254")
    );
    assert_eq!(run.pipeline.as_deref(), Some("hello-bedrock"));
    assert_eq!(run.requested_by.as_deref(), Some("Samiya Akhtar"));
    assert_eq!(
        run.queued_at.unwrap().to_rfc3339(),
        "2019-10-31T18:11:30.410+00:00"
    );
    assert_eq!(
        run.started_at.unwrap().to_rfc3339(),
        "2019-10-31T18:11:43.297+00:00"
    );
    assert_eq!(
        run.finished_at.unwrap().to_rfc3339(),
        "2019-10-31T18:13:07.600+00:00"
    );
    assert!(run.url.as_deref().unwrap().contains("releaseId=264"));
    let image = artifact_image(&deployed).unwrap();
    assert_eq!(image.registry.as_deref(), Some("hellorings.azurecr.io"));
    let running = &batch.found["263"];
    assert_eq!(
        (running.status, running.result),
        (RunStatus::InProgress, None)
    );
    assert_eq!(
        running.image_version.as_deref(),
        Some("hello-bedrock-master-7043")
    );
    // The artifact is shaped like the one a captured deployment's release carries.
    let captured = artifact_image(&load("raw-releases.json")[0]["release"]).unwrap();
    assert_eq!(
        (captured.version.as_deref(), captured.registry.as_deref()),
        (
            Some("hello-bedrock-master-7254"),
            Some("hellorings.azurecr.io")
        )
    );
}

/// The commits batch as the service answers it: authors carry their avatar (`imageUrl`)
/// only when the criteria ask for it.
struct CommitsBatch(Vec<Value>);

impl Respond for CommitsBatch {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let criteria: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let avatars = criteria["includeUserImageUrl"] == json!(true);
        let commits = self
            .0
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if !avatars {
                    for person in ["author", "committer"] {
                        c[person].as_object_mut().unwrap().remove("imageUrl");
                    }
                }
                c
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(list(commits))
    }
}

#[tokio::test]
async fn commit_authors_with_avatars_come_from_one_commits_batch_asking_for_ids_only() {
    let server = MockServer::start().await;
    let mut second = load("author-response.json");
    second["commitId"] = json!("dafdbd15067ac341dcf3f787797c7d761c28c7c4");
    second["author"]["name"] = json!("Andre Briggs");
    second["author"]["email"] = json!("anbriggs@microsoft.com");
    // Rebased: authored earlier than committed; the commit's time is the committer's.
    second["author"]["date"] = json!("2019-10-15T09:00:00Z");
    second["committer"]["date"] = json!("2019-10-16T10:30:00Z");
    // `ids` may not be combined with other criteria: the body is exactly this.
    Mock::given(method("POST"))
        .and(path(
            "/fabrikam/hello/_apis/git/repositories/hld/commitsbatch",
        ))
        .and(body_json(json!({
            "ids": ["1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4", "dafdbd1"],
            "includeUserImageUrl": true
        })))
        .respond_with(CommitsBatch(vec![load("author-response.json"), second]))
        .expect(1)
        .mount(&server)
        .await;
    let ids = vec![
        "1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4".to_string(),
        "dafdbd1".to_string(),
    ];
    let (authors, notices) = collect_notices(repos(&server).authors(&hld(), &ids)).await;
    let authors = authors.unwrap();
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(authors.len(), 2, "both commits come from the batch");
    let a = &authors["1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4"];
    assert_eq!(
        (a.name.as_str(), a.email.as_deref()),
        ("Samiya Akhtar", Some("saakhta@microsoft.com"))
    );
    assert_eq!(
        a.avatar_url.as_deref(),
        Some(
            "https://dev.azure.com/epicstuff/_apis/GraphProfile/MemberAvatars/aad.NDcwNGNkNGUtMjA0Yi03MDcxLWJiYWEtOTQzY2Y5ZmE1NTYz"
        ),
        "the author has an avatar"
    );
    assert_eq!(
        a.url.as_deref(),
        Some(
            "https://dev.azure.com/epicstuff/hellobedrockprivate/_git/hello-bedrock-azure-private/commit/1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4"
        )
    );
    assert_eq!(
        authors["dafdbd1"].name, "Andre Briggs",
        "a short SHA finds its commit"
    );
    let committed = |sha: &str| authors[sha].committed_at.map(|t| t.to_rfc3339());
    assert_eq!(
        committed("1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4").as_deref(),
        Some("2019-10-17T05:35:38+00:00")
    );
    assert_eq!(
        committed("dafdbd1").as_deref(),
        Some("2019-10-16T10:30:00+00:00")
    );
}

#[tokio::test]
async fn an_unknown_commit_in_a_batch_falls_back_to_single_lookups_with_one_notice() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "TF401175: The item gone could not be found."})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fabrikam/hello/_apis/git/repositories/hld/commits/1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4"))
        .respond_with(ResponseTemplate::new(200).set_body_json(load("author-response.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let ids = vec![
        "1bbcd91c3e6e08d0a61eb3bd70a1a2fe1c9987f4".to_string(),
        "0000000000000000000000000000000000000000".to_string(),
    ];
    let (authors, notices) = collect_notices(repos(&server).authors(&hld(), &ids)).await;
    let authors = authors.unwrap();
    assert_eq!(
        authors.len(),
        1,
        "the known commit is found, the unknown one left out"
    );
    assert_eq!(authors[&ids[0]].name, "Samiya Akhtar");
    assert_eq!(notices.len(), 1, "one notice for the batch: {notices:?}");
    let n = &notices[0];
    assert_eq!((n.subject, n.count), (Subject::Author, 2), "{n:?}");
    assert!(n.reason.provider().starts_with("azure-repos "), "{n:?}");
    assert_eq!(
        n.reason.cause(),
        "the commits batch was refused (HTTP 404); asked for each commit on its own"
    );
}

#[tokio::test]
async fn a_merged_pull_request_and_one_without_closed_by() {
    let server = MockServer::start().await;
    let mut active = load("pr-response.json");
    active["pullRequestId"] = json!(1355);
    active["status"] = json!("active");
    let obj = active.as_object_mut().unwrap();
    obj.remove("closedBy");
    obj.remove("closedDate");
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/hld/pullrequests/1354",
    ))
    .respond_with(ResponseTemplate::new(200).set_body_json(load("pr-response.json")))
    .mount(&server)
    .await;
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/hld/pullrequests/1355",
    ))
    .respond_with(ResponseTemplate::new(200).set_body_json(active))
    .mount(&server)
    .await;
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/hld/pullrequests/9999",
    ))
    .respond_with(ResponseTemplate::new(404))
    .mount(&server)
    .await;
    let prs = repos(&server)
        .pull_requests(&hld(), &["1354".into(), "1355".into(), "9999".into()])
        .await
        .unwrap();
    let merged = &prs["1354"];
    assert_eq!(
        merged.title,
        "Updating samiya.frontend image tag to master-20200317.12."
    );
    assert_eq!(
        merged.source_branch.as_deref(),
        Some("DEPLOY/samiya2019-samiya.frontend-master-20200317.12")
    );
    assert_eq!(merged.target_branch.as_deref(), Some("master"));
    assert!(merged.merged && !merged.closed);
    assert_eq!(
        merged.merged_by.as_ref().map(|a| a.name.as_str()),
        Some("Samiya Akhtar")
    );
    assert_eq!(
        merged.url.as_deref(),
        Some(
            "https://dev.azure.com/epicstuff/hellobedrockprivate/_git/samiya-hld/pullrequest/1354"
        )
    );
    assert!(
        merged
            .description
            .as_deref()
            .unwrap()
            .contains("buildId: 14690")
    );
    let open = &prs["1355"];
    assert!(!open.merged && open.merged_by.is_none() && open.merged_at.is_none());
    assert!(
        !prs.contains_key("9999"),
        "a missing pull request is left out"
    );
}

#[tokio::test]
async fn many_pull_requests_come_from_the_list_api() {
    let server = MockServer::start().await;
    let page: Vec<Value> = (1340..1360)
        .rev()
        .map(|id| {
            let mut pr = load("pr-response.json");
            pr["pullRequestId"] = json!(id);
            pr
        })
        .collect();
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/hld/pullrequests",
    ))
    .and(query_param("searchCriteria.status", "all"))
    .and(query_param("$skip", "0"))
    .respond_with(ResponseTemplate::new(200).set_body_json(list(page)))
    .expect(1)
    .mount(&server)
    .await;
    let ids: Vec<String> = (1345..1355).map(|n| n.to_string()).collect();
    let prs = repos(&server).pull_requests(&hld(), &ids).await.unwrap();
    assert_eq!(prs.len(), 10);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "one list call for ten pull requests"
    );
}

#[tokio::test]
async fn flux_tags_become_cluster_syncs_other_tags_are_ignored_and_tag_objects_are_read_once() {
    let server = MockServer::start().await;
    let mut refs = load("sync-response.json");
    let flux = refs["value"][0].clone();
    let mut release_tag = flux.clone();
    release_tag["name"] = json!("refs/tags/v1.0.0");
    release_tag["objectId"] = json!("1111111111111111111111111111111111111111");
    let mut lightweight = flux.clone();
    lightweight["name"] = json!("refs/tags/flux-west-eu");
    lightweight["objectId"] = json!("cd5b6aef67a8427e4a3860dae1d1f8a3ab8e2b21");
    // An object id that is not one would be a path segment: `..` went up to the repository.
    let mut dots = flux.clone();
    dots["name"] = json!("refs/tags/flux-dots");
    dots["objectId"] = json!("..");
    refs["value"] = json!([flux, release_tag, lightweight, dots]);
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/manifests/refs",
    ))
    .respond_with(ResponseTemplate::new(200).set_body_json(refs))
    .expect(2)
    .mount(&server)
    .await;
    Mock::given(path("/fabrikam/hello/_apis/git/repositories/manifests/annotatedtags/0396d996eda4b2528dbda88dd8ab9c0bb6c27674"))
        .respond_with(ResponseTemplate::new(200).set_body_json(load("manifest-sync-tag-response.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/fabrikam/hello/_apis/git/repositories/manifests/annotatedtags/cd5b6aef67a8427e4a3860dae1d1f8a3ab8e2b21"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let manifests = RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").unwrap();
    let provider = repos(&server);
    let syncs = provider.sync_tags(&manifests).await.unwrap();
    assert_eq!(syncs.len(), 2, "{syncs:?}");
    let sync = syncs.iter().find(|s| s.cluster == "sync").unwrap();
    assert_eq!(sync.commit, "ab4c9f1ccb67a82256763e32fba1e70c897bd82a");
    assert_eq!(sync.tagger.as_deref(), Some("Weave Flux"));
    assert_eq!(
        sync.synced_at.unwrap().to_rfc3339(),
        "2019-10-31T19:17:58+00:00"
    );
    let west = syncs.iter().find(|s| s.cluster == "west-eu").unwrap();
    assert_eq!(
        (west.commit.as_str(), west.tagger.as_deref()),
        (
            "cd5b6aef67a8427e4a3860dae1d1f8a3ab8e2b21",
            Some("Samiya Akhtar")
        )
    );
    assert!(
        syncs
            .iter()
            .all(|s| s.cluster != "v1.0.0" && s.cluster != "dots")
    );
    let asked = server.received_requests().await.unwrap();
    assert!(
        asked
            .iter()
            .all(|r| r.url.path().contains("/refs") || r.url.path().contains("/annotatedtags/")),
        "{:?}",
        asked
            .iter()
            .map(|r| r.url.path().to_string())
            .collect::<Vec<_>>()
    );
    // A second read lists the refs again but never re-reads a tag object.
    assert_eq!(provider.sync_tags(&manifests).await.unwrap(), syncs);
}

#[tokio::test]
async fn a_tag_object_no_listing_names_any_more_is_forgotten() {
    let server = MockServer::start().await;
    let listing = |object: &str| {
        let mut refs = load("sync-response.json");
        refs["value"][0]["name"] = json!("refs/tags/flux-west-eu");
        refs["value"][0]["objectId"] = json!(object);
        refs["value"] = json!([refs["value"][0].clone()]);
        ResponseTemplate::new(200).set_body_json(refs)
    };
    let (a, b) = ("a".repeat(40), "b".repeat(40));
    // Flux moves the tag to b, then back to a.
    for object in [&a, &b, &a] {
        Mock::given(path(
            "/fabrikam/hello/_apis/git/repositories/manifests/refs",
        ))
        .respond_with(listing(object))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    }
    Mock::given(path_regex("/annotatedtags/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let manifests = RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").unwrap();
    let provider = repos(&server);
    for object in [&a, &b, &a] {
        let syncs = provider.sync_tags(&manifests).await.unwrap();
        assert_eq!(syncs[0].commit, *object);
    }
    let objects: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.url
                .path()
                .split("/annotatedtags/")
                .nth(1)
                .map(str::to_string)
        })
        .collect();
    // a was forgotten once the tag moved, so it is read again: the memo does not keep every
    // object a tag ever pointed at.
    assert_eq!(objects, [a.clone(), b, a]);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let server = MockServer::start().await;
    Mock::given(path(BUILDS))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path(BUILDS))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(list(load("raw-builds.json").as_array().unwrap().clone())),
        )
        .mount(&server)
        .await;
    let started = Instant::now();
    let batch = pipelines(&server).builds(&["7176".into()]).await;
    assert!(batch.found.contains_key("7176"), "{batch:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was not honored"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_500_then_success_is_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/fabrikam/hello/_apis/release/releases"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let times = [
        "2019-10-31T18:11:30.41Z",
        "2019-10-31T18:11:43.297Z",
        "2019-10-31T18:13:07.6Z",
    ];
    let release = release(264, "Dev", "succeeded", "hello-bedrock-master-7254", times);
    Mock::given(path("/fabrikam/hello/_apis/release/releases"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(vec![release])))
        .mount(&server)
        .await;
    let batch = pipelines(&server).releases(&["264".into()]).await;
    assert_eq!(batch.found["264"].number.as_deref(), Some("Release-264"));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_malformed_body_fails_its_ids_with_a_clear_reason() {
    let server = MockServer::start().await;
    Mock::given(path(BUILDS))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string("{\"count\": 1, \"value\": [{\"id\": 71"),
        )
        .mount(&server)
        .await;
    let batch = pipelines(&server).builds(&["7176".into()]).await;
    let why = &batch.failed["7176"];
    assert!(
        why.contains("malformed response body")
            && why.contains("get builds")
            && why.contains("7176"),
        "{why}"
    );
    assert!(
        batch.not_found.is_empty(),
        "a bad answer never marks a build gone"
    );
}

#[tokio::test]
async fn a_rejected_token_names_the_organisation_and_never_the_token() {
    let server = MockServer::start().await;
    Mock::given(path("/fabrikam/_apis/projects/hello"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    // A bad PAT on some routes gets a sign-in page with 203 instead of a 401.
    Mock::given(path(BUILDS))
        .respond_with(
            ResponseTemplate::new(203)
                .insert_header("content-type", "text/html; charset=utf-8")
                .set_body_string("<html>Sign in</html>"),
        )
        .mount(&server)
        .await;
    let provider = pipelines(&server);
    let e = provider.check().await.unwrap_err();
    assert!(matches!(e, Error::Provider { auth: true, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("/fabrikam") && msg.contains("token was rejected"),
        "{msg}"
    );
    assert!(!msg.contains(PAT), "{msg}");
    let batch = provider.builds(&["7176".into()]).await;
    assert!(
        batch.failed["7176"].contains("token was rejected"),
        "{:?}",
        batch.failed
    );
    assert!(
        server.received_requests().await.unwrap().len() <= 2,
        "auth failures are not retried"
    );
}

#[tokio::test]
async fn a_server_collection_is_reached_at_its_own_url() {
    let server = MockServer::start().await;
    Mock::given(path("/tfs/DefaultCollection/_apis/projects/Ops"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "eb6e4656", "name": "Ops", "state": "wellFormed"})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/tfs/DefaultCollection/Ops/_apis/release/releases"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(vec![])))
        .expect(1)
        .mount(&server)
        .await;
    let provider = AzureDevOps::new(
        format!("{}/tfs/DefaultCollection", server.uri()),
        "Ops",
        Secret::new(PAT),
    )
    .unwrap();
    assert_eq!(provider.check().await.unwrap(), "Ops");
    let batch = provider.releases(&["12".into()]).await;
    assert!(
        batch.not_found.contains("12"),
        "a release the server does not list is gone"
    );
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A lightweight `refs/tags/{name}` ref on the commit `sha`.
fn tag_ref(name: &str, sha: &str) -> Value {
    json!({"name": format!("refs/tags/{name}"), "objectId": sha,
           "creator": {"displayName": "Weave Flux"}})
}

#[tokio::test]
async fn refs_are_read_across_continuation_pages_with_the_token_encoded() {
    let server = MockServer::start().await;
    let refs = "/fabrikam/hello/_apis/git/repositories/manifests/refs";
    let (east, west) = (
        "1111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222",
    );
    // Mounted first, so it wins for the second page; `+`, `/` and `=` must come back as sent.
    Mock::given(path(refs))
        .and(query_param("filter", "tags/flux-"))
        .and(query_param("continuationToken", "tok+en/1="))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(list(vec![tag_ref("flux-west", west)])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(refs))
        .and(query_param("filter", "tags/flux-"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ms-continuationtoken", "tok+en/1=")
                .set_body_json(list(vec![tag_ref("flux-east", east)])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path_regex("/annotatedtags/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let manifests = RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").unwrap();
    let mut syncs = repos(&server).sync_tags(&manifests).await.unwrap();
    syncs.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    let seen: Vec<(&str, &str)> = syncs
        .iter()
        .map(|s| (s.cluster.as_str(), s.commit.as_str()))
        .collect();
    assert_eq!(seen, [("east", east), ("west", west)]);
}

#[tokio::test]
async fn an_endless_continuation_chain_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/manifests/refs",
    ))
    .respond_with(
        ResponseTemplate::new(200)
            .insert_header("x-ms-continuationtoken", "again")
            .set_body_json(list(Vec::new())),
    )
    .mount(&server)
    .await;
    let manifests = RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").unwrap();
    let e = repos(&server)
        .sync_tags(&manifests)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 20 pages"), "{e}");
    assert_eq!(server.received_requests().await.unwrap().len(), 20);
}

#[tokio::test]
async fn a_run_list_keeps_only_the_runs_asked_for_and_stops_once_it_has_them() {
    let server = MockServer::start().await;
    let commit = "c3e9904bde5aba657866beeb76b10ef09fdec707";
    let build = |id| {
        tfs_build(
            &server.uri(),
            id,
            "completed",
            Some("succeeded"),
            "frontend",
            commit,
        )
    };
    // A server that answers far more than asked, and always says there is more.
    let mut page: Vec<Value> = (1..=500).map(build).collect();
    page.push(build(7));
    Mock::given(path(BUILDS))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ms-continuationtoken", "again")
                .set_body_json(list(page)),
        )
        .mount(&server)
        .await;
    let batch = pipelines(&server).builds(&["7".into(), "9".into()]).await;
    let mut found: Vec<&String> = batch.found.keys().collect();
    found.sort();
    assert_eq!(found, ["7", "9"]);
    assert!(batch.failed.is_empty(), "{:?}", batch.failed);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn more_sync_tags_than_a_repository_may_hold_is_an_error_naming_the_limit() {
    let server = MockServer::start().await;
    let tags: Vec<Value> = (0..10_001)
        .map(|n| tag_ref(&format!("flux-cluster-{n}"), &format!("{n:040x}")))
        .collect();
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/manifests/refs",
    ))
    .respond_with(ResponseTemplate::new(200).set_body_json(list(tags)))
    .mount(&server)
    .await;
    let manifests = RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").unwrap();
    let e = repos(&server)
        .sync_tags(&manifests)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 10000 sync tags"), "{e}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no tag object was read"
    );
}

#[tokio::test]
async fn the_sync_tag_prefix_is_a_builder_option() {
    let server = MockServer::start().await;
    let east = "3333333333333333333333333333333333333333";
    Mock::given(path(
        "/fabrikam/hello/_apis/git/repositories/manifests/refs",
    ))
    .and(query_param("filter", "tags/argo-"))
    .respond_with(ResponseTemplate::new(200).set_body_json(list(vec![
        tag_ref("argo-east", east),
        tag_ref("flux-west", "4444444444444444444444444444444444444444"),
    ])))
    .expect(1)
    .mount(&server)
    .await;
    Mock::given(path_regex("/annotatedtags/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let provider = AzureRepos::builder()
        .base_url(server.uri())
        .token(Secret::new(PAT))
        .policy(fast())
        .sync_tag_prefix("argo-")
        .build()
        .unwrap();
    let manifests = RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").unwrap();
    let syncs = provider.sync_tags(&manifests).await.unwrap();
    let seen: Vec<(&str, &str)> = syncs
        .iter()
        .map(|s| (s.cluster.as_str(), s.commit.as_str()))
        .collect();
    assert_eq!(seen, [("east", east)]);

    let e = AzureRepos::builder()
        .sync_tag_prefix("flux sync")
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("sync tag prefix"), "{e}");
}

/// A `GitCommitRef` as the commits list answers it.
fn commit_ref(id: &str, comment: &str) -> Value {
    json!({
        "commitId": id,
        "author": {"name": "Build Agent", "email": "agent@fabrikam.example", "date": "2026-11-26T12:00:00Z"},
        "committer": {"name": "Build Agent", "email": "agent@fabrikam.example", "date": "2026-11-26T12:00:00Z"},
        "comment": comment,
        "changeCounts": {"Add": 0, "Edit": 2, "Delete": 0},
        "url": format!("https://dev.azure.com/fabrikam/_apis/git/repositories/manifests-id/commits/{id}"),
        "remoteUrl": format!("https://dev.azure.com/fabrikam/hello/_git/manifests/commit/{id}")
    })
}

#[tokio::test]
async fn histories_of_default_branches_come_one_commits_list_per_repository() {
    let server = MockServer::start().await;
    let manifests: Vec<String> = (0..3).map(|i| format!("{i:x}").repeat(40)).collect();
    Mock::given(method("GET"))
        .and(path(
            "/fabrikam/hello/_apis/git/repositories/manifests/commits",
        ))
        .and(query_param("searchCriteria.$top", "100"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(list(
                manifests
                    .iter()
                    .map(|c| commit_ref(c, "Update frontend"))
                    .collect(),
            )),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fabrikam/hello/_apis/git/repositories/gone/commits"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "$id": "1", "innerException": null,
            "message": "TF401019: The Git repository with name or identifier gone does not exist or you do not have permissions for the operation you are attempting.",
            "typeName": "Microsoft.TeamFoundation.Git.Server.GitRepositoryNotFoundException, Microsoft.TeamFoundation.Git.Server",
            "typeKey": "GitRepositoryNotFoundException", "errorCode": 0, "eventId": 3000})))
        .expect(1)
        .mount(&server)
        .await;
    let repo = |name: &str| {
        RepoRef::parse(&format!("https://dev.azure.com/fabrikam/hello/_git/{name}")).unwrap()
    };
    let got = repos(&server)
        .commit_orders(&[repo("manifests"), repo("gone")])
        .await
        .unwrap()
        .expect("Azure Repos offers histories");
    assert_eq!(got.len(), 1, "the missing repository is left out: {got:?}");
    assert_eq!(got[&repo("manifests").key()], manifests, "newest first");
}
