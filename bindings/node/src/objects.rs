//! The plain objects results arrive as: the library's values with camelCase fields, `Date`s
//! for times, `null` for what is not known, and enum values as the words of the JSON
//! documents (`spektate get -o json`): `status: 'inProgress'`.

use chrono::{DateTime, Utc};
use napi_derive::napi;
use spektate_bindings_common::words::word;

use crate::insights::Eta;

/// A repository, parsed from its URL.
#[napi(object, use_nullable = true)]
pub struct Repo {
    /// The hosting service.
    #[napi(ts_type = "'azure-devops' | 'github' | 'gitlab'")]
    pub provider: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host name, with a port when one was given.
    pub host: String,
    /// Organisation, owner or group path.
    pub owner: String,
    /// Azure DevOps project; `null` elsewhere.
    pub project: Option<String>,
    /// Repository name.
    pub name: String,
    /// The repository's web page.
    pub url: String,
}

impl From<&spektate::RepoRef> for Repo {
    fn from(r: &spektate::RepoRef) -> Self {
        Repo {
            provider: word(&r.provider),
            scheme: r.scheme.clone(),
            host: r.host.clone(),
            owner: r.owner.clone(),
            project: r.project.clone(),
            name: r.name.clone(),
            url: r.web_url(),
        }
    }
}

/// The author of a commit.
#[napi(object, use_nullable = true)]
pub struct Author {
    /// Display name.
    pub name: String,
    /// E-mail, or the host's login when no e-mail is shown.
    pub email: Option<String>,
    /// The host's login, when the author has an account.
    pub login: Option<String>,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Profile or commit page.
    pub url: Option<String>,
    /// When the commit was committed, as its repository says.
    pub committed_at: Option<DateTime<Utc>>,
}

impl From<&spektate::Author> for Author {
    fn from(a: &spektate::Author) -> Self {
        Author {
            name: a.name.clone(),
            email: a.email.clone(),
            login: a.login.clone(),
            avatar_url: a.avatar_url.clone(),
            url: a.url.clone(),
            committed_at: a.committed_at,
        }
    }
}

/// An approval pull request in the HLD repository.
#[napi(object, use_nullable = true)]
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
    /// Whether it is merged.
    pub merged: bool,
    /// Who merged it.
    pub merged_by: Option<Author>,
    /// When it was merged or closed.
    pub merged_at: Option<DateTime<Utc>>,
    /// Whether it was closed without a merge.
    pub closed: bool,
    /// Web page.
    pub url: Option<String>,
}

impl From<&spektate::PullRequest> for PullRequest {
    fn from(p: &spektate::PullRequest) -> Self {
        PullRequest {
            id: p.id.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            source_branch: p.source_branch.clone(),
            target_branch: p.target_branch.clone(),
            merged: p.merged,
            merged_by: p.merged_by.as_ref().map(Author::from),
            merged_at: p.merged_at,
            closed: p.closed,
            url: p.url.clone(),
        }
    }
}

/// A cluster running a manifest commit.
#[napi(object, use_nullable = true)]
pub struct ClusterSync {
    /// Cluster name.
    pub cluster: String,
    /// The manifest commit it runs.
    pub commit: String,
    /// When the sync was marked.
    pub synced_at: Option<DateTime<Utc>>,
    /// Who marked it (a sync tag's tagger, or the reporter).
    pub tagger: Option<String>,
}

impl From<&spektate::ClusterSync> for ClusterSync {
    fn from(c: &spektate::ClusterSync) -> Self {
        ClusterSync {
            cluster: c.cluster.clone(),
            commit: c.commit.clone(),
            synced_at: c.synced_at,
            tagger: c.tagger.clone(),
        }
    }
}

/// A cluster where a deployment is live: it runs the deployment's manifest commit, or a later
/// commit of the same repository that no later deployment of its service and ring replaced.
#[napi(object, use_nullable = true)]
pub struct Live {
    /// The cluster.
    pub cluster: String,
    /// The commit the cluster runs: the deployment's own (`exact`) or a later one.
    pub commit: String,
    /// Whether `commit` is the deployment's own commit.
    pub exact: bool,
    /// When the cluster applied `commit`, when known.
    pub applied_at: Option<DateTime<Utc>>,
}

impl From<&spektate::Live> for Live {
    fn from(l: &spektate::Live) -> Self {
        Live {
            cluster: l.cluster.clone(),
            commit: l.commit.clone(),
            exact: l.exact,
            applied_at: l.applied_at,
        }
    }
}

/// What a cluster's agent reported wrong with a deployment's commit: a failed reconciliation
/// or sync, or a health other than healthy.
#[napi(object, use_nullable = true)]
pub struct ClusterReport {
    /// The cluster.
    pub cluster: String,
    /// The commit the agent applied, or failed to apply.
    pub commit: String,
    /// When the agent reported it.
    pub synced_at: Option<DateTime<Utc>>,
    /// Who reported it (`flux kustomization flux-system/apps`, `argocd frontend`).
    pub tagger: Option<String>,
    /// Applied or failed.
    #[napi(ts_type = "'applied' | 'failed'")]
    pub outcome: String,
    /// The health the agent saw (`Degraded`), when it says.
    pub health: Option<String>,
    /// The agent's reason word (`ReconciliationFailed`, `HealthCheckFailed`).
    pub reason: Option<String>,
    /// The agent's message.
    pub message: Option<String>,
}

impl From<&spektate::ClusterReport> for ClusterReport {
    fn from(r: &spektate::ClusterReport) -> Self {
        ClusterReport {
            cluster: r.sync.cluster.clone(),
            commit: r.sync.commit.clone(),
            synced_at: r.sync.synced_at,
            tagger: r.sync.tagger.clone(),
            outcome: word(&r.outcome),
            health: r.health.clone(),
            reason: r.reason.clone(),
            message: r.message.clone(),
        }
    }
}

/// One stage of a multi-stage run.
#[napi(object, use_nullable = true)]
pub struct Stage {
    /// The stage's name.
    pub name: String,
    /// Its position, from 1.
    pub order: u32,
    /// Its status.
    #[napi(ts_type = "'queued' | 'inProgress' | 'completed'")]
    pub status: String,
    /// Its result, once completed.
    #[napi(ts_type = "'succeeded' | 'partiallySucceeded' | 'failed' | 'canceled' | 'skipped'")]
    pub result: Option<String>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A pipeline run (build or release), as a provider reported it.
#[napi(object, use_nullable = true)]
pub struct Run {
    /// The run id as recorded (p1, p2 or p3).
    pub id: String,
    /// Build or release.
    #[napi(ts_type = "'build' | 'release'")]
    pub kind: String,
    /// The number people see (`20200317.1`, `Release-42`).
    pub number: Option<String>,
    /// Pipeline or definition name.
    pub pipeline: Option<String>,
    /// Status.
    #[napi(ts_type = "'queued' | 'inProgress' | 'completed'")]
    pub status: String,
    /// Result, once completed.
    #[napi(ts_type = "'succeeded' | 'partiallySucceeded' | 'failed' | 'canceled' | 'skipped'")]
    pub result: Option<String>,
    /// When it was queued.
    pub queued_at: Option<DateTime<Utc>>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// When anything about it last changed.
    pub last_changed_at: Option<DateTime<Utc>>,
    /// Web page of the run.
    pub url: Option<String>,
    /// Source branch, without `refs/heads/`.
    pub source_branch: Option<String>,
    /// Source commit.
    pub source_commit: Option<String>,
    /// The repository it built.
    pub repository: Option<Repo>,
    /// Who or what requested it.
    pub requested_by: Option<String>,
    /// For a release: the image version it deployed.
    pub image_version: Option<String>,
    /// Stages, by order, when known.
    pub stages: Vec<Stage>,
}

impl From<&spektate::Run> for Run {
    fn from(r: &spektate::Run) -> Self {
        Run {
            id: r.id.clone(),
            kind: word(&r.kind),
            number: r.number.clone(),
            pipeline: r.pipeline.clone(),
            status: word(&r.status),
            result: r.result.as_ref().map(word),
            queued_at: r.queued_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            last_changed_at: r.last_changed_at,
            url: r.url.clone(),
            source_branch: r.source_branch.clone(),
            source_commit: r.source_commit.clone(),
            repository: r.repository.as_ref().map(Repo::from),
            requested_by: r.requested_by.clone(),
            image_version: r.image_version.clone(),
            stages: r
                .stages
                .iter()
                .map(|s| Stage {
                    name: s.name.clone(),
                    order: s.order,
                    status: word(&s.status),
                    result: s.result.as_ref().map(word),
                    started_at: s.started_at,
                    finished_at: s.finished_at,
                })
                .collect(),
        }
    }
}

/// One pipeline step of a deployment.
#[napi(object, use_nullable = true)]
pub struct Step {
    /// The run id recorded for the step (the record's p1, p2 or p3).
    pub id: String,
    /// What the step is doing.
    #[napi(
        ts_type = "'queued' | 'inProgress' | 'succeeded' | 'failed' | 'canceled' | 'skipped' | 'unknown' | 'expired'"
    )]
    pub state: String,
    /// The run, when a provider knows it.
    pub run: Option<Run>,
}

/// One stored row, with the columns of the Spektate table (`DeploymentRecord`, so as not to
/// hide TypeScript's `Record`).
#[napi(object, js_name = "DeploymentRecord", use_nullable = true)]
pub struct Record {
    /// The partition (project).
    pub partition_key: String,
    /// The row key: the deployment id.
    pub row_key: String,
    /// The service, as `name` or `org/name`.
    pub service: Option<String>,
    /// Source commit.
    pub commit_id: Option<String>,
    /// Image tag.
    pub image_tag: Option<String>,
    /// Image pipeline run id.
    pub p1: Option<String>,
    /// Metadata pipeline run id.
    pub p2: Option<String>,
    /// Manifest pipeline run id.
    pub p3: Option<String>,
    /// Ring (environment).
    pub env: Option<String>,
    /// HLD commit.
    pub hld_commit_id: Option<String>,
    /// Manifest commit.
    pub manifest_commit_id: Option<String>,
    /// Approval pull request id.
    pub pr: Option<String>,
    /// Source repository URL.
    pub source_repo: Option<String>,
    /// HLD repository URL.
    pub hld_repo: Option<String>,
    /// Manifest repository URL.
    pub manifest_repo: Option<String>,
    /// When the store last wrote the row.
    pub timestamp: Option<DateTime<Utc>>,
}

impl From<&spektate::Record> for Record {
    fn from(r: &spektate::Record) -> Self {
        Record {
            partition_key: r.partition_key.clone(),
            row_key: r.row_key.clone(),
            service: r.service.clone(),
            commit_id: r.commit_id.clone(),
            image_tag: r.image_tag.clone(),
            p1: r.p1.clone(),
            p2: r.p2.clone(),
            p3: r.p3.clone(),
            env: r.env.clone(),
            hld_commit_id: r.hld_commit_id.clone(),
            manifest_commit_id: r.manifest_commit_id.clone(),
            pr: r.pr.clone(),
            source_repo: r.source_repo.clone(),
            hld_repo: r.hld_repo.clone(),
            manifest_repo: r.manifest_repo.clone(),
            timestamp: r.timestamp,
        }
    }
}

/// What a pipeline said about its own run.
#[napi(object, use_nullable = true)]
pub struct RunReport {
    /// The run id.
    pub id: String,
    /// Status.
    #[napi(ts_type = "'queued' | 'inProgress' | 'completed'")]
    pub status: String,
    /// Result, once completed.
    #[napi(ts_type = "'succeeded' | 'partiallySucceeded' | 'failed' | 'canceled' | 'skipped'")]
    pub result: Option<String>,
    /// When it was queued.
    pub queued_at: Option<DateTime<Utc>>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Web page of the run.
    pub url: Option<String>,
    /// Source commit.
    pub commit: Option<String>,
    /// Source branch.
    pub branch: Option<String>,
    /// Repository URL.
    pub repository: Option<String>,
    /// Display number.
    pub number: Option<String>,
    /// When the store wrote the report.
    pub reported_at: Option<DateTime<Utc>>,
}

impl From<&spektate::RunReport> for RunReport {
    fn from(r: &spektate::RunReport) -> Self {
        RunReport {
            id: r.id.clone(),
            status: word(&r.status),
            result: r.result.as_ref().map(word),
            queued_at: r.queued_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            url: r.url.clone(),
            commit: r.commit.clone(),
            branch: r.branch.clone(),
            repository: r.repository.clone(),
            number: r.number.clone(),
            reported_at: r.reported_at,
        }
    }
}

/// What one refresh did.
#[napi(object)]
pub struct RefreshStats {
    /// Records the store returned.
    pub records_read: u32,
    /// Records that were new or had changed.
    pub records_changed: u32,
    /// Run ids looked up.
    pub runs_requested: u32,
    /// Deployments now shown.
    pub deployments: u32,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<spektate::RefreshStats> for RefreshStats {
    fn from(s: spektate::RefreshStats) -> Self {
        RefreshStats {
            records_read: count(s.records_read),
            records_changed: count(s.records_changed),
            runs_requested: count(s.runs_requested),
            deployments: count(s.deployments),
        }
    }
}

/// The journey of one change, from source commit to cluster.
#[napi(object, use_nullable = true)]
pub struct Deployment {
    /// The deployment id: the record's row key.
    pub id: String,
    /// The record's partition (project).
    pub partition: String,
    /// Deployment or manual HLD edit.
    #[napi(ts_type = "'deployment' | 'manualHldEdit'")]
    pub kind: String,
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
    pub source_repo: Option<Repo>,
    /// The HLD repository.
    pub hld_repo: Option<Repo>,
    /// The manifest repository.
    pub manifest_repo: Option<Repo>,
    /// p1: image creation.
    pub image: Option<Step>,
    /// p2: metadata update.
    pub metadata: Option<Step>,
    /// p3: manifest generation (ready to deploy).
    pub manifest: Option<Step>,
    /// Whether p1 and p2 are stages of one multi-stage run.
    pub multi_stage: bool,
    /// Author of the source commit (of the HLD commit for a manual HLD edit).
    pub author: Option<Author>,
    /// The approval pull request.
    pub pull_request: Option<PullRequest>,
    /// Clusters whose GitOps agent runs this deployment's manifest commit.
    pub clusters: Vec<ClusterSync>,
    /// Clusters where it is live: they run its manifest commit or a later one of the same
    /// repository, and no later deployment of its service and ring replaced it.
    pub live_in: Vec<Live>,
    /// What agents reported wrong with its commit, one report per cluster: a failed
    /// reconciliation or sync, or an unhealthy application.
    pub cluster_troubles: Vec<ClusterReport>,
    /// Overall state.
    #[napi(ts_type = "'complete' | 'inProgress' | 'failed' | 'canceled' | 'incomplete'")]
    pub status: String,
    /// Whether a cluster runs this deployment's manifest commit.
    pub synced: bool,
    /// Waiting for the approval pull request.
    pub awaiting_approval: bool,
    /// The CI no longer has its runs (retention): it is shown from what was recorded and last
    /// fetched; only filters with `includeExpired` pass it.
    pub expired: bool,
    /// Time from the first queue to the last finish (or now), in seconds.
    pub duration_secs: Option<i64>,
    /// When the first run was queued.
    pub started_at: Option<DateTime<Utc>>,
    /// When the journey last moved.
    pub last_updated: DateTime<Utc>,
    /// What could not be looked up; the deployment is shown regardless.
    pub warnings: Vec<String>,
    /// When it is expected to be live, while on its way (in progress, waiting for approval,
    /// or its manifests done and no cluster runs it yet) and its history knows every
    /// remaining step; `null` otherwise.
    pub eta: Option<Eta>,
    /// The stored record behind it.
    pub record: Record,
}

impl From<&spektate::Deployment> for Deployment {
    fn from(d: &spektate::Deployment) -> Self {
        let [image, metadata, manifest] = d.steps().map(|(_, id, step)| {
            step.map(|s| Step {
                id: id.unwrap_or_default().to_string(),
                state: word(&s.state),
                run: s.run.as_deref().map(Run::from),
            })
        });
        Deployment {
            id: d.id().to_string(),
            partition: d.partition().to_string(),
            kind: word(&d.kind),
            service: d.service().map(str::to_string),
            ring: d.ring().map(str::to_string),
            image_tag: d.image_tag().map(str::to_string),
            commit_id: d.commit_id().map(str::to_string),
            hld_commit_id: d.hld_commit_id().map(str::to_string),
            manifest_commit_id: d.manifest_commit_id().map(str::to_string),
            pr: d.pr().map(str::to_string),
            source_repo: d.source_repo.as_deref().map(Repo::from),
            hld_repo: d.hld_repo.as_deref().map(Repo::from),
            manifest_repo: d.manifest_repo.as_deref().map(Repo::from),
            image,
            metadata,
            manifest,
            multi_stage: d.multi_stage,
            author: d.author.as_deref().map(Author::from),
            pull_request: d.pull_request.as_deref().map(PullRequest::from),
            clusters: d.clusters.iter().map(ClusterSync::from).collect(),
            live_in: d.live_in.iter().map(Live::from).collect(),
            cluster_troubles: d.cluster_troubles.iter().map(ClusterReport::from).collect(),
            status: word(&d.status),
            synced: d.is_synced(),
            awaiting_approval: d.awaiting_approval(),
            expired: d.expired,
            duration_secs: d.duration_secs,
            started_at: d.started_at,
            last_updated: d.last_updated,
            warnings: d.warnings.clone(),
            eta: d.eta.as_deref().map(Eta::from),
            record: Record::from(&*d.record),
        }
    }
}

/// How far the image live in a cluster lags behind the newest image of its service and ring.
#[napi(object, use_nullable = true)]
pub struct Behind {
    /// Images of the service sent to the ring and built later; 0 when up to date.
    pub images: u32,
    /// The newest of them.
    pub newest_tag: Option<String>,
    /// The deployment of the newest.
    pub newest_deployment_id: Option<String>,
    /// When the newest was built: the cluster has lagged since then.
    pub newest_built_at: Option<DateTime<Utc>>,
}

/// Where one image of a service runs: a row of `Tracker.status` (`spektate status -o json`).
#[napi(object, use_nullable = true)]
pub struct Placement {
    /// The service, as shown.
    pub service: Option<String>,
    /// The ring.
    pub ring: Option<String>,
    /// The cluster.
    pub cluster: String,
    /// The image tag live in the cluster.
    pub image_tag: Option<String>,
    /// The deployment that brought it.
    pub deployment_id: String,
    /// The commit the cluster runs: the deployment's own (`exact`), or a later one of the
    /// same repository.
    pub commit: String,
    /// Whether `commit` is the deployment's own.
    pub exact: bool,
    /// When the cluster applied `commit`; when not `exact`, the tag was live there by then.
    pub since: Option<DateTime<Utc>>,
    /// When the image was built.
    pub built_at: Option<DateTime<Utc>>,
    /// How far behind the newest image of its service and ring it is.
    pub behind: Behind,
}

impl From<&spektate::correlate::placement::Placement> for Placement {
    fn from(p: &spektate::correlate::placement::Placement) -> Self {
        Placement {
            service: p.service.clone(),
            ring: p.ring.clone(),
            cluster: p.cluster.clone(),
            image_tag: p.image_tag.clone(),
            deployment_id: p.deployment_id.clone(),
            commit: p.commit.clone(),
            exact: p.exact,
            since: p.since,
            built_at: p.built_at,
            behind: Behind {
                images: u32::try_from(p.behind.images).unwrap_or(u32::MAX),
                newest_tag: p.behind.newest_tag.clone(),
                newest_deployment_id: p.behind.newest_deployment_id.clone(),
                newest_built_at: p.behind.newest_built_at,
            },
        }
    }
}
