//! Sending write requests to a Spektate server (`spektate record --server`): over the shared
//! HTTP helper, so a request is retried with backoff on transport errors, 429 and 5xx
//! (honoring `Retry-After`), each retry carrying the same `Idempotency-Key` so the server
//! writes once.

use std::time::Duration;

use serde::Deserialize;

use super::{Ingest, Naming, Written};
use crate::error::{Error, Result};
use crate::http::{Auth, HttpClient, Method, Policy, Request, Secret};
use crate::model::url::has_credentials;
use crate::url_encode;

/// The header naming a write, so a retried one is written once.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// How a pipeline's write is sent unless told otherwise: 30 s an attempt, six retries
/// (about 15 s of backoff in all, longer when the server asks with `Retry-After`).
pub fn default_policy() -> Policy {
    Policy {
        timeout: Duration::from_secs(30),
        max_retries: 6,
        base_delay: Duration::from_millis(250),
        max_delay: Duration::from_secs(30),
        concurrency: 4,
        max_body_bytes: 1 << 20,
    }
}

/// A client of one Spektate server's write API.
#[derive(Debug, Clone)]
pub struct IngestClient {
    http: HttpClient,
    base: String,
    has_token: bool,
}

/// The error body the server answers with.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl IngestClient {
    /// A client of the server at `server` (`https://spektate.example.com`, or a path it is
    /// mounted under), sending `token` as a bearer token, with [`default_policy`].
    pub fn new(server: &str, token: Option<Secret>) -> Result<Self> {
        Self::with_policy(server, token, default_policy())
    }

    /// A client with an explicit policy.
    pub fn with_policy(server: &str, token: Option<Secret>, policy: Policy) -> Result<Self> {
        let base = server.trim().trim_end_matches('/');
        if has_credentials(base) {
            return Err(Error::invalid(
                "--server",
                "holds user info; give the token in SPEKTATE_TOKEN, never in the URL",
            ));
        }
        let lower = base.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://"))
            || base.contains(['?', '#'])
        {
            // Without its query or fragment, which may hold a key.
            let shown = &base[..base.find(['?', '#']).unwrap_or(base.len())];
            return Err(Error::invalid(
                "--server",
                format!("'{shown}' is not a server URL such as https://spektate.example.com"),
            ));
        }
        let has_token = token.is_some();
        let auth = token.map_or(Auth::None, Auth::Bearer);
        let http = HttpClient::with_policy(format!("spektate server {base}"), auth, policy)?;
        Ok(IngestClient {
            http,
            base: base.to_string(),
            has_token,
        })
    }

    /// The server's URL, as given (without a trailing `/`).
    pub fn server(&self) -> &str {
        &self.base
    }

    /// Sends `ingest` to `partition`; the server applies the linking rules and answers with
    /// the id written. An error names the flag (`--image-tag`) as a local record would.
    pub async fn send(&self, partition: &str, ingest: &Ingest) -> Result<Written> {
        let kind = ingest.kind();
        let url = format!(
            "{}{}?partition={}",
            self.base,
            kind.path(),
            url_encode::query_value(partition)
        );
        let operation = format!("record {}", kind.name());
        let request = Request::new(Method::POST, url, &operation, partition)
            .header(IDEMPOTENCY_KEY, &new_key())
            .json(&ingest.to_json())
            .pass(&[
                400, 401, 403, 404, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504,
            ]);
        let response = self.http.send(request).await?;
        if (200..300).contains(&response.status) {
            return checked(response.json::<Written>()?, partition, self.http.provider());
        }
        // What the server (or a proxy before it) says is printed in a pipeline's log: one line,
        // cut, so it cannot write a runner's commands (`##vso[...]`, `::set-output`) or flood it.
        let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
        let message = if body.error.is_empty() {
            format!("HTTP {}", response.status)
        } else {
            shown(&body.error, 400)
        };
        Err(match (response.status, body.kind.as_deref()) {
            (400 | 422, _) if body.field.is_some() => {
                let field = shown(&body.field.unwrap_or_default(), 80);
                let e = Error::Invalid {
                    field,
                    reason: body.reason.map_or(message, |r| shown(&r, 400)),
                };
                kind.rename(e, Naming::Flags)
            }
            (404, Some("NotFoundError")) => Error::NotFound {
                what: message
                    .strip_prefix("not found: ")
                    .unwrap_or(&message)
                    .to_string(),
            },
            (401 | 403, _) => Error::Provider {
                provider: self.http.provider().to_string(),
                operation,
                object: format!("partition {partition}"),
                message: if self.has_token {
                    format!(
                        "the token was refused (HTTP {}): {message}",
                        response.status
                    )
                } else {
                    format!(
                        "no token was sent (HTTP {}): set SPEKTATE_TOKEN to a write token for the partition (spektate token create)",
                        response.status
                    )
                },
                auth: true,
            },
            (status, _) => Error::provider(
                self.http.provider(),
                operation,
                format!("partition {partition}"),
                format!("HTTP {status}: {message}"),
            ),
        })
    }
}

/// `text` as one line of at most `max` characters.
fn shown(text: &str, max: usize) -> String {
    crate::text::shown(text, max)
}

/// What the server answered it wrote, when it is an id a pipeline can print: one line, not
/// empty, at most a record value long, in the partition asked for.
fn checked(written: Written, partition: &str, server: &str) -> Result<Written> {
    let id_ok = !written.id.is_empty()
        && written.id.len() <= crate::model::record::MAX_VALUE_LEN
        && !written.id.chars().any(char::is_control);
    // The server trims the partition, and writes an empty one to its default.
    let asked = partition.trim();
    if id_ok && (asked.is_empty() || written.partition == asked) {
        return Ok(written);
    }
    Err(Error::provider(
        server,
        "read answer",
        format!("partition {partition}"),
        format!(
            "the server answered id '{}' in partition '{}', which is not what was written",
            shown(&written.id, 80),
            shown(&written.partition, 80)
        ),
    ))
}

/// A new idempotency key: 128 random bits as hex.
fn new_key() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: a key from the clock still tells this write from others.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Kind;
    use serde_json::json;
    use wiremock::matchers::{header_exists, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn fast() -> Policy {
        Policy {
            base_delay: Duration::from_millis(5),
            ..default_policy()
        }
    }

    fn image() -> Ingest {
        Ingest::from_json(
            Kind::Image,
            &json!({"p1": "1", "imageTag": "t", "commitId": "c", "service": "s"}),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_retried_write_carries_one_idempotency_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/records/image"))
            .and(query_param("partition", "fab rikam"))
            .and(header_exists("idempotency-key"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"id": "0123456789ab", "partition": "fab rikam", "kind": "image"}),
            ))
            .mount(&server)
            .await;
        let client =
            IngestClient::with_policy(&server.uri(), Some(Secret::new("spk_x")), fast()).unwrap();
        let written = client.send("fab rikam", &image()).await.unwrap();
        assert_eq!(written.id, "0123456789ab");
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 3);
        let keys: Vec<_> = requests
            .iter()
            .map(|r| r.headers["idempotency-key"].clone())
            .collect();
        assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
        assert_eq!(requests[0].headers["authorization"], "Bearer spk_x");
        let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert_eq!(body, image().to_json());
    }

    /// A server on 127.0.0.1 that answers its connections in turn: `None` reads the request
    /// and closes the connection unanswered (a transport error), `Some` sends that response.
    /// It hands back the `Idempotency-Key` of each request it read.
    fn flaky_server(
        answers: Vec<Option<String>>,
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = std::thread::spawn(move || {
            let mut keys = Vec::new();
            for answer in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end().to_ascii_lowercase();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if let Some(v) = line.strip_prefix("idempotency-key:") {
                        keys.push(v.trim().to_string());
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                if let Some(response) = answer {
                    reader.get_mut().write_all(response.as_bytes()).unwrap();
                }
            }
            keys
        });
        (url, served)
    }

    fn response(status: &str, headers: &str, body: &str) -> Option<String> {
        Some(format!(
            "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    #[tokio::test]
    async fn a_dropped_connection_and_a_429_are_retried_with_one_idempotency_key() {
        let written = r#"{"id":"0123456789ab","partition":"fabrikam","kind":"image"}"#;
        let (url, served) = flaky_server(vec![
            None,
            response("429 Too Many Requests", "retry-after: 0\r\n", ""),
            response("502 Bad Gateway", "", ""),
            response("200 OK", "content-type: application/json\r\n", written),
        ]);
        let client = IngestClient::with_policy(&url, Some(Secret::new("spk_x")), fast()).unwrap();
        let out = client.send("fabrikam", &image()).await.unwrap();
        assert_eq!(out.id, "0123456789ab");
        let keys = served.join().unwrap();
        assert_eq!(keys.len(), 4, "one request per answer: {keys:?}");
        assert!(
            keys.iter().all(|k| *k == keys[0] && k.len() >= 16),
            "{keys:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_field_is_named_by_its_flag() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid imageTag: 'x...' is 3000 characters long",
                "kind": "ConfigError", "field": "imageTag", "reason": "'x...' is 3000 characters long"
            })))
            .mount(&server)
            .await;
        let client = IngestClient::with_policy(&server.uri(), None, fast()).unwrap();
        let e = client.send("p", &image()).await.unwrap_err().to_string();
        assert_eq!(e, "invalid --image-tag: 'x...' is 3000 characters long");
    }

    #[tokio::test]
    async fn what_the_server_answers_is_printed_on_one_line_cut() {
        let server = MockServer::start().await;
        let command = "\n##vso[task.setvariable variable=DEPLOY_TARGET]prod\n";
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": format!("refused{command}{}", "y".repeat(5000)),
                "kind": "ConfigError",
                "field": format!("imageTag{command}"),
                "reason": format!("bad{command}{}", "z".repeat(5000)),
            })))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let client = IngestClient::with_policy(&server.uri(), None, fast()).unwrap();
        let e = client.send("p", &image()).await.unwrap_err().to_string();
        assert!(!e.contains('\n') && e.len() < 600, "{e}");
        assert!(e.contains("bad"), "{e}");

        // A written id or partition that is not what was written is refused, not printed.
        for (id, partition) in [
            (format!("a{command}"), "p".to_string()),
            (String::new(), "p".to_string()),
            ("x".repeat(2000), "p".to_string()),
            ("frontend-1001".to_string(), "other-team".to_string()),
        ] {
            server.reset().await;
            Mock::given(method("POST"))
                .respond_with(
                    ResponseTemplate::new(201)
                        .set_body_json(json!({"id": id, "partition": partition, "kind": "image"})),
                )
                .mount(&server)
                .await;
            let e = client.send("p", &image()).await.unwrap_err().to_string();
            assert!(
                e.contains("not what was written") && !e.contains('\n'),
                "{e}"
            );
            assert!(e.len() < 400, "{e}");
        }
        // The server trims the partition it was asked for.
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(
                    json!({"id": "frontend-1001", "partition": "p", "kind": "image"}),
                ),
            )
            .mount(&server)
            .await;
        let written = client.send(" p ", &image()).await.unwrap();
        assert_eq!(written.id, "frontend-1001");
    }

    #[tokio::test]
    async fn a_refused_token_is_an_auth_error_without_the_token() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "error": "this token may not write to partition other", "kind": "AuthError"
            })))
            .mount(&server)
            .await;
        let client =
            IngestClient::with_policy(&server.uri(), Some(Secret::new("spk_secret")), fast())
                .unwrap();
        let e = client.send("other", &image()).await.unwrap_err();
        assert!(matches!(e, Error::Provider { auth: true, .. }), "{e}");
        let shown = e.to_string();
        assert!(
            shown.contains("HTTP 403") && shown.contains("may not write"),
            "{shown}"
        );
        assert!(!shown.contains("spk_secret"), "{shown}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "a refusal is not retried"
        );
    }

    #[test]
    fn server_urls_are_checked() {
        for bad in [
            "spektate.example.com",
            "ftp://x",
            "https://u:p@x",
            "https://x/?a=1",
        ] {
            assert!(IngestClient::new(bad, None).is_err(), "{bad}");
        }
        // No form of the URL shows what it carries.
        for (bad, secret) in [
            ("ci:spk_0123@spektate.example.com", "spk_0123"),
            ("https://u:spk_0123@x?y", "spk_0123"),
            ("https://x.example.com/?code=spk_0123", "spk_0123"),
        ] {
            let Err(e) = IngestClient::new(bad, None) else {
                panic!("{bad} is refused");
            };
            assert!(!e.to_string().contains(secret), "{e}");
        }
        let c = IngestClient::new(" https://x.example.com/spektate/ ", None).unwrap();
        assert_eq!(c.server(), "https://x.example.com/spektate");
    }
}
