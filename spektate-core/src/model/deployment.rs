//! A deployment: the journey of one change from source commit to cluster.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cluster::{ClusterReport, Live};
use super::record::Record;
use super::repo::RepoRef;
use super::run::{Run, RunResult, RunStatus, Stage};
use crate::insights::Eta;
use crate::warnings::Warning;

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
    /// When the commit was committed, as its repository says: where lead time for changes
    /// starts. `None` when unknown, and for who merged a pull request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<DateTime<Utc>>,
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

/// Two commit ids name the same commit: equal, or the shorter (at least 7 chars) a prefix,
/// ignoring letter case and surrounding blanks.
pub fn commits_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() || (short.len() < 7 && short.len() != long.len()) {
        return false;
    }
    long.as_bytes()[..short.len()].eq_ignore_ascii_case(short.as_bytes())
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
    /// Parses a status word in any spelling (`in-progress`, `inProgress`, `In Progress`), or
    /// says which words are accepted. `succeeded`, the dashboard's word for a complete
    /// deployment, is `complete`.
    pub fn parse(word: &str) -> crate::Result<Self> {
        Ok(match super::run::fold(word).as_str() {
            "complete" | "completed" | "succeeded" => Status::Complete,
            "inprogress" => Status::InProgress,
            "failed" => Status::Failed,
            "canceled" | "cancelled" => Status::Canceled,
            "incomplete" => Status::Incomplete,
            _ => {
                return Err(crate::Error::invalid(
                    "status",
                    format!(
                        "'{word}' is not one of complete, in-progress, failed, canceled, incomplete"
                    ),
                ));
            }
        })
    }

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
    /// A stage that never ran (an earlier stage failed), or a run that finished skipped.
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
                // Finished without doing its work (a condition was false): nothing was made.
                Some(RunResult::Skipped) => StepState::Skipped,
                // Without a result, finished means succeeded (as a run report says).
                Some(RunResult::Succeeded | RunResult::PartiallySucceeded) | None => {
                    StepState::Succeeded
                }
            },
        }
    }

    /// Queued or running.
    pub fn is_active(self) -> bool {
        matches!(self, StepState::Queued | StepState::InProgress)
    }
}

/// One pipeline step of a deployment (image, metadata or manifest); its run id is the
/// record's p1, p2 or p3 ([`Deployment::run_id`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What the step is doing; for a multi-stage run, the state of this step's stage.
    pub state: StepState,
    /// The run, when a provider knows it.
    pub run: Option<Arc<Run>>,
    /// For a multi-stage run that did not succeed: this step's stage (1 image, 2 metadata),
    /// when the provider listed it; its `url` is the page to read why it failed. Boxed, as
    /// few steps have one and a deployment stays small.
    pub stage: Option<Box<Stage>>,
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

impl DeploymentKind {
    /// Parses a kind word in any spelling (`manual-hld-edit`, `manualHldEdit`), or says which
    /// words are accepted.
    pub fn parse(word: &str) -> crate::Result<Self> {
        match super::run::fold(word).as_str() {
            "deployment" | "deployments" => Ok(DeploymentKind::Deployment),
            "manualhldedit" | "hldedit" | "manual" => Ok(DeploymentKind::ManualHldEdit),
            _ => Err(crate::Error::invalid(
                "kind",
                format!("'{word}' is not one of deployment, manual-hld-edit"),
            )),
        }
    }
}

/// The journey of one change: the joined view of a record, its runs and its enrichments.
///
/// The record's own values (id, service, ring, image tag, commits, pull request id) are read
/// through methods, so a deployment shares them with its record instead of copying them.
/// It serializes (camelCase JSON) with those values as fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The stored record behind it.
    pub record: Arc<Record>,
    /// Deployment or manual HLD edit.
    pub kind: DeploymentKind,
    /// The source repository.
    pub source_repo: Option<Arc<RepoRef>>,
    /// The HLD repository.
    pub hld_repo: Option<Arc<RepoRef>>,
    /// The manifest repository.
    pub manifest_repo: Option<Arc<RepoRef>>,
    /// p1: image creation.
    pub image: Option<Step>,
    /// p2: metadata update.
    pub metadata: Option<Step>,
    /// p3: manifest generation (ready to deploy).
    pub manifest: Option<Step>,
    /// Whether p1 and p2 are stages of one multi-stage run.
    pub multi_stage: bool,
    /// Author of the source commit (or, for a manual HLD edit, of the HLD commit).
    pub author: Option<Arc<Author>>,
    /// The approval pull request.
    pub pull_request: Option<Arc<PullRequest>>,
    /// Clusters whose GitOps agent runs this deployment's manifest commit (or, for an agent
    /// that renders from the HLD repository, its HLD commit): synced, the exact commit.
    pub clusters: Vec<ClusterSync>,
    /// What agents reported wrong with this deployment's commit, one report per cluster: a
    /// failed reconciliation or sync, or a health other than healthy (`Degraded`).
    pub cluster_troubles: Vec<ClusterReport>,
    /// Clusters where this deployment is live: they run its commit or a later one of the
    /// same repository, and no later deployment of its service and ring replaced it.
    pub live_in: Vec<Live>,
    /// Overall state.
    pub status: Status,
    /// Time from the first queue to the last finish (or now), in seconds.
    pub duration_secs: Option<i64>,
    /// When the first run was queued.
    pub started_at: Option<DateTime<Utc>>,
    /// When the journey last moved.
    pub last_updated: DateTime<Utc>,
    /// What could not be looked up, one short line each; the deployment is shown regardless.
    pub warnings: Vec<String>,
    /// The same, structured, for counting across deployments
    /// ([`crate::warnings::summarize`]); not serialized.
    pub failed_lookups: Vec<Warning>,
    /// When it is expected to be live, while on its way ([`crate::insights::eta`]).
    pub eta: Option<Arc<Eta>>,
    /// The CI no longer has its runs (retention): it is shown from what was recorded and
    /// last fetched, the runs the store kept ([`crate::RecordStore::answers`]) or, when none
    /// was kept, steps in state [`StepState::Expired`]. Default views hide it
    /// ([`crate::Filter::include_expired`]).
    pub expired: bool,
}

impl Deployment {
    /// The deployment id: the record's row key.
    pub fn id(&self) -> &str {
        &self.record.row_key
    }

    /// The record's partition.
    pub fn partition(&self) -> &str {
        &self.record.partition_key
    }

    /// Service, as shown (`org/name` shown as `name`).
    pub fn service(&self) -> Option<&str> {
        self.record.service_name()
    }

    /// Ring (environment).
    pub fn ring(&self) -> Option<&str> {
        self.record.env.as_deref()
    }

    /// Image tag.
    pub fn image_tag(&self) -> Option<&str> {
        self.record.image_tag.as_deref()
    }

    /// Source commit.
    pub fn commit_id(&self) -> Option<&str> {
        self.record.commit_id.as_deref()
    }

    /// HLD commit.
    pub fn hld_commit_id(&self) -> Option<&str> {
        self.record.hld_commit_id.as_deref()
    }

    /// Manifest commit.
    pub fn manifest_commit_id(&self) -> Option<&str> {
        self.record.manifest_commit_id.as_deref()
    }

    /// Approval pull request id.
    pub fn pr(&self) -> Option<&str> {
        self.record.pr.as_deref()
    }

    /// The run id of a step (`p1`, `p2`, `p3` of the record).
    pub fn run_id(&self, step: StepName) -> Option<&str> {
        match step {
            StepName::Image => self.record.p1.as_deref(),
            StepName::Metadata => self.record.p2.as_deref(),
            StepName::Manifest => self.record.p3.as_deref(),
        }
    }

    /// Whether a cluster runs this deployment's manifest commit.
    pub fn is_synced(&self) -> bool {
        !self.clusters.is_empty()
    }

    /// Whether this deployment is live in some cluster ([`Deployment::live_in`]).
    pub fn is_live(&self) -> bool {
        !self.live_in.is_empty()
    }

    /// The three steps in order, with their names and run ids.
    pub fn steps(&self) -> [(StepName, Option<&str>, Option<&Step>); 3] {
        [
            (
                StepName::Image,
                self.record.p1.as_deref(),
                self.image.as_ref(),
            ),
            (
                StepName::Metadata,
                self.record.p2.as_deref(),
                self.metadata.as_ref(),
            ),
            (
                StepName::Manifest,
                self.record.p3.as_deref(),
                self.manifest.as_ref(),
            ),
        ]
    }

    /// Waiting for the approval pull request: metadata done, a PR open, no manifest run yet,
    /// and no cluster running it yet.
    pub fn awaiting_approval(&self) -> bool {
        self.manifest.is_none()
            && !self.is_synced()
            && !self.is_live()
            && self
                .metadata
                .as_ref()
                .is_some_and(|s| s.state == StepState::Succeeded)
            && self.record.pr.is_some()
            && !self
                .pull_request
                .as_ref()
                .is_some_and(|p| p.merged || p.closed)
    }
}

/// The steps of the journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepName {
    /// p1: image creation.
    Image,
    /// p2: metadata update.
    Metadata,
    /// p3: manifest generation.
    Manifest,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StepJson<'a> {
    id: &'a str,
    state: StepState,
    run: Option<&'a Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<&'a Stage>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentJson<'a> {
    id: &'a str,
    partition: &'a str,
    kind: DeploymentKind,
    service: Option<&'a str>,
    ring: Option<&'a str>,
    image_tag: Option<&'a str>,
    commit_id: Option<&'a str>,
    hld_commit_id: Option<&'a str>,
    manifest_commit_id: Option<&'a str>,
    pr: Option<&'a str>,
    source_repo: Option<&'a RepoRef>,
    hld_repo: Option<&'a RepoRef>,
    manifest_repo: Option<&'a RepoRef>,
    image: Option<StepJson<'a>>,
    metadata: Option<StepJson<'a>>,
    manifest: Option<StepJson<'a>>,
    multi_stage: bool,
    author: Option<&'a Author>,
    pull_request: Option<&'a PullRequest>,
    clusters: &'a [ClusterSync],
    cluster_troubles: &'a [ClusterReport],
    live_in: &'a [Live],
    status: Status,
    synced: bool,
    awaiting_approval: bool,
    expired: bool,
    duration_secs: Option<i64>,
    started_at: Option<DateTime<Utc>>,
    last_updated: DateTime<Utc>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    eta: Option<&'a Eta>,
    record: &'a Record,
}

fn step_json<'a>(id: Option<&'a str>, step: &'a Option<Step>) -> Option<StepJson<'a>> {
    step.as_ref().map(|s| StepJson {
        id: id.unwrap_or_default(),
        state: s.state,
        run: s.run.as_deref(),
        stage: s.stage.as_deref(),
    })
}

impl Serialize for Deployment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = &*self.record;
        DeploymentJson {
            id: &r.row_key,
            partition: &r.partition_key,
            kind: self.kind,
            service: self.service(),
            ring: self.ring(),
            image_tag: self.image_tag(),
            commit_id: self.commit_id(),
            hld_commit_id: self.hld_commit_id(),
            manifest_commit_id: self.manifest_commit_id(),
            pr: self.pr(),
            source_repo: self.source_repo.as_deref(),
            hld_repo: self.hld_repo.as_deref(),
            manifest_repo: self.manifest_repo.as_deref(),
            image: step_json(r.p1.as_deref(), &self.image),
            metadata: step_json(r.p2.as_deref(), &self.metadata),
            manifest: step_json(r.p3.as_deref(), &self.manifest),
            multi_stage: self.multi_stage,
            author: self.author.as_deref(),
            pull_request: self.pull_request.as_deref(),
            clusters: &self.clusters,
            cluster_troubles: &self.cluster_troubles,
            live_in: &self.live_in,
            status: self.status,
            synced: self.is_synced(),
            awaiting_approval: self.awaiting_approval(),
            expired: self.expired,
            duration_secs: self.duration_secs,
            started_at: self.started_at,
            last_updated: self.last_updated,
            warnings: &self.warnings,
            eta: self.eta.as_deref(),
            record: r,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_kind_words_parse_in_any_spelling() {
        for w in ["in-progress", "inProgress", "In Progress", "in_progress"] {
            assert_eq!(Status::parse(w).unwrap(), Status::InProgress, "{w}");
        }
        assert_eq!(Status::parse("cancelled").unwrap(), Status::Canceled);
        assert_eq!(
            DeploymentKind::parse("manual-hld-edit").unwrap(),
            DeploymentKind::ManualHldEdit
        );
        assert_eq!(
            DeploymentKind::parse("manualHldEdit").unwrap(),
            DeploymentKind::ManualHldEdit
        );
        let e = Status::parse("done").unwrap_err().to_string();
        assert!(e.contains("'done'") && e.contains("in-progress"), "{e}");
        let e = DeploymentKind::parse("image").unwrap_err().to_string();
        assert!(
            e.contains("'image'") && e.contains("manual-hld-edit"),
            "{e}"
        );
    }

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

    /// A correlation writes one deployment per record, so its size is the join's memory
    /// (README, Performance): a multi-stage step's stage stays boxed.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_deployment_stays_small() {
        assert_eq!(std::mem::size_of::<Step>(), 24);
        assert!(std::mem::size_of::<Deployment>() <= 296);
    }
}
