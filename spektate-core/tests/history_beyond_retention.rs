//! History beyond CI retention: a tracker over a SQLite store keeps what providers answered;
//! once the CI has forgotten the runs (and the repository host the author and the pull
//! request), a new tracker over the same file shows the deployments as expired, from what the
//! store kept, and the metrics still count them.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;

use chrono::{DateTime, Duration, TimeZone, Utc};
use spektate_core::cache::{Answer, AnswerKey};
use spektate_core::insights::dora::{MetricsOptions, dora};
use spektate_core::testkit::{FakeCi, FakeRepos};
use spektate_core::{
    ClusterHistory, ClusterReport, Filter, ImageBuilt, ManifestGenerated, MetadataUpdated,
    PullRequest, Record, RecordQuery, RecordStore, Recorder, Run, RunKind, RunReport, RunResult,
    RunStatus, SqliteStore, Status, StepState, Tracker,
};

const SRC: &str = "https://github.com/fabrikam/frontend";
const HLD: &str = "https://github.com/fabrikam/hld";
const PARTITION: &str = "fabrikam";

/// Monday 2 March 2026, 09:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn at(day: i64, minute: i64) -> DateTime<Utc> {
    t0() + Duration::days(day) + Duration::minutes(minute)
}

fn run(id: &str, kind: RunKind, result: RunResult, day: i64, from: i64, to: i64) -> Run {
    let mut r = Run::new(id, kind, RunStatus::Completed);
    r.result = Some(result);
    r.number = Some(format!("2026030{}.{id}", 2 + day));
    r.queued_at = Some(at(day, from));
    r.started_at = Some(at(day, from));
    r.finished_at = Some(at(day, to));
    r.last_changed_at = r.finished_at;
    r
}

fn merged(id: &str, day: i64, minute: i64) -> PullRequest {
    PullRequest {
        id: id.into(),
        title: format!("Updating frontend image tag (PR {id})"),
        description: None,
        source_branch: Some(format!("DEPLOY/frontend-{id}")),
        target_branch: Some("main".into()),
        merged: true,
        merged_by: None,
        merged_at: Some(at(day, minute)),
        closed: false,
        url: Some(format!("https://github.com/fabrikam/hld/pull/{id}")),
    }
}

/// One journey: image `p1` (commit `c{p1}`), and when given, the release `p2` with its
/// approval pull request and the manifest build `p3`.
async fn record(rec: &Recorder, p1: &str, p2: Option<&str>, pr: Option<&str>, p3: Option<&str>) {
    let tag = format!("frontend-{p1}");
    rec.image_built(&ImageBuilt {
        p1: p1.into(),
        image_tag: tag.clone(),
        commit_id: format!("c{p1}aaaaaaa"),
        service: "fabrikam/frontend".into(),
        repository: Some(SRC.into()),
    })
    .await
    .unwrap();
    if let Some(p2) = p2 {
        rec.metadata_updated(&MetadataUpdated {
            p2: p2.into(),
            image_tag: tag,
            hld_commit_id: format!("h{p2}aaaaaaa"),
            env: "prod".into(),
            pr: pr.map(str::to_string),
            repository: Some(HLD.into()),
            service: None,
        })
        .await
        .unwrap();
    }
    if let (Some(p2), Some(p3)) = (p2, p3) {
        rec.manifest_generated(&ManifestGenerated {
            p3: p3.into(),
            hld_commit_id: format!("h{p2}aaaaaaa"),
            manifest_commit_id: None,
            pr: None,
            repository: None,
        })
        .await
        .unwrap();
    }
}

fn tracker(store: Arc<dyn RecordStore>, ci: Arc<FakeCi>, repos: Arc<FakeRepos>) -> Tracker {
    Tracker::builder(store)
        .partition(PARTITION)
        .pipelines(ci)
        .repositories(repos)
        .stored_runs(false)
        .build()
}

/// A: complete (image 0–9 min, release 10–14, PR merged at 44, manifests 45–50);
/// B, a day later: image 0–8, its release failed (8–12); C, two days later: complete (image 0–6,
/// release 6–10, PR merged at 20, manifests 21–25). The CI and the host know them all.
fn providers_that_remember() -> (Arc<FakeCi>, Arc<FakeRepos>) {
    let ci = Arc::new(FakeCi::new());
    ci.set(run("101", RunKind::Build, RunResult::Succeeded, 0, 0, 9));
    ci.set(run(
        "201",
        RunKind::Release,
        RunResult::Succeeded,
        0,
        10,
        14,
    ));
    ci.set(run("301", RunKind::Build, RunResult::Succeeded, 0, 45, 50));
    ci.set(run("102", RunKind::Build, RunResult::Succeeded, 1, 0, 8));
    ci.set(run("202", RunKind::Release, RunResult::Failed, 1, 8, 12));
    ci.set(run("103", RunKind::Build, RunResult::Succeeded, 2, 0, 6));
    ci.set(run("203", RunKind::Release, RunResult::Succeeded, 2, 6, 10));
    ci.set(run("303", RunKind::Build, RunResult::Succeeded, 2, 21, 25));
    let repos = Arc::new(FakeRepos::new());
    repos.set_author("c101aaaaaaa", "Ana");
    repos.set_author("c102aaaaaaa", "Bo");
    repos.set_author("c103aaaaaaa", "Cy");
    repos.set_pull(merged("31", 0, 44));
    repos.set_pull(merged("33", 2, 20));
    (ci, repos)
}

/// What the CI and the host still know after retention: only E, recorded on day 6 (image
/// 0–5 min, its release still running). A CI only says "gone" of a batch in which it found
/// something, so a refresh always asks about something it still has.
fn providers_that_forgot() -> (Arc<FakeCi>, Arc<FakeRepos>) {
    let ci = Arc::new(FakeCi::new());
    ci.set(run("104", RunKind::Build, RunResult::Succeeded, 6, 0, 5));
    let mut running = Run::new("204", RunKind::Release, RunStatus::InProgress);
    running.queued_at = Some(at(6, 5));
    ci.set(running);
    let repos = Arc::new(FakeRepos::new());
    repos.set_author("c104aaaaaaa", "Di");
    (ci, repos)
}

struct History {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

/// Records A, B and C, and D (p1 999, which the CI had forgotten before anyone asked);
/// a first tracker learns what the CI and the host answer, and keeps it in the store.
async fn learned_history() -> History {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spektate.db");
    let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let rec = Recorder::new(store.clone(), PARTITION).unwrap();
    record(&rec, "101", Some("201"), Some("31"), Some("301")).await;
    record(&rec, "102", Some("202"), None, None).await;
    record(&rec, "103", Some("203"), Some("33"), Some("303")).await;
    record(&rec, "999", None, None, None).await;
    let (ci, repos) = providers_that_remember();
    let (now, _) = providers_that_forgot();
    let _ = now;
    let first = tracker(store.clone(), ci, repos);
    let shown = first.deployments(&Filter::default()).await.unwrap();
    assert_eq!(shown.len(), 3, "A, B and C are shown; D is expired");
    assert!(shown.iter().all(|d| !d.expired));
    let d = first
        .deployments(&Filter {
            include_expired: true,
            ..Filter::default()
        })
        .await
        .unwrap();
    assert_eq!(d.len(), 4, "D is listed when expired ones are asked for");
    History { _dir: dir, path }
}

/// Days later: E is recorded, and a new tracker over the same file asks a CI and a host
/// that forgot A, B, C and D ([`providers_that_forgot`]).
async fn later_tracker(h: &History) -> (Tracker, Arc<FakeCi>) {
    let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(&h.path).unwrap());
    let rec = Recorder::new(store.clone(), PARTITION).unwrap();
    record(&rec, "104", Some("204"), None, None).await;
    let (ci, repos) = providers_that_forgot();
    (tracker(store, ci.clone(), repos), ci)
}

fn key(namespace: &str, kind: &str, id: &str) -> AnswerKey {
    AnswerKey {
        namespace: namespace.into(),
        kind: kind.into(),
        id: id.into(),
    }
}

#[tokio::test]
async fn a_tracker_keeps_final_answers_in_the_store_once_learned() {
    let h = learned_history().await;
    let store = SqliteStore::open_existing(&h.path).unwrap();
    let kept = store
        .answers(
            PARTITION,
            &[
                key("fake ci", "build", "101"),
                key("fake ci", "release", "201"),
                key("fake ci", "build", "999"),
                key("github.com/fabrikam/frontend", "author", "c101aaaaaaa"),
                key("github.com/fabrikam/hld", "pullRequest", "31"),
            ],
        )
        .await
        .unwrap();
    let mut kinds: Vec<(String, String)> = kept
        .iter()
        .map(|a| (a.fact.kind().to_string(), a.id.clone()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("author".to_string(), "c101aaaaaaa".to_string()),
            ("build".into(), "101".into()),
            ("pullRequest".into(), "31".into()),
            ("release".into(), "201".into()),
        ],
        "the runs, the author and the merged PR are kept; nothing for a run never found"
    );
}

#[tokio::test]
async fn after_the_ci_forgets_a_new_tracker_shows_expired_deployments_from_what_was_kept() {
    let h = learned_history().await;
    // The CI's retention deleted the runs of A to D; the host lost their authors and PRs.
    let (later, ci) = later_tracker(&h).await;
    let shown = later.deployments(&Filter::default()).await.unwrap();
    let tags: Vec<_> = shown.iter().map(|d| d.image_tag()).collect();
    assert_eq!(
        tags,
        [Some("frontend-104")],
        "the default view hides expired deployments"
    );
    assert!(
        ci.run_calls.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the CI was asked"
    );
    let all = later
        .deployments(&Filter {
            include_expired: true,
            ..Filter::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let expired: Vec<_> = all
        .iter()
        .filter(|d| d.expired)
        .map(|d| d.image_tag())
        .collect();
    assert_eq!(
        expired,
        [
            Some("frontend-999"),
            Some("frontend-103"),
            Some("frontend-102"),
            Some("frontend-101")
        ],
        "A to D are expired, newest first (D, with no run, by its record's time)"
    );

    let a = all
        .iter()
        .find(|d| d.image_tag() == Some("frontend-101"))
        .unwrap();
    assert_eq!(a.status, Status::Complete);
    let image = a.image.as_ref().unwrap();
    assert_eq!(image.state, StepState::Succeeded);
    let kept = image.run.as_ref().unwrap();
    assert_eq!(
        (kept.number.as_deref(), kept.finished_at),
        (Some("20260302.101"), Some(at(0, 9))),
        "the image run as the CI last answered"
    );
    assert_eq!(
        a.metadata
            .as_ref()
            .unwrap()
            .run
            .as_ref()
            .unwrap()
            .finished_at,
        Some(at(0, 14))
    );
    assert_eq!(a.manifest.as_ref().unwrap().state, StepState::Succeeded);
    assert_eq!(a.author.as_ref().unwrap().name, "Ana");
    let pr = a.pull_request.as_ref().unwrap();
    assert_eq!((pr.id.as_str(), pr.merged_at), ("31", Some(at(0, 44))));
    // 9 + 4 + 5 minutes of runs.
    assert_eq!(a.duration_secs, Some(18 * 60));
    let json = serde_json::to_value(a).unwrap();
    assert_eq!(json["expired"], true);
    assert_eq!(json["status"], "complete");

    let b = all
        .iter()
        .find(|d| d.image_tag() == Some("frontend-102"))
        .unwrap();
    assert_eq!(
        (b.status, b.author.as_ref().unwrap().name.as_str()),
        (Status::Failed, "Bo")
    );

    // D: the CI forgot it before anyone asked; nothing kept, still a deployment.
    let d = all
        .iter()
        .find(|d| d.image_tag() == Some("frontend-999"))
        .unwrap();
    assert_eq!(d.image.as_ref().unwrap().state, StepState::Expired);
    assert!(d.image.as_ref().unwrap().run.is_none());
    assert_eq!(d.run_id(spektate_core::StepName::Image), Some("999"));
    assert_eq!(d.commit_id(), Some("c999aaaaaaa"));
    // Pruning deletes only D: the others are history the store kept.
    let lost: Vec<String> = later
        .snapshot()
        .expired
        .iter()
        .map(|r| r.image_tag.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        lost,
        ["frontend-999"],
        "prune_expired deletes what nothing kept"
    );

    // A second refresh asks the CI about E's running release only: the kept runs are final.
    let asked = ci.ids_asked.load(std::sync::atomic::Ordering::SeqCst);
    later.refresh().await.unwrap();
    assert_eq!(
        ci.ids_asked.load(std::sync::atomic::Ordering::SeqCst),
        asked + 1
    );
    let again = later
        .deployments(&Filter {
            include_expired: true,
            ..Filter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        again.iter().filter(|d| d.expired).count(),
        4,
        "still expired"
    );
}

#[tokio::test]
async fn metrics_count_expired_deployments_from_what_was_kept() {
    let h = learned_history().await;
    let (later, _) = later_tracker(&h).await;
    let deployments = later
        .deployments(&Filter::default().counting())
        .await
        .unwrap();
    let m = dora(
        &deployments,
        &MetricsOptions {
            since: Some(t0()),
            until: at(7, 0),
            by: None,
        },
    );
    let f = &m.overall;
    // A and C completed in a 7-day window.
    assert_eq!(f.deployment_frequency.completed, 2);
    assert_eq!(f.deployment_frequency.days, 7.0);
    assert_eq!(f.deployment_frequency.per_day, Some(2.0 / 7.0));
    // A: 0 → 50 min = 3000 s; C: 0 → 25 min = 1500 s. Median of two: 2250 s; p90: 3000 s.
    assert_eq!(f.lead_time.count, 2);
    assert_eq!(f.lead_time.median_secs, Some(2250));
    assert_eq!(f.lead_time.p90_secs, Some(3000));
    // Image 9 + 6 min of 75 min in all: a fifth; approval 30 + 10 of 75.
    let shares = f.lead_time.shares.as_ref().unwrap();
    assert!((shares.image - 0.2).abs() < 1e-9, "{shares:?}");
    assert!((shares.approval - 40.0 / 75.0).abs() < 1e-9, "{shares:?}");
    // B failed of A, B and C: one in three.
    assert_eq!(
        (f.change_failure_rate.failed, f.change_failure_rate.finished),
        (1, 3)
    );
    // B failed at day 1 + 12 min; C completed at day 2 + 25 min: 1 day 13 min.
    assert_eq!(f.time_to_restore.restorations, 1);
    assert_eq!(f.time_to_restore.median_secs, Some(86_400 + 13 * 60));

    // E, still running, counts in none of the figures; what get shows is not what the
    // metrics count.
    assert_eq!(
        later.deployments(&Filter::default()).await.unwrap().len(),
        1
    );
}

/// A store that counts the answers written and the calls reading them.
struct Counting {
    inner: SqliteStore,
    put_calls: AtomicUsize,
    answers_put: AtomicUsize,
    reads: AtomicUsize,
}

impl Counting {
    fn open(path: &std::path::Path) -> Arc<Self> {
        Self::over(SqliteStore::open(path).unwrap())
    }

    /// Over the file opened for reading, as `spektate get` and `dashboard` open it.
    fn open_existing(path: &std::path::Path) -> Arc<Self> {
        Self::over(SqliteStore::open_existing(path).unwrap())
    }

    fn over(inner: SqliteStore) -> Arc<Self> {
        Arc::new(Counting {
            inner,
            put_calls: AtomicUsize::new(0),
            answers_put: AtomicUsize::new(0),
            reads: AtomicUsize::new(0),
        })
    }
}

#[async_trait::async_trait]
impl RecordStore for Counting {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn query(&self, p: &str, q: &RecordQuery) -> spektate_core::Result<Vec<Record>> {
        self.inner.query(p, q).await
    }
    async fn insert(&self, r: &Record) -> spektate_core::Result<Record> {
        self.inner.insert(r).await
    }
    async fn replace(&self, r: &Record) -> spektate_core::Result<Record> {
        self.inner.replace(r).await
    }
    async fn delete(&self, p: &str, k: &str, e: Option<&str>) -> spektate_core::Result<()> {
        self.inner.delete(p, k, e).await
    }
    async fn put_run_report(&self, p: &str, r: &RunReport) -> spektate_core::Result<RunReport> {
        self.inner.put_run_report(p, r).await
    }
    async fn run_reports(&self, p: &str, ids: &[String]) -> spektate_core::Result<Vec<RunReport>> {
        self.inner.run_reports(p, ids).await
    }
    async fn put_cluster_report(&self, p: &str, r: &ClusterReport) -> spektate_core::Result<()> {
        self.inner.put_cluster_report(p, r).await
    }
    async fn cluster_histories(&self, p: &str) -> spektate_core::Result<Vec<ClusterHistory>> {
        self.inner.cluster_histories(p).await
    }
    fn keeps_answers(&self) -> bool {
        self.inner.keeps_answers()
    }
    fn writes_answers(&self) -> bool {
        self.inner.writes_answers()
    }
    async fn put_answers(&self, p: &str, answers: &[Answer]) -> spektate_core::Result<()> {
        self.put_calls.fetch_add(1, SeqCst);
        self.answers_put.fetch_add(answers.len(), SeqCst);
        self.inner.put_answers(p, answers).await
    }
    async fn answers(&self, p: &str, keys: &[AnswerKey]) -> spektate_core::Result<Vec<Answer>> {
        self.reads.fetch_add(1, SeqCst);
        self.inner.answers(p, keys).await
    }
}

#[tokio::test]
async fn final_answers_are_written_once_and_gone_ones_read_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spektate.db");
    let counting = Counting::open(&path);
    let store: Arc<dyn RecordStore> = counting.clone();
    let rec = Recorder::new(store.clone(), PARTITION).unwrap();
    record(&rec, "101", Some("201"), Some("31"), Some("301")).await;
    record(&rec, "102", Some("202"), None, None).await;
    record(&rec, "103", Some("203"), Some("33"), Some("303")).await;
    let (ci, repos) = providers_that_remember();
    let first = tracker(store.clone(), ci.clone(), repos);
    first.refresh().await.unwrap();
    // 8 runs, 3 authors, 2 merged pull requests, in one call.
    assert_eq!(counting.answers_put.load(SeqCst), 13);
    assert_eq!(counting.put_calls.load(SeqCst), 1);
    assert_eq!(
        counting.reads.load(SeqCst),
        0,
        "nothing is gone: nothing read"
    );

    // A new image: only its run is written; its author, which the host does not know, is
    // looked for in the store (one read).
    ci.set(run("105", RunKind::Build, RunResult::Succeeded, 3, 0, 4));
    record(&rec, "105", None, None, None).await;
    first.refresh().await.unwrap();
    assert_eq!(counting.answers_put.load(SeqCst), 14);
    first.refresh().await.unwrap();
    assert_eq!(
        counting.answers_put.load(SeqCst),
        14,
        "nothing new, nothing written"
    );

    // After retention, a new tracker reads what is gone in one call, and not again.
    let (ci, repos) = providers_that_forgot();
    record(&rec, "104", Some("204"), None, None).await;
    assert_eq!(counting.reads.load(SeqCst), 1);
    let later = tracker(store, ci, repos);
    later.refresh().await.unwrap();
    assert_eq!(counting.reads.load(SeqCst), 2);
    later.refresh().await.unwrap();
    assert_eq!(
        counting.reads.load(SeqCst),
        2,
        "what was asked is not asked again"
    );
    let all = later
        .deployments(&Filter {
            include_expired: true,
            ..Filter::default()
        })
        .await
        .unwrap();
    let expired = all.iter().filter(|d| d.expired);
    assert_eq!(expired.clone().count(), 4, "A, B, C and image 105");
    assert_eq!(
        expired.filter(|d| d.status == Status::Complete).count(),
        2,
        "A and C, complete from what was kept"
    );
}

#[tokio::test]
async fn a_tracker_over_a_store_opened_for_reading_reads_kept_answers_and_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spektate.db");
    let writer = Counting::open(&path);
    let rec = Recorder::new(writer.clone(), PARTITION).unwrap();
    record(&rec, "101", Some("201"), Some("31"), Some("301")).await;
    let (ci, repos) = providers_that_remember();
    tracker(writer.clone(), ci, repos).refresh().await.unwrap();
    assert!(
        writer.answers_put.load(SeqCst) > 0,
        "the writer keeps answers"
    );

    let reader = Counting::open_existing(&path);
    let (ci, repos) = providers_that_remember();
    let fresh = tracker(reader.clone(), ci, repos);
    fresh.refresh().await.unwrap();
    assert_eq!(
        reader.put_calls.load(SeqCst),
        0,
        "a reader is not asked to write what it learned"
    );
    // The CI answers about a newer run, so its "not found" of the others means gone.
    record(&rec, "104", Some("204"), None, None).await;
    let (ci, repos) = providers_that_forgot();
    let later = tracker(reader.clone(), ci, repos);
    later.refresh().await.unwrap();
    assert_eq!(
        reader.reads.load(SeqCst),
        1,
        "it reads what the writer kept"
    );
    assert_eq!(reader.put_calls.load(SeqCst), 0);
    let shown = later
        .deployments(&Filter {
            include_expired: true,
            ..Filter::default()
        })
        .await
        .unwrap();
    assert!(
        shown
            .iter()
            .any(|d| d.expired && d.status == Status::Complete),
        "shown complete from the kept runs: {shown:?}"
    );
}
