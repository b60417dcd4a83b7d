//! `spektate prune`: deletes the records whose runs the CI says are gone (retention expired).
//! `--dry-run` lists them; removing more than a fifth of a partition needs `--force`, so a
//! wrong `--project` or a token that sees nothing cannot wipe a table.

use clap::Args;
use spektate::{Error, Record, Result};

use crate::providers::ProviderArgs;
use crate::store_args::{Access, StoreArgs};

/// The share of a partition above which pruning needs `--force`.
const FORCE_ABOVE: f64 = 0.20;

/// `prune` flags: the providers that tell which runs are gone.
#[derive(Debug, Args)]
pub struct PruneCmd {
    #[command(flatten)]
    pub providers: ProviderArgs,
    /// List what would be deleted and delete nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Delete even when more than 20% of the partition's records would go.
    #[arg(long)]
    pub force: bool,
    /// Seconds the providers have, in all, to say which runs are gone.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
}

fn line(r: &Record) -> String {
    let runs: Vec<String> = [("p1", &r.p1), ("p2", &r.p2), ("p3", &r.p3)]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}={v}")))
        .collect();
    format!(
        "{}  {}  {}  {}",
        r.row_key,
        r.service_name().unwrap_or("-"),
        r.image_tag.as_deref().unwrap_or("-"),
        runs.join(" ")
    )
}

/// Runs `prune`.
pub async fn run(cmd: PruneCmd, store: &StoreArgs) -> Result<()> {
    let budget = crate::get::provider_budget(cmd.timeout)?;
    let opened = store.open(if cmd.dry_run {
        Access::Read
    } else {
        Access::Write
    })?;
    let partition = store.partition_key.clone();
    let tracker = cmd
        .providers
        .build()?
        .tracker(opened, partition.clone())
        .build();
    // The first refresh reads every record of the partition: its count is the whole.
    let total = spektate::correlate::within(budget, tracker.refresh())
        .await?
        .records_read;
    let expired = tracker.snapshot().expired.clone();
    let share = if total == 0 {
        0.0
    } else {
        expired.len() as f64 / total as f64
    };
    if cmd.dry_run {
        for r in &expired {
            crate::stdout::line(&line(r))?;
        }
        return crate::stdout::line(&format!(
            "would delete {} of {total} records of partition {partition} ({:.0}%)",
            expired.len(),
            share * 100.0
        ));
    }
    if share > FORCE_ABOVE && !cmd.force {
        return Err(Error::invalid(
            "--force",
            format!(
                "is needed to delete {} of {total} records of partition {partition} ({:.0}%, more than {:.0}%); check --project and the token, see the list with --dry-run",
                expired.len(),
                share * 100.0,
                FORCE_ABOVE * 100.0
            ),
        ));
    }
    let n = tracker.prune_expired().await?;
    crate::stdout::line(&format!(
        "deleted {n} of {total} records of partition {partition}"
    ))
}
