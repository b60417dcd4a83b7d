//! `spektate metrics`: the DORA metrics of the deployments `get` would show, as a table or
//! JSON (`spektate_core::insights`).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use spektate::correlate::within;
use spektate::insights::{GroupBy, MetricsOptions, dora, text};
use spektate::warnings::collect_notices;
use spektate::{DeploymentKind, Error, Filter, Result, Window};

use crate::get::{parse_window, provider_budget};
use crate::progress::Progress;
use crate::providers::ProviderArgs;
use crate::store_args::{Access, StoreArgs};

/// `metrics` flags.
#[derive(Debug, Args)]
pub struct MetricsCmd {
    /// Only this service.
    #[arg(short = 's', long)]
    pub service: Option<String>,
    /// Only this ring.
    #[arg(short = 'e', long = "env", visible_alias = "ring")]
    pub env: Option<String>,
    /// Only changes by this author (name, e-mail or login; a part matches, or in double
    /// quotes, "Al", only the whole).
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Only this image tag.
    #[arg(short = 'i', long = "image-tag")]
    pub image_tag: Option<String>,
    /// Only the deployment with this p1, p2 or p3 run id.
    #[arg(short = 'b', long = "build-id")]
    pub build_id: Option<String>,
    /// Only this commit (source, HLD or manifest; 7+ character prefix).
    #[arg(short = 'c', long = "commit-id")]
    pub commit_id: Option<String>,
    /// Only deployments or only manual HLD edits: deployment | manual-hld-edit.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only deployments with this word in any shown field.
    #[arg(long)]
    pub keyword: Option<String>,
    /// The window's start: a span back from now (90d, 12h, 2w), a date (2026-01-31) or `all`.
    /// Deployments count by the time they finished; records written before it are not read.
    #[arg(long, default_value = "90d", value_name = "SPAN|DATE|all", value_parser = parse_window)]
    pub since: Window,
    /// The window's end: a date (2026-03-31, its start) or an RFC 3339 time; default now.
    #[arg(long, value_name = "DATE", value_parser = parse_until)]
    pub until: Option<DateTime<Utc>>,
    /// Break the figures down by service, ring or week.
    #[arg(long, value_name = "service|ring|week", value_parser = parse_by)]
    pub by: Option<GroupBy>,
    /// Output: table or json.
    #[arg(short = 'o', long, default_value = "table")]
    pub output: String,
    /// Give providers at most SECONDS; then measure what is known.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
    #[command(flatten)]
    pub providers: ProviderArgs,
}

/// Parses `--until`.
fn parse_until(v: &str) -> std::result::Result<DateTime<Utc>, String> {
    let t = v.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            format!("'{v}' is not a date such as 2026-03-31 or a time such as 2026-03-31T12:00:00Z")
        })
}

/// Parses `--by`.
fn parse_by(v: &str) -> std::result::Result<GroupBy, String> {
    GroupBy::parse(v).map_err(|e| match e {
        Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    })
}

impl MetricsCmd {
    fn filter(&self) -> Result<Filter> {
        Ok(Filter {
            service: self.service.clone(),
            ring: self.env.clone(),
            author: self.author.clone(),
            image_tag: self.image_tag.clone(),
            run_id: self.build_id.clone(),
            commit: self.commit_id.clone(),
            kind: self
                .kind
                .as_deref()
                .map(DeploymentKind::parse)
                .transpose()
                .map_err(|e| crate::get::as_flag(e, "--kind"))?,
            keyword: self.keyword.clone(),
            ..Filter::default()
        })
    }
}

/// How long past the provider deadline the store may take.
const STORE_GRACE: Duration = Duration::from_secs(5);

/// Runs `metrics`.
pub async fn run(cmd: MetricsCmd, store: &StoreArgs) -> Result<()> {
    let json = match cmd.output.trim().to_ascii_lowercase().as_str() {
        "table" => false,
        "json" => true,
        _ => {
            return Err(Error::invalid(
                "--output",
                format!("'{}' is not one of table, json", cmd.output),
            ));
        }
    };
    let now = Utc::now();
    let until = cmd.until.unwrap_or(now);
    let since = cmd.since.start(now);
    if since.is_some_and(|s| s >= until) {
        return Err(Error::invalid(
            "--until",
            format!(
                "{until} is not after the window's start ({})",
                since.unwrap_or(until)
            ),
        ));
    }
    // Metrics count deployments whose runs the CI no longer has, from what the store kept.
    let filter = cmd.filter()?.counting();
    let budget = provider_budget(cmd.timeout)?;
    let tracker = cmd
        .providers
        .build()?
        .tracker(store.open(Access::Read)?, store.partition_key.clone())
        .filter(&filter)
        .window(cmd.since)
        .build();
    let deployments = {
        let _progress = Progress::start("reading deployments");
        let work = collect_notices(within(budget, tracker.refresh()));
        let Ok((refreshed, _notices)) = tokio::time::timeout(budget + STORE_GRACE, work).await
        else {
            return Err(Error::store(
                tracker.store().describe(),
                "query",
                format!("no answer within {} s", (budget + STORE_GRACE).as_secs()),
            ));
        };
        refreshed?;
        tracker.deployments(&filter).await?
    };
    let metrics = dora(
        &deployments,
        &MetricsOptions {
            since,
            until,
            by: cmd.by,
        },
    );
    if json {
        let text = serde_json::to_string_pretty(&metrics).map_err(|e| Error::invalid("json", e))?;
        crate::stdout::line(&text)
    } else {
        let table = text::table(&metrics);
        crate::stdout::line(table.strip_suffix('\n').unwrap_or(&table))
    }
}
