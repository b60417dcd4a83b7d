//! The Table service's limits, checked before anything is sent: the service refuses a key
//! over 1 KiB (`InvalidInput`), a string over 64 KiB (`PropertyValueTooLarge`), a date
//! before 1601 and an entity over 1 MiB (`EntityTooLarge`), and Azurite lets some of them
//! through. Sizes are in UTF-16, as the service counts them. Messages name the column and
//! the limit, and show only the start of a long value.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use spektate_core::{Error, Result};

/// The longest PartitionKey or RowKey: 1 KiB of UTF-16.
pub const MAX_KEY_UNITS: usize = 512;
/// The longest string property: 64 KiB of UTF-16.
pub const MAX_STRING_UNITS: usize = 32_768;
/// The largest entity, counted as [`entity_size`] does.
pub const MAX_ENTITY_BYTES: usize = 1_048_576;
/// Characters of a value shown in a message.
const SHOWN: usize = 40;

/// The earliest `Edm.DateTime` the service stores: 1601-01-01T00:00:00Z.
pub fn min_datetime() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1601, 1, 1, 0, 0, 0).unwrap()
}

/// The latest `Edm.DateTime` the service stores: the end of 9999.
pub fn max_datetime() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap() - chrono::Duration::microseconds(1)
}

/// `value` quoted for a message, cut after 40 characters (`"abc…"`).
pub fn excerpt(value: &str) -> String {
    let mut chars = value.chars();
    let mut head: String = chars.by_ref().take(SHOWN).collect();
    if chars.next().is_some() {
        head.push('…');
    }
    format!("{head:?}")
}

fn units(value: &str) -> usize {
    value.encode_utf16().count()
}

/// Checks a key value: not empty, at most 512 UTF-16 code units, none of `/ \ # ?` and no
/// control character. `field` is what the user set (`partition key`, `run id`), `column`
/// the key it becomes (`PartitionKey`, `RowKey`).
pub fn check_key(field: &str, column: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "is empty; a value is required"));
    }
    let n = units(value);
    if n > MAX_KEY_UNITS {
        return Err(Error::invalid(
            field,
            format!(
                "{column} {} is {n} UTF-16 code units long; an Azure table key holds at most {MAX_KEY_UNITS} (1 KiB)",
                excerpt(value)
            ),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, '/' | '\\' | '#' | '?') || c.is_control())
    {
        return Err(Error::invalid(
            field,
            format!(
                "{column} {} contains {c:?}, which a table key may not hold",
                excerpt(value)
            ),
        ));
    }
    Ok(())
}

/// The EDM type of property `name`: its `@odata.type` annotation, else what JSON implies.
fn edm_type<'a>(entity: &'a Map<String, Value>, name: &str, value: &Value) -> &'a str {
    if let Some(t) = entity
        .get(&format!("{name}@odata.type"))
        .and_then(Value::as_str)
    {
        return t;
    }
    match value {
        Value::Bool(_) => "Edm.Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Edm.Int32",
        Value::Number(_) => "Edm.Double",
        _ => "Edm.String",
    }
}

/// The properties the size and value limits apply to: not the keys, the service's own
/// `Timestamp`, OData metadata or type annotations, nor `null`s (which are not stored).
fn properties(entity: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    entity.iter().filter(|(name, value)| {
        !matches!(name.as_str(), "PartitionKey" | "RowKey" | "Timestamp")
            && !name.starts_with("odata.")
            && !name.contains("@odata.")
            && !value.is_null()
    })
}

/// What one property adds to an entity's size: 8 bytes, its name at 2 bytes a character,
/// and its value (a string at 2 bytes a character plus 4, binary data plus 4, 16 for a
/// GUID, 8 for a date, a 64-bit integer or a double, 4 for a 32-bit integer, 1 for a
/// boolean).
fn property_size(entity: &Map<String, Value>, name: &str, value: &Value) -> usize {
    let value_size = match edm_type(entity, name, value) {
        "Edm.Boolean" => 1,
        "Edm.Int32" => 4,
        "Edm.Int64" | "Edm.Double" | "Edm.DateTime" => 8,
        "Edm.Guid" => 16,
        // Base64 in JSON: three bytes for every four characters.
        "Edm.Binary" => {
            4 + value
                .as_str()
                .map_or(0, |s| s.trim_end_matches('=').len() * 3 / 4)
        }
        _ => 4 + 2 * value.as_str().map_or(0, units),
    };
    8 + 2 * units(name) + value_size
}

/// An entity's size as the service counts it against [`MAX_ENTITY_BYTES`]: 4 bytes, the
/// PartitionKey and RowKey at 2 bytes a character, and each property (see the Table
/// service's published formula).
pub fn entity_size(entity: &Map<String, Value>) -> usize {
    let key = |k: &str| entity.get(k).and_then(Value::as_str).map_or(0, units);
    4 + 2 * (key("PartitionKey") + key("RowKey"))
        + properties(entity)
            .map(|(name, value)| property_size(entity, name, value))
            .sum::<usize>()
}

/// Checks one property against the string and date limits.
fn check_property(entity: &Map<String, Value>, name: &str, value: &Value) -> Result<()> {
    match edm_type(entity, name, value) {
        "Edm.String" => {
            let Some(s) = value.as_str() else {
                return Ok(());
            };
            let n = units(s);
            if n > MAX_STRING_UNITS {
                return Err(Error::invalid(
                    name,
                    format!(
                        "{} is {n} UTF-16 code units ({} bytes) long; an Azure table string property holds at most {MAX_STRING_UNITS} (64 KiB)",
                        excerpt(s),
                        2 * n
                    ),
                ));
            }
        }
        "Edm.DateTime" => {
            let text = value.as_str().unwrap_or_default();
            let at = DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc));
            let ok = at.is_ok_and(|t| (min_datetime()..=max_datetime()).contains(&t));
            if !ok {
                return Err(Error::invalid(
                    name,
                    format!(
                        "{} is not a date an Azure table holds: from 1601-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
                        excerpt(text)
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks an entity before it is written: its keys, every string and date property, and
/// its total size. The first limit broken is the error.
pub fn check_entity(entity: &Value) -> Result<()> {
    let Some(m) = entity.as_object() else {
        return Err(Error::invalid("entity", "is not a JSON object"));
    };
    let key = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
    check_key("partition key", "PartitionKey", key("PartitionKey"))?;
    check_key("row key", "RowKey", key("RowKey"))?;
    for (name, value) in properties(m) {
        check_property(m, name, value)?;
    }
    let size = entity_size(m);
    if size > MAX_ENTITY_BYTES {
        let largest = properties(m)
            .map(|(name, value)| (property_size(m, name, value), name))
            .max();
        let largest = largest
            .map(|(n, name)| format!("; its largest column is `{name}` ({n} bytes)"))
            .unwrap_or_default();
        return Err(Error::invalid(
            "entity",
            format!(
                "PartitionKey {}, RowKey {} would be {size} bytes; an Azure table entity holds at most 1 MiB ({MAX_ENTITY_BYTES} bytes){largest}",
                excerpt(key("PartitionKey")),
                excerpt(key("RowKey"))
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(e: Error) -> String {
        e.to_string()
    }

    #[test]
    fn keys_are_counted_in_utf16_and_a_kib_of_ascii_is_refused() {
        assert!(check_key("partition key", "PartitionKey", &"k".repeat(512)).is_ok());
        // 1,024 bytes of ASCII: within the old byte limit, over the service's 512 units.
        let e = message(check_key("partition key", "PartitionKey", &"k".repeat(1024)).unwrap_err());
        assert!(
            e.starts_with("invalid partition key: PartitionKey")
                && e.contains("1024 UTF-16 code units")
                && e.contains("at most 512"),
            "{e}"
        );
        assert!(e.len() < 200, "the value is cut: {e}");
        // 300 characters outside the BMP are 600 UTF-16 units (and 1,200 bytes).
        let e = message(check_key("row key", "RowKey", &"😀".repeat(300)).unwrap_err());
        assert!(
            e.contains("RowKey") && e.contains("600 UTF-16 code units"),
            "{e}"
        );
        // 500 two-byte characters are 1,000 bytes but 500 units: accepted.
        assert!(check_key("row key", "RowKey", &"é".repeat(500)).is_ok());
    }

    #[test]
    fn forbidden_key_characters_and_empty_keys() {
        let e = message(check_key("partition key", "PartitionKey", "a/b").unwrap_err());
        assert!(e.contains("\"a/b\"") && e.contains("'/'"), "{e}");
        assert!(check_key("partition key", "PartitionKey", "").is_err());
        assert!(check_key("cluster", "RowKey", "east\u{7}").is_err());
    }

    #[test]
    fn a_forty_thousand_character_url_is_named_with_the_limit_and_cut() {
        let url = format!("https://ci.example.com/run?{}", "q".repeat(40_000));
        let e = json!({"PartitionKey": "demo~runs", "RowKey": "42", "runId": "42", "url": url});
        let msg = message(check_entity(&e).unwrap_err());
        assert!(
            msg.starts_with("invalid url: \"https://ci.example.com/run?")
                && msg.contains("40027 UTF-16 code units (80054 bytes)")
                && msg.contains("at most 32768 (64 KiB)"),
            "{msg}"
        );
        assert!(msg.len() < 300, "{msg}");
        let fits = json!({"PartitionKey": "p", "RowKey": "r", "sourceRepo": "s".repeat(32_768)});
        assert!(check_entity(&fits).is_ok());
        let over = json!({"PartitionKey": "p", "RowKey": "r", "sourceRepo": "s".repeat(32_769)});
        assert!(message(check_entity(&over).unwrap_err()).starts_with("invalid sourceRepo:"));
    }

    #[test]
    fn keys_of_an_entity_are_checked_as_keys() {
        let e = json!({"PartitionKey": format!("{}~runs", "p".repeat(510)), "RowKey": "42"});
        let msg = message(check_entity(&e).unwrap_err());
        assert!(
            msg.starts_with("invalid partition key: PartitionKey") && msg.contains("515"),
            "{msg}"
        );
    }

    #[test]
    fn dates_before_1601_are_refused() {
        let at = |t: &str| json!({"PartitionKey": "p", "RowKey": "r", "queuedAt": t, "queuedAt@odata.type": "Edm.DateTime"});
        assert!(check_entity(&at("1601-01-01T00:00:00.000000Z")).is_ok());
        assert!(check_entity(&at("2024-05-01T10:00:00.000000Z")).is_ok());
        let msg = message(check_entity(&at("1600-12-31T23:59:59.000000Z")).unwrap_err());
        assert!(
            msg.starts_with("invalid queuedAt: \"1600-12-31T23:59:59.000000Z\"")
                && msg.contains("1601-01-01T00:00:00Z"),
            "{msg}"
        );
        assert!(check_entity(&at("+10000-01-01T00:00:00.000000Z")).is_err());
        // A string that merely looks like an old date is text, not a date.
        let text = json!({"PartitionKey": "p", "RowKey": "r", "note": "1500-01-01T00:00:00Z"});
        assert!(check_entity(&text).is_ok());
    }

    #[test]
    fn an_entity_over_one_mib_names_its_largest_column() {
        let mut e = json!({"PartitionKey": "p", "RowKey": "r"});
        for i in 0..16 {
            e[format!("note{i:02}")] = json!("x".repeat(32_000));
        }
        e["note07"] = json!("x".repeat(32_700));
        // 4 + 2 * 2 + 15 * (8 + 12 + 4 + 64,000) + (8 + 12 + 4 + 65,400) bytes.
        let fits = 8 + 15 * 64_024 + 65_424;
        assert_eq!(entity_size(e.as_object().unwrap()), fits);
        assert!(check_entity(&e).is_ok());
        e["service"] = json!("y".repeat(12_100));
        e["attempts"] = json!("3");
        e["attempts@odata.type"] = json!("Edm.Int64");
        let size = entity_size(e.as_object().unwrap());
        assert_eq!(size, fits + (8 + 14 + 4 + 24_200) + (8 + 16 + 8));
        let msg = message(check_entity(&e).unwrap_err());
        assert!(
            msg.starts_with("invalid entity: PartitionKey \"p\", RowKey \"r\"")
                && msg.contains(&format!("would be {size} bytes"))
                && msg.contains("at most 1 MiB (1048576 bytes)")
                && msg.contains("largest column is `note07` (65424 bytes)"),
            "{msg}"
        );
    }

    #[test]
    fn the_size_of_each_type_follows_the_service_formula() {
        let e = json!({
            "PartitionKey": "pk", "RowKey": "rk", "Timestamp": "2024-01-01T00:00:00Z",
            "odata.etag": "W/\"x\"", "flag": true, "n": 7, "x": 1.5,
            "big": "9", "big@odata.type": "Edm.Int64",
            "id": "c9da6455-213d-42c9-9a79-3e9149a57833", "id@odata.type": "Edm.Guid",
            "blob": "AAECAw==", "blob@odata.type": "Edm.Binary", "gone": null
        });
        let expect = 4
            + 2 * 4
            + (8 + 8 + 1)
            + (8 + 2 + 4)
            + (8 + 2 + 8)
            + (8 + 6 + 8)
            + (8 + 4 + 16)
            + (8 + 8 + 4 + 4);
        assert_eq!(entity_size(e.as_object().unwrap()), expect);
    }
}
