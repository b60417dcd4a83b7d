//! Cluster histories through the tracker: a cluster runs the newest commit it applied even
//! when an older report arrives last, a deployment superseded there stays live where the
//! newer commit is, and what an agent said went wrong shows on the deployment's cluster step
//! (the model, the JSON and `get -o wide`'s Cluster Sync).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use spektate_core::{
    ClusterReport, ClusterSync, Filter, ManifestGenerated, MemoryStore, MetadataUpdated, Outcome,
    RecordStore, Recorder, Tracker, render,
};

const MANIFESTS: &str = "https://github.com/fabrikam/manifests";

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap() + Duration::minutes(min)
}

fn sha(n: u32) -> String {
    format!("{n:07x}{}", "c".repeat(33))
}

fn report(cluster: &str, commit: u32, at: i64, outcome: Outcome) -> ClusterReport {
    ClusterReport {
        outcome,
        ..ClusterReport::applied(ClusterSync {
            cluster: cluster.into(),
            commit: sha(commit),
            synced_at: Some(t(at)),
            tagger: Some("flux kustomization flux-system/apps".into()),
        })
    }
}

/// Two deployments of frontend to prod: image `n` rendered into manifest commit `n`.
async fn journey(store: &Arc<dyn RecordStore>) {
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    for n in [1u32, 2] {
        recorder
            .metadata_updated(&MetadataUpdated {
                p2: format!("20{n}"),
                image_tag: format!("frontend-{n}"),
                hld_commit_id: format!("{n:07x}{}", "d".repeat(33)),
                env: "prod".into(),
                service: Some("fabrikam/frontend".into()),
                pr: None,
                repository: None,
            })
            .await
            .unwrap();
        recorder
            .manifest_generated(&ManifestGenerated {
                p3: format!("30{n}"),
                hld_commit_id: format!("{n:07x}{}", "d".repeat(33)),
                manifest_commit_id: Some(sha(n)),
                pr: None,
                repository: Some(MANIFESTS.into()),
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_late_report_does_not_move_a_cluster_back_and_troubles_show_on_the_cluster_step() {
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    journey(&store).await;
    // east-us applied 1 then 2; the report of 1 arrives last. west-eu applied 1, then
    // failed its health check on 2.
    store
        .put_cluster_report("fabrikam", &report("east-us", 2, 20, Outcome::Applied))
        .await
        .unwrap();
    store
        .put_cluster_report("fabrikam", &report("east-us", 1, 10, Outcome::Applied))
        .await
        .unwrap();
    store
        .put_cluster_report("fabrikam", &report("west-eu", 1, 11, Outcome::Applied))
        .await
        .unwrap();
    let mut failed = report("west-eu", 2, 21, Outcome::Failed);
    failed.reason = Some("HealthCheckFailed".into());
    failed.message = Some("timeout waiting for Deployment/prod/frontend".into());
    store.put_cluster_report("fabrikam", &failed).await.unwrap();

    let tracker = Tracker::builder(store.clone())
        .partition("fabrikam")
        .build();
    let deployments = tracker.deployments(&Filter::default()).await.unwrap();
    let of = |tag: &str| {
        deployments
            .iter()
            .find(|d| d.image_tag() == Some(tag))
            .unwrap()
    };
    let (one, two) = (of("frontend-1"), of("frontend-2"));
    let clusters = |d: &spektate_core::Deployment| -> Vec<String> {
        d.clusters.iter().map(|c| c.cluster.clone()).collect()
    };
    let live = |d: &spektate_core::Deployment| -> Vec<String> {
        d.live_in.iter().map(|c| c.cluster.clone()).collect()
    };
    assert_eq!(clusters(two), vec!["east-us"], "east-us runs 2");
    assert_eq!(clusters(one), vec!["west-eu"], "west-eu still runs 1");
    assert_eq!(live(two), vec!["east-us"]);
    assert_eq!(
        live(one),
        vec!["west-eu"],
        "superseded in east-us, live in west-eu"
    );
    assert!(one.cluster_troubles.is_empty());
    assert_eq!(two.cluster_troubles.len(), 1);
    assert_eq!(two.cluster_troubles[0].cluster(), "west-eu");
    assert_eq!(
        two.cluster_troubles[0].reason.as_deref(),
        Some("HealthCheckFailed")
    );

    let json = serde_json::to_value(two).unwrap();
    assert_eq!(json["clusterTroubles"][0]["outcome"], "failed");
    assert_eq!(
        json["clusterTroubles"][0]["message"],
        "timeout waiting for Deployment/prod/frontend"
    );
    let (header, rows) = render::rows(std::slice::from_ref(two), true, Utc::now());
    let at = header.iter().position(|h| *h == "Cluster Sync").unwrap();
    assert_eq!(rows[0][at], "east-us, west-eu failed (HealthCheckFailed)");

    // west-eu recovers on 2: the failure is gone from the step.
    store
        .put_cluster_report("fabrikam", &report("west-eu", 2, 30, Outcome::Applied))
        .await
        .unwrap();
    tracker.refresh().await.unwrap();
    let deployments = tracker.deployments(&Filter::default()).await.unwrap();
    let two = deployments
        .iter()
        .find(|d| d.image_tag() == Some("frontend-2"))
        .unwrap();
    assert!(two.cluster_troubles.is_empty());
    assert_eq!(clusters(two), vec!["east-us", "west-eu"]);
    let history = store.cluster_histories("fabrikam").await.unwrap();
    let west = history.iter().find(|h| h.cluster == "west-eu").unwrap();
    assert_eq!(
        west.reports
            .iter()
            .map(|r| (r.commit().to_string(), r.outcome))
            .collect::<Vec<_>>(),
        vec![
            (sha(2), Outcome::Applied),
            (sha(2), Outcome::Failed),
            (sha(1), Outcome::Applied)
        ],
        "which commit west-eu applied, or failed, when"
    );
}

/// An Argo CD that answers the same applications every time.
struct Applications(Arc<Vec<spektate_core::Applied>>);

#[spektate_core::async_trait]
impl spektate_core::provider::SyncSource for Applications {
    fn name(&self) -> String {
        "argocd argocd.fabrikam.com".into()
    }

    async fn applied(&self) -> spektate_core::Result<Arc<Vec<spektate_core::Applied>>> {
        Ok(self.0.clone())
    }
}

#[tokio::test]
async fn a_degraded_or_failed_argo_cd_application_shows_on_the_cluster_step() {
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    journey(&store).await;
    let app = |cluster: &str, commit: u32, health: &str, phase: &str| spektate_core::Applied {
        sync: ClusterSync {
            cluster: cluster.into(),
            commit: sha(commit),
            synced_at: Some(t(40)),
            tagger: Some(format!("argocd argocd/frontend-{cluster}")),
        },
        application: format!("argocd/frontend-{cluster}"),
        repo: spektate_core::RepoRef::parse(MANIFESTS).unwrap(),
        sync_status: Some("Synced".into()),
        health: Some(health.into()),
        phase: Some(phase.into()),
        history: Vec::new(),
        attempted: None,
    };
    let source = Arc::new(Applications(Arc::new(vec![
        app("east-us", 2, "Healthy", "Succeeded"),
        app("west-eu", 2, "Degraded", "Succeeded"),
        app("north-eu", 2, "Healthy", "Failed"),
    ])));
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .sync_source(source)
        .build();
    let deployments = tracker.deployments(&Filter::default()).await.unwrap();
    let two = deployments
        .iter()
        .find(|d| d.image_tag() == Some("frontend-2"))
        .unwrap();
    let mut troubles: Vec<String> = two
        .cluster_troubles
        .iter()
        .map(|t| t.trouble_text())
        .collect();
    troubles.sort();
    assert_eq!(
        troubles,
        vec!["north-eu failed (SyncFailed)", "west-eu Degraded"]
    );
    let (header, rows) = render::rows(std::slice::from_ref(two), true, Utc::now());
    let at = header.iter().position(|h| *h == "Cluster Sync").unwrap();
    assert!(rows[0][at].contains("west-eu Degraded"), "{}", rows[0][at]);
    assert!(rows[0][at].starts_with("east-us"), "{}", rows[0][at]);
}
