//! `spektate validate`: checks the store (reads the partition, then writes, reads back and
//! deletes a probe record in the partition `<partition>~probe`) and the credentials of each
//! configured provider, one line each, as `bedrock deployment validate` did.

use clap::Args;
use spektate::{Error, Record, RecordQuery, Recorder, Result};

use crate::providers::ProviderArgs;
use crate::store_args::{Access, StoreArgs};

/// `validate` flags: the providers to check (the store flags are global).
#[derive(Debug, Args)]
pub struct ValidateCmd {
    #[command(flatten)]
    pub providers: ProviderArgs,
}

/// The suffix of the partition a probe record is written to.
const PROBE_SUFFIX: &str = "~probe";

/// The partition of the probe: beside `partition`, never in it, so a dashboard reading
/// `partition` cannot show the probe as a deployment, even when its delete fails.
fn probe_partition(partition: &str) -> String {
    format!("{partition}{PROBE_SUFFIX}")
}

/// Reads the partition, then writes a probe record in a partition of its own, reads it back
/// and deletes it, conditional on the ETag the insert returned.
async fn check_store(store: &StoreArgs) -> Result<String> {
    let opened = store.open(Access::Write)?;
    // The partition key a pipeline records into must be one the recorder accepts.
    Recorder::new(opened.clone(), store.partition_key.as_str())?;
    let partition = probe_partition(&store.partition_key);
    let mut probe = Record::new(&partition);
    // The partition itself is only read, never written.
    opened
        .query(
            &store.partition_key,
            &RecordQuery::all().row_key(&probe.row_key),
        )
        .await?;
    probe.set_column("service", Some("spektate-validate".into()));
    probe.set_column(
        "imageTag",
        Some(format!("spektate-validate-{}", probe.row_key)),
    );
    let written = opened.insert(&probe).await?;
    let read = opened
        .query(&partition, &RecordQuery::all().row_key(&probe.row_key))
        .await;
    let deleted = opened
        .delete(&partition, &probe.row_key, written.etag.as_deref())
        .await;
    let read = read?;
    deleted?;
    if read.len() != 1 || read[0].columns() != written.columns() {
        return Err(Error::store(
            opened.describe(),
            "read back",
            "the probe record did not come back as written",
        ));
    }
    Ok(format!(
        "{} partition {}: read; wrote, read back and deleted a probe record in {partition}",
        opened.describe(),
        store.partition_key
    ))
}

/// Runs `validate`: the store, then every provider's own check (its token and settings)
/// and each named repository through the provider that serves it; an error when any failed.
pub async fn run(cmd: ValidateCmd, store: &StoreArgs) -> Result<()> {
    let mut lines: Vec<(String, Result<String>)> = Vec::new();
    lines.push(("store".into(), check_store(store).await));

    let providers = cmd.providers.build()?;
    for p in &providers.pipelines {
        if let Some(outcome) = p.check().await.transpose() {
            lines.push((p.name(), outcome));
        }
    }
    for r in &providers.repositories {
        if let Some(outcome) = r.check().await.transpose() {
            lines.push((r.name(), outcome));
        }
    }
    for s in &providers.sync_sources {
        if let Some(outcome) = s.check().await.transpose() {
            lines.push((s.name(), outcome));
        }
    }
    let defaults = &providers.defaults;
    let named = [
        &defaults.manifest_repo,
        &defaults.hld_repo,
        &defaults.source_repo,
    ];
    for repo in named.into_iter().flatten() {
        let served = spektate::correlate::fetch::provider_for(&providers.repositories, repo);
        let outcome = match served {
            Some(r) => r.check_repo(repo).await,
            None => Err(Error::invalid(
                "repository",
                format!(
                    "{} is not contacted: no provider is configured for host {}",
                    repo.web_url(),
                    repo.host
                ),
            )),
        };
        lines.push((format!("repository {}", repo.web_url()), outcome));
    }

    let failed = lines.iter().filter(|(_, r)| r.is_err()).count();
    // A closed output stops the lines; a failed check is still the outcome that counts.
    let shown = lines.iter().try_for_each(|(name, outcome)| match outcome {
        Ok(detail) => crate::stdout::line(&format!("{name}: ok ({detail})")),
        Err(e) => crate::stdout::line(&format!("{name}: failed: {e}")),
    });
    if failed > 0 {
        return Err(Error::invalid(
            "validate",
            format!("{failed} of {} checks failed", lines.len()),
        ));
    }
    shown
}
