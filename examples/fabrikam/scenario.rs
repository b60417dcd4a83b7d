//! The Fabrikam scenario from the talk: two services, three rings, several authors, an
//! approval pull request merged by someone else, and three clusters: `east-us`, whose hook
//! reports with `spektate record sync`; `west-eu`, where Flux v2's notification-controller
//! sends its events; and `central-us`, where Argo CD Notifications sends its template's JSON.
//!
//! Each step records what a pipeline (or a person, or a cluster) does at that moment: the
//! pipelines through the same `Recorder` calls the `spektate record` command makes, the Flux
//! and Argo CD clusters through the same parsers and store call as `spektate serve`'s
//! `/api/flux/{cluster}` and `/api/argocd` hooks, with bodies shaped as those agents send them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use spektate::ingest::argocd::ArgoCdNotification;
use spektate::ingest::flux::{FluxEvent, Reading};
use spektate::{
    Author, ClusterReport, ClusterSync, ImageBuilt, ManifestCommitted, ManifestGenerated,
    MetadataUpdated, PullRequest, Recorder, RepoRef, Repositories, Result, RunReported, RunResult,
    RunStatus, async_trait,
};

pub const FRONTEND: &str = "https://github.com/fabrikam/frontend";
pub const BACKEND: &str = "https://github.com/fabrikam/backend";
pub const HLD: &str = "https://github.com/fabrikam/hld";
pub const MANIFESTS: &str = "https://github.com/fabrikam/manifests";
/// The manifest commit of the frontend's dev ring.
pub const DEV_MANIFESTS: &str = "e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0";
/// The manifest commit of the backend's securitybugfix ring, a later commit of the same
/// manifest repository.
pub const BACKEND_MANIFESTS: &str = "2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";

/// One moment of the scenario.
pub struct Step {
    /// What happens, as the table's caption.
    pub title: &'static str,
    /// What gets recorded.
    pub actions: Vec<Action>,
}

/// A pipeline, person or cluster doing something.
pub enum Action {
    Image {
        p1: &'static str,
        service: &'static str,
        tag: &'static str,
        commit: &'static str,
        repo: &'static str,
    },
    Metadata {
        p2: &'static str,
        tag: &'static str,
        hld: &'static str,
        ring: &'static str,
        pr: &'static str,
    },
    Manifest {
        p3: &'static str,
        hld: &'static str,
        pr: Option<&'static str>,
    },
    Committed {
        p3: &'static str,
        manifest: &'static str,
    },
    Run {
        id: &'static str,
        status: RunStatus,
        result: Option<RunResult>,
        minutes: i64,
    },
    Merge {
        pr: &'static str,
        by: &'static str,
    },
    /// A cluster's hook reports the manifest commit it runs (`spektate record sync`).
    Sync {
        cluster: &'static str,
        commit: &'static str,
    },
    /// Flux v2's notification-controller sends a Kustomization's event.
    Flux {
        cluster: &'static str,
        severity: &'static str,
        reason: &'static str,
        message: &'static str,
        commit: &'static str,
        minutes: i64,
    },
    /// Argo CD Notifications sends an application's state after a sync.
    ArgoCd {
        cluster: &'static str,
        application: &'static str,
        revision: &'static str,
        health: &'static str,
        phase: &'static str,
        message: &'static str,
        minutes: i64,
    },
}

use Action::*;

/// The scenario, in order.
pub fn steps() -> Vec<Step> {
    vec![
        Step {
            title: "Alice pushes a frontend change; the image pipeline starts",
            actions: vec![
                Image {
                    p1: "1001",
                    service: "fabrikam/frontend",
                    tag: "frontend-1001",
                    commit: "a3f9c2e71b0d4c5e8f6a7b8c9d0e1f2a3b4c5d6e",
                    repo: FRONTEND,
                },
                Run {
                    id: "1001",
                    status: RunStatus::InProgress,
                    result: None,
                    minutes: 0,
                },
            ],
        },
        Step {
            title: "Bob pushes a backend fix; both images build",
            actions: vec![
                Image {
                    p1: "2001",
                    service: "fabrikam/backend",
                    tag: "backend-2001",
                    commit: "b7e1d4a09c3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d",
                    repo: BACKEND,
                },
                Run {
                    id: "2001",
                    status: RunStatus::InProgress,
                    result: None,
                    minutes: 1,
                },
            ],
        },
        Step {
            title: "The frontend image is pushed; the metadata pipeline opens approval PR #41 for ring dev",
            actions: vec![
                Run {
                    id: "1001",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Succeeded),
                    minutes: 4,
                },
                Metadata {
                    p2: "3001",
                    tag: "frontend-1001",
                    hld: "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0",
                    ring: "dev",
                    pr: "41",
                },
                Run {
                    id: "3001",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Succeeded),
                    minutes: 5,
                },
            ],
        },
        Step {
            title: "The backend image is pushed; its metadata goes to ring securitybugfix (PR #42)",
            actions: vec![
                Run {
                    id: "2001",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Succeeded),
                    minutes: 6,
                },
                Metadata {
                    p2: "3002",
                    tag: "backend-2001",
                    hld: "d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3",
                    ring: "securitybugfix",
                    pr: "42",
                },
                Run {
                    id: "3002",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Succeeded),
                    minutes: 7,
                },
            ],
        },
        Step {
            title: "Carol approves and merges PR #41; the manifest pipeline renders the dev ring",
            actions: vec![
                Merge {
                    pr: "41",
                    by: "carol",
                },
                Manifest {
                    p3: "5001",
                    hld: "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0",
                    pr: Some("41"),
                },
                Run {
                    id: "5001",
                    status: RunStatus::InProgress,
                    result: None,
                    minutes: 9,
                },
            ],
        },
        Step {
            title: "The dev manifests are pushed",
            actions: vec![
                Committed {
                    p3: "5001",
                    manifest: DEV_MANIFESTS,
                },
                Run {
                    id: "5001",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Succeeded),
                    minutes: 11,
                },
            ],
        },
        Step {
            title: "The clusters apply them (east-us's hook, Flux v2 in west-eu, Argo CD in central-us, whose notification is held up): frontend-1001 is live in dev",
            actions: vec![
                Sync {
                    cluster: "east-us",
                    commit: "e9f8a7b",
                },
                Flux {
                    cluster: "west-eu",
                    severity: "info",
                    reason: "ReconciliationSucceeded",
                    message: "Reconciliation finished in 1.843s, next run in 10m0s",
                    commit: DEV_MANIFESTS,
                    minutes: 12,
                },
            ],
        },
        Step {
            title: "The same frontend image goes to ring master; Carol merges PR #43 but the manifest pipeline fails",
            actions: vec![
                Metadata {
                    p2: "3003",
                    tag: "frontend-1001",
                    hld: "f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d",
                    ring: "master",
                    pr: "43",
                },
                Run {
                    id: "3003",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Succeeded),
                    minutes: 14,
                },
                Merge {
                    pr: "43",
                    by: "carol",
                },
                Manifest {
                    p3: "5002",
                    hld: "f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d",
                    pr: Some("43"),
                },
                Run {
                    id: "5002",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Failed),
                    minutes: 16,
                },
            ],
        },
        Step {
            title: "Dave edits the HLD by hand; the manifest pipeline renders it",
            actions: vec![
                Manifest {
                    p3: "5003",
                    hld: "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b",
                    pr: None,
                },
                Run {
                    id: "5003",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Succeeded),
                    minutes: 18,
                },
                Committed {
                    p3: "5003",
                    manifest: "1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c",
                },
            ],
        },
        Step {
            title: "Erin merges the backend PR #42; its manifests are pushed, east-us and central-us sync them (then central-us's late notification of the dev sync arrives), west-eu fails its health check on them: frontend-1001 stays live in all three",
            actions: vec![
                Merge {
                    pr: "42",
                    by: "erin",
                },
                Manifest {
                    p3: "5004",
                    hld: "d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3",
                    pr: Some("42"),
                },
                Run {
                    id: "5004",
                    status: RunStatus::Completed,
                    result: Some(RunResult::Succeeded),
                    minutes: 21,
                },
                Committed {
                    p3: "5004",
                    manifest: BACKEND_MANIFESTS,
                },
                Sync {
                    cluster: "east-us",
                    commit: BACKEND_MANIFESTS,
                },
                ArgoCd {
                    cluster: "central-us",
                    application: "argocd/fabrikam-central-us",
                    revision: BACKEND_MANIFESTS,
                    health: "Healthy",
                    phase: "Succeeded",
                    message: "successfully synced (all tasks run)",
                    minutes: 22,
                },
                // Argo CD Notifications' message about the dev sync (minute 12) arrives late:
                // it goes into central-us's history in its place by time, and the cluster
                // stays on the backend's commit.
                ArgoCd {
                    cluster: "central-us",
                    application: "argocd/fabrikam-central-us",
                    revision: DEV_MANIFESTS,
                    health: "Healthy",
                    phase: "Succeeded",
                    message: "successfully synced (all tasks run)",
                    minutes: 12,
                },
                Flux {
                    cluster: "west-eu",
                    severity: "error",
                    reason: "HealthCheckFailed",
                    message: "health check failed after 5m0s: timeout waiting for: [Deployment/securitybugfix/backend status: 'InProgress']",
                    commit: BACKEND_MANIFESTS,
                    minutes: 22,
                },
            ],
        },
    ]
}

/// Who wrote which commit, and the approval pull requests: what GitHub would answer.
/// It serves the `fabrikam` repositories with no network.
#[derive(Default)]
pub struct FabrikamRepos {
    pulls: Mutex<HashMap<String, PullRequest>>,
}

fn person(login: &str) -> Author {
    let name = format!("{}{}", login[..1].to_uppercase(), &login[1..]);
    Author {
        name,
        email: Some(format!("{login}@fabrikam.com")),
        login: Some(login.to_string()),
        avatar_url: None,
        url: Some(format!("https://github.com/{login}")),
        committed_at: None,
    }
}

impl FabrikamRepos {
    fn open(&self, id: &str, title: &str, ring: &str) {
        let pr = PullRequest {
            id: id.to_string(),
            title: title.to_string(),
            description: Some(format!("Automated update of ring {ring}")),
            source_branch: Some(format!("deploy/{ring}-{id}")),
            target_branch: Some(ring.to_string()),
            merged: false,
            merged_by: None,
            merged_at: None,
            closed: false,
            url: Some(
                RepoRef::parse(HLD)
                    .map(|r| r.pull_request_url(id))
                    .unwrap_or_default(),
            ),
        };
        self.pulls.lock().unwrap().insert(id.to_string(), pr);
    }

    fn merge(&self, id: &str, by: &str, at: DateTime<Utc>) {
        if let Some(pr) = self.pulls.lock().unwrap().get_mut(id) {
            pr.merged = true;
            pr.merged_by = Some(person(by));
            pr.merged_at = Some(at);
        }
    }
}

#[async_trait]
impl Repositories for FabrikamRepos {
    fn name(&self) -> String {
        "fabrikam demo repositories".into()
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        repo.host == "github.com" && repo.owner == "fabrikam"
    }

    async fn authors(&self, repo: &RepoRef, commits: &[String]) -> Result<HashMap<String, Author>> {
        let login = match repo.name.as_str() {
            "frontend" => "alice",
            "backend" => "bob",
            _ => "dave",
        };
        Ok(commits.iter().map(|c| (c.clone(), person(login))).collect())
    }

    async fn pull_requests(
        &self,
        _repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>> {
        let pulls = self.pulls.lock().unwrap();
        Ok(ids
            .iter()
            .filter_map(|id| pulls.get(id).map(|p| (id.clone(), p.clone())))
            .collect())
    }

    async fn sync_tags(&self, _repo: &RepoRef) -> Result<Vec<ClusterSync>> {
        // The clusters report to the store (`record sync`, Flux and Argo CD hooks): no tags to read.
        Ok(Vec::new())
    }
}

/// Plays one step: records each action, with run times on a clock that started at `t0`.
pub async fn play(
    step: &Step,
    recorder: &Recorder,
    repos: &FabrikamRepos,
    t0: DateTime<Utc>,
) -> Result<()> {
    for action in &step.actions {
        match action {
            Image {
                p1,
                service,
                tag,
                commit,
                repo,
            } => {
                recorder
                    .image_built(&ImageBuilt {
                        p1: p1.to_string(),
                        image_tag: tag.to_string(),
                        commit_id: commit.to_string(),
                        service: service.to_string(),
                        repository: Some(repo.to_string()),
                    })
                    .await?;
            }
            Metadata {
                p2,
                tag,
                hld,
                ring,
                pr,
            } => {
                recorder
                    .metadata_updated(&MetadataUpdated {
                        p2: p2.to_string(),
                        image_tag: tag.to_string(),
                        hld_commit_id: hld.to_string(),
                        env: ring.to_string(),
                        pr: Some(pr.to_string()),
                        repository: Some(HLD.to_string()),
                        service: None,
                    })
                    .await?;
                repos.open(pr, &format!("Update {tag} in ring {ring}"), ring);
            }
            Manifest { p3, hld, pr } => {
                recorder
                    .manifest_generated(&ManifestGenerated {
                        p3: p3.to_string(),
                        hld_commit_id: hld.to_string(),
                        manifest_commit_id: None,
                        pr: pr.map(str::to_string),
                        repository: Some(MANIFESTS.to_string()),
                    })
                    .await?;
            }
            Committed { p3, manifest } => {
                recorder
                    .manifest_committed(&ManifestCommitted {
                        p3: p3.to_string(),
                        manifest_commit_id: manifest.to_string(),
                        repository: Some(MANIFESTS.to_string()),
                    })
                    .await?;
            }
            Run {
                id,
                status,
                result,
                minutes,
            } => {
                let at = t0 + Duration::minutes(*minutes);
                let mut report = RunReported::new(*id, *status);
                report.result = *result;
                report.url = Some(format!("https://ci.fabrikam.com/runs/{id}"));
                // A run queued for the first time starts a minute before it is reported.
                report.queued_at = Some(at - Duration::minutes(1));
                report.started_at = Some(at - Duration::minutes(1));
                if *status == RunStatus::Completed {
                    report.finished_at = Some(at);
                }
                // Earlier reports of the same run keep their queue and start times.
                let earlier = recorder
                    .store()
                    .run_reports(recorder.partition(), &[id.to_string()])
                    .await?;
                if let Some(e) = earlier.first() {
                    report.queued_at = e.queued_at;
                    report.started_at = e.started_at;
                }
                recorder.run_reported(&report).await?;
            }
            Merge { pr, by } => repos.merge(pr, by, Utc::now()),
            Sync { cluster, commit } => {
                recorder
                    .cluster_synced(cluster, commit, Some("flux"))
                    .await?;
            }
            Flux {
                cluster,
                severity,
                reason,
                message,
                commit,
                minutes,
            } => {
                let body = flux_event(
                    severity,
                    reason,
                    message,
                    commit,
                    t0 + Duration::minutes(*minutes),
                );
                match FluxEvent::parse(&body)?.report(Some(cluster))? {
                    Reading::Report(report) => put(recorder, &report).await?,
                    Reading::Ignored(why) => {
                        return Err(spektate::Error::invalid("Flux event", why));
                    }
                }
            }
            ArgoCd {
                cluster,
                application,
                revision,
                health,
                phase,
                message,
                minutes,
            } => {
                let at = t0 + Duration::minutes(*minutes);
                let body = serde_json::to_vec(&serde_json::json!({
                    "application": application,
                    "destinationName": cluster,
                    "destinationServer": format!("https://{cluster}.fabrikam.com:6443"),
                    "revision": revision,
                    "syncStatus": "Synced",
                    "health": health,
                    "phase": phase,
                    "finishedAt": at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "message": message,
                }))
                .unwrap_or_default();
                let report = ArgoCdNotification::parse(&body)?.report(at)?;
                put(recorder, &report).await?;
            }
        }
    }
    Ok(())
}

/// What `spektate serve` does with a hook's report: checked, then added to the cluster's
/// history in the store.
async fn put(recorder: &Recorder, report: &ClusterReport) -> Result<()> {
    report.check()?;
    recorder
        .store()
        .put_cluster_report(recorder.partition(), report)
        .await
}

/// A Kustomization's event as notification-controller posts it to a `generic-hmac`
/// Provider: the JSON of Flux's `eventv1.Event`, the revision in the `main@sha1:<sha>` form.
fn flux_event(
    severity: &str,
    reason: &str,
    message: &str,
    commit: &str,
    at: DateTime<Utc>,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "involvedObject": {
            "kind": "Kustomization",
            "namespace": "flux-system",
            "name": "fabrikam-apps",
            "uid": "2f6b7d9e-1c3a-4b5d-8e9f-0a1b2c3d4e5f",
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "resourceVersion": "48213",
        },
        "severity": severity,
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "message": message,
        "reason": reason,
        "metadata": {"revision": format!("main@sha1:{commit}")},
        "reportingController": "kustomize-controller",
        "reportingInstance": "kustomize-controller-6d8f7c9b5-q2w4e",
    }))
    .unwrap_or_default()
}

/// A tracker over the demo store with the demo repositories.
pub fn tracker(
    store: Arc<dyn spektate::RecordStore>,
    partition: &str,
    repos: Arc<FabrikamRepos>,
) -> spektate::Tracker {
    let defaults = spektate::RepoDefaults {
        hld_repo: RepoRef::parse(HLD).ok(),
        ..Default::default()
    };
    spektate::Tracker::builder(store)
        .partition(partition)
        .repositories(repos)
        .defaults(defaults)
        .build()
}
