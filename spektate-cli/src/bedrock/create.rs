//! `deployment create|c`: what each pipeline called at its end, with bedrock's flags. The
//! same linking rules as `spektate record`, and the row key written is printed.

use clap::Args;
use spektate::ingest::{Ingest, Kind, Naming};
use spektate::{Recorder, Result};

use super::sources::CreateStoreFlags;
use crate::store_args::Access;

/// `deployment create` flags, as bedrock's.
#[derive(Debug, Args)]
pub struct CreateCmd {
    #[command(flatten)]
    pub store: CreateStoreFlags,
    /// Identifier for the first pipeline
    #[arg(long, value_name = "p1")]
    pub p1: Option<String>,
    /// Image tag
    #[arg(long = "image-tag", value_name = "image-tag")]
    pub image_tag: Option<String>,
    /// Commit Id in source repository
    #[arg(long = "commit-id", value_name = "commit-id")]
    pub commit_id: Option<String>,
    /// Service name
    #[arg(long, value_name = "service")]
    pub service: Option<String>,
    /// Identifier for the second pipeline
    #[arg(long, value_name = "p2")]
    pub p2: Option<String>,
    /// Commit id in HLD repository
    #[arg(long = "hld-commit-id", value_name = "hld-commit-id")]
    pub hld_commit_id: Option<String>,
    /// Release environment name
    #[arg(long, value_name = "env")]
    pub env: Option<String>,
    /// Identifier for the third pipeline
    #[arg(long, value_name = "p3")]
    pub p3: Option<String>,
    /// Pull request identifier for a PR opened/closed in the HLD
    #[arg(long, value_name = "pr-id")]
    pub pr: Option<String>,
    /// Commit Id in the manifest repository
    #[arg(long = "manifest-commit-id", value_name = "manifest-commit-id")]
    pub manifest_commit_id: Option<String>,
    /// URL of the repository (SRC, HLD, Manifest)
    #[arg(long, value_name = "repository")]
    pub repository: Option<String>,
}

/// A flag given with nothing in it (`--pr ""`, an unset pipeline variable) is not given.
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Runs `deployment create`: prints the row key written.
pub async fn run(cmd: CreateCmd) -> Result<String> {
    let p1 = given(cmd.p1);
    let p2 = given(cmd.p2);
    let p3 = given(cmd.p3);
    let hld = given(cmd.hld_commit_id);
    let manifest = given(cmd.manifest_commit_id);
    // bedrock took the first of p1, p2, p3 that is given.
    let (p2, p3) = match (&p1, &p2) {
        (Some(_), _) => (None, None),
        (None, Some(_)) => (p2, None),
        (None, None) => (None, p3),
    };
    let kind = Kind::of_step(
        p1.is_some(),
        p2.is_some(),
        p3.is_some(),
        hld.is_some(),
        manifest.is_some(),
    )?;
    let ingest = Ingest::from_flags(
        kind,
        [
            ("--p1", p1),
            ("--p2", p2),
            ("--p3", p3),
            ("--image-tag", given(cmd.image_tag)),
            ("--commit-id", given(cmd.commit_id)),
            ("--service", given(cmd.service)),
            ("--hld-commit-id", hld),
            ("--manifest-commit-id", manifest),
            ("--env", given(cmd.env)),
            ("--pr", given(cmd.pr)),
            ("--repository", given(cmd.repository)),
        ],
    )?;
    let choice = cmd.store.choice();
    let place = choice.resolve(choice.config()?.as_ref())?;
    let recorder = Recorder::new(place.open(Access::Write)?, place.partition.clone())
        .map_err(|e| kind.rename(e, Naming::Flags))?;
    ingest
        .apply(&recorder)
        .await
        .map_err(|e| kind.rename(e, Naming::Flags))
}
