//! Reading the values of a row. Anyone sharing the database may have written it, so every
//! value is read with `try_get`: one the driver cannot take is a message naming the column,
//! never a panic.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

/// Column `i` of `row`, or why it cannot be read, naming the column.
pub fn column<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, String> {
    row.try_get(i).map_err(|e| {
        let name = row.columns().get(i).map_or("?", |c| c.name());
        // The driver's own text is "error deserializing column N"; the cause says why.
        let cause = std::error::Error::source(&e).map_or_else(|| e.to_string(), |c| c.to_string());
        format!("column {name}: {cause}")
    })
}

/// A `timestamptz` as a time. PostgreSQL holds `infinity`, `-infinity` and years up to
/// 294276, chrono only years up to 262142: such a value is an error saying what it is.
pub struct Time(pub DateTime<Utc>);

/// Microseconds in an average Gregorian year (365.2425 days).
const MICROS_PER_YEAR: i64 = 31_556_952_000_000;

impl<'a> FromSql<'a> for Time {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        DateTime::<Utc>::from_sql(ty, raw).map(Time).map_err(|e| {
            // On the wire: microseconds from 2000-01-01 00:00 UTC, infinities as the extremes.
            match <[u8; 8]>::try_from(raw).map(i64::from_be_bytes) {
                Ok(i64::MAX) => "it is 'infinity', not a time".into(),
                Ok(i64::MIN) => "it is '-infinity', not a time".into(),
                Ok(micros) => format!(
                    "it is in the year {}, beyond the years read ({} to {})",
                    2000 + micros.div_euclid(MICROS_PER_YEAR),
                    NaiveDate::MIN.year(),
                    NaiveDate::MAX.year()
                )
                .into(),
                Err(_) => e,
            }
        })
    }

    fn accepts(ty: &Type) -> bool {
        <DateTime<Utc> as FromSql>::accepts(ty)
    }
}

/// `text` on one line, cut to 80 characters, for a message.
pub fn truncated(text: &str) -> String {
    spektate_core::text::shown(text, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(micros: i64) -> Result<DateTime<Utc>, String> {
        Time::from_sql(&Type::TIMESTAMPTZ, &micros.to_be_bytes())
            .map(|t| t.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn times_chrono_cannot_hold_say_what_they_are() {
        assert_eq!(time(0).unwrap().to_rfc3339(), "2000-01-01T00:00:00+00:00");
        assert_eq!(time(i64::MAX).unwrap_err(), "it is 'infinity', not a time");
        assert_eq!(time(i64::MIN).unwrap_err(), "it is '-infinity', not a time");
        // 290000-06-01, as PostgreSQL sends it.
        let e = time(9_088_415_308_800_000_000).unwrap_err();
        assert!(e.starts_with("it is in the year 290000, beyond"), "{e}");
        assert!(
            Time::from_sql(&Type::TIMESTAMPTZ, &[1, 2, 3]).is_err(),
            "a short value"
        );
    }
}
