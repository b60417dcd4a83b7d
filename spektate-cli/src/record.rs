//! `spektate record`: what each pipeline calls at its end (flags of `bedrock deployment create`).

use clap::{Args, Subcommand};
use spektate::http::Secret;
use spektate::ingest::client::IngestClient;
use spektate::ingest::oidc::{IdTokenRequest, request_id_token};
use spektate::ingest::{Ingest, Kind, Naming};
use spektate::{Recorder, Result};

use crate::store_args::{Access, StoreArgs};

/// `record`: a pipeline step, a run report, or a cluster sync. The store flags (global) may
/// come before `run` or `sync`; a step flag there is refused ([`request`]).
#[derive(Debug, Args)]
pub struct RecordCmd {
    #[command(subcommand)]
    pub what: Option<RecordWhat>,

    #[command(flatten)]
    pub step: StepArgs,

    /// Record through the Spektate server at this URL (`spektate serve`) instead of into the
    /// store: the same flags and output, with the token in SPEKTATE_TOKEN; retried, and
    /// written once.
    #[arg(
        long,
        env = "SPEKTATE_SERVER",
        value_name = "URL",
        global = true,
        hide_env_values = true
    )]
    pub server: Option<String>,

    /// With --server: send the CI's OIDC ID token instead of SPEKTATE_TOKEN, so the pipeline
    /// stores no secret (GitHub Actions with `permissions: id-token: write`; Azure Pipelines
    /// with SYSTEM_ACCESSTOKEN mapped into the step). The server's --oidc-rule decides.
    #[arg(long, env = "SPEKTATE_OIDC", global = true, hide_env_values = true)]
    pub oidc: bool,

    /// The audience of the GitHub Actions ID token (default: the --server URL); the
    /// server's rule names the same. Azure Pipelines' tokens are always for
    /// api://AzureADTokenExchange.
    #[arg(
        long = "oidc-audience",
        env = "SPEKTATE_OIDC_AUDIENCE",
        value_name = "AUDIENCE",
        global = true,
        hide_env_values = true
    )]
    pub oidc_audience: Option<String>,

    /// Azure Pipelines: the service connection whose ID token to send (subject
    /// sc://org/project/connection) instead of the pipeline's (p://org/project/pipeline).
    #[arg(
        long = "oidc-service-connection",
        env = "SPEKTATE_OIDC_SERVICE_CONNECTION",
        value_name = "ID",
        global = true,
        hide_env_values = true
    )]
    pub oidc_service_connection: Option<String>,
}

/// Subcommands of `record`.
#[derive(Debug, Subcommand)]
pub enum RecordWhat {
    /// A pipeline reports its own run (for a CI Spektate has no API client for).
    Run(RunArgs),
    /// A cluster (or a hook beside it) reports the manifest commit it runs.
    Sync(SyncArgs),
}

/// The step flags: one of --p1, --p2, --p3 with its companions.
#[derive(Debug, Args)]
pub struct StepArgs {
    /// Image pipeline run id (with --image-tag, --commit-id, --service).
    #[arg(long)]
    pub p1: Option<String>,
    /// Metadata pipeline run id (with --image-tag, --hld-commit-id, --env; --service keeps
    /// images of two services that share a tag apart).
    #[arg(long)]
    pub p2: Option<String>,
    /// Manifest pipeline run id (with --hld-commit-id and/or --manifest-commit-id).
    #[arg(long)]
    pub p3: Option<String>,
    /// Container image tag.
    #[arg(long = "image-tag")]
    pub image_tag: Option<String>,
    /// Source commit.
    #[arg(long = "commit-id")]
    pub commit_id: Option<String>,
    /// Service name.
    #[arg(long)]
    pub service: Option<String>,
    /// HLD commit.
    #[arg(long = "hld-commit-id")]
    pub hld_commit_id: Option<String>,
    /// Manifest commit.
    #[arg(long = "manifest-commit-id")]
    pub manifest_commit_id: Option<String>,
    /// Ring (environment).
    #[arg(long)]
    pub env: Option<String>,
    /// Approval pull request id.
    #[arg(long)]
    pub pr: Option<String>,
    /// Repository URL of this step (source repo for p1, HLD repo for p2, manifest repo for p3).
    #[arg(long)]
    pub repository: Option<String>,
}

/// `record run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The run id, as recorded in --p1, --p2 or --p3.
    #[arg(long)]
    pub id: String,
    /// queued, inProgress or completed.
    #[arg(long)]
    pub status: String,
    /// succeeded, failed or canceled (with --status completed; default succeeded).
    #[arg(long)]
    pub result: Option<String>,
    /// Web page of the run.
    #[arg(long)]
    pub url: Option<String>,
    /// Source commit.
    #[arg(long)]
    pub commit: Option<String>,
    /// Source branch.
    #[arg(long)]
    pub branch: Option<String>,
    /// Repository URL.
    #[arg(long)]
    pub repository: Option<String>,
    /// Queue time, RFC 3339 (default: an earlier report's, else now).
    #[arg(long = "queued-at")]
    pub queued_at: Option<String>,
    /// Start time, RFC 3339.
    #[arg(long = "started-at")]
    pub started_at: Option<String>,
    /// Finish time, RFC 3339 (default now once completed).
    #[arg(long = "finished-at")]
    pub finished_at: Option<String>,
    /// Which attempt of the run this is (`${{ github.run_attempt }}`, `$(System.JobAttempt)`):
    /// a rerun replaces the report; a late report of an earlier attempt is ignored.
    #[arg(long)]
    pub attempt: Option<u32>,
}

/// `record sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Cluster name.
    #[arg(long)]
    pub cluster: String,
    /// The manifest commit the cluster runs.
    #[arg(long)]
    pub commit: String,
}

/// Runs `record`; prints the id written (a record's row key, a run id or a cluster):
/// into the store, or, with `--server`, through a Spektate server.
pub async fn run(cmd: RecordCmd, store: &StoreArgs) -> Result<String> {
    let ingest = request(cmd.what, cmd.step)?;
    if let Some(server) = cmd.server.as_deref().filter(|s| !s.trim().is_empty()) {
        // The URL is checked before anything is sent: by default it is the ID token's
        // audience, which goes to the CI, so it must hold no credential.
        let server = IngestClient::new(server, None)?.server().to_string();
        let token = if cmd.oidc {
            let asked = IdTokenRequest {
                audience: cmd.oidc_audience.clone().unwrap_or_else(|| server.clone()),
                service_connection: cmd.oidc_service_connection.clone(),
            };
            let env = |name: &str| std::env::var(name).ok();
            Some(request_id_token(&env, &asked).await?)
        } else {
            std::env::var("SPEKTATE_TOKEN")
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .map(Secret::new)
        };
        let client = IngestClient::new(&server, token)?;
        return Ok(client.send(&store.partition_key, &ingest).await?.id);
    }
    if cmd.oidc {
        return Err(spektate::Error::invalid(
            "--oidc",
            "sends an ID token to a Spektate server: give --server (or SPEKTATE_SERVER)",
        ));
    }
    // A write token is for a server: without one, the record would go to a local file
    // nobody reads while the pipeline looks green.
    if std::env::var("SPEKTATE_TOKEN").is_ok_and(|t| !t.trim().is_empty()) {
        return Err(spektate::Error::invalid(
            "--server",
            "is not given, and SPEKTATE_TOKEN is set for one: give --server (or \
             SPEKTATE_SERVER), or unset SPEKTATE_TOKEN to write to the store",
        ));
    }
    let kind = ingest.kind();
    let recorder = Recorder::new(store.open(Access::Write)?, store.partition_key.clone())
        .map_err(|e| kind.rename(e, Naming::Flags))?;
    ingest
        .apply(&recorder)
        .await
        .map_err(|e| kind.rename(e, Naming::Flags))
}

/// The write request the flags describe, checked.
fn request(what: Option<RecordWhat>, s: StepArgs) -> Result<Ingest> {
    if let Some(what) = &what {
        let step = [
            ("--p1", &s.p1),
            ("--p2", &s.p2),
            ("--p3", &s.p3),
            ("--image-tag", &s.image_tag),
            ("--commit-id", &s.commit_id),
            ("--service", &s.service),
            ("--hld-commit-id", &s.hld_commit_id),
            ("--manifest-commit-id", &s.manifest_commit_id),
            ("--env", &s.env),
            ("--pr", &s.pr),
            ("--repository", &s.repository),
        ];
        if let Some((flag, _)) = step.iter().find(|(_, v)| v.is_some()) {
            let sub = match what {
                RecordWhat::Run(_) => "run",
                RecordWhat::Sync(_) => "sync",
            };
            return Err(spektate::Error::invalid(
                *flag,
                format!(
                    "records a pipeline step and cannot be given with `record {sub}`; give the {sub} flags after `{sub}`"
                ),
            ));
        }
    }
    match what {
        Some(RecordWhat::Run(a)) => Ingest::from_flags(
            Kind::Run,
            [
                ("--id", Some(a.id)),
                ("--status", Some(a.status)),
                ("--result", a.result),
                ("--url", a.url),
                ("--commit", a.commit),
                ("--branch", a.branch),
                ("--repository", a.repository),
                ("--queued-at", a.queued_at),
                ("--started-at", a.started_at),
                ("--finished-at", a.finished_at),
                ("--attempt", a.attempt.map(|n| n.to_string())),
            ],
        ),
        Some(RecordWhat::Sync(a)) => Ingest::from_flags(
            Kind::Sync,
            [("--cluster", Some(a.cluster)), ("--commit", Some(a.commit))],
        ),
        None => {
            let kind = Kind::of_step(
                s.p1.is_some(),
                s.p2.is_some(),
                s.p3.is_some(),
                s.hld_commit_id.is_some(),
                s.manifest_commit_id.is_some(),
            )?;
            Ingest::from_flags(
                kind,
                [
                    ("--p1", s.p1),
                    ("--p2", s.p2),
                    ("--p3", s.p3),
                    ("--image-tag", s.image_tag),
                    ("--commit-id", s.commit_id),
                    ("--service", s.service),
                    ("--hld-commit-id", s.hld_commit_id),
                    ("--manifest-commit-id", s.manifest_commit_id),
                    ("--env", s.env),
                    ("--pr", s.pr),
                    ("--repository", s.repository),
                ],
            )
        }
    }
}
