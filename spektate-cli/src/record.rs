//! `spektate record`: what each pipeline calls at its end (flags of `bedrock deployment create`).

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use spektate::{
    Error, ImageBuilt, ManifestCommitted, ManifestGenerated, MetadataUpdated, Recorder, Result,
    RunReported, RunResult, RunStatus,
};

use crate::store_args::{Access, StoreArgs};

/// `record`: a pipeline step, a run report, or a cluster sync.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RecordCmd {
    #[command(subcommand)]
    pub what: Option<RecordWhat>,

    #[command(flatten)]
    pub step: StepArgs,

    /// Storage account key, as `-k` of `bedrock deployment create` (same as --access-key).
    #[arg(short = 'k', value_name = "ACCESS_KEY", value_parser = |v: &str| Ok::<_, String>(spektate::http::Secret::new(v.trim())))]
    pub storage_key: Option<spektate::http::Secret>,
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

fn need<'a>(value: &'a Option<String>, flag: &str, with: &str) -> Result<&'a str> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(Error::invalid(flag, "is empty; a value is required")),
        None => Err(Error::invalid(flag, format!("is required with {with}"))),
    }
}

fn time(flag: &str, value: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    value
        .as_deref()
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    Error::invalid(
                        flag,
                        format!("'{v}' is not an RFC 3339 time such as 2026-11-26T13:45:00Z"),
                    )
                })
        })
        .transpose()
}

/// Runs `record`; prints the row key of the record written.
pub async fn run(cmd: RecordCmd, store: &StoreArgs) -> Result<String> {
    let store = &store.with_access_key(cmd.storage_key.clone());
    let recorder =
        Recorder::new(store.open(Access::Write)?, store.partition_key.clone()).map_err(flags)?;
    match cmd.what {
        Some(RecordWhat::Run(a)) => {
            let status = RunStatus::parse(&a.status).map_err(|e| rename(e, "--status"))?;
            let result = a
                .result
                .as_deref()
                .map(RunResult::parse)
                .transpose()
                .map_err(|e| rename(e, "--result"))?;
            let report = RunReported {
                id: a.id,
                status,
                result,
                url: a.url,
                commit: a.commit,
                branch: a.branch,
                repository: a.repository,
                queued_at: time("--queued-at", &a.queued_at)?,
                started_at: time("--started-at", &a.started_at)?,
                finished_at: time("--finished-at", &a.finished_at)?,
                attempt: a.attempt,
            };
            Ok(recorder.run_reported(&report).await.map_err(flags)?.id)
        }
        Some(RecordWhat::Sync(a)) => Ok(recorder
            .cluster_synced(&a.cluster, &a.commit, None)
            .await
            .map_err(flags)?
            .cluster),
        None => step(&recorder, cmd.step).await,
    }
}

async fn step(recorder: &Recorder, s: StepArgs) -> Result<String> {
    let given = [s.p1.is_some(), s.p2.is_some(), s.p3.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given != 1 {
        return Err(Error::invalid(
            "record",
            "give exactly one of --p1, --p2 or --p3 (or `record run`, `record sync`); see spektate record --help",
        ));
    }
    let record = if let Some(p1) = &s.p1 {
        recorder
            .image_built(&ImageBuilt {
                p1: need(&Some(p1.clone()), "--p1", "--p1")?.to_string(),
                image_tag: need(&s.image_tag, "--image-tag", "--p1")?.to_string(),
                commit_id: need(&s.commit_id, "--commit-id", "--p1")?.to_string(),
                service: need(&s.service, "--service", "--p1")?.to_string(),
                repository: s.repository,
            })
            .await
    } else if let Some(p2) = &s.p2 {
        recorder
            .metadata_updated(&MetadataUpdated {
                p2: need(&Some(p2.clone()), "--p2", "--p2")?.to_string(),
                image_tag: need(&s.image_tag, "--image-tag", "--p2")?.to_string(),
                hld_commit_id: need(&s.hld_commit_id, "--hld-commit-id", "--p2")?.to_string(),
                env: need(&s.env, "--env", "--p2")?.to_string(),
                pr: s.pr,
                repository: s.repository,
                service: s.service,
            })
            .await
    } else {
        let p3 = need(&s.p3, "--p3", "--p3")?.to_string();
        match (&s.hld_commit_id, &s.manifest_commit_id) {
            (Some(_), _) => {
                recorder
                    .manifest_generated(&ManifestGenerated {
                        p3,
                        hld_commit_id: need(&s.hld_commit_id, "--hld-commit-id", "--p3")?
                            .to_string(),
                        manifest_commit_id: s.manifest_commit_id,
                        pr: s.pr,
                        repository: s.repository,
                    })
                    .await
            }
            (None, Some(_)) => {
                recorder
                    .manifest_committed(&ManifestCommitted {
                        p3,
                        manifest_commit_id: need(
                            &s.manifest_commit_id,
                            "--manifest-commit-id",
                            "--p3",
                        )?
                        .to_string(),
                        repository: s.repository,
                    })
                    .await
            }
            (None, None) => {
                return Err(Error::invalid(
                    "--hld-commit-id",
                    "or --manifest-commit-id is required with --p3",
                ));
            }
        }
    };
    Ok(record.map_err(flags)?.row_key)
}

/// Names core fields by the flags a user typed.
fn flags(e: Error) -> Error {
    match e {
        Error::Invalid { field, reason } => {
            let flag = match field.as_str() {
                "imageTag" => "--image-tag",
                "commitId" => "--commit-id",
                "hldCommitId" => "--hld-commit-id",
                "manifestCommitId" => "--manifest-commit-id",
                "p1" => "--p1",
                "p2" => "--p2",
                "p3" => "--p3",
                "env" => "--env",
                "pr" => "--pr",
                "service" => "--service",
                "repository" => "--repository",
                "run id" => "--id",
                "commit" => "--commit",
                "cluster" => "--cluster",
                "attempt" => "--attempt",
                "partition key" => "--partition-key",
                other => {
                    return Error::Invalid {
                        field: other.to_string(),
                        reason,
                    };
                }
            };
            Error::Invalid {
                field: flag.to_string(),
                reason,
            }
        }
        other => other,
    }
}

fn rename(e: Error, flag: &str) -> Error {
    match e {
        Error::Invalid { reason, .. } => Error::Invalid {
            field: flag.to_string(),
            reason,
        },
        other => other,
    }
}
