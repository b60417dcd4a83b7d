//! Correlation of 1k, 10k and 100k records with their runs, in memory: the join, status,
//! duration, last-updated, clusters, warnings and sort (docs/ARCHITECTURE.md, Correlation),
//! without any I/O. Every column is exercised: one record in ten is a multi-stage run with
//! stages, six clusters sync through `flux-*` tags and three report to the store, one author
//! lookup in a hundred failed, and the newest 1% are still running, so the ETA model learns.
//!
//! `clone/N` clones the `N` deployments the correlation made: what making and dropping them
//! costs without a lookup, the part of `correlate/N` its output's shape alone sets.
//! `lookups/N` makes only the five table lookups the join makes per record (p1, p2 and p3
//! runs, author, pull request) and reads the runs' times: the part no output shape changes.
//!
//! `cargo bench --bench correlate`; `FASTEST_OF=30 cargo bench --bench correlate` prints the
//! fastest of 30 calls of each size instead.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{Duration, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spektate::correlate::join::p2_kind;
use spektate::correlate::{Knowledge, Lookup, RepoDefaults, correlate};
use spektate::warnings::Reason;
use spektate::{
    Author, ClusterSync, PullRequest, Record, RepoRef, Run, RunKind, RunResult, RunStatus, Stage,
};

/// mimalloc, the allocator of the `spektate` binary, with mimalloc's default options (the binary
/// also turns transparent huge pages off; README, Performance, gives the join's figure that way
/// too), counting allocations while [`COUNTING`] is set.
#[global_allocator]
static ALLOCATOR: Counting = Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every call is passed on unchanged to mimalloc, a global allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's guarantees are mimalloc's.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from mimalloc through `alloc` or `realloc`.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as for `dealloc`, and the caller's guarantees on `new_size` are mimalloc's.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// The allocations (and reallocations) `f` makes.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let out = f();
    COUNTING.store(false, Ordering::Relaxed);
    (ALLOCATIONS.load(Ordering::Relaxed), out)
}

const SERVICES: usize = 10;

/// `n` records of 10 services in 3 rings, each with finished p1, p2 and p3 runs, an author
/// and a merged pull request, as a year of a busy project would hold. They are built in the
/// order a tracker gets them: the records from one store query, then the runs of each kind
/// from the CI's batches, then the authors and pull requests from the repository host's.
fn world(n: usize) -> (Vec<Arc<Record>>, Knowledge) {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let rings = ["dev", "qa", "prod"];
    let ids = |i: usize| (100_000 + i, 500_000 + i, 900_000 + i);
    let commit = |i: usize| sha(i as u64 * 3 + 1);

    let records: Vec<Arc<Record>> = (0..n)
        .map(|i| {
            let svc = i % SERVICES;
            let (p1, p2, p3) = ids(i);
            let mut r = Record::new("fabrikam");
            r.service = Some(format!("fabrikam/service-{svc}"));
            r.commit_id = Some(commit(i));
            r.image_tag = Some(format!("service-{svc}-{i}"));
            r.p1 = Some(p1.to_string());
            // One in ten is a multi-stage run: p2 is a stage of p1's run.
            r.p2 = Some(if i % 10 == 0 { p1 } else { p2 }.to_string());
            r.p3 = Some(p3.to_string());
            r.env = Some(rings[i % 3].to_string());
            r.hld_commit_id = Some(sha(i as u64 * 3 + 2));
            r.manifest_commit_id = Some(sha(i as u64 * 3 + 3));
            r.pr = Some(format!("{}", i + 1));
            r.source_repo = Some(format!(
                "https://dev.azure.com/fabrikam/project/_git/service-{svc}"
            ));
            r.hld_repo = Some("https://dev.azure.com/fabrikam/project/_git/hld".into());
            r.manifest_repo = Some("https://dev.azure.com/fabrikam/project/_git/manifests".into());
            r.timestamp = Some(t0 + Duration::minutes(i as i64));
            Arc::new(r)
        })
        .collect();

    let mut k = Knowledge::default();
    for (step, kind, offset) in [
        (0, RunKind::Build, 0),
        (1, RunKind::Release, 6),
        (2, RunKind::Build, 9),
    ] {
        for i in 0..n {
            let id = [ids(i).0, ids(i).1, ids(i).2][step].to_string();
            let start = t0 + Duration::minutes(i as i64 * 3);
            // The newest 1% are still generating their manifests: they get an ETA.
            let running = step == 2 && i >= n - n / 100;
            let status = if running {
                RunStatus::InProgress
            } else {
                RunStatus::Completed
            };
            let mut run = Run::new(id.clone(), kind, status);
            let failed = i % 17 == 0 && step == 2;
            run.result = (!running).then_some(if failed {
                RunResult::Failed
            } else {
                RunResult::Succeeded
            });
            run.number = Some(format!("20260101.{i}"));
            run.queued_at = Some(start + Duration::minutes(offset));
            run.started_at = Some(start + Duration::minutes(offset + 1));
            run.finished_at = (!running).then(|| start + Duration::minutes(offset + 5));
            run.last_changed_at = run.finished_at.or(run.started_at);
            if step == 0 && i % 10 == 0 {
                let stages = (1..=3)
                    .map(|order| Stage {
                        name: format!("stage{order}"),
                        order,
                        status: RunStatus::Completed,
                        result: Some(RunResult::Succeeded),
                        started_at: run.started_at,
                        finished_at: run.finished_at,
                        url: None,
                    })
                    .collect();
                k.stages.insert(id.as_str().into(), Lookup::Found(stages));
            }
            k.runs_mut(kind)
                .insert(id.into(), Lookup::Found(Arc::new(run)));
        }
    }
    let manifest_commit = |i: usize| sha(i as u64 * 3 + 3);
    let sync = |cluster: String, i: usize| ClusterSync {
        cluster,
        commit: manifest_commit(i),
        synced_at: Some(t0 + Duration::minutes(i as i64 * 3 + 20)),
        tagger: Some("flux".into()),
    };
    // Clusters run the newest finished manifests.
    let latest = |back: usize| n.saturating_sub(1 + n / 100 + back);
    let tags = (0..6)
        .map(|c| sync(format!("{}-{c}", rings[c % 3]), latest(c % 3)))
        .collect();
    k.sync_tags.insert(
        "dev.azure.com/fabrikam/project/manifests".into(),
        Lookup::Found(tags),
    );
    k.cluster_reports = (0..3)
        .map(|c| sync(format!("edge-{c}"), latest(c)))
        .collect();
    let down = Reason::new("azure-devops dev.azure.com", "503 Service Unavailable");
    for i in 0..n {
        let author = Author {
            name: format!("Author {}", i % 50),
            email: None,
            login: None,
            avatar_url: None,
            committed_at: None,
            url: None,
        };
        k.authors
            .entry(format!("dev.azure.com/fabrikam/project/service-{}", i % SERVICES).into())
            .or_default()
            .insert(
                commit(i).into(),
                if i % 100 == 0 {
                    Lookup::Failed(down.clone())
                } else {
                    Lookup::Found(Arc::new(author))
                },
            );
    }
    for i in 0..n {
        let pr = PullRequest {
            id: format!("{}", i + 1),
            title: format!("Update service-{0} to service-{0}-{i}", i % SERVICES),
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
            .insert(format!("{}", i + 1).into(), Lookup::Found(Arc::new(pr)));
    }
    (records, k)
}

/// A commit id as git makes them: 40 hex digits that look random (splitmix64 of `n`).
fn sha(n: u64) -> String {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b, c) = (mix(n), mix(n ^ 0xa5a5), mix(n ^ 0x5a5a));
    format!("{a:016x}{b:016x}{:08x}", c as u32)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("correlate");
    group.sample_size(10);
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
    let defaults = RepoDefaults::default();
    for n in [1_000, 10_000, 100_000] {
        let (records, k) = world(n);
        let (count, deployments) = allocations(|| correlate(&records, &k, &defaults, now));
        assert_eq!(deployments.len(), n);
        let with_eta = deployments.iter().filter(|d| d.eta.is_some()).count();
        assert_eq!(with_eta, n / 100, "the running deployments' ETAs");
        // Every run and pull request is found, and every author but the failed one in 100.
        assert_eq!(
            lookups(&records, &k).0,
            5 * n - n / 100,
            "the lookups that found"
        );
        println!(
            "correlate/{n}: {count} allocations, {:.2} per record",
            count as f64 / n as f64
        );
        if let Some(calls) = fastest_of() {
            println!(
                "correlate/{n}: fastest of {calls} calls: {:.1} ms",
                fastest(calls, || {
                    black_box(correlate(black_box(&records), &k, &defaults, now))
                })
            );
            println!(
                "clone/{n}: fastest of {calls} calls: {:.1} ms",
                fastest(calls, || black_box(black_box(&deployments).clone()))
            );
            println!(
                "lookups/{n}: fastest of {calls} calls: {:.1} ms",
                fastest(calls, || black_box(lookups(black_box(&records), &k)))
            );
            continue;
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(correlate(black_box(&records), &k, &defaults, now)))
        });
        // What making and dropping the deployments alone costs: a clone of the result, each
        // deployment's reference counts raised and lowered, no lookup made.
        group.bench_with_input(BenchmarkId::new("clone", n), &n, |b, _| {
            b.iter(|| black_box(black_box(&deployments).clone()))
        });
        // The lookups alone: what any join of these records against these tables pays.
        group.bench_with_input(BenchmarkId::new("lookups", n), &n, |b, _| {
            b.iter(|| black_box(lookups(black_box(&records), &k)))
        });
    }
    group.finish();
}

/// The five lookups the join makes for each record, in the tables it makes them in, and the
/// found runs' times read: how many of them found something, and the newest time seen.
fn lookups<'a>(
    records: &'a [Arc<Record>],
    k: &Knowledge,
) -> (usize, Option<chrono::DateTime<Utc>>) {
    // Repository keys from each distinct URL, parsed once, and a URL compared with the
    // record before's in the same place before it is hashed, as the join's cache does.
    let mut keys: std::collections::HashMap<&str, std::rc::Rc<str>> = Default::default();
    let mut last: [Option<(&str, std::rc::Rc<str>)>; 2] = [None, None];
    let mut key = |place: usize, url: &'a Option<String>| -> Option<std::rc::Rc<str>> {
        let url = url.as_deref()?;
        match &last[place] {
            Some((seen, key)) if *seen == url => Some(key.clone()),
            _ => {
                let entry = keys.entry(url);
                let key = entry.or_insert_with(|| RepoRef::parse(url).unwrap().key().into());
                last[place] = Some((url, key.clone()));
                Some(key.clone())
            }
        }
    };
    let (mut found, mut newest) = (0, None);
    for r in records {
        let runs = [
            (&r.p1, RunKind::Build),
            (&r.p2, p2_kind(r)),
            (&r.p3, RunKind::Build),
        ];
        for (id, kind) in runs {
            if let Some(Lookup::Found(run)) = id.as_deref().and_then(|id| k.runs(kind).get(id)) {
                found += 1;
                newest = newest.max(run.finished_at.or(run.started_at));
            }
        }
        let (source, hld) = (key(0, &r.source_repo), key(1, &r.hld_repo));
        let author = source.zip(r.commit_id.as_deref());
        let author = author.and_then(|(repo, c)| k.authors.get(&*repo)?.get(c));
        let pr = hld.zip(r.pr.as_deref());
        let pr = pr.and_then(|(repo, pr)| k.pull_requests.get(&*repo)?.get(pr));
        found += usize::from(matches!(author, Some(Lookup::Found(_))));
        found += usize::from(matches!(pr, Some(Lookup::Found(_))));
    }
    (found, newest)
}

/// `FASTEST_OF=N`: instead of criterion's statistics, the fastest of `N` calls of each size,
/// the figure a busy or shared machine disturbs least, for telling two builds apart.
fn fastest_of() -> Option<usize> {
    let calls = std::env::var("FASTEST_OF").ok()?;
    match calls.parse() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("FASTEST_OF={calls:?} is not a positive number of calls"),
    }
}

/// The fastest of `calls` calls of `f`, in milliseconds.
fn fastest<T>(calls: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..calls)
        .map(|_| {
            let start = std::time::Instant::now();
            drop(f());
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::MAX, f64::min)
}

criterion_group!(benches, bench);
criterion_main!(benches);
