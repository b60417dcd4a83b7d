//! The Argo CD sync source against a fake Argo CD API server (wiremock) answering
//! `GET /api/v1/applications` with lists shaped like Argo CD's (`v1alpha1ApplicationList`):
//! what each application applied, the request budget, where the token goes, and answers that
//! are malformed, too large or served with a self-signed certificate.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use spektate_argocd::{ArgoCd, Policy, Secret};
use spektate_core::model::cluster::Attempt;
use spektate_core::warnings::collect_notices;
use spektate_core::{Applied, ClusterSync, Outcome, RepoRef, SyncSource};
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MANIFESTS: &str = "https://github.com/fabrikam/manifests.git";
const HLD: &str = "https://github.com/fabrikam/hld";

fn sha(n: u32) -> String {
    format!("{n:08x}{}", "a".repeat(32))
}

/// An application as Argo CD serves it, with the fields Spektate reads and a share of the
/// ones it skips (labels, sync policy, resources, summary, conditions, operation).
fn app(name: &str, destination: Value, source: Value, status: Value) -> Value {
    let mut spec = json!({
        "destination": destination,
        "project": "fabrikam",
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]},
    });
    let key = if source.is_array() {
        "sources"
    } else {
        "source"
    };
    spec[key] = source;
    json!({
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "uid": "94978696-4fd4-40b3-a1de-38d9df9e9316",
            "resourceVersion": "722811357",
            "generation": 263,
            "creationTimestamp": "2026-03-04T21:30:33Z",
            "labels": {"team": "fabrikam"},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": spec,
        "status": status,
    })
}

/// A status: sync status and revision, health, the last operation and the history.
fn status(sync: &str, revision: &str, phase: &str, history: &[(i64, &str)]) -> Value {
    json!({
        "sync": {
            "status": sync,
            "revision": revision,
            "comparedTo": {"source": {"repoURL": MANIFESTS, "path": "dev", "targetRevision": "HEAD"}, "destination": {"name": "east-us", "namespace": "frontend"}},
        },
        "health": {"status": "Healthy", "lastTransitionTime": "2026-11-26T12:01:00Z"},
        "operationState": {
            "operation": {"sync": {"revision": revision, "syncStrategy": {"hook": {}}}, "initiatedBy": {"automated": true}, "retry": {"limit": 5}},
            "phase": phase,
            "message": "successfully synced (all tasks run)",
            "startedAt": "2026-11-26T12:00:00Z",
            "finishedAt": "2026-11-26T12:00:42Z",
            "syncResult": {"revision": revision, "source": {"repoURL": MANIFESTS, "path": "dev"}, "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "frontend", "name": "frontend", "status": "Synced", "message": "deployment.apps/frontend configured", "hookPhase": "Running", "syncPhase": "Sync"}
            ]},
        },
        "history": history.iter().map(|(id, rev)| json!({
            "id": id,
            "revision": rev,
            "deployStartedAt": "2026-11-26T11:00:00Z",
            "deployedAt": format!("2026-11-26T11:{:02}:00Z", id % 60),
            "initiatedBy": {"automated": true},
            "source": {"repoURL": MANIFESTS, "path": "dev", "targetRevision": "HEAD"},
        })).collect::<Vec<_>>(),
        "reconciledAt": "2026-11-26T12:05:00Z",
        "observedAt": "2026-11-26T12:05:00Z",
        "sourceType": "Kustomize",
        "summary": {"images": ["fabrikam.azurecr.io/frontend:frontend-1001"]},
        "resources": [
            {"version": "v1", "kind": "Service", "namespace": "frontend", "name": "frontend", "status": "Synced", "health": {"status": "Healthy"}},
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "frontend", "name": "frontend", "status": "Synced", "health": {"status": "Healthy"}},
        ],
        "conditions": [],
        "controllerNamespace": "argocd",
    })
}

fn list(version: &str, items: Vec<Value>) -> Value {
    json!({"metadata": {"resourceVersion": version}, "items": items})
}

fn git(repo: &str, path: &str) -> Value {
    json!({"repoURL": repo, "path": path, "targetRevision": "HEAD"})
}

async fn serve(server: &MockServer, body: &Value) {
    serve_logged(server, body, false).await;
}

/// Serves a list that is off Argo CD's description on purpose (noted as such in the log).
async fn serve_malformed(server: &MockServer, body: &Value) {
    serve_logged(server, body, true).await;
}

async fn serve_logged(server: &MockServer, body: &Value, malformed: bool) {
    server.reset().await;
    let body = body.clone();
    Mock::given(method("GET"))
        .and(path("/api/v1/applications"))
        .respond_with(move |req: &wiremock::Request| {
            let target = match req.url.query() {
                Some(q) => format!("{}?{q}", req.url.path()),
                None => req.url.path().to_string(),
            };
            common::served(req.method.as_str(), &target, 200, &body, malformed);
            ResponseTemplate::new(200).set_body_json(&body)
        })
        .mount(server)
        .await;
}

fn argo(server: &MockServer) -> ArgoCd {
    ArgoCd::builder(server.uri())
        .token(Secret::new("argo-api-token"))
        .policy(Policy {
            base_delay: std::time::Duration::from_millis(5),
            ..Policy::default()
        })
        .build()
        .unwrap()
}

fn find<'a>(applied: &'a [Applied], app: &str, repo: &str) -> &'a Applied {
    let key = RepoRef::parse(repo).unwrap().key();
    applied
        .iter()
        .find(|a| a.application == format!("argocd/{app}") && a.repo.key() == key)
        .unwrap_or_else(|| panic!("no {app} of {repo} in {applied:#?}"))
}

#[tokio::test]
async fn each_application_says_which_commit_it_applied_in_which_cluster() {
    let server = MockServer::start().await;
    let mut multi_status = status("Synced", "", "Succeeded", &[]);
    multi_status["sync"]["revisions"] = json!([sha(7), "1.4.2", sha(8)]);
    multi_status["history"] = json!([
        {"id": 3, "revisions": [sha(5), "1.4.1", sha(6)], "deployedAt": "2026-11-26T10:00:00Z"},
        {"id": 4, "revisions": [sha(7), "1.4.2", sha(8)], "deployedAt": "2026-11-26T10:30:00Z"},
    ]);
    let body = list(
        "41",
        vec![
            // Synced: the compared revision is what runs.
            app(
                "frontend-dev",
                json!({"name": "east-us", "namespace": "frontend"}),
                git(MANIFESTS, "dev"),
                status(
                    "Synced",
                    &sha(3),
                    "Succeeded",
                    &[(1, &sha(1)), (2, &sha(3))],
                ),
            ),
            // Out of sync after a failed sync: the last successful one (history) runs.
            app(
                "frontend-prod",
                json!({"server": "https://kubernetes.default.svc", "namespace": "frontend"}),
                git(MANIFESTS, "prod"),
                status(
                    "OutOfSync",
                    &sha(9),
                    "Failed",
                    &[(6, &sha(2)), (7, &sha(1))],
                ),
            ),
            // Multi-source: the HLD repository rendered by Argo CD, a Helm chart, a values repo.
            app(
                "backend",
                json!({"server": "https://aks-west.hcp.westeurope.azmk8s.io:443/", "namespace": "backend"}),
                json!([
                    {"repoURL": HLD, "path": "backend", "targetRevision": "main"},
                    {"repoURL": "https://charts.bitnami.com/bitnami", "chart": "redis", "targetRevision": "1.4.2"},
                    {"repoURL": "git@github.com:fabrikam/values.git", "ref": "values"},
                ]),
                multi_status,
            ),
            // Only a Helm chart: no commit to follow.
            app(
                "redis",
                json!({"name": "east-us"}),
                json!({"repoURL": "https://charts.bitnami.com/bitnami", "chart": "redis", "targetRevision": "1.4.2"}),
                status("Synced", "1.4.2", "Succeeded", &[]),
            ),
            // Never synced yet, nor any operation: nothing applied.
            app(
                "new",
                json!({"name": "east-us"}),
                git(MANIFESTS, "new"),
                status("OutOfSync", &sha(11), "Running", &[]),
            ),
            // No destination: no cluster to name.
            app(
                "lost",
                json!({}),
                git(MANIFESTS, "lost"),
                status("Synced", &sha(12), "Succeeded", &[]),
            ),
        ],
    );
    serve(&server, &body).await;
    let applied = argo(&server).applied().await.unwrap();

    let dev = find(&applied, "frontend-dev", MANIFESTS);
    assert_eq!(
        dev.sync,
        ClusterSync {
            cluster: "east-us".into(),
            commit: sha(3),
            synced_at: Some("2026-11-26T12:00:42Z".parse().unwrap()),
            tagger: Some("argocd frontend-dev".into()),
        }
    );
    assert_eq!(
        dev.history,
        [sha(1)],
        "earlier commits, the current one left out"
    );
    assert_eq!(
        (
            dev.sync_status.as_deref(),
            dev.health.as_deref(),
            dev.phase.as_deref()
        ),
        (Some("Synced"), Some("Healthy"), Some("Succeeded"))
    );

    let prod = find(&applied, "frontend-prod", MANIFESTS);
    assert_eq!(prod.cluster(), "in-cluster");
    assert_eq!(prod.commit(), sha(1), "the newest successful sync, by id");
    assert_eq!(
        prod.sync.synced_at,
        Some("2026-11-26T11:07:00Z".parse().unwrap())
    );
    assert_eq!(prod.history, [sha(2)]);
    assert_eq!(
        prod.phase, None,
        "the failed sync was not of the running commit"
    );
    assert_eq!(
        prod.attempted,
        Some(Attempt {
            commit: sha(9),
            phase: Some("Failed".into()),
            finished_at: Some("2026-11-26T12:00:42Z".parse().unwrap()),
        })
    );
    let troubles = prod.troubles();
    assert_eq!(troubles.len(), 1, "the running commit is healthy");
    let failed = &troubles[0];
    assert_eq!(
        (failed.commit(), failed.outcome, failed.trouble_text()),
        (
            sha(9).as_str(),
            Outcome::Failed,
            "in-cluster failed (SyncFailed)".into()
        ),
        "reported against the commit it tried"
    );
    assert!(
        applied
            .iter()
            .flat_map(Applied::troubles)
            .all(|t| t.commit() != sha(1)),
        "the running commit shows no trouble"
    );

    let hld = find(&applied, "backend", HLD);
    assert_eq!(hld.cluster(), "aks-west.hcp.westeurope.azmk8s.io:443");
    assert_eq!(hld.commit(), sha(7));
    assert_eq!(hld.history, [sha(5)]);
    assert_eq!(
        hld.sync.synced_at,
        Some("2026-11-26T10:30:00Z".parse().unwrap()),
        "the operation synced another revision: the history says when this one was"
    );
    let values = find(&applied, "backend", "https://github.com/fabrikam/values");
    assert_eq!(values.commit(), sha(8));

    let mut names: Vec<&str> = applied.iter().map(|a| a.application.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        [
            "argocd/backend",
            "argocd/frontend-dev",
            "argocd/frontend-prod"
        ]
    );
    assert_eq!(applied.len(), 4, "backend's chart source is not a commit");

    let got = server.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].headers.get("authorization").unwrap(),
        "Bearer argo-api-token"
    );
}

/// A failed or errored sync shows against the commit it tried, per source: its result's
/// revision(s), else the one(s) it was asked to sync. A source it left as it was, and the
/// commits that run, show no trouble.
#[tokio::test]
async fn a_failed_sync_is_reported_against_the_commit_it_tried() {
    let server = MockServer::start().await;
    // Multi-source: the HLD source moved to sha(21) and failed; the values source stayed.
    let mut multi = status("OutOfSync", "", "Failed", &[]);
    multi["sync"]["revisions"] = json!([sha(21), "1.4.2", sha(8)]);
    multi["history"] = json!([
        {"id": 4, "revisions": [sha(7), "1.4.2", sha(8)], "deployedAt": "2026-11-26T10:30:00Z"},
    ]);
    multi["operationState"]["operation"]["sync"] = json!({"revisions": [sha(21), "1.4.2", sha(8)]});
    multi["operationState"]["syncResult"] = json!({"revisions": [sha(21), "1.4.2", sha(8)]});
    // An error before the sync resolved anything: only the operation names the revision.
    let mut errored = status("OutOfSync", &sha(31), "Error", &[(1, &sha(30))]);
    errored["operationState"]
        .as_object_mut()
        .unwrap()
        .remove("syncResult");
    // A multi-source sync of what runs that failed (a hook): its failure is of what runs.
    let mut resynced = status("Synced", "", "Failed", &[]);
    resynced["sync"]["revisions"] = json!([sha(41), sha(42)]);
    resynced["operationState"]["syncResult"] = json!({"revisions": [sha(41), sha(42)]});
    serve(
        &server,
        &list(
            "1",
            vec![
                app(
                    "backend",
                    json!({"name": "west-eu"}),
                    json!([
                        git(HLD, "backend"),
                        {"repoURL": "https://charts.bitnami.com/bitnami", "chart": "redis", "targetRevision": "1.4.2"},
                        {"repoURL": "https://github.com/fabrikam/values", "ref": "values"},
                    ]),
                    multi,
                ),
                app("qa", json!({"name": "east-us"}), git(MANIFESTS, "qa"), errored),
                app(
                    "stage",
                    json!({"name": "east-us"}),
                    json!([git(MANIFESTS, "stage"), git(HLD, "stage")]),
                    resynced,
                ),
            ],
        ),
    )
    .await;
    let applied = argo(&server).applied().await.unwrap();
    let troubles = |a: &Applied| -> Vec<(String, String)> {
        a.troubles()
            .iter()
            .map(|t| (t.commit().to_string(), t.trouble_text()))
            .collect()
    };

    let hld = find(&applied, "backend", HLD);
    assert_eq!(
        (hld.commit(), hld.phase.as_deref()),
        (sha(7).as_str(), None)
    );
    assert_eq!(
        hld.attempted
            .as_ref()
            .map(|a| (a.commit.as_str(), a.phase.as_deref())),
        Some((sha(21).as_str(), Some("Failed")))
    );
    assert_eq!(
        troubles(hld),
        [(sha(21), "west-eu failed (SyncFailed)".into())]
    );
    let values = find(&applied, "backend", "https://github.com/fabrikam/values");
    assert_eq!(values.commit(), sha(8));
    assert_eq!(
        (values.phase.as_deref(), &values.attempted, troubles(values)),
        (None, &None, Vec::new()),
        "the sync left this source as it was"
    );

    let qa = find(&applied, "qa", MANIFESTS);
    assert_eq!((qa.commit(), qa.phase.as_deref()), (sha(30).as_str(), None));
    assert_eq!(
        troubles(qa),
        [(sha(31), "east-us failed (SyncError)".into())]
    );

    for (repo, commit) in [(MANIFESTS, sha(41)), (HLD, sha(42))] {
        let stage = find(&applied, "stage", repo);
        assert_eq!(
            (stage.commit(), stage.phase.as_deref(), &stage.attempted),
            (commit.as_str(), Some("Failed"), &None)
        );
        assert_eq!(
            troubles(stage),
            [(commit, "east-us failed (SyncFailed)".into())]
        );
    }
}

/// A failed sync of commit B does not hide the health of commit A the cluster still runs:
/// each is reported against its commit, and each deployment shows its own.
#[tokio::test]
async fn a_failed_sync_and_a_degraded_running_commit_are_both_reported() {
    use spektate_core::{
        Filter, ManifestCommitted, ManifestGenerated, MemoryStore, MetadataUpdated, Recorder,
        RunReported, RunResult, RunStatus, Tracker,
    };
    let (a, b) = (sha(201), sha(202));
    let store = Arc::new(MemoryStore::new());
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    for (n, manifest) in [(1, &a), (2, &b)] {
        rec.metadata_updated(&MetadataUpdated {
            p2: format!("2{n}"),
            image_tag: format!("frontend-{n}"),
            hld_commit_id: sha(100 + n),
            env: "prod".into(),
            pr: None,
            repository: Some(HLD.into()),
            service: Some("fabrikam/frontend".into()),
        })
        .await
        .unwrap();
        rec.manifest_generated(&ManifestGenerated {
            p3: format!("3{n}"),
            hld_commit_id: sha(100 + n),
            manifest_commit_id: None,
            pr: None,
            repository: Some(MANIFESTS.into()),
        })
        .await
        .unwrap();
        rec.manifest_committed(&ManifestCommitted {
            p3: format!("3{n}"),
            manifest_commit_id: manifest.clone(),
            repository: Some(MANIFESTS.into()),
        })
        .await
        .unwrap();
        for id in [format!("2{n}"), format!("3{n}")] {
            let mut done = RunReported::new(&id, RunStatus::Completed);
            done.result = Some(RunResult::Succeeded);
            rec.run_reported(&done).await.unwrap();
        }
    }
    let server = MockServer::start().await;
    let mut degraded = status("OutOfSync", &b, "Failed", &[(1, &a)]);
    degraded["health"]["status"] = json!("Degraded");
    serve(
        &server,
        &list(
            "1",
            vec![app(
                "prod",
                json!({"name": "east-us"}),
                git(MANIFESTS, "prod"),
                degraded,
            )],
        ),
    )
    .await;
    let argo = argo(&server);
    let applied = argo.applied().await.unwrap();
    let prod = find(&applied, "prod", MANIFESTS);
    assert_eq!(prod.commit(), a);
    let troubles: Vec<(String, String)> = prod
        .troubles()
        .iter()
        .map(|t| (t.commit().to_string(), t.trouble_text()))
        .collect();
    assert_eq!(
        troubles,
        [
            (b.clone(), "east-us failed (SyncFailed)".into()),
            (a.clone(), "east-us Degraded".into()),
        ]
    );

    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .sync_source(Arc::new(argo))
        .build();
    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    let shown = |tag: &str| {
        let d = ds.iter().find(|d| d.image_tag() == Some(tag)).unwrap();
        d.cluster_troubles
            .iter()
            .map(|t| (t.commit().to_string(), t.trouble_text()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shown("frontend-1"),
        [(a.clone(), "east-us Degraded".into())],
        "the running commit's deployment shows its health"
    );
    assert_eq!(
        shown("frontend-2"),
        [(b.clone(), "east-us failed (SyncFailed)".into())],
        "the tried commit's deployment shows the failed sync"
    );
}

#[tokio::test]
async fn an_application_that_cannot_be_read_is_left_out_and_the_rest_kept() {
    let server = MockServer::start().await;
    let mut broken = app(
        "broken",
        json!({"name": "east-us"}),
        git(MANIFESTS, "x"),
        status("Synced", &sha(1), "Succeeded", &[]),
    );
    broken["status"]["history"] = json!({"id": "not a list"});
    let fine = app(
        "fine",
        json!({"name": "east-us"}),
        git(MANIFESTS, "y"),
        status("Synced", &sha(2), "Succeeded", &[]),
    );
    serve_malformed(&server, &list("1", vec![broken, fine])).await;
    let (applied, notices) = collect_notices(argo(&server).applied()).await;
    let applied = applied.unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].application, "argocd/fine");
    let lines: Vec<String> = notices.iter().map(|n| n.to_string()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("argocd 127.0.0.1:")
            && lines[0].contains("applications of 1 sync source: applications that could not be read were left out (invalid type"),
        "{lines:?}"
    );
}

/// Argo CD sets no limit on an application's sources or history. One with 100 git sources
/// and a history of 1,000 syncs is read as its first 64 sources, each at its newest sync
/// with the 20 before it, from the newest 100 entries alone.
#[tokio::test]
async fn a_huge_application_is_read_as_its_first_sources_and_newest_history() {
    let server = MockServer::start().await;
    let repo = |i: u32| format!("https://github.com/fabrikam/manifests-{i}");
    let sources: Vec<Value> = (0..100).map(|i| git(&repo(i), "dev")).collect();
    let mut st = status("OutOfSync", "", "Failed", &[]);
    st["history"] = (0..1000u32)
        .map(|h| {
            json!({
                "id": h,
                "revisions": (0..100).map(|i| sha(h * 1000 + i)).collect::<Vec<_>>(),
                "deployedAt": "2026-11-26T11:00:00Z",
            })
        })
        .collect();
    serve(
        &server,
        &list(
            "1",
            vec![app("huge", json!({"name": "east-us"}), json!(sources), st)],
        ),
    )
    .await;
    let applied = argo(&server).applied().await.unwrap();
    assert_eq!(applied.len(), 64, "the first 64 sources");
    for i in [0, 63] {
        let a = find(&applied, "huge", &repo(i));
        assert_eq!(a.sync.commit, sha(999 * 1000 + i), "source {i}");
        let earlier: Vec<String> = (979..999).rev().map(|h| sha(h * 1000 + i)).collect();
        assert_eq!(a.history, earlier, "source {i}");
    }
}

#[tokio::test]
async fn a_tracker_shows_where_each_deployment_runs_from_one_request_per_refresh() {
    use spektate_core::{
        Filter, ManifestCommitted, ManifestGenerated, MemoryStore, MetadataUpdated, Recorder,
        RunReported, RunResult, RunStatus, Status, Tracker,
    };
    let store = Arc::new(MemoryStore::new());
    let rec = Recorder::new(store.clone(), "fabrikam").unwrap();
    let done = |id: &str| {
        let mut r = RunReported::new(id, RunStatus::Completed);
        r.result = Some(RunResult::Succeeded);
        r
    };
    // frontend-1 and backend-2 through the manifest pipeline; frontend-3 (prod) rendered by
    // Argo CD straight from the HLD repository.
    for (n, service, ring, p3) in [
        (1, "frontend", "dev", true),
        (2, "backend", "dev", true),
        (3, "frontend", "prod", false),
    ] {
        rec.metadata_updated(&MetadataUpdated {
            p2: format!("2{n}"),
            image_tag: format!("{service}-{n}"),
            hld_commit_id: sha(100 + n),
            env: ring.into(),
            pr: None,
            repository: Some(HLD.into()),
            service: Some(format!("fabrikam/{service}")),
        })
        .await
        .unwrap();
        rec.run_reported(&done(&format!("2{n}"))).await.unwrap();
        if p3 {
            rec.manifest_generated(&ManifestGenerated {
                p3: format!("3{n}"),
                hld_commit_id: sha(100 + n),
                manifest_commit_id: None,
                pr: None,
                repository: Some(MANIFESTS.into()),
            })
            .await
            .unwrap();
            rec.manifest_committed(&ManifestCommitted {
                p3: format!("3{n}"),
                manifest_commit_id: sha(200 + n),
                repository: Some(MANIFESTS.into()),
            })
            .await
            .unwrap();
            rec.run_reported(&done(&format!("3{n}"))).await.unwrap();
        }
    }
    let server = MockServer::start().await;
    serve(
        &server,
        &list(
            "7",
            vec![
                app(
                    "dev",
                    json!({"name": "east-us"}),
                    git(MANIFESTS, "dev"),
                    status("Synced", &sha(202), "Succeeded", &[(1, &sha(201))]),
                ),
                app(
                    "prod",
                    json!({"name": "west-eu"}),
                    git(HLD, "prod"),
                    status("Synced", &sha(103), "Succeeded", &[]),
                ),
            ],
        ),
    )
    .await;
    let argo = argo(&server);
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .sync_source(Arc::new(argo.clone()))
        .build();
    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    let row = |tag: &str| {
        let d = ds.iter().find(|d| d.image_tag() == Some(tag)).unwrap();
        let names = |v: Vec<&str>| v.join(",");
        (
            names(d.clusters.iter().map(|c| c.cluster.as_str()).collect()),
            names(d.live_in.iter().map(|l| l.cluster.as_str()).collect()),
            d.status,
        )
    };
    assert_eq!(
        row("backend-2"),
        ("east-us".into(), "east-us,west-eu".into(), Status::Complete)
    );
    assert_eq!(
        row("frontend-1"),
        ("".into(), "east-us,west-eu".into(), Status::Complete)
    );
    assert_eq!(
        row("frontend-3"),
        ("west-eu".into(), "west-eu".into(), Status::Complete)
    );
    let joined = tracker.snapshot().deployments.clone();
    for n in 2..=3 {
        tracker.refresh().await.unwrap();
        assert_eq!(argo.stats().requests, n, "one request per refresh");
        assert!(
            Arc::ptr_eq(&joined, &tracker.snapshot().deployments),
            "nothing changed, nothing joined again"
        );
    }
}

#[tokio::test]
async fn a_thousand_applications_cost_one_request_and_nothing_when_unchanged() {
    let server = MockServer::start().await;
    let clusters = ["east-us", "west-eu", "central-in", "south-br"];
    let items: Vec<Value> = (0..1000u32)
        .map(|i| {
            let (repo, history) = if i % 10 == 0 {
                (HLD, 7)
            } else {
                (MANIFESTS, 4)
            };
            let past: Vec<(i64, String)> =
                (0..history).map(|h| (h as i64, sha(i * 100 + h))).collect();
            let past: Vec<(i64, &str)> = past.iter().map(|(id, s)| (*id, s.as_str())).collect();
            app(
                &format!("service-{i}"),
                json!({"name": clusters[i as usize % clusters.len()]}),
                git(repo, &format!("service-{i}")),
                status("Synced", &sha(i * 100 + 99), "Succeeded", &past),
            )
        })
        .collect();
    let body = list("1000", items.clone());
    serve(&server, &body).await;
    let argo = argo(&server);

    let first = argo.applied().await.unwrap();
    assert_eq!(first.len(), 1000);
    assert_eq!(first.iter().filter(|a| a.repo.name == "hld").count(), 100);
    let s42 = first
        .iter()
        .find(|a| a.application == "argocd/service-42")
        .unwrap();
    assert_eq!(
        (s42.cluster(), s42.commit()),
        ("central-in", sha(4299).as_str())
    );
    assert_eq!(s42.history.len(), 4);
    assert_eq!(
        argo.stats().requests,
        1,
        "one list call for a thousand applications"
    );

    // The same resource version: nothing read again, the same answer handed back.
    let second = argo.applied().await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!((argo.stats().requests, argo.stats().unchanged), (2, 1));

    // A new resource version for the same applications (Argo CD's reconciliation moved
    // reconciledAt): read, found equal, the same answer handed back.
    serve(&server, &list("1001", items.clone())).await;
    let third = argo.applied().await.unwrap();
    assert!(Arc::ptr_eq(&first, &third));

    // An ETag (a caching proxy in front of Argo CD): the next request revalidates, and a 304
    // costs no body.
    server.reset().await;
    Mock::given(method("GET"))
        .and(header("if-none-match", "\"list-v2\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"list-v2\"")
                .set_body_json(list("1002", items)),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let fourth = argo.applied().await.unwrap();
    let fifth = argo.applied().await.unwrap();
    assert!(Arc::ptr_eq(&first, &fourth) && Arc::ptr_eq(&first, &fifth));
    let stats = argo.stats();
    assert_eq!((stats.requests, stats.not_modified), (5, 1));
    let got = server.received_requests().await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(!got[0].headers.contains_key("if-none-match"));
    assert_eq!(got[1].headers.get("if-none-match").unwrap(), "\"list-v2\"");

    // Something changed: a new answer.
    let mut changed: Vec<Value> = (0..3u32)
        .map(|i| {
            app(
                &format!("service-{i}"),
                json!({"name": "east-us"}),
                git(MANIFESTS, "x"),
                status("Synced", &sha(5000 + i), "Succeeded", &[]),
            )
        })
        .collect();
    changed.truncate(3);
    serve(&server, &list("1003", changed)).await;
    let sixth = argo.applied().await.unwrap();
    assert_eq!(sixth.len(), 3);
    assert!(!Arc::ptr_eq(&first, &sixth));
}

#[tokio::test]
async fn trackers_asking_at_the_same_time_share_one_request() {
    let server = MockServer::start().await;
    let body = list(
        "1",
        vec![app(
            "a",
            json!({"name": "east-us"}),
            git(MANIFESTS, "a"),
            status("Synced", &sha(1), "Succeeded", &[]),
        )],
    );
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(&body)
                .set_delay(std::time::Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    let argo = argo(&server);
    let clone = argo.clone();
    let (a, b, c) = tokio::join!(argo.applied(), argo.applied(), clone.applied());
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert!(Arc::ptr_eq(&a, &b) && Arc::ptr_eq(&a, &c));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    // Asked again later: a request of its own.
    argo.applied().await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_token_goes_only_to_the_configured_url() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list("1", vec![])))
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("{}/api/v1/applications", elsewhere.uri()).as_str(),
        ))
        .mount(&server)
        .await;
    let e = argo(&server).applied().await.unwrap_err().to_string();
    assert!(
        e.contains("HTTP 307") && e.contains("the token goes only to the URL given"),
        "{e}"
    );
    assert!(!e.contains("argo-api-token"), "{e}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_error_that_does_not_show_it() {
    let server = MockServer::start().await;
    Mock::given(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid session: token is expired", "code": 16, "message": "invalid session: token is expired"})))
        .mount(&server)
        .await;
    let e = argo(&server).applied().await.unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, spektate_core::Error::Provider { auth: true, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("argocd 127.0.0.1")
            && msg.contains("token was rejected")
            && msg.contains("token is expired"),
        "{msg}"
    );
    assert!(!msg.contains("argo-api-token"));
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_is_an_error_and_no_list_is_empty() {
    let server = MockServer::start().await;
    let big: Vec<Value> = (0..200u32)
        .map(|i| {
            app(
                &format!("a{i}"),
                json!({"name": "east-us"}),
                git(MANIFESTS, "x"),
                status("Synced", &sha(i), "Succeeded", &[]),
            )
        })
        .collect();
    serve(&server, &list("1", big)).await;
    let small = ArgoCd::builder(server.uri())
        .policy(Policy {
            max_body_bytes: 64 * 1024,
            ..Policy::default()
        })
        .build()
        .unwrap();
    let e = small.applied().await.unwrap_err().to_string();
    assert!(e.contains("65536 bytes"), "{e}");

    for body in [
        json!({"metadata": {"resourceVersion": "5"}, "items": null}),
        json!({}),
    ] {
        serve(&server, &body).await;
        assert!(argo(&server).applied().await.unwrap().is_empty(), "{body}");
    }
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>Argo CD</html>"))
        .mount(&server)
        .await;
    let e = argo(&server).applied().await.unwrap_err().to_string();
    assert!(e.contains("malformed response body"), "{e}");
}

#[tokio::test]
async fn check_says_how_many_applications_and_clusters_the_token_reads() {
    let server = MockServer::start().await;
    serve(
        &server,
        &list(
            "1",
            vec![
                app(
                    "a",
                    json!({"name": "east-us"}),
                    git(MANIFESTS, "a"),
                    status("Synced", &sha(1), "Succeeded", &[]),
                ),
                app(
                    "b",
                    json!({"name": "west-eu"}),
                    git(MANIFESTS, "b"),
                    status("Synced", &sha(1), "Succeeded", &[]),
                ),
            ],
        ),
    )
    .await;
    assert_eq!(
        argo(&server).check().await.unwrap().as_deref(),
        Some("2 applications with a git source in 2 clusters")
    );
    serve(&server, &list("2", vec![])).await;
    let none = argo(&server).check().await.unwrap().unwrap();
    assert!(
        none.contains("no application") && none.contains("project roles"),
        "{none}"
    );
}

/// A server that answers one request over TLS with a self-signed certificate for
/// `localhost` and 127.0.0.1 (`tests/fixtures/self-signed.crt`, a test fixture only).
async fn self_signed_server(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{ServerConfig, crypto::aws_lc_rs};

    let cert = CertificateDer::from_pem_slice(include_bytes!("fixtures/self-signed.crt")).unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("fixtures/self-signed.key")).unwrap();
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{}", addr.port())
}

#[tokio::test]
async fn a_self_signed_certificate_is_accepted_only_when_asked() {
    let body = list(
        "1",
        vec![app(
            "a",
            json!({"name": "east-us"}),
            git(MANIFESTS, "a"),
            status("Synced", &sha(1), "Succeeded", &[]),
        )],
    );
    let url = self_signed_server(body.to_string()).await;
    let fast = Policy {
        max_retries: 0,
        ..Policy::default()
    };
    let strict = ArgoCd::builder(&url).policy(fast.clone()).build().unwrap();
    assert!(
        strict.applied().await.is_err(),
        "a self-signed certificate was trusted"
    );
    let insecure = ArgoCd::builder(&url)
        .insecure(true)
        .policy(fast)
        .build()
        .unwrap();
    let applied = insecure.applied().await.unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].cluster(), "east-us");
}
