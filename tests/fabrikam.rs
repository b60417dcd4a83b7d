//! The Fabrikam demo (`cargo run --example fabrikam`) played step by step, as the example plays
//! it, with what a user reads off its tables after the steps that move a cluster: the exact
//! commit a cluster runs (synced) and where each deployment is live.

#[path = "../examples/fabrikam/scenario.rs"]
mod scenario;

use std::sync::Arc;

use chrono::{Duration, Utc};
use spektate::{Deployment, Filter, Recorder, SqliteStore, Status, render};

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
async fn the_demo_ends_with_frontend_1001_still_live_in_east_us() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("fabrikam.db")).unwrap());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let repos = Arc::new(scenario::FabrikamRepos::default());
    let tracker = scenario::tracker(store, "fabrikam", repos.clone());
    let t0 = Utc::now() - Duration::minutes(22);
    let steps = scenario::steps();
    let mut tables = Vec::new();
    let mut last = Vec::new();
    for step in &steps {
        scenario::play(step, &recorder, &repos, t0).await.unwrap();
        tracker.refresh().await.unwrap();
        last = tracker.deployments(&Filter::default()).await.unwrap();
        tables.push(render::table(&last, true, Utc::now()));
        if step.title.starts_with("Flux in east-us applies them") {
            let dev = row(&last, Some("frontend"), Some("dev"));
            assert_eq!(clusters(dev), (vec!["east-us"], vec!["east-us"]));
            assert!(dev.live_in[0].exact);
        }
    }
    assert_eq!(steps.len(), 10);

    // The last step: east-us applied the backend's manifest commit.
    let dev = row(&last, Some("frontend"), Some("dev"));
    assert_eq!(dev.image_tag(), Some("frontend-1001"));
    assert_eq!(
        clusters(dev),
        (vec![], vec!["east-us"]),
        "no longer on its own commit, still live"
    );
    assert_eq!(
        dev.live_in[0].commit,
        "2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"
    );
    assert!(!dev.live_in[0].exact);
    let backend = row(&last, Some("backend"), Some("securitybugfix"));
    assert_eq!(clusters(backend), (vec!["east-us"], vec!["east-us"]));
    let edit = row(&last, None, None);
    assert_eq!(
        clusters(edit),
        (vec![], vec!["east-us"]),
        "Dave's edit came before"
    );
    let master = row(&last, Some("frontend"), Some("master"));
    assert_eq!(master.status, Status::Failed);
    assert_eq!(
        clusters(master),
        (vec![], vec![]),
        "its manifests never came"
    );

    let table = tables.last().unwrap();
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .ends_with("Cluster Sync  Live In"),
        "{table}"
    );
    let cells_dev = cells(table, "frontend-1001  ✓ 3001");
    assert_eq!(cells_dev[1], "Complete (live)", "{table}");
    assert_eq!(
        cells_dev[cells_dev.len() - 2..],
        ["-", "east-us"],
        "{table}"
    );
    let json = serde_json::to_value(dev).unwrap();
    assert_eq!(json["clusters"], serde_json::json!([]));
    assert_eq!(json["liveIn"][0]["cluster"], "east-us");
}
