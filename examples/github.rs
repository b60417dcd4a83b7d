//! Traces the deployments of a store against GitHub: workflow runs, commit authors, pull
//! requests and Flux sync tags, then refreshes once to show what an unchanged refresh costs.
//!
//! ```text
//! export SPEKTATE_GITHUB_TOKEN=ghp_...                 # a token that can read the repositories
//! export SPEKTATE_STORE=sqlite:spektate.db             # where the pipelines record
//! export SPEKTATE_PARTITION_KEY=fabrikam
//! export SPEKTATE_MANIFEST_REPO=https://github.com/fabrikam/manifests   # optional: cluster sync
//! export SPEKTATE_GITHUB_URL=https://github.example.com/api/v3          # optional: Enterprise
//! cargo run --example github --features github
//! ```

use std::sync::Arc;

use chrono::Utc;
use spektate::github::{GitHub, Secret};
use spektate::{Filter, RepoRef, SqliteStore, Tracker, render};

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store_spec = env("SPEKTATE_STORE").unwrap_or_else(|| "sqlite:spektate.db".to_string());
    let Some(path) = store_spec.strip_prefix("sqlite:") else {
        return Err(format!("SPEKTATE_STORE '{store_spec}' is not sqlite:PATH").into());
    };
    let partition = env("SPEKTATE_PARTITION_KEY").unwrap_or_else(|| "default".to_string());
    let store = Arc::new(SqliteStore::open_existing(path)?);

    let mut github = GitHub::builder().maybe_token(env("SPEKTATE_GITHUB_TOKEN").map(Secret::new));
    if let Some(url) = env("SPEKTATE_GITHUB_URL") {
        github = github.api_url(url);
    }
    let github = github.build()?;

    let mut tracker = Tracker::builder(store)
        .partition(partition.as_str())
        .pipelines(Arc::new(github.actions()))
        .repositories(Arc::new(github.repos()));
    if let Some(url) = env("SPEKTATE_MANIFEST_REPO") {
        tracker = tracker.manifest_repo(RepoRef::parse(&url)?);
    }
    let tracker = tracker.build();

    let deployments = tracker.deployments(&Filter::default()).await?;
    print!("{}", render::table(&deployments, true, Utc::now()));
    let cold = github.stats();
    println!(
        "\n{} deployments from {} ({} requests, {} of them GraphQL)",
        deployments.len(),
        github.api_url(),
        cold.requests,
        cold.graphql_queries
    );

    tracker.refresh().await?;
    let after = github.stats();
    println!(
        "refresh: {} requests, {} answered 304 Not Modified (free against the rate limit)",
        after.requests - cold.requests,
        after.not_modified - cold.not_modified
    );
    Ok(())
}
