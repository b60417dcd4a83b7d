//! How far back a tracker reads: the records written in a moving window (the last 90 days),
//! since a fixed time, or all of them. A long-running tracker forgets what leaves its
//! window, so its memory follows the window, not the history; older deployments stay in
//! the store and are read on demand with a wider window.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::error::{Error, Result};

/// The records a tracker reads, by the time of their last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    /// Every record.
    #[default]
    All,
    /// Those written in the last span (moving with the clock).
    Last(Duration),
    /// Those written at or after a fixed time.
    Since(DateTime<Utc>),
}

impl Window {
    /// The window of the command line and the dashboard unless told otherwise: 90 days.
    pub fn recent() -> Self {
        Window::Last(Duration::days(90))
    }

    /// Parses `all`, a span (`90d`, `12h`, `30m`, `2w`) or a start (`2026-01-31`, or an
    /// RFC 3339 time), or says which forms are accepted.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Window::All);
        }
        if let Some(span) = span(t) {
            return Ok(Window::Last(span));
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(t) {
            return Ok(Window::Since(at.with_timezone(&Utc)));
        }
        if let Some(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
        {
            return Ok(Window::Since(day.and_utc()));
        }
        Err(Error::invalid(
            "since",
            format!(
                "'{text}' is not 'all', a span such as 90d, 12h, 30m or 2w, or a date such as 2026-01-31"
            ),
        ))
    }

    /// The oldest write time inside the window at `now`; `None` for all.
    pub fn start(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Window::All => None,
            Window::Last(span) => Some(
                now.checked_sub_signed(*span)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            ),
            Window::Since(at) => Some(*at),
        }
    }
}

/// `90d`, `12h`, `30m`, `2w`: a positive whole number and a unit.
fn span(t: &str) -> Option<Duration> {
    let unit = t.chars().last()?;
    let n: i64 = t[..t.len() - unit.len_utf8()]
        .parse()
        .ok()
        .filter(|n| *n > 0)?;
    match unit.to_ascii_lowercase() {
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        'w' => Duration::try_weeks(n),
        _ => None,
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::All => f.write_str("all"),
            Window::Last(span) if span.num_days() * 86_400 == span.num_seconds() => {
                write!(f, "{}d", span.num_days())
            }
            Window::Last(span) if span.num_hours() * 3_600 == span.num_seconds() => {
                write!(f, "{}h", span.num_hours())
            }
            Window::Last(span) => write!(f, "{}m", span.num_minutes()),
            Window::Since(at) => write!(f, "{}", at.to_rfc3339()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn spans_dates_and_all_parse_and_print_back() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        assert_eq!(Window::parse("ALL").unwrap(), Window::All);
        assert_eq!(Window::parse("all").unwrap().start(now), None);
        let w = Window::parse("90d").unwrap();
        assert_eq!(w.start(now), Some(now - Duration::days(90)));
        assert_eq!(w.to_string(), "90d");
        assert_eq!(Window::parse(" 12h ").unwrap().to_string(), "12h");
        assert_eq!(Window::parse("2w").unwrap().to_string(), "14d");
        assert_eq!(Window::parse("30m").unwrap().to_string(), "30m");
        let day = Window::parse("2026-01-31").unwrap();
        assert_eq!(
            day.start(now),
            Some(Utc.with_ymd_and_hms(2026, 1, 31, 0, 0, 0).unwrap())
        );
        let at = Window::parse("2026-01-31T10:00:00+02:00").unwrap();
        assert_eq!(
            at.start(now),
            Some(Utc.with_ymd_and_hms(2026, 1, 31, 8, 0, 0).unwrap())
        );
        assert_eq!(Window::recent().to_string(), "90d");
        let ages = Window::parse("99999999d").unwrap();
        assert_eq!(
            ages.start(now),
            Some(DateTime::<Utc>::MIN_UTC),
            "no overflow"
        );
    }

    #[test]
    fn anything_else_is_an_error_naming_the_value() {
        for bad in [
            "",
            "0d",
            "-3d",
            "90",
            "d",
            "90y",
            "yesterday",
            "2026-13-01",
            "9999999999999w",
        ] {
            let e = Window::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("since") && e.contains(&format!("'{bad}'")),
                "{bad}: {e}"
            );
        }
    }
}
