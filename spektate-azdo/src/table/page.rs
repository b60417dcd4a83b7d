//! One page of a Query Entities answer (`{"odata.metadata": ..., "value": [rows]}`), parsed
//! straight from its body into what the caller keeps: each row is handed over as soon as
//! it is read, and no JSON tree of the page is ever built. A deployment record is built in
//! place from its properties ([`RecordRow`]), the same way [`super::entity::entity_record`]
//! reads an entity.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use spektate_core::Record;
use spektate_core::model::record::COLUMNS;

use super::entity::INSERTED_AT;

/// Parses one page, handing each row of its `value` list to `each` in order. A page
/// without a `value` list is an error.
pub fn parse_page<'de, T, F>(body: &'de [u8], each: F) -> serde_json::Result<()>
where
    T: de::Deserialize<'de>,
    F: FnMut(T),
{
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = (PageSeed {
        each,
        _row: std::marker::PhantomData,
    })
    .deserialize(&mut de)?;
    de.end()?;
    if found {
        Ok(())
    } else {
        Err(de::Error::custom("no `value` list"))
    }
}

/// The page object: its `value` list streamed to `each`; whether it had one.
struct PageSeed<T, F> {
    each: F,
    _row: std::marker::PhantomData<fn() -> T>,
}

impl<'de, T, F> DeserializeSeed<'de> for PageSeed<T, F>
where
    T: de::Deserialize<'de>,
    F: FnMut(T),
{
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T, F> Visitor<'de> for PageSeed<T, F>
where
    T: de::Deserialize<'de>,
    F: FnMut(T),
{
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Query Entities answer")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<KeyName>()? {
            if key.0 && !found {
                found = true;
                map.next_value_seed(RowsSeed {
                    each: &mut self.each,
                    _row: std::marker::PhantomData,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a key of the page object is `value`, read without allocating.
struct KeyName(bool);

impl<'de> de::Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyName, E> {
                Ok(KeyName(v == "value"))
            }
        }
        d.deserialize_str(V)
    }
}

/// The `value` list: each element deserialized and handed to `each`.
struct RowsSeed<'f, T, F> {
    each: &'f mut F,
    _row: std::marker::PhantomData<fn() -> T>,
}

impl<'de, T, F> DeserializeSeed<'de> for RowsSeed<'_, T, F>
where
    T: de::Deserialize<'de>,
    F: FnMut(T),
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, F> Visitor<'de> for RowsSeed<'_, T, F>
where
    T: de::Deserialize<'de>,
    F: FnMut(T),
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a `value` list of entities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<T>()? {
            (self.each)(row);
        }
        Ok(())
    }
}

/// A property's value as text, as [`super::entity`] reads one: strings as they are,
/// numbers and booleans as text, `null` (and any object or list) absent.
pub struct Text(pub Option<String>);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                // As a JSON number prints (`7176.0`), like a parsed entity's text.
                Ok(Text(serde_json::Number::from_f64(v).map(|n| n.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The properties of a record row this store reads, by name.
enum Field {
    PartitionKey,
    RowKey,
    Timestamp,
    ETag,
    InsertedAt,
    /// One of [`COLUMNS`], by index.
    Column(usize),
    Other,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "PartitionKey" => Field::PartitionKey,
                    "RowKey" => Field::RowKey,
                    "Timestamp" => Field::Timestamp,
                    "odata.etag" => Field::ETag,
                    INSERTED_AT => Field::InsertedAt,
                    other => match COLUMNS.iter().position(|c| *c == other) {
                        Some(i) => Field::Column(i),
                        None => Field::Other,
                    },
                })
            }
        }
        d.deserialize_str(V)
    }
}

fn time(text: Option<String>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A deployment record read from one row, with the time that orders it (its pinned
/// insertion time, else its `Timestamp`); `None` for a row without keys.
pub struct RecordRow(pub Option<(Option<DateTime<Utc>>, Record)>);

impl<'de> de::Deserialize<'de> for RecordRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RecordRow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an entity")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordRow, A::Error> {
                let mut r = Record::default();
                let (mut partition, mut row) = (None, None);
                let (mut timestamp, mut inserted) = (None, None);
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        Field::PartitionKey => partition = map.next_value::<Text>()?.0,
                        Field::RowKey => row = map.next_value::<Text>()?.0,
                        Field::Timestamp => timestamp = map.next_value::<Text>()?.0,
                        Field::InsertedAt => inserted = map.next_value::<Text>()?.0,
                        Field::ETag => r.etag = map.next_value::<Text>()?.0,
                        Field::Column(i) => {
                            r.set_column(COLUMNS[i], map.next_value::<Text>()?.0);
                        }
                    }
                }
                let (Some(partition), Some(row)) = (partition, row) else {
                    return Ok(RecordRow(None));
                };
                r.partition_key = partition;
                r.row_key = row;
                r.timestamp = time(timestamp);
                let order = time(inserted).or(r.timestamp);
                Ok(RecordRow(Some((order, r))))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::entity::{entity_record, insertion_time};
    use serde_json::{Value, json};

    fn rows(page: &Value) -> Vec<Option<(Option<DateTime<Utc>>, Record)>> {
        let body = serde_json::to_vec(page).unwrap();
        let mut out = Vec::new();
        parse_page(&body, |row: RecordRow| out.push(row.0)).unwrap();
        out
    }

    #[test]
    fn a_streamed_row_is_the_record_a_parsed_entity_gives() {
        // Rows as the service and other writers leave them: bedrock's empty strings, a
        // number a client stored for p1, a float, a boolean, a foreign column with a type
        // annotation, a null, a pinned insertion time, an object nobody should write there.
        let entities = vec![
            json!({
                "odata.etag": "W/\"datetime'2020-03-17T21%3A16%3A24.868Z'\"",
                "PartitionKey": "hello-bedrock", "RowKey": "a1b2c3d4e5f6",
                "Timestamp": "2020-03-17T21:16:24.868Z",
                "commitId": "", "env": "DEV ", "hldCommitId": "9d2ec1f", "imageTag": "hello-bedrock-master-7254",
                "p1": "", "p2": "264", "service": "", "pr": "1354", "None": null
            }),
            json!({
                "odata.etag": "W/\"x\"", "PartitionKey": "p", "RowKey": "r\"q", "Timestamp": "2024-05-01T10:00:00.1234567Z",
                "p1": 7176, "p1@odata.type": "Edm.Int32", "p2": 12.5, "p3": true,
                "insertedAt": "2024-04-30T09:00:00.000000Z", "insertedAt@odata.type": "Edm.DateTime",
                "deployedBy": "ops-team", "attempts": "3", "attempts@odata.type": "Edm.Int64",
                "sourceRepo": "https://user:secret@dev.azure.com/fabrikam/p/_git/web",
                "manifestRepo": {"nested": [1, 2]}, "hldRepo": ["x"]
            }),
        ];
        let page = json!({"odata.metadata": "http://127.0.0.1/devstoreaccount1/$metadata#t", "value": entities});
        let got = rows(&page);
        assert_eq!(got.len(), 2);
        for (row, entity) in got.into_iter().zip(&entities) {
            let (order, record) = row.expect("a keyed row");
            let want = entity_record(entity).unwrap();
            assert_eq!(record, want, "{entity}");
            assert_eq!(order, insertion_time(entity).or(want.timestamp));
        }
    }

    #[test]
    fn rows_without_keys_are_none_and_pages_without_a_list_are_errors() {
        let page = json!({"value": [{"RowKey": "r"}, {"PartitionKey": "p", "RowKey": "r"}]});
        let got = rows(&page);
        assert!(got[0].is_none() && got[1].is_some());
        let mut n = 0;
        let e = parse_page(br#"{"odata.metadata":"m"}"#, |_: RecordRow| n += 1).unwrap_err();
        assert!(e.to_string().contains("no `value` list"), "{e}");
        assert!(parse_page(br#"{"value": [{"PartitionKey": "p""#, |_: RecordRow| ()).is_err());
        assert!(parse_page(br#"{"value": []} trailing"#, |_: RecordRow| ()).is_err());
        assert!(parse_page(br#"{"value": 7}"#, |_: RecordRow| ()).is_err());
        assert_eq!(n, 0);
    }
}
