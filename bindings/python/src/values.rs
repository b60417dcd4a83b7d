//! Conversions between Python values and the library's: enum members, JSON documents,
//! datetimes and word arguments. Every accepted word or shape is the library's own.

use chrono::{DateTime, FixedOffset, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};
use serde::Serialize;
use spektate_bindings_common::words::word;

use crate::errors::invalid;

/// The member of the Python enum `class` (in `spektate._enums`) for a library enum value.
pub fn member<'py, E: Serialize>(
    py: Python<'py>,
    class: &str,
    value: &E,
) -> PyResult<Bound<'py, PyAny>> {
    py.import("spektate._enums")?
        .getattr(class)?
        .call1((word(value),))
}

/// An optional enum member.
pub fn member_opt<'py, E: Serialize>(
    py: Python<'py>,
    class: &str,
    value: Option<&E>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    value.map(|v| member(py, class, v)).transpose()
}

/// A value as its JSON document, in Python form (`dict`, `list`, `str`, ...), the same
/// document `spektate get -o json` prints.
pub fn json<'py, T: Serialize + ?Sized>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| invalid("value", e))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A word argument (`status`, `kind`, `result`): a `str`, or a member of a `spektate` enum
/// (whose value is its word).
pub fn word_of(field: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    value.extract().map_err(|_| {
        invalid(
            field,
            format!("{} is not a string or a spektate enum member", repr(value)),
        )
    })
}

/// An optional word argument; `None` when not given.
pub fn word_arg(field: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    value
        .filter(|v| !v.is_none())
        .map(|v| word_of(field, v))
        .transpose()
}

/// `repr(value)` for messages.
pub fn repr(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "the value".to_string())
}

/// An optional timezone-aware datetime argument, in UTC. Any time zone counts (`timezone`,
/// `zoneinfo.ZoneInfo`, pytz): an aware datetime is first turned to UTC by Python itself.
pub fn datetime(field: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DateTime<Utc>>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let aware = value.hasattr("astimezone").unwrap_or(false)
        && value
            .call_method0("utcoffset")
            .is_ok_and(|offset| !offset.is_none());
    let in_utc = if aware {
        let utc = value
            .py()
            .import("datetime")?
            .getattr("timezone")?
            .getattr("utc")?;
        value.call_method1("astimezone", (utc,))?
    } else {
        value.clone()
    };
    let at: DateTime<FixedOffset> = in_utc.extract().map_err(|_| {
        invalid(
            field,
            format!("{} is not a timezone-aware datetime", repr(value)),
        )
    })?;
    Ok(Some(at.with_timezone(&Utc)))
}

/// An optional whole-number argument (`top`): an `int`, not a `bool` (checked further by
/// the library).
pub fn whole(field: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    whole_in(field, value, Some)
}

/// An optional count argument (`attempt`): an `int` from 0 to 4294967295.
pub fn count(field: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    whole_in(field, value, |n| u32::try_from(n).ok())
}

/// An `int` (not a `bool`) that `fit` takes, or an error naming `field` and the value.
fn whole_in<T>(
    field: &str,
    value: Option<&Bound<'_, PyAny>>,
    fit: impl Fn(i64) -> Option<T>,
) -> PyResult<Option<T>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    match value
        .extract::<i64>()
        .ok()
        .filter(|_| !value.is_instance_of::<PyBool>())
        .and_then(fit)
    {
        Some(n) => Ok(Some(n)),
        None => Err(invalid(
            field,
            format!("{} is not a whole number such as 2", repr(value)),
        )),
    }
}

/// The name of `value`'s type (`bytes`), for messages that must not echo the value.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "value".into())
}

/// A `str` or `os.PathLike` argument as text. The error names the type, not the value: a
/// store spec may hold a password.
pub fn path_or_str(field: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let not = || {
        invalid(
            field,
            format!("a {} is not a str or a path", type_name(value)),
        )
    };
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_string());
    }
    py_fspath(value)
        .map_err(|_| not())?
        .extract::<String>()
        .map_err(|_| not())
}

fn py_fspath<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    value.py().import("os")?.call_method1("fspath", (value,))
}

/// A Python `dict` from key/value pairs, for classes the library does not serialize.
pub fn dict<'py>(
    py: Python<'py>,
    pairs: Vec<(&str, Bound<'py, PyAny>)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in pairs {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// A value handed to Python as its JSON document ([`json`]): what a method returns when its
/// answer is plain data, such as the rows of `Tracker.status`.
pub struct Json<T>(pub T);

impl<'py, T: Serialize> IntoPyObject<'py> for Json<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        json(py, &self.0)
    }
}
