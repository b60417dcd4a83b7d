//! bedrock-cli's `deployment` commands: `create|c`, `get|g`, `dashboard|d`, `validate|v` and
//! `onboard|o`, with its flags, aliases, defaults, help words and output, so pipelines and
//! scripts that called `bedrock deployment ...` run `spektate deployment ...` (or this
//! binary through a link named `bedrock`) unchanged.

pub mod config;
mod create;
mod dashboard;
mod get;
pub mod gitlab_projects;
mod onboard;
pub mod output;
pub mod react_env;
pub mod roles;
mod sources;
mod validate;

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand};
use spektate::Result;

/// What follows `deployment` on the command line, parsed by [`run`] with bedrock's flags
/// (whose short letters differ from Spektate's own commands').
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct DeploymentArgs {
    /// create|c, get|g, dashboard|d, validate|v or onboard|o, and its flags
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "COMMAND"
    )]
    pub args: Vec<OsString>,
}

/// bedrock's `deployment` command.
#[derive(Debug, Parser)]
#[command(about = "Introspect your deployments", disable_version_flag = true)]
struct Deployment {
    #[command(subcommand)]
    command: DeploymentCommand,
}

#[derive(Debug, Subcommand)]
enum DeploymentCommand {
    /// Insert the deployment in storage from pipelines
    #[command(visible_alias = "c")]
    Create(create::CreateCmd),
    /// Get the list of deployments and filter with these options: service name, environment, build ID, commit ID, container image tag.
    #[command(visible_alias = "g", disable_help_flag = true)]
    Get(get::GetCmd),
    /// Launch the service introspection dashboard
    #[command(visible_alias = "d")]
    Dashboard(dashboard::DashboardCmd),
    /// Validate the configuration and storage account are correct.
    #[command(visible_alias = "v")]
    Validate(validate::ValidateCmd),
    /// Onboard to use the service introspection tool: creates the table in an existing storage account and saves it in ~/.bedrock/config.yaml (Spektate creates no storage account).
    #[command(visible_alias = "o")]
    Onboard(onboard::OnboardCmd),
}

/// The name this binary was called by: `bedrock` through a link of that name.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .filter(|s| s.eq_ignore_ascii_case("bedrock"))
        .map_or_else(|| "spektate".to_string(), str::to_string)
}

/// Runs `deployment ARGS...`; a usage error (or `--help`) prints and exits, as clap does.
pub async fn run(args: DeploymentArgs) -> Result<()> {
    let name = format!("{} deployment", program_name());
    let argv = std::iter::once(OsString::from(&name)).chain(args.args);
    let parsed = Deployment::try_parse_from(argv).unwrap_or_else(|e| e.exit());
    match parsed.command {
        DeploymentCommand::Create(cmd) => create::run(cmd)
            .await
            .and_then(|key| crate::stdout::line(&key)),
        DeploymentCommand::Get(cmd) => get::run(cmd).await,
        DeploymentCommand::Dashboard(cmd) => dashboard::run(cmd).await,
        DeploymentCommand::Validate(cmd) => validate::run(cmd).await,
        DeploymentCommand::Onboard(cmd) => onboard::run(cmd).await,
    }
}
