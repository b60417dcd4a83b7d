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

/// The column that vouches for a row's values: every data column is text stored as a
/// reader reads it back (trimmed, lower-cased), so the service can match it exactly. Only
/// this store writes it: rows other tools insert have none, nor have rows they replace with
/// the columns they know (`bedrock deployment create`). A tool that writes back every
/// property it read with a value of its own (`update_pipeline.py`) keeps it, and a value it
/// spells otherwise is then matched as written.
pub const NORMAL_FORM: &str = "spektateForm";
/// The value of [`NORMAL_FORM`]: the version of the form it vouches for.
pub const NORMAL_FORM_VERSION: i32 = 1;

/// The most comparisons the service takes in one `$filter`.
pub const MAX_COMPARISONS: usize = 15;

/// The filter of a partition read: the partition, the row key, the value equalities of
/// `query` (the run id as `(p1 or p2 or p3)`), and `Timestamp ge` for "changed since".
///
/// Keys and `Timestamp` hold what any writer stored, and are compared as they are. Values
/// are compared by the service only in rows that carry [`NORMAL_FORM`]: a row without it
/// (written by another tool, with values as it spelled them or run ids as numbers) is sent
/// whatever its values, and the store re-checks every row it reads with
/// [`RecordQuery::matches`]. A missing property makes a comparison false on the Table
/// service and on Azurite, so `not (..)` selects such rows. Equalities that would take the
/// filter past [`MAX_COMPARISONS`] are left to that re-check.
pub fn record_filter(partition: &str, query: &RecordQuery) -> String {
    let mut parts = vec![eq("PartitionKey", partition)];
    if let Some(key) = &query.row_key {
        parts.push(eq("RowKey", key));
    }
    let since = query
        .changed_since
        .map(|at| format!("Timestamp ge {}", datetime(at)));
    let room = MAX_COMPARISONS.saturating_sub(parts.len() + since.iter().count() + 1);
    let values = fitting(value_conditions(query), room);
    if !values.is_empty() {
        parts.push(format!(
            "(not ({}) or {})",
            normal_form_condition(),
            all_of(&values)
        ));
    }
    parts.extend(since);
    parts.join(" and ")
}

/// Whether the service alone decides which rows pass `query`'s filter: it compares keys
/// and times only, which every writer stores as they are read.
pub fn filters_keys_and_times_only(query: &RecordQuery) -> bool {
    value_conditions(query).is_empty()
}

/// `spektateForm eq 1`: the rows whose values the service can compare exactly.
fn normal_form_condition() -> String {
    format!("{NORMAL_FORM} eq {NORMAL_FORM_VERSION}")
}

/// The conditions on data columns, each with the comparisons it takes.
fn value_conditions(query: &RecordQuery) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = query
        .equalities()
        .into_iter()
        .filter(|(column, _)| *column != "RowKey")
        .map(|(column, value)| (eq(column, value), 1))
        .collect();
    if let Some(id) = &query.run_id {
        let any = ["p1", "p2", "p3"].map(|p| eq(p, id)).join(" or ");
        out.push((format!("({any})"), 3));
    }
    out
}

/// The conditions, in order, that fit within `room` comparisons.
fn fitting(conditions: Vec<(String, usize)>, mut room: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (condition, cost) in conditions {
        if cost <= room {
            room -= cost;
            out.push(condition);
        }
    }
    out
}

/// The conjunction of `conditions`, parenthesized when there is more than one.
fn all_of(conditions: &[String]) -> String {
    match conditions {
        [one] => one.clone(),
        many => format!("({})", many.join(" and ")),
    }
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

    /// How many comparisons `filter` holds (no literal here holds an operator).
    fn comparisons(filter: &str) -> usize {
        [" eq ", " ge "]
            .iter()
            .map(|op| filter.matches(op).count())
            .sum()
    }

    #[test]
    fn a_quote_can_never_end_the_literal() {
        let q = RecordQuery::all().image_tag("it's' or 'a' eq 'a");
        let f = record_filter("demo", &q);
        assert_eq!(
            f,
            "PartitionKey eq 'demo' and (not (spektateForm eq 1) or imageTag eq 'it''s'' or ''a'' eq ''a')"
        );
    }

    #[test]
    fn run_ids_and_changed_since() {
        let since = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let f = record_filter("p", &RecordQuery::all().run_id("42").changed_since(since));
        assert_eq!(
            f,
            "PartitionKey eq 'p' and (not (spektateForm eq 1) or (p1 eq '42' or p2 eq '42' or p3 eq '42')) and Timestamp ge datetime'2024-01-02T03:04:05.000000Z'"
        );
    }

    #[test]
    fn values_are_compared_by_the_service_only_in_rows_that_vouch_for_them() {
        let q = RecordQuery::all()
            .image_tag("Hello-Bedrock-Master-7254")
            .env(" DEV ")
            .p1("7176");
        assert_eq!(
            record_filter("hello-bedrock", &q),
            "PartitionKey eq 'hello-bedrock' and (not (spektateForm eq 1) or \
             (imageTag eq 'hello-bedrock-master-7254' and env eq 'dev' and p1 eq '7176'))"
        );
        assert!(!filters_keys_and_times_only(&q));
    }

    #[test]
    fn keys_and_times_are_compared_as_stored_by_any_writer() {
        let since = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let q = RecordQuery::all()
            .row_key("5c7a0ab1e5f6")
            .changed_since(since);
        assert_eq!(
            record_filter("p", &q),
            "PartitionKey eq 'p' and RowKey eq '5c7a0ab1e5f6' and Timestamp ge datetime'2024-01-02T03:04:05.000000Z'"
        );
        assert!(filters_keys_and_times_only(&q));
        assert_eq!(
            record_filter("p", &RecordQuery::all()),
            "PartitionKey eq 'p'"
        );
        assert!(filters_keys_and_times_only(&RecordQuery::all()));
    }

    #[test]
    fn a_filter_never_holds_more_comparisons_than_the_service_takes() {
        let since = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let every = RecordQuery::all()
            .row_key("r")
            .image_tag("t")
            .env("e")
            .commit_id("c")
            .hld_commit_id("h")
            .manifest_commit_id("m")
            .pr("1")
            .p1("2")
            .p2("3")
            .p3("4")
            .run_id("5")
            .changed_since(since);
        let f = record_filter("p", &every);
        assert!(comparisons(&f) <= MAX_COMPARISONS, "{f}");
        // The run id no longer fits: it is left to the re-check of each row.
        assert!(!f.contains("'5'") && f.contains("p3 eq '4'"), "{f}");
        let fewer = RecordQuery {
            changed_since: None,
            ..every
        };
        let f = record_filter("p", &fewer);
        assert_eq!(comparisons(&f), MAX_COMPARISONS, "{f}");
        assert!(f.contains("(p1 eq '5' or p2 eq '5' or p3 eq '5')"), "{f}");
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
