//! `spektate status`: where each service is running: per service, ring and cluster, the image
//! tag live there, since when, and how far behind the newest image it is.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::Utc;
use clap::Args;
use spektate::correlate::placement::{self, Placement, PlacementFilter};
use spektate::{Error, Filter, Result, Window};

use crate::get::{parse_window, provider_budget, refresh, warn};
use crate::progress::Progress;
use crate::providers::ProviderArgs;
use crate::store_args::{Access, StoreArgs};

/// `status` flags.
#[derive(Debug, Args)]
pub struct StatusCmd {
    /// Only this service.
    #[arg(short = 's', long)]
    pub service: Option<String>,
    /// Only this ring.
    #[arg(short = 'e', long = "env", visible_alias = "ring")]
    pub env: Option<String>,
    /// Only where this image tag is live (newer images of its service still count).
    #[arg(short = 'i', long = "image-tag")]
    pub image_tag: Option<String>,
    /// Only this cluster.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Only deployments whose record was written in this window: a span (90d, 12h, 2w), a
    /// date (2026-01-31) or `all`.
    #[arg(long, default_value = "90d", value_name = "SPAN|DATE|all", value_parser = parse_window)]
    pub since: Window,
    /// Output: normal or json.
    #[arg(short = 'o', long, default_value = "normal")]
    pub output: String,
    /// Refresh every SECONDS (default 30) until interrupted.
    #[arg(short = 'w', long, num_args = 0..=1, default_missing_value = "30", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub watch: Option<u64>,
    /// Give providers at most SECONDS; then show what is known, with warnings for the rest.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
    #[command(flatten)]
    pub providers: ProviderArgs,
}

/// Whether `-o` asks for JSON; only `normal` and `json` are accepted.
fn json_output(v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "normal" => Ok(false),
        "json" => Ok(true),
        _ => Err(Error::invalid(
            "--output",
            format!("'{v}' is not one of normal, json"),
        )),
    }
}

impl StatusCmd {
    /// The rows the flags ask for.
    pub fn filter(&self) -> PlacementFilter {
        PlacementFilter {
            service: self.service.clone(),
            ring: self.env.clone(),
            image_tag: self.image_tag.clone(),
            cluster: self.cluster.clone(),
        }
    }
}

/// Prints `rows` as a table, or as a JSON array.
pub fn print(out: &mut impl Write, rows: &[Placement], json: bool) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, rows).map_err(std::io::Error::other)?;
        return writeln!(out);
    }
    if rows.is_empty() {
        return writeln!(
            out,
            "No service is live in any cluster yet (no agent reported a commit of a deployment shown)."
        );
    }
    write!(out, "{}", placement::table(rows, Utc::now()))
}

/// Runs `status`.
pub async fn run(cmd: StatusCmd, store: &StoreArgs) -> Result<()> {
    let json = json_output(&cmd.output)?;
    let only = cmd.filter();
    // Every deployment is read: the commit a cluster runs may be another service's.
    let filter = Filter::default();
    let budget = provider_budget(cmd.timeout)?;
    let tracker = cmd
        .providers
        .build()?
        .tracker(store.open(Access::Read)?, store.partition_key.clone())
        .window(cmd.since)
        .build();
    let stdout = std::io::stdout();
    loop {
        let (deployments, notices) = {
            let _progress = Progress::start("reading deployments");
            refresh(&tracker, &filter, budget).await?
        };
        let rows = placement::placements(&deployments, &only);
        let mut out = stdout.lock();
        if cmd.watch.is_some() && !json && stdout.is_terminal() {
            write!(out, "\x1b[2J\x1b[H").ok();
        }
        match print(&mut out, &rows, json) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Error::invalid("stdout", e)),
        }
        drop(out);
        warn(&deployments, &notices);
        let Some(every) = cmd.watch else {
            return Ok(());
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(every)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
