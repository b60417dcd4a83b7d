//! Synced and live (docs/ARCHITECTURE.md, Correlation): a deployment is synced in a cluster
//! that runs its own commit, and live in one that runs its commit or a later commit of the same
//! repository that no later deployment of its service and ring replaced. Cases as tables of
//! recorded commits and what clusters applied, from sync tags, cluster reports and sync
//! sources (Argo CD applications, of the manifest or of the HLD repository).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use spektate_core::correlate::{Knowledge, Lookup, RepoDefaults, SourceAnswer, correlate};
use spektate_core::warnings::{Reason, summarize};
use spektate_core::{
    Applied, ClusterSync, Deployment, Record, RepoRef, Run, RunKind, RunResult, RunStatus, Status,
    render,
};

const HLD: &str = "https://github.com/fabrikam/hld";
const MANIFESTS: &str = "https://github.com/fabrikam/manifests";
const OTHER: &str = "https://github.com/fabrikam/other-manifests";

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap() + Duration::minutes(min)
}

/// A commit id: 40 hex digits from a small number, distinct in their first seven.
fn sha(n: u32) -> String {
    format!("{n:07x}{}", "e".repeat(33))
}

/// A record of `service` in `ring` whose p3 wrote manifest commit `m` (HLD commit `h`), the
/// `seq`-th write of the store.
fn rec(service: &str, ring: &str, seq: i64, h: Option<u32>, m: Option<u32>) -> Arc<Record> {
    let mut r = Record::new("fabrikam");
    r.service = Some(format!("fabrikam/{service}"));
    r.env = Some(ring.into());
    r.image_tag = Some(format!("{service}-{seq}"));
    r.p2 = Some(format!("2{seq:03}"));
    r.pr = Some(seq.to_string());
    r.hld_commit_id = h.map(sha);
    r.hld_repo = Some(HLD.into());
    if m.is_some() {
        r.p3 = Some(format!("3{seq:03}"));
        r.manifest_commit_id = m.map(sha);
        r.manifest_repo = Some(MANIFESTS.into());
    }
    r.sequence = Some(seq);
    r.timestamp = Some(t(seq));
    Arc::new(r)
}

fn sync(cluster: &str, commit: u32) -> ClusterSync {
    ClusterSync {
        cluster: cluster.into(),
        commit: sha(commit),
        synced_at: Some(t(100)),
        tagger: Some("flux".into()),
    }
}

fn applied(cluster: &str, app: &str, repo: &str, commit: u32, history: &[u32]) -> Applied {
    Applied {
        sync: ClusterSync {
            cluster: cluster.into(),
            commit: sha(commit),
            synced_at: Some(t(90)),
            tagger: Some(format!("argocd {app}")),
        },
        application: format!("argocd/{app}"),
        repo: RepoRef::parse(repo).unwrap(),
        sync_status: Some("Synced".into()),
        health: Some("Healthy".into()),
        phase: Some("Succeeded".into()),
        history: history.iter().map(|&c| sha(c)).collect(),
        attempted: None,
    }
}

/// Every run succeeded: p2 always, p3 when recorded.
fn knowledge(records: &[Arc<Record>]) -> Knowledge {
    let mut k = Knowledge::default();
    for r in records {
        for (id, kind) in [(&r.p2, RunKind::Release), (&r.p3, RunKind::Build)] {
            if let Some(id) = id {
                let mut run = Run::new(id.as_str(), kind, RunStatus::Completed);
                run.result = Some(RunResult::Succeeded);
                run.finished_at = r.timestamp;
                k.runs_mut(kind)
                    .insert(id.as_str().into(), Lookup::Found(Arc::new(run)));
            }
        }
    }
    k
}

fn tags(k: &mut Knowledge, syncs: Vec<ClusterSync>) {
    let key = RepoRef::parse(MANIFESTS).unwrap().key();
    k.sync_tags.insert(key.into(), Lookup::Found(syncs));
}

fn source(k: &mut Knowledge, applied: Vec<Applied>) {
    k.applied.push(SourceAnswer {
        source: "argocd argocd.fabrikam.com".into(),
        applied: Arc::new(applied),
        failed: None,
    });
}

fn join(records: &[Arc<Record>], k: &Knowledge) -> Vec<Deployment> {
    correlate(records, k, &RepoDefaults::default(), t(200))
}

fn find<'a>(ds: &'a [Deployment], tag: &str) -> &'a Deployment {
    ds.iter()
        .find(|d| d.image_tag() == Some(tag))
        .unwrap_or_else(|| panic!("no {tag}"))
}

/// `(synced clusters, live clusters)` of the deployment of image `tag`.
fn where_(ds: &[Deployment], tag: &str) -> (Vec<String>, Vec<String>) {
    let d = find(ds, tag);
    (
        d.clusters.iter().map(|c| c.cluster.clone()).collect(),
        d.live_in.iter().map(|l| l.cluster.clone()).collect(),
    )
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn live_in_three_clusters_superseded_in_one() {
    // frontend/dev 10, then backend/dev 12, then frontend/dev 14 replaces frontend 10.
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        rec("backend", "dev", 2, Some(2), Some(12)),
        rec("frontend", "dev", 3, Some(3), Some(14)),
    ];
    let mut k = knowledge(&records);
    tags(
        &mut k,
        vec![
            sync("east-us", 10), // exactly frontend-1's commit
            sync("west-eu", 12), // backend's, later than frontend-1's
            sync("north", 14),   // frontend-3 replaced frontend-1 there
        ],
    );
    k.cluster_reports = vec![sync("edge", 12)];
    let ds = join(&records, &k);

    assert_eq!(
        where_(&ds, "frontend-1"),
        (names(&["east-us"]), names(&["east-us", "edge", "west-eu"]))
    );
    assert_eq!(
        where_(&ds, "backend-2"),
        (
            names(&["west-eu", "edge"]),
            names(&["edge", "north", "west-eu"])
        ),
        "a later commit of another service keeps backend live in north"
    );
    assert_eq!(
        where_(&ds, "frontend-3"),
        (names(&["north"]), names(&["north"]))
    );
    let f1 = find(&ds, "frontend-1");
    let west = f1.live_in.iter().find(|l| l.cluster == "west-eu").unwrap();
    assert_eq!(
        (west.commit.as_str(), west.exact),
        (sha(12).as_str(), false)
    );
    assert!(
        f1.live_in
            .iter()
            .find(|l| l.cluster == "east-us")
            .unwrap()
            .exact
    );
    assert_eq!(west.applied_at, Some(t(100)));
}

#[test]
fn a_failed_or_pending_manifest_step_replaces_nothing() {
    // frontend/dev 1 at commit 10; frontend/dev 2 failed its manifest step (no commit); the
    // cluster applied a later commit of backend.
    let mut failed = (*rec("frontend", "dev", 2, Some(2), None)).clone();
    failed.p3 = Some("3999".into());
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        Arc::new(failed),
        rec("backend", "dev", 3, Some(3), Some(12)),
    ];
    let mut k = knowledge(&records);
    let mut fail = Run::new("3999", RunKind::Build, RunStatus::Completed);
    fail.result = Some(RunResult::Failed);
    k.builds
        .insert("3999".into(), Lookup::Found(Arc::new(fail)));
    tags(&mut k, vec![sync("east-us", 12)]);
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1").1, names(&["east-us"]));
    assert_eq!(where_(&ds, "frontend-2"), (vec![], vec![]));
    assert_eq!(find(&ds, "frontend-2").status, Status::Failed);
}

#[test]
fn a_cluster_behind_the_commit_or_on_an_unknown_commit_is_not_live() {
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        rec("frontend", "dev", 2, Some(2), Some(11)),
    ];
    let mut k = knowledge(&records);
    tags(
        &mut k,
        vec![
            sync("east-us", 10),  // behind frontend-2
            sync("west-eu", 777), // a commit no record names: nothing is known
        ],
    );
    let ds = join(&records, &k);
    assert_eq!(
        where_(&ds, "frontend-1"),
        (names(&["east-us"]), names(&["east-us"]))
    );
    assert_eq!(where_(&ds, "frontend-2"), (vec![], vec![]));
}

#[test]
fn commits_of_another_repository_say_nothing_about_this_one() {
    let records = vec![rec("frontend", "dev", 1, Some(1), Some(10))];
    let mut k = knowledge(&records);
    let mut later = (*rec("backend", "dev", 2, Some(2), Some(12))).clone();
    later.manifest_repo = Some(OTHER.into());
    let records = vec![records[0].clone(), Arc::new(later)];
    source(&mut k, vec![applied("east-us", "backend", OTHER, 12, &[])]);
    let ds = join(&records, &knowledge_with(&records, k));
    assert_eq!(where_(&ds, "frontend-1"), (vec![], vec![]));
    assert_eq!(
        where_(&ds, "backend-2"),
        (names(&["east-us"]), names(&["east-us"]))
    );
}

/// `k` with the runs of `records` added.
fn knowledge_with(records: &[Arc<Record>], mut k: Knowledge) -> Knowledge {
    let runs = knowledge(records);
    k.builds.extend(runs.builds);
    k.releases.extend(runs.releases);
    k
}

#[test]
fn an_application_on_a_commit_no_record_names_is_placed_by_its_history() {
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        rec("backend", "dev", 2, Some(2), Some(12)),
        rec("frontend", "dev", 3, Some(3), Some(14)),
    ];
    let mut k = knowledge(&records);
    // Someone committed 13 to the manifests by hand; Argo applied 10, then 12, then 13.
    source(
        &mut k,
        vec![applied("east-us", "apps", MANIFESTS, 13, &[12, 10])],
    );
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1").1, names(&["east-us"]));
    assert_eq!(where_(&ds, "backend-2").1, names(&["east-us"]));
    assert_eq!(where_(&ds, "frontend-3").1, Vec::<String>::new());
    assert!(
        ds.iter().all(|d| d.clusters.is_empty()),
        "13 is nobody's own"
    );
}

#[test]
fn a_cluster_is_as_far_as_its_slowest_application() {
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        rec("backend", "dev", 2, Some(2), Some(12)),
        rec("frontend", "dev", 3, Some(3), Some(14)),
    ];
    let mut k = knowledge(&records);
    source(
        &mut k,
        vec![
            applied("east-us", "dev", MANIFESTS, 14, &[]),
            applied("east-us", "prod", MANIFESTS, 12, &[]),
        ],
    );
    let ds = join(&records, &k);
    assert_eq!(
        where_(&ds, "frontend-3"),
        (names(&["east-us"]), vec![]),
        "synced by one application, not yet applied by the other"
    );
    assert_eq!(where_(&ds, "frontend-1").1, names(&["east-us"]));
    assert_eq!(
        where_(&ds, "backend-2"),
        (names(&["east-us"]), names(&["east-us"]))
    );
}

#[test]
fn an_application_rendering_from_the_hld_repository_completes_the_deployment_without_p3() {
    // No manifest pipeline: p2 writes the HLD, Argo CD renders it.
    let records = vec![
        rec("frontend", "dev", 1, Some(1), None),
        rec("backend", "dev", 2, Some(2), None),
        rec("frontend", "dev", 3, Some(3), None),
        rec("frontend", "prod", 4, Some(4), None),
    ];
    let mut k = knowledge(&records);
    source(
        &mut k,
        vec![
            applied("east-us", "dev", HLD, 2, &[1]),
            applied("west-eu", "dev", HLD, 1, &[]),
        ],
    );
    let ds = join(&records, &k);
    let f1 = find(&ds, "frontend-1");
    assert_eq!(
        where_(&ds, "frontend-1"),
        (names(&["west-eu"]), names(&["east-us", "west-eu"]))
    );
    assert_eq!(
        f1.status,
        Status::Complete,
        "synced from the HLD repository"
    );
    let b2 = find(&ds, "backend-2");
    assert_eq!(
        where_(&ds, "backend-2"),
        (names(&["east-us"]), names(&["east-us"]))
    );
    assert_eq!(b2.status, Status::Complete);
    assert!(!b2.awaiting_approval());
    // Recorded later than what any cluster applied: not there yet.
    for tag in ["frontend-3", "frontend-4"] {
        let d = find(&ds, tag);
        assert_eq!(where_(&ds, tag), (vec![], vec![]), "{tag}");
        assert_eq!(d.status, Status::Incomplete, "{tag}");
    }
    assert!(find(&ds, "frontend-3").awaiting_approval());
    let shown = render::table(&ds, true, t(200));
    let row = cells(&shown, "frontend-1");
    assert_eq!(row[1], "Complete (synced)", "{shown}");
    assert_eq!(
        row[row.len() - 2..],
        ["west-eu", "east-us, west-eu"],
        "{shown}"
    );
}

/// The cells of the table line that holds `needle`.
fn cells(table: &str, needle: &str) -> Vec<String> {
    let line = table.lines().find(|l| l.contains(needle)).unwrap();
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn json_shows_live_in_apart_from_synced_clusters() {
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        rec("backend", "dev", 2, Some(2), Some(12)),
    ];
    let mut k = knowledge(&records);
    k.cluster_reports = vec![sync("east-us", 12)];
    let ds = join(&records, &k);
    let v = serde_json::to_value(find(&ds, "frontend-1")).unwrap();
    assert_eq!(v["clusters"], serde_json::json!([]));
    assert_eq!(v["synced"], false);
    assert_eq!(
        v["liveIn"],
        serde_json::json!([{
            "cluster": "east-us",
            "commit": sha(12),
            "exact": false,
            "appliedAt": t(100),
        }])
    );
    let shown = render::table(&ds, true, t(200));
    let header = shown.lines().next().unwrap();
    assert!(header.ends_with("Cluster Sync  Live In"), "{header}");
    let row = cells(&shown, "frontend-1");
    assert_eq!(row[1], "Complete (live)", "{shown}");
    assert_eq!(row[row.len() - 2..], ["-", "east-us"], "{shown}");
    let row = cells(&shown, "backend-2");
    assert_eq!(row[1], "Complete (synced)", "{shown}");
    assert_eq!(row[row.len() - 2..], ["east-us", "east-us"], "{shown}");
}

#[test]
fn a_source_that_failed_keeps_what_it_said_and_warns_once() {
    let records = vec![rec("frontend", "dev", 1, Some(1), Some(10))];
    let mut k = knowledge(&records);
    k.applied.push(SourceAnswer {
        source: "argocd argocd.fabrikam.com".into(),
        applied: Arc::new(vec![applied("east-us", "dev", MANIFESTS, 10, &[])]),
        failed: Some(Reason::new(
            "argocd argocd.fabrikam.com",
            "could not connect",
        )),
    });
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1").0, names(&["east-us"]));
    let lines: Vec<String> = summarize(&ds).iter().map(|s| s.to_string()).collect();
    assert_eq!(
        lines,
        ["argocd argocd.fabrikam.com: applications of 1 sync source: could not connect"]
    );
}

#[test]
fn a_cluster_report_is_placed_in_the_repository_whose_record_names_its_commit() {
    let mut other = (*rec("backend", "dev", 2, Some(2), Some(20))).clone();
    other.manifest_repo = Some(OTHER.into());
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        Arc::new(other),
        rec("frontend", "dev", 3, Some(3), Some(14)),
    ];
    let mut k = knowledge(&records);
    // east-us reports backend's commit in the other repository: it says nothing of frontend.
    k.cluster_reports = vec![sync("east-us", 20), sync("west-eu", 14)];
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "backend-2").1, names(&["east-us"]));
    assert_eq!(where_(&ds, "frontend-1").1, Vec::<String>::new());
    assert_eq!(where_(&ds, "frontend-3").1, names(&["west-eu"]));
}

#[test]
fn a_cluster_report_no_record_names_is_placed_by_the_one_history_that_holds_it() {
    let mut other = (*rec("backend", "dev", 2, Some(2), Some(20))).clone();
    other.manifest_repo = Some(OTHER.into());
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        Arc::new(other),
    ];
    let history = |k: &mut Knowledge, repo: &str, commits: &[u32]| {
        let key = RepoRef::parse(repo).unwrap().key();
        let commits = commits.iter().map(|&c| sha(c)).collect();
        k.commit_orders.insert(key.into(), Arc::new(commits));
    };
    // east-us runs 15, made by hand after frontend's 10; only the manifests' history has it.
    let mut k = knowledge(&records);
    k.cluster_reports = vec![sync("east-us", 15)];
    history(&mut k, MANIFESTS, &[15, 10]);
    history(&mut k, OTHER, &[20]);
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1").1, names(&["east-us"]));
    assert_eq!(where_(&ds, "backend-2").1, Vec::<String>::new());
    // A mirror's history holds it too: which repository east-us applies is not known.
    history(&mut k, OTHER, &[15, 20]);
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1").1, Vec::<String>::new());
    assert_eq!(where_(&ds, "backend-2").1, Vec::<String>::new());
}

#[test]
fn without_a_change_sequence_records_are_placed_by_time() {
    let strip = |r: Arc<Record>| {
        let mut r = (*r).clone();
        r.sequence = None;
        Arc::new(r)
    };
    let records = vec![
        strip(rec("frontend", "dev", 1, Some(1), Some(10))),
        strip(rec("backend", "dev", 2, Some(2), Some(12))),
        strip(rec("frontend", "dev", 3, Some(3), Some(14))),
    ];
    let mut k = knowledge(&records);
    tags(&mut k, vec![sync("east-us", 12)]);
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1").1, names(&["east-us"]));
    assert_eq!(where_(&ds, "frontend-3").1, Vec::<String>::new());
}

#[test]
fn an_hld_commit_awaiting_approval_is_not_live_until_its_pull_request_is_merged() {
    // frontend/dev 1 waits for approval PR #1 (its HLD commit is on the PR's branch); backend
    // pushes straight to the HLD branch later, and Argo CD renders that.
    let with_pr = |r: Arc<Record>, pr: Option<&str>| {
        let mut r = (*r).clone();
        r.pr = pr.map(Into::into);
        Arc::new(r)
    };
    let records = vec![
        with_pr(rec("frontend", "dev", 0, Some(9), None), None), // earlier, pushed straight
        with_pr(rec("frontend", "dev", 1, Some(1), None), Some("1")),
        with_pr(rec("backend", "dev", 2, Some(2), None), None),
    ];
    let mut k = knowledge(&records);
    source(&mut k, vec![applied("east-us", "dev", HLD, 2, &[])]);
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1"), (vec![], vec![]));
    assert!(find(&ds, "frontend-1").awaiting_approval());
    assert_eq!(find(&ds, "frontend-1").status, Status::Incomplete);
    assert_eq!(
        where_(&ds, "frontend-0").1,
        names(&["east-us"]),
        "a pull request still open replaces nothing"
    );

    // Merged: its commit reached the branch, so the later commit holds it.
    let key = RepoRef::parse(HLD).unwrap().key();
    let pr = spektate_core::PullRequest {
        id: "1".into(),
        title: "Update frontend".into(),
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
        .entry(key.as_str().into())
        .or_default()
        .insert("1".into(), Lookup::Found(Arc::new(pr)));
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1"), (vec![], names(&["east-us"])));
    assert_eq!(find(&ds, "frontend-1").status, Status::Complete);
    assert_eq!(where_(&ds, "frontend-0").1, Vec::<String>::new());
}

/// The default branch of the manifest repository as its provider gives it, newest first.
fn history(k: &mut Knowledge, newest_first: &[u32]) {
    let key = RepoRef::parse(MANIFESTS).unwrap().key();
    k.commit_orders.insert(
        key.as_str().into(),
        Arc::new(newest_first.iter().map(|&c| sha(c)).collect()),
    );
}

#[test]
fn p3_runs_recorded_out_of_order_are_set_right_by_the_repository_history() {
    // frontend-2's p3 pushed 10 before frontend-1's pushed 11, but wrote its record later;
    // backend pushed 12 between them, then 13.
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(11)),
        rec("frontend", "dev", 2, Some(2), Some(10)),
        rec("backend", "dev", 3, Some(3), Some(12)),
        rec("backend", "dev", 4, Some(4), Some(13)),
    ];
    let mut k = knowledge(&records);
    tags(&mut k, vec![sync("east-us", 13), sync("west-eu", 12)]);

    // In the order the records were written, frontend-2 looks like the newer frontend.
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-2").1, names(&["east-us", "west-eu"]));
    assert_eq!(where_(&ds, "frontend-1").1, Vec::<String>::new());

    history(&mut k, &[13, 11, 12, 10]);
    let ds = join(&records, &k);
    assert_eq!(
        where_(&ds, "frontend-1").1,
        names(&["east-us"]),
        "11 came after 10: frontend-1 replaced frontend-2 where 13 runs"
    );
    assert_eq!(
        where_(&ds, "frontend-2").1,
        names(&["west-eu"]),
        "west-eu runs 12, which has 10 and not 11"
    );
    assert_eq!(
        where_(&ds, "backend-3"),
        (names(&["west-eu"]), names(&["west-eu"]))
    );
    assert_eq!(
        where_(&ds, "backend-4"),
        (names(&["east-us"]), names(&["east-us"]))
    );
    let f1 = find(&ds, "frontend-1");
    assert_eq!(
        (f1.live_in[0].commit.as_str(), f1.live_in[0].exact),
        (sha(13).as_str(), false)
    );
}

#[test]
fn a_cluster_on_a_commit_no_record_names_is_placed_by_the_repository_history() {
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(10)),
        rec("backend", "dev", 2, Some(2), Some(12)),
        rec("frontend", "dev", 3, Some(3), Some(14)),
    ];
    let mut k = knowledge(&records);
    // Someone committed 13 to the manifests by hand, and east-us's tag points at it.
    tags(&mut k, vec![sync("east-us", 13)]);
    let ds = join(&records, &k);
    assert!(
        ds.iter().all(|d| d.live_in.is_empty()),
        "without a history, 13 is nowhere"
    );

    // The history holds only the newest commits: 10 is older than it reaches, and keeps the
    // place its record gives it.
    history(&mut k, &[14, 13, 12]);
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1"), (vec![], names(&["east-us"])));
    assert_eq!(where_(&ds, "backend-2"), (vec![], names(&["east-us"])));
    assert_eq!(where_(&ds, "frontend-3"), (vec![], vec![]));
}

#[test]
fn an_hld_commit_the_default_branch_holds_is_on_it_whatever_its_pull_request_says() {
    // frontend-1's approval pull request is not known to be merged, but the HLD repository's
    // default branch holds its commit, before backend's, which Argo CD renders.
    let mut r1 = (*rec("frontend", "dev", 1, Some(1), None)).clone();
    r1.pr = Some("1".into());
    let mut r2 = (*rec("backend", "dev", 2, Some(2), None)).clone();
    r2.pr = None;
    let records = vec![Arc::new(r1), Arc::new(r2)];
    let mut k = knowledge(&records);
    source(&mut k, vec![applied("east-us", "dev", HLD, 2, &[])]);
    assert_eq!(
        where_(&join(&records, &k), "frontend-1").1,
        Vec::<String>::new()
    );
    let key = RepoRef::parse(HLD).unwrap().key();
    k.commit_orders
        .insert(key.as_str().into(), Arc::new(vec![sha(2), sha(1)]));
    let ds = join(&records, &k);
    assert_eq!(where_(&ds, "frontend-1").1, names(&["east-us"]));
    assert_eq!(find(&ds, "frontend-1").status, Status::Complete);
}

#[test]
fn a_cluster_reached_through_both_repositories_is_listed_once_by_its_exact_commit() {
    // frontend-1's HLD commit 1 is in what east-us's HLD application renders (commit 3, after
    // it), and east-us's manifest tag is frontend-1's own manifest commit 2.
    let records = vec![
        rec("frontend", "dev", 1, Some(1), Some(2)),
        rec("backend", "dev", 3, Some(3), None),
    ];
    let mut k = knowledge(&records);
    source(&mut k, vec![applied("east-us", "dev", HLD, 3, &[1])]);
    tags(&mut k, vec![sync("east-us", 2)]);
    let ds = join(&records, &k);
    let live: Vec<(&str, &str, bool)> = find(&ds, "frontend-1")
        .live_in
        .iter()
        .map(|l| (l.cluster.as_str(), l.commit.as_str(), l.exact))
        .collect();
    assert_eq!(live, [("east-us", sha(2).as_str(), true)]);
}
