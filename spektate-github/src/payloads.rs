//! The fields of GitHub's REST responses this crate reads; everything else is ignored.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use spektate_core::MAX_SYNC_TAGS;

/// A user (`simple-user`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub login: String,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// The repository of a workflow run (`minimal-repository`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RepoLite {
    #[serde(default)]
    pub html_url: Option<String>,
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub head_sha: Option<String>,
    #[serde(default)]
    pub run_number: Option<u64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub run_started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub actor: Option<User>,
    #[serde(default)]
    pub triggering_actor: Option<User>,
    #[serde(default)]
    pub repository: Option<RepoLite>,
}

/// Items of a page of a list: what `per_page` asks for, whatever the server sends.
pub(crate) const PAGE: usize = 100;

/// `GET /repos/{owner}/{repo}/actions/runs`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WorkflowRuns {
    #[serde(
        default,
        deserialize_with = "spektate_core::fields::first::<PAGE, _, _>"
    )]
    pub workflow_runs: Vec<WorkflowRun>,
}

/// `GET /repos/{owner}/{repo}/actions/jobs/{job_id}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Job {
    pub id: u64,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub head_sha: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub workflow_name: Option<String>,
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Jobs {
    #[serde(
        default,
        deserialize_with = "spektate_core::fields::first::<PAGE, _, _>"
    )]
    pub jobs: Vec<Job>,
}

/// A git author, committer or tagger.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GitActor {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub date: Option<DateTime<Utc>>,
}

/// The git part of a commit.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GitCommit {
    #[serde(default)]
    pub author: Option<GitActor>,
    #[serde(default)]
    pub committer: Option<GitActor>,
}

/// `GET /repos/{owner}/{repo}/commits/{ref}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Commit {
    #[serde(default)]
    pub html_url: Option<String>,
    pub commit: GitCommit,
    /// The GitHub account of the author; `null` when the e-mail belongs to no account.
    #[serde(default)]
    pub author: Option<User>,
}

/// A branch end of a pull request.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PullEnd {
    #[serde(rename = "ref")]
    pub branch: String,
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Pull {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub html_url: Option<String>,
    pub head: PullEnd,
    pub base: PullEnd,
    #[serde(default)]
    pub merged_by: Option<User>,
}

/// What a git ref or tag points at.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GitObject {
    pub sha: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /repos/{owner}/{repo}/git/matching-refs/{ref}`, not paged: one more than
/// [`spektate_core::MAX_SYNC_TAGS`] refs at most, so a listing with too many is told apart.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct GitRefs(
    #[serde(deserialize_with = "spektate_core::fields::first::<{ MAX_SYNC_TAGS + 1 }, _, _>")]
    pub  Vec<GitRef>,
);

/// One ref of [`GitRefs`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GitRef {
    #[serde(rename = "ref")]
    pub name: String,
    pub object: GitObject,
}

/// `GET /repos/{owner}/{repo}/git/tags/{tag_sha}`: an annotated tag object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GitTag {
    #[serde(default)]
    pub tagger: Option<GitActor>,
    pub object: GitObject,
}
