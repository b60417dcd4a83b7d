//! DORA metrics and ETAs (README, "Metrics"; `spektate_core::insights`) over a recorded
//! history with known times: runs with explicit queue and finish times, approval pull requests
//! merged at known moments, clusters reporting the manifest commit they applied. Every
//! expected figure is worked out by hand in the comments.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use spektate_core::correlate::{Knowledge, Lookup, RepoDefaults, correlate};
use spektate_core::insights::{
    Band, Basis, EtaModel, GroupBy, MetricsOptions, Segment, SpanKind, Timeline, dora,
    eta::MIN_SAMPLES, timeline,
};
use spektate_core::{
    ClusterSync, Deployment, PullRequest, Record, Run, RunKind, RunResult, RunStatus,
};

const HLD: &str = "https://github.com/fabrikam/hld";
const HLD_KEY: &str = "github.com/fabrikam/hld";

/// Monday 2 November 2026 (ISO week 45), 00:00 UTC, plus `day` days and `hhmm`.
fn at(day: i64, hhmm: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
        + Duration::days(day)
        + Duration::minutes(hhmm / 100 * 60 + hhmm % 100)
}

fn min(n: i64) -> Duration {
    Duration::minutes(n)
}

/// One journey (its ring's manifests in a repository of their own), in minutes from its image pipeline's queue time: each segment ends that many
/// minutes after the one before (image at p1's finish, metadata at p2's, approval at the
/// merge, manifests at p3's, sync at the cluster's report).
#[derive(Clone)]
struct Spec {
    n: u32,
    service: &'static str,
    ring: &'static str,
    start: DateTime<Utc>,
    image: i64,
    metadata: i64,
    /// The approval pull request's wait; `None` for a ring without approval.
    approval: Option<i64>,
    manifests: i64,
    /// `None`: no cluster reports it.
    sync: Option<i64>,
    /// The last step that ran and how it ended (`None`: the journey went to its end).
    stop: Option<(usize, Stop)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Failed,
    Running,
    /// Finished, with the next step not yet begun (an approval pull request still open).
    Waiting,
}

fn spec(n: u32, service: &'static str, ring: &'static str, start: DateTime<Utc>) -> Spec {
    Spec {
        n,
        service,
        ring,
        start,
        image: 10,
        metadata: 5,
        approval: None,
        manifests: 6,
        sync: None,
        stop: None,
    }
}

fn sha(n: u32, kind: u32) -> String {
    format!("{kind}{n:06x}{}", "c".repeat(33))
}

/// Adds the journey's record, runs, pull request and cluster report to the history.
fn add(s: &Spec, records: &mut Vec<Arc<Record>>, k: &mut Knowledge) {
    let mut r = Record::new("fabrikam");
    r.row_key = format!("{:012x}", s.n);
    r.service = Some(format!("fabrikam/{}", s.service));
    r.env = Some(s.ring.into());
    r.commit_id = Some(sha(s.n, 1));
    r.image_tag = Some(format!("{}-{}", s.service, s.n));
    r.p1 = Some(format!("1{:04}", s.n));
    r.timestamp = Some(s.start);
    r.sequence = Some(i64::from(s.n));
    let last = s.stop.map_or(usize::MAX, |(step, _)| step);
    let ends = |step: usize| -> Option<(RunStatus, Option<RunResult>)> {
        match s.stop {
            Some((at, how)) if at == step => Some(match how {
                Stop::Failed => (RunStatus::Completed, Some(RunResult::Failed)),
                Stop::Running => (RunStatus::InProgress, None),
                Stop::Waiting => (RunStatus::Completed, Some(RunResult::Succeeded)),
            }),
            _ if step <= last => Some((RunStatus::Completed, Some(RunResult::Succeeded))),
            _ => None,
        }
    };
    let run = |k: &mut Knowledge,
               id: &str,
               kind: RunKind,
               queued: DateTime<Utc>,
               finished: DateTime<Utc>,
               step| {
        let Some((status, result)) = ends(step) else {
            return false;
        };
        let mut run = Run::new(id, kind, status);
        run.result = result;
        run.pipeline = Some(format!("frontend-{kind:?}").to_lowercase());
        run.queued_at = Some(queued);
        run.started_at = Some(queued + min(1));
        run.finished_at = (status == RunStatus::Completed).then_some(finished);
        run.last_changed_at = run.finished_at.or(run.started_at);
        k.runs_mut(kind)
            .insert(id.into(), Lookup::Found(Arc::new(run)));
        status == RunStatus::Completed && result == Some(RunResult::Succeeded)
    };
    let p1_end = s.start + min(s.image);
    let mut go_on = run(
        k,
        r.p1.as_deref().unwrap(),
        RunKind::Build,
        s.start,
        p1_end,
        0,
    );
    let p2_end = p1_end + min(s.metadata);
    if go_on {
        r.p2 = Some(format!("2{:04}", s.n));
        r.hld_commit_id = Some(sha(s.n, 2));
        r.hld_repo = Some(HLD.into());
        go_on = run(
            k,
            r.p2.as_deref().unwrap(),
            RunKind::Release,
            p1_end + min(1),
            p2_end,
            1,
        );
    }
    let mut p3_begin = p2_end;
    if let (true, Some(wait)) = (go_on, s.approval) {
        r.pr = Some(s.n.to_string());
        let waiting = s
            .stop
            .is_some_and(|(step, how)| step == 1 && how == Stop::Waiting);
        let pr = PullRequest {
            id: s.n.to_string(),
            title: format!("Update {} in {}", s.service, s.ring),
            description: None,
            source_branch: Some(format!("deploy/{}", s.n)),
            target_branch: Some("main".into()),
            merged: !waiting,
            merged_by: None,
            merged_at: (!waiting).then(|| p2_end + min(wait)),
            closed: false,
            url: None,
        };
        k.pull_requests
            .entry(HLD_KEY.into())
            .or_default()
            .insert(s.n.to_string().into(), Lookup::Found(Arc::new(pr)));
        go_on = !waiting;
        p3_begin = p2_end + min(wait);
    }
    let p3_end = p3_begin + min(s.manifests);
    if go_on && ends(2).is_some() {
        r.p3 = Some(format!("3{:04}", s.n));
        r.manifest_commit_id = Some(sha(s.n, 3));
        r.manifest_repo = Some(format!("https://github.com/fabrikam/manifests-{}", s.ring));
        go_on = run(
            k,
            r.p3.as_deref().unwrap(),
            RunKind::Build,
            p3_begin + min(1),
            p3_end,
            2,
        );
    }
    if let (true, Some(sync)) = (go_on, s.sync) {
        k.cluster_reports.push(ClusterSync {
            cluster: format!("{}-east", s.ring),
            commit: sha(s.n, 3),
            synced_at: Some(p3_end + min(sync)),
            tagger: Some("flux".into()),
        });
    }
    records.push(Arc::new(r));
}

fn join(specs: &[Spec], now: DateTime<Utc>) -> Vec<Deployment> {
    let (mut records, mut k) = (Vec::new(), Knowledge::default());
    for s in specs {
        add(s, &mut records, &mut k);
    }
    correlate(&records, &k, &RepoDefaults::default(), now)
}

/// A fortnight of frontend, backend and a qa ring no cluster reports:
///
/// | # | service/ring | start | segments (image, metadata, approval, manifests, sync) | lead |
/// |---|---|---|---|---|
/// | 1 | frontend/prod | d0 09:00 | 10, 5, 30, 7, 4 | 56 |
/// | 2 | frontend/qa | d0 10:00 | 10, 5, -, 6, no cluster | 21 |
/// | 3 | frontend/prod | d1 09:00 | 10, 5, 60, 7, 4 | 86 |
/// | 4 | backend/dev | d1 11:00 | 10, 5, -, 6, 4 | 25 |
/// | 5 | frontend/prod | d2 09:00 | p3 fails at 10+5+20+7 = d2 09:42 | |
/// | 6 | frontend/prod | d2 13:00 | 10, 5, 10, 7, 4 (p3 done 13:32) | 36 |
/// | 7 | frontend/prod | d7 09:00 (week 46) | 10, 5, 0, 7, 4 | 26 |
/// | 8 | backend/dev | d8 11:00 | image running | |
fn week() -> Vec<Spec> {
    let prod = |n, start, approval| Spec {
        approval: Some(approval),
        manifests: 7,
        sync: Some(4),
        ..spec(n, "frontend", "prod", start)
    };
    vec![
        prod(1, at(0, 900), 30),
        spec(2, "frontend", "qa", at(0, 1000)),
        prod(3, at(1, 900), 60),
        Spec {
            sync: Some(4),
            ..spec(4, "backend", "dev", at(1, 1100))
        },
        Spec {
            stop: Some((2, Stop::Failed)),
            ..prod(5, at(2, 900), 20)
        },
        prod(6, at(2, 1300), 10),
        prod(7, at(7, 900), 0),
        Spec {
            stop: Some((0, Stop::Running)),
            ..spec(8, "backend", "dev", at(8, 1100))
        },
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn dora_figures_of_a_recorded_fortnight_match_the_hand_computed_ones() {
    let now = at(8, 1115);
    let ds = join(&week(), now);
    let m = dora(
        &ds,
        &MetricsOptions {
            since: Some(at(0, 0)),
            until: at(14, 0),
            by: None,
        },
    );
    let f = &m.overall;
    // Completed: 1, 2, 3, 4, 6, 7 (8 runs, 5 failed) over 14 days.
    assert_eq!(f.deployment_frequency.completed, 6);
    assert!(close(f.deployment_frequency.days, 14.0));
    assert!(close(f.deployment_frequency.per_day.unwrap(), 6.0 / 14.0));
    assert!(close(f.deployment_frequency.per_week.unwrap(), 3.0));
    assert_eq!(f.deployment_frequency.band, Some(Band::High));
    // Leads 21, 25, 26, 36, 56, 86 min: median (26 + 36) / 2 = 31 min, p90 the 6th = 86.
    assert_eq!(f.lead_time.count, 6);
    assert_eq!(f.lead_time.live, 5, "#2 never reached a cluster");
    assert_eq!(f.lead_time.median_secs, Some(31 * 60));
    assert_eq!(f.lead_time.p90_secs, Some(86 * 60));
    assert_eq!(f.lead_time.band, Some(Band::Elite));
    // Of 250 min: image 6 × 10 = 60, metadata 6 × 5 = 30, approval 30 + 60 + 10 + 0 = 100,
    // manifests 4 × 7 + 6 + 6 = 40, sync 5 × 4 = 20.
    let s = f.lead_time.shares.as_ref().unwrap();
    assert!(close(s.image, 0.24), "{s:?}");
    assert!(close(s.metadata, 0.12), "{s:?}");
    assert!(close(s.approval, 0.40), "{s:?}");
    assert!(close(s.manifests, 0.16), "{s:?}");
    assert!(close(s.sync, 0.08), "{s:?}");
    // One failure (#5) of seven finished: 14.3 %, medium.
    assert_eq!(f.change_failure_rate.failed, 1);
    assert_eq!(f.change_failure_rate.finished, 7);
    assert!(close(f.change_failure_rate.rate.unwrap(), 1.0 / 7.0));
    assert_eq!(f.change_failure_rate.band, Some(Band::Medium));
    // #5 failed at d2 09:42, #6 completed at 13:32: 3 h 50 min; #7 restores nothing more.
    assert_eq!(f.time_to_restore.restorations, 1);
    assert_eq!(f.time_to_restore.unrestored, 0);
    assert_eq!(f.time_to_restore.median_secs, Some(230 * 60));
    assert_eq!(f.time_to_restore.band, Some(Band::High));
    // No repository gave a commit's time: every lead time starts at the queue time.
    assert_eq!(f.lead_time.from_commit, 0);
    assert!(close(s.commit, 0.0), "{s:?}");
    assert!(
        m.lead_time_from.contains("queue time"),
        "{}",
        m.lead_time_from
    );
}

/// The fortnight, with the source commit's time as the repository provider gave it for
/// some journeys: the lead time of those starts at the commit.
#[test]
fn lead_time_starts_at_the_commit_when_its_repository_gave_its_time() {
    use spektate_core::Author;
    use spektate_core::insights::trace::export_request;
    let mut ds = join(&week(), at(8, 1115));
    let author = |committed_at| {
        Some(Arc::new(Author {
            name: "Mona".into(),
            email: None,
            login: None,
            avatar_url: None,
            url: None,
            committed_at,
        }))
    };
    for d in &mut ds {
        d.author = match d.id().trim_start_matches('0') {
            // #1 committed 20 min before its image pipeline was queued, #3 4 min before.
            "1" => author(Some(at(0, 900) - min(20))),
            "3" => author(Some(at(1, 900) - min(4))),
            // #4's commit is stamped after its queue time (another clock): not a start.
            "4" => author(Some(at(1, 1100) + min(10))),
            // #6's author is known, its commit's time is not.
            "6" => author(None),
            _ => None,
        };
    }
    let m = dora(
        &ds,
        &MetricsOptions {
            since: Some(at(0, 0)),
            until: at(14, 0),
            by: None,
        },
    );
    let lt = &m.overall.lead_time;
    // Leads 21, 25, 26, 36, 56 + 20 = 76, 86 + 4 = 90: median (26 + 36) / 2, p90 the 6th.
    assert_eq!((lt.count, lt.from_commit), (6, 2));
    assert_eq!(lt.median_secs, Some(31 * 60));
    assert_eq!(lt.p90_secs, Some(90 * 60));
    // Of 250 + 24 min: the commit's wait 24, image 60, approval 100.
    let s = lt.shares.as_ref().unwrap();
    assert!(close(s.commit, 24.0 / 274.0), "{s:?}");
    assert!(close(s.image, 60.0 / 274.0), "{s:?}");
    assert!(close(s.approval, 100.0 / 274.0), "{s:?}");
    let sum = s.commit + s.image + s.metadata + s.approval + s.manifests + s.sync;
    assert!(close(sum, 1.0), "{s:?}");
    assert!(m.lead_time_from.starts_with("the source commit's time"));

    // The trace of #1 begins at the commit; #4's begins at its queue time.
    let root_start = |n: u32| {
        let d = ds.iter().find(|d| d.id() == format!("{n:012x}")).unwrap();
        let body = export_request([d], "spektate");
        body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"].clone()
    };
    let nanos = |t: DateTime<Utc>| t.timestamp_nanos_opt().unwrap().to_string();
    assert_eq!(root_start(1), nanos(at(0, 840)));
    assert_eq!(root_start(4), nanos(at(1, 1100)));
}

#[test]
fn figures_break_down_by_service_ring_and_week() {
    let ds = join(&week(), at(8, 1115));
    let by = |by| {
        dora(
            &ds,
            &MetricsOptions {
                since: Some(at(0, 0)),
                until: at(14, 0),
                by: Some(by),
            },
        )
        .groups
    };
    let services = by(GroupBy::Service);
    let keys: Vec<&str> = services.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["backend", "frontend"]);
    assert_eq!(services[0].figures.deployment_frequency.completed, 1);
    assert_eq!(services[0].figures.change_failure_rate.failed, 0);
    assert_eq!(services[1].figures.deployment_frequency.completed, 5);
    assert_eq!(services[1].figures.change_failure_rate.finished, 6);
    assert_eq!(services[1].figures.time_to_restore.restorations, 1);
    // Frontend leads 21, 26, 36, 56, 86: median 36.
    assert_eq!(services[1].figures.lead_time.median_secs, Some(36 * 60));

    let rings = by(GroupBy::Ring);
    let keys: Vec<&str> = rings.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["dev", "prod", "qa"]);
    assert_eq!(rings[0].figures.lead_time.median_secs, Some(25 * 60));
    // prod: 26, 36, 56, 86; one failure in five finished.
    assert_eq!(rings[1].figures.lead_time.median_secs, Some(46 * 60));
    assert!(close(
        rings[1].figures.change_failure_rate.rate.unwrap(),
        0.2
    ));
    assert_eq!(rings[2].figures.lead_time.live, 0);

    let weeks = by(GroupBy::Week);
    let keys: Vec<&str> = weeks.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["2026-W45", "2026-W46"]);
    let (w45, w46) = (&weeks[0].figures, &weeks[1].figures);
    assert_eq!(w45.deployment_frequency.completed, 5);
    assert!(close(w45.deployment_frequency.days, 7.0));
    assert!(close(w45.deployment_frequency.per_day.unwrap(), 5.0 / 7.0));
    assert_eq!(w45.change_failure_rate.failed, 1);
    assert_eq!(w45.time_to_restore.restorations, 1);
    assert_eq!(w46.deployment_frequency.completed, 1);
    assert_eq!(w46.lead_time.median_secs, Some(26 * 60));
    assert_eq!(w46.time_to_restore.restorations, 0);
}

#[test]
fn a_window_counts_by_finish_and_pairs_a_failure_before_it() {
    let ds = join(&week(), at(8, 1115));
    let m = dora(
        &ds,
        &MetricsOptions {
            since: Some(at(2, 1000)),
            until: at(7, 2359),
            by: None,
        },
    );
    // Inside: #6 (d2 13:32) and #7 (d7 09:30); #5 failed at 09:42, before the window.
    let f = &m.overall;
    assert_eq!(f.deployment_frequency.completed, 2);
    assert_eq!(f.change_failure_rate.failed, 0);
    assert_eq!(f.change_failure_rate.finished, 2);
    assert_eq!(f.change_failure_rate.band, Some(Band::Elite));
    assert_eq!(f.time_to_restore.restorations, 1, "#6 restores #5");
    assert_eq!(f.time_to_restore.median_secs, Some(230 * 60));

    // A failure nothing restored yet is counted as such.
    let mut specs = week();
    specs.retain(|s| s.n != 6 && s.n != 7);
    let m = dora(
        &join(&specs, at(8, 1115)),
        &MetricsOptions {
            since: None,
            until: at(14, 0),
            by: None,
        },
    );
    assert_eq!(m.overall.time_to_restore.restorations, 0);
    assert_eq!(m.overall.time_to_restore.unrestored, 1);
    assert_eq!(m.overall.time_to_restore.median_secs, None);
    assert_eq!(
        m.since,
        Some(at(0, 952)),
        "without --since, from the first finish (#1)"
    );
}

/// Five finished frontend/prod journeys: image 10, 12, 14, 16, 40; metadata 5, 5, 6, 6, 7;
/// approval 20, 30, 40, 50, 60; manifests 7, 7, 8, 8, 9; sync 3, 4, 4, 5, 6. Medians 14, 6,
/// 40, 8, 4; p90s (the 5th of 5) 40, 7, 60, 9, 6.
fn history() -> Vec<Spec> {
    let image = [10, 12, 14, 16, 40];
    let metadata = [5, 5, 6, 6, 7];
    let approval = [20, 30, 40, 50, 60];
    let manifests = [7, 7, 8, 8, 9];
    let sync = [3, 4, 4, 5, 6];
    (0..MIN_SAMPLES)
        .map(|i| Spec {
            image: image[i],
            metadata: metadata[i],
            approval: Some(approval[(i + 2) % 5]),
            manifests: manifests[(i + 1) % 5],
            sync: Some(sync[(i + 3) % 5]),
            ..spec(100 + i as u32, "frontend", "prod", at(i as i64, 900))
        })
        .collect()
}

/// Remaining segments as (segment, median finish, p90 finish, basis), then live and live p90,
/// in minutes after a journey's start.
type EtaMinutes = (Vec<(Segment, i64, i64, Basis)>, i64, i64);

/// The ETA of journey `s` at `now`, learnt from `history()`, as minutes after `s`'s start:
/// the remaining segments' (median, p90) finishes and the (median, p90) live time.
fn eta_of(s: Spec, now: DateTime<Utc>) -> Option<EtaMinutes> {
    let mut specs = history();
    specs.push(s.clone());
    let ds = join(&specs, now);
    let model = EtaModel::learn(&ds);
    let d = ds
        .iter()
        .find(|d| d.image_tag() == Some(&format!("{}-{}", s.service, s.n)))?;
    let eta = model.eta(d, now)?;
    // `correlate` sets the same ETA on the deployment.
    assert_eq!(d.eta.as_deref(), Some(&eta));
    let m = |t: DateTime<Utc>| (t - s.start).num_minutes();
    Some((
        eta.steps
            .iter()
            .map(|e| (e.segment, m(e.expected_at), m(e.p90_at), e.basis))
            .collect(),
        m(eta.live_at),
        m(eta.live_p90_at),
    ))
}

#[test]
fn eta_at_each_step_of_a_journey() {
    use Segment::*;
    let start = at(10, 900);
    let new = |stop| Spec {
        approval: Some(45),
        manifests: 7,
        sync: Some(4),
        stop: Some(stop),
        ..spec(200, "frontend", "prod", start)
    };
    let sr = Basis::ServiceRing;

    // Image running for 13 min: past ones longer than 13 were 14, 16, 40 (median 16, p90 40);
    // then + 6 (7), + 40 (60), + 8 (9), + 4 (6).
    let (steps, live, p90) = eta_of(new((0, Stop::Running)), start + min(13)).unwrap();
    assert_eq!(
        steps,
        [
            (Image, 16, 40, sr),
            (Metadata, 22, 47, sr),
            (Approval, 62, 107, sr),
            (Manifests, 70, 116, sr),
            (Sync, 74, 122, sr)
        ]
    );
    assert_eq!((live, p90), (74, 122));

    // Metadata running: image took 10 (ends at 10), 3 min in: all five metadata durations
    // are longer (median 6, p90 7): 16 and 17; then 56 / 77, 64 / 86, 68 / 92.
    let (steps, live, _) = eta_of(new((1, Stop::Running)), start + min(13)).unwrap();
    assert_eq!(steps[0], (Metadata, 16, 17, sr));
    assert_eq!(live, 68);

    // Waiting 45 min for approval (metadata done at 15): past waits of 45 or more were 50
    // and 60 (median 55, p90 60): 70 / 75; manifests 78 / 84; sync 82 / 90.
    let (steps, live, p90) = eta_of(new((1, Stop::Waiting)), start + min(60)).unwrap();
    assert_eq!(
        steps,
        [
            (Approval, 70, 75, sr),
            (Manifests, 78, 84, sr),
            (Sync, 82, 90, sr)
        ]
    );
    assert_eq!((live, p90), (82, 90));

    // Manifests running (merged at 15 + 45 = 60), 2 min in: median 8, p90 9: 68 / 69; sync
    // 72 / 75.
    let (steps, live, _) = eta_of(new((2, Stop::Running)), start + min(62)).unwrap();
    assert_eq!(steps, [(Manifests, 68, 69, sr), (Sync, 72, 75, sr)]);
    assert_eq!(live, 72);

    // Manifests done at 67, no cluster yet, 2 min later: every past sync took 3 or more
    // (median 4, p90 6).
    let done = Spec {
        sync: None,
        ..new((2, Stop::Waiting))
    };
    let (steps, live, p90) = eta_of(done.clone(), start + min(69)).unwrap();
    assert_eq!(steps, [(Sync, 71, 73, sr)]);
    assert_eq!((live, p90), (71, 73));
    // Three hours later no past sync took that long: no ETA.
    assert_eq!(eta_of(done, start + min(67 + 180)), None);

    // Failed: no ETA.
    assert_eq!(eta_of(new((2, Stop::Failed)), start + min(70)), None);
}

/// Journey `n` of frontend/prod from `start`, its manifests done (image 10, metadata 5,
/// approval 45, manifests 7: at +67 min) and no cluster running it yet.
fn manifests_done(n: u32, start: DateTime<Utc>) -> Spec {
    Spec {
        approval: Some(45),
        manifests: 7,
        stop: Some((2, Stop::Waiting)),
        ..spec(n, "frontend", "prod", start)
    }
}

/// A deployment whose manifests are done keeps its ETA when records outside the window came
/// with the query to place commits: the correlation drops their deployments before the ETA,
/// and how long each one shown has waited for a cluster stays its own.
#[test]
fn a_waiting_deployment_keeps_its_eta_among_records_that_only_place_commits() {
    let start = at(10, 900);
    let done = manifests_done(200, start);
    let now = start + min(69);
    let (mut records, mut k) = (Vec::new(), Knowledge::default());
    // Older journeys, ahead of the others in the query's answer, that only place commits.
    for n in 0..7 {
        add(
            &spec(50 + n, "frontend", "prod", at(0, 900)),
            &mut records,
            &mut k,
        );
    }
    for r in &mut records {
        Arc::make_mut(r).context = true;
    }
    for s in history().iter().chain([&done]) {
        add(s, &mut records, &mut k);
    }
    let ds = correlate(&records, &k, &RepoDefaults::default(), now);
    assert_eq!(
        ds.len(),
        MIN_SAMPLES + 1,
        "no deployment of a context record"
    );
    let d = ds
        .iter()
        .find(|d| d.image_tag() == Some("frontend-200"))
        .unwrap();
    let eta = d.eta.as_deref().expect("manifests done 2 min ago: an ETA");
    // As without the context records: every past sync took 3 or more (median 4, p90 6).
    assert_eq!(eta.live_at, start + min(71));
    assert_eq!(eta.live_p90_at, start + min(73));
}

/// `eta::mark` on deployments a caller already has (newest first) gives the ETAs the
/// correlation gave, and none to a deployment that has waited longer than any past sync.
#[test]
fn marking_deployments_again_gives_the_etas_of_the_correlation() {
    let start = at(10, 900);
    let mut specs = history();
    specs.push(manifests_done(200, start));
    specs.push(Spec {
        stop: Some((0, Stop::Running)),
        ..spec(201, "frontend", "prod", start + min(60))
    });
    let now = start + min(69);
    let mut ds = join(&specs, now);
    let etas: Vec<_> = ds.iter().map(|d| d.eta.clone()).collect();
    assert_eq!(etas.iter().flatten().count(), 2, "both on their way");
    for d in &mut ds {
        d.eta = None;
    }
    spektate_core::insights::eta::mark(&mut ds, now);
    assert_eq!(ds.iter().map(|d| d.eta.clone()).collect::<Vec<_>>(), etas);
    // Three hours later the one whose manifests are done has outwaited every past sync.
    spektate_core::insights::eta::mark(&mut ds, start + min(67 + 180));
    let tag = |d: &Deployment| d.image_tag().map(str::to_string);
    let with_eta: Vec<_> = ds.iter().filter(|d| d.eta.is_some()).map(tag).collect();
    assert_eq!(with_eta, [Some("frontend-201".to_string())]);
}

#[test]
fn eta_falls_back_to_the_service_then_to_all() {
    let start = at(10, 900);
    // frontend/qa has no history: frontend's (all five in prod) is used. The qa journey has no
    // approval so far, but most of frontend's history had one.
    let qa = Spec {
        stop: Some((0, Stop::Running)),
        ..spec(300, "frontend", "qa", start)
    };
    let (steps, live, _) = eta_of(qa, start + min(1)).unwrap();
    assert!(steps.iter().all(|s| s.3 == Basis::Service), "{steps:?}");
    // Image: all five longer than 1, median 14; + 6 + 40 + 8 + 4.
    assert_eq!(steps[0].1, 14);
    assert_eq!(live, 72);

    let other = Spec {
        stop: Some((0, Stop::Running)),
        ..spec(301, "backend", "prod", start)
    };
    let (steps, _, _) = eta_of(other, start + min(1)).unwrap();
    assert!(steps.iter().all(|s| s.3 == Basis::All), "{steps:?}");
}

#[test]
fn the_eta_learns_from_the_newest_history_of_a_service_and_ring() {
    use spektate_core::insights::eta::HISTORY;
    // HISTORY old frontend/prod journeys whose image took 40 min, then HISTORY newer ones
    // whose image took 10: only the newer count, as they fill the ring's history.
    let first = at(0, 0);
    let journey = |i: usize, image: i64| Spec {
        image,
        ..spec(
            1_000 + i as u32,
            "frontend",
            "prod",
            first + min(i as i64 * 30),
        )
    };
    let mut specs: Vec<Spec> = (0..2 * HISTORY)
        .map(|i| journey(i, if i < HISTORY { 40 } else { 10 }))
        .collect();
    let start = first + min(2 * HISTORY as i64 * 30);
    specs.push(Spec {
        stop: Some((0, Stop::Running)),
        ..spec(999, "frontend", "prod", start)
    });
    let now = start + min(1);
    let ds = join(&specs, now);
    let eta = ds
        .iter()
        .find(|d| d.image_tag() == Some("frontend-999"))
        .and_then(|d| d.eta.clone())
        .expect("the running journey has an ETA");
    assert_eq!(eta.steps[0].segment, Segment::Image);
    assert_eq!(eta.steps[0].samples, HISTORY);
    assert_eq!(
        eta.steps[0].expected_at,
        start + min(10),
        "the newer journeys' median"
    );
    assert_eq!(eta.steps[0].p90_at, start + min(10));
    // Learnt from every journey, the older ones would weigh in.
    let all = EtaModel::learn(&ds).eta(ds.iter().find(|d| d.eta.is_some()).unwrap(), now);
    assert_eq!(all.unwrap().steps[0].p90_at, start + min(40));
}

#[test]
fn the_eta_is_in_the_deployment_json_only_while_on_the_way() {
    let start = at(10, 900);
    let mut specs = history();
    specs.push(Spec {
        approval: Some(45),
        stop: Some((0, Stop::Running)),
        ..spec(200, "frontend", "prod", start)
    });
    let ds = join(&specs, start + min(13));
    for d in &ds {
        let json = serde_json::to_value(d).unwrap();
        if d.image_tag() == Some("frontend-200") {
            let eta = &json["eta"];
            assert_eq!(eta["steps"][0]["segment"], "image");
            assert_eq!(eta["steps"][0]["basis"], "serviceRing");
            assert_eq!(eta["steps"][0]["samples"], 5);
            assert_eq!(eta["liveAt"], "2026-11-12T10:14:00Z");
            assert_eq!(eta["liveP90At"], "2026-11-12T11:02:00Z");
        } else {
            assert!(json.get("eta").is_none(), "{json}");
        }
    }
    // `get -o wide`: live expected 61 min from now, 109 at the 90th percentile.
    let (header, rows) = spektate_core::render::rows(&ds, true, start + min(13));
    let col = header.iter().position(|h| *h == "ETA Live").unwrap();
    let row = |tag: &str| &rows[ds.iter().position(|d| d.image_tag() == Some(tag)).unwrap()];
    assert_eq!(row("frontend-200")[col], "in 1h 1m (p90 1h 49m)");
    assert_eq!(row("frontend-100")[col], "-");
}

#[test]
fn a_finished_deployment_is_one_trace_with_a_span_per_segment() {
    use spektate_core::insights::trace::{export_request, is_finished, trace_id};
    let ds = join(&week(), at(8, 1115));
    let find = |n: u32| ds.iter().find(|d| d.id() == format!("{n:012x}")).unwrap();
    // #1: frontend to prod, d0 09:00; p1 done 09:10, p2 09:15, merged 09:45, p3 09:52, synced
    // 09:56.
    let body = export_request([find(1)], "spektate");
    let rs = &body["resourceSpans"][0];
    assert_eq!(rs["resource"]["attributes"][0]["key"], "service.name");
    let spans = rs["scopeSpans"][0]["spans"].as_array().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "deploy frontend to prod",
            "image build",
            "metadata update",
            "approval",
            "manifest generation",
            "sync"
        ]
    );
    let root = &spans[0];
    let trace = root["traceId"].as_str().unwrap();
    assert_eq!(trace, trace_id("fabrikam", &format!("{:012x}", 1)));
    assert_eq!(trace.len(), 32);
    assert!(trace.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(root.get("parentSpanId").is_none());
    let nanos = |t: DateTime<Utc>| t.timestamp_nanos_opt().unwrap().to_string();
    assert_eq!(root["startTimeUnixNano"], nanos(at(0, 900)));
    assert_eq!(root["endTimeUnixNano"], nanos(at(0, 956)));
    assert_eq!(root["kind"], 1);
    assert_eq!(root["status"]["code"], 1);
    let attrs = |s: &serde_json::Value| -> Vec<(String, String)> {
        s["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["key"].as_str().unwrap().to_string(),
                    a["value"]["stringValue"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let root_attrs = attrs(root);
    for (k, v) in [
        ("spektate.service", "frontend"),
        ("spektate.ring", "prod"),
        ("spektate.image_tag", "frontend-1"),
        ("vcs.ref.head.revision", sha(1, 1).as_str()),
    ] {
        assert!(
            root_attrs.contains(&(k.into(), v.into())),
            "{k} in {root_attrs:?}"
        );
    }
    let mut ids = vec![root["spanId"].as_str().unwrap()];
    for s in &spans[1..] {
        assert_eq!(s["traceId"], trace);
        assert_eq!(s["parentSpanId"], root["spanId"]);
        let id = s["spanId"].as_str().unwrap();
        assert_eq!(id.len(), 16);
        assert!(!ids.contains(&id), "span ids differ");
        ids.push(id);
    }
    assert_eq!(spans[1]["startTimeUnixNano"], nanos(at(0, 900)));
    assert_eq!(spans[1]["endTimeUnixNano"], nanos(at(0, 910)));
    assert!(attrs(&spans[1]).contains(&("cicd.pipeline.run.id".into(), "10001".into())));
    assert!(attrs(&spans[1]).contains(&("cicd.pipeline.result".into(), "success".into())));
    assert!(attrs(&spans[1]).contains(&("cicd.pipeline.name".into(), "frontend-build".into())));
    assert_eq!(spans[3]["startTimeUnixNano"], nanos(at(0, 915)));
    assert_eq!(spans[3]["endTimeUnixNano"], nanos(at(0, 945)));
    assert!(attrs(&spans[3]).contains(&("vcs.change.id".into(), "1".into())));
    assert_eq!(spans[5]["endTimeUnixNano"], nanos(at(0, 956)));
    assert!(attrs(&spans[5]).contains(&("k8s.cluster.name".into(), "prod-east".into())));
    // The same deployment exported again is the same trace.
    assert_eq!(export_request([find(1)], "spektate"), body);

    // #5 failed at its manifests: an error root and an error manifest span, no sync.
    let failed = export_request([find(5)], "spektate");
    let spans = failed["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap();
    assert_eq!(spans[0]["status"]["code"], 2);
    assert_eq!(spans.last().unwrap()["name"], "manifest generation");
    assert_eq!(spans.last().unwrap()["status"]["code"], 2);

    let now = at(8, 1115);
    assert!(is_finished(find(1), now), "live");
    assert!(is_finished(find(5), now), "failed");
    assert!(!is_finished(find(8), now), "building");
    // #2 completed d0 10:21 and no cluster reports its ring: finished an hour later.
    assert!(!is_finished(find(2), at(0, 1100)));
    assert!(is_finished(find(2), at(0, 1121)));
}

/// A lane as `(lane, name, state, [(kind, minutes, open)])`.
type LaneMinutes<'a> = (&'a str, String, String, Vec<(SpanKind, i64, bool)>);

/// Each lane of a timeline in minutes.
fn lanes_of(t: &Timeline) -> Vec<LaneMinutes<'_>> {
    t.lanes
        .iter()
        .map(|l| {
            let spans = l.spans.iter().map(|s| (s.kind, s.secs() / 60, s.open));
            (
                l.lane,
                l.name.clone().unwrap_or_default(),
                l.state.clone(),
                spans.collect(),
            )
        })
        .collect()
}

#[test]
fn the_timeline_of_a_journey_has_each_steps_waiting_queued_and_running_spans() {
    use SpanKind::{Approval, Queued, Running, Sync, Waiting};
    // #1 of the fortnight: p1 queued 09:00, started 09:01, finished 09:10; p2 queued 09:11,
    // started 09:12, finished 09:15; the PR merged at 09:45; p3 queued 09:46, started 09:47,
    // finished 09:52; prod-east applied the manifests at 09:56.
    let now = at(9, 0);
    let all = join(&week(), now);
    let one = all
        .iter()
        .find(|d| d.image_tag() == Some("frontend-1"))
        .unwrap();
    let t = timeline(one, now);
    assert_eq!(
        lanes_of(&t),
        vec![
            (
                "image",
                "10001".into(),
                "succeeded".into(),
                vec![(Queued, 1, false), (Running, 9, false)]
            ),
            (
                "metadata",
                "20001".into(),
                "succeeded".into(),
                vec![(Waiting, 1, false), (Queued, 1, false), (Running, 3, false)]
            ),
            (
                "approval",
                "1".into(),
                "merged".into(),
                vec![(Approval, 30, false)]
            ),
            (
                "manifests",
                "30001".into(),
                "succeeded".into(),
                vec![(Waiting, 1, false), (Queued, 1, false), (Running, 5, false)]
            ),
            (
                "sync",
                "prod-east".into(),
                "applied".into(),
                vec![(Sync, 4, false)]
            ),
        ]
    );
    assert_eq!((t.start, t.end), (Some(at(0, 900)), Some(at(0, 956))));

    // #8: its image pipeline still running at `now`, 90 minutes after its start.
    let now = at(8, 1230);
    let eight = join(&week(), now);
    let eight = eight
        .iter()
        .find(|d| d.image_tag() == Some("backend-8"))
        .unwrap();
    let t = timeline(eight, now);
    assert_eq!(
        lanes_of(&t),
        vec![(
            "image",
            "10008".into(),
            "inProgress".into(),
            vec![(Queued, 1, false), (Running, 89, true)]
        )]
    );
    assert_eq!(t.end, Some(now));

    // An approval pull request still open: its wait lasts until `now`.
    let open = Spec {
        approval: Some(0),
        stop: Some((1, Stop::Waiting)),
        ..spec(9, "frontend", "prod", at(3, 900))
    };
    let now = at(3, 1000);
    let waiting = join(&[open], now);
    let t = timeline(&waiting[0], now);
    let approval = t.lanes.iter().find(|l| l.lane == "approval").unwrap();
    assert_eq!(approval.state, "open");
    assert_eq!(
        approval
            .spans
            .iter()
            .map(|s| (s.kind, s.secs() / 60, s.open))
            .collect::<Vec<_>>(),
        vec![(Approval, 45, true)],
        "from the metadata's finish at 09:15 to 10:00"
    );
    assert!(
        t.lanes
            .iter()
            .all(|l| l.lane != "manifests" && l.lane != "sync")
    );
}
