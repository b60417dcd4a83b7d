//! `spektate`: record pipeline steps and trace deployments from source commit to cluster.

mod answers_cache;
mod bedrock;
mod dashboard;
mod get;
mod metrics;
mod progress;
mod providers;
mod prune;
mod record;
mod serve;
mod serve_hooks;
mod serve_notify;
mod status;
mod stdout;
mod store_args;
mod token;
mod validate;

use std::process::ExitCode;

use clap::{FromArgMatches, Parser, Subcommand};

use store_args::StoreArgs;

/// mimalloc: `get` and the servers allocate and free a record's many small strings by the
/// hundred thousand, which it does faster than the system allocator (a quarter off a large
/// `get`, `scripts/bench-cli.sh`). Without transparent huge pages (`no_thp`): each one
/// touched is a 2 MiB page the kernel clears, a third of a `record` process's time, and
/// resident memory a process may never use (README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where is my container? Records what each pipeline did and traces every change from
/// source commit to cluster.
#[derive(Debug, Parser)]
#[command(name = "spektate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record a pipeline step (--p1, --p2, --p3), a run report (`run`) or a cluster sync (`sync`).
    Record(record::RecordCmd),
    /// Show deployments, as a table or JSON.
    Get(get::GetCmd),
    /// Where each service is running: per ring and cluster, the image tag live, since when, how far behind.
    Status(status::StatusCmd),
    /// Serve the dashboard: a page and a JSON API showing every deployment as it moves.
    Dashboard(dashboard::DashboardCmd),
    /// Check the store (write, read back and delete a probe record) and each provider's credentials.
    Validate(validate::ValidateCmd),
    /// Delete the records whose runs the CI says are gone; --dry-run lists them first.
    Prune(prune::PruneCmd),
    /// Serve the dashboard and a write API pipelines record to with a token (`record --server`).
    Serve(serve::ServeCmd),
    /// Create, list and revoke the tokens of `serve` (pipelines write, viewers read).
    Token(token::TokenCmd),
    /// DORA metrics of the deployments: frequency, lead time, change failure rate, time to restore.
    Metrics(metrics::MetricsCmd),
    /// bedrock-cli's commands with its flags and output: deployment create|c, get|g,
    /// dashboard|d, validate|v, onboard|o (`spektate deployment get --help`).
    Deployment(bedrock::DeploymentArgs),
}

/// `dashboard` and `serve` take the original Spektate dashboard's variables (`REACT_APP_*`,
/// `PORT`) for what their flags and `SPEKTATE_*` variables leave unset.
async fn adopt_dashboard_env(matches: &clap::ArgMatches, cli: &mut Cli) -> spektate::Result<()> {
    let (name, board) = match &mut cli.command {
        Command::Dashboard(cmd) => ("dashboard", cmd),
        Command::Serve(cmd) => ("serve", &mut cmd.dashboard),
        _ => return Ok(()),
    };
    let Some(sub) = matches.subcommand_matches(name) else {
        return Ok(());
    };
    let env = bedrock::react_env::DashboardEnv::read(&bedrock::config::env_var)?;
    env.apply(
        sub,
        &mut cli.store,
        &mut board.providers,
        &mut board.port,
        &mut board.refresh,
    );
    bedrock::gitlab_projects::resolve(&env, &mut board.providers).await
}

fn main() -> ExitCode {
    let matches = store_args::command::<Cli>().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // A record is one write and out: no worker threads to start for it.
    let mut runtime = match cli.command {
        Command::Record(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(matches, cli)),
        Err(e) => {
            eprintln!("spektate: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(matches: clap::ArgMatches, mut cli: Cli) -> ExitCode {
    if let (Command::Deployment(_), Some(flag)) =
        (&cli.command, store_args::given_before_deployment(&matches))
    {
        eprintln!(
            "spektate: {flag} is given before `deployment`: its commands take their store flags after their name (spektate deployment create {flag} ...)"
        );
        return ExitCode::FAILURE;
    }
    if let Err(e) = adopt_dashboard_env(&matches, &mut cli).await {
        eprintln!("spektate: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = cli.store.settle(matches!(cli.command, Command::Serve(_))) {
        eprintln!("spektate: {e}");
        return ExitCode::FAILURE;
    }
    let outcome = match cli.command {
        Command::Record(cmd) => record::run(cmd, &cli.store)
            .await
            .and_then(|key| stdout::line(&key)),
        Command::Get(cmd) => get::run(cmd, &cli.store).await,
        Command::Status(cmd) => status::run(cmd, &cli.store).await,
        Command::Dashboard(cmd) => dashboard::run(cmd, &cli.store).await,
        Command::Validate(cmd) => validate::run(cmd, &cli.store).await,
        Command::Prune(cmd) => prune::run(cmd, &cli.store).await,
        Command::Serve(cmd) => serve::run(cmd, &cli.store).await,
        Command::Token(cmd) => token::run(cmd, &cli.store),
        Command::Metrics(cmd) => metrics::run(cmd, &cli.store).await,
        Command::Deployment(args) => bedrock::run(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spektate: {e}");
            ExitCode::FAILURE
        }
    }
}
