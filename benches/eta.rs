//! The ETA's accuracy and cost, replaying a generated history: 12 services, each deployed to
//! dev, qa and prod over 120 days, with durations that vary as a real team's do (each service
//! its own typical build time, log-normal spread, occasional slow runs, approval pull requests
//! in prod that wait minutes to a day, clusters that sync within minutes). Every deployment of
//! the last 30 days is asked for its ETA at each step, from what was known at that moment
//! (the history finished by then, and its own runs as reported so far), and the answer is
//! compared with when it really was live. Prints the median absolute error of the expected
//! live time at each step and how often the real time fell within the p90; then times one
//! model's learning and one ETA.
//!
//! `cargo bench --bench eta`

use std::hint::black_box;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use spektate::correlate::{Knowledge, Lookup, RepoDefaults, correlate, deployment};
use spektate::insights::EtaModel;
use spektate::{ClusterSync, Deployment, PullRequest, Record, Run, RunKind, RunResult, RunStatus};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVICES: usize = 12;
const DAYS: i64 = 120;
const TEST_DAYS: i64 = 30;
const HLD_KEY: &str = "github.com/fabrikam/hld";

/// splitmix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Seconds around `median` with a log-normal spread `sigma`.
    fn lognormal(&mut self, median: f64, sigma: f64) -> i64 {
        (median * (sigma * self.normal()).exp()).round().max(30.0) as i64
    }
}

/// One journey's true times.
struct Truth {
    n: usize,
    service: usize,
    ring: &'static str,
    p1: [DateTime<Utc>; 2],
    p2: [DateTime<Utc>; 2],
    merged: Option<DateTime<Utc>>,
    p3: [DateTime<Utc>; 2],
    synced: DateTime<Utc>,
}

fn history() -> Vec<Truth> {
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let mut rng = Rng(7);
    // Each service's typical image build: 4 to 20 minutes.
    let builds: Vec<f64> = (0..SERVICES).map(|_| 240.0 + rng.unit() * 960.0).collect();
    let mut out = Vec::new();
    for day in 0..DAYS {
        for (service, build) in builds.iter().enumerate() {
            // Zero to three changes a working day, fewer at weekends.
            let changes = if day % 7 >= 5 {
                rng.next() % 2
            } else {
                rng.next() % 4
            };
            for c in 0..changes {
                let start = t0
                    + Duration::days(day)
                    + Duration::minutes(8 * 60 + (c as i64) * 150 + (rng.next() % 90) as i64);
                for ring in ["dev", "qa", "prod"] {
                    let s = |secs: i64| Duration::seconds(secs);
                    // One run in twenty is slow (a cold cache, a busy agent).
                    let slow = if rng.unit() < 0.05 { 3.0 } else { 1.0 };
                    let queue = rng.lognormal(45.0, 1.0);
                    let p1 = [start, start + s(queue + rng.lognormal(*build * slow, 0.25))];
                    let p2q = p1[1] + s(rng.lognormal(20.0, 0.8));
                    let p2 = [p2q, p2q + s(rng.lognormal(150.0, 0.35))];
                    let merged = (ring == "prod").then(|| p2[1] + s(rng.lognormal(2400.0, 1.3)));
                    let p3q = merged.unwrap_or(p2[1]) + s(rng.lognormal(25.0, 0.8));
                    let p3 = [p3q, p3q + s(rng.lognormal(240.0, 0.3))];
                    let synced = p3[1] + s(rng.lognormal(120.0, 0.6));
                    out.push(Truth {
                        n: out.len(),
                        service,
                        ring,
                        p1,
                        p2,
                        merged,
                        p3,
                        synced,
                    });
                }
            }
        }
    }
    out
}

/// The record of `t` and what providers said of it at `now`.
fn known(t: &Truth, now: DateTime<Utc>, records: &mut Vec<Arc<Record>>, k: &mut Knowledge) {
    let mut r = Record::new("fabrikam");
    r.row_key = format!("{:012x}", t.n);
    r.service = Some(format!("fabrikam/service-{}", t.service));
    r.env = Some(t.ring.into());
    r.image_tag = Some(format!("service-{}-{}", t.service, t.n));
    r.commit_id = Some(format!("{:07x}{}", t.n, "a".repeat(33)));
    r.timestamp = Some(t.p1[0]);
    r.sequence = Some(t.n as i64);
    let run = |k: &mut Knowledge, id: String, kind, [q, f]: [DateTime<Utc>; 2]| {
        if now < q {
            return None;
        }
        let status = if now < q + Duration::seconds(20) {
            RunStatus::Queued
        } else if now < f {
            RunStatus::InProgress
        } else {
            RunStatus::Completed
        };
        let mut run = Run::new(id.clone(), kind, status);
        run.queued_at = Some(q);
        run.started_at = (status != RunStatus::Queued).then(|| q + Duration::seconds(20));
        run.finished_at = (status == RunStatus::Completed).then_some(f);
        run.result = (status == RunStatus::Completed).then_some(RunResult::Succeeded);
        k.runs_mut(kind)
            .insert(id.clone().into(), Lookup::Found(Arc::new(run)));
        Some(id)
    };
    r.p1 = run(k, format!("1{}", t.n), RunKind::Build, t.p1);
    if now >= t.p2[0] {
        r.p2 = run(k, format!("2{}", t.n), RunKind::Release, t.p2);
        r.hld_commit_id = Some(format!("{:07x}{}", t.n, "b".repeat(33)));
        r.hld_repo = Some("https://github.com/fabrikam/hld".into());
    }
    if let (Some(merged), true) = (t.merged, now >= t.p2[1]) {
        r.pr = Some(t.n.to_string());
        let pr = PullRequest {
            id: t.n.to_string(),
            title: "Update".into(),
            description: None,
            source_branch: None,
            target_branch: Some("main".into()),
            merged: now >= merged,
            merged_by: None,
            merged_at: (now >= merged).then_some(merged),
            closed: false,
            url: None,
        };
        k.pull_requests
            .entry(HLD_KEY.into())
            .or_default()
            .insert(t.n.to_string().into(), Lookup::Found(Arc::new(pr)));
    }
    if now >= t.p3[0] {
        r.p3 = run(k, format!("3{}", t.n), RunKind::Build, t.p3);
        r.manifest_commit_id = Some(format!("{:07x}{}", t.n, "c".repeat(33)));
        r.manifest_repo = Some(format!("https://github.com/fabrikam/manifests-{}", t.n));
    }
    if now >= t.synced {
        k.cluster_reports.push(ClusterSync {
            cluster: format!("{}-{}", t.ring, t.n),
            commit: format!("{:07x}{}", t.n, "c".repeat(33)),
            synced_at: Some(t.synced),
            tagger: None,
        });
    }
    records.push(Arc::new(r));
}

/// The moments each step's ETA is asked: a minute into the image build, when the metadata
/// run starts, a minute after the approval pull request opened (prod), when the manifest run
/// starts, half a minute after the manifests are done.
fn checkpoints(t: &Truth) -> [(&'static str, Option<DateTime<Utc>>); 5] {
    let s = Duration::seconds;
    [
        ("image", Some(t.p1[0] + s(60))),
        ("metadata", Some(t.p2[0] + s(30))),
        ("approval", t.merged.map(|_| t.p2[1] + s(60))),
        ("manifests", Some(t.p3[0] + s(30))),
        ("sync", Some(t.p3[1] + s(30))),
    ]
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort_unstable();
    if v.is_empty() { 0 } else { v[v.len() / 2] }
}

fn minutes(secs: i64) -> String {
    format!("{:.1} min", secs as f64 / 60.0)
}

fn replay(truths: &[Truth], finished: &[Deployment]) {
    let end = truths.iter().map(|t| t.p1[0]).max().unwrap();
    let test_from = end - Duration::days(TEST_DAYS);
    let defaults = RepoDefaults::default();
    let mut errors: [Vec<i64>; 5] = Default::default();
    let mut within_p90 = [0usize; 5];
    let mut asked = 0;
    for t in truths.iter().filter(|t| t.p1[0] >= test_from) {
        for (i, (_, at)) in checkpoints(t).into_iter().enumerate() {
            let Some(now) = at else { continue };
            let (mut records, mut k) = (Vec::new(), Knowledge::default());
            known(t, now, &mut records, &mut k);
            let d = deployment(&records[0], &k, &defaults, now);
            // What a tracker knew at `now`: the journeys that were live by then.
            let model = EtaModel::learn(finished.iter().filter(|d| {
                d.clusters
                    .iter()
                    .any(|c| c.synced_at.is_some_and(|s| s <= now))
            }));
            asked += 1;
            let Some(eta) = model.eta(&d, now) else {
                continue;
            };
            errors[i].push((eta.live_at - t.synced).num_seconds().abs());
            within_p90[i] += usize::from(t.synced <= eta.live_p90_at);
        }
    }
    println!(
        "ETA replay: {} journeys, the last {TEST_DAYS} days asked at each step ({asked} questions)",
        truths.len()
    );
    println!("step        answers  median |error| of live time  live within p90");
    for (i, (name, _)) in checkpoints(&truths[0]).into_iter().enumerate() {
        let n = errors[i].len();
        println!(
            "{name:<10}  {n:>7}  {:>28}  {:>14.0}%",
            minutes(median(errors[i].clone())),
            100.0 * within_p90[i] as f64 / n.max(1) as f64
        );
    }
}

fn bench(c: &mut Criterion) {
    let truths = history();
    let end = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let (mut records, mut k) = (Vec::new(), Knowledge::default());
    for t in &truths {
        known(t, end, &mut records, &mut k);
    }
    let finished = correlate(&records, &k, &RepoDefaults::default(), end);
    replay(&truths, &finished);

    let last = truths.last().unwrap();
    let now = last.p1[0] + Duration::seconds(60);
    let (mut one, mut k1) = (Vec::new(), Knowledge::default());
    known(last, now, &mut one, &mut k1);
    let d = deployment(&one[0], &k1, &RepoDefaults::default(), now);
    let model = EtaModel::learn(&finished);
    c.bench_function(&format!("learn from {} deployments", finished.len()), |b| {
        b.iter(|| black_box(EtaModel::learn(black_box(&finished))))
    });
    c.bench_function("one eta", |b| {
        b.iter(|| black_box(model.eta(black_box(&d), now)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
