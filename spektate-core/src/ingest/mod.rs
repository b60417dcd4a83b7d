//! Write requests: the six things a pipeline records (`spektate record --p1`, `--p2`,
//! `--p3 --hld-commit-id`, `--p3 --manifest-commit-id`, `record run`, `record sync`) as one
//! value that is read from flags or from JSON, applied to a [`Recorder`], or sent to a
//! Spektate server, with the same checks and the same error messages everywhere.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use spektate_core::ingest::{Ingest, Kind};
//! use spektate_core::{MemoryStore, Recorder};
//!
//! let body = serde_json::json!({
//!     "p1": 1042, "imageTag": "frontend-1042", "commitId": "a1b2c3d", "service": "fabrikam/frontend"
//! });
//! let ingest = Ingest::from_json(Kind::Image, &body).unwrap();
//! let recorder = Recorder::new(Arc::new(MemoryStore::new()), "fabrikam").unwrap();
//! let id = ingest.apply(&recorder).await.unwrap();
//! assert_eq!(id.len(), 12);
//!
//! let e = Ingest::from_json(Kind::Image, &serde_json::json!({"p1": "1"})).unwrap_err();
//! assert_eq!(e.to_string(), "invalid imageTag: is required in an image record");
//! # });
//! ```

pub mod argocd;
pub mod cdevents;
#[cfg(feature = "http")]
pub mod client;
mod fields;
pub mod flux;
#[cfg(feature = "http")]
pub mod oidc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::run::{RunResult, RunStatus};
use crate::recorder::{
    ImageBuilt, ManifestCommitted, ManifestGenerated, MetadataUpdated, Recorder, RunReported,
};

use fields::Values;
pub use fields::{Field, FieldType, Naming};

use crate::model::cluster::ClusterReport;

/// How far past the server's clock a GitOps agent's report may be dated (a Flux event's
/// `timestamp`, an Argo CD sync's `finishedAt`), and a run report's times: a sender's clock a
/// little ahead is taken, a
/// later time is refused, since a report dated years ahead would stay its cluster's newest for
/// good and no report of the present could follow it.
pub const MAX_CLOCK_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

/// What a GitOps agent's notification says of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A commit applied, or failed, in a cluster.
    Report(ClusterReport),
    /// Nothing about what a cluster runs; the reason, for the answer.
    Ignored(String),
}

/// Refuses `at`, the time `field` gave as `given`, when it lies more than [`MAX_CLOCK_AHEAD`]
/// after `now`.
pub(crate) fn not_ahead(
    field: &str,
    given: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let latest = now
        .checked_add_signed(MAX_CLOCK_AHEAD)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if at <= latest {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!(
            "'{}' is more than {} minutes ahead of the clock here ({}); check the sender's clock",
            shown(given),
            MAX_CLOCK_AHEAD.num_minutes(),
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    ))
}

/// A JSON body's parse error as an answer shows it: its kind, where, and serde's words cut,
/// since they repeat the offending value (a string of any length).
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "not JSON",
        Category::Data => "a value of the wrong type or a missing field",
        Category::Eof => "cut short",
    };
    let text = e.to_string();
    let place = format!(" at line {} column {}", e.line(), e.column());
    let words = text.strip_suffix(&place).unwrap_or(&text);
    format!("{kind}{place}: {}", shown(words))
}

/// An untrusted value as an error shows it: one line, at most 100 characters.
fn shown(value: &str) -> String {
    crate::text::shown(value, 100)
}

/// Which of the six records a request writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// p1 built an image (linking rule 1).
    Image,
    /// p2 wrote the image tag into the HLD for a ring (rule 2).
    Metadata,
    /// p3 renders manifests from an HLD commit (rule 3).
    Manifest,
    /// p3 pushed its manifest commit (rule 4).
    ManifestCommit,
    /// A pipeline reports its own run.
    Run,
    /// A cluster reports the manifest commit it runs.
    Sync,
}

impl Kind {
    /// Every kind, in the order of the journey.
    pub const ALL: [Kind; 6] = [
        Kind::Image,
        Kind::Metadata,
        Kind::Manifest,
        Kind::ManifestCommit,
        Kind::Run,
        Kind::Sync,
    ];

    /// Its name in paths, metrics and logs (`image`, `manifest-commit`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Metadata => "metadata",
            Kind::Manifest => "manifest",
            Kind::ManifestCommit => "manifest-commit",
            Kind::Run => "run",
            Kind::Sync => "sync",
        }
    }

    /// The server's path for it, from the root of the server.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Image => "/api/records/image",
            Kind::Metadata => "/api/records/metadata",
            Kind::Manifest => "/api/records/manifest",
            Kind::ManifestCommit => "/api/records/manifest-commit",
            Kind::Run => "/api/runs",
            Kind::Sync => "/api/syncs",
        }
    }

    /// Its fields.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Kind::Image => fields::IMAGE,
            Kind::Metadata => fields::METADATA,
            Kind::Manifest => fields::MANIFEST,
            Kind::ManifestCommit => fields::MANIFEST_COMMIT,
            Kind::Run => fields::RUN,
            Kind::Sync => fields::SYNC,
        }
    }

    /// The `spektate record` form that writes it.
    pub fn command(self) -> &'static str {
        match self {
            Kind::Image => "--p1",
            Kind::Metadata => "--p2",
            Kind::Manifest => "--p3 --hld-commit-id",
            Kind::ManifestCommit => "--p3 --manifest-commit-id",
            Kind::Run => "record run",
            Kind::Sync => "record sync",
        }
    }

    /// What it is, in a sentence's words (`an image record`).
    fn described(self) -> &'static str {
        match self {
            Kind::Image => "an image record",
            Kind::Metadata => "a metadata record",
            Kind::Manifest => "a manifest record",
            Kind::ManifestCommit => "a manifest commit record",
            Kind::Run => "a run report",
            Kind::Sync => "a cluster sync",
        }
    }

    /// The field named `name` in JSON (or by its flag without dashes).
    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.answers_to(name))
    }

    /// Which step a `spektate record` with these flags writes: exactly one of p1, p2, p3,
    /// and with p3 an HLD commit (rule 3) or only a manifest commit (rule 4).
    pub fn of_step(
        p1: bool,
        p2: bool,
        p3: bool,
        hld_commit: bool,
        manifest_commit: bool,
    ) -> Result<Kind> {
        match (p1, p2, p3) {
            (true, false, false) => Ok(Kind::Image),
            (false, true, false) => Ok(Kind::Metadata),
            (false, false, true) if hld_commit => Ok(Kind::Manifest),
            (false, false, true) if manifest_commit => Ok(Kind::ManifestCommit),
            (false, false, true) => Err(Error::invalid(
                "--hld-commit-id",
                "or --manifest-commit-id is required with --p3",
            )),
            _ => Err(Error::invalid(
                "record",
                "give exactly one of --p1, --p2 or --p3 (or `record run`, `record sync`); see spektate record --help",
            )),
        }
    }
}

/// What the linking rules are asked to do, checked.
#[derive(Debug, Clone)]
enum Event {
    Image(ImageBuilt),
    Metadata(MetadataUpdated),
    Manifest(ManifestGenerated),
    ManifestCommit(ManifestCommitted),
    Run(RunReported),
    Sync { cluster: String, commit: String },
}

/// One checked write request.
#[derive(Debug, Clone)]
pub struct Ingest {
    kind: Kind,
    values: Values,
    event: Event,
}

/// What a write answers: the id of what was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    /// The record's row key (deployment id), the run id, or the cluster.
    pub id: String,
    /// The partition written to.
    pub partition: String,
    /// Which record ([`Kind::name`]).
    pub kind: String,
}

impl Ingest {
    /// A request from a JSON body; errors name the JSON field (`imageTag`).
    pub fn from_json(kind: Kind, body: &Value) -> Result<Ingest> {
        let values = fields::from_json(kind.fields(), body)?;
        Self::checked(kind, values, Naming::Json)
    }

    /// A request from flag values, by flag (`--image-tag`); flags that are not fields of
    /// the kind are left out, and errors name the flag.
    pub fn from_flags<'a>(
        kind: Kind,
        flags: impl IntoIterator<Item = (&'a str, Option<String>)>,
    ) -> Result<Ingest> {
        let given: Vec<(&str, String)> = flags
            .into_iter()
            .filter_map(|(flag, v)| v.map(|v| (flag, v)))
            .collect();
        let values = kind
            .fields()
            .iter()
            .filter_map(|f| {
                given
                    .iter()
                    .find(|(flag, _)| *flag == f.flag)
                    .map(|(_, v)| (f, v.clone()))
            })
            .collect();
        Self::checked(kind, values, Naming::Flags)
    }

    /// Which record it writes.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The request as JSON, by the fields' JSON names.
    pub fn to_json(&self) -> Value {
        fields::to_json(&self.values)
    }

    /// The value given for the field named `name` in JSON, as given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| f.name == name)
            .map(|(_, v)| v.as_str())
    }

    /// Applies the linking rule of its kind; returns the id written (the record's row key,
    /// the run id or the cluster). An [`Error::Invalid`] from the rules names the JSON field.
    pub async fn apply(&self, recorder: &Recorder) -> Result<String> {
        let written = match &self.event {
            Event::Image(e) => recorder.image_built(e).await.map(|r| r.row_key),
            Event::Metadata(e) => recorder.metadata_updated(e).await.map(|r| r.row_key),
            Event::Manifest(e) => recorder.manifest_generated(e).await.map(|r| r.row_key),
            Event::ManifestCommit(e) => recorder.manifest_committed(e).await.map(|r| r.row_key),
            Event::Run(e) => recorder.run_reported(e).await.map(|r| r.id),
            Event::Sync { cluster, commit } => recorder
                .cluster_synced(cluster, commit, None)
                .await
                .map(|s| s.cluster),
        };
        written.map_err(|e| self.kind.rename(e, Naming::Json))
    }

    fn checked(kind: Kind, values: Values, naming: Naming) -> Result<Ingest> {
        let event = Reader {
            kind,
            values: &values,
            naming,
        }
        .event()?;
        Ok(Ingest {
            kind,
            values,
            event,
        })
    }
}

impl Kind {
    /// An error of the linking rules, its field named as `naming` names it: the rules say
    /// `imageTag`, `run id` or `finished-at`; the API says `imageTag`, `id`, `finishedAt`;
    /// the flags `--image-tag`, `--id`, `--finished-at`.
    pub fn rename(self, e: Error, naming: Naming) -> Error {
        let Error::Invalid { field, reason } = e else {
            return e;
        };
        let json = match field.as_str() {
            "run id" => "id",
            "finished-at" => "finishedAt",
            other => other,
        };
        let field = match (self.field(json), naming) {
            (Some(f), naming) => naming.of(f).to_string(),
            (None, Naming::Flags) if field == "partition key" => "--partition-key".to_string(),
            (None, Naming::Json) if field == "partition key" => "partition".to_string(),
            (None, _) => field,
        };
        Error::Invalid { field, reason }
    }
}

/// Checks the values of one request and builds its event.
struct Reader<'a> {
    kind: Kind,
    values: &'a Values,
    naming: Naming,
}

impl Reader<'_> {
    fn field(&self, name: &str) -> &'static Field {
        self.kind
            .fields()
            .iter()
            .find(|f| f.name == name)
            .expect("a field of this kind")
    }

    fn given(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(f, _)| f.name == name)
            .map(|(_, v)| v.as_str())
    }

    fn opt(&self, name: &str) -> Option<String> {
        self.given(name).map(str::to_string)
    }

    /// A required value, trimmed and not empty.
    fn need(&self, name: &str) -> Result<String> {
        let field = self.field(name);
        let shown = self.naming.of(field);
        match self.given(name).map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            Some(_) => Err(Error::invalid(shown, "is empty; a value is required")),
            None => Err(Error::invalid(
                shown,
                match self.naming {
                    Naming::Flags => format!("is required with {}", self.kind.command()),
                    Naming::Json => format!("is required in {}", self.kind.described()),
                },
            )),
        }
    }

    fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        let field = self.naming.of(self.field(name));
        self.given(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        Error::invalid(
                            field,
                            format!(
                                "'{}' is not an RFC 3339 time such as 2026-11-26T13:45:00Z",
                                shown(v)
                            ),
                        )
                    })
            })
            .transpose()
    }

    fn count(&self, name: &str) -> Result<Option<u32>> {
        let field = self.naming.of(self.field(name));
        self.given(name)
            .map(|v| {
                v.trim().parse::<u32>().map_err(|_| {
                    Error::invalid(
                        field,
                        format!("'{}' is not a whole number such as 2", shown(v)),
                    )
                })
            })
            .transpose()
    }

    /// A word parsed by `parse`, whose error is renamed to the field.
    fn word<T>(&self, name: &str, parse: fn(&str) -> Result<T>) -> Result<Option<T>> {
        let shown = self.naming.of(self.field(name));
        self.given(name)
            .map(|v| {
                parse(v).map_err(|e| match e {
                    Error::Invalid { reason, .. } => Error::invalid(shown, reason),
                    other => other,
                })
            })
            .transpose()
    }

    fn event(&self) -> Result<Event> {
        // Required fields first, in the order of the kind's fields, as the flags were checked.
        for field in self.kind.fields().iter().filter(|f| f.required) {
            self.need(field.name)?;
        }
        Ok(match self.kind {
            Kind::Image => Event::Image(ImageBuilt {
                p1: self.need("p1")?,
                image_tag: self.need("imageTag")?,
                commit_id: self.need("commitId")?,
                service: self.need("service")?,
                repository: self.opt("repository"),
            }),
            Kind::Metadata => Event::Metadata(MetadataUpdated {
                p2: self.need("p2")?,
                image_tag: self.need("imageTag")?,
                hld_commit_id: self.need("hldCommitId")?,
                env: self.need("env")?,
                service: self.opt("service"),
                pr: self.opt("pr"),
                repository: self.opt("repository"),
            }),
            Kind::Manifest => Event::Manifest(ManifestGenerated {
                p3: self.need("p3")?,
                hld_commit_id: self.need("hldCommitId")?,
                manifest_commit_id: self.opt("manifestCommitId"),
                pr: self.opt("pr"),
                repository: self.opt("repository"),
            }),
            Kind::ManifestCommit => Event::ManifestCommit(ManifestCommitted {
                p3: self.need("p3")?,
                manifest_commit_id: self.need("manifestCommitId")?,
                repository: self.opt("repository"),
            }),
            Kind::Run => Event::Run(RunReported {
                id: self.need("id")?,
                status: self
                    .word("status", RunStatus::parse)?
                    .expect("status is required"),
                result: self.word("result", RunResult::parse)?,
                url: self.opt("url"),
                commit: self.opt("commit"),
                branch: self.opt("branch"),
                repository: self.opt("repository"),
                queued_at: self.time("queuedAt")?,
                started_at: self.time("startedAt")?,
                finished_at: self.time("finishedAt")?,
                attempt: self.count("attempt")?,
            }),
            Kind::Sync => Event::Sync {
                cluster: self.need("cluster")?,
                commit: self.need("commit")?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_names_and_flag_names_are_both_fields() {
        let body = json!({"p1": 7, "image-tag": "t", "commitId": "c", "service": "s"});
        let ingest = Ingest::from_json(Kind::Image, &body).unwrap();
        assert_eq!(
            ingest.to_json(),
            json!({"p1": "7", "imageTag": "t", "commitId": "c", "service": "s"})
        );
        let twice =
            json!({"p1": "1", "imageTag": "t", "image-tag": "u", "commitId": "c", "service": "s"});
        let e = Ingest::from_json(Kind::Image, &twice)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid imageTag: is given twice (as imageTag and image-tag)"
        );
    }

    #[test]
    fn bad_input_names_the_field_and_the_value() {
        let cases = [
            (
                Kind::Image,
                json!({"p1": "1", "imageTag": "t", "commitId": "c", "service": "s", "colour": "red"}),
                "invalid colour: 'colour' is not a field of this record; the fields are p1, imageTag, commitId, service, repository",
            ),
            (
                Kind::Image,
                json!({"p1": "1", "imageTag": " ", "commitId": "c", "service": "s"}),
                "invalid imageTag: is empty; a value is required",
            ),
            (
                Kind::Image,
                json!({"p1": ["1"], "imageTag": "t", "commitId": "c", "service": "s"}),
                "invalid p1: an array is not a string",
            ),
            (
                Kind::Run,
                json!({"id": "1", "status": "done"}),
                "invalid status: 'done' is not one of queued, inProgress, completed",
            ),
            (
                Kind::Run,
                json!({"id": "1", "status": "completed", "finishedAt": "yesterday"}),
                "invalid finishedAt: 'yesterday' is not an RFC 3339 time such as 2026-11-26T13:45:00Z",
            ),
            (
                Kind::Run,
                json!({"id": "1", "status": "completed", "attempt": "two"}),
                "invalid attempt: 'two' is not a whole number such as 2",
            ),
            (
                Kind::Sync,
                json!(["east-us"]),
                "invalid body: is not a JSON object such as {\"p1\": \"1042\", ...}",
            ),
        ];
        for (kind, body, want) in cases {
            let got = Ingest::from_json(kind, &body).unwrap_err().to_string();
            assert_eq!(got, want, "{body}");
        }
    }

    #[test]
    fn a_long_value_is_shown_cut_on_one_line() {
        let long = format!("x\n{}", "y".repeat(60_000));
        for (field, body) in [
            (
                "finishedAt",
                json!({"id": "1", "status": "completed", "finishedAt": long}),
            ),
            (
                "attempt",
                json!({"id": "1", "status": "completed", "attempt": long}),
            ),
            ("status", json!({"id": "1", "status": long})),
            (
                "result",
                json!({"id": "1", "status": "completed", "result": long}),
            ),
        ] {
            let e = Ingest::from_json(Kind::Run, &body).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid {field}: 'x yyy")) && e.contains("…' is not"),
                "{e}"
            );
            assert!(e.len() < 300, "{field}: {} bytes", e.len());
        }
    }

    #[test]
    fn flags_are_checked_as_record_checked_them() {
        let e = Ingest::from_flags(
            Kind::Metadata,
            [
                ("--p2", Some("9".into())),
                ("--image-tag", Some("t".into())),
            ],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "invalid --hld-commit-id: is required with --p2");
        let e = Kind::of_step(false, false, true, false, false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid --hld-commit-id: or --manifest-commit-id is required with --p3"
        );
        assert_eq!(
            Kind::of_step(false, false, true, false, true).unwrap(),
            Kind::ManifestCommit
        );
        assert!(Kind::of_step(true, true, false, false, false).is_err());
    }

    #[tokio::test]
    async fn rule_errors_name_the_field_as_the_request_did() {
        let store = std::sync::Arc::new(crate::MemoryStore::new());
        let recorder = Recorder::new(store, "fabrikam").unwrap();
        let run = Ingest::from_json(
            Kind::Run,
            &json!({"id": "5", "status": "queued", "result": "failed"}),
        )
        .unwrap();
        let e = run.apply(&recorder).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid result: is only valid with status completed"
        );
        let flags = Kind::Run.rename(e, Naming::Flags);
        assert_eq!(
            flags.to_string(),
            "invalid --result: is only valid with status completed"
        );
        let commit = Ingest::from_json(
            Kind::ManifestCommit,
            &json!({"p3": "404", "manifestCommitId": "m"}),
        )
        .unwrap();
        assert!(matches!(
            commit.apply(&recorder).await,
            Err(Error::NotFound { .. })
        ));
    }
}
