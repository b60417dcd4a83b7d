//! GitHub Actions runs and jobs, read as the `Pipelines` trait and through the `Tracker`.

mod support;

use std::sync::Arc;

use chrono::{Duration, Utc};
use spektate_core::{
    Filter, ImageBuilt, MemoryStore, MetadataUpdated, Pipelines, Recorder, RepoRef, RunKind,
    RunRequest, RunResult, RunStatus, Status, StepState, Tracker,
};
use spektate_github::IdKind;
use support::{FakeGitHub, RunSpec, fixture, job};

fn repo(full: &str) -> RepoRef {
    RepoRef::parse(&format!("https://github.com/{full}")).unwrap()
}

fn req(id: &str, full: Option<&str>) -> RunRequest {
    RunRequest {
        id: id.to_string(),
        repo: full.map(repo).map(Arc::new),
    }
}

#[tokio::test]
async fn a_run_in_progress_and_a_failed_run_come_from_their_repositories() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now() - Duration::minutes(30);
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/frontend".into());
        w.repos.insert("fabrikam/hld".into());
        let mut running = RunSpec::new("fabrikam/frontend", 9_200_000_001, 17, t).running();
        running.branch = "release/2.4".into();
        w.runs
            .insert(("fabrikam/frontend".into(), 9_200_000_001), running.json());
        let mut failed = RunSpec::new("fabrikam/hld", 9_200_000_002, 5, t).failed();
        failed.workflow = "generate-manifests".into();
        w.runs
            .insert(("fabrikam/hld".into(), 9_200_000_002), failed.json());
    }
    let actions = gh.client().actions();
    let batch = actions
        .runs(
            RunKind::Build,
            &[
                req("9200000001", Some("fabrikam/frontend")),
                req("run:9200000002", Some("fabrikam/hld")),
            ],
        )
        .await
        .unwrap();
    assert!(
        batch.failed.is_empty() && batch.not_found.is_empty(),
        "{:?}",
        batch.failed
    );

    let running = &batch.found["9200000001"];
    assert_eq!(
        (running.status, running.result),
        (RunStatus::InProgress, None)
    );
    assert_eq!(running.number.as_deref(), Some("#17"));
    assert_eq!(running.pipeline.as_deref(), Some("build-and-deploy"));
    assert_eq!(running.source_branch.as_deref(), Some("release/2.4"));
    assert_eq!(
        running.url.as_deref(),
        Some("https://github.com/fabrikam/frontend/actions/runs/9200000001")
    );
    assert_eq!(running.requested_by.as_deref(), Some("octocat"));
    assert_eq!(running.queued_at.unwrap().timestamp(), t.timestamp());
    assert!(
        running.finished_at.is_none(),
        "a running run has not finished"
    );
    assert_eq!(
        running.repository.as_ref().unwrap().key(),
        "github.com/fabrikam/frontend"
    );

    let failed = &batch.found["run:9200000002"];
    assert_eq!(
        (failed.status, failed.result),
        (RunStatus::Completed, Some(RunResult::Failed))
    );
    assert_eq!(
        failed.finished_at.unwrap().timestamp(),
        (t + Duration::minutes(6)).timestamp()
    );

    let paths: Vec<String> = gh.served().into_iter().map(|s| s.path).collect();
    assert!(
        paths.contains(&"/repos/fabrikam/frontend/actions/runs/9200000001".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/repos/fabrikam/hld/actions/runs/9200000002".to_string()),
        "{paths:?}"
    );
}

#[tokio::test]
async fn recorded_job_ids_are_read_a_hundred_a_query_and_one_from_the_jobs_endpoint() {
    let gh = FakeGitHub::start().await;
    {
        let mut w = gh.world();
        w.repos.insert("andrebriggs/spartan-app".into());
        w.repos.insert("samiyaakhtar/hello-world-full-stack".into());
        w.jobs.insert(
            1115488431,
            (
                "andrebriggs/spartan-app".into(),
                fixture("gh-actions-1115488431.json"),
            ),
        );
        w.jobs.insert(
            1255355142,
            (
                "samiyaakhtar/hello-world-full-stack".into(),
                fixture("gh-actions-1255355142.json"),
            ),
        );
    }
    // The reference tool recorded bare job ids; say so once and they read as jobs.
    let actions = gh.client().actions().bare_ids(IdKind::Job);
    let batch = actions
        .runs(
            RunKind::Build,
            &[
                req("1115488431", Some("andrebriggs/spartan-app")),
                req(
                    "job:1255355142",
                    Some("samiyaakhtar/hello-world-full-stack"),
                ),
            ],
        )
        .await
        .unwrap();
    let a = &batch.found["1115488431"];
    assert_eq!(
        (a.status, a.result),
        (RunStatus::Completed, Some(RunResult::Succeeded))
    );
    assert_eq!(
        a.source_commit.as_deref(),
        Some("32b0b95f4ca771dee6808a17415d48790f62c6a9")
    );
    assert_eq!(
        a.started_at.unwrap().to_rfc3339(),
        "2020-09-15T02:29:56+00:00"
    );
    let b = &batch.found["job:1255355142"];
    assert_eq!(
        b.url.as_deref(),
        Some("https://github.com/samiyaakhtar/hello-world-full-stack/runs/1255355142")
    );
    assert_eq!(
        b.finished_at.unwrap().to_rfc3339(),
        "2020-10-14T19:21:43+00:00"
    );
    let served = gh.served();
    assert_eq!(
        served
            .iter()
            .map(|s| (s.path.as_str(), s.graphql_objects))
            .collect::<Vec<_>>(),
        [("/api/graphql", 2)],
        "jobs of two repositories in one GraphQL query"
    );

    // One job is read over REST, where an unchanged job is revalidated for free.
    gh.clear_log();
    let batch = actions
        .runs(
            RunKind::Build,
            &[req("job:1115488431", Some("andrebriggs/spartan-app"))],
        )
        .await
        .unwrap();
    assert_eq!(
        batch.found["job:1115488431"].pipeline.as_deref(),
        Some("Build")
    );
    let paths: Vec<String> = gh.served().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        ["/repos/andrebriggs/spartan-app/actions/jobs/1115488431"]
    );

    // By default a bare number is a workflow run: that one does not exist.
    let batch = gh
        .client()
        .actions()
        .runs(
            RunKind::Build,
            &[req("1115488431", Some("andrebriggs/spartan-app"))],
        )
        .await
        .unwrap();
    assert!(batch.not_found.contains("1115488431"));
}

#[tokio::test]
async fn many_runs_of_a_repository_are_listed_not_fetched_one_by_one() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now() - Duration::days(3);
    let mut wanted = Vec::new();
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/backend".into());
        for n in 0..300u64 {
            let id = 9_300_000_000 + n;
            w.runs.insert(
                ("fabrikam/backend".into(), id),
                RunSpec::new(
                    "fabrikam/backend",
                    id,
                    n + 1,
                    t + Duration::minutes(n as i64),
                )
                .json(),
            );
            if n >= 120 && n % 2 == 0 {
                wanted.push(req(&id.to_string(), Some("fabrikam/backend")));
            }
        }
    }
    // One more that was deleted (retention) and one created after the listing's newest.
    wanted.push(req("9300000999", Some("fabrikam/backend")));
    let batch = gh
        .client()
        .actions()
        .runs(RunKind::Build, &wanted)
        .await
        .unwrap();
    assert_eq!(batch.found.len(), 90);
    assert!(
        batch.not_found.contains("9300000999"),
        "a run GitHub no longer has is expired"
    );
    let served = gh.served();
    let lists = served
        .iter()
        .filter(|s| s.path.contains("/actions/runs?"))
        .count();
    assert_eq!(
        lists, 2,
        "runs 120..300 are on the first two pages of a hundred"
    );
    assert_eq!(
        served.len(),
        3,
        "two pages and one lookup of the run the listing did not have: {served:?}"
    );
}

#[tokio::test]
async fn a_deleted_run_is_expired_but_an_unreadable_repository_is_a_failure() {
    let gh = FakeGitHub::start().await;
    gh.world().repos.insert("fabrikam/frontend".into());
    let actions = gh.client().actions();
    let batch = actions
        .runs(
            RunKind::Build,
            &[
                req("9400000001", Some("fabrikam/frontend")),
                req("9400000002", Some("fabrikam/secret-service")),
            ],
        )
        .await
        .unwrap();
    assert!(batch.not_found.contains("9400000001"), "{batch:?}");
    let why = &batch.failed["9400000002"];
    assert!(
        why.contains("github.com/fabrikam/secret-service") && why.contains("token cannot read it"),
        "{why}"
    );
    assert!(
        !batch.not_found.contains("9400000002"),
        "never expired: it may only be out of the token's reach"
    );
}

#[tokio::test]
async fn requests_without_a_github_repository_are_left_or_explained() {
    let gh = FakeGitHub::start().await;
    let actions = gh.client().actions();
    let azure = RunRequest {
        id: "4711".into(),
        repo: Some(Arc::new(
            RepoRef::parse("https://dev.azure.com/fabrikam/web/_git/hld").unwrap(),
        )),
    };
    let batch = actions
        .runs(
            RunKind::Build,
            &[
                azure,
                req("4712", None),
                req("release-3", Some("fabrikam/hld")),
            ],
        )
        .await
        .unwrap();
    assert!(
        !batch.found.contains_key("4711")
            && !batch.failed.contains_key("4711")
            && !batch.not_found.contains("4711"),
        "another host's run is left to the next provider"
    );
    assert!(
        batch.failed["4712"].contains("no default repository"),
        "{:?}",
        batch.failed
    );
    assert!(
        batch.failed["release-3"].contains("'release-3'"),
        "{:?}",
        batch.failed
    );
    assert!(!actions.serves_run(RunKind::Release, "release-3"));
    assert!(actions.serves_run(RunKind::Build, "job:1"));
    assert!(gh.served().is_empty());

    // A default repository takes the runs whose record names none.
    gh.world().repos.insert("fabrikam/hld".into());
    gh.world().runs.insert(
        ("fabrikam/hld".into(), 4712),
        RunSpec::new("fabrikam/hld", 4712, 1, Utc::now()).json(),
    );
    let batch = gh
        .client()
        .actions()
        .default_repo(repo("fabrikam/hld"))
        .runs(RunKind::Build, &[req("4712", None)])
        .await
        .unwrap();
    assert!(batch.found.contains_key("4712"));
}

#[tokio::test]
async fn the_jobs_of_a_multi_stage_run_tell_which_stage_failed() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now() - Duration::minutes(20);
    let id = 9_500_000_001u64;
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/frontend".into());
        w.runs.insert(
            ("fabrikam/frontend".into(), id),
            RunSpec::new("fabrikam/frontend", id, 31, t).failed().json(),
        );
        // GitHub lists jobs in creation order; ids grow with it.
        w.jobs.insert(
            700,
            (
                "fabrikam/frontend".into(),
                job(
                    "fabrikam/frontend",
                    700,
                    id,
                    "build-image",
                    "completed",
                    Some("success"),
                    t,
                ),
            ),
        );
        w.jobs.insert(
            701,
            (
                "fabrikam/frontend".into(),
                job(
                    "fabrikam/frontend",
                    701,
                    id,
                    "update-hld",
                    "completed",
                    Some("failure"),
                    t + Duration::minutes(4),
                ),
            ),
        );
    }
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    recorder
        .image_built(&ImageBuilt {
            p1: id.to_string(),
            image_tag: "frontend-31".into(),
            commit_id: "a1b2c3d4e5f6".into(),
            service: "frontend".into(),
            repository: Some("https://github.com/fabrikam/frontend".into()),
        })
        .await
        .unwrap();
    recorder
        .metadata_updated(&MetadataUpdated {
            p2: id.to_string(),
            image_tag: "frontend-31".into(),
            hld_commit_id: "0a0b0c0d".into(),
            env: "prod".into(),
            pr: None,
            repository: None,
            service: None,
        })
        .await
        .unwrap();
    let client = gh.client();
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .pipelines(Arc::new(client.actions()))
        .build();
    let d = tracker
        .deployments(&Filter::default())
        .await
        .unwrap()
        .remove(0);
    assert!(d.multi_stage);
    assert_eq!(d.status, Status::Failed);
    assert_eq!(
        d.image.as_ref().unwrap().state,
        StepState::Succeeded,
        "the image job succeeded"
    );
    assert_eq!(
        d.metadata.as_ref().unwrap().state,
        StepState::Failed,
        "the HLD update job failed"
    );
    let failed = d.metadata.as_ref().unwrap().stage.as_ref().unwrap();
    assert_eq!(
        (failed.name.as_str(), failed.url.as_deref()),
        (
            "update-hld",
            Some(
                format!("https://github.com/fabrikam/frontend/actions/runs/{id}/job/701").as_str()
            )
        ),
        "the failed step links to its job"
    );
    let stages = client
        .actions()
        .stages(d.image.unwrap().run.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        stages
            .iter()
            .map(|s| (s.order, s.name.as_str()))
            .collect::<Vec<_>>(),
        [(1, "build-image"), (2, "update-hld")]
    );
}

#[tokio::test]
async fn the_jobs_of_a_run_are_read_page_by_page() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now() - Duration::minutes(20);
    let id = 9_500_000_002u64;
    {
        let mut w = gh.world();
        w.repos.insert("fabrikam/frontend".into());
        w.runs.insert(
            ("fabrikam/frontend".into(), id),
            RunSpec::new("fabrikam/frontend", id, 32, t).json(),
        );
        for j in 0..150u64 {
            let name = format!("shard-{j}");
            w.jobs.insert(
                800 + j,
                (
                    "fabrikam/frontend".into(),
                    job(
                        "fabrikam/frontend",
                        800 + j,
                        id,
                        &name,
                        "completed",
                        Some("success"),
                        t,
                    ),
                ),
            );
        }
    }
    let actions = gh.client().actions();
    let mut batch = actions
        .runs(
            RunKind::Build,
            &[req(&id.to_string(), Some("fabrikam/frontend"))],
        )
        .await
        .unwrap();
    let run = batch.found.remove(&id.to_string()).unwrap();
    let stages = actions.stages(&run).await.unwrap();
    let names: std::collections::HashSet<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!((stages.len(), names.len()), (150, 150));
    assert_eq!(stages[149].name, "shard-149");
    let pages: Vec<String> = gh
        .served()
        .into_iter()
        .filter(|s| s.path.contains("/jobs"))
        .map(|s| s.path)
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
}
