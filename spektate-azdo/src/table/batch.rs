//! Entity group transactions (`POST /$batch`): up to 100 writes to one partition, applied
//! together or not at all. The request is a `multipart/mixed` batch holding one change set,
//! each write an HTTP request of its own (here `PUT` without `If-Match`: Insert Or Replace
//! Entity); the answer is a `202` whose body holds a response per write, or, when the change
//! set failed, one response whose error message starts with the index of the write that
//! failed (`"0:The specified ..."`).

use serde_json::Value;
use spektate_core::model::record::new_row_key;

/// The most writes in one transaction.
pub const MAX_OPERATIONS: usize = 100;
/// The most bytes of one transaction's body the store sends: the service takes 4 MiB, and
/// the multipart framing of each write stays well under the margin left.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024 - 128 * 1024;

/// One `multipart/mixed` body under construction, with its boundaries.
pub struct Batch {
    batch: String,
    changeset: String,
    body: Vec<u8>,
    count: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    /// An empty batch with fresh boundaries.
    pub fn new() -> Self {
        let batch = format!("batch_{}-{}", new_row_key(), new_row_key());
        let changeset = format!("changeset_{}-{}", new_row_key(), new_row_key());
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n")
                .as_bytes(),
        );
        Batch {
            batch,
            changeset,
            body,
            count: 0,
        }
    }

    /// The body's content type, naming the batch boundary.
    pub fn content_type(&self) -> String {
        format!("multipart/mixed; boundary={}", self.batch)
    }

    /// What adding an entity of `json` bytes to `url` adds to the body, about.
    pub fn cost(url: &str, json: &[u8]) -> usize {
        json.len() + url.len() + 320
    }

    /// Adds an Insert Or Replace of `entity` (already serialized) at `url`, the entity's full
    /// address (`{endpoint}/{table}(PartitionKey='..',RowKey='..')`).
    pub fn upsert(&mut self, url: &str, entity: &[u8]) {
        self.part("PUT", url, None, Some(entity));
    }

    /// Adds an Update Entity of `entity` at `url`, applied only while its ETag is `if_match`
    /// (`*`: any).
    pub fn replace(&mut self, url: &str, entity: &[u8], if_match: &str) {
        self.part("PUT", url, Some(if_match), Some(entity));
    }

    /// Adds a Delete Entity at `url`, applied only while its ETag is `if_match` (`*`: any).
    pub fn delete(&mut self, url: &str, if_match: &str) {
        self.part("DELETE", url, Some(if_match), None);
    }

    /// One write of the change set: its request line, headers and body.
    fn part(&mut self, method: &str, url: &str, if_match: Option<&str>, entity: Option<&[u8]>) {
        self.count += 1;
        let if_match = if_match
            .map(|e| format!("If-Match: {e}\r\n"))
            .unwrap_or_default();
        let content_type = if entity.is_some() {
            "Content-Type: application/json\r\n"
        } else {
            ""
        };
        let head = format!(
            "--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             {method} {url} HTTP/1.1\r\n{content_type}{if_match}\
             Accept: application/json;odata=minimalmetadata\r\nPrefer: return-no-content\r\n\
             DataServiceVersion: 3.0;\r\nContent-ID: {n}\r\n\r\n",
            cs = self.changeset,
            n = self.count
        );
        self.body.extend_from_slice(head.as_bytes());
        if let Some(entity) = entity {
            self.body.extend_from_slice(entity);
        }
        self.body.extend_from_slice(b"\r\n");
    }

    /// The finished body.
    pub fn finish(mut self) -> Vec<u8> {
        self.body.extend_from_slice(
            format!("--{}--\r\n--{}--\r\n", self.changeset, self.batch).as_bytes(),
        );
        self.body
    }
}

/// An entity as one line of JSON: U+2028 and U+2029 escaped too (JSON allows them raw, but
/// a line-based reader of the batch, such as Azurite's, ends a line there).
pub fn entity_json(entity: &Value) -> Vec<u8> {
    let text = entity.to_string();
    if text.contains(['\u{2028}', '\u{2029}']) {
        text.replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
            .into_bytes()
    } else {
        text.into_bytes()
    }
}

/// Why a transaction was refused: the write it names (0-based, when the service says), its
/// status, the service's error code and the first line of its message (bounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Index of the write that failed.
    pub index: Option<usize>,
    /// Its HTTP status.
    pub status: u16,
    /// The service's error code (`InvalidInput`, `EntityTooLarge`, ...).
    pub code: String,
    /// The first line of the service's message, without the index.
    pub message: String,
}

/// The most characters of a service's message kept in an error.
const MESSAGE_CHARS: usize = 200;

/// Reads a transaction's `202` body: `Ok` when it holds `expected` successful responses,
/// else the first refusal (or a description of what the body lacks).
pub fn outcome(body: &[u8], expected: usize) -> Result<(), Refusal> {
    let text = String::from_utf8_lossy(body);
    let mut ok = 0usize;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("HTTP/1.1 ") else {
            continue;
        };
        let status: u16 = rest
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if (200..300).contains(&status) {
            ok += 1;
            continue;
        }
        // The error's JSON is the first line of the part that starts with `{`.
        let error = lines
            .by_ref()
            .take_while(|l| !l.starts_with("--"))
            .find(|l| l.trim_start().starts_with('{'))
            .and_then(|l| serde_json::from_str::<Value>(l.trim()).ok());
        let code = error
            .as_ref()
            .and_then(|v| v.pointer("/odata.error/code"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let value = error
            .as_ref()
            .and_then(|v| v.pointer("/odata.error/message/value"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let first = value.lines().next().unwrap_or_default();
        let (index, message) = match first.split_once(':') {
            Some((n, m)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                (n.parse().ok(), m)
            }
            _ => (None, first),
        };
        return Err(Refusal {
            index,
            status,
            code,
            message: message.chars().take(MESSAGE_CHARS).collect(),
        });
    }
    if ok == expected {
        Ok(())
    } else {
        Err(Refusal {
            index: None,
            status: 0,
            code: String::new(),
            message: format!("the answer holds {ok} successful responses of {expected}"),
        })
    }
}

/// The `ETag` header of each response in a transaction's `202` body, in order (`None` for a
/// response without one, such as a delete's).
pub fn etags(body: &[u8]) -> Vec<Option<String>> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("HTTP/1.1 ") {
            continue;
        }
        let etag = lines
            .by_ref()
            .take_while(|l| !l.trim().is_empty())
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("etag")
                    .then(|| value.trim().to_string())
            });
        out.push(etag);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_batch_is_one_change_set_of_puts() {
        let mut b = Batch::new();
        let url = "http://127.0.0.1:10002/devstoreaccount1/t(PartitionKey='p~answers',RowKey='ab')";
        b.upsert(url, br#"{"PartitionKey":"p~answers","RowKey":"ab"}"#);
        b.upsert(url.replace("ab", "cd").as_str(), b"{}");
        let content_type = b.content_type();
        let body = String::from_utf8(b.finish()).unwrap();
        let batch = content_type
            .strip_prefix("multipart/mixed; boundary=")
            .unwrap();
        assert!(batch.starts_with("batch_"));
        assert!(body.starts_with(&format!(
            "--{batch}\r\nContent-Type: multipart/mixed; boundary=changeset_"
        )));
        assert!(body.ends_with(&format!("--\r\n--{batch}--\r\n")));
        assert_eq!(body.matches("PUT http://").count(), 2);
        assert_eq!(
            body.matches("Content-Transfer-Encoding: binary\r\n")
                .count(),
            2
        );
        assert!(body.contains(&format!("PUT {url} HTTP/1.1\r\n")));
        assert!(
            !body.contains("If-Match"),
            "Insert Or Replace carries no If-Match"
        );
    }

    #[test]
    fn a_conditional_replace_and_delete_carry_their_etags() {
        let mut b = Batch::new();
        let url = "http://127.0.0.1:10002/devstoreaccount1/t(PartitionKey='p',RowKey='ab')";
        let gone = url.replace("ab", "cd");
        b.replace(
            url,
            br#"{"PartitionKey":"p","RowKey":"ab"}"#,
            "W/\"datetime'1'\"",
        );
        b.delete(&gone, "W/\"datetime'2'\"");
        let body = String::from_utf8(b.finish()).unwrap();
        let put = body.find(&format!("PUT {url} HTTP/1.1\r\n")).unwrap();
        let delete = body.find(&format!("DELETE {gone} HTTP/1.1\r\n")).unwrap();
        assert!(put < delete, "{body}");
        assert!(body[put..delete].contains("If-Match: W/\"datetime'1'\"\r\n"));
        assert!(body[put..delete].contains("Content-Type: application/json\r\n"));
        let tail = &body[delete..];
        assert!(tail.contains("If-Match: W/\"datetime'2'\"\r\n"), "{tail}");
        assert!(
            !tail.contains("application/json\r\n"),
            "a delete has no body: {tail}"
        );
        assert!(
            tail.contains("Content-ID: 2\r\n\r\n\r\n--changeset_"),
            "{tail}"
        );
    }

    #[test]
    fn line_separators_are_escaped() {
        let e = json!({"fact": "a\u{2028}b\u{2029}c\nd"});
        let text = String::from_utf8(entity_json(&e)).unwrap();
        assert_eq!(text, r#"{"fact":"a\u2028b\u2029c\nd"}"#);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), e);
    }

    /// The service's documented answers: every write `204`, or the change set refused with
    /// the failing write's index.
    #[test]
    fn answers_are_read() {
        let ok = "--batchresponse_7ab1c2d3\r\nContent-Type: multipart/mixed; boundary=changesetresponse_f2a9\r\n\r\n\
                  --changesetresponse_f2a9\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
                  HTTP/1.1 204 No Content\r\nContent-ID: 1\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\nDataServiceVersion: 1.0;\r\nETag: W/\"datetime'2026-11-30T04%3A05%3A06.1Z'\"\r\n\r\n\r\n\
                  --changesetresponse_f2a9\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
                  HTTP/1.1 204 No Content\r\nContent-ID: 2\r\n\r\n\r\n\
                  --changesetresponse_f2a9--\r\n--batchresponse_7ab1c2d3--\r\n";
        assert_eq!(outcome(ok.as_bytes(), 2), Ok(()));
        assert_eq!(
            etags(ok.as_bytes()),
            vec![
                Some("W/\"datetime'2026-11-30T04%3A05%3A06.1Z'\"".to_string()),
                None
            ]
        );
        let short = outcome(ok.as_bytes(), 3).unwrap_err();
        assert!(
            short.message.contains("2 successful responses of 3"),
            "{short:?}"
        );
        let refused = "--batchresponse_7ab1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_f2a9\r\n\r\n\
                       --changesetresponse_f2a9\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
                       HTTP/1.1 400 Bad Request\r\nContent-ID: 2\r\nDataServiceVersion: 3.0;\r\nContent-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8\r\n\r\n\
                       {\"odata.error\":{\"code\":\"PropertyValueTooLarge\",\"message\":{\"lang\":\"en-US\",\"value\":\"1:The property value exceeds the maximum allowed size (64KB).\\nRequestId:0c9a\\nTime:2026-11-30T04:05:06.1Z\"}}}\r\n\
                       --changesetresponse_f2a9--\r\n--batchresponse_7ab1--\r\n";
        assert_eq!(
            outcome(refused.as_bytes(), 2),
            Err(Refusal {
                index: Some(1),
                status: 400,
                code: "PropertyValueTooLarge".into(),
                message: "The property value exceeds the maximum allowed size (64KB).".into()
            })
        );
        let long = refused.replace("The property", &"x".repeat(5000));
        assert!(outcome(long.as_bytes(), 2).unwrap_err().message.len() <= MESSAGE_CHARS);
        assert!(outcome(b"\xff\xfe garbage", 1).is_err());
    }
}
