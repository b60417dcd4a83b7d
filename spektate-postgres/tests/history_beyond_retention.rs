//! History beyond CI retention on PostgreSQL: a tracker over the store keeps what the CI and
//! the repository host answered; once they have forgotten the runs, the author and the pull
//! request, a new tracker over a read-only session (what `spektate get` opens) still shows
//! the deployment, marked expired, from what the store kept.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use spektate_core::testkit::{FakeCi, FakeRepos};
use spektate_core::{
    Filter, ImageBuilt, ManifestGenerated, MetadataUpdated, PullRequest, RecordStore, Recorder,
    Run, RunKind, RunResult, RunStatus, Status, StepState, Tracker,
};
use spektate_postgres::PostgresStore;
use spektate_postgres::testkit::TestServer;

const PARTITION: &str = "fabrikam";

/// 17 March 2026, 09:00 UTC plus `minute` minutes.
fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 17, 9, 0, 0).unwrap() + chrono::Duration::minutes(minute)
}

fn run(id: &str, kind: RunKind, from: i64, to: i64) -> Run {
    let mut r = Run::new(id, kind, RunStatus::Completed);
    r.result = Some(RunResult::Succeeded);
    r.number = Some(format!("20260317.{id}"));
    r.pipeline = Some(format!("frontend-{kind:?}").to_lowercase());
    r.queued_at = Some(at(from));
    r.started_at = Some(at(from));
    r.finished_at = Some(at(to));
    r.last_changed_at = r.finished_at;
    r
}

fn tracker(store: Arc<dyn RecordStore>, ci: Arc<FakeCi>, repos: Arc<FakeRepos>) -> Tracker {
    Tracker::builder(store)
        .partition(PARTITION)
        .pipelines(ci)
        .repositories(repos)
        .stored_runs(false)
        .build()
}

fn with_expired() -> Filter {
    Filter {
        include_expired: true,
        ..Filter::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_ci_forgets_a_new_tracker_shows_the_deployment_expired_from_what_was_kept() {
    let server = TestServer::start();
    let writer: Arc<dyn RecordStore> = Arc::new(PostgresStore::open(&server.url()).unwrap());
    let rec = Recorder::new(writer.clone(), PARTITION).unwrap();
    rec.image_built(&ImageBuilt {
        p1: "4711".into(),
        image_tag: "frontend-4711".into(),
        commit_id: "8c5f2a1e9d3b".into(),
        service: "fabrikam/frontend".into(),
        repository: Some("https://github.com/fabrikam/frontend".into()),
    })
    .await
    .unwrap();
    rec.metadata_updated(&MetadataUpdated {
        p2: "42".into(),
        image_tag: "frontend-4711".into(),
        hld_commit_id: "5e0a9c7d3f21".into(),
        env: "prod".into(),
        pr: Some("118".into()),
        repository: Some("https://github.com/fabrikam/hld".into()),
        service: None,
    })
    .await
    .unwrap();
    rec.manifest_generated(&ManifestGenerated {
        p3: "4720".into(),
        hld_commit_id: "5e0a9c7d3f21".into(),
        manifest_commit_id: None,
        pr: None,
        repository: None,
    })
    .await
    .unwrap();

    // The CI and the host know everything: image 0–9 min, release 10–14, the approval PR
    // merged at 44, manifests 45–50.
    let ci = Arc::new(FakeCi::new());
    ci.set(run("4711", RunKind::Build, 0, 9));
    ci.set(run("42", RunKind::Release, 10, 14));
    ci.set(run("4720", RunKind::Build, 45, 50));
    let repos = Arc::new(FakeRepos::new());
    repos.set_author("8c5f2a1e9d3b", "Ana");
    repos.set_pull(PullRequest {
        id: "118".into(),
        title: "Updating frontend image tag to frontend-4711.".into(),
        description: None,
        source_branch: Some("DEPLOY/frontend-4711".into()),
        target_branch: Some("main".into()),
        merged: true,
        merged_by: None,
        merged_at: Some(at(44)),
        closed: false,
        url: Some("https://github.com/fabrikam/hld/pull/118".into()),
    });
    let first = tracker(writer.clone(), ci, repos);
    let shown = first.deployments(&Filter::default()).await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].status, Status::Complete);
    assert!(!shown[0].expired);
    drop(first);
    let kept = server.psql(
        "postgres",
        "SELECT string_agg(kind || ' ' || id, ', ' ORDER BY kind, id) FROM spektate_answers \
         WHERE partition_key = 'fabrikam'",
    );
    assert_eq!(
        kept, "author 8c5f2a1e9d3b, build 4711, build 4720, pullRequest 118, release 42",
        "the runs, the author and the merged pull request are kept in PostgreSQL"
    );

    // Retention: weeks later the CI has only the runs of a newer deployment (image 4800, its
    // release 43 still running), the host neither the author nor the pull request. A new
    // process reads through a read-only session, as `spektate get` does.
    rec.image_built(&ImageBuilt {
        p1: "4800".into(),
        image_tag: "frontend-4800".into(),
        commit_id: "d41e0b7c2a90".into(),
        service: "fabrikam/frontend".into(),
        repository: Some("https://github.com/fabrikam/frontend".into()),
    })
    .await
    .unwrap();
    rec.metadata_updated(&MetadataUpdated {
        p2: "43".into(),
        image_tag: "frontend-4800".into(),
        hld_commit_id: "9b3d6e1f0c42".into(),
        env: "prod".into(),
        pr: None,
        repository: Some("https://github.com/fabrikam/hld".into()),
        service: None,
    })
    .await
    .unwrap();
    let (ci, repos) = (Arc::new(FakeCi::new()), Arc::new(FakeRepos::new()));
    ci.set(run("4800", RunKind::Build, 40_000, 40_006));
    let mut running = Run::new("43", RunKind::Release, RunStatus::InProgress);
    running.queued_at = Some(at(40_006));
    ci.set(running);
    let reader: Arc<dyn RecordStore> =
        Arc::new(PostgresStore::open_existing(&server.url()).unwrap());
    let later = tracker(reader, ci.clone(), repos);
    let shown = later.deployments(&Filter::default()).await.unwrap();
    let tags: Vec<_> = shown.iter().map(|d| d.image_tag()).collect();
    assert_eq!(
        tags,
        [Some("frontend-4800")],
        "the default view hides the expired deployment"
    );
    assert!(ci.run_calls.load(Ordering::SeqCst) > 0, "the CI was asked");
    let all = later.deployments(&with_expired()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(!all[0].expired, "the newer deployment is not expired");
    let d = &all[1];
    assert_eq!(d.image_tag(), Some("frontend-4711"));
    assert!(d.expired);
    assert_eq!(d.status, Status::Complete);
    let image = d.image.as_ref().unwrap();
    assert_eq!(image.state, StepState::Succeeded);
    let kept_run = image.run.as_ref().unwrap();
    assert_eq!(
        (kept_run.number.as_deref(), kept_run.finished_at),
        (Some("20260317.4711"), Some(at(9))),
        "the image run as the CI last answered it"
    );
    assert_eq!(
        d.metadata
            .as_ref()
            .unwrap()
            .run
            .as_ref()
            .unwrap()
            .finished_at,
        Some(at(14))
    );
    assert_eq!(d.manifest.as_ref().unwrap().state, StepState::Succeeded);
    assert_eq!(d.author.as_ref().unwrap().name, "Ana");
    let pr = d.pull_request.as_ref().unwrap();
    assert_eq!((pr.id.as_str(), pr.merged_at), ("118", Some(at(44))));
    // 9 + 4 + 5 minutes of runs.
    assert_eq!(d.duration_secs, Some(18 * 60));
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(
        (&json["expired"], &json["status"]),
        (&true.into(), &"complete".into())
    );
}
