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
//!   "syncStatus": "Synced",
//!   "health": "Healthy",
//!   "phase": "Succeeded",
//!   "finishedAt": "2026-03-02T10:04:05Z",
//!   "message": "successfully synced (all tasks run)"
//! }
//! ```
//!
//! [`ArgoCdNotification::report`] turns it into a [`ClusterReport`]: a sync that failed
//! (`phase` `Failed` or `Error`) is the cluster's failure on that revision; otherwise the
//! revision is applied, with the application's health (`Degraded` shows as trouble).

use chrono::{DateTime, Utc};
use serde::Deserialize;

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
    /// `status.sync.revision`: the commit the application was synced (or compared) to.
    #[serde(default, deserialize_with = "text")]
    pub revision: String,
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
                format!("is not the Argo CD Notifications template's JSON: {e}"),
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

    /// The report: errors name the field (no cluster, a revision that is not a commit, a
    /// time that does not parse). `now` is the time of a report whose sync has not finished.
    pub fn report(&self, now: DateTime<Utc>) -> Result<ClusterReport> {
        let cluster = self.cluster().ok_or_else(|| {
            Error::invalid(
                "destinationName",
                "and destinationServer are empty or not a cluster name; the template sends {{.app.spec.destination.name}} and {{.app.spec.destination.server}}",
            )
        })?;
        let revision = self.revision.trim();
        if !((7..=64).contains(&revision.len()) && revision.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::invalid(
                "revision",
                format!(
                    "'{}' is not a git commit; the template sends {{{{.app.status.sync.revision}}}} of an application with one git source",
                    revision.chars().take(100).collect::<String>()
                ),
            ));
        }
        let at = match self.finished_at.trim() {
            "" => now,
            t => DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    Error::invalid(
                        "finishedAt",
                        format!(
                            "'{}' is not an RFC 3339 time: {e}",
                            t.chars().take(100).collect::<String>()
                        ),
                    )
                })?
                .with_timezone(&Utc),
        };
        let failed = matches!(self.phase.trim(), "Failed" | "Error");
        let word = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let application = self.application.trim();
        Ok(ClusterReport {
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
                word(&format!("Sync{}", self.phase.trim()))
            } else {
                word(&self.sync_status)
            },
            message: word(&self.message),
        }
        .bounded())
    }
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
}
