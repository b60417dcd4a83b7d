//! Where is my container, on the original Bedrock stack: the deployments an Azure DevOps
//! project's pipelines recorded into an Azure Storage table, joined with its builds,
//! releases, commit authors, approval pull requests and Flux sync tags.
//!
//! ```text
//! export SPEKTATE_AZDO_ORG=fabrikam SPEKTATE_AZDO_PROJECT=hello-bedrock SPEKTATE_AZDO_TOKEN=<PAT>
//! export SPEKTATE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...'
//! export SPEKTATE_TABLE_NAME=deployments SPEKTATE_PARTITION_KEY=hello-bedrock
//! export SPEKTATE_MANIFEST_REPO=https://dev.azure.com/fabrikam/hello-bedrock/_git/manifests   # optional
//! cargo run --example azure_devops --features azdo
//! ```
//!
//! Without a connection string it reads a local Azurite (`UseDevelopmentStorage=true`);
//! `SPEKTATE_AZDO_URL` points at an Azure DevOps Server instead of `https://dev.azure.com`.

use std::sync::Arc;

use chrono::Utc;
use spektate::azdo::{AzureDevOps, AzureRepos, AzureTableStore};
use spektate::http::Secret;
use spektate::{Filter, RecordStore, RepoRef, Tracker, render};

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String, String> {
    var(name).ok_or_else(|| format!("{name} is not set; see the top of examples/azure_devops.rs"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let org = required("SPEKTATE_AZDO_ORG")?;
    let project = required("SPEKTATE_AZDO_PROJECT")?;
    let token = Secret::new(required("SPEKTATE_AZDO_TOKEN")?);
    let partition = required("SPEKTATE_PARTITION_KEY")?;
    let table = var("SPEKTATE_TABLE_NAME").unwrap_or_else(|| "deployments".to_string());
    let connection = var("SPEKTATE_STORAGE_CONNECTION_STRING")
        .unwrap_or_else(|| "UseDevelopmentStorage=true".to_string());
    let base = var("SPEKTATE_AZDO_URL").unwrap_or_else(|| spektate::azdo::DEFAULT_URL.to_string());

    let store = Arc::new(AzureTableStore::from_connection_string(
        &connection,
        &table,
    )?);
    let org_url = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        spektate::url_encode::segment(&org)
    );
    let pipelines = AzureDevOps::new(org_url, &project, token.clone())?;
    let repos = AzureRepos::builder().base_url(&base).token(token).build()?;
    println!("project {project}: {}", pipelines.check().await?);

    let mut builder = Tracker::builder(store.clone())
        .partition(&partition)
        .pipelines(Arc::new(pipelines))
        .repositories(Arc::new(repos));
    if let Some(url) = var("SPEKTATE_MANIFEST_REPO") {
        builder = builder.manifest_repo(RepoRef::parse(&url)?);
    }
    let tracker = builder.build();
    let stats = tracker.refresh().await?;
    let deployments = tracker.deployments(&Filter::default()).await?;
    println!(
        "{} records in {} (partition {partition})\n",
        stats.records_read,
        store.describe()
    );
    print!("{}", render::table(&deployments, true, Utc::now()));
    for d in deployments.iter().filter(|d| !d.warnings.is_empty()) {
        eprintln!("{}: {}", d.id(), d.warnings.join("; "));
    }
    Ok(())
}
