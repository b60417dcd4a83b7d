//! A tracker over a store filtered by a deployment filter asks providers only about the
//! records the filter can show, and shows the same deployments as filtering afterwards.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{Duration, Utc};
use spektate_core::store::filtered::FilteredStore;
use spektate_core::testkit::FakeCi;
use spektate_core::{
    Filter, ImageBuilt, MemoryStore, MetadataUpdated, RecordStore, Recorder, Run, RunKind,
    RunResult, RunStatus, Tracker,
};

fn done(id: &str, kind: RunKind) -> Run {
    let mut r = Run::new(id, kind, RunStatus::Completed);
    r.result = Some(RunResult::Succeeded);
    r.queued_at = Some(Utc::now() - Duration::minutes(10));
    r.finished_at = Some(Utc::now() - Duration::minutes(5));
    r
}

#[tokio::test]
async fn a_narrow_filter_asks_only_about_what_it_can_show() {
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    let ci = Arc::new(FakeCi::new());
    for (n, service) in ["frontend", "backend", "backend", "cart"]
        .iter()
        .enumerate()
    {
        let (p1, p2) = (format!("{n}"), format!("100{n}"));
        rec.image_built(&ImageBuilt {
            p1: p1.clone(),
            image_tag: format!("{service}-{n}"),
            commit_id: format!("{n:07}abcdef"),
            service: format!("fabrikam/{service}"),
            repository: None,
        })
        .await
        .unwrap();
        rec.metadata_updated(&MetadataUpdated {
            p2: p2.clone(),
            image_tag: format!("{service}-{n}"),
            hld_commit_id: format!("hld{n}"),
            env: if n == 2 { "prod" } else { "dev" }.into(),
            pr: None,
            repository: None,
            service: None,
        })
        .await
        .unwrap();
        ci.set(done(&p1, RunKind::Build));
        ci.set(done(&p2, RunKind::Release));
    }
    let tracker = |store: Arc<dyn RecordStore>| {
        Tracker::builder(store)
            .partition("fabrikam")
            .pipelines(ci.clone())
            .stored_runs(false)
            .build()
    };
    let filter = Filter {
        service: Some("backend".into()),
        ring: Some("PROD".into()),
        ..Filter::default()
    };

    let all = tracker(store.clone());
    let expected = all.deployments(&filter).await.unwrap();
    assert_eq!(
        ci.ids_asked.swap(0, Ordering::SeqCst),
        8,
        "unfiltered: every run"
    );
    assert_eq!(expected.len(), 1);

    let narrow = tracker(Arc::new(FilteredStore::new(store.clone(), filter.clone())));
    let shown = narrow.deployments(&filter).await.unwrap();
    assert_eq!(
        ci.ids_asked.swap(0, Ordering::SeqCst),
        2,
        "only the runs of backend in prod"
    );
    assert_eq!(shown, expected);
    assert_eq!(shown[0].image_tag(), Some("backend-2"));

    // The builder's filter (what `get` and `trace` use) does the same.
    let built = Tracker::builder(store.clone())
        .partition("fabrikam")
        .pipelines(ci.clone())
        .stored_runs(false)
        .filter(&filter)
        .build();
    assert_eq!(built.deployments(&filter).await.unwrap(), expected);
    assert_eq!(ci.ids_asked.load(Ordering::SeqCst), 2);
}

/// A p3 record of `service` in `ring` whose manifests are commit `n`, the `n`-th write.
fn rendered(service: &str, n: u32) -> spektate_core::Record {
    let mut r = spektate_core::Record::new("fabrikam");
    r.service = Some(format!("fabrikam/{service}"));
    r.env = Some("dev".into());
    r.image_tag = Some(format!("{service}-{n}"));
    r.hld_commit_id = Some(format!("{n:07x}{}", "a".repeat(33)));
    r.hld_repo = Some("https://github.com/fabrikam/hld".into());
    r.manifest_commit_id = Some(format!("{n:07x}{}", "b".repeat(33)));
    r.manifest_repo = Some("https://github.com/fabrikam/manifests".into());
    r.timestamp = Some(Utc::now() - Duration::minutes(60 - i64::from(n)));
    r
}

fn live_in(ds: &[spektate_core::Deployment], tag: &str) -> Vec<String> {
    let d = ds
        .iter()
        .find(|d| d.image_tag() == Some(tag))
        .unwrap_or_else(|| panic!("{tag} is shown"));
    d.live_in.iter().map(|l| l.cluster.clone()).collect()
}

#[tokio::test]
async fn a_narrow_filter_says_where_a_deployment_is_live_as_an_unfiltered_one_does() {
    use spektate_core::{ClusterReport, ClusterSync};
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    // frontend-1, then backend-2 (east-us runs its manifests, a later commit), then
    // frontend-3 (west-eu runs it: it replaced frontend-1 there).
    for (service, n) in [("frontend", 1), ("backend", 2), ("frontend", 3)] {
        store.insert(&rendered(service, n)).await.unwrap();
    }
    for (cluster, n) in [("east-us", 2u32), ("west-eu", 3)] {
        let sync = ClusterSync {
            cluster: cluster.into(),
            commit: format!("{n:07x}{}", "b".repeat(33)),
            synced_at: Some(Utc::now()),
            tagger: Some("flux".into()),
        };
        store
            .put_cluster_report("fabrikam", &ClusterReport::applied(sync))
            .await
            .unwrap();
    }
    let trace = |filter: Filter| {
        let store = store.clone();
        async move {
            let tracker = Tracker::builder(store)
                .partition("fabrikam")
                .stored_runs(false)
                .filter(&filter)
                .build();
            let shown = tracker.deployments(&filter).await.unwrap();
            // Context records place commits but are no deployment, even unfiltered.
            let snapshot = tracker.snapshot();
            assert!(snapshot.deployments.iter().all(|d| !d.record.context));
            assert_eq!(snapshot.deployments.len(), shown.len(), "{filter:?}");
            shown
        }
    };
    let all = trace(Filter::default()).await;
    assert_eq!(live_in(&all, "frontend-1"), ["east-us"]);
    assert_eq!(live_in(&all, "frontend-3"), ["west-eu"]);

    // Only frontend shown: east-us runs a backend commit, still later than frontend-1's.
    let frontend = trace(Filter {
        service: Some("frontend".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(frontend.len(), 2, "backend is context, never shown");
    assert_eq!(live_in(&frontend, "frontend-1"), ["east-us"]);
    assert_eq!(live_in(&frontend, "frontend-3"), ["west-eu"]);

    // Only frontend-1 shown: frontend-3, hidden, still replaced it in west-eu.
    let one = trace(Filter {
        image_tag: Some("frontend-1".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(one.len(), 1);
    assert_eq!(live_in(&one, "frontend-1"), ["east-us"]);
}

/// `top` pushed down shows what the table shows first: the table orders by the runs' last
/// activity, and an older deployment whose build ran on after newer ones were recorded (a
/// late update) is among the first there, with push-down as without. Push-down still asks
/// about fewer runs than the partition holds.
#[tokio::test]
async fn top_pushed_down_shows_an_older_deployment_updated_late_as_the_table_does() {
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    let ci = Arc::new(FakeCi::new());
    let start = Utc::now() - Duration::hours(2);
    for n in 1..=20u32 {
        rec.image_built(&ImageBuilt {
            p1: n.to_string(),
            image_tag: format!("frontend-{n}"),
            commit_id: format!("{n:07}abcdef"),
            service: "frontend".into(),
            repository: None,
        })
        .await
        .unwrap();
        let mut run = done(&n.to_string(), RunKind::Build);
        run.queued_at = Some(start + Duration::minutes(i64::from(n)));
        run.finished_at = Some(start + Duration::minutes(i64::from(n) + 1));
        ci.set(run);
    }
    // Build 17 was recorded before 18, 19 and 20, and ran on after them all.
    let mut late = done("17", RunKind::Build);
    late.queued_at = Some(start + Duration::minutes(17));
    late.last_changed_at = Some(start + Duration::minutes(90));
    ci.set(late);

    let top = Filter {
        top: Some(2),
        ..Filter::default()
    };
    let tags = |ds: Vec<spektate_core::Deployment>| {
        ds.iter()
            .filter_map(|d| d.image_tag().map(String::from))
            .collect::<Vec<_>>()
    };
    let unfiltered = Tracker::builder(store.clone())
        .partition("fabrikam")
        .pipelines(ci.clone())
        .stored_runs(false)
        .build();
    let expected = tags(unfiltered.deployments(&top).await.unwrap());
    assert_eq!(
        expected,
        ["frontend-17", "frontend-20"],
        "the table's order"
    );
    assert_eq!(ci.ids_asked.swap(0, Ordering::SeqCst), 20);

    let pushed = Tracker::builder(store.clone())
        .partition("fabrikam")
        .pipelines(ci.clone())
        .stored_runs(false)
        .filter(&top)
        .build();
    assert_eq!(tags(pushed.deployments(&top).await.unwrap()), expected);
    let asked = ci.ids_asked.load(Ordering::SeqCst);
    assert_eq!(
        asked,
        2 + spektate_core::store::filtered::TOP_MARGIN,
        "the newest two by write time and the margin"
    );

    // Past the margin, as many again: the newest eight by write time and eight more.
    let eight = Filter {
        top: Some(8),
        ..Filter::default()
    };
    let expected = tags(unfiltered.deployments(&eight).await.unwrap());
    assert_eq!(expected.len(), 8);
    ci.ids_asked.store(0, Ordering::SeqCst);
    let wider = Tracker::builder(store.clone())
        .partition("fabrikam")
        .pipelines(ci.clone())
        .stored_runs(false)
        .filter(&eight)
        .build();
    assert_eq!(tags(wider.deployments(&eight).await.unwrap()), expected);
    assert_eq!(
        ci.ids_asked.load(Ordering::SeqCst),
        16,
        "8 and as many again"
    );
}
