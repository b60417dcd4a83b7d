//! The tracker end to end over the SQLite store with call-counting fake providers:
//! incremental refresh (docs/ARCHITECTURE.md, Refresh), enrichment, cluster sync, expiry
//! and pruning.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{Duration, Utc};
use spektate_core::testkit::{FakeCi, FakeRepos, FaultyStore};
use spektate_core::{
    ClusterSync, DeploymentKind, Filter, ImageBuilt, ManifestCommitted, ManifestGenerated,
    MetadataUpdated, PullRequest, RecordStore, Recorder, RepoRef, Run, RunKind, RunReported,
    RunResult, RunStatus, SqliteStore, Stage, Status, StepState, Tracker, Window,
};

const SRC: &str = "https://github.com/fabrikam/frontend";
const HLD: &str = "https://github.com/fabrikam/hld";
const MANIFESTS: &str = "https://github.com/fabrikam/manifests";

struct World {
    _dir: tempfile::TempDir,
    store: Arc<dyn RecordStore>,
    rec: Recorder,
    ci: Arc<FakeCi>,
    repos: Arc<FakeRepos>,
    tracker: Tracker,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    let ci = Arc::new(FakeCi::new());
    let repos = Arc::new(FakeRepos::new());
    let tracker = Tracker::builder(store.clone())
        .partition("fabrikam")
        .pipelines(ci.clone())
        .repositories(repos.clone())
        .manifest_repo(RepoRef::parse(MANIFESTS).unwrap())
        .stored_runs(false)
        .build();
    World {
        _dir: dir,
        store,
        rec,
        ci,
        repos,
        tracker,
    }
}

fn done(id: &str, kind: RunKind, result: RunResult) -> Run {
    let mut r = Run::new(id, kind, RunStatus::Completed);
    r.result = Some(result);
    r.queued_at = Some(Utc::now() - Duration::minutes(10));
    r.finished_at = Some(Utc::now() - Duration::minutes(5));
    r
}

/// Records the full journey of image `n` (p1 = n, p2 = 1000+n, p3 = 2000+n) and its runs.
async fn journey(w: &World, n: u32, p3_result: Option<RunResult>) {
    let (p1, p2, p3) = (
        n.to_string(),
        (1000 + n).to_string(),
        (2000 + n).to_string(),
    );
    let tag = format!("frontend-{n}");
    let commit = format!("{n:07}aaaaaaaa");
    w.rec
        .image_built(&ImageBuilt {
            p1: p1.clone(),
            image_tag: tag.clone(),
            commit_id: commit.clone(),
            service: "fabrikam/frontend".into(),
            repository: Some(SRC.into()),
        })
        .await
        .unwrap();
    w.rec
        .metadata_updated(&MetadataUpdated {
            p2: p2.clone(),
            image_tag: tag,
            hld_commit_id: format!("hld{n}"),
            env: "dev".into(),
            pr: Some(n.to_string()),
            repository: Some(HLD.into()),
            service: None,
        })
        .await
        .unwrap();
    w.ci.set(done(&p1, RunKind::Build, RunResult::Succeeded));
    w.ci.set(done(&p2, RunKind::Release, RunResult::Succeeded));
    w.repos.set_author(&commit, &format!("Author {n}"));
    w.repos.set_pull(PullRequest {
        id: n.to_string(),
        title: format!("Update frontend-{n}"),
        description: None,
        source_branch: None,
        target_branch: Some("dev".into()),
        merged: p3_result.is_some(),
        merged_by: None,
        merged_at: None,
        closed: false,
        url: None,
    });
    if let Some(result) = p3_result {
        w.rec
            .manifest_generated(&ManifestGenerated {
                p3: p3.clone(),
                hld_commit_id: format!("hld{n}"),
                manifest_commit_id: None,
                pr: None,
                repository: None,
            })
            .await
            .unwrap();
        w.rec
            .manifest_committed(&ManifestCommitted {
                p3: p3.clone(),
                manifest_commit_id: format!("{n:07}mmmmmmmm"),
                repository: None,
            })
            .await
            .unwrap();
        w.ci.set(done(&p3, RunKind::Build, result));
    }
}

#[tokio::test]
async fn a_second_refresh_over_complete_unchanged_deployments_makes_no_provider_call() {
    let w = world();
    for n in 1..=20 {
        journey(&w, n, Some(RunResult::Succeeded)).await;
    }
    w.repos.set_tags(vec![ClusterSync {
        cluster: "east-us".into(),
        commit: "0000020mmmmmmmm".into(),
        synced_at: None,
        tagger: None,
    }]);
    let stats = w.tracker.refresh().await.unwrap();
    assert_eq!(stats.records_read, 20);
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(ds.len(), 20);
    assert!(ds.iter().all(|d| d.status == Status::Complete));
    assert_eq!(
        w.ci.run_calls.load(Ordering::SeqCst),
        2,
        "one batched call per run kind (builds, releases)"
    );
    assert_eq!(w.ci.ids_asked.load(Ordering::SeqCst), 60);
    assert_eq!(
        w.repos.author_calls.load(Ordering::SeqCst),
        1,
        "authors of one repo in one batch"
    );
    assert_eq!(
        w.repos.pull_calls.load(Ordering::SeqCst),
        1,
        "pull requests of one repo in one batch"
    );
    let newest = ds
        .iter()
        .find(|d| d.image_tag() == Some("frontend-20"))
        .unwrap();
    assert_eq!(
        newest
            .clusters
            .iter()
            .map(|c| c.cluster.as_str())
            .collect::<Vec<_>>(),
        vec!["east-us"]
    );
    assert_eq!(newest.author.as_ref().unwrap().name, "Author 20");
    assert_eq!(
        newest.pull_request.as_ref().unwrap().title,
        "Update frontend-20"
    );

    let (ci_before, repos_before) = (w.ci.calls(), w.repos.calls());
    let stats = w.tracker.refresh().await.unwrap();
    assert_eq!(
        (w.ci.calls(), w.repos.calls()),
        (ci_before, repos_before),
        "nothing new: no provider call"
    );
    assert_eq!(stats.runs_requested, 0);
    assert!(
        stats.records_read <= 20,
        "only the overlap window is re-read"
    );

    // A new deployment costs only its own calls.
    journey(&w, 21, Some(RunResult::Succeeded)).await;
    let stats = w.tracker.refresh().await.unwrap();
    assert_eq!(stats.records_changed, 1);
    assert_eq!(stats.runs_requested, 3, "only the new record's p1, p2, p3");
    assert_eq!(w.repos.author_calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        w.tracker
            .deployments(&Filter::default())
            .await
            .unwrap()
            .len(),
        21
    );
}

#[tokio::test]
async fn only_what_can_still_change_is_fetched_again() {
    let w = world();
    journey(&w, 1, None).await; // awaiting approval: PR open, no p3
    let mut running = Run::new("5", RunKind::Build, RunStatus::InProgress);
    running.queued_at = Some(Utc::now());
    w.rec
        .image_built(&ImageBuilt {
            p1: "5".into(),
            image_tag: "frontend-5".into(),
            commit_id: "5555555aaaa".into(),
            service: "frontend".into(),
            repository: Some(SRC.into()),
        })
        .await
        .unwrap();
    w.ci.set(running);
    w.tracker.refresh().await.unwrap();
    let asked = w.ci.ids_asked.load(Ordering::SeqCst);
    let pulls = w.repos.pull_calls.load(Ordering::SeqCst);
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    let waiting = ds
        .iter()
        .find(|d| d.image_tag() == Some("frontend-1"))
        .unwrap();
    assert!(waiting.awaiting_approval());

    w.tracker.refresh().await.unwrap();
    assert_eq!(
        w.ci.ids_asked.load(Ordering::SeqCst) - asked,
        1,
        "only the running build is asked again"
    );
    assert_eq!(
        w.repos.pull_calls.load(Ordering::SeqCst) - pulls,
        1,
        "the unmerged PR is asked again"
    );

    // The run finishes: the next refresh sees it.
    w.ci.set(done("5", RunKind::Build, RunResult::Failed));
    w.tracker.refresh().await.unwrap();
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    let five = ds
        .iter()
        .find(|d| d.record.p1.as_deref() == Some("5"))
        .unwrap();
    assert_eq!(five.status, Status::Failed);

    // Its failed jobs are re-run (the run keeps its id) and succeed. A finished run is not
    // asked again until its pipeline records again, as the re-run's record step does.
    w.ci.set(done("5", RunKind::Build, RunResult::Succeeded));
    let asked = w.ci.ids_asked.load(Ordering::SeqCst);
    w.tracker.refresh().await.unwrap();
    assert_eq!(
        w.ci.ids_asked.load(Ordering::SeqCst),
        asked,
        "a failed run is not asked again while nothing records"
    );
    w.rec
        .image_built(&ImageBuilt {
            p1: "5".into(),
            image_tag: "frontend-5".into(),
            commit_id: "5555555aaaa".into(),
            service: "frontend".into(),
            repository: Some(SRC.into()),
        })
        .await
        .unwrap();
    w.tracker.refresh().await.unwrap();
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    let five = ds
        .iter()
        .find(|d| d.record.p1.as_deref() == Some("5"))
        .unwrap();
    assert_eq!(
        five.image.as_ref().map(|s| s.state),
        Some(StepState::Succeeded),
        "the re-run's result is shown"
    );
    assert_eq!(five.status, Status::Incomplete);
}

#[tokio::test]
async fn a_failing_author_lookup_keeps_the_deployment_and_warns() {
    let w = world();
    journey(&w, 1, Some(RunResult::Succeeded)).await;
    *w.repos.fail_authors.lock().unwrap() = Some("HTTP 503".into());
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(ds.len(), 1, "the deployment is not dropped");
    let d = &ds[0];
    assert_eq!(d.status, Status::Complete);
    assert!(d.author.is_none());
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("author of commit") && w.contains("HTTP 503")),
        "{:?}",
        d.warnings
    );
    assert!(d.pull_request.is_some(), "other enrichment still applied");

    // The failure is retried on the next refresh, and the warning goes away.
    *w.repos.fail_authors.lock().unwrap() = None;
    w.tracker.refresh().await.unwrap();
    let d = &w.tracker.deployments(&Filter::default()).await.unwrap()[0];
    assert_eq!(d.author.as_ref().unwrap().name, "Author 1");
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[tokio::test]
async fn stages_are_fetched_only_for_multi_stage_runs_that_did_not_succeed() {
    let w = world();
    for (id, result) in [("70", RunResult::Failed), ("71", RunResult::Succeeded)] {
        w.rec
            .image_built(&ImageBuilt {
                p1: id.into(),
                image_tag: format!("img-{id}"),
                commit_id: "c0ffee0".into(),
                service: "backend".into(),
                repository: None,
            })
            .await
            .unwrap();
        w.rec
            .metadata_updated(&MetadataUpdated {
                p2: id.into(),
                image_tag: format!("img-{id}"),
                hld_commit_id: format!("h{id}"),
                env: "dev".into(),
                pr: None,
                repository: None,
                service: None,
            })
            .await
            .unwrap();
        w.ci.set(done(id, RunKind::Build, result));
    }
    let stage = |order, result| Stage {
        name: format!("s{order}"),
        order,
        status: RunStatus::Completed,
        result: Some(result),
        started_at: None,
        finished_at: None,
        url: None,
    };
    w.ci.set_stages(
        "70",
        vec![stage(1, RunResult::Succeeded), stage(2, RunResult::Failed)],
    );
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(
        w.ci.stage_calls.load(Ordering::SeqCst),
        1,
        "only the failed run's stages"
    );
    let failed = ds
        .iter()
        .find(|d| d.record.p1.as_deref() == Some("70"))
        .unwrap();
    assert_eq!(failed.image.as_ref().unwrap().state, StepState::Succeeded);
    assert_eq!(failed.metadata.as_ref().unwrap().state, StepState::Failed);
    assert_eq!(failed.status, Status::Failed);
    w.tracker.refresh().await.unwrap();
    assert_eq!(
        w.ci.stage_calls.load(Ordering::SeqCst),
        1,
        "final runs' stages are not fetched again"
    );
}

#[tokio::test]
async fn expired_records_are_hidden_then_pruned() {
    let w = world();
    journey(&w, 1, Some(RunResult::Succeeded)).await;
    // A record whose runs the CI no longer has (retention expired).
    w.rec
        .image_built(&ImageBuilt {
            p1: "9".into(),
            image_tag: "old".into(),
            commit_id: "0ld0ld0".into(),
            service: "frontend".into(),
            repository: None,
        })
        .await
        .unwrap();
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(ds.len(), 1, "expired record not shown");
    assert_eq!(w.tracker.snapshot().expired.len(), 1);
    assert_eq!(w.tracker.prune_expired().await.unwrap(), 1);
    assert_eq!(
        w.store
            .query("fabrikam", &spektate_core::RecordQuery::all())
            .await
            .unwrap()
            .len(),
        1,
        "pruned from the store"
    );
}

#[tokio::test]
async fn run_reports_serve_runs_no_other_provider_knows() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let rec = Recorder::new(store.clone(), "p").unwrap();
    rec.image_built(&ImageBuilt {
        p1: "jenkins-17".into(),
        image_tag: "t".into(),
        commit_id: "abcdef1".into(),
        service: "s".into(),
        repository: None,
    })
    .await
    .unwrap();
    rec.image_built(&ImageBuilt {
        p1: "never-reported".into(),
        image_tag: "u".into(),
        commit_id: "abcdef2".into(),
        service: "s".into(),
        repository: None,
    })
    .await
    .unwrap();
    let mut report = RunReported::new("jenkins-17", RunStatus::Completed);
    report.result = Some(RunResult::Succeeded);
    rec.run_reported(&report).await.unwrap();
    let lenient = Arc::new(FakeCi::lenient());
    let tracker = Tracker::builder(store)
        .partition("p")
        .pipelines(lenient)
        .build();
    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(ds.len(), 2, "an unknown run is shown, not expired");
    let reported = ds.iter().find(|d| d.image_tag() == Some("t")).unwrap();
    assert_eq!(reported.image.as_ref().unwrap().state, StepState::Succeeded);
    let unknown = ds.iter().find(|d| d.image_tag() == Some("u")).unwrap();
    assert_eq!(unknown.image.as_ref().unwrap().state, StepState::Unknown);
}

#[tokio::test]
async fn filters_select_by_service_ring_author_kind_and_keyword() {
    let w = world();
    for n in 1..=3 {
        journey(&w, n, Some(RunResult::Succeeded)).await;
    }
    w.rec
        .manifest_generated(&ManifestGenerated {
            p3: "9999".into(),
            hld_commit_id: "manual1".into(),
            manifest_commit_id: None,
            pr: None,
            repository: None,
        })
        .await
        .unwrap();
    w.ci.set(done("9999", RunKind::Build, RunResult::Succeeded));
    let t = &w.tracker;
    let get = |f: Filter| async move { t.deployments(&f).await.unwrap() };
    assert_eq!(get(Filter::default()).await.len(), 4);
    assert_eq!(
        get(Filter {
            service: Some("FRONTEND".into()),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        get(Filter {
            service: Some("fabrikam/frontend".into()),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        get(Filter {
            ring: Some("dev".into()),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        get(Filter {
            author: Some("author 2".into()),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    // A part matches; in double quotes, only the whole name (as the page's picker asks).
    let by_author = |a: &str| Filter {
        author: Some(a.into()),
        ..Default::default()
    };
    assert_eq!(get(by_author("author")).await.len(), 3);
    assert_eq!(get(by_author("\"author\"")).await.len(), 0);
    assert_eq!(get(by_author("\"Author 2\"")).await.len(), 1);
    assert_eq!(
        get(Filter {
            kind: Some(DeploymentKind::ManualHldEdit),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    assert_eq!(
        get(Filter {
            keyword: Some("frontend-3".into()),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    assert_eq!(
        get(Filter {
            run_id: Some("1002".into()),
            ..Default::default()
        })
        .await[0]
            .image_tag(),
        Some("frontend-2")
    );
    assert_eq!(
        get(Filter {
            commit: Some("0000003aaa".into()),
            ..Default::default()
        })
        .await
        .len(),
        1,
        "commit prefix"
    );
    assert_eq!(
        get(Filter {
            top: Some(2),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
}

/// The image of `frontend-{n}`, built by run `n`.
fn image(n: u32) -> ImageBuilt {
    ImageBuilt {
        p1: n.to_string(),
        image_tag: format!("frontend-{n}"),
        commit_id: format!("{n:07}aaaaaaaa"),
        service: "frontend".into(),
        repository: None,
    }
}

/// A tracker of partition `fabrikam` and a recorder, both over a SQLite store wrapped so
/// that its reads can be made to fail.
fn over_a_faulty_store() -> (tempfile::TempDir, Arc<FaultyStore>, Recorder, Tracker) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn RecordStore> =
        Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let store = FaultyStore::new(sqlite);
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    let tracker = Tracker::builder(store.clone())
        .partition("fabrikam")
        .stored_runs(false)
        .build();
    (dir, store, rec, tracker)
}

#[tokio::test]
async fn a_failed_refresh_does_not_skip_the_records_it_read() {
    let (_dir, store, rec, tracker) = over_a_faulty_store();
    rec.image_built(&image(1)).await.unwrap();
    tracker.refresh().await.unwrap();
    assert_eq!(tracker.snapshot().deployments.len(), 1);
    rec.image_built(&image(2)).await.unwrap();
    store.fail_cluster_reads(true);
    assert!(tracker.refresh().await.is_err());
    store.fail_cluster_reads(false);
    tracker.refresh().await.unwrap();
    let tags: Vec<_> = tracker
        .snapshot()
        .deployments
        .iter()
        .map(|d| d.image_tag().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        tags.len(),
        2,
        "the record read by the failed refresh is shown: {tags:?}"
    );
}

/// An early manifest record is merged into its deployment's when p2 arrives, and deleted: a
/// refresh that reads only what changed never sees a delete, so the tracker checks the row
/// keys the store holds every `reconcile_every` and forgets the record then.
#[tokio::test]
async fn a_record_deleted_by_another_writer_leaves_at_the_next_reconciliation() {
    let (_dir, store, rec, _) = over_a_faulty_store();
    let tracker = |every: std::time::Duration| {
        Tracker::builder(store.clone())
            .partition("fabrikam")
            .stored_runs(false)
            .reconcile_every(every)
            .build()
    };
    let (every_time, hourly) = (
        tracker(std::time::Duration::ZERO),
        tracker(std::time::Duration::from_secs(3600)),
    );
    rec.image_built(&image(1)).await.unwrap();
    // The HLD push started p3 before p2 recorded its HLD commit: a manual HLD edit for now.
    rec.manifest_generated(&ManifestGenerated {
        p3: "301".into(),
        hld_commit_id: "hld1aaaa".into(),
        manifest_commit_id: Some("man1aaaa".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let kinds = |t: &Tracker| {
        let mut k: Vec<(DeploymentKind, Option<String>)> = (t.snapshot().deployments.iter())
            .map(|d| (d.kind, d.record.p3.clone()))
            .collect();
        k.sort_by_key(|(_, p3)| p3.clone());
        k
    };
    for t in [&every_time, &hourly] {
        t.refresh().await.unwrap();
        assert_eq!(t.snapshot().deployments.len(), 2, "{:?}", kinds(t));
    }
    rec.metadata_updated(&MetadataUpdated {
        p2: "201".into(),
        image_tag: "frontend-1".into(),
        hld_commit_id: "hld1aaaa".into(),
        env: "dev".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let queries = store.queries();
    every_time.refresh().await.unwrap();
    assert_eq!(
        kinds(&every_time),
        [(DeploymentKind::Deployment, Some("301".into()))],
        "the merged record alone"
    );
    assert_eq!(store.queries() - queries, 2, "the keys, then what changed");
    // Until its hour is up, the other still shows the merged-away record.
    hourly.refresh().await.unwrap();
    assert_eq!(
        hourly.snapshot().deployments.len(),
        2,
        "{:?}",
        kinds(&hourly)
    );
}

#[tokio::test]
async fn a_window_reads_recent_records_and_forgets_those_that_leave_it_with_their_answers() {
    let w = world();
    for n in 1..=3 {
        journey(&w, n, Some(RunResult::Succeeded)).await;
    }
    // A cluster runs a commit no record names, so the manifest history is read to place it.
    let m = |n: u32| format!("{n:07}mmmmmmmm");
    w.repos.set_tags(vec![ClusterSync {
        cluster: "east-us".into(),
        commit: m(9),
        synced_at: None,
        tagger: Some("flux".into()),
    }]);
    w.repos.set_history(vec![m(9), m(3), m(2), m(1)]);
    // Image 1 was last written long ago.
    let db = rusqlite::Connection::open(w._dir.path().join("s.db")).unwrap();
    db.execute(
        "UPDATE records SET timestamp = '2020-01-01T00:00:00Z' WHERE imageTag = 'frontend-1'",
        [],
    )
    .unwrap();
    let tracker = |window| {
        Tracker::builder(w.store.clone())
            .partition("fabrikam")
            .pipelines(w.ci.clone())
            .repositories(w.repos.clone())
            .manifest_repo(RepoRef::parse(MANIFESTS).unwrap())
            .stored_runs(false)
            .window(window)
            .build()
    };
    let tags = |ds: Vec<spektate_core::Deployment>| {
        let mut t: Vec<String> = ds
            .iter()
            .filter_map(|d| d.image_tag())
            .map(String::from)
            .collect();
        t.sort();
        t
    };
    let recent = tracker(Window::recent());
    let shown = tags(recent.deployments(&Filter::default()).await.unwrap());
    assert_eq!(shown, ["frontend-2", "frontend-3"]);
    let all = tracker(Window::All);
    assert_eq!(all.deployments(&Filter::default()).await.unwrap().len(), 3);

    // A short moving window: once it has passed, nothing is tracked any more. Images 2 and 3
    // are stamped now, so the window counts from here, not from their journeys.
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    db.execute(
        "UPDATE records SET timestamp = ? WHERE imageTag IN ('frontend-2', 'frontend-3')",
        [&now],
    )
    .unwrap();
    let short = tracker(Window::Last(Duration::seconds(5)));
    assert_eq!(
        short.deployments(&Filter::default()).await.unwrap().len(),
        2
    );
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    short.refresh().await.unwrap();
    assert!(short.snapshot().deployments.is_empty());
    // What providers answered about forgotten records went with them: image 2 written again
    // is looked up afresh, not served from an answer kept forever.
    let asked = w.ci.calls();
    let histories = w.repos.history_calls.load(Ordering::SeqCst);
    journey(&w, 2, Some(RunResult::Succeeded)).await;
    short.refresh().await.unwrap();
    assert_eq!(tags(short.snapshot().deployments.to_vec()), ["frontend-2"]);
    assert!(
        w.ci.calls() > asked,
        "runs of a forgotten record are asked again"
    );
    assert!(
        w.repos.history_calls.load(Ordering::SeqCst) > histories,
        "the manifest history went with the records that named its repository"
    );
    assert_eq!(short.snapshot().deployments[0].status, Status::Complete);
}

#[tokio::test]
async fn the_manifest_history_is_read_when_a_commit_it_lacks_appears_and_places_a_hand_made_commit()
{
    let w = world();
    for n in 1..=3 {
        journey(&w, n, Some(RunResult::Succeeded)).await;
    }
    let m = |n: u32| format!("{n:07}mmmmmmmm");
    // east-us runs a commit made by hand after frontend-2's (frontend-3's came earlier, but
    // its p3 recorded it last).
    w.repos.set_tags(vec![ClusterSync {
        cluster: "east-us".into(),
        commit: m(9),
        synced_at: None,
        tagger: Some("flux".into()),
    }]);
    w.repos.set_history(vec![m(9), m(2), m(3), m(1)]);
    let live = |ds: &[spektate_core::Deployment]| -> Vec<(String, Vec<String>)> {
        let mut v: Vec<_> = ds
            .iter()
            .map(|d| {
                let clusters = d.live_in.iter().map(|l| l.cluster.clone()).collect();
                (d.image_tag().unwrap_or_default().to_string(), clusters)
            })
            .collect();
        v.sort();
        v
    };
    let east = || vec!["east-us".to_string()];
    w.tracker.refresh().await.unwrap();
    assert_eq!(w.repos.history_calls.load(Ordering::SeqCst), 1);
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(
        live(&ds),
        [
            ("frontend-1".to_string(), vec![]),
            ("frontend-2".to_string(), east()),
            ("frontend-3".to_string(), vec![]),
        ],
        "by the history, 2 is the newest frontend commit east-us has"
    );

    // Nothing changed: the history is not asked for again.
    w.tracker.refresh().await.unwrap();
    assert_eq!(w.repos.history_calls.load(Ordering::SeqCst), 1);

    // A new manifest commit the history does not hold yet: read again, once.
    journey(&w, 4, Some(RunResult::Succeeded)).await;
    w.repos.set_history(vec![m(4), m(9), m(2), m(3), m(1)]);
    w.tracker.refresh().await.unwrap();
    assert_eq!(w.repos.history_calls.load(Ordering::SeqCst), 2);
    w.tracker.refresh().await.unwrap();
    assert_eq!(w.repos.history_calls.load(Ordering::SeqCst), 2);
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    let now = live(&ds);
    assert_eq!(now[1], ("frontend-2".to_string(), east()));
    assert_eq!(now[3], ("frontend-4".to_string(), vec![]), "4 came after 9");
}

#[tokio::test]
async fn a_cluster_report_makes_only_the_histories_that_may_hold_it_read_again() {
    const BACKEND: &str = "https://github.com/fabrikam/backend-manifests";
    let w = world();
    let m = |n: u32| format!("{n:07}mmmmmmmm");
    journey(&w, 1, Some(RunResult::Succeeded)).await;
    // A second manifest repository, named by a backend's p3.
    w.rec
        .manifest_generated(&ManifestGenerated {
            p3: "3001".into(),
            hld_commit_id: "hld-backend".into(),
            manifest_commit_id: Some("b000001bbbbbbbb".into()),
            pr: None,
            repository: Some(BACKEND.into()),
        })
        .await
        .unwrap();
    w.ci.set(done("3001", RunKind::Build, RunResult::Succeeded));
    let (front, back) = (
        RepoRef::parse(MANIFESTS).unwrap(),
        RepoRef::parse(BACKEND).unwrap(),
    );
    w.repos.set_repo_history(&front, vec![m(1)]);
    w.repos
        .set_repo_history(&back, vec!["b000001bbbbbbbb".into()]);
    w.rec.cluster_synced("edge-1", &m(1), None).await.unwrap();
    let asked = || w.repos.history_asked.lock().unwrap().clone();
    let mut both = vec![back.key(), front.key()];
    both.sort();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    w.tracker.refresh().await.unwrap();
    assert_eq!(asked().len(), 1);
    assert_eq!(sorted(asked()[0].clone()), both, "first read: both");

    // A new frontend commit: the frontend history is read again. The backend history holds
    // neither it nor edge-1's commit, which the frontend history holds: it is not.
    journey(&w, 2, Some(RunResult::Succeeded)).await;
    w.repos.set_repo_history(&front, vec![m(2), m(1)]);
    w.tracker.refresh().await.unwrap();
    assert_eq!(asked().len(), 2);
    assert_eq!(
        asked()[1],
        vec![front.key()],
        "edge-1 runs a frontend commit"
    );

    // A cluster reports a commit no history holds yet: it may be in either repository.
    w.repos.set_repo_history(&front, vec![m(7), m(2), m(1)]);
    w.rec.cluster_synced("edge-2", &m(7), None).await.unwrap();
    w.tracker.refresh().await.unwrap();
    assert_eq!(asked().len(), 3);
    assert_eq!(
        sorted(asked()[2].clone()),
        both,
        "edge-2's commit was held by none"
    );
    // Nothing changed: nothing is read.
    w.tracker.refresh().await.unwrap();
    assert_eq!(asked().len(), 3);

    // A cluster on a commit no history holds, now or later (a branch's): the histories are
    // read for it once, and not again on every later change.
    w.rec
        .cluster_synced("edge-3", "0badc0ffee0000", None)
        .await
        .unwrap();
    w.tracker.refresh().await.unwrap();
    assert_eq!(asked().len(), 4);
    assert_eq!(sorted(asked()[3].clone()), both, "edge-3's commit is new");
    journey(&w, 3, Some(RunResult::Succeeded)).await;
    w.tracker.refresh().await.unwrap();
    assert_eq!(asked().len(), 5);
    assert_eq!(
        asked()[4],
        vec![front.key()],
        "frontend-3's commit is new to the frontend history; edge-3's was looked for"
    );
    let ds = w.tracker.deployments(&Filter::default()).await.unwrap();
    let front_2 = ds
        .iter()
        .find(|d| d.image_tag() == Some("frontend-2"))
        .unwrap();
    let clusters: Vec<&str> = front_2.live_in.iter().map(|l| l.cluster.as_str()).collect();
    assert_eq!(
        clusters,
        ["edge-2"],
        "edge-2 runs a commit after frontend-2's"
    );
}

/// A store that keeps no change sequence, as the Azure table: its service stamps each
/// record's `Timestamp` when the write commits, and a write may commit long after it began.
/// Here the stamps are set by the test; queries by `changed_since` compare with them.
struct StampedStore {
    inner: Arc<dyn RecordStore>,
    stamps: std::sync::Mutex<std::collections::HashMap<String, chrono::DateTime<Utc>>>,
    asked_since: std::sync::Mutex<Vec<Option<chrono::DateTime<Utc>>>>,
}

#[async_trait::async_trait]
impl RecordStore for StampedStore {
    fn describe(&self) -> String {
        "stamped".into()
    }
    fn change_overlap(&self) -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }
    async fn query(
        &self,
        partition: &str,
        query: &spektate_core::RecordQuery,
    ) -> spektate_core::Result<Vec<spektate_core::Record>> {
        self.asked_since.lock().unwrap().push(query.changed_since);
        let mut all = query.clone();
        all.changed_since = None;
        all.after_sequence = None;
        let stamps = self.stamps.lock().unwrap().clone();
        let mut out = Vec::new();
        for mut r in self.inner.query(partition, &all).await? {
            r.sequence = None;
            r.timestamp = stamps.get(&r.row_key).copied().or(r.timestamp);
            if query
                .changed_since
                .is_none_or(|since| r.timestamp >= Some(since))
            {
                out.push(r);
            }
        }
        Ok(out)
    }
    async fn insert(
        &self,
        r: &spektate_core::Record,
    ) -> spektate_core::Result<spektate_core::Record> {
        self.inner.insert(r).await
    }
    async fn replace(
        &self,
        r: &spektate_core::Record,
    ) -> spektate_core::Result<spektate_core::Record> {
        self.inner.replace(r).await
    }
    async fn delete(
        &self,
        p: &str,
        row_key: &str,
        etag: Option<&str>,
    ) -> spektate_core::Result<()> {
        self.inner.delete(p, row_key, etag).await
    }
    async fn put_run_report(
        &self,
        p: &str,
        report: &spektate_core::RunReport,
    ) -> spektate_core::Result<spektate_core::RunReport> {
        self.inner.put_run_report(p, report).await
    }
    async fn run_reports(
        &self,
        p: &str,
        ids: &[String],
    ) -> spektate_core::Result<Vec<spektate_core::RunReport>> {
        self.inner.run_reports(p, ids).await
    }
    async fn put_cluster_report(
        &self,
        p: &str,
        report: &spektate_core::ClusterReport,
    ) -> spektate_core::Result<()> {
        self.inner.put_cluster_report(p, report).await
    }
    async fn cluster_histories(
        &self,
        p: &str,
    ) -> spektate_core::Result<Vec<spektate_core::ClusterHistory>> {
        self.inner.cluster_histories(p).await
    }
}

/// A SQLite store behind a [`StampedStore`], a recorder and a tracker over it.
fn stamped_world() -> (tempfile::TempDir, Arc<StampedStore>, Recorder, Tracker) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn RecordStore> =
        Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let stamped = Arc::new(StampedStore {
        inner: sqlite,
        stamps: Default::default(),
        asked_since: Default::default(),
    });
    let store: Arc<dyn RecordStore> = stamped.clone();
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .stored_runs(false)
        .build();
    (dir, stamped, rec, tracker)
}

#[tokio::test]
async fn without_a_change_sequence_a_refresh_reaches_back_the_store_s_longest_write() {
    let (_dir, stamped, rec, tracker) = stamped_world();
    let seen = rec.image_built(&image(1)).await.unwrap();
    let newest = Utc::now() - Duration::minutes(1);
    stamped
        .stamps
        .lock()
        .unwrap()
        .insert(seen.row_key.clone(), newest);
    tracker.refresh().await.unwrap();
    // A write that began before the one seen commits after the refresh, stamped 5 minutes
    // before the newest timestamp read.
    let late = rec.image_built(&image(2)).await.unwrap();
    stamped
        .stamps
        .lock()
        .unwrap()
        .insert(late.row_key.clone(), newest - Duration::minutes(5));
    tracker.refresh().await.unwrap();
    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    let mut tags: Vec<&str> = ds.iter().filter_map(|d| d.image_tag()).collect();
    tags.sort();
    assert_eq!(
        tags,
        ["frontend-1", "frontend-2"],
        "the late commit is read"
    );
    let asked = stamped.asked_since.lock().unwrap().clone();
    assert_eq!(
        asked.last().copied().flatten(),
        Some(newest - Duration::minutes(10)),
        "the second read reaches back the store's longest write: {asked:?}"
    );
}

#[tokio::test]
async fn a_store_stamping_the_earliest_time_chrono_holds_is_read_again_from_there() {
    let (_dir, stamped, rec, tracker) = stamped_world();
    let seen = rec.image_built(&image(1)).await.unwrap();
    let earliest = chrono::DateTime::<Utc>::MIN_UTC;
    stamped
        .stamps
        .lock()
        .unwrap()
        .insert(seen.row_key.clone(), earliest);
    tracker.refresh().await.unwrap();
    // The newest timestamp read less the store's overlap is before what chrono holds.
    tracker.refresh().await.unwrap();
    let asked = stamped.asked_since.lock().unwrap().clone();
    assert_eq!(asked.last().copied().flatten(), Some(earliest), "{asked:?}");
    assert_eq!(
        tracker.deployments(&Filter::default()).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn watch_refreshes_in_the_background_rides_out_a_failing_store_and_stops_when_dropped() {
    use spektate_core::testkit::Fault;
    let (_dir, faulty, rec, tracker) = over_a_faulty_store();
    // Waits (at most 10 s) for a snapshot holding `n` deployments.
    async fn holding(
        rx: &mut tokio::sync::watch::Receiver<Arc<spektate_core::Snapshot>>,
        n: usize,
    ) {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while rx.borrow_and_update().deployments.len() != n {
                rx.changed().await.expect("the watch ended");
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no snapshot with {n} deployments"));
    }
    rec.image_built(&image(1)).await.unwrap();
    let mut rx = tracker.watch(std::time::Duration::from_millis(20));
    holding(&mut rx, 1).await;
    // A store that fails for a while: the watch keeps the last snapshot and goes on.
    faulty.set_fault(Fault::Fail);
    let failed_from = faulty.queries();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while faulty.queries() < failed_from + 2 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("refreshes retried while the store fails");
    assert_eq!(
        rx.borrow().deployments.len(),
        1,
        "the last snapshot is kept"
    );
    faulty.set_fault(Fault::None);
    rec.image_built(&image(2)).await.unwrap();
    holding(&mut rx, 2).await;
    // Once every receiver is gone, the background refresh ends.
    drop(rx);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = faulty.queries();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        faulty.queries(),
        after,
        "no refresh after the receivers are dropped"
    );
}
