//! Deployment statuses written back to the source repository's host (GitHub Deployments),
//! so its page shows where each commit runs: one deployment per commit and ring
//! (environment), `in_progress` when its manifests are ready, `success` when it is live in a
//! cluster, `failure` when a step fails or a cluster's agent fails to apply it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;

use super::{Event, EventKind, RepoScope, step_word};
use crate::error::Result;
use crate::model::deployment::{Deployment, StepName};
use crate::model::repo::RepoRef;

/// GitHub's limit on a status description.
pub const MAX_DESCRIPTION_CHARS: usize = 140;

/// How many deployments the writer remembers the host's deployment id of.
const MAX_IDS: usize = 10_000;

/// The state of a deployment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    /// On its way: the manifests are ready, no cluster runs them yet.
    InProgress,
    /// Live in a cluster.
    Success,
    /// A step failed.
    Failure,
}

impl DeploymentState {
    /// The word GitHub takes: `in_progress`, `success`, `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failure",
        }
    }
}

/// A deployment to create on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeployment {
    /// The commit deployed (a SHA).
    pub git_ref: String,
    /// The environment: the ring.
    pub environment: String,
    /// A short description: service and image tag.
    pub description: String,
    /// Extra data kept with it (Spektate's deployment id, partition, service, image tag).
    pub payload: serde_json::Value,
}

/// A status of a deployment on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentStatus {
    /// The state.
    pub state: DeploymentState,
    /// The environment (the ring).
    pub environment: String,
    /// What it means, at most [`MAX_DESCRIPTION_CHARS`] characters.
    pub description: String,
    /// The run's page (`http(s)` only).
    pub log_url: Option<String>,
    /// Where the environment is shown (the dashboard), when configured.
    pub environment_url: Option<String>,
}

/// A host that keeps deployments and their statuses (GitHub).
#[async_trait]
pub trait DeploymentStatuses: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> String;

    /// Whether this host keeps `repo` (its token goes nowhere else).
    fn serves_repo(&self, repo: &RepoRef) -> bool;

    /// Creates a deployment; returns its id.
    async fn create_deployment(&self, repo: &RepoRef, deployment: &NewDeployment) -> Result<u64>;

    /// The id of the deployment the host already keeps for `deployment` (its ref and
    /// environment, and Spektate's id and partition in its payload), if any: another server
    /// sharing the store may have created it. The default finds none.
    async fn find_deployment(
        &self,
        repo: &RepoRef,
        deployment: &NewDeployment,
    ) -> Result<Option<u64>> {
        let _ = (repo, deployment);
        Ok(None)
    }

    /// Adds a status to deployment `id`.
    async fn create_status(&self, repo: &RepoRef, id: u64, status: &DeploymentStatus)
    -> Result<()>;
}

/// The repository and commit a deployment status belongs on: the source repository and
/// commit, or, for a manual HLD edit, the HLD repository and commit.
fn repo_and_ref(d: &Deployment) -> Option<(&RepoRef, &str)> {
    match (d.source_repo.as_deref(), d.commit_id()) {
        (Some(repo), Some(commit)) => Some((repo, commit)),
        _ => Some((d.hld_repo.as_deref()?, d.hld_commit_id()?)),
    }
}

fn web(url: Option<&str>) -> Option<String> {
    url.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string)
}

fn cut(text: String) -> String {
    crate::text::clip_within(&text, MAX_DESCRIPTION_CHARS)
}

fn run_url(d: &Deployment, step: StepName) -> Option<String> {
    let step = match step {
        StepName::Image => d.image.as_ref(),
        StepName::Metadata => d.metadata.as_ref(),
        StepName::Manifest => d.manifest.as_ref(),
    };
    web(step?.run.as_ref()?.url.as_deref())
}

/// The deployment and status an event writes, or `None` for an event that writes none (a
/// pull request's wait) or a deployment without a ring, repository or commit.
pub fn status_for(event: &Event) -> Option<(RepoRef, NewDeployment, DeploymentStatus)> {
    let d = &event.deployment;
    let environment = d.ring()?.to_string();
    let (repo, git_ref) = repo_and_ref(d)?;
    let what = match (d.service(), d.image_tag()) {
        (Some(s), Some(t)) if t.starts_with(s) => t.to_string(),
        (Some(s), Some(t)) => format!("{s} {t}"),
        (Some(s), None) => s.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => format!("deployment {}", d.id()),
    };
    let (state, description, log_url) = match &event.kind {
        EventKind::Ready => (
            DeploymentState::InProgress,
            format!("{what}: manifests ready, waiting for a cluster"),
            run_url(d, StepName::Manifest),
        ),
        EventKind::Live { cluster, .. } => {
            let mut clusters: Vec<&str> = super::detect::running_in(d)
                .into_iter()
                .map(|(c, ..)| c)
                .collect();
            if !clusters.contains(&cluster.as_str()) {
                clusters.push(cluster);
            }
            (
                DeploymentState::Success,
                format!("{what}: live in {}", clusters.join(", ")),
                run_url(d, StepName::Manifest),
            )
        }
        EventKind::StepFailed { step, run_id } => (
            DeploymentState::Failure,
            format!(
                "{what}: the {} step failed (run {run_id})",
                step_word(*step)
            ),
            run_url(d, *step),
        ),
        EventKind::ClusterFailed {
            cluster,
            reason,
            health,
            ..
        } => (
            DeploymentState::Failure,
            format!(
                "{what}: failed in {cluster}{}",
                reason
                    .as_deref()
                    .or(health.as_deref())
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            run_url(d, StepName::Manifest),
        ),
        EventKind::ApprovalWaiting { .. } => return None,
    };
    Some((
        repo.clone(),
        NewDeployment {
            git_ref: git_ref.to_string(),
            environment: environment.clone(),
            description: cut(what),
            payload: json!({
                "spektate": {
                    "id": d.id(),
                    "partition": d.partition(),
                    "service": d.service(),
                    "imageTag": d.image_tag(),
                }
            }),
        },
        DeploymentStatus {
            state,
            environment,
            description: cut(description),
            log_url,
            environment_url: None,
        },
    ))
}

/// Remembered host deployment ids, oldest forgotten first.
#[derive(Default)]
struct Ids {
    map: HashMap<(String, String, String), u64>,
    order: VecDeque<(String, String, String)>,
}

impl Ids {
    fn insert(&mut self, key: (String, String, String), id: u64) {
        if self.map.insert(key.clone(), id).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > MAX_IDS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// Writes events as deployment statuses: the first time for a deployment and ring, finds the
/// host's deployment for it (another server sharing the store may have made it) or creates
/// one, then adds statuses to it (remembering at most 10,000 ids; a forgotten one is looked
/// up again).
pub struct StatusWriter {
    api: Arc<dyn DeploymentStatuses>,
    scope: RepoScope,
    environment_url: Option<String>,
    ids: Mutex<Ids>,
}

impl StatusWriter {
    /// A writer to `api`, for the repositories `scope` allows: a record names its source
    /// repository, and only the scope decides where the host's token writes.
    pub fn new(api: Arc<dyn DeploymentStatuses>, scope: RepoScope) -> Self {
        StatusWriter {
            api,
            scope,
            environment_url: None,
            ids: Mutex::default(),
        }
    }

    /// The page each status links to as its environment's (the dashboard); `http(s)` only.
    pub fn environment_url(mut self, url: Option<&str>) -> Self {
        self.environment_url = web(url);
        self
    }

    /// The host's name, for logs.
    pub fn name(&self) -> String {
        self.api.name()
    }

    /// Writes the status of `event`; `Ok(false)` when it writes none (see [`status_for`]),
    /// the scope does not allow the repository for the deployment's partition or the host
    /// does not keep it.
    pub async fn write(&self, event: &Event) -> Result<bool> {
        let Some((repo, new, mut status)) = status_for(event) else {
            return Ok(false);
        };
        if !self.scope.allows(event.deployment.partition(), &repo) {
            tracing::debug!(
                "deployment status of {} not written: {}/{} is not a repository partition {} \
                 may write to",
                event.deployment.id(),
                repo.owner,
                repo.name,
                event.deployment.partition()
            );
            return Ok(false);
        }
        if !self.api.serves_repo(&repo) {
            tracing::debug!(
                "deployment status of {} not written: {} does not serve {}/{}/{}",
                event.deployment.id(),
                self.api.name(),
                repo.host,
                repo.owner,
                repo.name
            );
            return Ok(false);
        }
        status.environment_url = self.environment_url.clone();
        let d = &event.deployment;
        let key = (
            d.partition().to_string(),
            d.id().to_string(),
            new.environment.clone(),
        );
        let known = self
            .ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .get(&key)
            .copied();
        let id = match known {
            Some(id) => id,
            None => {
                let found = match self.api.find_deployment(&repo, &new).await {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::warn!(
                            "deployment of {} not looked up on {} ({e}); creating one",
                            d.id(),
                            self.api.name()
                        );
                        None
                    }
                };
                let id = match found {
                    Some(id) => id,
                    None => self.api.create_deployment(&repo, &new).await?,
                };
                self.ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, id);
                id
            }
        };
        self.api.create_status(&repo, id, &status).await?;
        Ok(true)
    }
}
