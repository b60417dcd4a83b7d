//! The in-memory join of records with what providers know, into deployments.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::status;
use crate::model::deployment::{
    Author, ClusterSync, Deployment, DeploymentKind, PullRequest, Step, StepState,
};
use crate::model::record::{Record, display_service};
use crate::model::repo::RepoRef;
use crate::model::run::{Run, RunKind, Stage};

/// What is known of one looked-up object.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<T> {
    /// Found.
    Found(T),
    /// An authoritative provider says it does not exist (for runs: retention expired).
    Missing,
    /// The lookup failed; the reason is shown as a warning.
    Failed(String),
}

impl<T> Lookup<T> {
    /// The value, when found.
    pub fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(v) => Some(v),
            _ => None,
        }
    }
}

/// A `(repository key, id)` pair: a commit or a pull request of one repository.
pub type RepoItem = (String, String);

/// Repositories to use when a record names none.
#[derive(Debug, Clone, Default)]
pub struct RepoDefaults {
    /// Source repository of the image pipeline.
    pub source_repo: Option<RepoRef>,
    /// The HLD repository (pull requests; authors of manual HLD edits).
    pub hld_repo: Option<RepoRef>,
    /// The manifest repository (cluster sync tags).
    pub manifest_repo: Option<RepoRef>,
}

/// Everything looked up so far, by key; the correlation joins records against it.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// Builds by id (p1, p3, and p2 of multi-stage runs).
    pub builds: HashMap<String, Lookup<Arc<Run>>>,
    /// Releases by id (p2).
    pub releases: HashMap<String, Lookup<Arc<Run>>>,
    /// Stages of multi-stage runs by build id.
    pub stages: HashMap<String, Lookup<Vec<Stage>>>,
    /// Commit authors by (repository key, commit).
    pub authors: HashMap<RepoItem, Lookup<Author>>,
    /// Pull requests by (repository key, id).
    pub pull_requests: HashMap<RepoItem, Lookup<PullRequest>>,
    /// Sync tags by manifest repository key.
    pub sync_tags: HashMap<String, Lookup<Vec<ClusterSync>>>,
    /// Clusters that reported their manifest commit to the store.
    pub cluster_reports: Vec<ClusterSync>,
}

impl Knowledge {
    /// The lookup table for runs of `kind`.
    pub fn runs(&self, kind: RunKind) -> &HashMap<String, Lookup<Arc<Run>>> {
        match kind {
            RunKind::Build => &self.builds,
            RunKind::Release => &self.releases,
        }
    }

    /// The mutable lookup table for runs of `kind`.
    pub fn runs_mut(&mut self, kind: RunKind) -> &mut HashMap<String, Lookup<Arc<Run>>> {
        match kind {
            RunKind::Build => &mut self.builds,
            RunKind::Release => &mut self.releases,
        }
    }
}

/// Whether p2 is a stage of p1's multi-stage run.
pub fn is_multi_stage(record: &Record) -> bool {
    matches!((&record.p1, &record.p2), (Some(a), Some(b)) if a == b)
}

/// The run kind of p2 for `record`: a build when it is a stage of p1's run, else a release.
pub fn p2_kind(record: &Record) -> RunKind {
    if is_multi_stage(record) { RunKind::Build } else { RunKind::Release }
}

/// The repositories a record's lookups go to.
#[derive(Debug, Clone, Default)]
pub struct RecordRepos {
    /// Source repository.
    pub source: Option<RepoRef>,
    /// HLD repository.
    pub hld: Option<RepoRef>,
    /// Manifest repository.
    pub manifest: Option<RepoRef>,
}

/// The record's repositories, else the defaults.
pub fn record_repos(record: &Record, defaults: &RepoDefaults) -> RecordRepos {
    let parse = |url: &Option<String>| url.as_deref().and_then(|u| RepoRef::parse(u).ok());
    RecordRepos {
        source: parse(&record.source_repo).or_else(|| defaults.source_repo.clone()),
        hld: parse(&record.hld_repo).or_else(|| defaults.hld_repo.clone()),
        manifest: parse(&record.manifest_repo).or_else(|| defaults.manifest_repo.clone()),
    }
}

/// A manual HLD edit: a manifest run with no image behind it.
pub fn is_manual_edit(record: &Record) -> bool {
    record.p1.is_none() && record.p2.is_none() && record.image_tag.is_none() && record.p3.is_some()
}

/// Where a record's author comes from: (repository, commit).
pub fn author_source(record: &Record, repos: &RecordRepos, k: &Knowledge) -> Option<(RepoRef, String)> {
    if is_manual_edit(record) {
        let p3 = record.p3.as_ref().and_then(|id| k.builds.get(id)).and_then(Lookup::found);
        let repo = repos.hld.clone().or_else(|| p3.and_then(|r| r.repository.clone()))?;
        return Some((repo, record.hld_commit_id.clone()?));
    }
    let p1 = record.p1.as_ref().and_then(|id| k.builds.get(id)).and_then(Lookup::found);
    let repo = repos.source.clone().or_else(|| p1.and_then(|r| r.repository.clone()))?;
    let commit = record.commit_id.clone().or_else(|| p1.and_then(|r| r.source_commit.clone()))?;
    Some((repo, commit))
}

/// Whether every run id of the record is gone from an authoritative CI.
pub fn is_expired(record: &Record, k: &Knowledge) -> bool {
    let ids = [(&record.p1, RunKind::Build), (&record.p2, p2_kind(record)), (&record.p3, RunKind::Build)];
    let mut any = false;
    for (id, kind) in ids {
        if let Some(id) = id {
            any = true;
            if !matches!(k.runs(kind).get(id), Some(Lookup::Missing)) {
                return false;
            }
        }
    }
    any
}

fn step(id: &Option<String>, kind: RunKind, k: &Knowledge, warnings: &mut Vec<String>, label: &str) -> Option<Step> {
    let id = id.as_ref()?;
    let (state, run) = match k.runs(kind).get(id) {
        Some(Lookup::Found(run)) => (StepState::of(run.status, run.result), Some(run.clone())),
        Some(Lookup::Missing) => (StepState::Expired, None),
        Some(Lookup::Failed(why)) => {
            warnings.push(format!("{label} run {id}: {why}"));
            (StepState::Unknown, None)
        }
        None => (StepState::Unknown, None),
    };
    Some(Step { id: id.clone(), state, run })
}

/// Joins one record into its deployment. `None` when the record has expired.
pub fn deployment(record: &Record, k: &Knowledge, defaults: &RepoDefaults, now: DateTime<Utc>) -> Option<Deployment> {
    if is_expired(record, k) {
        return None;
    }
    let mut warnings = Vec::new();
    let multi_stage = is_multi_stage(record);
    let mut image = step(&record.p1, RunKind::Build, k, &mut warnings, "image");
    let mut metadata = if multi_stage {
        image.clone()
    } else {
        step(&record.p2, RunKind::Release, k, &mut warnings, "metadata")
    };
    let manifest = step(&record.p3, RunKind::Build, k, &mut warnings, "manifest");

    if multi_stage {
        if let Some(run) = image.as_ref().and_then(|s| s.run.clone()) {
            let stages = match k.stages.get(&run.id) {
                Some(Lookup::Found(s)) => s.as_slice(),
                Some(Lookup::Failed(why)) => {
                    warnings.push(format!("stages of run {}: {why}", run.id));
                    &[]
                }
                _ => &[],
            };
            if let Some(s) = image.as_mut() {
                s.state = status::stage_state(&run, stages, 1);
            }
            if let Some(s) = metadata.as_mut() {
                s.state = status::stage_state(&run, stages, 2);
            }
        }
    }

    fn run_of(s: &Option<Step>) -> Option<&Run> {
        s.as_ref().and_then(|s| s.run.as_deref())
    }
    let (r1, r2, r3) = (run_of(&image), run_of(&metadata), run_of(&manifest));
    let repos = record_repos(record, defaults);

    let author = author_source(record, &repos, k).and_then(|(repo, commit)| {
        match k.authors.get(&(repo.key(), commit.clone())) {
            Some(Lookup::Found(a)) => Some(a.clone()),
            Some(Lookup::Failed(why)) => {
                warnings.push(format!("author of commit {commit} in {}: {why}", repo.key()));
                None
            }
            _ => None,
        }
    });
    let pull_request = match (&record.pr, &repos.hld) {
        (Some(pr), Some(repo)) => match k.pull_requests.get(&(repo.key(), pr.clone())) {
            Some(Lookup::Found(p)) => Some(p.clone()),
            Some(Lookup::Failed(why)) => {
                warnings.push(format!("pull request {pr} in {}: {why}", repo.key()));
                None
            }
            _ => None,
        },
        _ => None,
    };
    let mut clusters = Vec::new();
    if let Some(commit) = &record.manifest_commit_id {
        let tags = repos.manifest.as_ref().and_then(|r| match k.sync_tags.get(&r.key()) {
            Some(Lookup::Found(t)) => Some(t.as_slice()),
            Some(Lookup::Failed(why)) => {
                warnings.push(format!("sync tags of {}: {why}", r.key()));
                None
            }
            _ => None,
        });
        for sync in tags.unwrap_or_default().iter().chain(&k.cluster_reports) {
            if sync.runs(commit) && !clusters.iter().any(|c: &ClusterSync| c.cluster == sync.cluster) {
                clusters.push(sync.clone());
            }
        }
    }

    let started_at = [r1, r2, r3].into_iter().flatten().filter_map(|r| r.queued_at.or(r.started_at)).min();
    Some(Deployment {
        id: record.row_key.clone(),
        partition: record.partition_key.clone(),
        kind: if is_manual_edit(record) { DeploymentKind::ManualHldEdit } else { DeploymentKind::Deployment },
        service: record.service.as_deref().map(|s| display_service(s).to_string()),
        ring: record.env.clone(),
        image_tag: record.image_tag.clone(),
        commit_id: record.commit_id.clone(),
        hld_commit_id: record.hld_commit_id.clone(),
        manifest_commit_id: record.manifest_commit_id.clone(),
        pr: record.pr.clone(),
        status: status::status(image.as_ref(), metadata.as_ref(), manifest.as_ref()),
        duration_secs: status::duration(r1, r2, r3, multi_stage, now),
        last_updated: status::last_updated(r1, r2, r3, record.timestamp, now),
        started_at,
        source_repo: repos.source,
        hld_repo: repos.hld,
        manifest_repo: repos.manifest,
        image,
        metadata,
        manifest,
        multi_stage,
        author,
        pull_request,
        clusters,
        warnings,
        record: record.clone(),
    })
}

/// Joins every record into deployments, newest first; expired records are left out.
pub fn correlate(records: &[Record], k: &Knowledge, defaults: &RepoDefaults, now: DateTime<Utc>) -> Vec<Deployment> {
    let mut out: Vec<Deployment> = records.iter().filter_map(|r| deployment(r, k, defaults, now)).collect();
    out.sort_by(|a, b| b.last_updated.cmp(&a.last_updated).then_with(|| a.id.cmp(&b.id)));
    out
}
