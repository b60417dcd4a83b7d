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
