//! `deployment dashboard|d`: the dashboard served in this process (bedrock ran a container),
//! on `-p/--port` (4040), from the flags or `~/.bedrock/config.yaml`.

use clap::{Args, CommandFactory, FromArgMatches};
use spektate::{Error, Result};

use super::sources::{ReadStoreFlags, providers_with_config};
use crate::providers::ProviderArgs;
use crate::store_args::StoreArgs;

/// `deployment dashboard` flags.
#[derive(Debug, Args)]
pub struct DashboardCmd {
    /// Port to launch the dashboard on
    #[arg(
        short = 'p',
        long = "port",
        value_name = "port",
        default_value = "4040"
    )]
    pub port: String,
    /// Removes previously launched instances of the dashboard (here there are none: the
    /// dashboard runs in this process, and stops with it)
    #[arg(short = 'r', long = "remove-all")]
    pub remove_all: bool,
    #[command(flatten)]
    pub store: ReadStoreFlags,
    #[command(flatten)]
    pub providers: ProviderArgs,
}

/// Parses `args` as the flags of `T` (its defaults and environment), as clap would.
fn parsed<T: FromArgMatches + Args>(args: &[&str]) -> Result<T> {
    let cmd = T::augment_args(clap::Command::new("spektate").no_binary_name(true));
    let matches = cmd
        .try_get_matches_from(args)
        .map_err(|e| Error::invalid("dashboard", e.to_string()))?;
    T::from_arg_matches(&matches).map_err(|e| Error::invalid("dashboard", e.to_string()))
}

#[derive(clap::Parser)]
struct Defaults {
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `deployment dashboard` until Ctrl-C or SIGTERM.
pub async fn run(cmd: DashboardCmd) -> Result<()> {
    let port: u16 = cmd.port.trim().parse().map_err(|_| {
        Error::invalid(
            "--port",
            format!("'{}' is not a port number (0 to 65535)", cmd.port),
        )
    })?;
    if cmd.remove_all {
        eprintln!(
            "spektate: --remove-all: this dashboard runs in this process, not in a container, \
             so no earlier instance is left to remove; an earlier one stops with Ctrl-C"
        );
    }
    let choice = cmd.store.choice();
    let config = choice.config()?;
    let place = choice.resolve(config.as_ref())?;
    let mut board: crate::dashboard::DashboardCmd = parsed(&["--port", &port.to_string()])?;
    board.providers = providers_with_config(&cmd.providers, config.as_ref());
    board
        .providers
        .github_ids
        .get_or_insert_with(|| "auto".into());
    board.since = spektate::Window::All;
    let base = Defaults::from_arg_matches(
        &Defaults::command()
            .no_binary_name(true)
            .try_get_matches_from(Vec::<String>::new())
            .map_err(|e| Error::invalid("dashboard", e.to_string()))?,
    )
    .map_err(|e| Error::invalid("dashboard", e.to_string()))?;
    crate::dashboard::run(board, &place.store_args(&base.store)).await
}
