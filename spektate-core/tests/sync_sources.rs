//! The tracker's sync-source phase (docs/ARCHITECTURE.md, Refresh): one call per source per
//! refresh, nothing joined again when the source says nothing changed, the last answer kept
//! with a warning when a call fails, and a source that never answers ended by the deadline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spektate_core::correlate::within;
use spektate_core::warnings::summarize;
use spektate_core::{
    Applied, ClusterSync, Error, Filter, ManifestCommitted, ManifestGenerated, MemoryStore,
    MetadataUpdated, Recorder, RepoRef, Result, RunReported, RunResult, RunStatus, Status,
    SyncSource, Tracker, async_trait,
};

const HLD: &str = "https://github.com/fabrikam/hld";
const MANIFESTS: &str = "https://github.com/fabrikam/manifests";

/// What the fake Argo CD answers next: applications, a failure, or nothing at all.
enum Next {
    Answer(Arc<Vec<Applied>>),
    Fail,
    Hang,
}

struct FakeSource {
    next: Mutex<Next>,
    calls: AtomicUsize,
}

impl FakeSource {
    fn new(applied: Vec<Applied>) -> Arc<Self> {
        Arc::new(FakeSource {
            next: Mutex::new(Next::Answer(Arc::new(applied))),
            calls: AtomicUsize::new(0),
        })
    }

    fn set(&self, next: Next) {
        *self.next.lock().unwrap() = next;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SyncSource for FakeSource {
    fn name(&self) -> String {
        "argocd argocd.fabrikam.com".into()
    }

    async fn applied(&self) -> Result<Arc<Vec<Applied>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let hang = match &*self.next.lock().unwrap() {
            Next::Answer(a) => return Ok(a.clone()),
            Next::Fail => {
                return Err(Error::provider(
                    "argocd argocd.fabrikam.com",
                    "list applications",
                    "",
                    "HTTP 503",
                ));
            }
            Next::Hang => true,
        };
        assert!(hang);
        std::future::pending().await
    }
}

fn app(name: &str, cluster: &str, repo: &str, commit: &str) -> Applied {
    Applied {
        sync: ClusterSync {
            cluster: cluster.into(),
            commit: commit.into(),
            synced_at: None,
            tagger: Some(format!("argocd {name}")),
        },
        application: format!("argocd/{name}"),
        repo: RepoRef::parse(repo).unwrap(),
        sync_status: Some("Synced".into()),
        health: Some("Healthy".into()),
        phase: Some("Succeeded".into()),
        history: Vec::new(),
        attempted: None,
    }
}

const M1: &str = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const M2: &str = "2222222aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const H3: &str = "3333333aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// frontend/dev through p3 (manifest commit M1), backend/dev through p3 (M2), and
/// frontend/prod with no manifest pipeline (HLD commit H3, rendered by Argo CD).
async fn history(rec: &Recorder) {
    let done = |id: &str| {
        let mut r = RunReported::new(id, RunStatus::Completed);
        r.result = Some(RunResult::Succeeded);
        r
    };
    for (p2, tag, ring, hld, p3, manifest) in [
        ("21", "frontend-1", "dev", "1111111bbbbbbbb", Some("31"), M1),
        ("22", "backend-2", "dev", "2222222bbbbbbbb", Some("32"), M2),
        ("23", "frontend-3", "prod", H3, None, ""),
    ] {
        rec.metadata_updated(&MetadataUpdated {
            p2: p2.into(),
            image_tag: tag.into(),
            hld_commit_id: hld.into(),
            env: ring.into(),
            pr: None,
            repository: Some(HLD.into()),
            service: Some(format!("fabrikam/{}", tag.split('-').next().unwrap())),
        })
        .await
        .unwrap();
        rec.run_reported(&done(p2)).await.unwrap();
        if let Some(p3) = p3 {
            rec.manifest_generated(&ManifestGenerated {
                p3: p3.into(),
                hld_commit_id: hld.into(),
                manifest_commit_id: None,
                pr: None,
                repository: Some(MANIFESTS.into()),
            })
            .await
            .unwrap();
            rec.manifest_committed(&ManifestCommitted {
                p3: p3.into(),
                manifest_commit_id: manifest.into(),
                repository: Some(MANIFESTS.into()),
            })
            .await
            .unwrap();
            rec.run_reported(&done(p3)).await.unwrap();
        }
    }
}

async fn world(source: Arc<FakeSource>) -> Tracker {
    let store = Arc::new(MemoryStore::new());
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    history(&rec).await;
    Tracker::builder(store)
        .partition("fabrikam")
        .sync_source(source)
        .build()
}

fn row(tracker: &Tracker, tag: &str) -> (Vec<String>, Vec<String>, Status) {
    let snap = tracker.snapshot();
    let d = snap
        .deployments
        .iter()
        .find(|d| d.image_tag() == Some(tag))
        .unwrap_or_else(|| panic!("no {tag}"));
    (
        d.clusters.iter().map(|c| c.cluster.clone()).collect(),
        d.live_in.iter().map(|l| l.cluster.clone()).collect(),
        d.status,
    )
}

fn v(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn one_call_per_refresh_and_nothing_joined_again_when_nothing_changed() {
    let source = FakeSource::new(vec![
        app("dev", "east-us", MANIFESTS, M2),
        app("prod", "west-eu", HLD, H3),
    ]);
    let tracker = world(source.clone()).await;
    let stats = tracker.refresh().await.unwrap();
    assert_eq!((stats.sync_source_calls, source.calls()), (1, 1));
    // west-eu renders the HLD repository at H3, which holds the HLD commits of frontend-1
    // and backend-2 too: they are live there as well.
    assert_eq!(
        row(&tracker, "frontend-1"),
        (vec![], v(&["east-us", "west-eu"]), Status::Complete)
    );
    assert_eq!(
        row(&tracker, "backend-2"),
        (
            v(&["east-us"]),
            v(&["east-us", "west-eu"]),
            Status::Complete
        )
    );
    assert_eq!(
        row(&tracker, "frontend-3"),
        (v(&["west-eu"]), v(&["west-eu"]), Status::Complete),
        "rendered from the HLD repository: complete without a manifest step"
    );

    // The same answer (the same Arc, as a source hands back after a 304): one call each
    // refresh, and the last join stands.
    let joined = tracker.snapshot().deployments.clone();
    for n in 2..=4 {
        let stats = tracker.refresh().await.unwrap();
        assert_eq!((stats.sync_source_calls, source.calls()), (1, n));
        assert!(
            Arc::ptr_eq(&joined, &tracker.snapshot().deployments),
            "joined again though nothing changed"
        );
    }

    // A new answer moves the clusters.
    source.set(Next::Answer(Arc::new(vec![app(
        "dev", "east-us", MANIFESTS, M1,
    )])));
    tracker.refresh().await.unwrap();
    assert_eq!(
        row(&tracker, "frontend-1"),
        (v(&["east-us"]), v(&["east-us"]), Status::Complete)
    );
    assert_eq!(row(&tracker, "backend-2").1, Vec::<String>::new());
    assert_eq!(
        row(&tracker, "frontend-3"),
        (vec![], vec![], Status::Incomplete),
        "no cluster renders its HLD commit any more"
    );
}

#[tokio::test]
async fn a_failed_call_keeps_the_last_answer_with_a_warning_until_the_source_answers() {
    let source = FakeSource::new(vec![app("dev", "east-us", MANIFESTS, M2)]);
    let tracker = world(source.clone()).await;
    tracker.refresh().await.unwrap();
    source.set(Next::Fail);
    tracker.refresh().await.unwrap();
    assert_eq!(row(&tracker, "backend-2").0, v(&["east-us"]));
    let all = tracker.deployments(&Filter::default()).await.unwrap();
    let lines: Vec<String> = summarize(&all).iter().map(|s| s.to_string()).collect();
    assert_eq!(
        lines,
        ["argocd argocd.fabrikam.com: applications of 1 sync source: HTTP 503"]
    );

    source.set(Next::Answer(Arc::new(vec![app(
        "dev", "east-us", MANIFESTS, M2,
    )])));
    tracker.refresh().await.unwrap();
    let all = tracker.deployments(&Filter::default()).await.unwrap();
    assert!(
        summarize(&all).is_empty(),
        "the warning stays after recovery"
    );
}

#[tokio::test]
async fn a_source_that_never_answers_ends_at_the_deadline() {
    let source = FakeSource::new(Vec::new());
    source.set(Next::Hang);
    let tracker = world(source.clone()).await;
    let started = std::time::Instant::now();
    within(Duration::from_millis(300), tracker.refresh())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let all = tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(all.len(), 3, "the deployments are shown regardless");
    let lines: Vec<String> = summarize(&all).iter().map(|s| s.to_string()).collect();
    assert_eq!(
        lines,
        [
            "argocd argocd.fabrikam.com: applications of 1 sync source: no answer within the 0.3 s deadline"
        ]
    );
}
