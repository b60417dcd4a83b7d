//! Values JavaScript passes in that napi's own conversions would take silently wrong: a `Date`
//! whose time is `NaN` (`new Date('garbage')`), which napi's `DateTime` conversion reads as
//! the epoch, and a number that is not whole (`2.5`, `NaN`), which its `i64` conversion
//! truncates (`NaN` to 0). They are taken as they are and checked here, with a `ConfigError`
//! naming the field and the value.

use chrono::{DateTime, Utc};
use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
use napi::{JsDate, ValueType, sys};

use crate::errors::invalid;

/// A JavaScript `Date` as given: its time value, milliseconds since the epoch (`NaN` for an
/// invalid date). Named `Date` so that napi declares fields of this type as `Date` in
/// `index.d.ts` by itself.
#[derive(Debug, Clone, Copy)]
pub struct Date(f64);

impl TypeName for Date {
    fn type_name() -> &'static str {
        "Date"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for Date {
    unsafe fn validate(
        env: sys::napi_env,
        value: sys::napi_value,
    ) -> napi::Result<sys::napi_value> {
        // SAFETY: called by napi on the JavaScript thread with its env.
        unsafe { JsDate::validate(env, value) }
    }
}

impl FromNapiValue for Date {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: called by napi on the JavaScript thread with its env; the `JsDate` does not
        // outlive this call.
        let date = unsafe { JsDate::from_napi_value(env, value) }?;
        // Anything but a `Date` fails here, as napi's `DateTime` conversion does.
        date.value_of()
            .map(Date)
            .map_err(|e| napi::Error::new(e.status, "Expected a Date".to_string()))
    }
}

/// The time `field` gives, or a `ConfigError` naming it when the `Date` is invalid (its time
/// is `NaN`) or outside the times the library can hold.
pub fn time(
    field: &str,
    given: Option<Date>,
) -> Result<Option<DateTime<Utc>>, napi::Error<crate::errors::Code>> {
    let Some(Date(millis)) = given else {
        return Ok(None);
    };
    if !millis.is_finite() {
        return Err(invalid(
            field,
            format!(
                "Invalid Date (its time is {}); give a valid Date",
                number(millis)
            ),
        ));
    }
    // A `Date`'s time is a whole number of milliseconds within ±8.64e15.
    DateTime::from_timestamp_millis(millis as i64)
        .map(Some)
        .ok_or_else(|| {
            invalid(
                field,
                format!("{} ms since 1970 is out of range", number(millis)),
            )
        })
}

/// The whole number `field` gives, for the library's own range checks, or a `ConfigError`
/// naming it and the value when it is not one (`2.5`, `NaN`, `Infinity`). Beyond the range of
/// `i64` it saturates, as the library would take any count that large.
pub fn whole(
    field: &str,
    given: Option<f64>,
) -> Result<Option<i64>, napi::Error<crate::errors::Code>> {
    match given {
        None => Ok(None),
        Some(n) if n.is_finite() && n.fract() == 0.0 => Ok(Some(n as i64)),
        Some(n) => Err(invalid(
            field,
            format!("{} is not a whole number such as 10", number(n)),
        )),
    }
}

/// `n` as JavaScript writes it: `NaN`, `Infinity`, `-Infinity`, `2.5`.
pub fn number(n: f64) -> String {
    if n.is_nan() {
        "NaN".to_string()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        n.to_string()
    }
}
