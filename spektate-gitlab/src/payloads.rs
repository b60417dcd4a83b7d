//! GitLab REST answers, as far as Spektate reads them. Every field but an object's id is
//! optional: an instance of another version may leave any out.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A user as GitLab embeds one (`user`, `merged_by`, `author`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// A pipeline: `GET /projects/:id/pipelines/:pipeline_id`, or an item of
/// `GET /projects/:id/pipelines` (which carries no user and no start or finish time).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Pipeline {
    pub id: u64,
    #[serde(default)]
    pub iid: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub user: Option<User>,
}

/// A job of a pipeline: an item of `GET /projects/:id/pipelines/:pipeline_id/jobs`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Job {
    pub id: u64,
    /// Unique in a pipeline: a retry is a new job of the same name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub web_url: Option<String>,
    /// Whether the job may fail without failing its stage (GitLab's default for `when: manual`);
    /// absent reads as false.
    #[serde(default)]
    pub allow_failure: Option<bool>,
}

/// A commit: `GET /projects/:id/repository/commits/:sha`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Commit {
    #[serde(default)]
    pub author_name: Option<String>,
    #[serde(default)]
    pub author_email: Option<String>,
    /// RFC 3339; read leniently, a bad time is no time.
    #[serde(default)]
    pub committed_date: Option<serde_json::Value>,
}

/// A merge request: `GET /projects/:id/merge_requests/:iid`, or an item of
/// `GET /projects/:id/merge_requests`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MergeRequest {
    pub iid: u64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `opened`, `closed`, `locked` or `merged`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub source_branch: Option<String>,
    #[serde(default)]
    pub target_branch: Option<String>,
    /// Deprecated by GitLab in favour of `merge_user`, and empty on some merges.
    #[serde(default)]
    pub merged_by: Option<User>,
    #[serde(default)]
    pub merge_user: Option<User>,
    #[serde(default)]
    pub merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// The commit a tag names, as embedded in a tag.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TagCommit {
    pub id: String,
}

/// A tag: an item of `GET /projects/:id/repository/tags`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tag {
    pub name: String,
    /// The annotation; empty or absent for a lightweight tag.
    #[serde(default)]
    pub message: Option<String>,
    /// The tag object of an annotated tag, the commit of a lightweight one.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub commit: Option<TagCommit>,
    /// When an annotated tag was made (GitLab 16.11 and later); absent for lightweight ones.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}
