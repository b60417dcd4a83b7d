//! 32 tasks recording p2 and p3 for the same images at once on one SQLite file:
//! every link present, no record lost or duplicated.

use std::sync::Arc;

use spektate_core::{
    ImageBuilt, ManifestCommitted, ManifestGenerated, MetadataUpdated, RecordQuery, RecordStore,
    Recorder, SqliteStore,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn thirty_two_tasks_on_one_sqlite_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let images = 8;
    let rings = ["dev", "qa", "staging", "prod"];
    {
        let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(&path).unwrap());
        let rec = Recorder::new(store, "race").unwrap();
        for i in 0..images {
            rec.image_built(&ImageBuilt {
                p1: format!("{i}"),
                image_tag: format!("img-{i}"),
                commit_id: format!("c{i:07}"),
                service: "svc".into(),
                repository: None,
            })
            .await
            .unwrap();
        }
    }
    // 8 images x 4 rings = 32 tasks, each with its own connection (as separate pipeline
    // steps on one agent would have), all racing on the same image records.
    let mut tasks = Vec::new();
    for i in 0..images {
        for ring in rings {
            let path = path.clone();
            tasks.push(tokio::spawn(async move {
                let store: Arc<dyn RecordStore> = Arc::new(SqliteStore::open(&path)?);
                let rec = Recorder::new(store, "race")?;
                let hld = format!("h{i}{ring}");
                rec.metadata_updated(&MetadataUpdated {
                    p2: format!("r{i}{ring}"),
                    image_tag: format!("img-{i}"),
                    hld_commit_id: hld.clone(),
                    env: ring.into(),
                    pr: Some(format!("{i}{ring}")),
                    repository: None,
                    service: None,
                })
                .await?;
                rec.manifest_generated(&ManifestGenerated {
                    p3: format!("m{i}{ring}"),
                    hld_commit_id: hld,
                    manifest_commit_id: None,
                    pr: None,
                    repository: None,
                })
                .await?;
                rec.manifest_committed(&ManifestCommitted {
                    p3: format!("m{i}{ring}"),
                    manifest_commit_id: format!("mc{i}{ring}"),
                    repository: None,
                })
                .await
            }));
        }
    }
    assert_eq!(tasks.len(), 32);
    for t in tasks {
        t.await.unwrap().expect("recording under contention");
    }
    let store = SqliteStore::open(&path).unwrap();
    let all = store.query("race", &RecordQuery::all()).await.unwrap();
    assert_eq!(
        all.len(),
        images * rings.len(),
        "one record per image and ring: none lost, none duplicated"
    );
    for i in 0..images {
        for ring in rings {
            let hits: Vec<_> = all
                .iter()
                .filter(|r| {
                    r.image_tag.as_deref() == Some(&format!("img-{i}"))
                        && r.env.as_deref() == Some(ring)
                })
                .collect();
            assert_eq!(hits.len(), 1, "img-{i} {ring}");
            let r = hits[0];
            assert_eq!(
                r.p1.as_deref(),
                Some(format!("{i}").as_str()),
                "p1 of img-{i} {ring}"
            );
            assert_eq!(r.commit_id.as_deref(), Some(format!("c{i:07}").as_str()));
            assert_eq!(r.p2.as_deref(), Some(format!("r{i}{ring}").as_str()));
            assert_eq!(r.p3.as_deref(), Some(format!("m{i}{ring}").as_str()));
            assert_eq!(
                r.manifest_commit_id.as_deref(),
                Some(format!("mc{i}{ring}").as_str())
            );
        }
    }
}
