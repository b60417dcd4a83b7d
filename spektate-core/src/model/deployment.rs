//! A deployment: the journey of one change from source commit to cluster.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::record::Record;
use super::repo::RepoRef;
use super::run::{Run, RunResult, RunStatus};

/// The author of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Author {
    /// Display name.
    pub name: String,
    /// E-mail, or the host's login when no e-mail is shown.
    pub email: Option<String>,
    /// The host's login (GitHub), when the author has an account.
    pub login: Option<String>,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Profile or commit page.
    pub url: Option<String>,
}

/// An approval pull (merge) request in the HLD repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequest {
    /// Its number.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Source branch, without `refs/heads/`.
    pub source_branch: Option<String>,
    /// Target branch, without `refs/heads/`.
    pub target_branch: Option<String>,
    /// Whether it is merged (completed).
    pub merged: bool,
    /// Who merged it.
    pub merged_by: Option<Author>,
    /// When it was merged or closed.
    pub merged_at: Option<DateTime<Utc>>,
    /// Whether it is closed without merge (abandoned).
    pub closed: bool,
    /// Web page.
    pub url: Option<String>,
}

/// A cluster running a manifest commit: from a sync tag (`flux-<cluster>`) or a cluster report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSync {
    /// Cluster name.
    pub cluster: String,
    /// The manifest commit it runs.
    pub commit: String,
    /// When the sync was marked.
    pub synced_at: Option<DateTime<Utc>>,
    /// Who marked it (the tagger of a sync tag, or the reporter).
    pub tagger: Option<String>,
}

impl ClusterSync {
    /// Whether this cluster runs `commit`: full SHAs equal, or the shorter one a prefix of the other.
    pub fn runs(&self, commit: &str) -> bool {
        commits_match(&self.commit, commit)
    }
}

/// Two commit ids name the same commit: equal, or the shorter (at least 7 chars) a prefix.
pub fn commits_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_ascii_lowercase(), b.trim().to_ascii_lowercase());
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    short.len() >= 7 && long.starts_with(short.as_str()) || a == b
}

/// The overall state of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// The manifest pipeline completed and succeeded.
    Complete,
    /// A run is queued or running.
    InProgress,
    /// A run failed.
    Failed,
    /// A run was canceled.
    Canceled,
    /// Nothing is running, nothing failed, but the journey has not reached the manifests.
    Incomplete,
}

impl Status {
    /// The word shown in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "Complete",
            Status::InProgress => "In Progress",
            Status::Failed => "Failed",
            Status::Canceled => "Canceled",
            Status::Incomplete => "Incomplete",
        }
    }
}

/// What a step of the journey is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepState {
    /// Waiting to run.
    Queued,
    /// Running.
    InProgress,
    /// Finished successfully.
    Succeeded,
    /// Finished with a failure.
    Failed,
    /// Canceled.
    Canceled,
    /// A stage that never ran (an earlier stage failed).
    Skipped,
    /// Nothing knows about the run yet (no provider serves it, no report yet).
    Unknown,
    /// The CI says the run is gone (retention expired).
    Expired,
}

impl StepState {
    /// The state of a run or stage from its status and result.
    pub fn of(status: RunStatus, result: Option<RunResult>) -> Self {
        match status {
            RunStatus::Queued => StepState::Queued,
            RunStatus::InProgress => StepState::InProgress,
            RunStatus::Completed => match result {
                Some(RunResult::Failed) => StepState::Failed,
                Some(RunResult::Canceled) => StepState::Canceled,
                _ => StepState::Succeeded,
            },
        }
    }

    /// Queued or running.
    pub fn is_active(self) -> bool {
        matches!(self, StepState::Queued | StepState::InProgress)
    }
}

/// One pipeline step of a deployment (image, metadata or manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The run id recorded for the step.
    pub id: String,
    /// What the step is doing; for a multi-stage run, the state of this step's stage.
    pub state: StepState,
    /// The run, when a provider knows it.
    pub run: Option<Arc<Run>>,
}

/// Whether a deployment carries an image or is a change made straight in the HLD repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeploymentKind {
    /// An image travelling from source commit to cluster.
    Deployment,
    /// A change made straight in the HLD repo, with no image behind it.
    ManualHldEdit,
}

/// The journey of one change: the joined view of a record, its runs and its enrichments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The record's row key.
    pub id: String,
    /// The record's partition.
    pub partition: String,
    /// Deployment or manual HLD edit.
    pub kind: DeploymentKind,
    /// Service, as shown (`org/name` shown as `name`).
    pub service: Option<String>,
    /// Ring (environment).
    pub ring: Option<String>,
    /// Image tag.
    pub image_tag: Option<String>,
    /// Source commit.
    pub commit_id: Option<String>,
    /// HLD commit.
    pub hld_commit_id: Option<String>,
    /// Manifest commit.
    pub manifest_commit_id: Option<String>,
    /// Approval pull request id.
    pub pr: Option<String>,
    /// The source repository.
    pub source_repo: Option<RepoRef>,
    /// The HLD repository.
    pub hld_repo: Option<RepoRef>,
    /// The manifest repository.
    pub manifest_repo: Option<RepoRef>,
    /// p1: image creation.
    pub image: Option<Step>,
    /// p2: metadata update.
    pub metadata: Option<Step>,
    /// p3: manifest generation (ready to deploy).
    pub manifest: Option<Step>,
    /// Whether p1 and p2 are stages of one multi-stage run.
    pub multi_stage: bool,
    /// Author of the source commit (or, for a manual HLD edit, of the HLD commit).
    pub author: Option<Author>,
    /// The approval pull request.
    pub pull_request: Option<PullRequest>,
    /// Clusters whose GitOps agent runs this deployment's manifest commit.
    pub clusters: Vec<ClusterSync>,
    /// Overall state.
    pub status: Status,
    /// Time from the first queue to the last finish (or now), in seconds.
    pub duration_secs: Option<i64>,
    /// When the first run was queued.
    pub started_at: Option<DateTime<Utc>>,
    /// When the journey last moved.
    pub last_updated: DateTime<Utc>,
    /// What could not be looked up; the deployment is shown regardless.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The stored record behind it.
    pub record: Record,
}

impl Deployment {
    /// Whether a cluster runs this deployment's manifest commit.
    pub fn is_synced(&self) -> bool {
        !self.clusters.is_empty()
    }

    /// The three steps in order, with their names (`image`, `metadata`, `manifest`).
    pub fn steps(&self) -> [(&'static str, Option<&Step>); 3] {
        [("image", self.image.as_ref()), ("metadata", self.metadata.as_ref()), ("manifest", self.manifest.as_ref())]
    }

    /// Waiting for the approval pull request: metadata done, a PR open, no manifest run yet.
    pub fn awaiting_approval(&self) -> bool {
        self.manifest.is_none()
            && self.metadata.as_ref().is_some_and(|s| s.state == StepState::Succeeded)
            && self.pr.is_some()
            && !self.pull_request.as_ref().is_some_and(|p| p.merged || p.closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_match_full_or_by_prefix() {
        let full = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
        assert!(commits_match(full, full));
        assert!(commits_match("A1B2C3D", full));
        assert!(commits_match(full, "a1b2c3d4"));
        assert!(!commits_match("a1b2c3", full), "too short to be a prefix");
        assert!(!commits_match("b1b2c3d", full));
        assert!(!commits_match("", full));
    }
}
