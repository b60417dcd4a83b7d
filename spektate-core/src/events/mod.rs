//! What happened between two refreshes, worth telling someone: a deployment became live in
//! a cluster (and so reached its ring), a step failed, an approval pull request waited too
//! long, the manifests are ready for the agents. [`Detector`] finds these transitions
//! between snapshots, each at most once per deployment and cluster or step; notification
//! sinks turn them into messages, and [`StatusWriter`] into GitHub Deployments statuses.

mod detect;
mod repo_scope;
mod statuses;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use detect::{Detector, MAX_DEPLOYMENTS, MAX_KEYS_PER_DEPLOYMENT};
pub use repo_scope::RepoScope;
pub use statuses::{
    DeploymentState, DeploymentStatus, DeploymentStatuses, MAX_DESCRIPTION_CHARS, NewDeployment,
    StatusWriter, status_for,
};

use crate::model::deployment::{Deployment, StepName};

/// One transition of one deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The deployment as the snapshot that showed the change joined it.
    pub deployment: Deployment,
    /// When it happened, when known (the cluster's apply, the run's finish, the moment the
    /// wait passed the limit); else when it was seen.
    pub at: DateTime<Utc>,
}

/// The deployment a newly live one took the place of in a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replaced {
    /// Its id.
    pub id: String,
    /// Its image tag.
    pub image_tag: Option<String>,
}

/// What happened to a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The deployment became live in `cluster` (it runs its commit or a later one of the
    /// same repository; [`crate::Live`]).
    Live {
        /// The cluster.
        cluster: String,
        /// The commit the cluster runs.
        commit: String,
        /// Whether `commit` is the deployment's own.
        exact: bool,
        /// Whether this is the first cluster where the deployment is live: it reached its
        /// ring.
        first_in_ring: bool,
        /// Another deployment of the same service and ring that was live in `cluster` in the
        /// previous snapshot (an upgrade); `None` when none was (a first deployment there).
        replaced: Option<Replaced>,
    },
    /// A step's run failed.
    StepFailed {
        /// Which step.
        step: StepName,
        /// Its run id.
        run_id: String,
    },
    /// The approval pull request has been waiting longer than the configured limit.
    ApprovalWaiting {
        /// The pull request id.
        pr: String,
        /// Since when it waits (the metadata step's finish, else the deployment's last move).
        since: DateTime<Utc>,
    },
    /// The manifests are generated (the manifest step succeeded) and no cluster runs them yet.
    Ready,
    /// A cluster's agent failed to apply the deployment's commit, or saw it unhealthy
    /// (Flux `ReconciliationFailed`, Argo CD `Degraded` or a failed sync): the cluster step.
    ClusterFailed {
        /// The cluster.
        cluster: String,
        /// The commit the agent failed to apply or saw unhealthy.
        commit: String,
        /// The agent's reason word, when it gave one.
        reason: Option<String>,
        /// The health the agent saw, when it said.
        health: Option<String>,
        /// The agent's message, when it gave one.
        message: Option<String>,
    },
}

impl EventKind {
    /// What the event is within its deployment, the same however often it is seen:
    /// `live:<cluster>`, `failed:<step>:<run>`, `approval:<pr>`, `ready`,
    /// `trouble:<cluster>:<commit>`. A deployment tells each key once; servers sharing a
    /// store claim it ([`crate::RecordStore::claim`]).
    pub fn key(&self) -> String {
        match self {
            EventKind::Live { cluster, .. } => format!("live:{cluster}"),
            EventKind::StepFailed { step, run_id } => {
                format!("failed:{}:{run_id}", step_word(*step))
            }
            EventKind::ApprovalWaiting { pr, .. } => format!("approval:{pr}"),
            EventKind::Ready => "ready".to_string(),
            EventKind::ClusterFailed {
                cluster, commit, ..
            } => format!("trouble:{cluster}:{commit}"),
        }
    }

    /// A short word for logs and JSON: `live`, `stepFailed`, `approvalWaiting`, `ready`,
    /// `clusterFailed`.
    pub fn word(&self) -> &'static str {
        match self {
            EventKind::Live { .. } => "live",
            EventKind::StepFailed { .. } => "stepFailed",
            EventKind::ApprovalWaiting { .. } => "approvalWaiting",
            EventKind::Ready => "ready",
            EventKind::ClusterFailed { .. } => "clusterFailed",
        }
    }
}

/// The name of a step in messages: `image`, `metadata`, `manifest`.
pub fn step_word(step: StepName) -> &'static str {
    match step {
        StepName::Image => "image",
        StepName::Metadata => "metadata",
        StepName::Manifest => "manifest",
    }
}

#[cfg(test)]
mod tests;
