//! Warnings: what could not be looked up, said briefly on each deployment and counted once
//! per provider and cause for a whole result, so a host that is down for a thousand
//! deployments makes one line, not a thousand.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::model::deployment::{Deployment, StepName};

/// The longest cause kept, in characters; the rest is cut.
pub const MAX_CAUSE_CHARS: usize = 200;

/// How a provider's own words (an error message, an answer's value) are cut, whatever their
/// length.
pub use crate::text::clip;

/// The most distinct notices one [`collect_notices`] keeps; later new ones are only logged.
pub const MAX_NOTICES: usize = 64;

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The run of a step.
    Run(StepName),
    /// The stages of a multi-stage run.
    Stages,
    /// The author of a commit.
    Author,
    /// A pull request.
    PullRequest,
    /// The sync tags of a manifest repository.
    SyncTags,
    /// An annotated tag object.
    TagObject,
    /// What a sync source's applications applied (the object is the source).
    Applications,
}

impl Subject {
    /// How one object is introduced: `image run`, `author of commit`.
    pub fn label(self) -> &'static str {
        match self {
            Subject::Run(StepName::Image) => "image run",
            Subject::Run(StepName::Metadata) => "metadata run",
            Subject::Run(StepName::Manifest) => "manifest run",
            Subject::Stages => "stages of run",
            Subject::Author => "author of commit",
            Subject::PullRequest => "pull request",
            Subject::SyncTags => "sync tags of",
            Subject::TagObject => "tag object",
            Subject::Applications => "applications of",
        }
    }

    /// `n` objects: `3 runs`, `author of 1000 commits`.
    pub fn counted(self, n: usize) -> String {
        let s = if n == 1 { "" } else { "s" };
        match self {
            Subject::Run(_) => format!("{n} run{s}"),
            Subject::Stages => format!("stages of {n} run{s}"),
            Subject::Author => format!("author of {n} commit{s}"),
            Subject::PullRequest => format!("{n} pull request{s}"),
            Subject::SyncTags if n == 1 => "sync tags of 1 repository".to_string(),
            Subject::SyncTags => format!("sync tags of {n} repositories"),
            Subject::TagObject => format!("{n} tag object{s}"),
            Subject::Applications if n == 1 => "applications of 1 sync source".to_string(),
            Subject::Applications => format!("applications of {n} sync sources"),
        }
    }

    /// The group a summary counts in: runs of every step count together.
    fn group(self) -> u8 {
        match self {
            Subject::Run(_) => 0,
            Subject::Stages => 1,
            Subject::Author => 2,
            Subject::PullRequest => 3,
            Subject::SyncTags => 4,
            Subject::TagObject => 5,
            Subject::Applications => 6,
        }
    }
}

/// Why a lookup failed (or took a slower path): the provider and its message, without the
/// list of objects asked for. Cheap to clone: every object of one failed call shares it.
/// One pointer wide, so a looked-up value and its key fill one cache line of a lookup table.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reason(Arc<Parts>);

/// What a [`Reason`] says.
#[derive(PartialEq, Eq, Hash)]
struct Parts {
    provider: Arc<str>,
    cause: Arc<str>,
}

impl Reason {
    /// `cause` (cut to [`MAX_CAUSE_CHARS`]) from `provider`.
    pub fn new(provider: &str, cause: &str) -> Self {
        Reason::of_parts(provider.into(), clip(cause, MAX_CAUSE_CHARS).into())
    }

    fn of_parts(provider: Arc<str>, cause: Arc<str>) -> Self {
        Reason(Arc::new(Parts { provider, cause }))
    }

    /// The reason of an error of `provider`: a provider error keeps its own provider and
    /// message (not the operation and objects); others keep their whole text.
    pub fn of(provider: &str, e: &Error) -> Self {
        match e {
            Error::Provider {
                provider, message, ..
            } => Reason::new(provider, message),
            other => Reason::new(provider, &other.to_string()),
        }
    }

    /// The reason in a provider's text about one object. Text shaped as [`Error::Provider`]
    /// prints it (`LABEL: OPERATION OBJECTS: MESSAGE`, the label's first word beginning
    /// `provider`'s name) keeps only its label and message, so the objects listed in it do not
    /// repeat on every object; other text is kept whole.
    pub fn from_text(provider: &str, text: &str) -> Self {
        let mut parts = text.splitn(3, ": ");
        if let (Some(label), Some(_), Some(message)) = (parts.next(), parts.next(), parts.next()) {
            let word = label.split(' ').next().unwrap_or_default();
            if !word.is_empty() && provider.starts_with(word) {
                return Reason::new(label, message);
            }
        }
        Reason::new(provider, text)
    }

    /// The provider (`github api.github.com`); empty when not known.
    pub fn provider(&self) -> &str {
        &self.0.provider
    }

    /// What went wrong (`could not connect`).
    pub fn cause(&self) -> &str {
        &self.0.cause
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reason")
            .field("provider", &self.0.provider)
            .field("cause", &self.0.cause)
            .finish()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Parts { provider, cause } = &*self.0;
        if provider.is_empty() {
            f.write_str(cause)
        } else {
            write!(f, "{provider}: {cause}")
        }
    }
}

/// A reason whose provider is not known.
impl From<&str> for Reason {
    fn from(cause: &str) -> Self {
        Reason::new("", cause)
    }
}

/// A reason whose provider is not known.
impl From<String> for Reason {
    fn from(cause: String) -> Self {
        Reason::new("", &cause)
    }
}

/// One lookup of a deployment that failed: `author of commit a1b2c3d in fabrikam/frontend:
/// github api.github.com: could not connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What was looked up.
    pub subject: Subject,
    /// Its id: run id, commit, pull request number, or repository key for sync tags.
    pub object: String,
    /// The repository of a commit or pull request.
    pub repo: Option<Arc<str>>,
    /// Why it failed.
    pub reason: Reason,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.subject.label(), self.object)?;
        if let Some(repo) = &self.repo {
            write!(f, " in {repo}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Something the user should know that failed no lookup: a provider that fell back to
/// one request per object, say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What it concerns.
    pub subject: Subject,
    /// How many objects.
    pub count: usize,
    /// The provider and what happened.
    pub reason: Reason,
}

/// Reads as the [`Summary`] it adds to.
impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = Summary {
            subject: self.subject,
            count: self.count,
            reason: self.reason.clone(),
        };
        summary.fmt(f)
    }
}

/// Warnings of several objects with one provider, subject and cause:
/// `github api.github.com: author of 1000 commits: could not connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// What the objects are (runs of every step count as runs).
    pub subject: Subject,
    /// How many distinct objects.
    pub count: usize,
    /// The provider and cause.
    pub reason: Reason,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.subject.counted(self.count);
        match self.reason.provider() {
            "" => write!(f, "{what}: {}", self.reason.cause()),
            p => write!(f, "{p}: {what}: {}", self.reason.cause()),
        }
    }
}

type Key = (Arc<str>, u8, Arc<str>);

#[derive(Debug)]
struct Group {
    subject: Subject,
    objects: HashSet<(Option<Arc<str>>, String)>,
    noticed: usize,
}

/// Counts warnings and notices into [`Summary`] lines: distinct objects per provider,
/// subject and cause.
#[derive(Debug, Default)]
pub struct Tally {
    groups: BTreeMap<Key, Group>,
}

impl Tally {
    fn group(&mut self, subject: Subject, reason: &Reason) -> &mut Group {
        let key = (
            reason.0.provider.clone(),
            subject.group(),
            reason.0.cause.clone(),
        );
        self.groups.entry(key).or_insert_with(|| Group {
            subject,
            objects: HashSet::new(),
            noticed: 0,
        })
    }

    /// Counts a warning; the same object warned about twice counts once.
    pub fn warning(&mut self, w: &Warning) {
        let object = (w.repo.clone(), w.object.clone());
        self.group(w.subject, &w.reason).objects.insert(object);
    }

    /// Counts the warnings of these deployments.
    pub fn deployments<'a>(&mut self, deployments: impl IntoIterator<Item = &'a Deployment>) {
        for w in deployments.into_iter().flat_map(|d| &d.failed_lookups) {
            self.warning(w);
        }
    }

    /// Counts a notice.
    pub fn notice(&mut self, n: &Notice) {
        self.group(n.subject, &n.reason).noticed += n.count;
    }

    /// The summaries, most objects first.
    pub fn summaries(self) -> Vec<Summary> {
        let mut out: Vec<Summary> = self
            .groups
            .into_iter()
            .map(|((provider, _, cause), g)| Summary {
                subject: g.subject,
                count: g.objects.len() + g.noticed,
                reason: Reason::of_parts(provider, cause),
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.count));
        out
    }
}

/// The warnings of `deployments`, one summary per provider, subject and cause.
pub fn summarize(deployments: &[Deployment]) -> Vec<Summary> {
    let mut tally = Tally::default();
    tally.deployments(deployments);
    tally.summaries()
}

tokio::task_local! {
    static NOTICES: Mutex<Vec<Notice>>;
}

/// Runs `work` and returns, with its output, the notices raised in it (see [`notice`]).
/// Notices raised in tasks that `work` spawns are not seen, only logged.
pub async fn collect_notices<F: Future>(work: F) -> (F::Output, Vec<Notice>) {
    NOTICES
        .scope(Mutex::new(Vec::new()), async {
            let out = work.await;
            let notices =
                NOTICES.with(|n| std::mem::take(&mut *n.lock().unwrap_or_else(|p| p.into_inner())));
            (out, notices)
        })
        .await
}

/// Raises a notice: logged, and kept by the enclosing [`collect_notices`], if any. Notices
/// with the same provider, subject and cause add up; at most [`MAX_NOTICES`] distinct ones
/// are kept.
pub fn notice(n: Notice) {
    tracing::warn!("{n}");
    let _ = NOTICES.try_with(|list| {
        let mut list = list.lock().unwrap_or_else(|p| p.into_inner());
        let same = list
            .iter()
            .position(|m| m.subject.group() == n.subject.group() && m.reason == n.reason);
        match same {
            Some(i) => list[i].count += n.count,
            None if list.len() < MAX_NOTICES => list.push(n),
            None => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_lookup_and_its_key_fill_one_cache_line() {
        use crate::correlate::{Key, Lookup};
        use crate::model::run::Run;
        assert_eq!(std::mem::size_of::<Reason>(), std::mem::size_of::<usize>());
        // A slot of the join's run, author and pull-request tables.
        assert!(std::mem::size_of::<(Key, Lookup<Arc<Run>>)>() <= 64);
        let r = Reason::new("github api.github.com", "could not connect");
        assert_eq!(
            format!("{r:?}"),
            r#"Reason { provider: "github api.github.com", cause: "could not connect" }"#
        );
        assert_eq!(r.to_string(), "github api.github.com: could not connect");
    }

    #[test]
    fn a_provider_error_keeps_its_message_not_its_objects() {
        let ids: Vec<String> = (0..100).map(|i| format!("{i:040x}")).collect();
        let e = Error::provider(
            "azure-devops dev.azure.com/fabrikam",
            "get commits",
            format!("fabrikam/hello/frontend commits {}", ids.join(",")),
            "could not connect",
        );
        let r = Reason::of("azure-devops dev.azure.com/fabrikam/hello", &e);
        assert_eq!(
            r.to_string(),
            "azure-devops dev.azure.com/fabrikam: could not connect"
        );
        // The same error as text, as providers report a failed run of a batch.
        let r = Reason::from_text("azure-devops dev.azure.com/fabrikam/hello", &e.to_string());
        assert_eq!(
            r.to_string(),
            "azure-devops dev.azure.com/fabrikam: could not connect"
        );
        let r = Reason::from_text("github-actions h", "cannot look job:1 up: no repository");
        assert_eq!(r.cause(), "cannot look job:1 up: no repository");
        assert_eq!(r.provider(), "github-actions h");
    }

    #[test]
    fn long_causes_are_cut() {
        let r = Reason::new("p", &"é".repeat(1000));
        assert_eq!(r.cause().chars().count(), MAX_CAUSE_CHARS + 1);
    }

    #[test]
    fn runs_of_every_step_and_repeated_objects_count_once() {
        let down = Reason::new("github api.github.com", "could not connect");
        let w = |subject, object: &str| Warning {
            subject,
            object: object.into(),
            repo: None,
            reason: down.clone(),
        };
        let mut tally = Tally::default();
        tally.warning(&w(Subject::Run(StepName::Image), "1"));
        tally.warning(&w(Subject::Run(StepName::Metadata), "1"));
        tally.warning(&w(Subject::Run(StepName::Manifest), "3"));
        tally.warning(&w(Subject::Author, "a1b2c3d"));
        tally.notice(&Notice {
            subject: Subject::Author,
            count: 2,
            reason: down.clone(),
        });
        let lines: Vec<String> = tally.summaries().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            lines,
            [
                "github api.github.com: author of 3 commits: could not connect",
                "github api.github.com: 2 runs: could not connect",
            ]
        );
    }

    #[tokio::test]
    async fn notices_add_up_within_their_scope_only() {
        let fell_back = |count| Notice {
            subject: Subject::Author,
            count,
            reason: Reason::new("github api.github.com", "GraphQL failed"),
        };
        notice(fell_back(5));
        let ((), got) = collect_notices(async {
            notice(fell_back(100));
            notice(fell_back(50));
        })
        .await;
        assert_eq!(got, [fell_back(150)]);
    }
}
