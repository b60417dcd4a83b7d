//! Traces the deployments of a store against GitLab: pipelines and their stages, commit
//! authors, merge requests and Flux sync tags, then refreshes once to show what an unchanged
//! refresh costs.
//!
//! ```text
//! export SPEKTATE_GITLAB_TOKEN=glpat-...               # read_api on the projects
//! export SPEKTATE_STORE=sqlite:spektate.db             # where the pipelines record
//! export SPEKTATE_PARTITION_KEY=fabrikam
//! export SPEKTATE_MANIFEST_REPO=https://gitlab.com/fabrikam/manifests   # optional: cluster sync
//! export SPEKTATE_GITLAB_URL=https://gitlab.fabrikam.com                # optional: self-managed
//! export SPEKTATE_GITLAB_PROJECT=21761957              # optional: for records naming no project
//! cargo run --example gitlab --features gitlab
//! ```

use std::sync::Arc;

use chrono::Utc;
use spektate::gitlab::{GitLab, Project, Secret};
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

    let mut gitlab = GitLab::builder().maybe_token(env("SPEKTATE_GITLAB_TOKEN").map(Secret::new));
    if let Some(url) = env("SPEKTATE_GITLAB_URL") {
        gitlab = gitlab.url(url);
    }
    let gitlab = gitlab.build()?;
    let mut pipelines = gitlab.pipelines();
    if let Some(project) = env("SPEKTATE_GITLAB_PROJECT") {
        pipelines = pipelines.default_project(Project::parse(&project)?);
    }

    let mut tracker = Tracker::builder(store)
        .partition(partition.as_str())
        .pipelines(Arc::new(pipelines))
        .repositories(Arc::new(gitlab.repos()));
    if let Some(url) = env("SPEKTATE_MANIFEST_REPO") {
        tracker = tracker.manifest_repo(RepoRef::parse(&url)?);
    }
    let tracker = tracker.build();

    let deployments = tracker.deployments(&Filter::default()).await?;
    print!("{}", render::table(&deployments, true, Utc::now()));
    let cold = gitlab.stats();
    println!(
        "\n{} deployments from {} ({} requests, {} of them GraphQL)",
        deployments.len(),
        gitlab.api_url(),
        cold.requests,
        cold.graphql_queries
    );

    tracker.refresh().await?;
    let after = gitlab.stats();
    println!(
        "refresh: {} requests, {} answered 304 Not Modified",
        after.requests - cold.requests,
        after.not_modified - cold.not_modified
    );
    Ok(())
}
