//! `spektate`: record pipeline steps and trace deployments from source commit to cluster.

mod dashboard;
mod get;
mod metrics;
mod progress;
mod providers;
mod prune;
mod record;
mod serve;
mod serve_notify;
mod serve_hooks;
mod status;
mod store_args;
mod token;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use store_args::StoreArgs;

/// mimalloc: `get` and the servers allocate and free a record's many small strings by the
/// hundred thousand, which it does faster than the system allocator (a quarter off a large
/// `get`, `scripts/bench-cli.sh`).
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
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Err(e) = cli.store.settle(matches!(cli.command, Command::Serve(_))) {
        eprintln!("spektate: {e}");
        return ExitCode::FAILURE;
    }
    let outcome = match cli.command {
        Command::Record(cmd) => record::run(cmd, &cli.store)
            .await
            .map(|key| println!("{key}")),
        Command::Get(cmd) => get::run(cmd, &cli.store).await,
        Command::Status(cmd) => status::run(cmd, &cli.store).await,
        Command::Dashboard(cmd) => dashboard::run(cmd, &cli.store).await,
        Command::Validate(cmd) => validate::run(cmd, &cli.store).await,
        Command::Prune(cmd) => prune::run(cmd, &cli.store).await,
        Command::Serve(cmd) => serve::run(cmd, &cli.store).await,
        Command::Token(cmd) => token::run(cmd, &cli.store).map(|out| println!("{out}")),
        Command::Metrics(cmd) => metrics::run(cmd, &cli.store).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spektate: {e}");
            ExitCode::FAILURE
        }
    }
}
