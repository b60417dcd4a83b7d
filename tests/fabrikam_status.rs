//! The Fabrikam demo's last table (`cargo run --example fabrikam`): where each service is
//! running once every step is played, as `spektate status` shows it.

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
async fn the_demo_ends_with_both_services_live_in_east_us_and_up_to_date() {
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
        last.contains("east-us syncs them"),
        "the demo ends elsewhere: {last}"
    );
    tracker.refresh().await.unwrap();
    let deployments = tracker.deployments(&Filter::default()).await.unwrap();
    let rows = placements(&deployments, &PlacementFilter::default());
    let east: Vec<_> = rows.iter().filter(|p| p.cluster == "east-us").collect();
    let seen: Vec<Seen> = east
        .iter()
        .map(|p| {
            (
                p.service.as_deref(),
                p.ring.as_deref(),
                p.image_tag.as_deref(),
                p.exact,
                p.behind.images,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                Some("backend"),
                Some("securitybugfix"),
                Some("backend-2001"),
                true,
                0
            ),
            (
                Some("frontend"),
                Some("dev"),
                Some("frontend-1001"),
                false,
                0
            ),
        ],
        "the manual HLD edit carries no image; frontend/master never got manifests"
    );
    let table = placement::table(&rows, Utc::now());
    let line = |needle: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} in {table}"))
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    assert_eq!(
        line("frontend"),
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
        line("backend"),
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
}
