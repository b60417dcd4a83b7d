//! Fields of provider answers, read the same way by every provider: text trimmed, and absent
//! when blank; lists kept to what was asked for ([`first`], [`last_of_optional`]).
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

/// A JSON array read into its first `N` items (`deserialize_with`); the rest are checked for
/// syntax and dropped unread, so a page keeps at most a page whatever the server sends.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Page {
///     #[serde(deserialize_with = "spektate_core::fields::first::<2, _, _>")]
///     items: Vec<u32>,
/// }
/// let page: Page = serde_json::from_str(r#"{"items": [1, 2, {"x": [3]}, "4"]}"#).unwrap();
/// assert_eq!(page.items, [1, 2]);
/// ```
pub fn first<'de, const N: usize, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    d.deserialize_seq(Capped::<N, T>(std::marker::PhantomData))
}

/// [`first`] of an optional array (`null` or absent is `None`).
pub fn first_of_optional<'de, const N: usize, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    d.deserialize_option(Optional::<N, T>(std::marker::PhantomData))
}

/// A JSON array read into its last `N` items, oldest first (`deserialize_with`), `null` or
/// absent as `None`: for lists that grow at their end, such as a sync history.
pub fn last_of_optional<'de, const N: usize, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    let kept: Option<std::collections::VecDeque<T>> =
        d.deserialize_option(Optional::<N, T, true>(std::marker::PhantomData))?;
    Ok(kept.map(Vec::from))
}

struct Capped<const N: usize, T, const LAST: bool = false>(std::marker::PhantomData<T>);

impl<'de, const N: usize, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Capped<N, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N));
        while out.len() < N {
            match seq.next_element()? {
                Some(item) => out.push(item),
                None => return Ok(out),
            }
        }
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(out)
    }
}

impl<'de, const N: usize, T: serde::Deserialize<'de>> serde::de::Visitor<'de>
    for Capped<N, T, true>
{
    type Value = std::collections::VecDeque<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<std::collections::VecDeque<T>, A::Error> {
        let mut out = std::collections::VecDeque::with_capacity(N.min(64));
        while let Some(item) = seq.next_element()? {
            if out.len() == N {
                out.pop_front();
            }
            if N > 0 {
                out.push_back(item);
            }
        }
        Ok(out)
    }
}

struct Optional<const N: usize, T, const LAST: bool = false>(std::marker::PhantomData<T>);

macro_rules! optional_visitor {
    ($last:literal, $value:ty) => {
        impl<'de, const N: usize, T: serde::Deserialize<'de>> serde::de::Visitor<'de>
            for Optional<N, T, $last>
        {
            type Value = Option<$value>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list or null")
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                d.deserialize_seq(Capped::<N, T, $last>(std::marker::PhantomData))
                    .map(Some)
            }
        }
    };
}

optional_visitor!(false, Vec<T>);
optional_visitor!(true, std::collections::VecDeque<T>);

#[cfg(test)]
mod capped_tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Lists {
        #[serde(default, deserialize_with = "super::first::<3, _, _>")]
        first: Vec<u32>,
        #[serde(default, deserialize_with = "super::first_of_optional::<3, _, _>")]
        optional: Option<Vec<u32>>,
        #[serde(default, deserialize_with = "super::last_of_optional::<3, _, _>")]
        last: Option<Vec<u32>>,
    }

    fn read(json: &str) -> Lists {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn long_lists_keep_their_first_or_last_items_and_short_ones_all() {
        let long = read(r#"{"first": [1,2,3,4,5], "optional": [1,2,3,4], "last": [1,2,3,4,5]}"#);
        assert_eq!(long.first, [1, 2, 3]);
        assert_eq!(long.optional.unwrap(), [1, 2, 3]);
        assert_eq!(long.last.unwrap(), [3, 4, 5]);
        let short = read(r#"{"first": [7], "optional": [], "last": [8, 9]}"#);
        assert_eq!(short.first, [7]);
        assert_eq!(short.optional.unwrap(), Vec::<u32>::new());
        assert_eq!(short.last.unwrap(), [8, 9]);
        let absent = read(r#"{"optional": null, "last": null}"#);
        assert!(absent.first.is_empty() && absent.optional.is_none() && absent.last.is_none());
    }

    #[test]
    fn dropped_items_are_still_checked_for_syntax_but_not_for_type() {
        // Past the cap any JSON value is skipped; a broken document is still an error.
        let mixed = read(r#"{"first": [1,2,3,{"a":[null]},"x",true]}"#);
        assert_eq!(mixed.first, [1, 2, 3]);
        assert!(serde_json::from_str::<Lists>(r#"{"first": [1,2,3,4,}"#).is_err());
        // Within the cap a wrong type is the error it always was.
        assert!(serde_json::from_str::<Lists>(r#"{"first": [1,"two"]}"#).is_err());
    }

    #[test]
    fn a_million_items_come_down_to_the_cap() {
        let json = format!(
            r#"{{"first": [{}], "last": [{}]}}"#,
            vec!["1"; 1_000_000].join(","),
            (0..1_000_000)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let lists = read(&json);
        assert_eq!(lists.first, [1, 1, 1]);
        assert_eq!(lists.last.unwrap(), [999_997, 999_998, 999_999]);
    }
}
