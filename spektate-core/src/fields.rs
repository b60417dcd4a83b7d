//! Text fields of provider answers, read the same way by every provider: trimmed, and absent
//! when blank.
//!
//! ```
//! use serde_json::json;
//! use spektate_core::fields::{non_empty, non_empty_text};
//! assert_eq!(non_empty(Some("  Mona ")), Some("Mona".to_string()));
//! assert_eq!(non_empty(Some("   ")), None);
//! assert_eq!(non_empty_text(Some(&json!(42))), Some("42".to_string()));
//! assert_eq!(non_empty_text(Some(&json!(true))), None);
//! ```

use chrono::{DateTime, Utc};
use serde_json::Value;

/// `s` trimmed; `None` when absent or blank.
pub fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A JSON string, trimmed, or a number as text (ids some services send as numbers); `None`
/// when absent, blank, `null` or of another type.
pub fn non_empty_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => non_empty(Some(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON string holding an RFC 3339 time (GitHub's and GitLab's `DateTime`, their REST
/// times), in UTC; `None` when absent or not such a time.
pub fn rfc3339_time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_rfc3339_in_utc() {
        let t = rfc3339_time(Some(&json!("2020-10-28T20:52:59.000+01:00"))).unwrap();
        assert_eq!(t.to_rfc3339(), "2020-10-28T19:52:59+00:00");
        for bad in [
            json!("yesterday"),
            json!(1603918379),
            json!(null),
            json!(""),
        ] {
            assert_eq!(rfc3339_time(Some(&bad)), None, "{bad}");
        }
    }

    #[test]
    fn blank_is_absent_and_text_is_trimmed() {
        assert_eq!(non_empty(None), None);
        assert_eq!(non_empty(Some("")), None);
        assert_eq!(non_empty(Some(" \t\n")), None);
        assert_eq!(non_empty(Some(" a b ")).as_deref(), Some("a b"));
    }

    #[test]
    fn json_strings_and_numbers_are_text_other_values_are_not() {
        assert_eq!(non_empty_text(Some(&json!(" x "))).as_deref(), Some("x"));
        assert_eq!(non_empty_text(Some(&json!("  "))), None);
        assert_eq!(non_empty_text(Some(&json!(7176))).as_deref(), Some("7176"));
        assert_eq!(non_empty_text(Some(&json!(1.5))).as_deref(), Some("1.5"));
        for other in [json!(null), json!(false), json!([]), json!({})] {
            assert_eq!(non_empty_text(Some(&other)), None, "{other}");
        }
        assert_eq!(non_empty_text(None), None);
    }
}
