//! The Fabrikam demo (`cargo run --example fabrikam`) played step by step, as the example plays
//! it, with what a user reads off its tables after the steps that move a cluster: the exact
//! commit a cluster runs (synced), where each deployment is live, and the failure west-eu's
//! Flux v2 reported on the backend's commit. Three clusters report three ways: east-us's hook
//! (`record sync`), Flux v2's notification-controller in west-eu and Argo CD Notifications in
//! central-us.

#[path = "../examples/fabrikam/scenario.rs"]
mod scenario;

use std::sync::Arc;

use chrono::{Duration, Utc};
use spektate::{Deployment, Filter, RecordStore, Recorder, SqliteStore, Status, render};

fn row<'a>(ds: &'a [Deployment], service: Option<&str>, ring: Option<&str>) -> &'a Deployment {
    ds.iter()
        .find(|d| d.service() == service && d.ring() == ring)
        .unwrap_or_else(|| panic!("no {service:?}/{ring:?}"))
}

fn clusters(d: &Deployment) -> (Vec<&str>, Vec<&str>) {
    (
        d.clusters.iter().map(|c| c.cluster.as_str()).collect(),
        d.live_in.iter().map(|l| l.cluster.as_str()).collect(),
    )
}

/// The cells of the table line that holds `needle`.
fn cells(table: &str, needle: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} in {table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn the_demo_ends_with_frontend_1001_live_in_three_clusters_and_the_backend_failed_in_west_eu()
{
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("fabrikam.db")).unwrap());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let repos = Arc::new(scenario::FabrikamRepos::default());
    let tracker = scenario::tracker(store.clone(), "fabrikam", repos.clone());
    let t0 = Utc::now() - Duration::minutes(22);
    let steps = scenario::steps();
    let mut tables = Vec::new();
    let mut last = Vec::new();
    for step in &steps {
        scenario::play(step, &recorder, &repos, t0).await.unwrap();
        tracker.refresh().await.unwrap();
        last = tracker.deployments(&Filter::default()).await.unwrap();
        tables.push(render::table(&last, true, Utc::now()));
        if step.title.starts_with("The clusters apply them") {
            let dev = row(&last, Some("frontend"), Some("dev"));
            // central-us's notification is held up until the last step.
            let two = vec!["east-us", "west-eu"];
            assert_eq!(clusters(dev), (two.clone(), two));
            assert!(dev.live_in.iter().all(|l| l.exact));
            assert!(dev.cluster_troubles.is_empty());
            let flux = dev
                .clusters
                .iter()
                .find(|c| c.cluster == "west-eu")
                .unwrap();
            assert_eq!(
                flux.tagger.as_deref(),
                Some("flux kustomization flux-system/fabrikam-apps")
            );
            // The event's timestamp, to the second as Flux writes it.
            assert_eq!(
                flux.synced_at.map(|t| t.timestamp()),
                Some((t0 + Duration::minutes(12)).timestamp())
            );
        }
    }
    assert_eq!(steps.len(), 10);

    // The last step: east-us and central-us applied the backend's manifest commit, west-eu
    // failed its health check on it.
    let dev = row(&last, Some("frontend"), Some("dev"));
    assert_eq!(dev.image_tag(), Some("frontend-1001"));
    assert_eq!(
        clusters(dev),
        (vec!["west-eu"], vec!["central-us", "east-us", "west-eu"]),
        "west-eu still runs its commit; the others a later one, where it is still live"
    );
    for live in &dev.live_in {
        let (commit, exact) = if live.cluster == "west-eu" {
            (scenario::DEV_MANIFESTS, true)
        } else {
            (scenario::BACKEND_MANIFESTS, false)
        };
        assert_eq!(
            (live.commit.as_str(), live.exact),
            (commit, exact),
            "{live:?}"
        );
    }
    assert!(dev.cluster_troubles.is_empty());
    let backend = row(&last, Some("backend"), Some("securitybugfix"));
    assert_eq!(
        clusters(backend),
        (vec!["central-us", "east-us"], vec!["central-us", "east-us"])
    );
    let troubles: Vec<_> = backend
        .cluster_troubles
        .iter()
        .map(|t| (t.trouble_text(), t.commit(), t.message.as_deref()))
        .collect();
    assert_eq!(
        troubles,
        [(
            "west-eu failed (HealthCheckFailed)".to_string(),
            scenario::BACKEND_MANIFESTS,
            Some(
                "health check failed after 5m0s: timeout waiting for: [Deployment/securitybugfix/backend status: 'InProgress']"
            )
        )]
    );
    // central-us heard of the dev sync after the backend's: the late report took its place
    // by time and did not move the cluster back.
    let histories = store.cluster_histories("fabrikam").await.unwrap();
    let central = histories
        .iter()
        .find(|h| h.cluster == "central-us")
        .unwrap();
    let applied: Vec<_> = central.reports.iter().map(|r| r.commit()).collect();
    assert_eq!(
        applied,
        [scenario::BACKEND_MANIFESTS, scenario::DEV_MANIFESTS],
        "newest first"
    );
    assert_eq!(
        central.reports[0].sync.tagger.as_deref(),
        Some("argocd argocd/fabrikam-central-us")
    );
    let edit = row(&last, None, None);
    assert_eq!(
        clusters(edit),
        (vec![], vec!["central-us", "east-us"]),
        "Dave's edit came before the backend's commit; west-eu never got past the dev one"
    );
    let master = row(&last, Some("frontend"), Some("master"));
    assert_eq!(master.status, Status::Failed);
    assert_eq!(
        clusters(master),
        (vec![], vec![]),
        "its manifests never came"
    );

    let table = tables.last().unwrap();
    let header = cells(table, "Start Time");
    assert_eq!(
        header[header.len() - 2..],
        ["Cluster Sync", "Live In"],
        "{table}"
    );
    let cells_dev = cells(table, "frontend-1001  ✓ 3001");
    assert_eq!(cells_dev[1], "Complete (synced)", "{table}");
    assert_eq!(
        cells_dev[cells_dev.len() - 2..],
        ["west-eu", "central-us, east-us, west-eu"],
        "{table}"
    );
    let cells_backend = cells(table, "backend-2001");
    assert_eq!(
        cells_backend[cells_backend.len() - 2..],
        [
            "central-us, east-us, west-eu failed (HealthCheckFailed)",
            "central-us, east-us"
        ],
        "the failure is on the backend's cluster step: {table}"
    );
    let json = serde_json::to_value(dev).unwrap();
    assert_eq!(json["clusters"][0]["cluster"], "west-eu");
    assert_eq!(json["liveIn"][1]["cluster"], "east-us");
    assert_eq!(json["liveIn"][1]["exact"], false);
    let json = serde_json::to_value(backend).unwrap();
    assert_eq!(json["clusterTroubles"][0]["cluster"], "west-eu");
    assert_eq!(json["clusterTroubles"][0]["outcome"], "failed");
    assert_eq!(json["clusterTroubles"][0]["reason"], "HealthCheckFailed");
}
