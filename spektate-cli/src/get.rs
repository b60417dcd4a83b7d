//! `spektate get`: the deployments, as a table or JSON (flags of `bedrock deployment get`).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::Utc;
use clap::Args;
use spektate::correlate::within;
use spektate::warnings::{Notice, Tally, collect_notices};
use spektate::{
    Deployment, DeploymentKind, Error, Filter, Result, Status, Tracker, Window, render,
};

use crate::answers_cache::CacheArgs;
use crate::progress::Progress;
use crate::providers::ProviderArgs;
use crate::store_args::{Access, StoreArgs};

/// `get` flags.
#[derive(Debug, Args)]
pub struct GetCmd {
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
    /// Only this deployment id.
    #[arg(short = 'd', long = "deployment-id")]
    pub deployment_id: Option<String>,
    /// Only deployments or only manual HLD edits: deployment | manual-hld-edit.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this status: complete (or succeeded) | in-progress | failed | canceled | incomplete.
    #[arg(long)]
    pub status: Option<String>,
    /// Only deployments with this word in any shown field.
    #[arg(long)]
    pub keyword: Option<String>,
    /// At most this many, newest first (`-t`, as bedrock's `--top`).
    #[arg(long)]
    pub top: Option<usize>,
    /// Also show deployments whose runs the CI no longer has (retention), from what was
    /// recorded and what the store kept of their runs; marked `(expired)`.
    #[arg(long = "include-expired")]
    pub include_expired: bool,
    /// Only deployments whose record was written in this window: a span (90d, 12h, 2w), a
    /// date (2026-01-31) or `all`. Older ones stay in the store.
    #[arg(long, default_value = "90d", value_name = "SPAN|DATE|all", value_parser = parse_window)]
    pub since: Window,
    /// Output: normal, wide or json.
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
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The normal table.
    Normal,
    /// The table with start time, author, PR, merged by and cluster sync.
    Wide,
    /// The full deployments as a JSON array.
    Json,
}

impl Output {
    /// Parses `-o`.
    pub fn parse(v: &str) -> Result<Self> {
        match v.trim().to_ascii_lowercase().as_str() {
            "normal" => Ok(Output::Normal),
            "wide" => Ok(Output::Wide),
            "json" => Ok(Output::Json),
            _ => Err(Error::invalid(
                "--output",
                format!("'{v}' is not one of normal, wide, json"),
            )),
        }
    }
}

impl GetCmd {
    /// The filter the flags describe.
    pub fn filter(&self) -> Result<Filter> {
        if self.top == Some(0) {
            return Err(Error::invalid("--top", "0 shows nothing; give 1 or more"));
        }
        Ok(Filter {
            service: self.service.clone(),
            ring: self.env.clone(),
            author: self.author.clone(),
            image_tag: self.image_tag.clone(),
            run_id: self.build_id.clone(),
            commit: self.commit_id.clone(),
            deployment_id: self.deployment_id.clone(),
            kind: self
                .kind
                .as_deref()
                .map(DeploymentKind::parse)
                .transpose()
                .map_err(|e| as_flag(e, "--kind"))?,
            status: self
                .status
                .as_deref()
                .map(Status::parse)
                .transpose()
                .map_err(|e| as_flag(e, "--status"))?,
            keyword: self.keyword.clone(),
            top: self.top,
            include_expired: self.include_expired,
        })
    }
}

/// The time providers get (`--timeout` of `get` and `prune`): 0 is refused, as it would
/// leave no time to ask anything.
pub fn provider_budget(seconds: u64) -> Result<Duration> {
    if seconds == 0 {
        return Err(Error::invalid(
            "--timeout",
            "0 leaves no time to ask providers; give 1 or more seconds",
        ));
    }
    if seconds > MAX_TIMEOUT_SECS {
        return Err(Error::invalid(
            "--timeout",
            format!("{seconds} seconds is more than a day; give 1 to {MAX_TIMEOUT_SECS}"),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// The longest `--timeout`: a day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// Parses `--since`.
pub fn parse_window(v: &str) -> std::result::Result<Window, String> {
    Window::parse(v).map_err(|e| match e {
        Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// A core input error named by the flag the user typed.
pub(crate) fn as_flag(e: Error, flag: &str) -> Error {
    match e {
        Error::Invalid { reason, .. } => Error::invalid(flag, reason),
        other => other,
    }
}

/// Prints deployments in `output` format.
pub fn print(
    out: &mut impl Write,
    deployments: &[Deployment],
    output: Output,
) -> std::io::Result<()> {
    match output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *out, deployments).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        Output::Normal | Output::Wide => {
            if deployments.is_empty() {
                return writeln!(out, "No deployments found.");
            }
            write!(
                out,
                "{}",
                render::table(deployments, output == Output::Wide, Utc::now())
            )
        }
    }
}

/// The most warning lines `get` prints; the rest are counted in one more.
const MAX_WARNING_LINES: usize = 20;

/// How long past the provider deadline the store may take before `get` gives up.
const STORE_GRACE: Duration = Duration::from_secs(5);

/// Refreshes `tracker` with every provider call ended by `budget`, and returns the
/// deployments that pass `filter` with the notices providers raised.
pub(crate) async fn refresh(
    tracker: &Tracker,
    filter: &Filter,
    budget: Duration,
) -> Result<(Vec<Deployment>, Vec<Notice>)> {
    let work = collect_notices(within(budget, tracker.refresh()));
    let Ok((refreshed, notices)) = tokio::time::timeout(budget + STORE_GRACE, work).await else {
        return Err(Error::store(
            tracker.store().describe(),
            "query",
            format!("no answer within {} s", (budget + STORE_GRACE).as_secs()),
        ));
    };
    refreshed?;
    Ok((tracker.deployments(filter).await?, notices))
}

/// Prints the warnings of `deployments` and `notices` on stderr: one line per provider,
/// subject and cause, with the number of objects.
pub(crate) fn warn(deployments: &[Deployment], notices: &[Notice]) {
    let mut tally = Tally::default();
    tally.deployments(deployments);
    for n in notices {
        tally.notice(n);
    }
    for line in render::warning_lines(&tally.summaries(), MAX_WARNING_LINES) {
        eprintln!("warning: {line}");
    }
}

/// Runs `get`.
pub async fn run(cmd: GetCmd, store: &StoreArgs) -> Result<()> {
    let output = Output::parse(&cmd.output)?;
    let filter = cmd.filter()?;
    let budget = provider_budget(cmd.timeout)?;
    let builder = cmd
        .providers
        .build()?
        .tracker(store.open(Access::Read)?, store.partition_key.clone())
        .filter(&filter)
        .window(cmd.since);
    let tracker = cmd.cache.apply(builder, &cmd.providers).build();
    let stdout = std::io::stdout();
    loop {
        let (deployments, notices) = {
            let _progress = Progress::start("reading deployments");
            refresh(&tracker, &filter, budget).await?
        };
        let mut out = stdout.lock();
        if cmd.watch.is_some() && output != Output::Json && stdout.is_terminal() {
            write!(out, "\x1b[2J\x1b[H").ok();
        }
        match print(&mut out, &deployments, output) {
            Ok(()) => {}
            // The reader went away (`spektate get | head`): nothing more to say.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Error::invalid("stdout", e)),
        }
        drop(out);
        warn(&deployments, &notices);
        let Some(every) = cmd.watch else {
            // The process ends here: the OS takes the memory back at once, where freeing
            // every record and deployment one by one would add a fifth to a large `get`.
            std::mem::forget(deployments);
            std::mem::forget(tracker);
            return Ok(());
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(every)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
