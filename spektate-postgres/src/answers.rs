//! Providers' answers in `spektate_answers`: which answers a row can hold, how a call's answers
//! are cut into statements, and the statements. Keys and values are parameters (arrays
//! unnested by the server), so a statement has five parameters however many answers it holds.

use std::collections::BTreeMap;

use spektate_core::cache::{Answer, AnswerKey};

use crate::read::truncated;

/// The longest value kept, in bytes of JSON; a longer answer is left out with a warning (the
/// provider is asked again, as with the answers cache file).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The longest namespace or id kept, in bytes: with the partition, the primary key of a row
/// stays within what a PostgreSQL index entry holds.
pub const MAX_KEY_PART_BYTES: usize = 512;

/// The longest partition key, in bytes.
pub const MAX_PARTITION_BYTES: usize = 1024;

/// At most this many answers (or keys) per statement.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// At most about this many bytes of values per statement (one larger answer goes alone).
pub const BYTES_PER_STATEMENT: usize = 4 << 20;

/// Upserts one chunk. Parameters: partition, then namespaces, kinds, ids and values as arrays
/// of the same length without repeated keys. An equal value is not written again.
pub const UPSERT_SQL: &str = "INSERT INTO spektate_answers (partition_key, namespace, kind, id, value) \
     SELECT $1::text, k.namespace, k.kind, k.id, k.value \
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS k(namespace, kind, id, value) \
     ON CONFLICT (partition_key, namespace, kind, id) DO UPDATE \
     SET value = EXCLUDED.value, written_at = now() \
     WHERE spektate_answers.value IS DISTINCT FROM EXCLUDED.value";

/// Reads one chunk of keys, in their order. Parameters: partition, namespaces, kinds, ids, and
/// [`MAX_VALUE_BYTES`]. Columns: namespace, kind, id, the value (null when longer than the
/// bound, so it never crosses the wire) and its length.
pub const SELECT_SQL: &str = "SELECT a.namespace, a.kind, a.id, \
     CASE WHEN octet_length(a.value) <= $5 THEN a.value END, octet_length(a.value) \
     FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(namespace, kind, id, ord) \
     JOIN spektate_answers a ON a.partition_key = $1::text AND a.namespace = k.namespace \
     AND a.kind = k.kind AND a.id = k.id \
     ORDER BY k.ord";

/// Why a partition key cannot name answers, if it cannot.
pub fn check_partition(partition: &str) -> Result<(), String> {
    if partition.contains('\0') {
        return Err(format!(
            "partition key \"{}\" holds a NUL character",
            truncated(partition)
        ));
    }
    if partition.len() > MAX_PARTITION_BYTES {
        return Err(format!(
            "partition key {}... is {} bytes, more than {MAX_PARTITION_BYTES}",
            truncated(partition),
            partition.len()
        ));
    }
    Ok(())
}

/// Why a key cannot be kept, if it cannot: a part that holds NUL (PostgreSQL text refuses it)
/// or is longer than [`MAX_KEY_PART_BYTES`]. Such a key matches nothing kept.
pub fn key_problem(namespace: &str, id: &str) -> Option<String> {
    for (name, part) in [("namespace", namespace), ("id", id)] {
        if part.contains('\0') {
            return Some(format!("its {name} holds a NUL character"));
        }
        if part.len() > MAX_KEY_PART_BYTES {
            return Some(format!(
                "its {name} is {} bytes, more than {MAX_KEY_PART_BYTES}",
                part.len()
            ));
        }
    }
    None
}

/// An answer as a row: its key and its value as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The key.
    pub key: AnswerKey,
    /// The fact in its serde form (`{"kind": ..., "value": ...}`), as JSON text.
    pub value: String,
}

/// The rows to write for `answers`: one per key (the last answer of a key wins), ordered by
/// key so that writers sharing keys lock them in the same order; an answer that cannot be
/// kept is left out with a warning naming it.
pub fn rows(partition: &str, answers: &[Answer]) -> Vec<Row> {
    let mut by_key = BTreeMap::new();
    for answer in answers {
        let key = answer.key();
        if let Some(problem) = key_problem(&key.namespace, &key.id) {
            warn_left_out(partition, &key, &problem);
            continue;
        }
        let value = match serde_json::to_string(&answer.fact) {
            Ok(value) => value,
            Err(e) => {
                warn_left_out(partition, &key, &format!("it does not serialize: {e}"));
                continue;
            }
        };
        if value.len() > MAX_VALUE_BYTES {
            let problem = format!(
                "its value is {} bytes of JSON, more than {MAX_VALUE_BYTES}",
                value.len()
            );
            warn_left_out(partition, &key, &problem);
            continue;
        }
        by_key.insert(key, value);
    }
    by_key
        .into_iter()
        .map(|(key, value)| Row { key, value })
        .collect()
}

fn warn_left_out(partition: &str, key: &AnswerKey, problem: &str) {
    tracing::warn!(
        "provider answer not kept (partition {}, kind {}, id {}): {problem}",
        truncated(partition),
        key.kind,
        truncated(&key.id)
    );
}

/// `rows` cut into statements: at most [`ROWS_PER_STATEMENT`] rows and about
/// [`BYTES_PER_STATEMENT`] bytes of values each.
pub fn chunks(rows: &[Row]) -> Vec<&[Row]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let full = i - start == ROWS_PER_STATEMENT
            || (i > start && bytes + row.value.len() > BYTES_PER_STATEMENT);
        if full {
            out.push(&rows[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += row.value.len();
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

/// `keys` without repeats and without keys nothing can be kept under, in their first order;
/// a key of an unknown kind is an error naming it ([`AnswerKey::check`]).
pub fn wanted_keys(keys: &[AnswerKey]) -> spektate_core::Result<Vec<&AnswerKey>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for key in keys {
        key.check()?;
        if key_problem(&key.namespace, &key.id).is_none() && seen.insert(key) {
            out.push(key);
        }
    }
    Ok(out)
}

/// The message for a kept answer that cannot be read.
pub fn unreadable(partition: &str, key: &AnswerKey, problem: &str) -> String {
    format!(
        "the answer kept for partition {}, kind {}, id {} (namespace {}) cannot be read: {problem}",
        truncated(partition),
        truncated(&key.kind),
        truncated(&key.id),
        truncated(&key.namespace)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use spektate_core::cache::Fact;
    use spektate_core::model::deployment::Author;
    use spektate_core::model::run::{Run, RunKind, RunStatus};

    fn author(id: &str, name: &str) -> Answer {
        Answer {
            namespace: "github.com/fabrikam/frontend".into(),
            id: id.into(),
            fact: Fact::Author(Author {
                name: name.into(),
                email: Some(format!("{name}@fabrikam.com")),
                login: None,
                avatar_url: None,
                url: None,
                committed_at: None,
            }),
        }
    }

    #[test]
    fn a_fact_is_kept_in_its_serde_form_and_read_back_whole() {
        let run = Run::new("1042", RunKind::Build, RunStatus::Completed);
        let answer = Answer {
            namespace: "azure-devops dev.azure.com/fabrikam/web".into(),
            id: "1042".into(),
            fact: Fact::Build(run),
        };
        let rows = rows("fabrikam", std::slice::from_ref(&answer));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].key.kind, "build");
        assert!(
            rows[0]
                .value
                .starts_with("{\"kind\":\"build\",\"value\":{\"id\":\"1042\""),
            "{}",
            rows[0].value
        );
        let back = Answer::from_stored(rows[0].key.clone(), &rows[0].value).unwrap();
        assert_eq!(back, answer);
    }

    #[test]
    fn the_last_answer_of_a_key_wins_and_rows_come_in_key_order() {
        let rows = rows(
            "p",
            &[author("b2", "ann"), author("a1", "bob"), author("b2", "cy")],
        );
        let ids: Vec<_> = rows.iter().map(|r| r.key.id.as_str()).collect();
        assert_eq!(ids, ["a1", "b2"]);
        assert!(rows[1].value.contains("\"cy\""), "{}", rows[1].value);
    }

    #[test]
    fn answers_the_store_cannot_hold_are_left_out() {
        let long_name = "x".repeat(MAX_VALUE_BYTES);
        let rows = rows(
            "p",
            &[
                author("nul\0id", "ann"),
                author(&"9".repeat(MAX_KEY_PART_BYTES + 1), "ann"),
                author("c3", &long_name),
                author("d4", "a \0 in a value is escaped"),
            ],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].key.id, "d4");
        assert!(rows[0].value.contains("\\u0000"), "{}", rows[0].value);
    }

    #[test]
    fn chunks_hold_at_most_a_thousand_rows_and_about_four_mebibytes() {
        let row = |n: usize, bytes: usize| Row {
            key: AnswerKey {
                namespace: "n".into(),
                kind: "author".into(),
                id: n.to_string(),
            },
            value: "v".repeat(bytes),
        };
        let small: Vec<Row> = (0..2500).map(|n| row(n, 10)).collect();
        let sizes: Vec<usize> = chunks(&small).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        let big: Vec<Row> = (0..130).map(|n| row(n, MAX_VALUE_BYTES)).collect();
        let sizes: Vec<usize> = chunks(&big).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [64, 64, 2]);
        assert!(chunks(&[]).is_empty());
    }

    #[test]
    fn an_unreadable_value_is_named_by_partition_kind_and_id() {
        let e = "EOF while parsing an object";
        let key = AnswerKey {
            namespace: "ns".into(),
            kind: "author".into(),
            id: "a3f9c2e".into(),
        };
        let m = unreadable("fabrikam", &key, e);
        assert!(
            m.contains("partition fabrikam")
                && m.contains("kind author")
                && m.contains("id a3f9c2e"),
            "{m}"
        );
    }

    #[test]
    fn bad_partitions_are_named() {
        assert!(check_partition("fabrikam").is_ok());
        assert!(check_partition("a\0b").unwrap_err().contains("NUL"));
        let e = check_partition(&"p".repeat(2000)).unwrap_err();
        assert!(e.contains("2000 bytes"), "{e}");
    }
}
