//! What GitOps agents applied to clusters, as a sync source such as Argo CD reports it, and
//! where a deployment is live.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deployment::ClusterSync;
use super::repo::RepoRef;

/// The most earlier commits kept per application ([`Applied::history`]); Argo CD keeps ten
/// by default (`revisionHistoryLimit`).
pub const MAX_HISTORY: usize = 20;

/// One source of one application of a GitOps agent, in one cluster: the newest commit of a
/// repository it applied there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// The cluster and the commit, as a deployment's `clusters` show it when the commit is
    /// its own; `tagger` names the agent and application (`argocd frontend-dev`).
    pub sync: ClusterSync,
    /// The application (`namespace/name` for Argo CD).
    pub application: String,
    /// The repository the commit belongs to: the application's source. A manifest
    /// repository, or the HLD repository when the agent renders Helm or Kustomize from it.
    pub repo: RepoRef,
    /// The agent's sync status (`Synced`, `OutOfSync`, `Unknown`).
    pub sync_status: Option<String>,
    /// The application's health (`Healthy`, `Progressing`, `Degraded`, ...).
    pub health: Option<String>,
    /// The phase of the agent's last operation (`Succeeded`, `Failed`, `Error`, `Running`).
    pub phase: Option<String>,
    /// Commits of `repo` the application applied before, newest first, at most
    /// [`MAX_HISTORY`].
    pub history: Vec<String>,
}

impl Applied {
    /// The cluster.
    pub fn cluster(&self) -> &str {
        &self.sync.cluster
    }

    /// The commit applied.
    pub fn commit(&self) -> &str {
        &self.sync.commit
    }
}

/// A cluster where a deployment is live: the newest commit the cluster applied is the
/// deployment's own commit, or a later commit of the same repository, and no later deployment
/// of the same service and ring replaced it before that commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Live {
    /// The cluster.
    pub cluster: String,
    /// The commit the cluster runs: the deployment's own (then the cluster is also among
    /// its synced `clusters`) or a later one of the same repository.
    pub commit: String,
    /// Whether `commit` is the deployment's own commit.
    pub exact: bool,
    /// When the cluster applied `commit`, when known.
    pub applied_at: Option<DateTime<Utc>>,
}
