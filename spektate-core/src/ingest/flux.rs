//! Flux v2 notification-controller events as cluster reports.
//!
//! A `generic` or `generic-hmac` Provider posts each event an Alert selects as the JSON of
//! `fluxcd/pkg/apis/event/v1beta1.Event`:
//!
//! ```json
//! {
//!   "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "apps",
//!                      "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "uid": "..."},
//!   "severity": "info",
//!   "timestamp": "2026-03-02T10:04:05Z",
//!   "message": "Reconciliation finished in 1.2s, next run in 10m0s",
//!   "reason": "ReconciliationSucceeded",
//!   "metadata": {"revision": "main@sha1:3f1c...", "cluster": "east-us"},
//!   "reportingController": "kustomize-controller"
//! }
//! ```
//!
//! notification-controller strips the object's API group from the controller's metadata keys
//! (`kustomize.toolkit.fluxcd.io/revision` arrives as `revision`) and adds the Alert's
//! `eventMetadata` as they are, so an Alert can name its cluster (`cluster: east-us`).
//! [`FluxEvent::report`] turns an event of a Kustomization or HelmRelease into a
//! [`ClusterReport`]: a successful reconciliation, install or upgrade is the commit applied;
//! an event of severity `error` is the cluster's failure on that commit. Other events say
//! nothing of what a cluster runs and are [`Reading::Ignored`], with the reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{json_error, not_ahead};
use crate::error::{Error, Result};
use crate::model::cluster::{ClusterReport, MAX_CLUSTER_CHARS, Outcome};
use crate::model::deployment::ClusterSync;

/// The reasons of a successful reconciliation that applied the revision: Kustomization's
/// `ReconciliationSucceeded`, HelmRelease's `InstallSucceeded` and `UpgradeSucceeded`.
pub const APPLIED_REASONS: [&str; 3] = [
    "ReconciliationSucceeded",
    "InstallSucceeded",
    "UpgradeSucceeded",
];

/// The object an event is about (`corev1.ObjectReference`, the fields used).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvolvedObject {
    /// `Kustomization`, `HelmRelease`, `GitRepository`, ...
    #[serde(default)]
    pub kind: String,
    /// Its namespace.
    #[serde(default)]
    pub namespace: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its API version (`kustomize.toolkit.fluxcd.io/v1`).
    #[serde(default)]
    pub api_version: String,
}

/// One event as notification-controller forwards it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxEvent {
    /// The object the event is about.
    pub involved_object: InvolvedObject,
    /// `trace`, `info` or `error`.
    pub severity: String,
    /// When the controller recorded it.
    pub timestamp: DateTime<Utc>,
    /// What happened, for people.
    #[serde(default)]
    pub message: String,
    /// The reason word (`ReconciliationSucceeded`, `HealthCheckFailed`, ...).
    pub reason: String,
    /// The controller's metadata (group prefix stripped) and the Alert's `eventMetadata`.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The controller that emitted it (`kustomize-controller`).
    #[serde(default)]
    pub reporting_controller: String,
}

/// What an event says of a cluster (also what an Argo CD notification says).
pub use super::Reading;

impl FluxEvent {
    /// Parses a request body; the error names the field that is missing or malformed.
    pub fn parse(body: &[u8]) -> Result<FluxEvent> {
        serde_json::from_slice(body).map_err(|e| {
            Error::invalid(
                "body",
                format!(
                    "is not a Flux event (involvedObject, severity, timestamp, reason): {}",
                    json_error(&e)
                ),
            )
        })
    }

    /// The git commit the event is about, as [`fluxcd/pkg`'s `GetRevision`] finds the
    /// revision (`commit`, else `originRevision`, else `revision`), read by
    /// [`commit_of_revision`]. `None` when the revision is not a git commit (an OCI digest,
    /// a chart version).
    ///
    /// [`fluxcd/pkg`'s `GetRevision`]: https://github.com/fluxcd/pkg/blob/main/apis/event/v1beta1/event.go
    pub fn commit(&self) -> Option<String> {
        ["commit", "originRevision", "revision"]
            .iter()
            .filter_map(|k| self.metadata.get(*k))
            .find_map(|r| commit_of_revision(r))
    }

    /// What the event says of a cluster: `cluster` is the one the hook's URL names, else the
    /// Alert's `eventMetadata.cluster` is. Errors name the field: no cluster, a URL and
    /// metadata that name different clusters, an event of a Kustomization or HelmRelease
    /// whose revision is not a git commit (nor an artifact digest, which is ignored), a
    /// `timestamp` more than [`MAX_CLOCK_AHEAD`](super::MAX_CLOCK_AHEAD) after now.
    pub fn report(&self, cluster: Option<&str>) -> Result<Reading> {
        self.report_at(cluster, Utc::now())
    }

    /// [`FluxEvent::report`] with `now` as the server's time.
    pub fn report_at(&self, cluster: Option<&str>, now: DateTime<Utc>) -> Result<Reading> {
        let kind = self.involved_object.kind.as_str();
        if !matches!(kind, "Kustomization" | "HelmRelease") {
            return Ok(Reading::Ignored(format!(
                "events of a {} say nothing of what a cluster runs; only Kustomization and HelmRelease events are read",
                shown(kind)
            )));
        }
        let failed = self.severity.eq_ignore_ascii_case("error");
        if !failed && !APPLIED_REASONS.contains(&self.reason.as_str()) {
            return Ok(Reading::Ignored(format!(
                "reason '{}' of severity '{}' neither applies nor fails a revision",
                shown(&self.reason),
                shown(&self.severity)
            )));
        }
        let cluster = self.cluster(cluster)?;
        let Some(commit) = self.commit() else {
            let revision = ["commit", "originRevision", "revision"]
                .iter()
                .find_map(|k| self.metadata.get(*k));
            return match revision {
                // A HelmRelease of a chart from a Helm or OCI repository has no commit.
                Some(r) if kind == "HelmRelease" => Ok(Reading::Ignored(format!(
                    "revision '{}' of HelmRelease {}/{} is not a git commit",
                    shown(r),
                    shown(&self.involved_object.namespace),
                    shown(&self.involved_object.name)
                ))),
                // A Kustomization of an OCIRepository or a Bucket applies an artifact, no commit.
                Some(r) if is_artifact_digest(r) => Ok(Reading::Ignored(format!(
                    "revision '{}' of {kind} {}/{} is an artifact digest (an OCIRepository or Bucket source), not a git commit",
                    shown(r),
                    shown(&self.involved_object.namespace),
                    shown(&self.involved_object.name)
                ))),
                Some(r) => Err(Error::invalid(
                    "metadata.revision",
                    format!(
                        "'{}' is not a git revision (main@sha1:<sha>, sha1:<sha> or main/<sha>) nor an artifact digest (latest@sha256:<digest>, sha256:<digest>)",
                        shown(r)
                    ),
                )),
                None => Err(Error::invalid(
                    "metadata.revision",
                    "is missing; Flux sends it with every Kustomization and HelmRelease event",
                )),
            };
        };
        not_ahead(
            "timestamp",
            &self
                .timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            self.timestamp,
            now,
        )?;
        let tagger = format!(
            "flux {} {}/{}",
            kind.to_ascii_lowercase(),
            self.involved_object.namespace,
            self.involved_object.name
        );
        Ok(Reading::Report(
            ClusterReport {
                sync: ClusterSync {
                    cluster,
                    commit,
                    synced_at: Some(self.timestamp),
                    tagger: Some(tagger),
                },
                outcome: if failed {
                    Outcome::Failed
                } else {
                    Outcome::Applied
                },
                health: None,
                reason: Some(self.reason.clone()),
                message: Some(self.message.clone()),
            }
            .bounded(),
        ))
    }

    /// The partition the event is for: the URL's (`?partition=`) or the Alert's
    /// `eventMetadata.partition`, which the signature covers; both must agree when both are
    /// given. `None` when neither names one (the server's default).
    pub fn partition(&self, from_url: Option<&str>) -> Result<Option<String>> {
        Ok(self.named("partition", from_url)?.map(str::to_string))
    }

    /// What the URL and the Alert's `eventMetadata` say of `key`: either, or both when
    /// they agree; an error naming both when they do not.
    fn named<'a>(&'a self, key: &str, from_url: Option<&'a str>) -> Result<Option<&'a str>> {
        let from_url = from_url.map(str::trim).filter(|v| !v.is_empty());
        let from_meta = self
            .metadata
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty());
        match (from_url, from_meta) {
            (Some(u), Some(m)) if u != m => Err(Error::invalid(
                key,
                format!(
                    "the URL names '{}' and the event's metadata '{}'; name one, or the same",
                    shown(u),
                    shown(m)
                ),
            )),
            (Some(v), _) | (None, Some(v)) => Ok(Some(v)),
            (None, None) => Ok(None),
        }
    }

    fn cluster(&self, from_url: Option<&str>) -> Result<String> {
        let Some(cluster) = self.named("cluster", from_url)? else {
            return Err(Error::invalid(
                "cluster",
                "is named neither by the URL (/api/flux/<cluster>) nor by the Alert's eventMetadata (cluster: <name>)",
            ));
        };
        if cluster.chars().count() > MAX_CLUSTER_CHARS || cluster.chars().any(char::is_control) {
            return Err(Error::invalid(
                "cluster",
                format!(
                    "'{}' is not a cluster name (at most {MAX_CLUSTER_CHARS} characters, no control characters)",
                    shown(cluster)
                ),
            ));
        }
        Ok(cluster.to_string())
    }
}

/// The git commit of a Flux revision: `main@sha1:<sha>` (also a tag's `v1.2@sha1:<sha>`),
/// `sha1:<sha>`, the older `main/<sha>`, or a bare commit id; `None` for anything else
/// (`sha256:` digests of OCI artifacts, chart versions).
pub fn commit_of_revision(revision: &str) -> Option<String> {
    let r = revision.trim();
    let sha = if let Some((_, digest)) = r.rsplit_once('@') {
        digest.strip_prefix("sha1:")?
    } else if let Some(sha) = r.strip_prefix("sha1:") {
        sha
    } else if let Some((_, sha)) = r.rsplit_once('/') {
        sha
    } else {
        r
    };
    let is_commit = (7..=64).contains(&sha.len()) && sha.bytes().all(|b| b.is_ascii_hexdigit());
    is_commit.then(|| sha.to_ascii_lowercase())
}

/// Whether a Flux revision is the digest of an artifact that is no git commit: an
/// OCIRepository's `latest@sha256:<hex>` or `sha256:<hex>`, a Bucket's `sha256:<hex>`
/// (source-controller's digest algorithms: SHA-256, SHA-384, SHA-512, BLAKE3).
pub fn is_artifact_digest(revision: &str) -> bool {
    let r = revision.trim();
    let digest = r.rsplit_once('@').map_or(r, |(_, d)| d);
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let len = match algorithm {
        "sha256" | "blake3" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A value of the event as an answer shows it: at most 100 characters, no control characters.
fn shown(s: &str) -> String {
    crate::text::shown(s, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1";

    #[test]
    fn every_revision_form_gives_the_commit() {
        for r in [
            format!("main@sha1:{SHA}"),
            format!("refs/heads/main@sha1:{SHA}"),
            format!("v1.2.0@sha1:{SHA}"),
            format!("sha1:{SHA}"),
            format!("main/{SHA}"),
            SHA.to_uppercase(),
        ] {
            assert_eq!(commit_of_revision(&r).as_deref(), Some(SHA), "{r}");
        }
        for r in [
            "latest@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "6.0.1",
            "main@sha1:xyz",
            "",
        ] {
            assert_eq!(commit_of_revision(r), None, "{r}");
        }
    }

    fn event(reason: &str, severity: &str) -> FluxEvent {
        FluxEvent::parse(
            serde_json::json!({
                "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "apps",
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632"},
                "severity": severity, "timestamp": "2026-03-02T10:04:05Z",
                "message": "Reconciliation finished in 1.2s, next run in 10m0s", "reason": reason,
                "metadata": {"revision": format!("main@sha1:{SHA}"), "cluster": "east-us"},
                "reportingController": "kustomize-controller"
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn success_and_failure_are_reports_and_the_rest_is_ignored() {
        let Reading::Report(r) = event("ReconciliationSucceeded", "info")
            .report(None)
            .unwrap()
        else {
            panic!("a report");
        };
        assert_eq!(
            (r.cluster(), r.commit(), r.outcome),
            ("east-us", SHA, Outcome::Applied)
        );
        assert_eq!(
            r.sync.tagger.as_deref(),
            Some("flux kustomization flux-system/apps")
        );
        let Reading::Report(f) = event("HealthCheckFailed", "error").report(None).unwrap() else {
            panic!("a report");
        };
        assert_eq!(f.outcome, Outcome::Failed);
        assert_eq!(f.reason.as_deref(), Some("HealthCheckFailed"));
        assert!(matches!(
            event("Progressing", "info").report(None).unwrap(),
            Reading::Ignored(_)
        ));
        let e = event("ReconciliationSucceeded", "info")
            .report(Some("west-eu"))
            .unwrap_err();
        assert!(e.to_string().contains("'west-eu'"), "{e}");
    }

    #[test]
    fn a_timestamp_ahead_of_the_clock_is_refused() {
        let now: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let mut e = event("ReconciliationSucceeded", "info");
        e.timestamp = "2999-01-01T00:00:00Z".parse().unwrap();
        let refused = e.report_at(None, now).unwrap_err().to_string();
        assert_eq!(
            refused,
            "invalid timestamp: '2999-01-01T00:00:00Z' is more than 5 minutes ahead of the clock here (2026-03-02T10:00:00Z); check the sender's clock"
        );
        e.timestamp = now + chrono::Duration::seconds(301);
        assert!(e.report_at(None, now).is_err());
        e.timestamp = now + chrono::Duration::seconds(299);
        assert!(
            matches!(e.report_at(None, now), Ok(Reading::Report(_))),
            "a clock a little ahead is taken"
        );
        // An event that is ignored anyway is not refused for its time.
        let mut progressing = event("Progressing", "info");
        progressing.timestamp = "2999-01-01T00:00:00Z".parse().unwrap();
        assert!(matches!(
            progressing.report_at(None, now),
            Ok(Reading::Ignored(_))
        ));
    }

    #[test]
    fn an_artifact_digest_is_ignored_and_an_unknown_revision_refused() {
        let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        for revision in [
            format!("latest@sha256:{digest}"),
            format!("v1.2.0@sha256:{digest}"),
            format!("sha256:{digest}"),
            format!("sha512:{digest}{digest}"),
            format!("blake3:{digest}"),
        ] {
            let mut e = event("ReconciliationSucceeded", "info");
            e.metadata.insert("revision".into(), revision.clone());
            let Ok(Reading::Ignored(why)) = e.report(None) else {
                panic!("{revision}: not ignored");
            };
            assert!(
                why.contains(&shown(&revision)) && why.contains("Kustomization flux-system/apps"),
                "{why}"
            );
        }
        for revision in [
            "6.0.1",
            "main@sha1:xyz",
            "sha256:9f86",
            "latest@md5:9f86d081884c7d659a2feaa0c55ad015",
        ] {
            let mut e = event("ReconciliationSucceeded", "info");
            e.metadata.insert("revision".into(), revision.into());
            let refused = e.report(None).unwrap_err().to_string();
            assert!(
                refused.starts_with(&format!("invalid metadata.revision: '{revision}'")),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_an_event_is_refused_with_serdes_words_cut() {
        let long = "x".repeat(60_000);
        let e = FluxEvent::parse(
            serde_json::json!({"involvedObject": long, "severity": "info"})
                .to_string()
                .as_bytes(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("invalid body: is not a Flux event (involvedObject, severity, timestamp, reason): a value of the wrong type or a missing field at line 1 column 60020: invalid type: string \"xxx"),
            "{e}"
        );
        assert!(e.len() < 400, "{} bytes", e.len());
        let e = FluxEvent::parse(b"{\"severity\": ")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cut short at line 1 column 13"), "{e}");
    }
}
