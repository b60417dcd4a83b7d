//! OpenTelemetry export: each finished deployment sent once as a trace
//! ([`spektate_core::insights::trace`]) to an OTLP/HTTP collector, and, when asked, the
//! server's own refreshes with the provider requests made during them
//! ([`spektate_core::self_trace`]); in the binary protobuf encoding (the default) or in
//! JSON, through the core's shared HTTP helper (retries with backoff and `Retry-After`,
//! timeouts, a bounded response). Only a batch still refused with 429, 502, 503 or 504 is
//! sent again later, as OTLP/HTTP asks.
//!
//! Settings follow the OpenTelemetry exporter variables, the traces' own winning over the
//! general ones: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the URL traces are sent to, as it is),
//! else `OTEL_EXPORTER_OTLP_ENDPOINT` (the collector's base URL; traces go to `/v1/traces`
//! under it); `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (`http/protobuf`, the default, or `http/json`; `grpc` is refused); and
//! `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,...`,
//! values percent-decoded, kept secret).

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use spektate_core::http::{
    Auth, Connection, HttpClient, Method, Policy, Request, Response, Secret,
};
use spektate_core::insights::otlp::{OtlpSpan, PartialSuccess, clean_message, json_request};
use spektate_core::insights::otlp_proto::{decode_partial_success, encode_request, status_message};
use spektate_core::insights::trace::{SYNC_WAIT, deployment_spans, is_finished};
use spektate_core::model::url::shown_parts;
use spektate_core::{Deployment, Tracker, self_trace};
use tokio::task::JoinHandle;

use crate::Error;

/// The most deployments in one export request.
pub const BATCH: usize = 100;
/// The most deployment ids remembered as exported; the oldest are forgotten first.
pub const REMEMBERED: usize = 200_000;
/// The most headers `OTEL_EXPORTER_OTLP_HEADERS` may set.
pub const MAX_HEADERS: usize = 32;
/// The most self-trace spans in one export request.
pub const SELF_TRACE_BATCH: usize = 2_000;

/// How export requests are encoded (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf`: the binary protobuf encoding, `application/x-protobuf` (the default,
    /// as the OpenTelemetry exporter specification asks).
    Protobuf,
    /// `http/json`: the JSON protobuf encoding, `application/json`.
    Json,
}

impl Protocol {
    /// The protocol named by `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` (read by `var`); `http/protobuf` when neither is set.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            let Some(value) = var(name) else { continue };
            return match value.trim() {
                "" => continue,
                "http/protobuf" => Ok(Protocol::Protobuf),
                "http/json" => Ok(Protocol::Json),
                "grpc" => Err(Error::invalid(
                    name,
                    "'grpc' is not spoken: Spektate exports over OTLP/HTTP; set http/protobuf (the default) or http/json, and give the collector's OTLP/HTTP endpoint (port 4318)",
                )),
                other => Err(Error::invalid(
                    name,
                    format!(
                        "'{}' is not one of http/protobuf, http/json",
                        clean_message(other)
                    ),
                )),
            };
        }
        Ok(Protocol::Protobuf)
    }

    /// The name the variables use.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Protobuf => "http/protobuf",
            Protocol::Json => "http/json",
        }
    }

    /// The request body of `spans` and its content type.
    pub fn encode(self, spans: &[OtlpSpan], service_name: &str) -> (Vec<u8>, &'static str) {
        match self {
            Protocol::Protobuf => (
                encode_request(spans, service_name),
                "application/x-protobuf",
            ),
            Protocol::Json => (
                json_request(spans, service_name).to_string().into_bytes(),
                "application/json",
            ),
        }
    }
}

/// Where and how traces are exported.
#[derive(Clone)]
pub struct OtlpSettings {
    /// The traces URL (`<endpoint>/v1/traces`).
    pub url: String,
    /// Headers sent with every export (an API key, a tenant); never shown.
    pub headers: Vec<(String, Secret)>,
    /// How often the trackers' snapshots are looked at.
    pub every: Duration,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// How requests are encoded.
    pub protocol: Protocol,
    /// Whether the server's refreshes and their provider requests are exported too.
    pub self_traces: bool,
}

impl fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OtlpSettings")
            .field("url", &shown_parts(&self.url).0)
            .field("protocol", &self.protocol)
            .field("self_traces", &self.self_traces)
            .field("headers", &names)
            .finish()
    }
}

impl OtlpSettings {
    /// The settings from `--otlp-endpoint` (`endpoint`: the collector's base URL) and the
    /// `OTEL_EXPORTER_OTLP_*` variables `var` reads; without the flag, traces go to
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else under `OTEL_EXPORTER_OTLP_ENDPOINT`.
    /// `None` when none is set.
    pub fn new(
        endpoint: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, Error> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let (source, given, url) = if let Some(e) = endpoint.filter(|e| !e.trim().is_empty()) {
            ("--otlp-endpoint", e.to_string(), traces_url(e))
        } else if let Some(e) = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            let url = e.trim().to_string();
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", e, url)
        } else if let Some(e) = set("OTEL_EXPORTER_OTLP_ENDPOINT") {
            let url = traces_url(&e);
            ("OTEL_EXPORTER_OTLP_ENDPOINT", e, url)
        } else {
            return Ok(None);
        };
        let given = given.trim();
        // Errors show the value's scheme, host and path only, never its user info or query.
        let (shown, left_out) = shown_parts(given);
        let notes: Vec<&str> = left_out.into_iter().filter(|p| *p != "user info").collect();
        let shown = match notes.as_slice() {
            [] => format!("'{shown}'"),
            parts => format!("'{shown}' (its {} left out)", parts.join(" and ")),
        };
        if spektate_core::model::url::has_credentials(given) {
            return Err(Error::invalid(
                source,
                format!(
                    "{shown} has user info in it; give credentials in OTEL_EXPORTER_OTLP_HEADERS"
                ),
            ));
        }
        if given.contains('@') {
            // Not a URL this can strip: its user info is not shown at all.
            return Err(Error::invalid(
                source,
                "the value has user info in it or is not an http(s) URL; give credentials in OTEL_EXPORTER_OTLP_HEADERS",
            ));
        }
        if !is_http_url(given) {
            return Err(Error::invalid(
                source,
                format!("{shown} is not an http(s) URL"),
            ));
        }
        let protocol = Protocol::from_env(&var)?;
        let headers = match set("OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
            Some(raw) => parse_headers("OTEL_EXPORTER_OTLP_TRACES_HEADERS", &raw)?,
            None => match var("OTEL_EXPORTER_OTLP_HEADERS") {
                Some(raw) => parse_headers("OTEL_EXPORTER_OTLP_HEADERS", &raw)?,
                None => Vec::new(),
            },
        };
        Ok(Some(OtlpSettings {
            url,
            headers,
            every: Duration::from_secs(5),
            service_name: "spektate".into(),
            protocol,
            self_traces: false,
        }))
    }

    /// Where traces go and how, as the server's startup line shows it: the traces URL's
    /// scheme, host and path, then the protocol (`https://collector.example/v1/traces
    /// (http/protobuf)`). A query (an API key may ride there) or fragment is never shown, only
    /// said to be left out.
    pub fn describe(&self) -> String {
        let (shown, left_out) = shown_parts(&self.url);
        match left_out.as_slice() {
            [] => format!("{shown} ({})", self.protocol.name()),
            parts => format!(
                "{shown} ({}; its {} left out here)",
                self.protocol.name(),
                parts.join(" and ")
            ),
        }
    }

    /// Exports the server's own refreshes and their provider requests too (or not).
    pub fn self_traces(mut self, on: bool) -> Self {
        self.self_traces = on;
        self
    }

    /// Looks at the snapshots every `every` instead of every 5 s.
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }
}

/// `key1=value1,key2=value2` (W3C baggage style, values percent-encoded) from `variable`; an
/// entry without `=` or with a name that is not a header name is an error naming the name
/// only.
fn parse_headers(variable: &str, raw: &str) -> Result<Vec<(String, Secret)>, Error> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, value)) = entry.split_once('=') else {
            return Err(Error::invalid(
                variable,
                "an entry has no '='; give key=value pairs separated by commas",
            ));
        };
        let name = name.trim();
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Error::invalid(
                variable,
                format!("'{name}' is not a header name"),
            ));
        }
        // Percent-encoded as W3C Baggage values are: `+` and `&` are themselves.
        let value = percent_encoding::percent_decode_str(value.trim())
            .decode_utf8()
            .map(|v| v.into_owned())
            .map_err(|_| {
                Error::invalid(
                    variable,
                    format!("the value of '{name}' is not UTF-8 once percent-decoded"),
                )
            })?;
        if axum::http::HeaderValue::from_str(&value).is_err() {
            return Err(Error::invalid(
                variable,
                format!("the value of '{name}' is not a header value"),
            ));
        }
        out.push((name.to_string(), Secret::new(value)));
        if out.len() > MAX_HEADERS {
            return Err(Error::invalid(
                variable,
                format!("sets more than {MAX_HEADERS} headers"),
            ));
        }
    }
    Ok(out)
}

/// The deployment ids already exported, bounded: the oldest are forgotten first.
#[derive(Default)]
struct Sent {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Sent {
    fn insert(&mut self, id: String) {
        if self.ids.insert(id.clone()) {
            self.order.push_back(id);
            while self.order.len() > REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.ids.remove(&old);
                }
            }
        }
    }
}

/// The key of a deployment among every partition's.
fn key(d: &Deployment) -> String {
    format!("{}/{}", d.partition(), d.id())
}

/// Exports the finished deployments of `trackers` (each refreshed elsewhere, by the
/// dashboard) until the returned task is aborted, and with [`OtlpSettings::self_traces`]
/// the refreshes [`self_trace`] keeps meanwhile. Deployments that had finished more than
/// [`SYNC_WAIT`] before it started are taken as exported by an earlier run; should one be
/// sent again, its ids are the same, so it is the same trace.
pub fn start(settings: OtlpSettings, trackers: Vec<Tracker>) -> Result<JoinHandle<()>, Error> {
    // The headers may hold the collector's key, and a redirect would carry them to any host
    // the answer names: a 3xx comes back as an error, and the spans are sent again later.
    let mut client = HttpClient::with_connection(
        format!("otlp {}", host(&settings.url)),
        Auth::None,
        Policy {
            max_body_bytes: 1 << 20,
            ..Policy::default()
        },
        Connection {
            follow_redirects: false,
            ..Connection::default()
        },
    )
    .map_err(|e| Error::invalid("--otlp-endpoint", e))?;
    for (name, value) in &settings.headers {
        client = client.default_header(name, value.expose());
    }
    let started = Utc::now();
    // Self-tracing stays on while the task runs (the guard is dropped when it is aborted).
    let tracing_self = settings.self_traces.then(self_trace::enable);
    Ok(tokio::spawn(async move {
        let _tracing_self = tracing_self;
        let mut sent = Sent::default();
        let mut seen: Vec<Option<DateTime<Utc>>> = vec![None; trackers.len()];
        let mut dropped_seen = 0u64;
        loop {
            for (i, tracker) in trackers.iter().enumerate() {
                let snapshot = tracker.snapshot();
                if snapshot.refreshed_at.is_none() || snapshot.refreshed_at == seen[i] {
                    continue;
                }
                let now = Utc::now();
                let due: Vec<&Deployment> = snapshot
                    .deployments
                    .iter()
                    .filter(|d| is_finished(d, now) && !sent.ids.contains(&key(d)))
                    .collect();
                let mut failed = false;
                for batch in due.chunks(BATCH) {
                    let (old, new): (Vec<&Deployment>, Vec<&Deployment>) =
                        batch.iter().partition(|d| {
                            seen[i].is_none() && finished_before(d, started - SYNC_WAIT)
                        });
                    for d in old {
                        sent.insert(key(d));
                    }
                    if new.is_empty() {
                        continue;
                    }
                    let spans = deployment_spans(new.iter().copied());
                    let what = format!("{} deployments", new.len());
                    match export(&client, &settings, &spans, &what).await {
                        Ok(()) => {
                            for d in new {
                                sent.insert(key(d));
                            }
                        }
                        Err(e) => {
                            tracing::warn!("exporting {} traces failed: {e}", new.len());
                            failed = true;
                            break;
                        }
                    }
                }
                // A failed export is tried again at the next look.
                if !failed {
                    seen[i] = snapshot.refreshed_at;
                }
            }
            if settings.self_traces {
                export_self_traces(&client, &settings).await;
                let dropped = self_trace::dropped();
                if dropped > dropped_seen {
                    tracing::warn!(
                        "{} self-trace spans were dropped: the refreshes made them faster than they could be exported",
                        dropped - dropped_seen
                    );
                    dropped_seen = dropped;
                }
            }
            tokio::time::sleep(settings.every).await;
        }
    }))
}

/// Exports the refreshes waiting, in batches of at most [`SELF_TRACE_BATCH`] spans. A batch
/// the collector cannot take now is dropped (logged): self-traces are not kept for later.
async fn export_self_traces(client: &HttpClient, settings: &OtlpSettings) {
    loop {
        let refreshes = self_trace::drain(SELF_TRACE_BATCH);
        if refreshes.is_empty() {
            return;
        }
        let spans: Vec<OtlpSpan> = refreshes.iter().flat_map(|r| r.spans()).collect();
        let what = format!("{} refreshes", refreshes.len());
        if let Err(e) = export(client, settings, &spans, &what).await {
            tracing::warn!(
                "exporting {} self-trace spans failed, dropped: {e}",
                spans.len()
            );
            return;
        }
    }
}

/// Whether `d`'s last known moment is before `t`.
fn finished_before(d: &Deployment, t: DateTime<Utc>) -> bool {
    spektate_core::insights::Journey::of(d)
        .end()
        .unwrap_or(d.last_updated)
        < t
}

fn host(url: &str) -> String {
    url.parse::<axum::http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_string))
        .unwrap_or_default()
}

/// The traces URL under a collector's base URL (`--otlp-endpoint`,
/// `OTEL_EXPORTER_OTLP_ENDPOINT`), as the OTLP exporter specification builds it: `v1/traces`
/// appended to the base's path, after one `/`; a query stays after the path
/// (`https://c.example/otlp?k=v` gives `https://c.example/otlp/v1/traces?k=v`); a fragment,
/// never sent, is dropped.
fn traces_url(base: &str) -> String {
    let base = base.trim();
    let base = base.split('#').next().unwrap_or_default();
    let (path, query) = match base.split_once('?') {
        Some((path, query)) => (path, query),
        None => (base, ""),
    };
    let url = format!("{}/v1/traces", path.trim_end_matches('/'));
    if query.is_empty() {
        url
    } else {
        format!("{url}?{query}")
    }
}

/// An `http://` or `https://` URL with a host and no user info.
fn is_http_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return false;
    };
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|h| !h.is_empty())
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
}

/// The statuses OTLP/HTTP says never to retry (all but 429, 502, 503 and 504); the helper
/// hands them back instead of failing, and the export counts as done.
fn not_retryable() -> Vec<u16> {
    (400..600)
        .filter(|s| !matches!(s, 429 | 502 | 503 | 504))
        .collect()
}

/// Sends `spans` in one request. `Ok` when the collector took them, took part of them (a
/// partial success, logged) or refused them for good (logged); an error when it could not
/// be reached or stayed unavailable through the helper's retries, so they are sent again.
async fn export(
    client: &HttpClient,
    settings: &OtlpSettings,
    spans: &[OtlpSpan],
    what: &str,
) -> spektate_core::Result<()> {
    let (body, content_type) = settings.protocol.encode(spans, &settings.service_name);
    let request = Request::new(Method::POST, &settings.url, "export traces", what)
        .body(body)
        .header("content-type", content_type)
        .pass(&not_retryable());
    let response = client.send(request).await?;
    if !(200..300).contains(&response.status) {
        // Bad data, too large, refused: the collector will never take it, and OTLP forbids
        // asking again (specification, "Failures"), so it counts as sent.
        tracing::warn!(
            "the collector refused {} spans ({what}) with HTTP {}: {}",
            spans.len(),
            response.status,
            failure_message(&response)
        );
        return Ok(());
    }
    match partial_success(&response, settings.protocol) {
        Ok(p) if p.is_partial() => tracing::warn!(
            "the collector rejected {} of {} spans ({what}): {}",
            p.rejected_spans,
            spans.len(),
            p.error_message
        ),
        Ok(_) => {}
        Err(e) => tracing::debug!("the collector's answer was not an export response: {e}"),
    }
    Ok(())
}

/// Whether the answer is JSON: by its content type, else by the request's protocol.
fn answered_json(response: &Response, protocol: Protocol) -> bool {
    match response.header("content-type") {
        Some(t) if t.starts_with("application/json") => true,
        Some(t) if t.starts_with("application/x-protobuf") => false,
        _ => protocol == Protocol::Json,
    }
}

/// The `partial_success` of a 2xx answer.
fn partial_success(response: &Response, protocol: Protocol) -> Result<PartialSuccess, String> {
    if answered_json(response, protocol) {
        PartialSuccess::from_json(&response.body)
    } else {
        decode_partial_success(&response.body)
    }
}

/// What a refusing collector said: the `google.rpc.Status` message, a JSON `message`, or
/// the start of the text; cleaned of control characters.
fn failure_message(response: &Response) -> String {
    let json = response
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"));
    let message = if json {
        serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(clean_message))
    } else {
        status_message(&response.body).filter(|m| !m.is_empty())
    };
    message.unwrap_or_else(|| clean_message(&response.text()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn settings_from_the_endpoint_and_the_otel_variables() {
        let s = OtlpSettings::new(
            Some("http://collector:4318/"),
            env(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                (
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    "api-key=s3cr%3Dt, x-tenant = fabrikam",
                ),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.url, "http://collector:4318/v1/traces");
        let h: Vec<(&str, &str)> = s
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.expose()))
            .collect();
        assert_eq!(h, [("api-key", "s3cr=t"), ("x-tenant", "fabrikam")]);
        // A base64 credential keeps its `+` and `=`, a value its `&`.
        let s = OtlpSettings::new(
            Some("http://collector:4318/"),
            env(&[(
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Basic dXM+ZXI6cA==,x-scope=a&b%20c",
            )]),
        )
        .unwrap()
        .unwrap();
        let h: Vec<(&str, &str)> = s
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.expose()))
            .collect();
        assert_eq!(
            h,
            [
                ("Authorization", "Basic dXM+ZXI6cA=="),
                ("x-scope", "a&b c")
            ]
        );
        assert!(!format!("{s:?}").contains("s3cr"), "{s:?}");
        assert!(OtlpSettings::new(None, env(&[])).unwrap().is_none());
    }

    #[test]
    fn the_traces_endpoint_is_used_as_it_is_and_the_traces_headers_win() {
        let settings = |flag: Option<&str>, pairs: &[(&str, &str)]| {
            OtlpSettings::new(flag, env(pairs)).unwrap().unwrap()
        };
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        let traces = (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            " https://traces.example/api/v2/otlp ",
        );
        assert_eq!(
            settings(None, &[base]).url,
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            settings(None, &[base, traces]).url,
            "https://traces.example/api/v2/otlp",
            "the traces URL, not a base"
        );
        assert_eq!(
            settings(Some("http://flag:4318"), &[base, traces]).url,
            "http://flag:4318/v1/traces",
            "the flag wins"
        );
        assert_eq!(
            settings(None, &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", " "), base]).url,
            "http://collector:4318/v1/traces",
            "an empty variable is unset"
        );
        let names = |s: OtlpSettings| {
            s.headers
                .iter()
                .map(|(n, v)| format!("{n}={}", v.expose()))
                .collect::<Vec<_>>()
        };
        let general = ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=general");
        assert_eq!(names(settings(None, &[base, general])), ["api-key=general"]);
        assert_eq!(
            names(settings(
                None,
                &[
                    base,
                    general,
                    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-key=traces")
                ]
            )),
            ["x-key=traces"]
        );
        let e = OtlpSettings::new(
            None,
            env(&[base, ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-key hunter2")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_TRACES_HEADERS") && !e.contains("hunter2"),
            "{e}"
        );
        let e = OtlpSettings::new(
            None,
            env(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://u:hunter2@x/v1/traces",
            )]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'https://x/v1/traces' has user info"), "{e}");
        for raw in ["u:hunter2@collector:4318", "ftp://u:hunter2@x"] {
            let e = OtlpSettings::new(Some(raw), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("--otlp-endpoint") && e.contains("user info") && !e.contains("hunter2"),
                "{e}"
            );
        }
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn protobuf_is_the_default_and_the_traces_variable_wins() {
        let protocol = |pairs: &[(&str, &str)]| {
            OtlpSettings::new(Some("http://collector:4318"), env(pairs))
                .unwrap()
                .unwrap()
                .protocol
        };
        assert_eq!(protocol(&[]), Protocol::Protobuf);
        assert_eq!(
            protocol(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]),
            Protocol::Json
        );
        assert_eq!(
            protocol(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ]),
            Protocol::Protobuf
        );
        assert_eq!(
            protocol(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ]),
            Protocol::Json
        );
        assert_eq!(
            protocol(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", " ")]),
            Protocol::Protobuf
        );
    }

    #[test]
    fn grpc_and_bad_values_are_refused_by_name() {
        let e = OtlpSettings::new(
            Some("http://collector:4318"),
            env(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                && e.contains("'grpc'")
                && e.contains("http/protobuf"),
            "{e}"
        );
        let e = OtlpSettings::new(
            Some("http://collector:4318"),
            env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && e.contains("'http/xml'"),
            "{e}"
        );
        let e = OtlpSettings::new(Some("collector:4318"), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--otlp-endpoint") && e.contains("collector:4318"),
            "{e}"
        );
        let e = OtlpSettings::new(Some("https://u:hunter2@collector"), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("user info") && !e.contains("hunter2"), "{e}");
        let e = OtlpSettings::new(
            Some("http://collector:4318"),
            env(&[("OTEL_EXPORTER_OTLP_HEADERS", "api-key")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{e}");
        let e = OtlpSettings::new(
            Some("http://collector:4318"),
            env(&[("OTEL_EXPORTER_OTLP_HEADERS", "bad name=hunter2")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'bad name'") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_base_endpoint_with_a_query_gets_the_signal_path_before_it_and_is_never_shown() {
        let s = OtlpSettings::new(
            Some("https://collector.example/?api-key=OTLPSECRET"),
            env(&[]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            s.url,
            "https://collector.example/v1/traces?api-key=OTLPSECRET"
        );
        let s = OtlpSettings::new(
            None,
            env(&[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                " https://c.example:4318/otlp/?api-key=OTLPSECRET&x=1#top ",
            )]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            s.url,
            "https://c.example:4318/otlp/v1/traces?api-key=OTLPSECRET&x=1"
        );
        // The startup line and the debug form: scheme, host and path, never the key.
        let line = s.describe();
        assert_eq!(
            line,
            "https://c.example:4318/otlp/v1/traces (http/protobuf; its query left out here)"
        );
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("OTLPSECRET") && shown.contains("/otlp/v1/traces"),
            "{shown}"
        );
        let plain = OtlpSettings::new(Some("http://collector:4318"), env(&[]))
            .unwrap()
            .unwrap();
        assert_eq!(
            plain.describe(),
            "http://collector:4318/v1/traces (http/protobuf)"
        );
        // The traces URL as it is: its query is kept for the requests, left out of messages.
        let s = OtlpSettings::new(
            None,
            env(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://t.example/v1/traces?api-key=OTLPSECRET",
            )]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.url, "https://t.example/v1/traces?api-key=OTLPSECRET");
        assert!(!s.describe().contains("OTLPSECRET"), "{}", s.describe());
        // Errors about an endpoint leave its query and user info out too.
        for bad in [
            "ftp://collector.example/?api-key=OTLPSECRET",
            "https://u:OTLPSECRET@collector.example/?api-key=OTLPSECRET",
        ] {
            let e = OtlpSettings::new(Some(bad), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("--otlp-endpoint")
                    && e.contains("collector.example/' (its query left out)")
                    && !e.contains("OTLPSECRET"),
                "{e}"
            );
        }
    }
}
