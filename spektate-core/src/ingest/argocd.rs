//! Argo CD Notifications webhooks as cluster reports.
//!
//! Argo CD Notifications sends what a template's `webhook.<service>.body` renders; the
//! template of `docs/gitops/argocd.md` renders one application's state as:
//!
//! ```json
//! {
//!   "application": "argocd/frontend-east",
//!   "destinationName": "east-us",
//!   "destinationServer": "https://east-us.example.com:6443",
//!   "revision": "3f1c2a7e9b...",
//!   "operationRevision": "3f1c2a7e9b...",
//!   "syncStatus": "Synced",
//!   "health": "Healthy",
//!   "phase": "Succeeded",
//!   "finishedAt": "2026-03-02T10:04:05Z",
//!   "message": "successfully synced (all tasks run)"
//! }
//! ```
//!
//! [`ArgoCdNotification::read`] turns it into a [`ClusterReport`] of the commit the last sync
//! operation synced (`operationRevision`): a sync that failed (`phase` `Failed` or `Error`) is
//! the cluster's failure on that commit; otherwise the commit is applied, with the
//! application's health (`Degraded` shows as trouble). `revision` is the commit Argo CD
//! compares the cluster with (the branch's newest), which the cluster runs only while the
//! application is `Synced`: a body of the earlier template, without `operationRevision`, is
//! read through it only then (or for a failed sync), and is [`Reading::Ignored`] otherwise.
//! A sync still running says nothing yet and is ignored too.

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use super::Reading;
use super::{json_error, not_ahead};
use crate::error::{Error, Result};
use crate::model::cluster::{ClusterReport, MAX_CLUSTER_CHARS, Outcome};
use crate::model::deployment::ClusterSync;

/// The in-cluster destination's server, which Argo CD names `in-cluster`.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// A string field that `toJson` of a missing value renders as `null`: empty.
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// The body the documented template renders: each field `toJson` of a value of the
/// application, a string, or `null` where the application has none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoCdNotification {
    /// `namespace/name` of the application.
    #[serde(default, deserialize_with = "text")]
    pub application: String,
    /// `spec.destination.name`: the cluster's name in Argo CD, empty when the destination is
    /// given by server.
    #[serde(default, deserialize_with = "text")]
    pub destination_name: String,
    /// `spec.destination.server`.
    #[serde(default, deserialize_with = "text")]
    pub destination_server: String,
    /// `status.sync.revision`: the commit the application is compared with (the branch's
    /// newest), which the cluster runs only while `Synced`.
    #[serde(default, deserialize_with = "text")]
    pub revision: String,
    /// `status.operationState.syncResult.revision`, else
    /// `status.operationState.operation.sync.revision`: the commit the last sync operation
    /// synced (or tried to). Empty in a body of the template before it sent this field.
    #[serde(default, deserialize_with = "text")]
    pub operation_revision: String,
    /// `status.sync.status` (`Synced`, `OutOfSync`).
    #[serde(default, deserialize_with = "text")]
    pub sync_status: String,
    /// `status.health.status` (`Healthy`, `Progressing`, `Degraded`, ...).
    #[serde(default, deserialize_with = "text")]
    pub health: String,
    /// `status.operationState.phase` (`Succeeded`, `Failed`, `Error`, `Running`).
    #[serde(default, deserialize_with = "text")]
    pub phase: String,
    /// `status.operationState.finishedAt`, RFC 3339; empty while running.
    #[serde(default, deserialize_with = "text")]
    pub finished_at: String,
    /// `status.operationState.message`.
    #[serde(default, deserialize_with = "text")]
    pub message: String,
}

impl ArgoCdNotification {
    /// Parses a request body; the error says what is wrong.
    pub fn parse(body: &[u8]) -> Result<ArgoCdNotification> {
        serde_json::from_slice(body).map_err(|e| {
            Error::invalid(
                "body",
                format!(
                    "is not the Argo CD Notifications template's JSON: {}",
                    json_error(&e)
                ),
            )
        })
    }

    /// The cluster, as the Argo CD sync source names it: the destination's name, else its
    /// server's address (`in-cluster` for the cluster Argo CD runs in).
    pub fn cluster(&self) -> Option<String> {
        let name = self.destination_name.trim();
        let cluster = if !name.is_empty() {
            name.to_string()
        } else {
            let s = self.destination_server.trim().trim_end_matches('/');
            if s.eq_ignore_ascii_case(IN_CLUSTER) {
                "in-cluster".to_string()
            } else {
                s.strip_prefix("https://")
                    .or_else(|| s.strip_prefix("http://"))
                    .unwrap_or(s)
                    .to_string()
            }
        };
        (!cluster.is_empty()
            && cluster.chars().count() <= MAX_CLUSTER_CHARS
            && !cluster.chars().any(char::is_control))
        .then_some(cluster)
    }

    /// What the notification says of its cluster: the report of the commit the last sync
    /// operation synced (see the module), or why it says nothing ([`Reading::Ignored`]: a sync
    /// still running, a body without `operationRevision` of an application not `Synced`).
    /// Errors name the field: no cluster, a revision that is not a commit, a time that does
    /// not parse or lies more than [`MAX_CLOCK_AHEAD`](super::MAX_CLOCK_AHEAD) after `now`.
    /// `now` is the server's time, and the time of a report whose sync has no `finishedAt`.
    pub fn read(&self, now: DateTime<Utc>) -> Result<Reading> {
        let cluster = self.cluster().ok_or_else(|| {
            Error::invalid(
                "destinationName",
                format!(
                    "'{}' and destinationServer '{}' are empty or not a cluster name (at most {MAX_CLUSTER_CHARS} characters, no control characters); the template sends {{{{.app.spec.destination.name}}}} and {{{{.app.spec.destination.server}}}}",
                    shown(&self.destination_name),
                    shown(&self.destination_server)
                ),
            )
        })?;
        let application = self.application.trim();
        let phase = self.phase.trim();
        if matches!(phase, "Running" | "Terminating") {
            return Ok(Reading::Ignored(format!(
                "the sync of {} is {}: what it applies is reported when it has finished",
                shown(application),
                phase.to_ascii_lowercase()
            )));
        }
        let failed = matches!(phase, "Failed" | "Error");
        let operation = self.operation_revision.trim();
        let (field, revision) = if !operation.is_empty() {
            ("operationRevision", operation)
        } else if failed || self.sync_status.trim() == "Synced" {
            ("revision", self.revision.trim())
        } else {
            return Ok(Reading::Ignored(format!(
                "{} is '{}' and the body has no operationRevision: revision '{}' is the commit Argo CD compares with, not one it applied; the template of docs/gitops/argocd.md sends operationRevision",
                shown(application),
                shown(self.sync_status.trim()),
                shown(self.revision.trim())
            )));
        };
        if !((7..=64).contains(&revision.len()) && revision.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::invalid(
                field,
                format!(
                    "'{}' is not a git commit; the template sends {} of an application with one git source",
                    shown(revision),
                    if field == "revision" {
                        "{{.app.status.sync.revision}}"
                    } else {
                        "{{.app.status.operationState.syncResult.revision}}"
                    }
                ),
            ));
        }
        let at = match self.finished_at.trim() {
            "" => now,
            t => {
                let at = DateTime::parse_from_rfc3339(t)
                    .map_err(|e| {
                        Error::invalid(
                            "finishedAt",
                            format!("'{}' is not an RFC 3339 time: {e}", shown(t)),
                        )
                    })?
                    .with_timezone(&Utc);
                not_ahead("finishedAt", t, at, now)?;
                at
            }
        };
        let word = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(Reading::Report(
            ClusterReport {
                sync: ClusterSync {
                    cluster,
                    commit: revision.to_ascii_lowercase(),
                    synced_at: Some(at),
                    tagger: Some(format!("argocd {application}")),
                },
                outcome: if failed {
                    Outcome::Failed
                } else {
                    Outcome::Applied
                },
                health: word(&self.health),
                reason: if failed {
                    word(&format!("Sync{phase}"))
                } else {
                    word(&self.sync_status)
                },
                message: word(&self.message),
            }
            .bounded(),
        ))
    }

    /// [`ArgoCdNotification::read`] for a caller that only writes reports: a notification
    /// that says nothing to write is an error naming `phase` or `syncStatus`, with the reason.
    pub fn report(&self, now: DateTime<Utc>) -> Result<ClusterReport> {
        match self.read(now)? {
            Reading::Report(report) => Ok(report),
            Reading::Ignored(why) => Err(Error::invalid(
                if matches!(self.phase.trim(), "Running" | "Terminating") {
                    "phase"
                } else {
                    "syncStatus"
                },
                why,
            )),
        }
    }
}

/// A value of the notification as an answer shows it: at most 100 characters, one line.
fn shown(s: &str) -> String {
    crate::text::shown(s, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_is_the_destination_name_else_its_server() {
        let mut n = ArgoCdNotification {
            destination_server: "https://kubernetes.default.svc".into(),
            ..Default::default()
        };
        assert_eq!(n.cluster().as_deref(), Some("in-cluster"));
        n.destination_server = "https://10.0.0.4:6443/".into();
        assert_eq!(n.cluster().as_deref(), Some("10.0.0.4:6443"));
        n.destination_name = "east-us".into();
        assert_eq!(n.cluster().as_deref(), Some("east-us"));
        let none = ArgoCdNotification {
            revision: "3f1c2a7e9b".into(),
            ..Default::default()
        };
        let e = none.report(Utc::now()).unwrap_err();
        assert!(e.to_string().starts_with("invalid destinationName"), "{e}");
    }

    #[test]
    fn null_fields_read_as_empty() {
        let n = ArgoCdNotification::parse(
            br#"{"application": "argocd/frontend", "destinationName": null, "destinationServer": "https://kubernetes.default.svc", "revision": "3f1c2a7e9b", "syncStatus": "Synced", "health": "Healthy", "phase": null, "finishedAt": null, "message": null}"#,
        )
        .unwrap();
        let r = n.report(Utc::now()).unwrap();
        assert_eq!((r.cluster(), r.outcome), ("in-cluster", Outcome::Applied));
        assert!(ArgoCdNotification::parse(br#"{"revision": 7}"#).is_err());
    }

    #[test]
    fn a_failed_sync_is_a_failure_and_a_bad_revision_is_named() {
        let n = ArgoCdNotification {
            application: "argocd/frontend".into(),
            destination_name: "east-us".into(),
            revision: "3F1C2A7E9B".into(),
            phase: "Failed".into(),
            health: "Degraded".into(),
            finished_at: "2026-03-02T10:04:05Z".into(),
            message: "one or more objects failed to apply".into(),
            ..Default::default()
        };
        let r = n.report(Utc::now()).unwrap();
        assert_eq!(r.outcome, Outcome::Failed);
        assert_eq!(r.commit(), "3f1c2a7e9b");
        assert_eq!(r.reason.as_deref(), Some("SyncFailed"));
        let bad = ArgoCdNotification {
            revision: "HEAD".into(),
            ..n
        };
        let e = bad.report(Utc::now()).unwrap_err();
        assert!(e.to_string().contains("'HEAD'"), "{e}");
    }

    const A: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
    const B: &str = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1";

    fn now() -> DateTime<Utc> {
        "2026-03-02T12:00:00Z".parse().unwrap()
    }

    /// What the template renders for an application on cluster east-us.
    fn body(fields: serde_json::Value) -> ArgoCdNotification {
        let mut body = serde_json::json!({
            "application": "argocd/frontend-east", "destinationName": "east-us",
            "destinationServer": "https://east-us.example.com:6443", "health": "Healthy",
            "message": "successfully synced (all tasks run)"
        });
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        ArgoCdNotification::parse(body.to_string().as_bytes()).unwrap()
    }

    fn reported(n: &ArgoCdNotification) -> ClusterReport {
        match n.read(now()).unwrap() {
            Reading::Report(r) => r,
            Reading::Ignored(why) => panic!("ignored: {why}"),
        }
    }

    fn ignored(n: &ArgoCdNotification) -> String {
        match n.read(now()).unwrap() {
            Reading::Ignored(why) => why,
            Reading::Report(r) => panic!("a report of {}", r.commit()),
        }
    }

    #[test]
    fn the_commit_applied_is_the_operations_not_the_one_compared_with() {
        // A synced, then B pushed: Argo CD compares with B, the last operation synced A.
        let out_of_sync = body(serde_json::json!({
            "revision": B, "operationRevision": A, "syncStatus": "OutOfSync",
            "phase": "Succeeded", "finishedAt": "2026-03-02T10:00:00Z"
        }));
        let r = reported(&out_of_sync);
        assert_eq!((r.commit(), r.outcome), (A, Outcome::Applied));
        assert_eq!(
            r.sync.synced_at,
            Some("2026-03-02T10:00:00Z".parse().unwrap())
        );
        // A sync of B that failed is B's failure, whatever is compared with.
        let failed = body(serde_json::json!({
            "revision": B, "operationRevision": B, "syncStatus": "OutOfSync",
            "phase": "Failed", "finishedAt": "2026-03-02T10:05:00Z"
        }));
        let r = reported(&failed);
        assert_eq!((r.commit(), r.outcome), (B, Outcome::Failed));
        // B still syncing: nothing applied yet.
        let running = body(serde_json::json!({
            "revision": B, "operationRevision": B, "syncStatus": "OutOfSync",
            "phase": "Running", "finishedAt": null
        }));
        let why = ignored(&running);
        assert!(
            why.contains("argocd/frontend-east") && why.contains("running"),
            "{why}"
        );
        let e = running.report(now()).unwrap_err();
        assert!(e.to_string().starts_with("invalid phase: "), "{e}");
        // A bad operation revision is named as such.
        let bad = body(serde_json::json!({
            "revision": B, "operationRevision": "HEAD", "syncStatus": "Synced",
            "phase": "Succeeded"
        }));
        let e = bad.read(now()).unwrap_err().to_string();
        assert!(e.starts_with("invalid operationRevision: 'HEAD'"), "{e}");
    }

    #[test]
    fn a_body_of_the_earlier_template_counts_only_while_synced() {
        let synced = body(serde_json::json!({
            "revision": A, "syncStatus": "Synced", "phase": "Succeeded",
            "finishedAt": "2026-03-02T10:00:00Z"
        }));
        let r = reported(&synced);
        assert_eq!((r.commit(), r.outcome), (A, Outcome::Applied));
        let out_of_sync = body(serde_json::json!({
            "revision": B, "syncStatus": "OutOfSync", "phase": "Succeeded",
            "finishedAt": "2026-03-02T10:00:00Z"
        }));
        let why = ignored(&out_of_sync);
        assert!(
            why.contains("'OutOfSync'") && why.contains(B) && why.contains("operationRevision"),
            "{why}"
        );
        let running = body(serde_json::json!({
            "revision": A, "syncStatus": "Synced", "phase": "Running", "finishedAt": null
        }));
        ignored(&running);
    }

    #[test]
    fn a_finish_time_ahead_of_the_clock_is_refused() {
        let at = |t: &str| {
            body(serde_json::json!({
                "revision": A, "operationRevision": A, "syncStatus": "Synced",
                "phase": "Succeeded", "finishedAt": t
            }))
        };
        let e = at("2999-01-01T00:00:00Z")
            .read(now())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid finishedAt: '2999-01-01T00:00:00Z' is more than 5 minutes ahead of the clock here (2026-03-02T12:00:00Z); check the sender's clock"
        );
        assert!(at("2026-03-02T12:05:01Z").read(now()).is_err());
        let r = reported(&at("2026-03-02T12:04:59Z"));
        assert_eq!(r.commit(), A, "a clock a little ahead is taken");
    }

    #[test]
    fn refused_values_are_shown_cut() {
        let long = "x".repeat(60_000);
        let n = body(serde_json::json!({
            "destinationName": format!("east\n{long}"), "destinationServer": long,
            "revision": A, "syncStatus": "Synced"
        }));
        let e = n.read(now()).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid destinationName: 'east xxx")
                && e.contains("…' and destinationServer 'xxx"),
            "{e}"
        );
        assert!(e.len() < 500, "{} bytes", e.len());
        let finished = body(serde_json::json!({
            "revision": A, "syncStatus": "Synced", "finishedAt": long
        }));
        let e = finished.read(now()).unwrap_err().to_string();
        assert!(e.starts_with("invalid finishedAt: 'xxx"), "{e}");
        assert!(e.len() < 300, "{} bytes", e.len());
        // serde's words repeat the value: cut, with where it is.
        let e = ArgoCdNotification::parse(format!("\"{long}\"").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("at line 1 column 60002"), "{e}");
        assert!(e.len() < 400, "{} bytes", e.len());
    }
}
