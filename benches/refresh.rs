//! A tracker refresh over 100,000 stored records in which nothing was written, with the
//! default settings (stored runs on, the default overlap): what a dashboard or `spektate get
//! --watch` pays every interval once the history is long. 5% of the deployments are still in
//! progress, so each refresh asks the CI about those runs again, as it must; the other 95%
//! are complete and cost nothing. Measured on the memory store and on a SQLite file opened
//! read-only, as `get` and the dashboard open it.
//!
//! `… reconciling` is the same refresh when it also reads the row keys the store holds, to
//! forget records deleted by another writer ([`spektate::TrackerBuilder::reconcile_every`];
//! a tracker does it every ten minutes by default).
//!
//! `cargo bench --bench refresh`

use std::hint::black_box;
use std::sync::Arc;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use spektate::testkit::FakeCi;
use spektate::{
    Filter, MemoryStore, Record, RecordStore, Run, RunKind, RunResult, RunStatus, SqliteStore,
    Tracker,
};

const RECORDS: usize = 100_000;
/// One deployment in this many is still in progress.
const IN_PROGRESS_EVERY: usize = 20;

fn record(i: usize) -> Record {
    let mut r = Record::new("fabrikam");
    r.service = Some(format!("service-{}", i % 10));
    r.image_tag = Some(format!("service-{}-{i}", i % 10));
    r.env = Some("dev".into());
    r.p1 = Some(format!("{i}"));
    r.p3 = Some(format!("m{i}"));
    r
}

/// The CI's view: every run completed, but the manifest run of every 20th deployment.
fn ci() -> Arc<FakeCi> {
    let ci = Arc::new(FakeCi::new());
    for i in 0..RECORDS {
        for id in [format!("{i}"), format!("m{i}")] {
            let running = id.starts_with('m') && i % IN_PROGRESS_EVERY == 0;
            let mut run = Run::new(
                id,
                RunKind::Build,
                if running {
                    RunStatus::InProgress
                } else {
                    RunStatus::Completed
                },
            );
            run.result = (!running).then_some(RunResult::Succeeded);
            run.queued_at = Some(Utc::now());
            run.finished_at = (!running).then(Utc::now);
            ci.set(run);
        }
    }
    ci
}

/// A SQLite file with the records, written in one transaction (the bench measures reading).
fn sqlite_store(dir: &std::path::Path) -> Arc<dyn RecordStore> {
    let path = dir.join("refresh.db");
    drop(SqliteStore::open(&path).unwrap());
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO records (partition_key, row_key, service, imageTag, env, p1, p3, \
                 timestamp, version, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            )
            .unwrap();
        let now = Utc::now().to_rfc3339();
        for i in 0..RECORDS {
            let r = record(i);
            insert
                .execute(rusqlite::params![
                    r.partition_key,
                    r.row_key,
                    r.service,
                    r.image_tag,
                    r.env,
                    r.p1,
                    r.p3,
                    now,
                    i as i64 + 1
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    Arc::new(SqliteStore::open_existing(&path).unwrap())
}

fn bench_store(c: &mut Criterion, name: &str, store: Arc<dyn RecordStore>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ci = ci();
    let tracker = Tracker::builder(store.clone())
        .partition("fabrikam")
        .pipelines(ci.clone())
        .build();
    rt.block_on(tracker.refresh()).unwrap();
    let reconciling = Tracker::builder(store)
        .partition("fabrikam")
        .pipelines(ci.clone())
        .reconcile_every(std::time::Duration::ZERO)
        .build();
    rt.block_on(reconciling.refresh()).unwrap();
    let calls = ci.calls();
    let mut group = c.benchmark_group("refresh");
    group.sample_size(20);
    group.bench_function(format!("{name}, 100000 records, 5% in progress"), |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(tracker.refresh().await.unwrap()) })
    });
    group.bench_function(format!("{name}, 100000 records, reconciling"), |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(reconciling.refresh().await.unwrap()) })
    });
    group.finish();
    assert_eq!(
        rt.block_on(reconciling.refresh()).unwrap().deployments,
        RECORDS,
        "nothing deleted, nothing forgotten"
    );
    let stats = rt.block_on(tracker.refresh()).unwrap();
    assert_eq!(stats.records_read, 0, "nothing written, nothing read");
    assert_eq!(
        stats.runs_requested,
        RECORDS / IN_PROGRESS_EVERY,
        "only the runs still in progress are asked about"
    );
    assert!(ci.calls() > calls);
    let shown = rt
        .block_on(tracker.deployments(&Filter {
            top: Some(1),
            ..Filter::default()
        }))
        .unwrap();
    assert_eq!(shown.len(), 1);
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let memory = Arc::new(MemoryStore::new());
    rt.block_on(async {
        for i in 0..RECORDS {
            memory.insert(&record(i)).await.unwrap();
        }
    });
    bench_store(c, "memory", memory);
    let dir = tempfile::tempdir().unwrap();
    bench_store(c, "sqlite", sqlite_store(dir.path()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
