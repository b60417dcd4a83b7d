//! The Fabrikam demo: the talk's scenario played step by step on a fresh SQLite file, with
//! run reports instead of a CI account, printing the deployments after each step.
//!
//! ```text
//! cargo run --example fabrikam             # play it and print the table after each step
//! cargo run --example fabrikam -- --keep   # leave fabrikam.db behind for `spektate get`
//! ```

mod scenario;

use std::sync::Arc;

use chrono::{Duration, Utc};
use spektate::{Filter, Recorder, SqliteStore, render};

const PARTITION: &str = "fabrikam";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keep = std::env::args().any(|a| a == "--keep");
    let dir = tempfile::tempdir()?;
    let path = if keep { std::path::PathBuf::from("fabrikam.db") } else { dir.path().join("fabrikam.db") };
    if keep {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("fabrikam.db{suffix}"));
        }
    }
    let store = Arc::new(SqliteStore::open(&path)?);
    let recorder = Recorder::new(store.clone(), PARTITION)?;
    let repos = Arc::new(scenario::FabrikamRepos::default());
    let tracker = scenario::tracker(store, PARTITION, repos.clone());
    let t0 = Utc::now() - Duration::minutes(22);

    println!("Fabrikam: where is my container? (store: {})\n", path.display());
    for (i, step) in scenario::steps().iter().enumerate() {
        scenario::play(step, &recorder, &repos, t0).await?;
        tracker.refresh().await?;
        let deployments = tracker.deployments(&Filter::default()).await?;
        println!("── Step {}: {}", i + 1, step.title);
        print!("{}", render::table(&deployments, true, Utc::now()));
        println!();
    }
    if keep {
        println!("The store is in fabrikam.db: try `spektate get --store sqlite:fabrikam.db -p {PARTITION} -o wide`.");
    }
    Ok(())
}
