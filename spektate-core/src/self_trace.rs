//! The server's own operations as OpenTelemetry spans, when an exporter asks for them
//! ([`enable`]): each tracker refresh run through [`refresh`] becomes a `spektate.refresh`
//! span (its [`RefreshStats`] counts as attributes, its partition, its error as the span's
//! status), and each HTTP request the shared helper (`http.rs`, feature `http`) sends during
//! it a child span after the OpenTelemetry HTTP client conventions (`http.request.method`,
//! `url.full` with query values redacted, `server.address`, `server.port`,
//! `http.response.status_code`, `error.type`, `http.request.resend_count`).
//!
//! Requests are noted through a task-local set by [`refresh`], so requests outside a refresh
//! (an exporter's own, a notification's) are never traced. Memory is bounded twice: at most
//! [`MAX_REQUESTS`] requests per refresh and [`MAX_BUFFERED`] spans waiting for the
//! exporter; past either the oldest are dropped and counted.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::insights::otlp::{AttrValue, OtlpSpan, SpanKind, StatusCode, clean_message};
use crate::tracker::RefreshStats;

/// The most requests kept for one refresh; the oldest are dropped past it.
pub const MAX_REQUESTS: usize = 1_000;
/// The most spans waiting for the exporter; the oldest refreshes are dropped past it.
pub const MAX_BUFFERED: usize = 10_000;

/// One HTTP request (one attempt: a retry is a request of its own) made during a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpan {
    /// The client that sent it (`github api.github.com`).
    pub provider: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL without credentials, its query values redacted ([`redact_url`]).
    pub url: String,
    /// The host.
    pub server_address: String,
    /// The port, given or the scheme's.
    pub server_port: Option<u16>,
    /// The answer's status; `None` when no answer came.
    pub status: Option<u16>,
    /// Why no answer came (`timed out`, `could not connect`, `cancelled`).
    pub failure: Option<String>,
    /// How many times this request had been sent before (0 for the first attempt).
    pub resend_count: u32,
    /// When it was sent.
    pub start: DateTime<Utc>,
    /// When its answer was read (or it failed).
    pub end: DateTime<Utc>,
}

/// One refresh and the requests made during it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTrace {
    /// The tracker's partition.
    pub partition: String,
    /// When it began.
    pub start: DateTime<Utc>,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// What it did, or why it failed.
    pub outcome: std::result::Result<RefreshStats, String>,
    /// Its requests, oldest first (at most [`MAX_REQUESTS`]).
    pub requests: Vec<RequestSpan>,
    /// Requests left out past [`MAX_REQUESTS`].
    pub dropped_requests: u64,
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::fill(&mut b).is_err() || b.iter().all(|x| *x == 0) {
        // Never an all-zero id, which OTLP calls invalid.
        let n = Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64;
        for (i, x) in b.iter_mut().enumerate() {
            *x = (n >> ((i % 8) * 8)) as u8 | 1;
        }
    }
    b
}

impl RefreshTrace {
    /// How many spans it makes: the refresh and each request.
    pub fn span_count(&self) -> usize {
        1 + self.requests.len()
    }

    /// Its spans: the `spektate.refresh` root (internal), then a client span per request,
    /// in a trace of its own with random ids.
    pub fn spans(&self) -> Vec<OtlpSpan> {
        let trace_id = random_bytes::<16>();
        let root_id = random_bytes::<8>();
        let mut attributes = vec![(
            "spektate.partition".to_string(),
            AttrValue::Str(self.partition.clone()),
        )];
        let int = |n: usize| AttrValue::Int(i64::try_from(n).unwrap_or(i64::MAX));
        if let Ok(s) = &self.outcome {
            for (key, n) in [
                ("spektate.refresh.records_read", s.records_read),
                ("spektate.refresh.records_changed", s.records_changed),
                ("spektate.refresh.runs_requested", s.runs_requested),
                ("spektate.refresh.sync_source_calls", s.sync_source_calls),
                ("spektate.refresh.deployments", s.deployments),
            ] {
                attributes.push((key.to_string(), int(n)));
            }
        }
        attributes.push((
            "spektate.refresh.requests".to_string(),
            int(self.requests.len()),
        ));
        if self.dropped_requests > 0 {
            attributes.push((
                "spektate.refresh.requests_dropped".to_string(),
                AttrValue::Int(i64::try_from(self.dropped_requests).unwrap_or(i64::MAX)),
            ));
        }
        let (status, status_message) = match &self.outcome {
            Ok(_) => (StatusCode::Ok, String::new()),
            Err(e) => (StatusCode::Error, clean_message(e)),
        };
        let mut spans = vec![OtlpSpan {
            trace_id,
            span_id: root_id,
            parent_span_id: None,
            name: "spektate.refresh".into(),
            kind: SpanKind::Internal,
            start: self.start,
            end: self.end.max(self.start),
            attributes,
            status,
            status_message,
        }];
        spans.extend(self.requests.iter().map(|r| r.span(trace_id, root_id)));
        spans
    }
}

impl RequestSpan {
    fn span(&self, trace_id: [u8; 16], parent: [u8; 8]) -> OtlpSpan {
        let mut attributes = vec![
            (
                "http.request.method".to_string(),
                AttrValue::Str(self.method.clone()),
            ),
            ("url.full".to_string(), AttrValue::Str(self.url.clone())),
            (
                "server.address".to_string(),
                AttrValue::Str(self.server_address.clone()),
            ),
        ];
        if let Some(port) = self.server_port {
            attributes.push(("server.port".to_string(), AttrValue::Int(port.into())));
        }
        if let Some(status) = self.status {
            attributes.push((
                "http.response.status_code".to_string(),
                AttrValue::Int(status.into()),
            ));
        }
        // HTTP client conventions: error.type is the status code from 400 on, else the
        // reason no answer came; such a span's status is ERROR, otherwise left unset.
        let error = match (self.status, &self.failure) {
            (_, Some(why)) => Some(why.clone()),
            (Some(s), None) if s >= 400 => Some(s.to_string()),
            _ => None,
        };
        if let Some(e) = &error {
            attributes.push(("error.type".to_string(), AttrValue::Str(e.clone())));
        }
        if self.resend_count > 0 {
            attributes.push((
                "http.request.resend_count".to_string(),
                AttrValue::Int(self.resend_count.into()),
            ));
        }
        attributes.push((
            "spektate.provider".to_string(),
            AttrValue::Str(self.provider.clone()),
        ));
        OtlpSpan {
            trace_id,
            span_id: random_bytes::<8>(),
            parent_span_id: Some(parent),
            name: self.method.clone(),
            kind: SpanKind::Client,
            start: self.start,
            end: self.end.max(self.start),
            attributes,
            status: if error.is_some() {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            status_message: String::new(),
        }
    }
}

/// The requests of the refresh running in this task, bounded to `limit`.
/// Without the HTTP helper (feature `http`) nothing adds to it.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Requests {
    list: VecDeque<RequestSpan>,
    dropped: u64,
    limit: usize,
}

#[cfg_attr(not(feature = "http"), allow(dead_code))]
impl Requests {
    /// An empty list that keeps at most `limit` requests.
    pub fn new(limit: usize) -> Self {
        Requests {
            list: VecDeque::new(),
            dropped: 0,
            limit: limit.max(1),
        }
    }

    /// Adds `r`, dropping the oldest past the limit.
    pub fn push(&mut self, r: RequestSpan) {
        if self.list.len() >= self.limit {
            self.list.pop_front();
            self.dropped += 1;
        }
        self.list.push_back(r);
    }

    /// The requests kept, oldest first, and how many were dropped.
    pub fn take(&mut self) -> (Vec<RequestSpan>, u64) {
        (
            std::mem::take(&mut self.list).into(),
            std::mem::take(&mut self.dropped),
        )
    }
}

/// Finished refreshes waiting for the exporter, at most `limit` spans in all.
#[derive(Debug)]
pub(crate) struct Buffer {
    traces: VecDeque<RefreshTrace>,
    spans: usize,
    dropped: u64,
    limit: usize,
}

impl Buffer {
    /// An empty buffer of at most `limit` spans.
    pub fn new(limit: usize) -> Self {
        Buffer {
            traces: VecDeque::new(),
            spans: 0,
            dropped: 0,
            limit: limit.max(1),
        }
    }

    /// Adds `t`, dropping the oldest refreshes (and counting their spans) past the limit.
    pub fn push(&mut self, t: RefreshTrace) {
        self.spans += t.span_count();
        self.traces.push_back(t);
        while self.spans > self.limit {
            let Some(old) = self.traces.pop_front() else {
                break;
            };
            self.spans -= old.span_count();
            self.dropped += old.span_count() as u64;
        }
    }

    /// The oldest refreshes, as many as fit in `max_spans` spans (always one, if any).
    pub fn drain(&mut self, max_spans: usize) -> Vec<RefreshTrace> {
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(next) = self.traces.front() {
            if !out.is_empty() && n + next.span_count() > max_spans {
                break;
            }
            n += next.span_count();
            self.spans -= next.span_count();
            out.extend(self.traces.pop_front());
        }
        out
    }

    /// Spans waiting.
    #[cfg(test)]
    fn spans(&self) -> usize {
        self.spans
    }

    /// Spans dropped so far because the exporter did not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn clear(&mut self) {
        self.traces.clear();
        self.spans = 0;
    }
}

static ENABLED: AtomicUsize = AtomicUsize::new(0);

fn buffer() -> &'static Mutex<Buffer> {
    static BUFFER: OnceLock<Mutex<Buffer>> = OnceLock::new();
    BUFFER.get_or_init(|| Mutex::new(Buffer::new(MAX_BUFFERED)))
}

fn locked() -> std::sync::MutexGuard<'static, Buffer> {
    buffer().lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps self-tracing on while it lives; returned by [`enable`].
#[must_use = "self-tracing stops when the guard is dropped"]
#[derive(Debug)]
pub struct Enabled(());

impl Drop for Enabled {
    fn drop(&mut self) {
        if ENABLED.fetch_sub(1, Ordering::AcqRel) == 1 {
            locked().clear();
        }
    }
}

/// Turns self-tracing on for the process until the guard is dropped (an exporter holds it
/// while it runs).
pub fn enable() -> Enabled {
    ENABLED.fetch_add(1, Ordering::AcqRel);
    Enabled(())
}

/// Whether an exporter asked for self-traces.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Acquire) > 0
}

/// Takes the oldest finished refreshes waiting, at most `max_spans` spans (at least one
/// refresh, if any waits).
pub fn drain(max_spans: usize) -> Vec<RefreshTrace> {
    locked().drain(max_spans)
}

/// Spans dropped so far because they were not exported in time.
pub fn dropped() -> u64 {
    locked().dropped()
}

type Current = Arc<Mutex<Requests>>;

tokio::task_local! {
    static CURRENT: Current;
}

/// Ends a refresh however its future ends (also when it is dropped or panics), and hands it
/// to the buffer.
struct Pending {
    partition: String,
    start: DateTime<Utc>,
    requests: Current,
    outcome: Option<std::result::Result<RefreshStats, String>>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let outcome = self
            .outcome
            .take()
            .unwrap_or_else(|| Err("the refresh did not finish".to_string()));
        let (requests, dropped_requests) = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if enabled() {
            locked().push(RefreshTrace {
                partition: std::mem::take(&mut self.partition),
                start: self.start,
                end: Utc::now(),
                outcome,
                requests,
                dropped_requests,
            });
        }
    }
}

/// Runs `work`, a refresh of `partition`; while self-tracing is on, it and the requests the
/// shared HTTP helper sends in it (in this task) are kept for the exporter.
pub async fn refresh<F>(partition: &str, work: F) -> Result<RefreshStats>
where
    F: Future<Output = Result<RefreshStats>>,
{
    if !enabled() {
        return work.await;
    }
    let requests: Current = Arc::new(Mutex::new(Requests::new(MAX_REQUESTS)));
    let mut pending = Pending {
        partition: partition.to_string(),
        start: Utc::now(),
        requests: requests.clone(),
        outcome: None,
    };
    let out = CURRENT.scope(requests, work).await;
    pending.outcome = Some(match &out {
        Ok(stats) => Ok(*stats),
        Err(e) => Err(e.to_string()),
    });
    drop(pending);
    out
}

/// Query parameters whose values are kept in `url.full`: paging, versions and the ids
/// providers are asked about. Every other value is `REDACTED`, so a signature or token in
/// a query (`sig`, `access_token`, a SAS) never leaves the process.
#[cfg(feature = "http")]
const SHOWN_QUERY: &[&str] = &[
    "api-version",
    "per_page",
    "page",
    "$top",
    "$skip",
    "top",
    "buildIds",
    "ids",
    "ref",
    "sha",
    "branch",
    "status",
    "state",
    "sort",
    "direction",
    "order_by",
    "since",
    "until",
];

/// `url` as `url.full` may show it: user info replaced by `REDACTED:REDACTED`, each query
/// value `REDACTED` unless its name is a paging or version parameter, no fragment; with its
/// host and port. `None` when it does not parse.
#[cfg(feature = "http")]
pub fn redact_url(url: &str) -> Option<(String, String, Option<u16>)> {
    let mut u = reqwest::Url::parse(url).ok()?;
    if !u.username().is_empty() || u.password().is_some() {
        u.set_username("REDACTED").ok()?;
        u.set_password(Some("REDACTED")).ok()?;
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let shown = SHOWN_QUERY.iter().any(|s| s.eq_ignore_ascii_case(&k));
                let v = if shown {
                    v.into_owned()
                } else {
                    "REDACTED".to_string()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.set_fragment(None);
    let host = u.host_str().unwrap_or("").to_string();
    let port = u.port_or_known_default();
    Some((u.into(), host, port))
}

/// One attempt of the shared HTTP helper, noted when it ends (when dropped) if a traced
/// refresh runs in this task; does nothing otherwise.
#[cfg(feature = "http")]
pub(crate) struct Attempt {
    into: Option<Current>,
    span: Option<RequestSpan>,
}

#[cfg(feature = "http")]
impl Attempt {
    /// Starts noting an attempt of `provider`'s client; `resend_count` is 0 on the first.
    pub(crate) fn start(provider: &str, method: &str, url: &str, resend_count: u32) -> Self {
        let Ok(into) = CURRENT.try_with(Arc::clone) else {
            return Attempt {
                into: None,
                span: None,
            };
        };
        let (url, server_address, server_port) =
            redact_url(url).unwrap_or_else(|| ("(unparsable URL)".into(), String::new(), None));
        let now = Utc::now();
        Attempt {
            into: Some(into),
            span: Some(RequestSpan {
                provider: provider.to_string(),
                method: method.to_string(),
                url,
                server_address,
                server_port,
                status: None,
                failure: None,
                resend_count,
                start: now,
                end: now,
            }),
        }
    }

    /// The answer's status came.
    pub(crate) fn answered(&mut self, status: u16) {
        if let Some(s) = &mut self.span {
            s.status = Some(status);
        }
    }

    /// No answer came, because of `why`.
    pub(crate) fn failed(&mut self, why: &str) {
        if let Some(s) = &mut self.span {
            s.failure = Some(why.to_string());
        }
    }
}

#[cfg(feature = "http")]
impl Drop for Attempt {
    fn drop(&mut self) {
        let (Some(into), Some(mut span)) = (self.into.take(), self.span.take()) else {
            return;
        };
        span.end = Utc::now();
        if span.status.is_none() && span.failure.is_none() {
            span.failure = Some("cancelled".to_string());
        }
        into.lock().unwrap_or_else(|p| p.into_inner()).push(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: u32) -> RequestSpan {
        let t = Utc::now();
        RequestSpan {
            provider: "github api.github.com".into(),
            method: "GET".into(),
            url: format!("https://api.github.com/x/{n}"),
            server_address: "api.github.com".into(),
            server_port: Some(443),
            status: Some(200),
            failure: None,
            resend_count: 0,
            start: t,
            end: t,
        }
    }

    fn trace(requests: u32) -> RefreshTrace {
        RefreshTrace {
            partition: "fabrikam".into(),
            start: Utc::now(),
            end: Utc::now(),
            outcome: Ok(RefreshStats::default()),
            requests: (0..requests).map(request).collect(),
            dropped_requests: 0,
        }
    }

    #[test]
    fn a_flood_of_requests_in_one_refresh_keeps_the_newest_and_counts_the_rest() {
        let mut r = Requests::new(MAX_REQUESTS);
        for n in 0..(MAX_REQUESTS as u32 + 2_500) {
            r.push(request(n));
        }
        let (kept, dropped) = r.take();
        assert_eq!(kept.len(), MAX_REQUESTS);
        assert_eq!(dropped, 2_500);
        assert_eq!(kept[0].url, "https://api.github.com/x/2500");
    }

    #[test]
    fn a_flood_of_refreshes_drops_the_oldest_and_counts_their_spans() {
        let mut b = Buffer::new(MAX_BUFFERED);
        for _ in 0..100_000 {
            b.push(trace(9));
            assert!(b.spans() <= MAX_BUFFERED);
        }
        assert_eq!(b.spans(), MAX_BUFFERED);
        assert_eq!(b.dropped(), 100_000 * 10 - MAX_BUFFERED as u64);
        let first = b.drain(25);
        assert_eq!(first.len(), 2, "two refreshes of 10 spans fit in 25");
        assert_eq!(b.spans(), MAX_BUFFERED - 20);
        let mut big = Buffer::new(100);
        big.push(trace(50));
        assert_eq!(
            big.drain(10).len(),
            1,
            "a refresh larger than a batch still goes"
        );
        assert_eq!(big.spans(), 0);
    }

    #[test]
    fn a_refresh_span_carries_its_counts_and_its_requests_the_http_conventions() {
        let mut t = trace(0);
        t.outcome = Ok(RefreshStats {
            records_read: 12,
            records_changed: 3,
            runs_requested: 7,
            sync_source_calls: 1,
            deployments: 12,
        });
        let mut retried = request(1);
        retried.status = Some(503);
        retried.resend_count = 2;
        let mut failed = request(2);
        failed.status = None;
        failed.failure = Some("timed out".into());
        t.requests = vec![request(0), retried, failed];
        let spans = t.spans();
        assert_eq!(spans.len(), 4);
        let root = &spans[0];
        assert_eq!(root.name, "spektate.refresh");
        assert_eq!(
            root.attr("spektate.refresh.runs_requested"),
            Some(&AttrValue::Int(7))
        );
        assert_eq!(
            root.attr("spektate.refresh.requests"),
            Some(&AttrValue::Int(3))
        );
        assert_eq!(root.status, StatusCode::Ok);
        for child in &spans[1..] {
            assert_eq!(child.trace_id, root.trace_id);
            assert_eq!(child.parent_span_id, Some(root.span_id));
            assert_eq!(child.kind, SpanKind::Client);
            assert_eq!(child.name, "GET");
        }
        assert_eq!(spans[1].status, StatusCode::Unset);
        assert_eq!(spans[1].attr("error.type"), None);
        assert_eq!(
            spans[2].attr("error.type"),
            Some(&AttrValue::Str("503".into()))
        );
        assert_eq!(
            spans[2].attr("http.request.resend_count"),
            Some(&AttrValue::Int(2))
        );
        assert_eq!(spans[2].status, StatusCode::Error);
        assert_eq!(spans[3].attr("http.response.status_code"), None);
        assert_eq!(
            spans[3].attr("error.type"),
            Some(&AttrValue::Str("timed out".into()))
        );
        let mut failed = trace(0);
        failed.outcome = Err("store: connection refused".into());
        let root = &failed.spans()[0];
        assert_eq!(root.status, StatusCode::Error);
        assert_eq!(root.status_message, "store: connection refused");
        assert_eq!(root.attr("spektate.refresh.records_read"), None);
    }

    #[cfg(feature = "http")]
    #[test]
    fn urls_lose_credentials_query_secrets_and_fragments() {
        let (url, host, port) = redact_url(
            "https://acct.table.core.windows.net/Deployments()?sv=2019-02-02&sig=c2VjcmV0%3D&$top=1000&api-version=7.1#frag",
        )
        .unwrap();
        assert_eq!(
            url,
            "https://acct.table.core.windows.net/Deployments()?sv=REDACTED&sig=REDACTED&%24top=1000&api-version=7.1"
        );
        assert_eq!(
            (host.as_str(), port),
            ("acct.table.core.windows.net", Some(443))
        );
        let (url, _, port) =
            redact_url("http://user:hunter2@127.0.0.1:8080/api?access_token=ghp_x&per_page=100")
                .unwrap();
        assert_eq!(
            url,
            "http://REDACTED:REDACTED@127.0.0.1:8080/api?access_token=REDACTED&per_page=100"
        );
        assert_eq!(port, Some(8080));
        assert!(!url.contains("hunter2") && !url.contains("ghp_x"));
        assert!(redact_url("not a url").is_none());
    }

    #[cfg(feature = "http")]
    #[tokio::test]
    async fn attempts_are_noted_only_inside_a_refresh() {
        // Outside a refresh nothing is kept.
        drop(Attempt::start("p", "GET", "https://h/x", 0));
        let requests: Current = Arc::new(Mutex::new(Requests::new(10)));
        CURRENT
            .scope(requests.clone(), async {
                let mut a = Attempt::start("p", "GET", "https://h/x?token=t0k3n", 0);
                a.answered(200);
                drop(a);
                drop(Attempt::start("p", "POST", "https://h/y", 1));
            })
            .await;
        let (got, dropped) = requests.lock().unwrap().take();
        assert_eq!(dropped, 0);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].url, "https://h/x?token=REDACTED");
        assert_eq!(got[0].status, Some(200));
        assert_eq!(got[1].failure.as_deref(), Some("cancelled"));
        assert_eq!(got[1].resend_count, 1);
    }

    #[cfg(feature = "http")]
    #[tokio::test]
    async fn a_traced_refresh_exports_each_attempt_without_credentials_or_query_secrets() {
        use crate::http::{Auth, HttpClient, Policy, Request, Secret};
        use wiremock::matchers::path;
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        Mock::given(path("/_apis/build/builds"))
            .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(path("/_apis/build/builds"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let policy = Policy {
            base_delay: std::time::Duration::from_millis(1),
            ..Policy::default()
        };
        let auth = Auth::Bearer(Secret::new("bearer-s3cret"));
        let client = HttpClient::with_policy("azure-devops self-trace", auth, policy).unwrap();
        let url = format!(
            "{}/_apis/build/builds?api-version=7.1&sig=query-s3cret&access_token=tok-s3cret",
            server.uri()
        );
        // Not traced while no exporter asked.
        refresh("untraced", async { Ok(RefreshStats::default()) })
            .await
            .unwrap();
        assert!(drain(usize::MAX).iter().all(|t| t.partition != "untraced"));
        let on = enable();
        let stats = RefreshStats {
            runs_requested: 1,
            ..RefreshStats::default()
        };
        refresh("self-trace-test", async {
            client.send(Request::get(&url, "list builds", "1")).await?;
            Ok(stats)
        })
        .await
        .unwrap();
        let mine: Vec<RefreshTrace> = drain(usize::MAX)
            .into_iter()
            .filter(|t| t.partition == "self-trace-test")
            .collect();
        drop(on);
        assert_eq!(mine.len(), 1);
        let t = &mine[0];
        assert_eq!(t.outcome, Ok(stats));
        let attempts: Vec<(Option<u16>, u32)> = t
            .requests
            .iter()
            .map(|r| (r.status, r.resend_count))
            .collect();
        assert_eq!(attempts, [(Some(503), 0), (Some(200), 1)]);
        assert_eq!(
            t.requests[1].url,
            format!(
                "{}/_apis/build/builds?api-version=7.1&sig=REDACTED&access_token=REDACTED",
                server.uri()
            )
        );
        let spans = t.spans();
        for bytes in [
            crate::insights::otlp_proto::encode_request(&spans, "spektate"),
            crate::insights::otlp::json_request(&spans, "spektate")
                .to_string()
                .into_bytes(),
        ] {
            let text = String::from_utf8_lossy(&bytes);
            for secret in ["s3cret", "Bearer"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(text.contains("REDACTED") && text.contains("api-version=7.1"));
        }
    }
}
