//! The GitOps hooks of the team server over HTTP: Flux v2 notification-controller events
//! (signed by a generic-hmac Provider, or unsigned when allowed), Argo CD Notifications with
//! the documented template, and CDEvents pipelinerun events, each written into the store,
//! or refused with nothing written.

mod support;

use std::sync::Arc;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use spektate_core::http::Secret;
use spektate_core::{ClusterHistory, Outcome, RecordStore, RunResult, RunStatus, Tracker};
use spektate_dashboard::tokens::{Scope, TokenFile, Tokens};
use spektate_dashboard::{Dashboard, FluxHook, Hooks, Service};
use support::{Counting, PARTITION, Serving, serve};

const FLUX_SECRET: &str = "flux-hmac-0c6f1e";
const ARGO_TOKEN: &str = "argo-hook-5d2a77";
const OLD: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const NEW: &str = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1";
const NEWER: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807";

struct Server {
    base: String,
    store: Arc<Counting>,
    writer: String,
    service_routes: Vec<(String, String)>,
    document: Value,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(hooks: Hooks) -> Server {
        let store = Arc::new(Counting::default());
        let mut file = TokenFile::default();
        let writer = file
            .create("ci", &[Scope::Write], &[PARTITION.into()])
            .unwrap();
        let tracker = Tracker::builder(store.clone()).partition(PARTITION).build();
        let service = Service::new(Dashboard::new(tracker))
            .accept_writes(Tokens::fixed(file))
            .hooks(hooks);
        let service_routes = service
            .routes()
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        let document = service.openapi();
        let Serving { base, stop, served } = serve(service).await;
        Server {
            base,
            store,
            writer: writer.expose().to_string(),
            service_routes,
            document,
            client: reqwest::Client::new(),
            stop,
            served,
        }
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
        let mut r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn histories(&self) -> Vec<ClusterHistory> {
        self.store.cluster_histories(PARTITION).await.unwrap()
    }

    /// `/api/deployments` once it shows a deployment whose `field` is not empty (the
    /// refresh after a write runs in the background), or after 5 s.
    async fn deployments_with(&self, field: &str) -> Value {
        let started = std::time::Instant::now();
        loop {
            let list: Value = self
                .client
                .get(format!("{}/api/deployments", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let shown = list["deployments"][0][field]
                .as_array()
                .is_some_and(|a| !a.is_empty());
            if shown || started.elapsed() > std::time::Duration::from_secs(5) {
                return list;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap();
    }
}

fn flux_hooks(allow_unsigned: bool) -> Hooks {
    Hooks {
        flux: Some(FluxHook {
            secret: Some(Secret::new(FLUX_SECRET)),
            allow_unsigned,
        }),
        argocd_token: Some(Secret::new(ARGO_TOKEN)),
    }
}

/// `X-Signature` as notification-controller's forwarder makes it.
fn signature(body: &[u8], key: &str) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// A Kustomization event as Go's `json.Marshal` writes `eventv1.Event` (field order of the
/// struct, metadata keys sorted), after notification-controller stripped the group prefix
/// and added the Alert's `eventMetadata`.
fn kustomization_event(
    severity: &str,
    reason: &str,
    message: &str,
    revision: &str,
    at: &str,
    cluster: Option<&str>,
) -> Vec<u8> {
    let mut metadata = serde_json::Map::new();
    if let Some(c) = cluster {
        metadata.insert("cluster".into(), json!(c));
    }
    metadata.insert("revision".into(), json!(revision));
    format!(
        r#"{{"involvedObject":{{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"92871"}},"severity":"{severity}","timestamp":"{at}","message":{},"reason":"{reason}","metadata":{},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7f5d8c6f9d-x2x4k"}}"#,
        json!(message),
        Value::Object(metadata)
    )
    .into_bytes()
}

fn applied(history: &ClusterHistory) -> Vec<(&str, Outcome)> {
    history
        .reports
        .iter()
        .map(|r| (r.commit(), r.outcome))
        .collect()
}

#[tokio::test]
async fn signed_flux_events_record_the_cluster_history_and_failures() {
    let server = Server::start(flux_hooks(false)).await;
    let sign = |body: &[u8]| signature(body, FLUX_SECRET);

    let first = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished in 1.204s, next run in 10m0s",
        &format!("main@sha1:{OLD}"),
        "2026-03-02T10:00:00Z",
        None,
    );
    let (status, body) = server
        .post(
            "/api/flux/east-us",
            &[("X-Signature", &sign(&first))],
            &first,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cluster"], "east-us");
    assert_eq!(body["commit"], OLD);
    assert_eq!(body["outcome"], "applied");

    // The older main/<sha> form, the cluster named by the Alert's eventMetadata.
    let second = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished in 0.9s, next run in 10m0s",
        &format!("main/{NEW}"),
        "2026-03-02T10:10:00Z",
        Some("east-us"),
    );
    let (status, body) = server
        .post("/api/flux", &[("X-Signature", &sign(&second))], &second)
        .await;
    assert_eq!(status, 200, "{body}");

    // A failed health check of a newer commit: the cluster's failure on that commit.
    let failed = kustomization_event(
        "error",
        "HealthCheckFailed",
        "Deployment/default/frontend status: 'Failed'\ntimeout waiting for: [Deployment/default/frontend status: 'Failed']",
        &format!("sha1:{NEWER}"),
        "2026-03-02T10:20:00Z",
        Some("east-us"),
    );
    let (status, body) = server
        .post(
            "/api/flux/east-us",
            &[("X-Signature", &sign(&failed))],
            &failed,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "failed");

    // An older event arriving late takes its place and does not move the cluster back.
    let late = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished in 1s",
        &format!("main@sha1:{OLD}"),
        "2026-03-02T09:00:00Z",
        None,
    );
    let (status, _) = server
        .post("/api/flux/east-us", &[("X-Signature", &sign(&late))], &late)
        .await;
    assert_eq!(status, 200);

    // The same signed event posted again for another cluster: its metadata binds it to
    // east-us, so no west-eu history is made.
    let (status, body) = server
        .post(
            "/api/flux/west-eu",
            &[("X-Signature", &sign(&failed))],
            &failed,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("'west-eu'") && error.contains("'east-us'"),
        "{error}"
    );

    let histories = server.histories().await;
    assert_eq!(histories.len(), 1);
    assert_eq!(
        applied(&histories[0]),
        vec![
            (NEWER, Outcome::Failed),
            (NEW, Outcome::Applied),
            (OLD, Outcome::Applied)
        ]
    );
    let failure = &histories[0].reports[0];
    assert_eq!(failure.reason.as_deref(), Some("HealthCheckFailed"));
    assert_eq!(
        failure.sync.tagger.as_deref(),
        Some("flux kustomization flux-system/apps")
    );
    assert!(!failure.message.as_deref().unwrap().contains('\n'));
    assert_eq!(
        histories[0].reports[2].sync.synced_at.unwrap().to_rfc3339(),
        "2026-03-02T09:00:00+00:00",
        "the late event says since when the cluster ran OLD"
    );
    let current = server.store.cluster_syncs(PARTITION).await.unwrap();
    assert_eq!(
        current[0].commit, NEW,
        "the cluster runs NEW, not the failed NEWER"
    );
    // An event that names no cluster is bound to none: posted again for another cluster, it
    // is taken for that one (docs/gitops/flux.md says to set eventMetadata.cluster).
    let (status, body) = server
        .post("/api/flux/west-eu", &[("X-Signature", &sign(&late))], &late)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        server.histories().await.len(),
        2,
        "a west-eu history is made"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_partition_the_signed_metadata_names_binds_the_event_to_it() {
    let server = Server::start(flux_hooks(false)).await;
    let mut event: Value = serde_json::from_slice(&kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished",
        &format!("main@sha1:{NEW}"),
        "2026-03-02T10:00:00Z",
        Some("east-us"),
    ))
    .unwrap();
    event["metadata"]["partition"] = json!(PARTITION);
    let event = serde_json::to_vec(&event).unwrap();
    let signed = signature(&event, FLUX_SECRET);
    // Replayed into another partition by its URL: refused, nothing written.
    let (status, body) = server
        .post(
            "/api/flux?partition=contoso",
            &[("X-Signature", &signed)],
            &event,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "partition");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("'contoso'") && error.contains(&format!("'{PARTITION}'")),
        "{error}"
    );
    assert!(server.histories().await.is_empty());
    // Its URL naming none, or the same: taken for the partition the metadata names.
    for path in ["/api/flux", &format!("/api/flux?partition={PARTITION}")] {
        let (status, body) = server.post(path, &[("X-Signature", &signed)], &event).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert_eq!(server.histories().await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_helmrelease_upgrade_is_read_from_its_origin_revision() {
    let server = Server::start(flux_hooks(false)).await;
    let body = format!(
        r#"{{"involvedObject":{{"kind":"HelmRelease","namespace":"apps","name":"frontend","uid":"1b9c","apiVersion":"helm.toolkit.fluxcd.io/v2","resourceVersion":"5521"}},"severity":"info","timestamp":"2026-03-02T11:00:00Z","message":"Helm upgrade succeeded for release apps/frontend.v4 with chart frontend@1.4.2","reason":"UpgradeSucceeded","metadata":{{"cluster":"west-eu","originRevision":"main@sha1:{NEW}","revision":"1.4.2"}},"reportingController":"helm-controller"}}"#
    );
    let body = body.as_bytes();
    let (status, answer) = server
        .post(
            "/api/flux",
            &[("X-Signature", &signature(body, FLUX_SECRET))],
            body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cluster"], "west-eu");
    assert_eq!(answer["commit"], NEW);
    // A chart of a Helm repository has no commit: taken, and ignored.
    let chart_only = String::from_utf8(body.to_vec())
        .unwrap()
        .replace(&format!(r#""originRevision":"main@sha1:{NEW}","#), "");
    let chart_only = chart_only.as_bytes();
    let writes = server.store.writes();
    let (status, answer) = server
        .post(
            "/api/flux",
            &[("X-Signature", &signature(chart_only, FLUX_SECRET))],
            chart_only,
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert!(
        answer["ignored"].as_str().unwrap().contains("'1.4.2'"),
        "{answer}"
    );
    assert_eq!(server.store.writes(), writes);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_signature_or_an_unsigned_event_is_refused_and_nothing_is_written() {
    let server = Server::start(flux_hooks(false)).await;
    let event = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished",
        &format!("main@sha1:{NEW}"),
        "2026-03-02T10:00:00Z",
        None,
    );
    let wrong_key = signature(&event, "not-the-secret");
    let mut tampered = event.clone();
    tampered[10] ^= 1;
    for (headers, why) in [
        (vec![("X-Signature", wrong_key.as_str())], "another key"),
        (vec![], "no signature"),
        (vec![("X-Signature", "sha256=00ff")], "a short one"),
        (vec![("X-Signature", "md5=abcd")], "another hash"),
    ] {
        let (status, body) = server.post("/api/flux/east-us", &headers, &event).await;
        assert_eq!(status, 401, "{why}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("X-Signature"), "{why}: {error}");
        assert!(!error.contains(FLUX_SECRET), "{why}: {error}");
    }
    let good_for_other_body = signature(&event, FLUX_SECRET);
    let (status, _) = server
        .post(
            "/api/flux/east-us",
            &[("X-Signature", &good_for_other_body)],
            &tampered,
        )
        .await;
    assert_eq!(status, 401, "a changed body");
    assert_eq!(server.store.writes(), 0, "nothing written");
    assert!(server.histories().await.is_empty());
    server.stop().await;
    // Taking unsigned events too does not take a wrong signature while there is a secret.
    let lenient = Server::start(flux_hooks(true)).await;
    let (status, body) = lenient
        .post("/api/flux/east-us", &[("X-Signature", &wrong_key)], &event)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(lenient.store.writes(), 0, "nothing written");
    lenient.stop().await;
}

#[tokio::test]
async fn a_partition_the_server_does_not_serve_is_named_only_to_a_sender_with_credentials() {
    let server = Server::start(flux_hooks(false)).await;
    let flux = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished",
        &format!("main@sha1:{NEW}"),
        "2026-03-02T10:00:00Z",
        None,
    );
    let argo = argo_body(NEW, "Succeeded", "Healthy", "2026-03-02T10:00:00Z", "");
    let cdevent = pipeline_run("queued", "1044", "2026-03-02T10:00:00Z", None).to_string();
    // Without credentials: refused as unauthenticated, no partition named.
    for (path, body) in [
        ("/api/flux/east-us?partition=zz", &flux),
        ("/api/argocd?partition=zz", &argo),
        ("/api/cdevents?partition=zz", &cdevent.as_bytes().to_vec()),
    ] {
        let (status, answer) = server.post(path, &[], body).await;
        assert_eq!(status, 401, "{path}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            !error.contains(PARTITION) && !error.contains("partition"),
            "{path}: {error}"
        );
    }
    // With the hook's credentials: a 404 naming the partition asked for.
    let signed = signature(&flux, FLUX_SECRET);
    let bearer = format!("Bearer {ARGO_TOKEN}");
    for (path, header, body) in [
        (
            "/api/flux/east-us?partition=zz",
            ("X-Signature", signed.as_str()),
            &flux,
        ),
        (
            "/api/argocd?partition=zz",
            ("Authorization", bearer.as_str()),
            &argo,
        ),
    ] {
        let (status, answer) = server.post(path, &[header], body).await;
        assert_eq!(status, 404, "{path}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("'zz'"),
            "{answer}"
        );
    }
    // A pipeline's token for fabrikam may not write zz.
    let writer = format!("Bearer {}", server.writer);
    let (status, answer) = server
        .post(
            "/api/cdevents?partition=zz",
            &[("Authorization", &writer)],
            cdevent.as_bytes(),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(server.store.writes(), 0, "nothing written");
    server.stop().await;
}

#[tokio::test]
async fn unsigned_events_are_taken_only_when_allowed() {
    let server = Server::start(Hooks {
        flux: Some(FluxHook {
            secret: None,
            allow_unsigned: true,
        }),
        argocd_token: None,
    })
    .await;
    let event = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished",
        &format!("main@sha1:{NEW}"),
        "2026-03-02T10:00:00Z",
        None,
    );
    let (status, body) = server.post("/api/flux/edge-1", &[], &event).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.histories().await[0].cluster, "edge-1");
    // No secret to check a signature with: a signed event is taken as an unsigned one.
    let (status, body) = server
        .post(
            "/api/flux/edge-1",
            &[("X-Signature", "sha256=00ff")],
            &event,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // No Argo CD token: no Argo CD route.
    let (status, _) = server.post("/api/argocd", &[], b"{}").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn events_that_name_no_cluster_or_no_commit_are_refused_and_others_ignored() {
    let server = Server::start(flux_hooks(true)).await;
    let no_cluster = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "ok",
        &format!("main@sha1:{NEW}"),
        "2026-03-02T10:00:00Z",
        None,
    );
    let (status, body) = server.post("/api/flux", &[], &no_cluster).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "cluster");
    let two = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "ok",
        &format!("main@sha1:{NEW}"),
        "2026-03-02T10:00:00Z",
        Some("west-eu"),
    );
    let (status, body) = server.post("/api/flux/east-us", &[], &two).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("'west-eu'"));
    let oci = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "ok",
        "latest@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "2026-03-02T10:00:00Z",
        None,
    );
    // A Kustomization of an OCIRepository (or a Bucket) applies an artifact, no commit.
    let (status, body) = server.post("/api/flux/east-us", &[], &oci).await;
    assert_eq!(status, 202, "{body}");
    assert!(
        body["ignored"]
            .as_str()
            .unwrap()
            .contains("artifact digest"),
        "{body}"
    );
    let unknown = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "ok",
        "latest@md5:9f86d081884c7d659a2feaa0c55ad015",
        "2026-03-02T10:00:00Z",
        None,
    );
    let (status, body) = server.post("/api/flux/east-us", &[], &unknown).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "metadata.revision");
    let progressing = kustomization_event(
        "info",
        "Progressing",
        "Deployment/default/frontend created",
        &format!("main@sha1:{NEW}"),
        "2026-03-02T10:00:00Z",
        None,
    );
    let (status, body) = server.post("/api/flux/east-us", &[], &progressing).await;
    assert_eq!(status, 202, "{body}");
    let source = br#"{"involvedObject":{"kind":"GitRepository","namespace":"flux-system","name":"flux-system"},"severity":"info","timestamp":"2026-03-02T10:00:00Z","message":"stored artifact for commit 'Merge'","reason":"NewArtifact","metadata":{"revision":"main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"},"reportingController":"source-controller"}"#;
    let (status, body) = server.post("/api/flux/east-us", &[], source).await;
    assert_eq!(status, 202, "{body}");
    assert!(body["ignored"].as_str().unwrap().contains("GitRepository"));
    let (status, body) = server
        .post("/api/flux/east-us", &[], b"{\"severity\": 1}")
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = server
        .post("/api/flux/east-us?partition=contoso", &[], &progressing)
        .await;
    assert_eq!(status, 404, "a partition the server does not serve");
    assert_eq!(server.store.writes(), 0);
    server.stop().await;
}

/// What the template of docs/gitops/argocd.md rendered for an application before it sent
/// `operationRevision`: each field `toJson` of the application's value, `null` where it has
/// none (given here as "").
fn argo_body(revision: &str, phase: &str, health: &str, finished: &str, message: &str) -> Vec<u8> {
    let j = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    format!(
        r#"{{
  "application": "argocd/frontend-east",
  "destinationName": "east-us",
  "destinationServer": "https://east-us.fabrikam.example:6443",
  "revision": {},
  "syncStatus": "Synced",
  "health": {},
  "phase": {},
  "finishedAt": {},
  "message": {}
}}"#,
        j(revision),
        j(health),
        j(phase),
        j(finished),
        j(message)
    )
    .into_bytes()
}

#[tokio::test]
async fn argo_cd_notifications_with_the_token_record_syncs_failures_and_health() {
    let server = Server::start(flux_hooks(false)).await;
    let bearer = format!("Bearer {ARGO_TOKEN}");
    let ok = argo_body(
        OLD,
        "Succeeded",
        "Healthy",
        "2026-03-02T10:00:00Z",
        "successfully synced (all tasks run)",
    );
    let (status, body) = server
        .post("/api/argocd", &[("Authorization", &bearer)], &ok)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cluster"], "east-us");
    let degraded = argo_body(NEW, "Succeeded", "Degraded", "2026-03-02T10:10:00Z", "");
    let (status, _) = server
        .post("/api/argocd", &[("Authorization", &bearer)], &degraded)
        .await;
    assert_eq!(status, 200);
    let failed = argo_body(
        NEWER,
        "Failed",
        "Healthy",
        "2026-03-02T10:20:00Z",
        "one or more synchronization tasks completed unsuccessfully",
    );
    let (status, body) = server
        .post("/api/argocd", &[("Authorization", &bearer)], &failed)
        .await;
    assert_eq!(status, 200, "{body}");
    let h = &server.histories().await[0];
    assert_eq!(
        applied(h),
        vec![
            (NEWER, Outcome::Failed),
            (NEW, Outcome::Applied),
            (OLD, Outcome::Applied)
        ]
    );
    assert_eq!(h.reports[1].health.as_deref(), Some("Degraded"));
    assert_eq!(h.reports[0].reason.as_deref(), Some("SyncFailed"));
    assert_eq!(
        h.reports[0].sync.tagger.as_deref(),
        Some("argocd argocd/frontend-east")
    );
    let troubles: Vec<&str> = h.troubles().iter().map(|r| r.commit()).collect();
    assert_eq!(troubles, vec![NEWER, NEW]);

    let writes = server.store.writes();
    for headers in [
        vec![],
        vec![("Authorization", "Bearer wrong")],
        vec![("Authorization", "Basic YXJnbzphcmdv")],
    ] {
        let (status, body) = server.post("/api/argocd", &headers, &ok).await;
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert!(!body.to_string().contains(ARGO_TOKEN));
    }
    let (status, body) = server
        .post(
            "/api/argocd",
            &[("Authorization", &bearer)],
            &argo_body("HEAD", "Succeeded", "Healthy", "", ""),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "revision");
    assert_eq!(server.store.writes(), writes, "nothing written");
    server.stop().await;
}

#[tokio::test]
async fn argo_cd_records_the_commit_its_last_sync_applied_and_ignores_one_still_syncing() {
    let server = Server::start(flux_hooks(false)).await;
    let bearer = format!("Bearer {ARGO_TOKEN}");
    let post = |fields: Value| {
        let (server, bearer) = (&server, bearer.clone());
        async move {
            let mut body: Value = serde_json::from_slice(&argo_body(
                OLD,
                "Succeeded",
                "Healthy",
                "2026-03-02T10:00:00Z",
                "successfully synced (all tasks run)",
            ))
            .unwrap();
            for (k, v) in fields.as_object().unwrap() {
                body[k] = v.clone();
            }
            let body = serde_json::to_vec(&body).unwrap();
            server
                .post("/api/argocd", &[("Authorization", &bearer)], &body)
                .await
        }
    };
    // OLD synced; NEW pushed: Argo CD compares with NEW, its last sync applied OLD.
    let (status, body) = post(json!({"operationRevision": OLD})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(json!({
        "revision": NEW, "operationRevision": OLD, "syncStatus": "OutOfSync"
    }))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["commit"], OLD);
    // NEW syncing: nothing to write yet.
    let (status, body) = post(json!({
        "revision": NEW, "operationRevision": NEW, "syncStatus": "OutOfSync",
        "phase": "Running", "finishedAt": null
    }))
    .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        body["ignored"].as_str().unwrap().contains("running"),
        "{body}"
    );
    // A body of the earlier template, out of sync: its revision was never applied.
    let (status, body) = post(json!({"revision": NEW, "syncStatus": "OutOfSync"})).await;
    assert_eq!(status, 202, "{body}");
    let current = server.store.cluster_syncs(PARTITION).await.unwrap();
    assert_eq!(current[0].commit, OLD, "NEW is not applied");
    let h = &server.histories().await[0];
    assert_eq!(applied(h), vec![(OLD, Outcome::Applied)]);
    // NEW's sync finished.
    let (status, body) = post(json!({
        "revision": NEW, "operationRevision": NEW, "finishedAt": "2026-03-02T10:10:00Z"
    }))
    .await;
    assert_eq!(status, 200, "{body}");
    let current = server.store.cluster_syncs(PARTITION).await.unwrap();
    assert_eq!(current[0].commit, NEW);
    server.stop().await;
}

#[tokio::test]
async fn reports_dated_ahead_of_the_servers_clock_are_refused() {
    let server = Server::start(flux_hooks(false)).await;
    let event = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished",
        &format!("main@sha1:{NEW}"),
        "2999-01-01T00:00:00Z",
        Some("east-us"),
    );
    let (status, body) = server
        .post(
            "/api/flux",
            &[("X-Signature", &signature(&event, FLUX_SECRET))],
            &event,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "timestamp");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("'2999-01-01T00:00:00Z' is more than 5 minutes ahead"),
        "{body}"
    );
    let bearer = format!("Bearer {ARGO_TOKEN}");
    let argo = argo_body(NEW, "Succeeded", "Healthy", "2999-01-01T00:00:00Z", "");
    let (status, body) = server
        .post("/api/argocd", &[("Authorization", &bearer)], &argo)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "finishedAt");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("'2999-01-01T00:00:00Z'"),
        "{body}"
    );
    assert_eq!(server.store.writes(), 0, "nothing written");
    server.stop().await;
}

#[tokio::test]
async fn a_failure_reported_by_flux_shows_on_the_deployment_in_the_json() {
    let server = Server::start(flux_hooks(false)).await;
    let w = format!("Bearer {}", server.writer);
    let post = |path: &'static str, body: Value| {
        let (server, w) = (&server, w.clone());
        async move {
            let (status, answer) = server
                .post(path, &[("Authorization", &w)], body.to_string().as_bytes())
                .await;
            assert_eq!(status, 200, "{path}: {answer}");
        }
    };
    post(
        "/api/records/image",
        json!({"p1": "1042", "imageTag": "frontend-1042", "commitId": "a1b2c3d4e5f6", "service": "fabrikam/frontend"}),
    )
    .await;
    post(
        "/api/records/metadata",
        json!({"p2": "1043", "imageTag": "frontend-1042", "hldCommitId": "b2c3d4e5f6a1", "env": "prod"}),
    )
    .await;
    post(
        "/api/records/manifest",
        json!({"p3": "1044", "hldCommitId": "b2c3d4e5f6a1", "manifestCommitId": NEWER}),
    )
    .await;
    let failed = kustomization_event(
        "error",
        "ReconciliationFailed",
        "Deployment/prod/frontend dry-run failed: spec.replicas: Invalid value: -1",
        &format!("main@sha1:{NEWER}"),
        "2026-03-02T10:20:00Z",
        None,
    );
    let (status, _) = server
        .post(
            "/api/flux/east-us",
            &[("X-Signature", &signature(&failed, FLUX_SECRET))],
            &failed,
        )
        .await;
    assert_eq!(status, 200);
    let answer = server.deployments_with("clusterTroubles").await;
    let d = &answer["deployments"][0];
    assert_eq!(d["clusters"], json!([]), "not synced: it failed");
    let t = &d["clusterTroubles"][0];
    assert_eq!(t["cluster"], "east-us");
    assert_eq!(t["outcome"], "failed");
    assert_eq!(t["reason"], "ReconciliationFailed");
    assert!(t["message"].as_str().unwrap().contains("dry-run failed"));
    server.stop().await;
}

/// Checks `value` against a CDEvents JSON schema: the keywords the spec's schemas use
/// (type, properties, required, additionalProperties, enum, minLength; `$ref`s of links,
/// which the events here do not carry, are not followed).
fn conforms(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => value.is_object(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            other => return Err(format!("{at}: type {other} not checked")),
        };
        if !ok {
            return Err(format!("{at}: not a {t}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {options:?}"));
    }
    if let (Some(min), Some(s)) = (
        schema.get("minLength").and_then(Value::as_u64),
        value.as_str(),
    ) && (s.chars().count() as u64) < min
    {
        return Err(format!("{at}: shorter than {min}"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                return Err(format!("{at}: {name} is required"));
            }
        }
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => conforms(s, v, &format!("{at}.{name}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: {name} is not allowed"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

fn schema(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/cdevents/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pipeline_run(kind: &str, id: &str, at: &str, outcome: Option<&str>) -> Value {
    let mut content = json!({"pipelineName": "hld-to-manifests", "url": format!("https://ci.fabrikam.example/runs/{id}")});
    if let Some(o) = outcome {
        content["outcome"] = json!(o);
        content["errors"] = json!(if o == "success" { "" } else { "exit status 1" });
    }
    json!({
        "context": {
            "version": "0.4.1",
            "id": format!("{kind}-{id}-0d7f"),
            "source": "/ci/fabrikam/hld-to-manifests",
            "type": format!("dev.cdevents.pipelinerun.{kind}.0.2.0"),
            "timestamp": at
        },
        "subject": {
            "id": id,
            "source": "/ci/fabrikam/hld-to-manifests",
            "type": "pipelineRun",
            "content": content
        }
    })
}

#[tokio::test]
async fn cdevents_pipeline_runs_become_run_reports() {
    let server = Server::start(Hooks::default()).await;
    let w = format!("Bearer {}", server.writer);
    let events = [
        (
            "queued",
            pipeline_run("queued", "1044", "2026-03-02T10:00:00Z", None),
        ),
        (
            "started",
            pipeline_run("started", "1044", "2026-03-02T10:00:05Z", None),
        ),
        (
            "finished",
            pipeline_run("finished", "1044", "2026-03-02T10:03:00Z", Some("failure")),
        ),
    ];
    for (kind, event) in &events {
        conforms(&schema(&format!("pipelinerun{kind}")), event, kind)
            .unwrap_or_else(|e| panic!("the {kind} event follows the spec's schema: {e}"));
        let (status, body) = server
            .post(
                "/api/cdevents",
                &[("Authorization", &w)],
                event.to_string().as_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{kind}: {body}");
        assert_eq!(body["id"], "1044");
    }
    // A late `started` does not move the finished run back.
    let (status, body) = server
        .post(
            "/api/cdevents",
            &[("Authorization", &w)],
            events[1].1.to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let reports = server
        .store
        .run_reports(PARTITION, &["1044".to_string()])
        .await
        .unwrap();
    let r = &reports[0];
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.result, Some(RunResult::Failed));
    assert_eq!(
        r.queued_at.unwrap().to_rfc3339(),
        "2026-03-02T10:00:00+00:00"
    );
    assert_eq!(
        r.started_at.unwrap().to_rfc3339(),
        "2026-03-02T10:00:05+00:00"
    );
    assert_eq!(
        r.finished_at.unwrap().to_rfc3339(),
        "2026-03-02T10:03:00+00:00"
    );
    assert_eq!(
        r.url.as_deref(),
        Some("https://ci.fabrikam.example/runs/1044")
    );

    let writes = server.store.writes();
    let (status, _) = server
        .post("/api/cdevents", &[], events[0].1.to_string().as_bytes())
        .await;
    assert_eq!(status, 401, "no token");
    let mut other = events[2].1.clone();
    other["context"]["type"] = json!("dev.cdevents.service.deployed.0.2.0");
    let (status, body) = server
        .post(
            "/api/cdevents",
            &[("Authorization", &w)],
            other.to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "context.type");
    assert!(
        conforms(&schema("pipelinerunfinished"), &other, "other").is_err(),
        "the schema check can fail"
    );
    // A report the recorder refuses is named by the event's fields.
    let ahead = pipeline_run("finished", "1045", "2999-01-01T00:00:00Z", Some("success"));
    let (status, body) = server
        .post(
            "/api/cdevents",
            &[("Authorization", &w)],
            ahead.to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "context.timestamp", "{body}");
    assert!(!body.to_string().contains("finished-at"), "{body}");
    assert_eq!(server.store.writes(), writes, "nothing written");
    server.stop().await;
}

#[tokio::test]
async fn the_api_document_lists_the_hooks_the_router_has() {
    let server = Server::start(flux_hooks(false)).await;
    let documented: std::collections::BTreeSet<(String, String)> = server.document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routes: std::collections::BTreeSet<(String, String)> =
        server.service_routes.iter().cloned().collect();
    assert_eq!(documented, routes);
    for hook in [
        "/api/flux",
        "/api/flux/{cluster}",
        "/api/argocd",
        "/api/cdevents",
    ] {
        assert!(
            routes.contains(&("POST".to_string(), hook.to_string())),
            "{hook}"
        );
    }
    server.stop().await;
}

/// A connection that sent a Flux event's headers (`X-Signature` when given), announcing a
/// body of 60,000 bytes, and its first byte only.
async fn body_held_back(base: &str, signature: Option<&str>) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = base.trim_start_matches("http://");
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let signed = signature
        .map(|s| format!("X-Signature: {s}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /api/flux/east-us HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         {signed}Content-Length: 60000\r\n\r\n{{"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_sent_slowly_before_their_signature_is_checked_hold_few_requests() {
    use tokio::io::AsyncReadExt;
    let server = Server::start(flux_hooks(false)).await;
    // An event without the signature the server wants is refused at its headers, without
    // waiting for a body.
    let mut unsigned = body_held_back(&server.base, None).await;
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        unsigned.read(&mut answer),
    )
    .await
    .expect("answered before the body arrived")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // Bodies sent slowly under a made-up signature take every place to read one...
    let mut slow = Vec::new();
    for _ in 0..32 {
        slow.push(body_held_back(&server.base, Some("sha256=00ff")).await);
    }
    let event = kustomization_event(
        "info",
        "ReconciliationSucceeded",
        "Reconciliation finished",
        &format!("main@sha1:{NEW}"),
        "2026-03-02T10:00:00Z",
        None,
    );
    // Until the server reads all 32, a whole event under a made-up signature is read and
    // refused (401); once it does, it is told to send it again (503).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let made_up = [("X-Signature", "sha256=00ff")];
        let (status, body) = server.post("/api/flux/east-us", &made_up, &event).await;
        if status == 503 {
            break;
        }
        assert_eq!(status, 401, "{body}");
        assert!(
            std::time::Instant::now() < until,
            "the slow bodies hold no place"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let signed = signature(&event, FLUX_SECRET);
    let headers = [("X-Signature", signed.as_str())];
    let (status, body) = server.post("/api/flux/east-us", &headers, &event).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("send it again"),
        "{body}"
    );
    // ...and nothing else: the server answers every other request.
    let health = server
        .client
        .get(format!("{}/api/health", server.base))
        .send()
        .await
        .unwrap();
    assert!(health.status().as_u16() < 500, "{}", health.status());
    // Once they are gone, the event is taken.
    drop(slow);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (status, body) = server.post("/api/flux/east-us", &headers, &event).await;
        if status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < until, "{status} {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(server.histories().await.len(), 1);
    server.stop().await;
}
