//! The fields of each write request: their JSON names, the `spektate record` flags they
//! come from, whether they are required, and how they read from JSON.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text; a JSON number is taken as its decimal text (run ids, pull requests).
    Text,
    /// A whole number from 1 (`attempt`); also taken as decimal text.
    Count,
    /// An RFC 3339 time such as `2026-11-26T13:45:00Z`.
    Time,
}

/// One field of a write request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its JSON name (`imageTag`).
    pub name: &'static str,
    /// The `spektate record` flag it comes from (`--image-tag`); the flag without its dashes
    /// is accepted in JSON too (`image-tag`).
    pub flag: &'static str,
    /// Whether a request without it is refused.
    pub required: bool,
    /// What it holds.
    pub ty: FieldType,
    /// What it means, for the API document.
    pub about: &'static str,
}

const fn text(name: &'static str, flag: &'static str, about: &'static str) -> Field {
    Field {
        name,
        flag,
        required: false,
        ty: FieldType::Text,
        about,
    }
}

const fn need(name: &'static str, flag: &'static str, about: &'static str) -> Field {
    Field {
        required: true,
        ..text(name, flag, about)
    }
}

const fn time(name: &'static str, flag: &'static str, about: &'static str) -> Field {
    Field {
        ty: FieldType::Time,
        ..text(name, flag, about)
    }
}

const REPOSITORY: &str = "Repository URL of this step (source repository for p1, HLD repository \
     for p2, manifest repository for p3); user info is never stored.";

pub(crate) const IMAGE: &[Field] = &[
    need("p1", "--p1", "Image pipeline run id."),
    need("imageTag", "--image-tag", "Container image tag."),
    need("commitId", "--commit-id", "Source commit."),
    need(
        "service",
        "--service",
        "Service name (`org/name` is shown as `name`).",
    ),
    text("repository", "--repository", REPOSITORY),
];

pub(crate) const METADATA: &[Field] = &[
    need("p2", "--p2", "Metadata pipeline run (or release) id."),
    need(
        "imageTag",
        "--image-tag",
        "Container image tag written into the HLD.",
    ),
    need("hldCommitId", "--hld-commit-id", "HLD commit."),
    need("env", "--env", "Ring (environment)."),
    text(
        "service",
        "--service",
        "Service, so two services whose images share a tag keep apart.",
    ),
    text("pr", "--pr", "Approval pull request id."),
    text("repository", "--repository", REPOSITORY),
];

pub(crate) const MANIFEST: &[Field] = &[
    need("p3", "--p3", "Manifest pipeline run id."),
    need("hldCommitId", "--hld-commit-id", "HLD commit it renders."),
    text(
        "manifestCommitId",
        "--manifest-commit-id",
        "Manifest commit, when already pushed.",
    ),
    text(
        "pr",
        "--pr",
        "Pull request the HLD commit merged, to find p2's record.",
    ),
    text("repository", "--repository", REPOSITORY),
];

pub(crate) const MANIFEST_COMMIT: &[Field] = &[
    need(
        "p3",
        "--p3",
        "Manifest pipeline run id, as recorded before.",
    ),
    need(
        "manifestCommitId",
        "--manifest-commit-id",
        "Manifest commit pushed.",
    ),
    text("repository", "--repository", REPOSITORY),
];

pub(crate) const RUN: &[Field] = &[
    need("id", "--id", "The run id, as recorded in p1, p2 or p3."),
    need("status", "--status", "queued, inProgress or completed."),
    text(
        "result",
        "--result",
        "succeeded, failed or canceled (with status completed; default succeeded).",
    ),
    text("url", "--url", "Web page of the run."),
    text("commit", "--commit", "Source commit."),
    text("branch", "--branch", "Source branch."),
    text("repository", "--repository", "Repository URL."),
    time(
        "queuedAt",
        "--queued-at",
        "Queue time (default: an earlier report's, else now).",
    ),
    time("startedAt", "--started-at", "Start time."),
    time(
        "finishedAt",
        "--finished-at",
        "Finish time (default now once completed).",
    ),
    Field {
        ty: FieldType::Count,
        ..text(
            "attempt",
            "--attempt",
            "Which attempt of the run this is; a later attempt replaces the report, an earlier one is ignored.",
        )
    },
];

pub(crate) const SYNC: &[Field] = &[
    need("cluster", "--cluster", "Cluster name."),
    need(
        "commit",
        "--commit",
        "The manifest commit the cluster runs.",
    ),
];

impl Field {
    /// The flag without its dashes, also accepted as a JSON name (`image-tag`).
    pub fn flag_name(&self) -> &'static str {
        self.flag.trim_start_matches('-')
    }

    /// Whether `key` names this field in JSON.
    pub(crate) fn answers_to(&self, key: &str) -> bool {
        key == self.name || key == self.flag_name()
    }
}

/// How errors name a field: as the JSON API does, or as the `spektate record` flags do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `imageTag`.
    Json,
    /// `--image-tag`.
    Flags,
}

impl Naming {
    /// The name of `field` in this naming.
    pub fn of(self, field: &Field) -> &'static str {
        match self {
            Naming::Json => field.name,
            Naming::Flags => field.flag,
        }
    }
}

/// The given values of a request, by field, in the order of the kind's fields.
pub(crate) type Values = Vec<(&'static Field, String)>;

/// A JSON value as the text a flag would have held; `None` for `null`.
fn as_text(field: &Field, value: &Value) -> Result<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        other => {
            // What an object or array holds (a URL with a token, say) is not repeated.
            let shown: String = match other {
                Value::Object(_) => "an object".into(),
                Value::Array(_) => "an array".into(),
                v => v.to_string().chars().take(40).collect(),
            };
            let want = match field.ty {
                FieldType::Count => "a whole number",
                FieldType::Time => "an RFC 3339 time as a string",
                FieldType::Text => "a string",
            };
            Err(Error::invalid(field.name, format!("{shown} is not {want}")))
        }
    }
}

/// Reads a JSON object into the values of `fields`: an unknown key, a field given twice
/// (as `imageTag` and `image-tag`) or a value of the wrong type is an error naming it.
pub(crate) fn from_json(fields: &'static [Field], body: &Value) -> Result<Values> {
    let Value::Object(map) = body else {
        return Err(Error::invalid(
            "body",
            "is not a JSON object such as {\"p1\": \"1042\", ...}",
        ));
    };
    check_keys(fields, map)?;
    let mut values = Values::new();
    for field in fields {
        let mut given = map.iter().filter(|(k, _)| field.answers_to(k));
        let Some((_, value)) = given.next() else {
            continue;
        };
        if given.next().is_some() {
            return Err(Error::invalid(
                field.name,
                format!(
                    "is given twice (as {} and {})",
                    field.name,
                    field.flag_name()
                ),
            ));
        }
        if let Some(text) = as_text(field, value)? {
            values.push((field, text));
        }
    }
    Ok(values)
}

fn check_keys(fields: &[Field], map: &Map<String, Value>) -> Result<()> {
    for key in map.keys() {
        if !fields.iter().any(|f| f.answers_to(key)) {
            let shown: String = key.chars().take(40).collect();
            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            return Err(Error::invalid(
                shown.clone(),
                format!(
                    "'{shown}' is not a field of this record; the fields are {}",
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The values as a JSON object, by their JSON names (attempt as a number).
pub(crate) fn to_json(values: &Values) -> Value {
    let mut map = Map::new();
    for (field, text) in values {
        let value = match (field.ty, text.trim().parse::<u64>()) {
            (FieldType::Count, Ok(n)) => Value::from(n),
            _ => Value::String(text.clone()),
        };
        map.insert(field.name.to_string(), value);
    }
    Value::Object(map)
}
