//! OTLP in the binary protobuf encoding (`Content-Type: application/x-protobuf`): an
//! `ExportTraceServiceRequest` of [`OtlpSpan`]s written field by field, and the
//! `ExportTraceServiceResponse` (its `partial_success`) and `google.rpc.Status` (its message)
//! a collector answers, read. Field numbers are those of opentelemetry-proto:
//! `collector/trace/v1/trace_service.proto`, `trace/v1/trace.proto`,
//! `common/v1/common.proto`, `resource/v1/resource.proto`. Fields at their default (empty,
//! zero) are left out, as proto3 encoders do.

use super::otlp::{AttrValue, OtlpSpan, PartialSuccess, SCOPE, clean_message};

/// Protobuf wire types.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

/// Appends `v` as a base-128 varint.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_key(buf: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

/// A length-delimited field (`bytes`, `string` or an embedded message), even when empty.
fn put_len(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// A `string` or `bytes` field; left out when empty.
fn put_bytes(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_len(buf, field, bytes);
    }
}

/// A varint field (`uint32`, `int64`, an enum; a negative `int64` takes ten bytes); left out
/// when zero.
fn put_uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, VARINT);
        put_varint(buf, v);
    }
}

/// A `fixed64` field; left out when zero.
fn put_fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, I64);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// An embedded message written by `write`.
fn put_message(buf: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    write(&mut inner);
    put_len(buf, field, &inner);
}

/// `KeyValue { key = 1; AnyValue value = 2 }`, `AnyValue { string_value = 1; int_value = 3 }`.
fn put_attribute(buf: &mut Vec<u8>, field: u32, key: &str, value: &AttrValue) {
    put_message(buf, field, |kv| {
        put_bytes(kv, 1, key.as_bytes());
        put_message(kv, 2, |any| match value {
            AttrValue::Str(s) => put_len(any, 1, s.as_bytes()),
            AttrValue::Int(i) => {
                put_key(any, 3, VARINT);
                put_varint(any, *i as u64);
            }
        });
    });
}

/// `Span` (trace.proto): trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6,
/// start_time_unix_nano 7, end_time_unix_nano 8, attributes 9, status 15
/// (`Status { message = 2; code = 3 }`).
fn put_span(buf: &mut Vec<u8>, s: &OtlpSpan) {
    put_message(buf, 2, |m| {
        put_bytes(m, 1, &s.trace_id);
        put_bytes(m, 2, &s.span_id);
        if let Some(parent) = &s.parent_span_id {
            put_bytes(m, 4, parent);
        }
        put_bytes(m, 5, s.name.as_bytes());
        put_uint(m, 6, s.kind as u64);
        let (start, end) = s.unix_nanos();
        put_fixed64(m, 7, start);
        put_fixed64(m, 8, end);
        for (k, v) in &s.attributes {
            put_attribute(m, 9, k, v);
        }
        put_message(m, 15, |st| {
            put_bytes(st, 2, s.status_message.as_bytes());
            put_uint(st, 3, s.status as u64);
        });
    });
}

/// An `ExportTraceServiceRequest` in the binary encoding: `resource_spans` (1) with one
/// `ResourceSpans` { `resource` (1) with `service.name`, `scope_spans` (2) with one
/// `ScopeSpans` { `scope` (1) named [`SCOPE`], `spans` (2) } }.
pub fn encode_request(spans: &[OtlpSpan], service_name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    put_message(&mut out, 1, |rs| {
        put_message(rs, 1, |resource| {
            put_attribute(
                resource,
                1,
                "service.name",
                &AttrValue::Str(service_name.to_string()),
            );
        });
        put_message(rs, 2, |ss| {
            put_message(ss, 1, |scope| {
                put_bytes(scope, 1, SCOPE.as_bytes());
                put_bytes(scope, 2, env!("CARGO_PKG_VERSION").as_bytes());
            });
            for s in spans {
                put_span(ss, s);
            }
        });
    });
    out
}

/// One field read from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A varint.
    Varint(u64),
    /// Eight little-endian bytes.
    Fixed64(u64),
    /// Four little-endian bytes.
    Fixed32(u32),
    /// Length-delimited bytes.
    Bytes(&'a [u8]),
}

/// Reads the fields of one protobuf message in order; malformed input is an error, never a
/// panic, and nothing is allocated.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over an encoded message.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&b) = self.data.get(self.pos) else {
                return Err("the message ends inside a varint".into());
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("a varint is longer than ten bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or("a field runs past the end of the message")?;
        let got = &self.data[self.pos..end];
        self.pos = end;
        Ok(got)
    }

    /// The next field number and value, or `None` at the end.
    pub fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>, String> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3)
            .ok()
            .filter(|f| *f > 0)
            .ok_or("a field number is out of range")?;
        let value = match (key & 7) as u8 {
            VARINT => Field::Varint(self.varint()?),
            I64 => Field::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().expect("eight bytes"),
            )),
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| "a length is too large")?;
                Field::Bytes(self.take(n)?)
            }
            I32 => Field::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().expect("four bytes"),
            )),
            w => return Err(format!("wire type {w} is not supported")),
        };
        Ok(Some((field, value)))
    }
}

/// The `partial_success` (1) of a binary `ExportTraceServiceResponse`:
/// `ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }`.
/// An empty body is a full success; unknown fields are skipped.
pub fn decode_partial_success(body: &[u8]) -> Result<PartialSuccess, String> {
    let mut out = PartialSuccess::default();
    let mut r = Reader::new(body);
    while let Some((field, value)) = r.next_field()? {
        if let (1, Field::Bytes(inner)) = (field, value) {
            let mut p = Reader::new(inner);
            while let Some((f, v)) = p.next_field()? {
                match (f, v) {
                    (1, Field::Varint(n)) => out.rejected_spans = n as i64,
                    (2, Field::Bytes(m)) => {
                        out.error_message = clean_message(&String::from_utf8_lossy(m));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(out)
}

/// The `message` (2) of a binary `google.rpc.Status`, which OTLP/HTTP collectors answer
/// failures with; `None` when the body is not one.
pub fn status_message(body: &[u8]) -> Option<String> {
    let mut r = Reader::new(body);
    let mut message = None;
    while let Some((field, value)) = r.next_field().ok()? {
        if let (2, Field::Bytes(m)) = (field, value) {
            message = Some(clean_message(std::str::from_utf8(m).ok()?));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::super::otlp::{SpanKind, StatusCode};
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn varints_are_base_128_little_end_first() {
        for (v, bytes) in [
            (0u64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (150, &[0x96, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf, bytes, "{v}");
            let mut r = Reader::new(&buf);
            assert_eq!(r.varint().unwrap(), v);
        }
    }

    #[test]
    fn fields_carry_their_number_and_wire_type() {
        let mut buf = Vec::new();
        put_bytes(&mut buf, 1, b"testing");
        put_uint(&mut buf, 6, 3);
        put_fixed64(&mut buf, 7, 0x0102_0304_0506_0708);
        put_uint(&mut buf, 9, 0); // left out
        put_bytes(&mut buf, 10, b""); // left out
        assert_eq!(
            buf,
            [
                0x0a, 7, b't', b'e', b's', b't', b'i', b'n', b'g', // 1, LEN
                0x30, 3, // 6, VARINT
                0x39, 8, 7, 6, 5, 4, 3, 2, 1, // 7, I64, little end first
            ]
        );
        let mut r = Reader::new(&buf);
        assert_eq!(r.next_field().unwrap(), Some((1, Field::Bytes(b"testing"))));
        assert_eq!(r.next_field().unwrap(), Some((6, Field::Varint(3))));
        assert_eq!(
            r.next_field().unwrap(),
            Some((7, Field::Fixed64(0x0102_0304_0506_0708)))
        );
        assert_eq!(r.next_field().unwrap(), None);
    }

    #[test]
    fn a_negative_int_value_takes_ten_bytes() {
        let mut buf = Vec::new();
        put_attribute(&mut buf, 9, "n", &AttrValue::Int(-1));
        // KeyValue(9) { key(1) "n", value(2) { int_value(3) -1 } }
        assert_eq!(
            buf,
            [
                0x4a, 16, 0x0a, 1, b'n', 0x12, 11, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0x01
            ]
        );
    }

    #[test]
    fn a_request_nests_resource_scope_and_span_with_raw_ids() {
        let t = DateTime::<Utc>::from_timestamp(1, 0).unwrap();
        let span = OtlpSpan {
            trace_id: [0x11; 16],
            span_id: [0x22; 8],
            parent_span_id: Some([0x33; 8]),
            name: "sync".into(),
            kind: SpanKind::Internal,
            start: t,
            end: t + chrono::Duration::seconds(1),
            attributes: vec![("k".into(), AttrValue::Str("v".into()))],
            status: StatusCode::Ok,
            status_message: String::new(),
        };
        let body = encode_request(&[span], "spektate");
        let mut r = Reader::new(&body);
        let Some((1, Field::Bytes(rs))) = r.next_field().unwrap() else {
            panic!("no resource_spans")
        };
        assert_eq!(r.next_field().unwrap(), None);
        let mut rs = Reader::new(rs);
        let Some((1, Field::Bytes(_resource))) = rs.next_field().unwrap() else {
            panic!("no resource")
        };
        let Some((2, Field::Bytes(ss))) = rs.next_field().unwrap() else {
            panic!("no scope_spans")
        };
        let mut ss = Reader::new(ss);
        let Some((1, Field::Bytes(_scope))) = ss.next_field().unwrap() else {
            panic!("no scope")
        };
        let Some((2, Field::Bytes(span))) = ss.next_field().unwrap() else {
            panic!("no span")
        };
        let mut fields = Vec::new();
        let mut sp = Reader::new(span);
        while let Some(f) = sp.next_field().unwrap() {
            fields.push(f);
        }
        assert_eq!(fields[0], (1, Field::Bytes(&[0x11; 16])));
        assert_eq!(fields[1], (2, Field::Bytes(&[0x22; 8])));
        assert_eq!(fields[2], (4, Field::Bytes(&[0x33; 8])));
        assert_eq!(fields[3], (5, Field::Bytes(b"sync")));
        assert_eq!(fields[4], (6, Field::Varint(1)));
        assert_eq!(fields[5], (7, Field::Fixed64(1_000_000_000)));
        assert_eq!(fields[6], (8, Field::Fixed64(2_000_000_000)));
        assert_eq!(fields[7].0, 9);
        assert_eq!(fields[8], (15, Field::Bytes(&[0x18, 1])));
    }

    /// The first field numbered `n` of `message`, read as bytes.
    fn nested(message: &[u8], n: u32) -> &[u8] {
        let mut r = Reader::new(message);
        while let Some(f) = r.next_field().unwrap() {
            if let (m, Field::Bytes(b)) = f
                && m == n
            {
                return b;
            }
        }
        panic!("no field {n}")
    }

    #[test]
    fn a_span_stamped_ending_before_it_starts_ends_when_it_starts() {
        let t = DateTime::<Utc>::from_timestamp(10, 0).unwrap();
        let span = OtlpSpan {
            trace_id: [0x11; 16],
            span_id: [0x22; 8],
            parent_span_id: None,
            name: "sync".into(),
            kind: SpanKind::Internal,
            start: t,
            end: t - chrono::Duration::seconds(5),
            attributes: Vec::new(),
            status: StatusCode::Ok,
            status_message: String::new(),
        };
        let body = encode_request(&[span], "spektate");
        let span = nested(nested(nested(&body, 1), 2), 2);
        let mut times = Vec::new();
        let mut r = Reader::new(span);
        while let Some(f) = r.next_field().unwrap() {
            if let (7 | 8, Field::Fixed64(v)) = f {
                times.push(v);
            }
        }
        assert_eq!(times, [10_000_000_000, 10_000_000_000]);
    }

    #[test]
    fn a_partial_success_is_read_and_unknown_fields_skipped() {
        assert_eq!(
            decode_partial_success(b"").unwrap(),
            PartialSuccess::default()
        );
        let mut inner = Vec::new();
        put_uint(&mut inner, 1, 5);
        put_bytes(&mut inner, 2, b"5 spans too old");
        put_fixed64(&mut inner, 9, 42);
        let mut body = Vec::new();
        put_uint(&mut body, 7, 1);
        put_len(&mut body, 1, &inner);
        let p = decode_partial_success(&body).unwrap();
        assert_eq!(p.rejected_spans, 5);
        assert_eq!(p.error_message, "5 spans too old");
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        for bad in [
            &[0x0a, 5, b'a'][..], // length past the end
            &[0x08, 0xff],        // varint cut short
            &[0x0b],              // wire type 3
            &[0x00, 0x01],        // field number 0
            &[
                0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ] {
            assert!(decode_partial_success(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_status_message_is_read_from_a_google_rpc_status() {
        let mut body = Vec::new();
        put_uint(&mut body, 1, 3);
        put_bytes(&mut body, 2, b"bad span\r\nid");
        assert_eq!(status_message(&body).as_deref(), Some("bad span  id"));
        assert_eq!(status_message(b"\x0b"), None);
    }

    #[test]
    fn no_answer_bytes_make_the_readers_panic() {
        // Every truncation and single-byte change of a valid answer, then pseudo-random bytes.
        let mut inner = Vec::new();
        put_uint(&mut inner, 1, 300);
        put_bytes(&mut inner, 2, "rejected: naïve span".as_bytes());
        let mut valid = Vec::new();
        put_len(&mut valid, 1, &inner);
        put_bytes(&mut valid, 2, b"message");
        let mut inputs: Vec<Vec<u8>> = (0..valid.len()).map(|n| valid[..n].to_vec()).collect();
        for at in 0..valid.len() {
            for b in [0x00, 0x01, 0x07, 0x0a, 0x7f, 0x80, 0xff] {
                let mut v = valid.clone();
                v[at] = b;
                inputs.push(v);
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut v = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 24) {
                v.push((x >> (k % 8 * 8)) as u8 ^ k as u8);
            }
            inputs.push(v);
        }
        for input in &inputs {
            let _ = decode_partial_success(input);
            let _ = status_message(input);
            let _ = PartialSuccess::from_json(input);
        }
        assert_eq!(decode_partial_success(&valid).unwrap().rejected_spans, 300);
    }
}
