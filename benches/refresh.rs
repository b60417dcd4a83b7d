//! A tracker refresh of 100k stored records in which nothing changed: what a dashboard or
//! `spektate get --watch` pays every interval once the history is long.
//!
//! `cargo bench --bench refresh`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use spektate::testkit::FakeCi;
use spektate::{
    Filter, MemoryStore, Record, RecordStore, Run, RunKind, RunResult, RunStatus, Tracker,
};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = 100_000;
    let store = Arc::new(MemoryStore::new());
    let ci = Arc::new(FakeCi::new());
    rt.block_on(async {
        for i in 0..n {
            let mut r = Record::new("fabrikam");
            r.service = Some(format!("service-{}", i % 10));
            r.image_tag = Some(format!("service-{}-{i}", i % 10));
            r.env = Some("dev".into());
            r.p1 = Some(format!("{i}"));
            r.p3 = Some(format!("m{i}"));
            store.insert(&r).await.unwrap();
            for id in [format!("{i}"), format!("m{i}")] {
                let mut run = Run::new(id, RunKind::Build, RunStatus::Completed);
                run.result = Some(RunResult::Succeeded);
                run.queued_at = Some(Utc::now());
                run.finished_at = Some(Utc::now());
                ci.set(run);
            }
        }
    });
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .pipelines(ci.clone())
        .stored_runs(false)
        .overlap(Duration::ZERO)
        .build();
    rt.block_on(tracker.refresh()).unwrap();
    let calls = ci.calls();
    let mut group = c.benchmark_group("refresh");
    group.sample_size(20);
    group.bench_function("100000 unchanged", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(tracker.refresh().await.unwrap()) })
    });
    group.finish();
    assert_eq!(ci.calls(), calls, "an unchanged refresh calls no provider");
    let shown = rt
        .block_on(tracker.deployments(&Filter {
            top: Some(1),
            ..Filter::default()
        }))
        .unwrap();
    assert_eq!(shown.len(), 1);
}

criterion_group!(benches, bench);
criterion_main!(benches);
