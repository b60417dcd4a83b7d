//! An independent OTLP protobuf decoder for tests: prost messages written from
//! opentelemetry-proto's field numbers (`collector/trace/v1/trace_service.proto`,
//! `trace/v1/trace.proto`, `common/v1/common.proto`, `resource/v1/resource.proto`), and the
//! decoded request turned into the shape of the JSON encoding, so one assertion reads both.

#![allow(dead_code, clippy::enum_variant_names)]

use prost::Message;
use serde_json::{Value, json};

#[derive(Clone, PartialEq, Message)]
pub struct ExportTraceServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ResourceSpans {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
    #[prost(uint32, tag = "2")]
    pub dropped_attributes_count: u32,
}

#[derive(Clone, PartialEq, Message)]
pub struct ScopeSpans {
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<Span>,
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct InstrumentationScope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(message, repeated, tag = "3")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Span {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub trace_state: String,
    #[prost(bytes = "vec", tag = "4")]
    pub parent_span_id: Vec<u8>,
    #[prost(fixed32, tag = "16")]
    pub flags: u32,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(int32, tag = "6")]
    pub kind: i32,
    #[prost(fixed64, tag = "7")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "8")]
    pub end_time_unix_nano: u64,
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(uint32, tag = "10")]
    pub dropped_attributes_count: u32,
    #[prost(message, optional, tag = "15")]
    pub status: Option<Status>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Status {
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(int32, tag = "3")]
    pub code: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AnyValue {
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 7")]
    pub value: Option<any_value::Value>,
}

pub mod any_value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(string, tag = "1")]
        StringValue(String),
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        #[prost(int64, tag = "3")]
        IntValue(i64),
        #[prost(double, tag = "4")]
        DoubleValue(f64),
        #[prost(bytes, tag = "7")]
        BytesValue(Vec<u8>),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct ExportTraceServiceResponse {
    #[prost(message, optional, tag = "1")]
    pub partial_success: Option<ExportTracePartialSuccess>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ExportTracePartialSuccess {
    #[prost(int64, tag = "1")]
    pub rejected_spans: i64,
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// A binary `ExportTraceServiceResponse` with a partial success.
pub fn partial_success(rejected_spans: i64, error_message: &str) -> Vec<u8> {
    ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans,
            error_message: error_message.into(),
        }),
    }
    .encode_to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attributes(kvs: &[KeyValue]) -> Vec<Value> {
    kvs.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.clone()) {
                Some(any_value::Value::StringValue(s)) => json!({"stringValue": s}),
                Some(any_value::Value::IntValue(i)) => json!({"intValue": i.to_string()}),
                other => panic!("unexpected attribute value {other:?}"),
            };
            json!({"key": kv.key, "value": value})
        })
        .collect()
}

/// Decodes a binary `ExportTraceServiceRequest` (panicking on anything malformed) into the
/// JSON encoding's shape: hex ids, decimal times, `parentSpanId` only on children.
pub fn decode(body: &[u8]) -> Value {
    let req = ExportTraceServiceRequest::decode(body).expect("a valid ExportTraceServiceRequest");
    let resource_spans: Vec<Value> = req
        .resource_spans
        .iter()
        .map(|rs| {
            let scope_spans: Vec<Value> = rs
                .scope_spans
                .iter()
                .map(|ss| {
                    let scope = ss.scope.clone().expect("a scope");
                    let spans: Vec<Value> = ss
                        .spans
                        .iter()
                        .map(|s| {
                            assert_eq!(s.trace_id.len(), 16, "trace ids are 16 raw bytes");
                            assert_eq!(s.span_id.len(), 8, "span ids are 8 raw bytes");
                            let status = s.status.clone().expect("a status");
                            let mut st = json!({"code": status.code});
                            if !status.message.is_empty() {
                                st["message"] = json!(status.message);
                            }
                            let mut span = json!({
                                "traceId": hex(&s.trace_id),
                                "spanId": hex(&s.span_id),
                                "name": s.name,
                                "kind": s.kind,
                                "startTimeUnixNano": s.start_time_unix_nano.to_string(),
                                "endTimeUnixNano": s.end_time_unix_nano.to_string(),
                                "attributes": attributes(&s.attributes),
                                "status": st,
                            });
                            if !s.parent_span_id.is_empty() {
                                assert_eq!(s.parent_span_id.len(), 8);
                                span["parentSpanId"] = json!(hex(&s.parent_span_id));
                            }
                            span
                        })
                        .collect();
                    json!({
                        "scope": {"name": scope.name, "version": scope.version},
                        "spans": spans,
                    })
                })
                .collect();
            json!({
                "resource": {"attributes": attributes(&rs.resource.clone().expect("a resource").attributes)},
                "scopeSpans": scope_spans,
            })
        })
        .collect();
    json!({"resourceSpans": resource_spans})
}
