use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::model::cluster::Live;
use crate::model::deployment::{DeploymentKind, Status, Step, StepState};
use crate::model::record::Record;
use crate::model::repo::RepoRef;
use crate::model::run::{Run, RunKind, RunResult, RunStatus};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap() + Duration::minutes(min)
}

fn step(id: &str, state: StepState, finished: Option<DateTime<Utc>>) -> Step {
    let mut run = Run::new(id, RunKind::Build, RunStatus::Completed);
    run.result = Some(match state {
        StepState::Failed => RunResult::Failed,
        _ => RunResult::Succeeded,
    });
    run.finished_at = finished;
    run.url = Some(format!("https://github.com/fabrikam/hld/actions/runs/{id}"));
    Step {
        state,
        run: Some(Arc::new(run)),
        stage: None,
    }
}

/// A deployment of `tag` (`frontend-1001`) in `ring`: image and metadata succeeded at
/// minute 0, the manifest step at minute 1, live in `live` clusters applied at minute 10.
fn dep(id: &str, tag: &str, ring: &str, live: &[&str]) -> Deployment {
    let service = tag.split('-').next().unwrap();
    let mut r = Record::new("fabrikam");
    r.row_key = id.into();
    r.service = Some(format!("fabrikam/{service}"));
    r.env = Some(ring.into());
    r.image_tag = Some(tag.into());
    r.commit_id = Some(format!("{id}aaaaaaa"));
    r.p1 = Some(format!("1{id}"));
    r.p2 = Some(format!("2{id}"));
    r.p3 = Some(format!("3{id}"));
    r.pr = Some(format!("4{id}"));
    Deployment {
        record: Arc::new(r),
        kind: DeploymentKind::Deployment,
        source_repo: Some(Arc::new(
            RepoRef::parse(&format!("https://github.com/fabrikam/{service}")).unwrap(),
        )),
        hld_repo: Some(Arc::new(
            RepoRef::parse("https://github.com/fabrikam/hld").unwrap(),
        )),
        manifest_repo: None,
        image: Some(step(&format!("1{id}"), StepState::Succeeded, Some(t(0)))),
        metadata: Some(step(&format!("2{id}"), StepState::Succeeded, Some(t(0)))),
        manifest: Some(step(&format!("3{id}"), StepState::Succeeded, Some(t(1)))),
        multi_stage: false,
        author: None,
        pull_request: None,
        clusters: Vec::new(),
        cluster_troubles: Vec::new(),
        live_in: live
            .iter()
            .map(|c| Live {
                cluster: c.to_string(),
                commit: "m1".into(),
                exact: true,
                applied_at: Some(t(10)),
            })
            .collect(),
        status: Status::Complete,
        duration_secs: None,
        started_at: None,
        last_updated: t(1),
        warnings: Vec::new(),
        failed_lookups: Vec::new(),
        eta: None,
        expired: false,
    }
}

fn words(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let tag = e.deployment.image_tag().unwrap_or_default();
            match &e.kind {
                EventKind::Live {
                    cluster,
                    first_in_ring,
                    replaced,
                    ..
                } => format!(
                    "{tag} live {cluster}{}{}",
                    if *first_in_ring { " first" } else { "" },
                    replaced
                        .as_ref()
                        .map(|r| format!(" replacing {}", r.image_tag.as_deref().unwrap_or("")))
                        .unwrap_or_default()
                ),
                EventKind::StepFailed { step, run_id } => {
                    format!("{tag} {} failed {run_id}", step_word(*step))
                }
                EventKind::ApprovalWaiting { pr, .. } => format!("{tag} waits on {pr}"),
                EventKind::Ready => format!("{tag} ready"),
                EventKind::ClusterFailed {
                    cluster, reason, ..
                } => format!(
                    "{tag} failed in {cluster} {}",
                    reason.as_deref().unwrap_or("-")
                ),
            }
        })
        .collect()
}

/// A detector started at minute -60, primed with `first`.
fn primed(first: &[Deployment]) -> Detector {
    let mut d = Detector::new(t(-60));
    assert!(
        d.observe(first, t(0)).is_empty(),
        "the first snapshot only primes"
    );
    assert!(d.is_primed());
    d
}

#[test]
fn going_live_in_two_clusters_is_told_once_per_cluster_the_first_reaching_the_ring() {
    let mut det = primed(&[]);
    let ready = dep("a1", "frontend-1001", "prod", &[]);
    assert_eq!(words(&det.observe(&[ready], t(2))), ["frontend-1001 ready"]);
    let east = dep("a1", "frontend-1001", "prod", &["east-us"]);
    assert_eq!(
        words(&det.observe(std::slice::from_ref(&east), t(11))),
        ["frontend-1001 live east-us first"]
    );
    let both = dep("a1", "frontend-1001", "prod", &["east-us", "west-eu"]);
    let events = det.observe(std::slice::from_ref(&both), t(12));
    assert_eq!(words(&events), ["frontend-1001 live west-eu"]);
    assert_eq!(events[0].at, t(10), "the time the cluster applied it");
    assert!(det.observe(&[both], t(13)).is_empty(), "nothing twice");
}

#[test]
fn the_first_snapshot_primes_so_a_restart_sends_nothing_again() {
    let live = dep("a1", "frontend-1001", "prod", &["east-us"]);
    let mut failed = dep("b2", "backend-7", "prod", &[]);
    failed.manifest = Some(step("3b2", StepState::Failed, Some(t(5))));
    let snapshot = vec![live, failed];
    let mut before = primed(&[]);
    assert_eq!(
        words(&before.observe(&snapshot, t(20))),
        [
            "backend-7 manifest failed 3b2",
            "frontend-1001 live east-us first"
        ]
    );
    // The server restarts: a new detector sees the same snapshot.
    let mut after = Detector::new(t(30));
    assert!(after.observe(&snapshot, t(31)).is_empty());
    assert!(after.observe(&snapshot, t(32)).is_empty());
}

#[test]
fn an_old_event_learned_after_start_is_remembered_without_being_sent() {
    // At start, the agent could not be reached: nothing live. It answers on the next
    // refresh, about an apply of minute 10, before the server started at minute 30.
    let mut det = Detector::new(t(30));
    assert!(
        det.observe(&[dep("a1", "frontend-1001", "prod", &[])], t(31))
            .is_empty()
    );
    let live = dep("a1", "frontend-1001", "prod", &["east-us"]);
    assert!(det.observe(std::slice::from_ref(&live), t(32)).is_empty());
    let mut later = live.clone();
    later.live_in.push(Live {
        cluster: "west-eu".into(),
        commit: "m1".into(),
        exact: true,
        applied_at: Some(t(40)),
    });
    assert_eq!(
        words(&det.observe(&[later], t(41))),
        ["frontend-1001 live west-eu"],
        "a later apply is news, and not the ring's first"
    );
}

#[test]
fn a_new_image_live_where_another_was_is_an_upgrade() {
    let old = dep("a1", "frontend-1000", "prod", &["east-us"]);
    let mut det = primed(std::slice::from_ref(&old));
    let new = dep("b2", "frontend-1001", "prod", &["east-us", "west-eu"]);
    let gone = dep("a1", "frontend-1000", "prod", &[]);
    assert_eq!(
        words(&det.observe(&[new, gone], t(20))),
        [
            "frontend-1001 live east-us first replacing frontend-1000",
            "frontend-1001 live west-eu"
        ]
    );
}

#[test]
fn a_failed_step_is_told_once_per_run_and_a_rerun_that_fails_again_too() {
    let mut det = primed(&[]);
    let mut d = dep("a1", "frontend-1001", "prod", &[]);
    d.manifest = None;
    d.image = Some(step("1a1", StepState::Failed, Some(t(3))));
    assert_eq!(
        words(&det.observe(std::slice::from_ref(&d), t(4))),
        ["frontend-1001 image failed 1a1"]
    );
    assert!(det.observe(std::slice::from_ref(&d), t(5)).is_empty());
    let mut rerun = d.clone();
    let mut r = Record::clone(&d.record);
    r.p1 = Some("1a1-attempt2".into());
    rerun.record = Arc::new(r);
    assert_eq!(
        words(&det.observe(&[rerun], t(6))),
        ["frontend-1001 image failed 1a1-attempt2"]
    );
}

#[test]
fn an_approval_waiting_longer_than_the_limit_is_told_once() {
    let mut det = Detector::new(t(-60)).pr_wait(Some(StdDuration::from_secs(4 * 3600)));
    assert!(det.observe(&[], t(0)).is_empty());
    let mut waiting = dep("a1", "frontend-1001", "prod", &[]);
    waiting.manifest = None;
    waiting.status = Status::Incomplete;
    let snapshot = [waiting];
    assert!(det.observe(&snapshot, t(3 * 60)).is_empty(), "3 h: not yet");
    let events = det.observe(&snapshot, t(4 * 60 + 1));
    assert_eq!(words(&events), ["frontend-1001 waits on 4a1"]);
    assert_eq!(events[0].at, t(4 * 60));
    assert!(det.observe(&snapshot, t(9 * 60)).is_empty());
    let mut off = Detector::new(t(-60));
    off.observe(&[], t(0));
    assert!(
        off.observe(&snapshot, t(9 * 60)).is_empty(),
        "no limit, no event"
    );
}

#[test]
fn a_metadata_finish_no_clock_reaches_never_tells_an_approval_waiting_nor_crashes() {
    let mut det = Detector::new(t(-60)).pr_wait(Some(StdDuration::from_secs(4 * 3600)));
    det.observe(&[], t(0));
    let mut waiting = dep("a1", "frontend-1001", "prod", &[]);
    waiting.manifest = None;
    waiting.status = Status::Incomplete;
    // A stored run may say anything: here the largest time chrono holds.
    waiting.metadata = Some(step(
        "2a1",
        StepState::Succeeded,
        Some(DateTime::<Utc>::MAX_UTC),
    ));
    assert!(det.observe(&[waiting], t(9 * 60)).is_empty());
}

#[test]
fn a_deployment_that_leaves_the_snapshot_is_forgotten() {
    let mut det = primed(&[
        dep("a1", "frontend-1001", "prod", &["east-us"]),
        dep("b2", "backend-7", "prod", &["east-us"]),
    ]);
    assert_eq!(det.remembered(), 2);
    det.observe(&[dep("b2", "backend-7", "prod", &["east-us"])], t(5));
    assert_eq!(det.remembered(), 1);
}

#[test]
fn a_superseded_deployment_that_was_live_is_not_ready_again() {
    let mut det = primed(&[dep("a1", "frontend-1000", "prod", &["east-us"])]);
    let superseded = dep("a1", "frontend-1000", "prod", &[]);
    assert!(det.observe(&[superseded], t(20)).is_empty());
}

#[derive(Default)]
struct FakeHost {
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl DeploymentStatuses for FakeHost {
    fn name(&self) -> String {
        "fake github".into()
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        repo.host == "github.com"
    }

    async fn create_deployment(&self, repo: &RepoRef, d: &NewDeployment) -> crate::Result<u64> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(format!(
            "create {}/{} {} {} {}",
            repo.owner, repo.name, d.git_ref, d.environment, d.description
        ));
        Ok(calls.len() as u64)
    }

    async fn create_status(
        &self,
        _repo: &RepoRef,
        id: u64,
        s: &DeploymentStatus,
    ) -> crate::Result<()> {
        self.calls.lock().unwrap().push(format!(
            "status {id} {} {} {} {}",
            s.state.as_str(),
            s.environment,
            s.description,
            s.log_url.as_deref().unwrap_or("-")
        ));
        Ok(())
    }
}

#[tokio::test]
async fn statuses_create_one_deployment_per_ring_and_add_each_state_to_it() {
    let host = Arc::new(FakeHost::default());
    let scope = RepoScope::parse(["fabrikam/*"]).unwrap();
    let writer = StatusWriter::new(host.clone(), scope);
    let ev = |kind, d: Deployment| Event {
        kind,
        deployment: d,
        at: t(0),
    };
    let live = |cluster: &str| EventKind::Live {
        cluster: cluster.into(),
        commit: "m1".into(),
        exact: true,
        first_in_ring: false,
        replaced: None,
    };
    let ready = dep("a1", "frontend-1001", "prod", &[]);
    assert!(writer.write(&ev(EventKind::Ready, ready)).await.unwrap());
    let east = dep("a1", "frontend-1001", "prod", &["east-us"]);
    assert!(writer.write(&ev(live("east-us"), east)).await.unwrap());
    let both = dep("a1", "frontend-1001", "prod", &["east-us", "west-eu"]);
    assert!(writer.write(&ev(live("west-eu"), both)).await.unwrap());
    let mut failed = dep("b2", "backend-7", "staging", &[]);
    failed.manifest = Some(step("3b2", StepState::Failed, Some(t(5))));
    let kind = EventKind::StepFailed {
        step: StepName::Manifest,
        run_id: "3b2".into(),
    };
    assert!(writer.write(&ev(kind, failed)).await.unwrap());
    let waiting = EventKind::ApprovalWaiting {
        pr: "4a1".into(),
        since: t(0),
    };
    let d = dep("a1", "frontend-1001", "prod", &[]);
    assert!(!writer.write(&ev(waiting, d)).await.unwrap());
    let mut elsewhere = dep("c3", "payments-1", "prod", &["east-us"]);
    elsewhere.source_repo = Some(Arc::new(
        RepoRef::parse("https://github.com/contoso/payments").unwrap(),
    ));
    // A repository of the host that the scope does not allow: its token writes nothing.
    assert!(!writer.write(&ev(live("east-us"), elsewhere)).await.unwrap());
    // One the scope allows on a host the writer does not serve: nothing either.
    let mut outside = dep("d4", "frontend-9", "prod", &["east-us"]);
    outside.source_repo = Some(Arc::new(
        RepoRef::parse("https://gitlab.com/fabrikam/frontend").unwrap(),
    ));
    assert!(!writer.write(&ev(live("east-us"), outside)).await.unwrap());
    let scoped = StatusWriter::new(
        host.clone(),
        RepoScope::parse(["other:fabrikam/*"]).unwrap(),
    );
    let theirs = dep("e5", "frontend-10", "prod", &["east-us"]);
    assert!(
        !scoped.write(&ev(live("east-us"), theirs)).await.unwrap(),
        "fabrikam's repositories are another partition's"
    );
    let runs = "https://github.com/fabrikam/hld/actions/runs";
    assert_eq!(
        *host.calls.lock().unwrap(),
        [
            "create fabrikam/frontend a1aaaaaaa prod frontend-1001".to_string(),
            format!(
                "status 1 in_progress prod frontend-1001: manifests ready, waiting for a cluster {runs}/3a1"
            ),
            format!("status 1 success prod frontend-1001: live in east-us {runs}/3a1"),
            format!("status 1 success prod frontend-1001: live in east-us, west-eu {runs}/3a1"),
            "create fabrikam/backend b2aaaaaaa staging backend-7".to_string(),
            format!(
                "status 5 failure staging backend-7: the manifest step failed (run 3b2) {runs}/3b2"
            ),
        ]
    );
}

#[test]
fn a_cluster_running_the_exact_commit_counts_when_live_cannot_be_ordered() {
    // No manifest repository to order commits by: synced in east-us, not counted live.
    let mut det = primed(&[]);
    let mut d = dep("a1", "frontend-1001", "prod", &[]);
    d.clusters.push(crate::model::deployment::ClusterSync {
        cluster: "east-us".into(),
        commit: "m1".into(),
        synced_at: Some(t(10)),
        tagger: Some("flux".into()),
    });
    let events = det.observe(std::slice::from_ref(&d), t(11));
    assert_eq!(words(&events), ["frontend-1001 live east-us first"]);
    assert_eq!(events[0].at, t(10));
    assert!(det.observe(&[d], t(12)).is_empty());
}

#[test]
fn a_cluster_that_fails_to_apply_the_commit_is_told_once() {
    use crate::model::cluster::{ClusterReport, Outcome};
    let mut det = primed(&[]);
    let mut d = dep("a1", "frontend-1001", "prod", &["east-us"]);
    let mut report = ClusterReport::applied(crate::model::deployment::ClusterSync {
        cluster: "west-eu".into(),
        commit: "m1".into(),
        synced_at: Some(t(12)),
        tagger: Some("flux".into()),
    });
    report.outcome = Outcome::Failed;
    report.reason = Some("ReconciliationFailed".into());
    d.cluster_troubles.push(report);
    let events = det.observe(std::slice::from_ref(&d), t(13));
    assert_eq!(
        words(&events),
        [
            "frontend-1001 failed in west-eu ReconciliationFailed",
            "frontend-1001 live east-us first"
        ]
    );
    assert_eq!(events[0].at, t(12));
    let (_, _, status) = status_for(&events[0]).unwrap();
    assert_eq!(
        (status.state, status.description.as_str()),
        (
            DeploymentState::Failure,
            "frontend-1001: failed in west-eu (ReconciliationFailed)"
        )
    );
    assert!(det.observe(&[d], t(14)).is_empty());
}

#[test]
fn a_large_snapshot_costs_one_pass_and_memory_follows_it() {
    let snapshot = |n: usize, clusters: &[&str]| -> Vec<Deployment> {
        (0..n)
            .map(|i| {
                dep(
                    &format!("d{i}"),
                    &format!("svc{}-{i}", i % 50),
                    "prod",
                    clusters,
                )
            })
            .collect()
    };
    let started = std::time::Instant::now();
    let mut det = primed(&snapshot(10_000, &["east-us"]));
    let events = det.observe(&snapshot(10_000, &["east-us", "west-eu"]), t(20));
    let took = started.elapsed();
    assert_eq!(events.len(), 10_000);
    assert!(events.iter().all(|e| matches!(
        &e.kind,
        EventKind::Live { cluster, first_in_ring: false, .. } if cluster == "west-eu"
    )));
    assert_eq!(det.remembered(), 10_000);
    assert!(
        det.observe(&snapshot(5_000, &["east-us", "west-eu"]), t(21))
            .is_empty()
    );
    assert_eq!(det.remembered(), 5_000);
    eprintln!("two snapshots of 10,000 deployments observed in {took:?}");
}
