//! What providers answered that cannot change, kept across processes: final runs, the stages
//! of final runs, commit authors and merged pull requests. A tracker given an
//! [`AnswersCache`] loads these before its first lookups and keeps what it learns, so a
//! second `spektate get` (or a restarted dashboard) asks providers only about what is not
//! final (docs/ARCHITECTURE.md, Refresh).
//!
//! Every answer is keyed by its namespace (the provider's name, which names its host and
//! project, for runs; the repository key, host included, for authors and pull requests),
//! its kind and its id, so answers of two organisations never mix. Nothing kept is a
//! credential: runs, stages, authors and pull requests as the join uses them.
//!
//! Providers keep two more things there ([`crate::provider::Pipelines::use_answers_cache`]):
//! annotated tag objects ([`TagObject`], by repository and object SHA, which no push can
//! change) and, through [`pages`], list pages with their ETags, so another process revalidates
//! them instead of downloading them again.

pub mod pages;
pub mod probed;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod tag_objects;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use pages::{PageCache, StoredPage};
pub use probed::ProbedMemo;

use crate::error::Result;
use crate::model::deployment::{Author, PullRequest};
use crate::model::run::{Run, Stage};

/// One answer that cannot change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum Fact {
    /// A completed build (p1, p3, or the p2 stage of a multi-stage run).
    Build(Run),
    /// A completed release (p2).
    Release(Run),
    /// The stages of a completed multi-stage build.
    Stages(Vec<Stage>),
    /// The author of a commit.
    Author(Author),
    /// A merged pull request.
    PullRequest(PullRequest),
    /// An annotated tag object (a Flux sync tag), kept by its object SHA.
    TagObject(TagObject),
}

/// What an annotated git tag object says. A tag object is named by the SHA of its content,
/// so what one SHA says never changes; a tag name can move to another object, which a listing
/// of the tags then names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagObject {
    /// The SHA of the object the tag points at: a commit, or another tag object.
    pub target: String,
    /// Whether the target is itself a tag object (a tag of a tag).
    #[serde(default)]
    pub target_is_tag: bool,
    /// The tagger's name, when the object names one.
    #[serde(default)]
    pub tagger: Option<String>,
    /// When the tag was made, as its tagger line says.
    #[serde(default)]
    pub date: Option<DateTime<Utc>>,
}

impl Fact {
    /// The kind, as kept: `build`, `release`, `stages`, `author`, `pullRequest` or
    /// `tagObject`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fact::Build(_) => "build",
            Fact::Release(_) => "release",
            Fact::Stages(_) => "stages",
            Fact::Author(_) => "author",
            Fact::PullRequest(_) => "pullRequest",
            Fact::TagObject(_) => "tagObject",
        }
    }
}

/// A [`Fact`] with its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// For runs and stages, the name of the provider that answered (host and project); for
    /// authors, pull requests and tag objects, the repository key (host, owner, project,
    /// name).
    pub namespace: String,
    /// The run id, commit, pull request id or tag object SHA.
    pub id: String,
    /// What was answered.
    pub fact: Fact,
}

/// The key of an [`Answer`]: its namespace, its kind ([`Fact::kind`]) and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnswerKey {
    /// As [`Answer::namespace`].
    pub namespace: String,
    /// As [`Fact::kind`]: `build`, `release`, `stages`, `author`, `pullRequest` or
    /// `tagObject`.
    pub kind: String,
    /// As [`Answer::id`].
    pub id: String,
}

/// The kinds of [`Fact`], as kept ([`Fact::kind`]).
pub const KINDS: [&str; 6] = [
    "build",
    "release",
    "stages",
    "author",
    "pullRequest",
    "tagObject",
];

impl AnswerKey {
    /// Refuses a key whose kind is none of [`KINDS`], with an error naming it.
    pub fn check(&self) -> Result<()> {
        if KINDS.contains(&self.kind.as_str()) {
            return Ok(());
        }
        Err(crate::Error::invalid(
            "answer kind",
            format!(
                "{:?} (of {} in {}) is none of {}",
                self.kind,
                self.id,
                self.namespace,
                KINDS.join(", ")
            ),
        ))
    }
}

impl Answer {
    /// Reads an answer a store kept as JSON ([`Fact`]'s serde form) under `key`: a value
    /// that is not a fact of the key's kind is an error naming the key, never a panic.
    pub fn from_stored(key: AnswerKey, value: &str) -> Result<Answer> {
        let bad = |why: &dyn std::fmt::Display| {
            crate::Error::invalid(
                format!("kept answer {} {} of {}", key.kind, key.id, key.namespace),
                format!("cannot be read: {why}"),
            )
        };
        let fact: Fact = serde_json::from_str(value).map_err(|e| bad(&e))?;
        if fact.kind() != key.kind {
            return Err(bad(&format!("it holds a {}", fact.kind())));
        }
        Ok(Answer {
            namespace: key.namespace,
            id: key.id,
            fact,
        })
    }

    /// The key this answer is kept under.
    pub fn key(&self) -> AnswerKey {
        AnswerKey {
            namespace: self.namespace.clone(),
            kind: self.fact.kind().to_string(),
            id: self.id.clone(),
        }
    }
}

/// Which answers to load: the kinds and the namespaces of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Provider names whose runs and stages are wanted.
    pub providers: Vec<String>,
    /// Repository keys whose authors and pull requests are wanted.
    pub repositories: Vec<String>,
}

/// A store of answers that cannot change, shared by processes.
pub trait AnswersCache: Send + Sync {
    /// Where the answers are kept, for messages.
    fn describe(&self) -> String;

    /// The answers kept in the namespaces `wanted` names, newest first, at most the bound.
    fn load(&self, wanted: &Wanted) -> Result<Vec<Answer>>;

    /// Keeps `answers`, replacing those of the same key; the oldest are evicted beyond the
    /// bound.
    fn save(&self, answers: &[Answer]) -> Result<()>;

    /// The answers kept under these exact keys; keys with none are left out. A cache that
    /// cannot look answers up by key finds none, and providers are asked.
    fn find(&self, keys: &[AnswerKey]) -> Result<Vec<Answer>> {
        let _ = keys;
        Ok(Vec::new())
    }

    /// Where list pages and their ETags are kept, when this cache keeps them.
    fn pages(&self) -> Option<&dyn PageCache> {
        None
    }
}
