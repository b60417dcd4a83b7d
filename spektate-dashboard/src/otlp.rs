//! OpenTelemetry export: each finished deployment sent once as a trace
//! ([`spektate_core::insights::trace`]) to an OTLP/HTTP collector, in the JSON encoding,
//! through the core's shared HTTP helper (retries, backoff, `Retry-After`, timeouts).
//!
//! Settings follow the OpenTelemetry exporter variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (the
//! collector's base URL; traces go to `/v1/traces` under it), `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (`http/json`; `http/protobuf` and `grpc` are refused, as only the JSON encoding is spoken)
//! and `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,...`, values percent-decoded, kept secret).

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use spektate_core::http::{Auth, HttpClient, Method, Policy, Request, Secret};
use spektate_core::insights::trace::{SYNC_WAIT, export_request, is_finished};
use spektate_core::{Deployment, Tracker};
use tokio::task::JoinHandle;

use crate::Error;

/// The most deployments in one export request.
pub const BATCH: usize = 100;
/// The most deployment ids remembered as exported; the oldest are forgotten first.
pub const REMEMBERED: usize = 200_000;
/// The most headers `OTEL_EXPORTER_OTLP_HEADERS` may set.
pub const MAX_HEADERS: usize = 32;

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
}

impl fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OtlpSettings")
            .field("url", &self.url)
            .field("headers", &names)
            .finish()
    }
}

impl OtlpSettings {
    /// The settings from `--otlp-endpoint` (`endpoint`, which the caller falls back to
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for) and the `OTEL_EXPORTER_OTLP_*` variables `var`
    /// reads; `None` without an endpoint.
    pub fn new(
        endpoint: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, Error> {
        let Some(endpoint) = endpoint.map(str::trim).filter(|e| !e.is_empty()) else {
            return Ok(None);
        };
        if !is_http_url(endpoint) {
            return Err(Error::invalid(
                "--otlp-endpoint",
                format!(
                    "'{}' is not an http(s) URL without user info (give credentials in OTEL_EXPORTER_OTLP_HEADERS)",
                    spektate_core::model::url::without_credentials(endpoint)
                ),
            ));
        }
        match var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref().map(str::trim) {
            None | Some("") | Some("http/json") => {}
            Some("http/protobuf") => {
                return Err(Error::invalid(
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    "'http/protobuf' is not spoken: Spektate exports OTLP/HTTP in the JSON encoding; set http/json (every OpenTelemetry Collector's otlp receiver takes it)",
                ));
            }
            Some(other) => {
                return Err(Error::invalid(
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    format!(
                        "'{other}' is not one of http/json (http/protobuf and grpc are not spoken)"
                    ),
                ));
            }
        }
        let headers = match var("OTEL_EXPORTER_OTLP_HEADERS") {
            Some(raw) => parse_headers(&raw)?,
            None => Vec::new(),
        };
        Ok(Some(OtlpSettings {
            url: format!("{}/v1/traces", endpoint.trim_end_matches('/')),
            headers,
            every: Duration::from_secs(5),
            service_name: "spektate".into(),
        }))
    }

    /// Looks at the snapshots every `every` instead of every 5 s.
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }
}

/// `key1=value1,key2=value2` (W3C baggage style, values percent-encoded); an entry without
/// `=` or with a name that is not a header name is an error naming the name only.
fn parse_headers(raw: &str) -> Result<Vec<(String, Secret)>, Error> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, value)) = entry.split_once('=') else {
            return Err(Error::invalid(
                "OTEL_EXPORTER_OTLP_HEADERS",
                "an entry has no '='; give key=value pairs separated by commas",
            ));
        };
        let name = name.trim();
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Error::invalid(
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("'{name}' is not a header name"),
            ));
        }
        let value: String = form_urlencoded::parse(format!("v={}", value.trim()).as_bytes())
            .map(|(_, v)| v.into_owned())
            .next()
            .unwrap_or_default();
        if axum::http::HeaderValue::from_str(&value).is_err() {
            return Err(Error::invalid(
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("the value of '{name}' is not a header value"),
            ));
        }
        out.push((name.to_string(), Secret::new(value)));
        if out.len() > MAX_HEADERS {
            return Err(Error::invalid(
                "OTEL_EXPORTER_OTLP_HEADERS",
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
/// dashboard) until the returned task is aborted. Deployments that had finished more than
/// [`SYNC_WAIT`] before it started are taken as exported by an earlier run; should one be
/// sent again, its ids are the same, so it is the same trace.
pub fn start(settings: OtlpSettings, trackers: Vec<Tracker>) -> Result<JoinHandle<()>, Error> {
    let mut client = HttpClient::with_policy(
        format!("otlp {}", host(&settings.url)),
        Auth::None,
        Policy {
            max_body_bytes: 1 << 20,
            ..Policy::default()
        },
    )
    .map_err(|e| Error::invalid("--otlp-endpoint", e))?;
    for (name, value) in &settings.headers {
        client = client.default_header(name, value.expose());
    }
    let started = Utc::now();
    Ok(tokio::spawn(async move {
        let mut sent = Sent::default();
        let mut seen: Vec<Option<DateTime<Utc>>> = vec![None; trackers.len()];
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
                    match export(&client, &settings, &new).await {
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
            tokio::time::sleep(settings.every).await;
        }
    }))
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

/// An `http://` or `https://` URL with a host and no user info.
fn is_http_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return false;
    };
    matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|h| !h.is_empty())
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
}

async fn export(
    client: &HttpClient,
    settings: &OtlpSettings,
    deployments: &[&Deployment],
) -> spektate_core::Result<()> {
    let body = export_request(deployments.iter().copied(), &settings.service_name);
    let request = Request::new(
        Method::POST,
        &settings.url,
        "export traces",
        format!("{} deployments", deployments.len()),
    )
    .json(&body)
    .pass(&[400, 413]);
    let response = client.send(request).await?;
    if response.status != 200 {
        // Bad data or too large: the collector will never take it, and OTLP forbids asking
        // again (specification, "Bad Data"), so it counts as sent.
        tracing::warn!(
            "the collector refused {} traces with {}: {}",
            deployments.len(),
            response.status,
            response.text().chars().take(200).collect::<String>()
        );
    }
    Ok(())
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
        assert!(!format!("{s:?}").contains("s3cr"), "{s:?}");
        assert!(OtlpSettings::new(None, env(&[])).unwrap().is_none());
    }

    #[test]
    fn protobuf_grpc_and_bad_values_are_refused_by_name() {
        let e = OtlpSettings::new(
            Some("http://collector:4318"),
            env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && e.contains("http/json"),
            "{e}"
        );
        let e = OtlpSettings::new(
            Some("http://collector:4318"),
            env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'grpc'"), "{e}");
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
}
