//! Many writers on one database: 64 recorder tasks lose nothing, and two store instances
//! (two pools, as two server processes have) show the same deployments.

use std::sync::Arc;

use spektate_core::{
    Filter, ImageBuilt, ManifestGenerated, MetadataUpdated, RecordQuery, RecordStore, Recorder,
    Tracker,
};
use spektate_postgres::PostgresStore;
use spektate_postgres::testkit::TestServer;

const RINGS: [&str; 2] = ["dev", "prod"];

/// Image `i`: built, sent to both rings, and each ring's manifests rendered.
async fn journey(recorder: &Recorder, i: usize) -> spektate_core::Result<()> {
    recorder
        .image_built(&ImageBuilt {
            p1: i.to_string(),
            image_tag: format!("img-{i}"),
            commit_id: format!("c{i:07}"),
            service: "svc".into(),
            repository: None,
        })
        .await?;
    for ring in RINGS {
        let hld = format!("h{i}{ring}");
        recorder
            .metadata_updated(&MetadataUpdated {
                p2: format!("r{i}{ring}"),
                image_tag: format!("img-{i}"),
                hld_commit_id: hld.clone(),
                env: ring.into(),
                pr: None,
                repository: None,
                service: None,
            })
            .await?;
        recorder
            .manifest_generated(&ManifestGenerated {
                p3: format!("m{i}{ring}"),
                hld_commit_id: hld,
                manifest_commit_id: Some(format!("mc{i}{ring}")),
                pr: None,
                repository: None,
            })
            .await?;
    }
    Ok(())
}

/// Every image in both rings, exactly once, fully linked.
async fn assert_complete(store: &dyn RecordStore, partition: &str, images: usize) {
    let all = store.query(partition, &RecordQuery::all()).await.unwrap();
    assert_eq!(all.len(), images * RINGS.len(), "none lost, none doubled");
    for i in 0..images {
        for ring in RINGS {
            let hits: Vec<_> = all
                .iter()
                .filter(|r| {
                    r.image_tag.as_deref() == Some(format!("img-{i}").as_str())
                        && r.env.as_deref() == Some(ring)
                })
                .collect();
            assert_eq!(hits.len(), 1, "img-{i} {ring}");
            let r = hits[0];
            assert_eq!(r.p1.as_deref(), Some(i.to_string().as_str()));
            assert_eq!(r.p2.as_deref(), Some(format!("r{i}{ring}").as_str()));
            assert_eq!(r.p3.as_deref(), Some(format!("m{i}{ring}").as_str()));
            assert_eq!(
                r.manifest_commit_id.as_deref(),
                Some(format!("mc{i}{ring}").as_str())
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_writer_tasks_lose_nothing() {
    let server = TestServer::start();
    let store = Arc::new(PostgresStore::open(&server.url()).unwrap());
    let recorder = Recorder::new(store.clone(), "race").unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let recorder = recorder.clone();
            tokio::spawn(async move { journey(&recorder, i).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("recording under contention");
    }
    assert_complete(store.as_ref(), "race", 64).await;
}

/// What two trackers must agree on, per deployment.
fn shown(tracker_deployments: &[spektate_core::Deployment]) -> Vec<String> {
    let mut rows: Vec<String> = tracker_deployments
        .iter()
        .map(|d| {
            let r = &d.record;
            format!(
                "{} {:?} {:?} {:?} {:?} {:?} {:?} {}",
                d.id(),
                r.image_tag,
                r.env,
                r.p1,
                r.p2,
                r.p3,
                r.manifest_commit_id,
                d.status.as_str()
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_store_instances_on_one_database_show_the_same_deployments() {
    let server = TestServer::start();
    let url = server.create_database("shared");
    let a = Arc::new(PostgresStore::open(&url).unwrap());
    let b = Arc::new(PostgresStore::open(&url).unwrap());
    let (rec_a, rec_b) = (
        Recorder::new(a.clone(), "fabrikam").unwrap(),
        Recorder::new(b.clone(), "fabrikam").unwrap(),
    );
    let tracker_a = Tracker::builder(a.clone()).partition("fabrikam").build();
    let tracker_b = Tracker::builder(b.clone()).partition("fabrikam").build();

    // Both write at once, each its own images.
    let (ra, rb) = (rec_a.clone(), rec_b.clone());
    let (x, y) = tokio::join!(
        tokio::spawn(async move {
            for i in (0..16).step_by(2) {
                journey(&ra, i).await?;
            }
            Ok::<_, spektate_core::Error>(())
        }),
        tokio::spawn(async move {
            for i in (1..16).step_by(2) {
                journey(&rb, i).await?;
            }
            Ok::<_, spektate_core::Error>(())
        })
    );
    x.unwrap().unwrap();
    y.unwrap().unwrap();
    let all = Filter::default();
    let seen_a = shown(&tracker_a.deployments(&all).await.unwrap());
    let seen_b = shown(&tracker_b.deployments(&all).await.unwrap());
    assert_eq!(seen_a.len(), 32);
    assert_eq!(seen_a, seen_b);

    // Later writes through one are read by the other's next refresh, which reads only what
    // changed since its last sequence.
    journey(&rec_b, 16).await.unwrap();
    let stats = tracker_a.refresh().await.unwrap();
    assert_eq!(
        (stats.records_read, stats.records_changed),
        (2, 2),
        "only the two new records are read"
    );
    tracker_b.refresh().await.unwrap();
    let seen_a = shown(&tracker_a.deployments(&all).await.unwrap());
    assert_eq!(seen_a.len(), 34);
    assert_eq!(seen_a, shown(&tracker_b.deployments(&all).await.unwrap()));
    assert_complete(a.as_ref(), "fabrikam", 17).await;
}
