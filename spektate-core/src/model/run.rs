//! Pipeline runs (builds and releases), their stages, and the run reports pipelines write.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::repo::RepoRef;
use super::url::without_credentials;
use crate::error::{Error, Result};

/// How long after a run finished without succeeding a new process (a CLI call, a restarted
/// server) still asks about it again, whatever answer was kept: re-runs of failed jobs come
/// within days, and keep the run's id.
pub const RERUN_WINDOW: chrono::Duration = chrono::Duration::days(7);

/// Where a run is in its life; ordered as a run lives (queued < in progress < completed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    /// Waiting for an agent (or an approval).
    Queued,
    /// Running.
    InProgress,
    /// Finished; see the result.
    Completed,
}

/// How a finished run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunResult {
    /// It succeeded.
    Succeeded,
    /// It succeeded with issues (Azure DevOps `partiallySucceeded`).
    PartiallySucceeded,
    /// It failed.
    Failed,
    /// It was canceled.
    Canceled,
    /// It was skipped or had nothing to do.
    Skipped,
}

impl RunStatus {
    /// Maps a provider's status word (`notStarted`, `in_progress`, `completed`, ...).
    pub fn from_word(word: &str) -> Option<Self> {
        let w = fold(word);
        Some(match w.as_str() {
            "queued" | "notstarted" | "waiting" | "requested" | "pending" | "created"
            | "waitingforresource" | "preparing" | "scheduled" | "manual" | "postponed"
            | "undefined" => RunStatus::Queued,
            "inprogress" | "running" | "cancelling" | "canceling" | "started" => {
                RunStatus::InProgress
            }
            "completed" | "complete" | "finished" | "succeeded" | "success" | "failed"
            | "failure" | "canceled" | "cancelled" | "skipped" | "partiallysucceeded"
            | "rejected" => RunStatus::Completed,
            _ => return None,
        })
    }

    /// Parses a status word, or says which words are accepted.
    pub fn parse(word: &str) -> Result<Self> {
        Self::from_word(word).ok_or_else(|| {
            Error::invalid(
                "status",
                format!(
                    "'{}' is not one of queued, inProgress, completed",
                    crate::text::shown(word, 100)
                ),
            )
        })
    }
}

impl RunResult {
    /// Maps a provider's result word (`succeeded`, `success`, `failure`, `cancelled`, ...).
    pub fn from_word(word: &str) -> Option<Self> {
        let w = fold(word);
        Some(match w.as_str() {
            "succeeded" | "success" | "successful" | "passed" | "ok" | "neutral" => {
                RunResult::Succeeded
            }
            "partiallysucceeded" | "succeededwithissues" => RunResult::PartiallySucceeded,
            "failed" | "failure" | "error" | "errored" | "timedout" | "actionrequired"
            | "startupfailure" | "rejected" => RunResult::Failed,
            "canceled" | "cancelled" | "aborted" | "stale" => RunResult::Canceled,
            "skipped" | "none" => RunResult::Skipped,
            _ => return None,
        })
    }

    /// Parses a result word, or says which words are accepted.
    pub fn parse(word: &str) -> Result<Self> {
        Self::from_word(word).ok_or_else(|| {
            Error::invalid(
                "result",
                format!(
                    "'{}' is not one of succeeded, failed, canceled",
                    crate::text::shown(word, 100)
                ),
            )
        })
    }

    /// True for a result that counts as success.
    pub fn is_success(self) -> bool {
        matches!(self, RunResult::Succeeded | RunResult::PartiallySucceeded)
    }
}

/// A word lower-cased without separators, so `in-progress`, `inProgress` and `in_progress`
/// compare equal.
pub(crate) fn fold(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether a run id is a build (p1, p3, and multi-stage p2) or a classic release (p2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunKind {
    /// A build or pipeline run.
    Build,
    /// A release (Azure DevOps classic release).
    Release,
}

/// One stage of a multi-stage run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// The stage's name.
    pub name: String,
    /// Its position, from 1.
    pub order: u32,
    /// Its status.
    pub status: RunStatus,
    /// Its result, once completed.
    pub result: Option<RunResult>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its web page, when the provider gives one (Azure DevOps: the run's logs at this stage;
    /// GitHub Actions: the job's page).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::url::serialize_without_credentials"
    )]
    pub url: Option<String>,
}

/// A pipeline run, as any provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The run id as recorded (p1, p2 or p3).
    pub id: String,
    /// Build or release.
    pub kind: RunKind,
    /// The number people see (`20200317.1`, `Release-42`, `#17`).
    pub number: Option<String>,
    /// Pipeline or definition name.
    pub pipeline: Option<String>,
    /// Status.
    pub status: RunStatus,
    /// Result, once completed.
    pub result: Option<RunResult>,
    /// When it was queued.
    pub queued_at: Option<DateTime<Utc>>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// When anything about it last changed.
    pub last_changed_at: Option<DateTime<Utc>>,
    /// Web page of the run.
    #[serde(serialize_with = "super::url::serialize_without_credentials")]
    pub url: Option<String>,
    /// Source branch, without `refs/heads/`.
    pub source_branch: Option<String>,
    /// Source commit.
    pub source_commit: Option<String>,
    /// The repository it built.
    pub repository: Option<RepoRef>,
    /// Who or what requested it.
    pub requested_by: Option<String>,
    /// For a release: the image version (artifact version) it deployed.
    pub image_version: Option<String>,
    /// Stages, by order, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
}

impl Run {
    /// A run with just an id, kind and status; the other fields empty.
    pub fn new(id: impl Into<String>, kind: RunKind, status: RunStatus) -> Self {
        Run {
            id: id.into(),
            kind,
            number: None,
            pipeline: None,
            status,
            result: None,
            queued_at: None,
            started_at: None,
            finished_at: None,
            last_changed_at: None,
            url: None,
            source_branch: None,
            source_commit: None,
            repository: None,
            requested_by: None,
            image_version: None,
            stages: Vec::new(),
        }
    }

    /// Completed and successful.
    pub fn succeeded(&self) -> bool {
        self.status == RunStatus::Completed && self.result.is_some_and(RunResult::is_success)
    }

    /// Completed: nothing about it will change any more.
    pub fn is_final(&self) -> bool {
        self.status == RunStatus::Completed
    }

    /// Finished without succeeding (failed, canceled, skipped): a re-run of its failed jobs or
    /// stages keeps its id, so it may still change when its pipeline records again (a new
    /// process asks again only within [`RERUN_WINDOW`] of its finish).
    pub fn may_run_again(&self) -> bool {
        self.is_final() && self.result.is_some_and(|r| !r.is_success())
    }

    /// The last time anything happened to it: last changed, else finished, started, queued.
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        self.last_changed_at
            .or(self.finished_at)
            .or(self.started_at)
            .or(self.queued_at)
    }
}

/// What a pipeline says about its own run: the record behind [`crate::StoredRuns`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// The run id, as recorded in p1, p2 or p3.
    pub id: String,
    /// Status.
    pub status: RunStatus,
    /// Result, once completed.
    pub result: Option<RunResult>,
    /// When it was queued.
    pub queued_at: Option<DateTime<Utc>>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Web page of the run.
    #[serde(serialize_with = "super::url::serialize_without_credentials")]
    pub url: Option<String>,
    /// Source commit.
    pub commit: Option<String>,
    /// Source branch.
    pub branch: Option<String>,
    /// Repository URL.
    pub repository: Option<String>,
    /// Display number (defaults to the id).
    pub number: Option<String>,
    /// When the report was written (set by the store).
    pub reported_at: Option<DateTime<Utc>>,
    /// Which attempt of the run (a rerun is a later attempt: GitHub's `run_attempt`, Azure
    /// Pipelines' `System.JobAttempt`); `None` when the pipeline does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The store's version of the report, for conditional writes: `None` writes a new
    /// report only, `Some` replaces only that version ([`crate::RecordStore::put_run_report`]).
    #[serde(skip)]
    pub etag: Option<String>,
}

impl RunReport {
    /// The run this report describes.
    pub fn to_run(&self, kind: RunKind) -> Run {
        let mut run = Run::new(self.id.clone(), kind, self.status);
        run.number = Some(self.number.clone().unwrap_or_else(|| self.id.clone()));
        run.result = self.result;
        run.queued_at = self.queued_at;
        run.started_at = self.started_at;
        run.finished_at = self.finished_at;
        run.last_changed_at = [self.queued_at, self.started_at, self.finished_at]
            .into_iter()
            .flatten()
            .max()
            .or(self.reported_at);
        run.url = self.url.as_deref().map(without_credentials);
        run.source_commit = self.commit.clone();
        run.source_branch = self.branch.as_deref().map(strip_ref);
        run.repository = self
            .repository
            .as_deref()
            .and_then(|u| RepoRef::parse(u).ok());
        run
    }
}

/// A branch name without `refs/heads/`.
pub fn strip_ref(branch: &str) -> String {
    branch
        .strip_prefix("refs/heads/")
        .unwrap_or(branch)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_words_map_to_one_enum() {
        let cases = [
            ("succeeded", RunResult::Succeeded),
            ("success", RunResult::Succeeded),
            ("failed", RunResult::Failed),
            ("failure", RunResult::Failed),
            ("timed_out", RunResult::Failed),
            ("cancelled", RunResult::Canceled),
            ("canceled", RunResult::Canceled),
            ("partiallySucceeded", RunResult::PartiallySucceeded),
            ("skipped", RunResult::Skipped),
        ];
        for (word, want) in cases {
            assert_eq!(RunResult::from_word(word), Some(want), "{word}");
        }
        let statuses = [
            ("notStarted", RunStatus::Queued),
            ("queued", RunStatus::Queued),
            ("in_progress", RunStatus::InProgress),
            ("inProgress", RunStatus::InProgress),
            ("completed", RunStatus::Completed),
        ];
        for (word, want) in statuses {
            assert_eq!(RunStatus::from_word(word), Some(want), "{word}");
        }
    }

    #[test]
    fn unknown_words_are_errors_naming_the_value() {
        let e = RunResult::parse("great").unwrap_err().to_string();
        assert!(e.contains("'great'") && e.contains("succeeded"), "{e}");
        let e = RunStatus::parse("done-ish").unwrap_err().to_string();
        assert!(e.contains("'done-ish'"), "{e}");
    }

    #[test]
    fn a_long_or_multiline_word_is_cut_in_the_error() {
        let long = format!("x\n{}", "y".repeat(60_000));
        for e in [
            RunStatus::parse(&long).unwrap_err().to_string(),
            RunResult::parse(&long).unwrap_err().to_string(),
        ] {
            assert!(e.len() < 300, "{} bytes", e.len());
            assert!(e.contains("'x yyy") && e.contains("…'"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
