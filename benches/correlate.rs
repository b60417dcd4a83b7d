//! Correlation of 1k, 10k and 100k records with their runs, in memory: the join, status,
//! duration, last-updated and sort of DESIGN §3, without any I/O.
//!
//! `cargo bench --bench correlate`

use std::hint::black_box;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spektate::correlate::{Knowledge, Lookup, RepoDefaults, correlate};
use spektate::{Author, PullRequest, Record, Run, RunKind, RunResult, RunStatus};

const SERVICES: usize = 10;

/// `n` records of 10 services in 3 rings, each with finished p1, p2 and p3 runs, an author
/// and a merged pull request, as a year of a busy project would hold.
fn world(n: usize) -> (Vec<Arc<Record>>, Knowledge) {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut k = Knowledge::default();
    let mut records = Vec::with_capacity(n);
    let rings = ["dev", "qa", "prod"];
    for i in 0..n {
        let svc = i % SERVICES;
        let (p1, p2, p3) = (
            format!("{}", 100_000 + i),
            format!("{}", 500_000 + i),
            format!("{}", 900_000 + i),
        );
        let commit = format!("{:040x}", i * 7919 + 1);
        let mut r = Record::new("fabrikam");
        r.service = Some(format!("fabrikam/service-{svc}"));
        r.image_tag = Some(format!("service-{svc}-{i}"));
        r.commit_id = Some(commit.clone());
        r.env = Some(rings[i % 3].to_string());
        r.hld_commit_id = Some(format!("{:040x}", i * 104_729 + 3));
        r.manifest_commit_id = Some(format!("{:040x}", i * 1_299_709 + 5));
        r.pr = Some(format!("{}", i + 1));
        r.source_repo = Some(format!(
            "https://dev.azure.com/fabrikam/project/_git/service-{svc}"
        ));
        r.hld_repo = Some("https://dev.azure.com/fabrikam/project/_git/hld".into());
        r.manifest_repo = Some("https://dev.azure.com/fabrikam/project/_git/manifests".into());
        r.timestamp = Some(t0 + Duration::minutes(i as i64));
        let start = t0 + Duration::minutes(i as i64 * 3);
        for (id, kind, offset) in [
            (&p1, RunKind::Build, 0),
            (&p2, RunKind::Release, 6),
            (&p3, RunKind::Build, 9),
        ] {
            let mut run = Run::new(id.clone(), kind, RunStatus::Completed);
            run.result = Some(if i % 17 == 0 && offset == 9 {
                RunResult::Failed
            } else {
                RunResult::Succeeded
            });
            run.number = Some(format!("20260101.{i}"));
            run.queued_at = Some(start + Duration::minutes(offset));
            run.started_at = Some(start + Duration::minutes(offset + 1));
            run.finished_at = Some(start + Duration::minutes(offset + 5));
            run.last_changed_at = run.finished_at;
            k.runs_mut(kind)
                .insert(id.clone(), Lookup::Found(Arc::new(run)));
        }
        r.p1 = Some(p1);
        r.p2 = Some(p2);
        r.p3 = Some(p3);
        let author = Author {
            name: format!("Author {}", i % 50),
            email: None,
            login: None,
            avatar_url: None,
            url: None,
        };
        k.authors
            .entry(format!("dev.azure.com/fabrikam/project/service-{svc}"))
            .or_default()
            .insert(commit, Lookup::Found(Arc::new(author)));
        let pr = PullRequest {
            id: format!("{}", i + 1),
            title: format!("Update service-{svc} to service-{svc}-{i}"),
            description: None,
            source_branch: None,
            target_branch: None,
            merged: true,
            merged_by: None,
            merged_at: None,
            closed: false,
            url: None,
        };
        k.pull_requests
            .entry("dev.azure.com/fabrikam/project/hld".into())
            .or_default()
            .insert(format!("{}", i + 1), Lookup::Found(Arc::new(pr)));
        records.push(Arc::new(r));
    }
    (records, k)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("correlate");
    group.sample_size(10);
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
    let defaults = RepoDefaults::default();
    for n in [1_000, 10_000, 100_000] {
        let (records, k) = world(n);
        assert_eq!(correlate(&records, &k, &defaults, now).len(), n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(correlate(black_box(&records), &k, &defaults, now)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
