//! `deployment get|g`: bedrock's filters, top 50, its normal and wide tables and its JSON,
//! `-w` every 5 seconds, `-h` without separators. Store and providers from the flags, else
//! `~/.bedrock/config.yaml`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::Utc;
use clap::Args;
use spektate::correlate::within;
use spektate::warnings::{Tally, collect_notices};
use spektate::{Deployment, Error, Filter, Result, Tracker, Window, render};

use super::output::{self, Layout};
use super::sources::{ReadStoreFlags, providers_with_config};
use crate::providers::ProviderArgs;
use crate::store_args::Access;

/// `deployment get` flags, as bedrock's (`-h` hides the separators; help is `--help`).
#[derive(Debug, Args)]
pub struct GetCmd {
    /// Filter by the build ID of the source repository
    #[arg(short = 'b', long = "build-id", value_name = "build-id")]
    pub build_id: Option<String>,
    /// Filter by a commit ID from the source repository
    #[arg(short = 'c', long = "commit-id", value_name = "commit-id")]
    pub commit_id: Option<String>,
    /// Filter by the deployment ID of the source repository
    #[arg(short = 'd', long = "deployment-id", value_name = "deployment-id")]
    pub deployment_id: Option<String>,
    /// Filter by a container image tag
    #[arg(short = 'i', long = "image-tag", value_name = "image-tag")]
    pub image_tag: Option<String>,
    /// Filter by ring name
    #[arg(short = 'r', long = "ring", value_name = "ring")]
    pub ring: Option<String>,
    /// Filter by service name
    #[arg(short = 's', long = "service", value_name = "service-name")]
    pub service: Option<String>,
    /// Return only top N most recent deployments
    #[arg(short = 't', long = "top", value_name = "top", default_value = "50")]
    pub top: String,
    /// Output the information one of the following: normal, wide, JSON
    #[arg(
        short = 'o',
        long = "output",
        value_name = "output-format",
        default_value = "normal"
    )]
    pub output: String,
    /// Watch the deployments for a live view
    #[arg(short = 'w', long = "watch")]
    pub watch: bool,
    /// Display the table without separators between columns
    #[arg(short = 'h', long = "hide-separators")]
    pub hide_separators: bool,
    /// Give providers at most SECONDS; then show what is known, with warnings for the rest
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
    #[command(flatten)]
    pub store: ReadStoreFlags,
    #[command(flatten)]
    pub providers: ProviderArgs,
    /// Print help
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// bedrock's output formats: `wide` and `json` in any case, anything else normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Normal,
    Wide,
    Json,
}

fn format(word: &str) -> Format {
    match word.trim().to_ascii_lowercase().as_str() {
        "wide" => Format::Wide,
        "json" => Format::Json,
        _ => Format::Normal,
    }
}

/// `--top`: a whole number; 0 shows every deployment, as bedrock's did.
fn top(value: &str) -> Result<Option<usize>> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "--top",
            format!("'{value}' is not a whole number"),
        ));
    }
    match v.parse::<usize>() {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(Error::invalid(
            "--top",
            format!("'{value}' is too large; 0 shows every deployment"),
        )),
    }
}

/// The filter of the flags; the build id is p1's, checked after the store's query.
fn filter(cmd: &GetCmd) -> Filter {
    let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    Filter {
        service: given(&cmd.service),
        ring: given(&cmd.ring),
        image_tag: given(&cmd.image_tag),
        run_id: given(&cmd.build_id),
        commit: given(&cmd.commit_id),
        deployment_id: given(&cmd.deployment_id),
        ..Filter::default()
    }
}

/// The deployments to show: p1 is the build id when one is given; newest first, `top` of them.
fn shown(
    mut deployments: Vec<Deployment>,
    build_id: Option<&str>,
    top: Option<usize>,
) -> Vec<Deployment> {
    if let Some(id) = build_id.map(str::trim).filter(|s| !s.is_empty()) {
        deployments.retain(|d| {
            d.record
                .p1
                .as_deref()
                .is_some_and(|p1| p1.eq_ignore_ascii_case(id))
        });
    }
    if let Some(n) = top {
        deployments.truncate(n);
    }
    deployments
}

/// How long past the provider deadline the store may take.
const STORE_GRACE: Duration = Duration::from_secs(5);

/// How often `-w` refreshes, as bedrock did.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// The most warning lines printed.
const MAX_WARNING_LINES: usize = 20;

async fn read(tracker: &Tracker, filter: &Filter, budget: Duration) -> Result<Vec<Deployment>> {
    let work = collect_notices(within(budget, tracker.refresh()));
    let Ok((refreshed, notices)) = tokio::time::timeout(budget + STORE_GRACE, work).await else {
        return Err(Error::store(
            tracker.store().describe(),
            "query",
            format!("no answer within {} s", (budget + STORE_GRACE).as_secs()),
        ));
    };
    refreshed?;
    let deployments = tracker.deployments(filter).await?;
    let mut tally = Tally::default();
    tally.deployments(&deployments);
    for n in &notices {
        tally.notice(n);
    }
    for line in render::warning_lines(&tally.summaries(), MAX_WARNING_LINES) {
        eprintln!("warning: {line}");
    }
    Ok(deployments)
}

/// What `deployment get` prints for `deployments`.
pub fn render_output(
    deployments: &[Deployment],
    word: &str,
    hide_separators: bool,
    colour: bool,
) -> String {
    let now = Utc::now();
    match format(word) {
        Format::Json => {
            let list: Vec<output::DeploymentJson> = deployments
                .iter()
                .map(|d| output::deployment_json(d, now))
                .collect();
            let mut text = serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into());
            text.push('\n');
            text
        }
        _ if deployments.is_empty() => "No deployments found for specified filters.\n".into(),
        f => {
            let rows: Vec<output::Row> = deployments.iter().map(|d| output::row(d, now)).collect();
            output::table(
                &rows,
                Layout {
                    wide: f == Format::Wide,
                    hide_separators,
                    colour,
                },
            )
        }
    }
}

/// Runs `deployment get`.
pub async fn run(cmd: GetCmd) -> Result<()> {
    let top = top(&cmd.top)?;
    let budget = crate::get::provider_budget(cmd.timeout)?;
    let choice = cmd.store.choice();
    let config = choice.config()?;
    let place = choice.resolve(config.as_ref())?;
    let mut providers = providers_with_config(&cmd.providers, config.as_ref());
    providers.github_ids.get_or_insert_with(|| "auto".into());
    let filter = filter(&cmd);
    let tracker = providers
        .build()?
        .tracker(place.open(Access::Read)?, place.partition.clone())
        .filter(&filter)
        .window(Window::All)
        .build();
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal();
    loop {
        let deployments = shown(
            read(&tracker, &filter, budget).await?,
            cmd.build_id.as_deref(),
            top,
        );
        let text = render_output(&deployments, &cmd.output, cmd.hide_separators, colour);
        let mut out = stdout.lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Error::invalid("stdout", e)),
        }
        drop(out);
        if !cmd.watch {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_is_a_whole_number_and_zero_is_all() {
        assert_eq!(top("50").unwrap(), Some(50));
        assert_eq!(top("0").unwrap(), None);
        let e = top("99999999999999999999").unwrap_err().to_string();
        assert!(e.contains("--top") && e.contains("too large"), "{e}");
        let e = top("ten").unwrap_err().to_string();
        assert!(e.contains("--top") && e.contains("'ten'"), "{e}");
    }

    #[test]
    fn output_words_are_bedrocks() {
        assert_eq!(format("JSON"), Format::Json);
        assert_eq!(format("Wide"), Format::Wide);
        assert_eq!(format("table"), Format::Normal);
    }
}
