//! 32 tasks recording p2 and p3 for the same images at once on one SQLite file:
//! every link present, no record lost or duplicated.

use std::sync::Arc;

use spektate_core::{
    ClusterHistory, ClusterReport, ImageBuilt, ManifestCommitted, ManifestGenerated,
    MetadataUpdated, Record, RecordQuery, RecordStore, Recorder, RunReport, SqliteStore,
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

/// A store that, just before the first insert or replace it is asked for, lets another
/// writer's step run to the end: the interleaving of two pipelines' writes, made certain.
struct Interleaved {
    inner: Arc<dyn RecordStore>,
    before_first_insert: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    before_first_replace: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[spektate_core::async_trait]
impl RecordStore for Interleaved {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn query(&self, p: &str, q: &RecordQuery) -> spektate_core::Result<Vec<Record>> {
        self.inner.query(p, q).await
    }
    async fn insert(&self, r: &Record) -> spektate_core::Result<Record> {
        let other = self.before_first_insert.lock().unwrap().take();
        if let Some(other) = other {
            other.await.unwrap();
        }
        self.inner.insert(r).await
    }
    async fn replace(&self, r: &Record) -> spektate_core::Result<Record> {
        let other = self.before_first_replace.lock().unwrap().take();
        if let Some(other) = other {
            other.await.unwrap();
        }
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
}

/// The image of the races below.
fn image_101() -> ImageBuilt {
    ImageBuilt {
        p1: "101".into(),
        image_tag: "frontend-101".into(),
        commit_id: "a1b2c3d".into(),
        service: "frontend".into(),
        repository: None,
    }
}

/// Its metadata update, HLD commit `hld1` in dev.
fn metadata_201() -> MetadataUpdated {
    MetadataUpdated {
        p2: "201".into(),
        image_tag: "frontend-101".into(),
        hld_commit_id: "hld1".into(),
        env: "dev".into(),
        pr: None,
        repository: None,
        service: None,
    }
}

#[tokio::test]
async fn a_manifest_commit_racing_the_merge_of_its_early_record_lands_on_the_merged_one() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn RecordStore> =
        Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let p2 = Recorder::new(sqlite.clone(), "race").unwrap();
    p2.image_built(&image_101()).await.unwrap();
    // p3 started before p2 recorded: an early record of the HLD commit.
    p2.manifest_generated(&ManifestGenerated {
        p3: "301".into(),
        hld_commit_id: "hld1".into(),
        manifest_commit_id: None,
        pr: None,
        repository: None,
    })
    .await
    .unwrap();
    // p3 pushes its manifest commit; between its read of the early record and its write,
    // p2 records and merges the early record into the image's.
    let merge = tokio::spawn(async move {
        p2.metadata_updated(&metadata_201()).await.unwrap();
    });
    let store = Arc::new(Interleaved {
        inner: sqlite.clone(),
        before_first_insert: std::sync::Mutex::new(None),
        before_first_replace: std::sync::Mutex::new(Some(merge)),
    });
    let p3 = Recorder::new(store, "race").unwrap();
    let written = p3
        .manifest_committed(&ManifestCommitted {
            p3: "301".into(),
            manifest_commit_id: "man1".into(),
            repository: None,
        })
        .await
        .expect("the manifest commit is recorded on the merged record");
    let all = sqlite.query("race", &RecordQuery::all()).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    let r = &all[0];
    assert_eq!(
        (r.p1.as_deref(), r.p2.as_deref(), r.p3.as_deref()),
        (Some("101"), Some("201"), Some("301"))
    );
    assert_eq!(r.manifest_commit_id.as_deref(), Some("man1"));
    assert_eq!(written.row_key, r.row_key);
}

#[tokio::test]
async fn an_early_manifest_record_written_while_p2_records_is_merged_all_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn RecordStore> =
        Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let p2 = Recorder::new(sqlite.clone(), "race").unwrap();
    p2.image_built(&image_101()).await.unwrap();
    // p3 reads no record of the HLD commit; before it inserts its early record, p2 records
    // that HLD commit to the end (its merge finds no early record yet).
    let metadata = tokio::spawn(async move {
        p2.metadata_updated(&metadata_201()).await.unwrap();
    });
    let store = Arc::new(Interleaved {
        inner: sqlite.clone(),
        before_first_insert: std::sync::Mutex::new(Some(metadata)),
        before_first_replace: std::sync::Mutex::new(None),
    });
    let p3 = Recorder::new(store, "race").unwrap();
    let written = p3
        .manifest_generated(&ManifestGenerated {
            p3: "301".into(),
            hld_commit_id: "hld1".into(),
            manifest_commit_id: Some("man1".into()),
            pr: None,
            repository: None,
        })
        .await
        .unwrap();
    let all = sqlite.query("race", &RecordQuery::all()).await.unwrap();
    assert_eq!(
        all.len(),
        1,
        "one deployment, no manual HLD edit beside it: {all:?}"
    );
    let r = &all[0];
    assert_eq!(
        (r.p1.as_deref(), r.p2.as_deref(), r.p3.as_deref()),
        (Some("101"), Some("201"), Some("301"))
    );
    assert_eq!(r.manifest_commit_id.as_deref(), Some("man1"));
    assert_eq!(
        written.row_key, r.row_key,
        "the answer is the merged record"
    );
}

/// 32 writers opening one new file at the same instant, as the first steps of parallel
/// pipelines do: each of them opens it (the file is made a WAL store once), 10 times over.
#[test]
fn writers_opening_a_new_sqlite_file_at_once_all_open_it() {
    let writers = 32;
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let start = Arc::new(std::sync::Barrier::new(writers));
        let threads: Vec<_> = (0..writers)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    SqliteStore::open(&path).map(|_| ())
                })
            })
            .collect();
        for t in threads {
            if let Err(e) = t.join().unwrap() {
                panic!("round {round}: {e}");
            }
        }
        let mode: String = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal", "round {round}");
    }
}
