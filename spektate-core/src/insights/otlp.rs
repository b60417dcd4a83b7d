//! OpenTelemetry spans before encoding, and an `ExportTraceServiceRequest` of them in the
//! OTLP/HTTP JSON encoding (opentelemetry-proto `docs/specification.md`, "JSON Protobuf
//! Encoding": ids as hex strings, enums as integers, 64-bit integers as decimal strings).
//! [`otlp_proto`](super::otlp_proto) encodes the same request in the binary protobuf
//! encoding.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The instrumentation scope every span is exported under.
pub const SCOPE: &str = "spektate";

/// `Span.kind` of opentelemetry-proto `trace.proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// `SPAN_KIND_INTERNAL` (1): an operation inside the application.
    Internal = 1,
    /// `SPAN_KIND_CLIENT` (3): a request to a remote service.
    Client = 3,
}

/// `Status.code` of opentelemetry-proto `trace.proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    /// `STATUS_CODE_UNSET` (0).
    Unset = 0,
    /// `STATUS_CODE_OK` (1).
    Ok = 1,
    /// `STATUS_CODE_ERROR` (2).
    Error = 2,
}

/// An attribute's value (`AnyValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// `string_value`.
    Str(String),
    /// `int_value`.
    Int(i64),
}

/// One span, ready to be encoded in either encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSpan {
    /// The trace it belongs to (16 bytes).
    pub trace_id: [u8; 16],
    /// Its own id (8 bytes).
    pub span_id: [u8; 8],
    /// Its parent's id; `None` for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    /// What it is (`deploy frontend to prod`, `spektate.refresh`, `GET`).
    pub name: String,
    /// Internal or client.
    pub kind: SpanKind,
    /// When it began.
    pub start: DateTime<Utc>,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// Its attributes, in order.
    pub attributes: Vec<(String, AttrValue)>,
    /// Its status.
    pub status: StatusCode,
    /// The status message (only with [`StatusCode::Error`]).
    pub status_message: String,
}

impl OtlpSpan {
    /// A string attribute's value.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// Nanoseconds since the Unix epoch, saturating: 0 before it, `i64::MAX` (2262-04-11) after
/// what a signed 64-bit count holds (collectors read these as signed), so a later time is
/// never an earlier number.
pub fn unix_nanos(t: DateTime<Utc>) -> u64 {
    let nanos = t
        .timestamp_nanos_opt()
        .unwrap_or(if t.timestamp() < 0 { 0 } else { i64::MAX });
    nanos.max(0) as u64
}

impl OtlpSpan {
    /// Its start and end as [`unix_nanos`], the end never before the start.
    pub fn unix_nanos(&self) -> (u64, u64) {
        let start = unix_nanos(self.start);
        (start, unix_nanos(self.end).max(start))
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_value(v: &AttrValue) -> Value {
    match v {
        AttrValue::Str(s) => json!({"stringValue": s}),
        AttrValue::Int(i) => json!({"intValue": i.to_string()}),
    }
}

fn json_attributes(attributes: &[(String, AttrValue)]) -> Vec<Value> {
    attributes
        .iter()
        .map(|(k, v)| json!({"key": k, "value": json_value(v)}))
        .collect()
}

fn json_span(s: &OtlpSpan) -> Value {
    let (start, end) = s.unix_nanos();
    let mut status = json!({"code": s.status as u8});
    if !s.status_message.is_empty() {
        status["message"] = json!(s.status_message);
    }
    let mut span = json!({
        "traceId": hex(&s.trace_id),
        "spanId": hex(&s.span_id),
        "name": s.name,
        "kind": s.kind as u8,
        "startTimeUnixNano": start.to_string(),
        "endTimeUnixNano": end.to_string(),
        "attributes": json_attributes(&s.attributes),
        "status": status,
    });
    if let Some(parent) = &s.parent_span_id {
        span["parentSpanId"] = json!(hex(parent));
    }
    span
}

/// An `ExportTraceServiceRequest` in the JSON encoding: `spans` from one resource named
/// `service_name` (`service.name`), under the scope [`SCOPE`].
pub fn json_request(spans: &[OtlpSpan], service_name: &str) -> Value {
    let spans: Vec<Value> = spans.iter().map(json_span).collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": json_attributes(&[(
            "service.name".to_string(),
            AttrValue::Str(service_name.to_string()),
        )])},
        "scopeSpans": [{
            "scope": {"name": SCOPE, "version": env!("CARGO_PKG_VERSION")},
            "spans": spans,
        }],
    }]})
}

/// What an `ExportTraceServiceResponse` said about spans it did not take
/// (`partial_success`); both zero and empty when it took them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialSuccess {
    /// `rejected_spans`.
    pub rejected_spans: i64,
    /// `error_message`, at most [`MAX_MESSAGE_CHARS`] characters, control characters removed.
    pub error_message: String,
}

/// The longest collector message kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters without control characters, so a
/// collector's message cannot forge log lines.
pub fn clean_message(text: &str) -> String {
    crate::text::shown(text, MAX_MESSAGE_CHARS)
}

impl PartialSuccess {
    /// Whether the collector said something was rejected or warned.
    pub fn is_partial(&self) -> bool {
        self.rejected_spans != 0 || !self.error_message.is_empty()
    }

    /// The `partialSuccess` of a JSON `ExportTraceServiceResponse` (an empty body or `{}`
    /// is a full success); `rejectedSpans` as a number or a decimal string.
    pub fn from_json(body: &[u8]) -> Result<Self, String> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("not an export response: {e}"))?;
        let Some(p) = v.get("partialSuccess").filter(|p| !p.is_null()) else {
            return Ok(Self::default());
        };
        let rejected = match p.get("rejectedSpans") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n.as_i64().ok_or("rejectedSpans is not an integer")?,
            Some(Value::String(s)) => s
                .parse()
                .map_err(|_| format!("rejectedSpans '{}' is not an integer", clean_message(s)))?,
            Some(_) => return Err("rejectedSpans is not an integer".into()),
        };
        Ok(PartialSuccess {
            rejected_spans: rejected,
            error_message: clean_message(
                p.get("errorMessage").and_then(Value::as_str).unwrap_or(""),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_spans_carry_hex_ids_decimal_times_and_typed_attributes() {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 5).unwrap();
        let span = OtlpSpan {
            trace_id: [0xab; 16],
            span_id: [1, 2, 3, 4, 5, 6, 7, 8],
            parent_span_id: Some([9; 8]),
            name: "GET".into(),
            kind: SpanKind::Client,
            start: t,
            end: t,
            attributes: vec![
                ("http.response.status_code".into(), AttrValue::Int(503)),
                ("url.full".into(), AttrValue::Str("https://x/".into())),
            ],
            status: StatusCode::Error,
            status_message: "HTTP 503".into(),
        };
        let body = json_request(&[span], "spektate");
        let s = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "abababababababababababababababab");
        assert_eq!(s["spanId"], "0102030405060708");
        assert_eq!(s["parentSpanId"], "0909090909090909");
        assert_eq!(s["kind"], 3);
        assert_eq!(s["startTimeUnixNano"], "1700000000000000005");
        assert_eq!(s["attributes"][0]["value"]["intValue"], "503");
        assert_eq!(s["status"], json!({"code": 2, "message": "HTTP 503"}));
        assert_eq!(
            body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "spektate"
        );
    }

    #[test]
    fn times_past_2262_saturate_and_a_span_never_ends_before_it_starts() {
        let t = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        let span = |start: &str, end: &str| OtlpSpan {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: None,
            name: "deploy web to prod".into(),
            kind: SpanKind::Internal,
            start: t(start),
            end: t(end),
            attributes: Vec::new(),
            status: StatusCode::Ok,
            status_message: String::new(),
        };
        let times = |s: OtlpSpan| {
            let body = json_request(&[s], "spektate");
            let s = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
            let n = |k: &str| s[k].as_str().unwrap().parse::<u64>().unwrap();
            (n("startTimeUnixNano"), n("endTimeUnixNano"))
        };
        let max = i64::MAX as u64;
        assert_eq!(
            times(span("2026-01-01T00:00:00Z", "9999-12-31T00:00:00Z")),
            (1_767_225_600_000_000_000, max)
        );
        assert_eq!(
            times(span("2300-01-01T00:00:00Z", "2400-01-01T00:00:00Z")),
            (max, max)
        );
        assert_eq!(
            times(span("1960-01-01T00:00:00Z", "1965-01-01T00:00:00Z")),
            (0, 0)
        );
        // An end a provider stamped before the start (another clock).
        assert_eq!(
            times(span("2026-01-01T00:00:10Z", "2026-01-01T00:00:00Z")),
            (1_767_225_610_000_000_000, 1_767_225_610_000_000_000)
        );
        assert!(unix_nanos(t("2262-04-11T23:47:16.854775807Z")) == max);
        assert!(unix_nanos(t("2262-04-11T23:47:16.854775806Z")) == max - 1);
    }

    #[test]
    fn a_json_partial_success_is_read_with_its_count_as_number_or_string() {
        assert!(!PartialSuccess::from_json(b"").unwrap().is_partial());
        assert!(!PartialSuccess::from_json(b"{}").unwrap().is_partial());
        let p = PartialSuccess::from_json(
            br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old\nFAKE LINE"}}"#,
        )
        .unwrap();
        assert_eq!(p.rejected_spans, 3);
        assert_eq!(
            p.error_message, "too old FAKE LINE",
            "one line, words kept apart"
        );
        let p = PartialSuccess::from_json(br#"{"partialSuccess":{"rejectedSpans":2}}"#).unwrap();
        assert_eq!(p.rejected_spans, 2);
        let e =
            PartialSuccess::from_json(br#"{"partialSuccess":{"rejectedSpans":"x"}}"#).unwrap_err();
        assert!(e.contains("rejectedSpans 'x'"), "{e}");
        assert!(PartialSuccess::from_json(b"<html>").is_err());
    }
}
