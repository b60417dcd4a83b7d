//! Providers' final answers kept in the table ([`RecordStore::put_answers`]), beside the
//! records of a partition under `<partition>~answers`.
//!
//! - **Row key**: the SHA-256 of the answer's namespace, kind and id (64 hex digits), so any
//!   namespace or id (slashes, `#`, `?`, quotes, any length) makes a valid key. The three are
//!   kept as properties and compared on read, so a row only answers the key it was written
//!   for.
//! - **Value**: the fact as JSON, in string properties `fact`, `fact1`, ... of at most
//!   32,000 UTF-16 code units each (the service holds 64 KiB a string) with their count in
//!   `factParts`. An answer whose entity would break the service's limits (1 MiB an entity)
//!   is not kept, with a logged notice: the next refresh asks the provider again.
//! - **Writes**: entity group transactions of Insert Or Replace, at most 100 entities and
//!   under 4 MiB each ([`super::batch`]).
//! - **Reads**: a few keys are read by point reads (`PartitionKey` and `RowKey`, the
//!   service's cheapest query); many keys read the partition in 16 ranges of row keys at
//!   once, each page parsed as it arrives and only the wanted rows kept. (A filter of several
//!   row keys joined by `or` is a partition scan on the service, so it is not used.)
//!
//! [`RecordStore::put_answers`]: spektate_core::RecordStore::put_answers

use std::collections::HashMap;
use std::fmt;

use futures::{StreamExt, TryStreamExt};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use spektate_core::cache::{Answer, AnswerKey};
use spektate_core::http::Method;
use spektate_core::{Error, RecordStore, Result};

use super::batch::{self, Batch};
use super::limits::{check_entity, check_key, excerpt};
use super::odata::{entity_path, eq, literal};
use super::page::Text;
use super::store::{ANSWERS_SUFFIX, AzureTableStore, Call, Outcome, check_partition};

/// The most UTF-16 code units of one `fact` property.
const CHUNK_UNITS: usize = 32_000;
/// Up to this many keys are read one by one; more read the partition's ranges.
const POINT_READS_MAX: usize = 64;
/// Point reads or transactions in flight at once (the HTTP client's own limit also holds).
const IN_FLIGHT: usize = 8;

/// The partition that keeps the answers of `partition`, checked.
fn answers_partition(partition: &str) -> Result<String> {
    check_partition(partition)?;
    let answers = format!("{partition}{ANSWERS_SUFFIX}");
    check_key("partition key", "PartitionKey", &answers)?;
    Ok(answers)
}

/// The row key of an answer: 64 hex digits of the SHA-256 of its length-prefixed parts.
pub fn answer_row_key(key: &AnswerKey) -> String {
    let mut h = Sha256::new();
    for part in [&key.namespace, &key.kind, &key.id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` cut into pieces of at most `units` UTF-16 code units, at character boundaries.
fn chunks(text: &str, units: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut n) = (0, 0);
    for (i, c) in text.char_indices() {
        if n + c.len_utf16() > units {
            out.push(&text[start..i]);
            (start, n) = (i, 0);
        }
        n += c.len_utf16();
    }
    if start < text.len() || out.is_empty() {
        out.push(&text[start..]);
    }
    out
}

/// The name of the `i`th piece of a fact: `fact`, `fact1`, `fact2`, ...
fn part_name(i: usize) -> String {
    if i == 0 {
        "fact".to_string()
    } else {
        format!("fact{i}")
    }
}

/// An answer as the entity that keeps it.
pub fn answer_entity(partition: &str, answer: &Answer) -> Result<Value> {
    let key = answer.key();
    let value = serde_json::to_string(&answer.fact)
        .map_err(|e| Error::invalid("answer", format!("cannot be written as JSON: {e}")))?;
    let mut m = Map::new();
    m.insert("PartitionKey".into(), json!(partition));
    m.insert("RowKey".into(), json!(answer_row_key(&key)));
    m.insert("namespace".into(), json!(key.namespace));
    m.insert("kind".into(), json!(key.kind));
    m.insert("id".into(), json!(key.id));
    let parts = chunks(&value, CHUNK_UNITS);
    m.insert("factParts".into(), json!(parts.len()));
    for (i, part) in parts.into_iter().enumerate() {
        m.insert(part_name(i), json!(part));
    }
    Ok(Value::Object(m))
}

/// An answer row as read: its key's parts and the pieces of its fact.
#[derive(Default)]
pub(crate) struct AnswerRow {
    row_key: Option<String>,
    namespace: Option<String>,
    kind: Option<String>,
    id: Option<String>,
    parts: Option<String>,
    pieces: Vec<(usize, String)>,
}

impl AnswerRow {
    /// The key it was written for, when it names one.
    fn key(&self) -> Option<AnswerKey> {
        Some(AnswerKey {
            namespace: self.namespace.clone()?,
            kind: self.kind.clone()?,
            id: self.id.clone()?,
        })
    }

    /// The answer it keeps for `key`: an error naming the answer when the value cannot be
    /// read (pieces missing, or not a fact of the key's kind).
    fn answer(mut self, key: AnswerKey) -> Result<Answer> {
        let expected: usize = self
            .parts
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        self.pieces.sort_unstable_by_key(|(i, _)| *i);
        let complete = self.pieces.len() == expected
            && self.pieces.iter().enumerate().all(|(n, (i, _))| n == *i);
        if !complete {
            return Err(Error::invalid(
                format!("kept answer {} {} of {}", key.kind, key.id, key.namespace),
                format!(
                    "cannot be read: {} of its {expected} pieces are there",
                    self.pieces.len()
                ),
            ));
        }
        let value: String = self.pieces.into_iter().map(|(_, p)| p).collect();
        Answer::from_stored(key, &value)
    }
}

/// A row as [`AzureTableStore::read_answers`] reads one: the key it names, and its answer
/// for that key; `None` when it names no key.
pub(crate) fn read_row(row: AnswerRow) -> Option<(AnswerKey, Result<Answer>)> {
    let key = row.key()?;
    Some((key.clone(), row.answer(key)))
}

impl<'de> de::Deserialize<'de> for AnswerRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnswerRow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an answer entity")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<AnswerRow, A::Error> {
                let mut row = AnswerRow::default();
                while let Some(name) = map.next_key::<String>()? {
                    let piece = match name.as_str() {
                        "fact" => Some(0),
                        n => n
                            .strip_prefix("fact")
                            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                            .and_then(|d| d.parse::<usize>().ok())
                            .filter(|i| *i > 0),
                    };
                    let slot = match name.as_str() {
                        "RowKey" => &mut row.row_key,
                        "namespace" => &mut row.namespace,
                        "kind" => &mut row.kind,
                        "id" => &mut row.id,
                        "factParts" => &mut row.parts,
                        _ => {
                            match piece {
                                Some(i) => {
                                    if let Some(text) = map.next_value::<Text>()?.0 {
                                        row.pieces.push((i, text));
                                    }
                                }
                                None => {
                                    map.next_value::<IgnoredAny>()?;
                                }
                            }
                            continue;
                        }
                    };
                    *slot = map.next_value::<Text>()?.0;
                }
                Ok(row)
            }
        }
        d.deserialize_map(V)
    }
}

/// Filters reading `partition` in 16 ranges of row keys, one per first hex digit.
fn range_filters(partition: &str) -> Vec<String> {
    const DIGITS: &str = "0123456789abcdef";
    (0..DIGITS.len())
        .map(|i| {
            let mut filter = format!(
                "{} and RowKey ge {}",
                eq("PartitionKey", partition),
                literal(&DIGITS[i..=i])
            );
            if let Some(next) = DIGITS.get(i + 1..=i + 1) {
                filter.push_str(&format!(" and RowKey lt {}", literal(next)));
            }
            filter
        })
        .collect()
}

impl AzureTableStore {
    /// Keeps `answers` of `partition` (see the module documentation).
    pub(super) async fn keep_answers(&self, partition: &str, answers: &[Answer]) -> Result<()> {
        let target = answers_partition(partition)?;
        // One entity per key: a later answer of the same key replaces an earlier one.
        let mut last: HashMap<String, usize> = HashMap::new();
        for (i, a) in answers.iter().enumerate() {
            last.insert(answer_row_key(&a.key()), i);
        }
        let mut entities = Vec::new();
        for (i, a) in answers.iter().enumerate() {
            let row_key = answer_row_key(&a.key());
            if last.get(&row_key) != Some(&i) {
                continue;
            }
            let entity = answer_entity(&target, a)?;
            if let Err(e) = check_entity(&entity) {
                tracing::warn!(
                    store = %self.describe(),
                    kind = a.fact.kind(),
                    id = %excerpt(&a.id),
                    namespace = %excerpt(&a.namespace),
                    "not keeping a provider answer the table cannot hold: {e}"
                );
                continue;
            }
            let url = format!(
                "{}{}",
                self.account().endpoint(),
                entity_path(self.table(), &target, &row_key)
            );
            entities.push((a.key(), url, batch::entity_json(&entity)));
        }
        if entities.is_empty() {
            return Ok(());
        }
        self.ensure_table().await?;
        // Transactions of at most 100 entities and under 4 MiB, sent a few at once.
        let mut groups: Vec<Vec<(AnswerKey, String, Vec<u8>)>> = vec![Vec::new()];
        let mut size = 0;
        for e in entities {
            let cost = Batch::cost(&e.1, &e.2);
            let full = groups.last().is_some_and(|g| {
                g.len() == batch::MAX_OPERATIONS || size + cost > batch::MAX_BODY_BYTES
            });
            if full {
                groups.push(Vec::new());
                size = 0;
            }
            size += cost;
            groups.last_mut().expect("a group").push(e);
        }
        futures::stream::iter(groups.into_iter().filter(|g| !g.is_empty()))
            .map(|group| self.transaction(group))
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Sends one entity group transaction of upserts.
    async fn transaction(&self, group: Vec<(AnswerKey, String, Vec<u8>)>) -> Result<()> {
        const OPERATION: &str = "keep provider answers";
        let mut b = Batch::new();
        for (_, url, json) in &group {
            b.upsert(url, json);
        }
        let content_type = b.content_type();
        let body = b.finish();
        let resp = match self
            .call(Call::new(OPERATION, Method::POST, "/$batch").raw_body(&content_type, body))
            .await?
        {
            Outcome::Ok(resp) => resp,
            Outcome::Status(s, code, _) => {
                return Err(self.err(OPERATION, format!("HTTP {s} {code}")));
            }
        };
        batch::outcome(&resp.body, group.len()).map_err(|r| {
            let which = r
                .index
                .and_then(|i| group.get(i))
                .map(|(k, _, _)| {
                    format!(
                        " at answer {} {} of {}",
                        k.kind,
                        excerpt(&k.id),
                        excerpt(&k.namespace)
                    )
                })
                .unwrap_or_default();
            let status = if r.status == 0 {
                String::new()
            } else {
                format!(": HTTP {} {}", r.status, r.code)
            };
            self.err(
                OPERATION,
                format!("the transaction was refused{which}{status}: {}", r.message),
            )
        })
    }

    /// The answers of `partition` kept under `keys` (see the module documentation), in the
    /// order of `keys`.
    pub(super) async fn read_answers(
        &self,
        partition: &str,
        keys: &[AnswerKey],
    ) -> Result<Vec<Answer>> {
        let target = answers_partition(partition)?;
        let mut wanted: HashMap<String, &AnswerKey> = HashMap::new();
        for key in keys {
            key.check()?;
            wanted.insert(answer_row_key(key), key);
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<AnswerRow> = if wanted.len() <= POINT_READS_MAX {
            let row_keys: Vec<String> = wanted.keys().cloned().collect();
            let target = &target;
            futures::stream::iter(row_keys)
                .map(|row_key| async move { self.point_read(target, &row_key).await })
                .buffer_unordered(IN_FLIGHT)
                .try_collect::<Vec<Option<AnswerRow>>>()
                .await?
                .into_iter()
                .flatten()
                .collect()
        } else {
            // Row keys are hex digests, spread evenly over 16 ranges of their first digit.
            let ranges = range_filters(&target);
            let wanted = &wanted;
            futures::stream::iter(ranges)
                .map(|filter| async move {
                    let mut kept = Vec::new();
                    self.query_rows("read provider answers", &filter, |row: AnswerRow| {
                        if row.row_key.as_ref().is_some_and(|k| wanted.contains_key(k)) {
                            kept.push(row);
                        }
                    })
                    .await?;
                    Ok::<_, Error>(kept)
                })
                .buffer_unordered(IN_FLIGHT)
                .try_collect::<Vec<Vec<AnswerRow>>>()
                .await?
                .into_iter()
                .flatten()
                .collect()
        };
        let mut found: HashMap<String, Answer> = HashMap::new();
        for row in rows {
            let Some(row_key) = row.row_key.clone() else {
                continue;
            };
            let Some(key) = wanted.get(&row_key) else {
                continue;
            };
            // A row answers only the key it was written for.
            if row.key().as_ref() != Some(*key) {
                tracing::warn!(store = %self.describe(), row_key, "an answer row names another key; ignored");
                continue;
            }
            found.insert(row_key, row.answer((*key).clone())?);
        }
        let mut out = Vec::with_capacity(found.len());
        for key in keys {
            if let Some(a) = found.remove(&answer_row_key(key)) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// One answer row by its keys; `None` when there is none.
    async fn point_read(&self, partition: &str, row_key: &str) -> Result<Option<AnswerRow>> {
        const OPERATION: &str = "read provider answer";
        let path = entity_path(self.table(), partition, row_key);
        match self
            .call(Call::new(OPERATION, Method::GET, &path).pass(&[404]))
            .await?
        {
            Outcome::Ok(resp) => serde_json::from_slice(&resp.body)
                .map(Some)
                .map_err(|e| self.err(OPERATION, format!("malformed response body: {e}"))),
            Outcome::Status(404, ..) => Ok(None),
            Outcome::Status(s, code, _) => Err(self.err(OPERATION, format!("HTTP {s} {code}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spektate_core::cache::Fact;
    use spektate_core::model::deployment::Author;

    fn author(name: &str) -> Answer {
        Answer {
            namespace: "github.com/fabrikam/frontend".into(),
            id: "8c5f2a1e9d3b4c7a6f0e1d2c3b4a59687f6e5d4c".into(),
            fact: Fact::Author(Author {
                name: name.into(),
                email: Some("ana@fabrikam.example".into()),
                login: Some("asouza".into()),
                avatar_url: None,
                url: None,
                committed_at: None,
            }),
        }
    }

    #[test]
    fn row_keys_are_hex_digests_that_keep_the_parts_apart() {
        let key = |ns: &str, kind: &str, id: &str| AnswerKey {
            namespace: ns.into(),
            kind: kind.into(),
            id: id.into(),
        };
        let k = answer_row_key(&key("a/b#c?d\\e", "build", "1"));
        assert_eq!(k.len(), 64);
        assert!(
            k.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert!(check_key("row key", "RowKey", &k).is_ok());
        assert_ne!(
            answer_row_key(&key("ab", "build", "c")),
            answer_row_key(&key("a", "build", "bc"))
        );
        assert_ne!(
            answer_row_key(&key("a", "build", "1")),
            answer_row_key(&key("a", "release", "1"))
        );
    }

    #[test]
    fn pieces_are_cut_at_character_boundaries_within_the_limit() {
        assert_eq!(chunks("", 4), vec![""]);
        assert_eq!(chunks("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        // 😀 is two UTF-16 units: never split, never over the limit.
        let text = "a😀😀b😀";
        let parts = chunks(text, 3);
        assert_eq!(parts.concat(), text);
        assert!(
            parts.iter().all(|p| p.encode_utf16().count() <= 3),
            "{parts:?}"
        );
    }

    fn read_back(entity: &Value) -> AnswerRow {
        serde_json::from_value(entity.clone()).unwrap()
    }

    #[test]
    fn a_fact_over_one_property_is_kept_in_pieces_and_read_back_whole() {
        let a = author(&"Ana Souza ".repeat(10_000));
        let e = answer_entity("p~answers", &a).unwrap();
        assert_eq!(
            e["factParts"], 4,
            "100 kB of JSON in pieces of 32,000 units"
        );
        assert!(e.get("fact3").is_some() && e.get("fact4").is_none());
        check_entity(&e).unwrap();
        let row = read_back(&e);
        assert_eq!(row.key(), Some(a.key()));
        assert_eq!(row.answer(a.key()).unwrap(), a);
        // A piece missing is an error naming the answer, not a wrong value.
        let mut broken = e.clone();
        broken.as_object_mut().unwrap().remove("fact2");
        let msg = read_back(&broken).answer(a.key()).unwrap_err().to_string();
        assert!(
            msg.contains("kept answer author 8c5f2a1e") && msg.contains("3 of its 4 pieces"),
            "{msg}"
        );
    }

    #[test]
    fn a_fact_over_one_mebibyte_breaks_the_entity_limit() {
        let a = author(&"x".repeat(600_000));
        let e = answer_entity("p~answers", &a).unwrap();
        let msg = check_entity(&e).unwrap_err().to_string();
        assert!(msg.contains("at most 1 MiB"), "{msg}");
        let small = answer_entity("p~answers", &author("Ana Souza")).unwrap();
        assert_eq!(small["factParts"], 1);
        check_entity(&small).unwrap();
    }

    #[test]
    fn a_value_of_another_kind_is_an_error_naming_the_answer() {
        let a = author("Ana Souza");
        let mut e = answer_entity("p~answers", &a).unwrap();
        e["fact"] = json!(r#"{"kind":"pullRequest","value":{}}"#);
        let msg = read_back(&e).answer(a.key()).unwrap_err().to_string();
        assert!(msg.contains("kept answer author"), "{msg}");
    }
}
