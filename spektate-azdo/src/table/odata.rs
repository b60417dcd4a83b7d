//! OData pieces of the Table service: `$filter` expressions with every string literal
//! escaped, entity key paths, and keys made from values that may hold any character.

use chrono::{DateTime, SecondsFormat, Utc};
use spektate_core::RecordQuery;
use spektate_core::url_encode::segment;

/// A string literal: quoted, with each `'` doubled, so no value can end the literal.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A `datetime'...'` literal.
pub fn datetime(at: DateTime<Utc>) -> String {
    format!(
        "datetime'{}'",
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    )
}

/// `column eq 'value'`.
pub fn eq(column: &str, value: &str) -> String {
    format!("{column} eq {}", literal(value))
}

/// The filter of a partition read: the partition, every equality of `query`, the run id
/// as `(p1 or p2 or p3)`, and `Timestamp ge` for "changed since".
pub fn record_filter(partition: &str, query: &RecordQuery) -> String {
    let mut parts = vec![eq("PartitionKey", partition)];
    for (column, value) in query.equalities() {
        parts.push(eq(column, value));
    }
    if let Some(id) = &query.run_id {
        parts.push(format!(
            "({} or {} or {})",
            eq("p1", id),
            eq("p2", id),
            eq("p3", id)
        ));
    }
    if let Some(since) = query.changed_since {
        parts.push(format!("Timestamp ge {}", datetime(since)));
    }
    parts.join(" and ")
}

/// A key for a value that may hold characters keys may not: those (and `%`) percent-encoded.
/// Not URL encoding: the key keeps every other character, as stored rows show it.
pub fn safe_key(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '/' | '\\' | '#' | '?' | '%') || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The path of one entity: `{table}(PartitionKey='..',RowKey='..')`, keys escaped and encoded.
pub fn entity_path(table: &str, partition: &str, row_key: &str) -> String {
    // The path is signed as sent (signing.rs), so it is encoded once, here, by the shared rule.
    let key = |v: &str| segment(&v.replace('\'', "''"));
    format!(
        "/{table}(PartitionKey='{}',RowKey='{}')",
        key(partition),
        key(row_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_quote_can_never_end_the_literal() {
        let q = RecordQuery::all().image_tag("it's' or 'a' eq 'a");
        let f = record_filter("demo", &q);
        assert_eq!(
            f,
            "PartitionKey eq 'demo' and imageTag eq 'it''s'' or ''a'' eq ''a'"
        );
    }

    #[test]
    fn run_ids_and_changed_since() {
        let since = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let f = record_filter("p", &RecordQuery::all().run_id("42").changed_since(since));
        assert_eq!(
            f,
            "PartitionKey eq 'p' and (p1 eq '42' or p2 eq '42' or p3 eq '42') and Timestamp ge datetime'2024-01-02T03:04:05.000000Z'"
        );
    }

    #[test]
    fn the_shared_encoder_is_the_rule_the_table_requests_were_signed_with() {
        // RFC 3986 unreserved kept, every other byte encoded: what the store used before the
        // encoder moved to the core. A change here changes signed paths and filters.
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let mut values: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
        values.extend(
            [
                "PartitionKey eq 'hello-bedrock' and Timestamp ge datetime'2024-01-02T03:04:05.000000Z'",
                "o''neil x/y?z#w%20+&=",
                "é☃😀~",
                "1!2*3(4)",
            ]
            .map(String::from),
        );
        for v in &values {
            assert_eq!(
                spektate_core::url_encode::query_value(v),
                utf8_percent_encode(v, UNRESERVED).to_string(),
                "{v:?}"
            );
            assert_eq!(segment(v), utf8_percent_encode(v, UNRESERVED).to_string());
        }
    }

    #[test]
    fn keys_are_escaped_and_encoded() {
        assert_eq!(safe_key("job/12#3"), "job%2F12%233");
        assert_eq!(
            entity_path("deployments", "o'neil x", "abc"),
            "/deployments(PartitionKey='o%27%27neil%20x',RowKey='abc')"
        );
    }
}
