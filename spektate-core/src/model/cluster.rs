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
    /// The phase of the agent's last operation when it was on `commit` (`Succeeded`,
    /// `Failed`, `Error`, `Running`).
    pub phase: Option<String>,
    /// Commits of `repo` the application applied before, newest first, at most
    /// [`MAX_HISTORY`].
    pub history: Vec<String>,
    /// The agent's last operation when it was on another commit of `repo`: a sync that
    /// failed (the cluster still runs `commit`) or is running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempted: Option<Attempt>,
}

/// An agent's operation on a commit it has not applied (yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The commit the operation synced.
    pub commit: String,
    /// Its phase (`Failed`, `Error`, `Running`).
    pub phase: Option<String>,
    /// When it finished, unless it is running.
    pub finished_at: Option<DateTime<Utc>>,
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

impl Applied {
    /// What the application says went wrong, as cluster reports, at most two: a last
    /// operation on another commit ([`Self::attempted`]) that `Failed` or hit an `Error`,
    /// against the commit it tried; and a failed operation on `commit` or a health of it
    /// such as `Degraded` or `Missing`, against `commit`. Empty when nothing did.
    pub fn troubles(&self) -> Vec<ClusterReport> {
        let attempt = self
            .attempted
            .as_ref()
            .filter(|a| failed(&a.phase))
            .map(|a| {
                self.report(
                    ClusterSync {
                        commit: a.commit.clone(),
                        synced_at: a.finished_at,
                        ..self.sync.clone()
                    },
                    &a.phase,
                    None,
                )
            });
        // The application's health is that of the commit it runs, not of the one it tried.
        let running = self.report(self.sync.clone(), &self.phase, self.health.clone());
        let running = attempt
            .as_ref()
            .is_none_or(|a| !super::deployment::commits_match(a.commit(), self.commit()))
            .then_some(running);
        attempt
            .into_iter()
            .chain(running)
            .filter(ClusterReport::is_trouble)
            .map(ClusterReport::bounded)
            .collect()
    }

    /// A report of `sync` with `health` and an operation's `phase`.
    fn report(
        &self,
        sync: ClusterSync,
        phase: &Option<String>,
        health: Option<String>,
    ) -> ClusterReport {
        let failed = failed(phase);
        ClusterReport {
            sync,
            outcome: if failed {
                Outcome::Failed
            } else {
                Outcome::Applied
            },
            health,
            reason: failed
                .then(|| phase.as_ref().map(|p| format!("Sync{p}")))
                .flatten(),
            message: None,
        }
    }
}

/// Whether an operation's phase says it failed (`Failed`, `Error`).
fn failed(phase: &Option<String>) -> bool {
    matches!(phase.as_deref(), Some("Failed" | "Error"))
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

/// The longest cluster name taken (a DNS name's limit); no control character either.
pub const MAX_CLUSTER_CHARS: usize = 253;

/// The most reports kept per cluster ([`ClusterHistory::reports`]): the oldest are dropped.
pub const MAX_CLUSTER_HISTORY: usize = 40;
/// The most characters of an agent's message kept in a report.
pub const MAX_MESSAGE_CHARS: usize = 200;
/// The most characters of a health, reason or reporter word kept in a report.
pub const MAX_WORD_CHARS: usize = 64;

/// How an agent's attempt to apply a commit to a cluster ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// The commit was applied: the cluster runs it.
    #[default]
    Applied,
    /// Applying the commit failed (Flux `ReconciliationFailed`, a failed health check, an
    /// Argo CD sync that failed): the cluster does not run it, or not healthily.
    Failed,
}

/// What an agent (or a hook beside it) reported of one cluster at one time: the commit it
/// applied or failed to apply, and the health it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    /// The cluster, the commit, when, and who reported it.
    #[serde(flatten)]
    pub sync: ClusterSync,
    /// Applied or failed.
    #[serde(default)]
    pub outcome: Outcome,
    /// The health the agent saw (`Healthy`, `Progressing`, `Degraded`, ...), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// The agent's reason word (`ReconciliationFailed`, `HealthCheckFailed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The agent's message, at most [`MAX_MESSAGE_CHARS`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ClusterReport {
    /// A report that `sync.cluster` applied `sync.commit`, with nothing more said.
    pub fn applied(sync: ClusterSync) -> Self {
        ClusterReport {
            sync,
            outcome: Outcome::Applied,
            health: None,
            reason: None,
            message: None,
        }
    }

    /// The cluster.
    pub fn cluster(&self) -> &str {
        &self.sync.cluster
    }

    /// The commit.
    pub fn commit(&self) -> &str {
        &self.sync.commit
    }

    /// Refuses a report without a cluster or a commit, or with one longer than a store
    /// keeps ([`crate::model::record::MAX_VALUE_LEN`]), naming the field.
    pub fn check(&self) -> crate::Result<()> {
        for (field, value) in [
            ("cluster", &self.sync.cluster),
            ("commit", &self.sync.commit),
        ] {
            if value.trim().is_empty() {
                return Err(crate::Error::invalid(
                    field,
                    "is empty; a value is required",
                ));
            }
            if value.chars().count() > crate::model::record::MAX_VALUE_LEN {
                return Err(crate::Error::invalid(
                    field,
                    format!(
                        "is longer than {} characters",
                        crate::model::record::MAX_VALUE_LEN
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the report says something is wrong: a failure, or a health other than
    /// `Healthy`, `Progressing`, `Suspended` or unknown (`Degraded`, `Missing`).
    pub fn is_trouble(&self) -> bool {
        self.outcome == Outcome::Failed
            || self.health.as_deref().is_some_and(|h| {
                !["healthy", "progressing", "suspended", "unknown", ""]
                    .contains(&h.to_ascii_lowercase().as_str())
            })
    }

    /// What went wrong, in a few words: `east-us failed (HealthCheckFailed)`,
    /// `east-us Degraded`.
    pub fn trouble_text(&self) -> String {
        match (self.outcome, &self.reason, &self.health) {
            (Outcome::Failed, Some(reason), _) => format!("{} failed ({reason})", self.cluster()),
            (Outcome::Failed, None, _) => format!("{} failed", self.cluster()),
            (Outcome::Applied, _, Some(health)) => format!("{} {health}", self.cluster()),
            (Outcome::Applied, _, None) => self.cluster().to_string(),
        }
    }

    /// The same report with its text bounded: message, health, reason and reporter cut to
    /// their limits, control characters dropped.
    pub fn bounded(mut self) -> Self {
        self.health = self
            .health
            .map(|s| cut(&s, MAX_WORD_CHARS))
            .filter(|s| !s.is_empty());
        self.reason = self
            .reason
            .map(|s| cut(&s, MAX_WORD_CHARS))
            .filter(|s| !s.is_empty());
        self.message = self
            .message
            .map(|s| cut(&s, MAX_MESSAGE_CHARS))
            .filter(|s| !s.is_empty());
        self.sync.tagger = self
            .sync
            .tagger
            .map(|s| cut(&s, MAX_WORD_CHARS))
            .filter(|s| !s.is_empty());
        self
    }

    /// The same state as `other`: the same commit, outcome and health.
    /// `other` tells another health of the same outcome of the same commit.
    fn health_changed(&self, other: &ClusterReport) -> bool {
        self.outcome == other.outcome
            && self.health != other.health
            && super::deployment::commits_match(&self.sync.commit, &other.sync.commit)
    }

    fn same_state(&self, other: &ClusterReport) -> bool {
        self.outcome == other.outcome
            && self.health == other.health
            && super::deployment::commits_match(&self.sync.commit, &other.sync.commit)
    }
}

/// `s` on one line, trimmed, in at most `max` characters.
fn cut(s: &str, max: usize) -> String {
    crate::text::clip_within(crate::text::one_line(s).trim(), max)
}

/// What one cluster's agents reported, newest first, at most [`MAX_CLUSTER_HISTORY`]
/// reports: which commit it applied (or failed to) when. A report repeating the state of
/// the one before it is not kept again, so the history says when each state began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterHistory {
    /// The cluster.
    pub cluster: String,
    /// Its reports, newest first by `synced_at` (a report without a time is oldest).
    pub reports: Vec<ClusterReport>,
}

impl ClusterHistory {
    /// A cluster with no reports yet.
    pub fn new(cluster: impl Into<String>) -> Self {
        ClusterHistory {
            cluster: cluster.into(),
            reports: Vec::new(),
        }
    }

    /// A history as a store keeps it, as JSON: a history, or the single [`ClusterSync`] of
    /// a store written before histories were kept. `None` when it is neither.
    pub fn from_stored(json: &str) -> Option<Self> {
        if let Ok(h) = serde_json::from_str::<ClusterHistory>(json) {
            return Some(h);
        }
        let report = serde_json::from_str::<ClusterReport>(json).ok()?;
        Some(ClusterHistory {
            cluster: report.sync.cluster.clone(),
            reports: vec![report],
        })
    }

    /// The history as a store keeps it.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Adds a report of this cluster in its place by time, so one that arrives late never
    /// moves the cluster back. A report of the same time, outcome and commit that tells
    /// another health (Argo CD dates a health notification at its sync's finish) is the newer
    /// one. Returns whether the history changed: not when the report repeats the state that
    /// was already current at its time, is older than every report of a full history, or
    /// names another cluster.
    pub fn add(&mut self, report: ClusterReport) -> bool {
        if report.sync.cluster != self.cluster {
            return false;
        }
        let report = report.bounded();
        // Newest first: the place is before the first report older than this one.
        let at = self
            .reports
            .iter()
            .position(|r| {
                r.sync.synced_at < report.sync.synced_at
                    || (r.sync.synced_at == report.sync.synced_at && r.health_changed(&report))
            })
            .unwrap_or(self.reports.len());
        if at >= MAX_CLUSTER_HISTORY {
            return false;
        }
        if self.reports.get(at).is_some_and(|o| o.same_state(&report)) {
            return false;
        }
        if let Some(i) = at.checked_sub(1) {
            let newer = &mut self.reports[i];
            if newer.sync.synced_at == report.sync.synced_at && newer.same_state(&report) {
                return false;
            }
            if newer.same_state(&report) {
                // The state the newer report shows began earlier.
                newer.sync.synced_at = report.sync.synced_at;
                return true;
            }
        }
        self.reports.insert(at, report);
        self.reports.truncate(MAX_CLUSTER_HISTORY);
        true
    }

    /// Drops the oldest reports until the stored form is at most `max_units` UTF-16 code
    /// units (a store whose column is bounded, such as an Azure table's 64 KiB string); the
    /// newest report is always kept.
    pub fn fit(&mut self, max_units: usize) {
        while self.reports.len() > 1 && self.to_stored().encode_utf16().count() > max_units {
            self.reports.pop();
        }
    }

    /// The newest report that the cluster applied a commit: what it runs.
    pub fn applied(&self) -> Option<&ClusterReport> {
        self.reports.iter().find(|r| r.outcome == Outcome::Applied)
    }

    /// What the cluster runs, as a deployment's `clusters` show it: the newest applied
    /// commit, since when it runs it.
    pub fn current(&self) -> Option<ClusterSync> {
        self.applied().map(|r| r.sync.clone())
    }

    /// The newest report of each commit that says something is wrong
    /// ([`ClusterReport::is_trouble`]) and that no later report of the same commit
    /// superseded.
    pub fn troubles(&self) -> Vec<&ClusterReport> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for r in &self.reports {
            if seen
                .iter()
                .any(|c| super::deployment::commits_match(c, &r.sync.commit))
            {
                continue;
            }
            seen.push(&r.sync.commit);
            if r.is_trouble() {
                out.push(r);
            }
        }
        out
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 3, 2, 10, minute, 0).unwrap())
    }

    fn report(commit: &str, minute: u32, outcome: Outcome) -> ClusterReport {
        ClusterReport {
            outcome,
            ..ClusterReport::applied(ClusterSync {
                cluster: "east-us".into(),
                commit: commit.into(),
                synced_at: at(minute),
                tagger: Some("flux kustomization flux-system/apps".into()),
            })
        }
    }

    fn commits(h: &ClusterHistory) -> Vec<(&str, Outcome)> {
        h.reports.iter().map(|r| (r.commit(), r.outcome)).collect()
    }

    #[test]
    fn a_late_report_takes_its_place_and_does_not_move_the_cluster_back() {
        let mut h = ClusterHistory::new("east-us");
        assert!(h.add(report("aaaaaaa1", 1, Outcome::Applied)));
        assert!(h.add(report("ccccccc3", 30, Outcome::Applied)));
        assert!(h.add(report("bbbbbbb2", 10, Outcome::Applied)));
        assert_eq!(h.current().unwrap().commit, "ccccccc3");
        assert_eq!(
            commits(&h),
            vec![
                ("ccccccc3", Outcome::Applied),
                ("bbbbbbb2", Outcome::Applied),
                ("aaaaaaa1", Outcome::Applied)
            ]
        );
    }

    #[test]
    fn a_repeated_state_keeps_when_it_began() {
        let mut h = ClusterHistory::new("east-us");
        assert!(h.add(report("aaaaaaa1", 5, Outcome::Applied)));
        assert!(
            !h.add(report("aaaaaaa1", 9, Outcome::Applied)),
            "nothing new"
        );
        assert!(
            !h.add(report("aaaaaaa1", 5, Outcome::Applied)),
            "a retried report"
        );
        assert!(
            h.add(report("aaaaaaa1", 2, Outcome::Applied)),
            "began earlier"
        );
        assert_eq!(h.reports.len(), 1);
        assert_eq!(h.current().unwrap().synced_at, at(2));
    }

    #[test]
    fn a_health_told_at_the_same_time_as_the_sync_is_the_newer() {
        // Argo CD: synced at minute 5 (Progressing), then degraded, dated at the same finish.
        let mut h = ClusterHistory::new("east-us");
        let health = |word: &str| ClusterReport {
            health: Some(word.into()),
            ..report("aaaaaaa1", 5, Outcome::Applied)
        };
        assert!(h.add(health("Progressing")));
        assert!(h.add(health("Degraded")));
        assert_eq!(h.reports[0].health.as_deref(), Some("Degraded"));
        let troubles = h.troubles();
        assert_eq!(troubles.len(), 1, "{troubles:?}");
        assert_eq!(troubles[0].health.as_deref(), Some("Degraded"));
        assert!(!h.add(health("Degraded")), "a retried report");
        assert_eq!(h.current().unwrap().synced_at, at(5));
        // Another commit at the same time is no newer: the order of arrival does not move
        // the cluster back.
        assert!(h.add(report("bbbbbbb2", 5, Outcome::Applied)));
        assert_eq!(h.current().unwrap().commit, "aaaaaaa1");
    }

    #[test]
    fn a_failure_is_kept_and_the_cluster_still_runs_what_it_applied() {
        let mut h = ClusterHistory::new("east-us");
        h.add(report("aaaaaaa1", 1, Outcome::Applied));
        let mut failed = report("bbbbbbb2", 3, Outcome::Failed);
        failed.reason = Some("HealthCheckFailed".into());
        failed.message = Some(format!("timeout\u{7}{}", "x".repeat(500)));
        h.add(failed);
        assert_eq!(h.current().unwrap().commit, "aaaaaaa1");
        let troubles = h.troubles();
        assert_eq!(troubles.len(), 1);
        assert_eq!(troubles[0].commit(), "bbbbbbb2");
        assert_eq!(
            troubles[0].message.as_ref().unwrap().chars().count(),
            MAX_MESSAGE_CHARS
        );
        assert!(!troubles[0].message.as_ref().unwrap().contains('\u{7}'));
        // A later success of the same commit clears its trouble.
        h.add(report("bbbbbbb2", 6, Outcome::Applied));
        assert!(h.troubles().is_empty());
        assert_eq!(h.current().unwrap().commit, "bbbbbbb2");
    }

    #[test]
    fn an_application_that_failed_or_is_degraded_is_a_trouble() {
        let mut app = Applied {
            sync: report("aaaaaaa1", 1, Outcome::Applied).sync,
            application: "argocd/frontend".into(),
            repo: crate::model::repo::RepoRef::parse("https://github.com/fabrikam/manifests")
                .unwrap(),
            sync_status: Some("Synced".into()),
            health: Some("Healthy".into()),
            phase: Some("Succeeded".into()),
            history: Vec::new(),
            attempted: None,
        };
        let texts = |app: &Applied| -> Vec<String> {
            app.troubles()
                .iter()
                .map(ClusterReport::trouble_text)
                .collect()
        };
        assert!(app.troubles().is_empty());
        app.health = Some("Degraded".into());
        assert_eq!(texts(&app), ["east-us Degraded"]);
        app.phase = Some("Failed".into());
        assert_eq!(texts(&app), ["east-us failed (SyncFailed)"]);
    }

    #[test]
    fn a_failed_attempt_of_another_commit_is_its_trouble_beside_the_running_ones() {
        let mut app = Applied {
            sync: report("aaaaaaa1", 1, Outcome::Applied).sync,
            application: "argocd/frontend".into(),
            repo: crate::model::repo::RepoRef::parse("https://github.com/fabrikam/manifests")
                .unwrap(),
            sync_status: Some("OutOfSync".into()),
            health: Some("Healthy".into()),
            phase: None,
            history: Vec::new(),
            attempted: Some(Attempt {
                commit: "bbbbbbb2".into(),
                phase: Some("Running".into()),
                finished_at: None,
            }),
        };
        assert!(app.troubles().is_empty(), "a sync under way is no trouble");
        app.attempted = Some(Attempt {
            commit: "bbbbbbb2".into(),
            phase: Some("Error".into()),
            finished_at: at(9),
        });
        let troubles = app.troubles();
        assert_eq!(troubles.len(), 1, "the running commit is healthy");
        let t = &troubles[0];
        assert_eq!(
            (t.commit(), t.outcome, t.sync.synced_at, t.trouble_text()),
            (
                "bbbbbbb2",
                Outcome::Failed,
                at(9),
                "east-us failed (SyncError)".into()
            )
        );
        assert_eq!(t.sync.tagger, app.sync.tagger);
        app.health = Some("Degraded".into());
        let shown: Vec<(String, String)> = app
            .troubles()
            .iter()
            .map(|t| (t.commit().to_string(), t.trouble_text()))
            .collect();
        assert_eq!(
            shown,
            [
                ("bbbbbbb2".into(), "east-us failed (SyncError)".into()),
                ("aaaaaaa1".into(), "east-us Degraded".into()),
            ]
        );
    }

    #[test]
    fn a_history_fits_a_bounded_column_keeping_the_newest() {
        let mut h = ClusterHistory::new("east-us");
        for i in 0..MAX_CLUSTER_HISTORY as u32 {
            let mut r = report(&format!("{i:07x}b"), i, Outcome::Failed);
            r.message = Some("\"".repeat(MAX_MESSAGE_CHARS));
            h.add(r);
        }
        let before = h.to_stored().encode_utf16().count();
        h.fit(before / 2);
        assert!(h.to_stored().encode_utf16().count() <= before / 2);
        assert_eq!(
            h.reports[0].commit(),
            format!("{:07x}b", MAX_CLUSTER_HISTORY - 1)
        );
        h.fit(1);
        assert_eq!(h.reports.len(), 1, "the newest stays");
    }

    #[test]
    fn troubles_read_in_a_few_words() {
        let mut failed = report("aaaaaaa1", 1, Outcome::Failed);
        assert_eq!(failed.trouble_text(), "east-us failed");
        failed.reason = Some("HealthCheckFailed".into());
        assert_eq!(failed.trouble_text(), "east-us failed (HealthCheckFailed)");
        let mut degraded = report("aaaaaaa1", 1, Outcome::Applied);
        assert!(!degraded.is_trouble());
        degraded.health = Some("Healthy".into());
        assert!(!degraded.is_trouble());
        degraded.health = Some("Degraded".into());
        assert!(degraded.is_trouble());
        assert_eq!(degraded.trouble_text(), "east-us Degraded");
    }

    #[test]
    fn the_history_is_bounded_and_reads_older_stored_rows() {
        let mut h = ClusterHistory::new("east-us");
        for i in 0..(MAX_CLUSTER_HISTORY as u32 + 10) {
            h.add(report(&format!("{i:07x}a"), i, Outcome::Applied));
        }
        assert_eq!(h.reports.len(), MAX_CLUSTER_HISTORY);
        assert!(
            !h.add(report("0123456", 0, Outcome::Applied)),
            "older than all"
        );
        let back = ClusterHistory::from_stored(&h.to_stored()).unwrap();
        assert_eq!(back, h);
        let old = r#"{"cluster":"west-eu","commit":"abcdef1","syncedAt":"2026-03-02T10:00:00Z","tagger":null}"#;
        let old = ClusterHistory::from_stored(old).unwrap();
        assert_eq!(old.cluster, "west-eu");
        assert_eq!(old.current().unwrap().commit, "abcdef1");
        assert!(ClusterHistory::from_stored("{\"nope\":1}").is_none());
    }
}
