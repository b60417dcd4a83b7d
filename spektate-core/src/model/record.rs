//! One stored row per deployment, with the columns of the Spektate Azure table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest value a record column accepts, in characters.
pub const MAX_VALUE_LEN: usize = 1024;

/// One stored deployment row. Column names match the existing Spektate table.
///
/// Values are stored lower-cased and trimmed; an empty value is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// One partition per project.
    #[serde(rename = "PartitionKey")]
    pub partition_key: String,
    /// 12 random hex characters.
    #[serde(rename = "RowKey")]
    pub row_key: String,
    /// The service, as `name` or `org/name`.
    pub service: Option<String>,
    /// The source commit the image was built from.
    pub commit_id: Option<String>,
    /// The container image tag.
    pub image_tag: Option<String>,
    /// Id of the image pipeline run.
    pub p1: Option<String>,
    /// Id of the metadata pipeline run (a release, or p1's run for a multi-stage pipeline).
    pub p2: Option<String>,
    /// Id of the manifest pipeline run.
    pub p3: Option<String>,
    /// The ring (environment).
    pub env: Option<String>,
    /// Commit in the high-level definition repo.
    pub hld_commit_id: Option<String>,
    /// Commit in the manifest repo.
    pub manifest_commit_id: Option<String>,
    /// Approval pull request id.
    pub pr: Option<String>,
    /// URL of the source repo.
    #[serde(serialize_with = "super::url::serialize_without_credentials")]
    pub source_repo: Option<String>,
    /// URL of the HLD repo.
    #[serde(serialize_with = "super::url::serialize_without_credentials")]
    pub hld_repo: Option<String>,
    /// URL of the manifest repo.
    #[serde(serialize_with = "super::url::serialize_without_credentials")]
    pub manifest_repo: Option<String>,
    /// When the store last wrote the row.
    #[serde(rename = "Timestamp")]
    pub timestamp: Option<DateTime<Utc>>,
    /// The store's version tag of the row, used for conditional writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Where the store keeps one: the order of the row's last write among all writes,
    /// assigned at commit, so a reader that saw up to `n` misses nothing by asking for
    /// more than `n` ([`crate::RecordQuery::after_sequence`]).
    #[serde(skip)]
    pub sequence: Option<i64>,
    /// A record a filtered view keeps only as context: its commits place the commits clusters
    /// run, and it may replace a shown deployment there; it is never looked up nor shown
    /// ([`crate::store::filtered::FilteredStore`]).
    #[serde(skip)]
    pub context: bool,
}

/// The data columns of a record, in table order, by their stored names.
pub const COLUMNS: [&str; 13] = [
    "service",
    "commitId",
    "imageTag",
    "p1",
    "p2",
    "p3",
    "env",
    "hldCommitId",
    "manifestCommitId",
    "pr",
    "sourceRepo",
    "hldRepo",
    "manifestRepo",
];

impl Record {
    /// A new record in `partition` with a fresh random row key.
    pub fn new(partition: &str) -> Self {
        Record {
            partition_key: partition.to_string(),
            row_key: new_row_key(),
            ..Record::default()
        }
    }

    /// The data columns with their stored names, in [`COLUMNS`] order.
    pub fn columns(&self) -> [(&'static str, Option<&str>); 13] {
        fn v(o: &Option<String>) -> Option<&str> {
            o.as_deref()
        }
        [
            ("service", v(&self.service)),
            ("commitId", v(&self.commit_id)),
            ("imageTag", v(&self.image_tag)),
            ("p1", v(&self.p1)),
            ("p2", v(&self.p2)),
            ("p3", v(&self.p3)),
            ("env", v(&self.env)),
            ("hldCommitId", v(&self.hld_commit_id)),
            ("manifestCommitId", v(&self.manifest_commit_id)),
            ("pr", v(&self.pr)),
            ("sourceRepo", v(&self.source_repo)),
            ("hldRepo", v(&self.hld_repo)),
            ("manifestRepo", v(&self.manifest_repo)),
        ]
    }

    /// Sets a data column by its stored name; unknown names are ignored and return false.
    pub fn set_column(&mut self, name: &str, value: Option<String>) -> bool {
        self.set_column_text(name, value.as_deref())
    }

    /// [`Record::set_column`] from borrowed text, copied once, normalized (a store's reader
    /// passes the text of its row without copying it first).
    pub fn set_column_text(&mut self, name: &str, value: Option<&str>) -> bool {
        let slot = match name {
            "service" => &mut self.service,
            "commitId" => &mut self.commit_id,
            "imageTag" => &mut self.image_tag,
            "p1" => &mut self.p1,
            "p2" => &mut self.p2,
            "p3" => &mut self.p3,
            "env" => &mut self.env,
            "hldCommitId" => &mut self.hld_commit_id,
            "manifestCommitId" => &mut self.manifest_commit_id,
            "pr" => &mut self.pr,
            "sourceRepo" => &mut self.source_repo,
            "hldRepo" => &mut self.hld_repo,
            "manifestRepo" => &mut self.manifest_repo,
            _ => return false,
        };
        // Only a URL with an `@` can carry user info to strip.
        let url = name.ends_with("Repo");
        *slot = value.and_then(|v| {
            if url && v.contains('@') {
                normalize(&super::url::without_credentials(v))
            } else {
                normalize(v)
            }
        });
        true
    }

    /// The service as shown: `org/name` is shown as `name`.
    pub fn service_name(&self) -> Option<&str> {
        self.service.as_deref().map(display_service)
    }
}

/// The display form of a service name: the part after the last `/`.
pub fn display_service(service: &str) -> &str {
    service.rsplit('/').next().unwrap_or(service)
}

/// The stored form of a value: trimmed and lower-cased; `None` when empty.
pub fn normalize(value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        None
    } else if v.is_ascii() {
        let mut s = v.to_string();
        s.make_ascii_lowercase();
        Some(s)
    } else {
        Some(v.to_lowercase())
    }
}

/// True when `current` is empty or equals `new` (the linking rules' "each empty or equal").
pub fn empty_or_equal(current: &Option<String>, new: &Option<String>) -> bool {
    match (current, new) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => a == b,
    }
}

/// 12 random lower-case hex characters, as the reference generates row keys.
pub fn new_row_key() -> String {
    let mut bytes = [0u8; 6];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to the clock and a counter, still unique per process.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64
            ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32);
        bytes.copy_from_slice(&n.to_le_bytes()[..6]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A row key derived from the values that identify a record (12 hex characters, like a
/// random one): two writers inserting the same step at once pick the same key, so one of
/// them conflicts, re-reads and finds the other's record instead of adding a copy.
pub fn derived_row_key(parts: &[&str]) -> String {
    // FNV-1a, 64 bits: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:012x}", h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_stable_and_differ_per_value() {
        let a = derived_row_key(&["p1", "101", "frontend-101"]);
        assert_eq!(a, derived_row_key(&["p1", "101", "frontend-101"]));
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, derived_row_key(&["p1", "101", "frontend-102"]));
        assert_ne!(derived_row_key(&["ab", "c"]), derived_row_key(&["a", "bc"]));
    }

    #[test]
    fn row_keys_are_twelve_hex_and_distinct() {
        let a = new_row_key();
        let b = new_row_key();
        assert_eq!(a.len(), 12);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn values_are_trimmed_and_lower_cased() {
        assert_eq!(normalize("  Hello-World "), Some("hello-world".into()));
        assert_eq!(normalize("   "), None);
    }

    #[test]
    fn service_shows_its_last_segment() {
        assert_eq!(display_service("fabrikam/frontend"), "frontend");
        assert_eq!(display_service("backend"), "backend");
    }

    #[test]
    fn record_serializes_with_table_column_names() {
        let mut r = Record::new("p");
        r.set_column("imageTag", Some("Web-1".into()));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["imageTag"], "web-1");
        assert_eq!(json["PartitionKey"], "p");
        assert!(json.get("RowKey").is_some());
    }
}
