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

#[cfg(feature = "sqlite")]
pub mod sqlite;

use serde::{Deserialize, Serialize};

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
}

impl Fact {
    /// The kind, as kept: `build`, `release`, `stages`, `author` or `pullRequest`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fact::Build(_) => "build",
            Fact::Release(_) => "release",
            Fact::Stages(_) => "stages",
            Fact::Author(_) => "author",
            Fact::PullRequest(_) => "pullRequest",
        }
    }
}

/// A [`Fact`] with its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// For runs and stages, the name of the provider that answered (host and project); for
    /// authors and pull requests, the repository key (host, owner, project, name).
    pub namespace: String,
    /// The run id, commit or pull request id.
    pub id: String,
    /// What was answered.
    pub fact: Fact,
}

/// The key of an [`Answer`]: its namespace, its kind ([`Fact::kind`]) and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnswerKey {
    /// As [`Answer::namespace`].
    pub namespace: String,
    /// As [`Fact::kind`]: `build`, `release`, `stages`, `author` or `pullRequest`.
    pub kind: String,
    /// As [`Answer::id`].
    pub id: String,
}

/// The kinds of [`Fact`], as kept ([`Fact::kind`]).
pub const KINDS: [&str; 5] = ["build", "release", "stages", "author", "pullRequest"];

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
}
