//! The Fabrikam demo's last table (`cargo run --example fabrikam`): where each service is
//! running in its three clusters once every step is played, as `spektate status` shows it.

#[path = "../examples/fabrikam/scenario.rs"]
mod scenario;

use std::sync::Arc;

use chrono::{Duration, Utc};
use spektate::correlate::placement::{self, PlacementFilter, placements};
use spektate::{Filter, Recorder, SqliteStore};

/// Service, ring, image tag, whether the cluster runs the deployment's own commit, and
/// how many newer images there are.
type Seen<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    bool,
    usize,
);

#[tokio::test]
async fn the_demo_ends_with_both_services_live_in_their_clusters_and_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("fabrikam.db")).unwrap());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let repos = Arc::new(scenario::FabrikamRepos::default());
    let tracker = scenario::tracker(store, "fabrikam", repos.clone());
    let t0 = Utc::now() - Duration::minutes(22);
    let steps = scenario::steps();
    for step in &steps {
        scenario::play(step, &recorder, &repos, t0).await.unwrap();
    }
    let last = steps.last().unwrap().title;
    assert!(
        last.contains("east-us and central-us sync them"),
        "the demo ends elsewhere: {last}"
    );
    tracker.refresh().await.unwrap();
    let deployments = tracker.deployments(&Filter::default()).await.unwrap();
    let rows = placements(&deployments, &PlacementFilter::default());
    let seen: Vec<(&str, Seen)> = rows
        .iter()
        .map(|p| {
            (
                p.cluster.as_str(),
                (
                    p.service.as_deref(),
                    p.ring.as_deref(),
                    p.image_tag.as_deref(),
                    p.exact,
                    p.behind.images,
                ),
            )
        })
        .collect();
    let backend = (
        Some("backend"),
        Some("securitybugfix"),
        Some("backend-2001"),
        true,
        0,
    );
    let frontend = |exact| {
        (
            Some("frontend"),
            Some("dev"),
            Some("frontend-1001"),
            exact,
            0,
        )
    };
    assert_eq!(
        seen,
        [
            ("central-us", backend),
            ("east-us", backend),
            ("central-us", frontend(false)),
            ("east-us", frontend(false)),
            ("west-eu", frontend(true)),
        ],
        "the manual HLD edit carries no image; frontend/master never got manifests; west-eu \
         failed on the backend's commit and still runs the frontend's"
    );
    let table = placement::table(&rows, Utc::now());
    let lines: Vec<Vec<String>> = table
        .lines()
        .skip(1)
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .collect();
    let line = |service: &str, cluster: &str| -> Vec<&str> {
        lines
            .iter()
            .find(|l| l[0] == service && l[2] == cluster)
            .unwrap_or_else(|| panic!("no {service} in {cluster} in {table}"))
            .iter()
            .map(String::as_str)
            .collect()
    };
    assert_eq!(
        line("frontend", "east-us"),
        [
            "frontend",
            "dev",
            "east-us",
            "frontend-1001",
            "2c3d4e5 (later)",
            "just now or earlier",
            "up to date"
        ]
    );
    assert_eq!(
        line("frontend", "west-eu"),
        [
            "frontend",
            "dev",
            "west-eu",
            "frontend-1001",
            "e9f8a7b",
            "10 minutes ago",
            "up to date"
        ],
        "Flux applied the dev manifests at minute 12 of the demo's 22"
    );
    assert_eq!(
        line("backend", "east-us"),
        [
            "backend",
            "securitybugfix",
            "east-us",
            "backend-2001",
            "2c3d4e5",
            "just now",
            "up to date"
        ]
    );
    assert_eq!(
        line("backend", "central-us"),
        [
            "backend",
            "securitybugfix",
            "central-us",
            "backend-2001",
            "2c3d4e5",
            "just now",
            "up to date"
        ],
        "Argo CD finished its sync at minute 22"
    );
}
