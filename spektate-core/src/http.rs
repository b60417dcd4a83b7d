//! The one HTTP helper every provider uses: timeouts, retries with exponential backoff and
//! jitter on 429, 5xx and transport errors, `Retry-After` and rate-limit headers honored,
//! bounded concurrency, and errors that name the provider, operation and object.
//! Credentials live in [`Secret`]s, which never print.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

pub use reqwest::Method;

/// A credential. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for building a header. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credential.
    None,
    /// HTTP basic (Azure DevOps PATs use an empty user).
    Basic {
        /// User name.
        user: String,
        /// Password or token.
        secret: Secret,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
}

/// Timeouts, retries and concurrency of a client.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Timeout of each attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubled each retry, with jitter.
    pub base_delay: Duration,
    /// Longest wait between attempts, `Retry-After` included; a longer demanded wait fails.
    pub max_delay: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Largest response body read; a longer one is an error naming the provider and limit.
    pub max_body_bytes: usize,
}

/// The default cap on a response body: 32 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 << 20;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(30),
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(60),
            concurrency: 8,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// How a client connects, beyond its [`Policy`]: what only some providers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// Accept a server certificate that no trusted root signed or that names another host
    /// (a self-signed server). Only when the user asked for it by name.
    pub accept_invalid_certs: bool,
    /// Follow redirects (the default); a redirect to another host, port or scheme never
    /// carries the credential. Off, a redirect comes back as its 3xx response.
    pub follow_redirects: bool,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            accept_invalid_certs: false,
            follow_redirects: true,
        }
    }
}

/// One request: method, URL, headers, body, and what it is for (used in errors). Its `Debug`
/// shows no header value, body or query: they may hold a token, a federated assertion or a
/// SAS signature.
#[derive(Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    operation: String,
    object: String,
    pass: Vec<u16>,
    resend: bool,
    /// The name of the first header [`Request::header`] could not add: the request fails
    /// naming it instead of being sent without it.
    invalid: Option<String>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match self.url.split_once('?') {
            Some((path, _)) => format!("{path}?…"),
            None => self.url.clone(),
        };
        let headers: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &headers)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .field("operation", &self.operation)
            .field("object", &self.object)
            .field("pass", &self.pass)
            .field("resend", &self.resend)
            .finish()
    }
}

impl Request {
    /// A request; `operation` and `object` name it in errors (`get builds`, `ids 1,2`).
    pub fn new(
        method: Method,
        url: impl Into<String>,
        operation: impl Into<String>,
        object: impl Into<String>,
    ) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            operation: operation.into(),
            object: object.into(),
            pass: Vec::new(),
            resend: true,
            invalid: None,
        }
    }

    /// A GET.
    pub fn get(
        url: impl Into<String>,
        operation: impl Into<String>,
        object: impl Into<String>,
    ) -> Self {
        Self::new(Method::GET, url, operation, object)
    }

    /// Adds a header. A name that is not a header name, or a value holding a control
    /// character (a line break, say), makes [`HttpClient::send`] fail naming the header,
    /// without sending anything: sent without it, a request would lose what the header said
    /// (a credential, a condition) and do something else.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match parse_header(name, value) {
            Some(header) => self.headers.push(header),
            None => {
                self.invalid.get_or_insert_with(|| shown_name(name));
            }
        }
        self
    }

    /// Adds a header the request can do without, such as an `If-None-Match` of a cached
    /// answer: one [`Request::header`] would refuse is dropped with a log line, and the
    /// request is sent without it.
    pub fn optional_header(mut self, name: &str, value: &str) -> Self {
        match parse_header(name, value) {
            Some(header) => self.headers.push(header),
            None => tracing::warn!(
                "sending without the {} header: it cannot be sent",
                shown_name(name)
            ),
        }
        self
    }

    /// A JSON body (sets `Content-Type`).
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.header("content-type", "application/json")
    }

    /// A raw body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// Statuses handed back to the caller instead of becoming errors (404, 304, 412, ...).
    pub fn pass(mut self, statuses: &[u16]) -> Self {
        self.pass.extend_from_slice(statuses);
        self
    }

    /// Not resent once it may have taken effect (a 5xx or 408 answer, a timeout, a
    /// connection lost after sending): for a write that is not idempotent, such as one
    /// creating an object. Refusals that did nothing (429, a rate-limited 403, a failed
    /// connect) are still retried.
    pub fn no_retry(mut self) -> Self {
        self.resend = false;
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The header `name: value`, or `None` when HTTP cannot carry it: a name that is not a
/// header name, a value with a control character other than tab.
fn parse_header(name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
    Some((name, HeaderValue::from_str(value).ok()?))
}

/// A header name as errors and logs show it: escaped, at most 64 characters.
fn shown_name(name: &str) -> String {
    crate::text::shown(&name.escape_default().to_string(), 64)
}

/// A response: status, headers, body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
    operation: String,
    object: String,
    provider: String,
    attempts: u32,
}

impl Response {
    /// How many times the request was sent (1 when it was not retried). A retried write
    /// may have landed on an earlier attempt whose response was lost.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn tried(mut self, attempt: u32) -> Self {
        self.attempts = attempt + 1;
        self
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON; a malformed body is an error naming the operation.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::provider(
                &self.provider,
                &self.operation,
                &self.object,
                format!("malformed response body: {e}"),
            )
        })
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP client for one provider.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    provider: String,
    auth: Auth,
    policy: Policy,
    default_headers: Vec<(HeaderName, HeaderValue)>,
    /// The name of the first header [`HttpClient::default_header`] could not add.
    invalid_default: Option<String>,
    permits: Arc<Semaphore>,
    /// Until when the requests of each rate-limit budget ([`budget`]) of this client (and
    /// its clones) hold back, after a response said that budget is spent; shared so one 403
    /// or 429 stops them all. A pause longer than the policy's `max_delay` fails requests
    /// without sending them.
    paused_until: Arc<std::sync::Mutex<std::collections::HashMap<u64, tokio::time::Instant>>>,
}

/// The rate-limit budget a request draws on: its credential (a request's own
/// `Authorization`, as a GitHub App installation's token; else the client's) and the kind of
/// API (GraphQL, search, the rest), which hosts count apart. Hashed, so no token is kept.
fn budget(req: &Request) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    req.headers
        .iter()
        .find(|(name, _)| name == reqwest::header::AUTHORIZATION)
        .map(|(_, value)| value.as_bytes())
        .hash(&mut h);
    let path = req.url.split('?').next().unwrap_or_default();
    let kind = if path.ends_with("/graphql") {
        1u8
    } else if path.contains("/search/") && !path.contains("/repos/") {
        2
    } else {
        0
    };
    kind.hash(&mut h);
    h.finish()
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("auth", &self.auth)
            .finish()
    }
}

impl HttpClient {
    /// A client for `provider` (named in every error) with `auth` and the default policy.
    pub fn new(provider: impl Into<String>, auth: Auth) -> Result<Self> {
        Self::with_policy(provider, auth, Policy::default())
    }

    /// A client with an explicit policy.
    pub fn with_policy(provider: impl Into<String>, auth: Auth, policy: Policy) -> Result<Self> {
        Self::with_connection(provider, auth, policy, Connection::default())
    }

    /// A client with an explicit policy and connection options.
    pub fn with_connection(
        provider: impl Into<String>,
        auth: Auth,
        policy: Policy,
        connection: Connection,
    ) -> Result<Self> {
        let provider = provider.into();
        let redirects = if connection.follow_redirects {
            reqwest::redirect::Policy::default()
        } else {
            reqwest::redirect::Policy::none()
        };
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("spektate/", env!("CARGO_PKG_VERSION")))
            .redirect(redirects)
            .tls_danger_accept_invalid_certs(connection.accept_invalid_certs)
            .build()
            .map_err(|e| Error::provider(&provider, "create HTTP client", "", e))?;
        Ok(HttpClient {
            client,
            permits: Arc::new(Semaphore::new(policy.concurrency.max(1))),
            provider,
            auth,
            policy,
            default_headers: Vec::new(),
            invalid_default: None,
            paused_until: Arc::default(),
        })
    }

    /// Adds a header sent with every request. A redirect to another host carries it along
    /// (only `Authorization` is dropped): a header holding a secret needs a client that does
    /// not follow redirects ([`Connection::follow_redirects`]). One [`Request::header`] would
    /// refuse makes every request fail the same way, naming it.
    pub fn default_header(mut self, name: &str, value: &str) -> Self {
        match parse_header(name, value) {
            Some(header) => self.default_headers.push(header),
            None => {
                self.invalid_default.get_or_insert_with(|| shown_name(name));
            }
        }
        self
    }

    /// The provider name used in errors.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// GETs `url` and parses the JSON body.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        operation: &str,
        object: &str,
    ) -> Result<T> {
        self.send(Request::get(url, operation, object))
            .await?
            .json()
    }

    /// Sends a request, retrying what can be retried; a status outside 2xx and the
    /// request's pass list becomes an error.
    pub async fn send(&self, req: Request) -> Result<Response> {
        if let Some(name) = req.invalid.as_ref().or(self.invalid_default.as_ref()) {
            return Err(self.err(
                &req,
                format!("{UNSENDABLE}the {name} header holds what no HTTP header can carry"),
            ));
        }
        if let Auth::Bearer(secret) = &self.auth
            && HeaderValue::from_str(secret.expose()).is_err()
        {
            return Err(self.err(
                &req,
                format!(
                    "{UNSENDABLE}the token holds what no HTTP header can carry (a control \
                     character, such as a line break)"
                ),
            ));
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| self.err(&req, e))?;
        let mut attempt = 0u32;
        loop {
            self.hold_back(&req).await?;
            let outcome = match self.attempt(&req, attempt).await {
                Ok(resp) => Ok(resp),
                Err(Failure::Transport(e)) => Err(e),
                Err(Failure::TooLarge(limit)) => {
                    return Err(self.err(
                        &req,
                        format!("the response body is larger than the limit of {limit} bytes"),
                    ));
                }
            };
            if let Ok(resp) = &outcome {
                self.note_limits(&req, resp);
            }
            let wait = match &outcome {
                Ok(resp) => match retry_wait(resp, attempt, &self.policy) {
                    None => return self.finish(&req, outcome.expect("matched Ok").tried(attempt)),
                    Some(_) if !req.resend && !refused_undone(resp) => {
                        let resp = outcome.expect("matched Ok").tried(attempt);
                        return self.finish(&req, resp).map_err(not_resent);
                    }
                    Some(w) => w,
                },
                Err(e) if e.is_connect() => backoff(attempt, &self.policy),
                Err(e) if !req.resend && (e.is_timeout() || e.is_request()) => {
                    return Err(not_resent(self.err(&req, describe_transport(e))));
                }
                Err(e) if e.is_timeout() || e.is_request() => backoff(attempt, &self.policy),
                Err(_) => {
                    return Err(self.err(
                        &req,
                        outcome.err().map(|e| e.without_url()).expect("matched Err"),
                    ));
                }
            };
            if attempt >= self.policy.max_retries || wait > self.policy.max_delay {
                return match outcome {
                    Ok(resp) => self.finish(&req, resp.tried(attempt)),
                    Err(e) => Err(self.err(&req, describe_transport(&e))),
                };
            }
            tracing::debug!(provider = %self.provider, operation = %req.operation, ?wait, attempt, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Until when a spent rate limit fails some of this client's requests unsent (a pause
    /// longer than the policy's `max_delay`), if one does now: the latest such pause.
    #[cfg(test)]
    fn rate_limited_until(&self) -> Option<DateTime<Utc>> {
        let now = tokio::time::Instant::now();
        let left = self
            .paused_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|until| until.saturating_duration_since(now))
            .filter(|left| *left > self.policy.max_delay)
            .max()?;
        Some(Utc::now() + chrono::Duration::from_std(left).ok()?)
    }

    /// What is left of the pause of `req`'s budget, if any.
    fn pause_left(&self, req: &Request) -> Option<Duration> {
        let until = *self
            .paused_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&budget(req))?;
        Some(until.saturating_duration_since(tokio::time::Instant::now())).filter(|d| !d.is_zero())
    }

    /// Waits while an earlier response said the rate limit of `req`'s budget is spent; when
    /// the wait is longer than the policy's `max_delay`, fails without sending.
    async fn hold_back(&self, req: &Request) -> Result<()> {
        let Some(left) = self.pause_left(req) else {
            return Ok(());
        };
        if left > self.policy.max_delay {
            let host = reqwest::Url::parse(&req.url)
                .ok()
                .and_then(|u| {
                    let host = u.host_str()?.to_string();
                    Some(match u.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host,
                    })
                })
                .unwrap_or_else(|| self.provider.clone());
            let at = chrono::Duration::from_std(left)
                .ok()
                .map(|left| {
                    (Utc::now() + left)
                        .format("%Y-%m-%d %H:%M:%S UTC")
                        .to_string()
                })
                .unwrap_or_else(|| format!("{}s from now", left.as_secs()));
            return Err(self.err(req, format!("{NOT_SENT}{host} is spent until {at}")));
        }
        tracing::debug!(provider = %self.provider, "holding back until the rate limit resets");
        tokio::time::sleep(left).await;
        Ok(())
    }

    /// Pauses the requests of `req`'s budget ([`budget`]) when a response says the limit is
    /// spent: a
    /// `Retry-After` on a refused request or on a success Azure DevOps delayed (it says how
    /// long in `X-RateLimit-Delay` and asks to wait before the next one), no
    /// requests left (`x-ratelimit-remaining: 0`,
    /// GitLab's `RateLimit-Remaining: 0`) until the reset (even on a success: the next
    /// request would be refused), or a secondary limit named only in the message for
    /// [`SECONDARY_LIMIT_WAIT`] (the policy's `max_delay` if shorter). A pause beyond
    /// `max_delay` fails the requests until it ends; one beyond [`LONGEST_PAUSE`] is taken
    /// for nonsense and ignored.
    fn note_limits(&self, req: &Request, resp: &Response) {
        let refused = matches!(resp.status, 403 | 429) && is_rate_limited(resp);
        let delayed = resp.status < 400 && resp.header("x-ratelimit-delay").is_some();
        let retry_after = resp
            .header("retry-after")
            .and_then(parse_retry_after)
            .filter(|_| refused || delayed);
        let wait = retry_after
            .or_else(|| {
                (remaining(resp) == Some("0"))
                    .then(|| reset_wait(resp))
                    .flatten()
            })
            .or_else(|| {
                names_secondary_limit(resp).then(|| SECONDARY_LIMIT_WAIT.min(self.policy.max_delay))
            });
        let Some(wait) = wait.filter(|w| !w.is_zero() && *w <= LONGEST_PAUSE) else {
            return;
        };
        let Some(until) = tokio::time::Instant::now().checked_add(wait) else {
            return;
        };
        let now = tokio::time::Instant::now();
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        paused.retain(|_, t| *t > now);
        let slot = paused.entry(budget(req)).or_insert(until);
        if *slot < until {
            *slot = until;
        }
    }

    async fn attempt(&self, req: &Request, resend: u32) -> std::result::Result<Response, Failure> {
        // A span of the refresh running in this task, if it is traced (self_trace.rs).
        let mut span = crate::self_trace::Attempt::start(
            &self.provider,
            req.method.as_str(),
            &req.url,
            resend,
        );
        let mut builder = self.client.request(req.method.clone(), &req.url);
        builder = match &self.auth {
            Auth::None => builder,
            Auth::Basic { user, secret } => builder.basic_auth(user, Some(secret.expose())),
            Auth::Bearer(secret) => builder.bearer_auth(secret.expose()),
        };
        for (n, v) in self.default_headers.iter().chain(&req.headers) {
            builder = builder.header(n, v);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let mut resp = match builder.send().await {
            Ok(resp) => resp,
            Err(e) => {
                crate::request_counts::count(&self.provider, None);
                span.failed(&describe_transport(&e));
                return Err(e.into());
            }
        };
        let status = resp.status().as_u16();
        crate::request_counts::count(&self.provider, Some(status));
        span.answered(status);
        let headers = resp.headers().clone();
        let limit = self.policy.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(Failure::TooLarge(limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(Failure::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
            operation: req.operation.clone(),
            object: req.object.clone(),
            provider: self.provider.clone(),
            attempts: 1,
        })
    }

    fn finish(&self, req: &Request, resp: Response) -> Result<Response> {
        let status = resp.status;
        if (200..300).contains(&status) || req.pass.contains(&status) {
            return Ok(resp);
        }
        let detail = error_detail(&resp.body);
        if status == 401 || status == 403 && !is_rate_limited(&resp) {
            return Err(Error::Provider {
                provider: self.provider.clone(),
                operation: req.operation.clone(),
                object: req.object.clone(),
                message: format!("the token was rejected (HTTP {status}){detail}"),
                auth: true,
            });
        }
        let reset = match reset_wait(&resp) {
            Some(_) if is_rate_limited(&resp) => reset_header(&resp)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
                .map(|t| format!("; the rate limit resets at {}", t.format("%H:%M:%S UTC")))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let limited = if refused_undone(&resp) {
            RATE_LIMITED
        } else {
            ""
        };
        Err(self.err(req, format!("HTTP {status}{limited}{detail}{reset}")))
    }

    fn err(&self, req: &Request, message: impl fmt::Display) -> Error {
        Error::provider(&self.provider, &req.operation, &req.object, message)
    }
}

/// What follows the status in the error of a request a rate limit refused.
const RATE_LIMITED: &str = " (rate limited)";

/// The start of the error of a request that no attempt can send (a header HTTP cannot
/// carry): sending it later fails the same way.
const UNSENDABLE: &str = "cannot be sent: ";

/// The start of the error of a request not sent because its rate limit is spent.
const NOT_SENT: &str = "not sent: the rate limit of ";

/// Whether `e` is a request a rate limit refused, or one not sent because its limit is
/// spent: asking again now would be refused too.
pub fn is_rate_limit_refusal(e: &Error) -> bool {
    match e {
        Error::Provider { message, .. } => {
            message.starts_with(NOT_SENT)
                || (message.starts_with("HTTP ")
                    && message
                        .get(8..)
                        .is_some_and(|m| m.starts_with(RATE_LIMITED)))
        }
        _ => false,
    }
}

/// `url` as a client sends it (`..` and `%2e%2e` segments resolved), when it is `base` or
/// under it: the same scheme, host and port, no user info, and a path that begins with
/// `base`'s path segment by segment. A URL a provider answered with (a `Link` header's next
/// page) is followed with the credential only when it is, so it cannot take the token to
/// another host or elsewhere on the API's host.
pub fn url_under(url: &str, base: &str) -> Option<String> {
    let (url, base) = (
        reqwest::Url::parse(url).ok()?,
        reqwest::Url::parse(base).ok()?,
    );
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let base_path = base.path().trim_end_matches('/');
    let under = url.path() == base_path
        || (url.path().strip_prefix(base_path)).is_some_and(|rest| rest.starts_with('/'));
    under.then(|| url.to_string())
}

/// Whether the request that failed with `e` may succeed if sent again later: a transport
/// error, a timeout, 408, 429, a 5xx, or a request a rate limit held back; not a refused
/// token or another 4xx, which say the request itself is wrong.
pub fn may_succeed_later(e: &Error) -> bool {
    match e {
        Error::Provider { auth: true, .. } => false,
        Error::Provider { message, .. } if message.starts_with(UNSENDABLE) => false,
        Error::Provider { message, .. } => match message.strip_prefix("HTTP ") {
            Some(rest) => rest
                .get(..3)
                .and_then(|code| code.parse::<u16>().ok())
                .is_none_or(|code| matches!(code, 408 | 429 | 500..=599)),
            None => true,
        },
        _ => false,
    }
}

/// How long a client pauses after a secondary rate limit that names no time: GitHub asks
/// for at least a minute.
pub const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The longest rate-limit pause taken from a response; a longer demanded one is ignored.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(24 * 60 * 60);

/// A refusal that certainly did nothing: a rate limit (429, or a 403 that says so).
fn refused_undone(resp: &Response) -> bool {
    resp.status == 429 || (resp.status == 403 && is_rate_limited(resp))
}

/// Says in a request's error that it was not resent because it may have taken effect.
fn not_resent(e: Error) -> Error {
    match e {
        Error::Provider {
            provider,
            operation,
            object,
            message,
            auth,
        } => Error::Provider {
            provider,
            operation,
            object,
            message: format!("{message}; not resent, as it may have taken effect"),
            auth,
        },
        other => other,
    }
}

/// Why an attempt brought no response.
enum Failure {
    /// The request did not complete.
    Transport(reqwest::Error),
    /// The body passed the policy's limit (bytes).
    TooLarge(usize),
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Self {
        Failure::Transport(e)
    }
}

fn describe_transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    }
}

/// A short message from an error body (`message` of a JSON body), if any.
fn error_detail(body: &[u8]) -> String {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return String::new(),
    };
    let msg = v
        .get("message")
        .or_else(|| {
            v.get("odata.error")
                .and_then(|e| e.get("message"))
                .and_then(|m| m.get("value"))
        })
        .and_then(|m| m.as_str());
    match msg {
        Some(m) => format!(": {}", m.chars().take(200).collect::<String>()),
        None => String::new(),
    }
}

fn is_rate_limited(resp: &Response) -> bool {
    resp.header("retry-after").is_some()
        || remaining(resp) == Some("0")
        || names_secondary_limit(resp)
}

/// GitHub's secondary rate limits may come as a 403 with neither header, only a message.
fn names_secondary_limit(resp: &Response) -> bool {
    matches!(resp.status, 403 | 429)
        && String::from_utf8_lossy(&resp.body)
            .to_ascii_lowercase()
            .contains("secondary rate limit")
}

/// The requests left in the window: `x-ratelimit-remaining` (GitHub), else
/// `RateLimit-Remaining` (GitLab).
fn remaining(resp: &Response) -> Option<&str> {
    resp.header("x-ratelimit-remaining")
        .or_else(|| resp.header("ratelimit-remaining"))
        .map(str::trim)
}

/// When the window resets, in epoch seconds: `x-ratelimit-reset` (GitHub), else
/// `RateLimit-Reset` (GitLab).
fn reset_header(resp: &Response) -> Option<&str> {
    resp.header("x-ratelimit-reset")
        .or_else(|| resp.header("ratelimit-reset"))
}

/// The wait until the rate limit's reset (epoch seconds), at least a second.
fn reset_wait(resp: &Response) -> Option<Duration> {
    let reset = reset_header(resp)?.trim().parse::<i64>().ok()?;
    Some(Duration::from_secs(
        reset.saturating_sub(Utc::now().timestamp()).max(1) as u64,
    ))
}

/// How long to wait before retrying this response, or `None` when it is final.
fn retry_wait(resp: &Response, attempt: u32, policy: &Policy) -> Option<Duration> {
    let retryable = matches!(resp.status, 408 | 429 | 500 | 502 | 503 | 504)
        || (resp.status == 403 && is_rate_limited(resp));
    if !retryable {
        return None;
    }
    if let Some(after) = resp.header("retry-after").and_then(parse_retry_after) {
        return Some(after);
    }
    if remaining(resp) == Some("0")
        && let Some(wait) = reset_wait(resp)
    {
        return Some(wait);
    }
    if names_secondary_limit(resp) {
        // GitHub asks for at least a minute when it names no time.
        return Some(backoff(attempt, policy).max(SECONDARY_LIMIT_WAIT.min(policy.max_delay)));
    }
    Some(backoff(attempt, policy))
}

/// `Retry-After` as seconds or an HTTP date. Nonsense (negative, NaN) is `None`; a wait
/// too long to represent saturates, and the caller's policy then refuses to wait for it.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        return Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

/// Exponential backoff with full jitter: a random wait in [base·2ⁿ/2, base·2ⁿ].
fn backoff(attempt: u32, policy: &Policy) -> Duration {
    let cap = policy
        .base_delay
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_delay);
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let frac = 0.5 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) / 2.0;
    cap.mul_f64(frac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// Mounts on `server` an answer `first` to the first request to `route`, then `then` to
    /// every later one.
    async fn once_then(
        server: &MockServer,
        route: &str,
        first: ResponseTemplate,
        then: ResponseTemplate,
    ) {
        Mock::given(path(route))
            .respond_with(first)
            .up_to_n_times(1)
            .mount(server)
            .await;
        Mock::given(path(route))
            .respond_with(then)
            .mount(server)
            .await;
    }

    fn fast() -> Policy {
        Policy {
            base_delay: Duration::from_millis(5),
            timeout: Duration::from_secs(5),
            ..Policy::default()
        }
    }

    #[tokio::test]
    async fn failures_that_may_pass_later_are_told_from_requests_that_are_wrong() {
        let server = MockServer::start().await;
        for code in [400, 401, 403, 404, 408, 409, 422, 429, 500, 503] {
            Mock::given(path(format!("/{code}")))
                .respond_with(ResponseTemplate::new(code).set_body_string("{\"message\": \"no\"}"))
                .mount(&server)
                .await;
        }
        let client = HttpClient::with_policy(
            "webhook 127.0.0.1",
            Auth::None,
            Policy {
                max_retries: 0,
                ..fast()
            },
        )
        .unwrap();
        let mut later = Vec::new();
        for code in [400, 401, 403, 404, 408, 409, 422, 429, 500, 503] {
            let url = format!("{}/{code}", server.uri());
            let e = client
                .send(Request::get(url, "post", "x"))
                .await
                .unwrap_err();
            if may_succeed_later(&e) {
                later.push(code);
            }
        }
        assert_eq!(later, [408, 429, 500, 503]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let refused = client
            .send(Request::get(
                format!("http://127.0.0.1:{port}/"),
                "post",
                "x",
            ))
            .await
            .unwrap_err();
        assert!(may_succeed_later(&refused), "{refused}");
        assert!(!may_succeed_later(&Error::invalid("url", "bad")));
    }

    #[test]
    fn a_request_prints_no_header_value_body_or_query() {
        let r = Request::new(
            Method::POST,
            "https://fabrikam.table.core.windows.net/runs()?sv=2024&sig=c2lnbmF0dXJl",
            "exchange token",
            "workload identity",
        )
        .header("authorization", "Bearer eyJ.app-token")
        .header("x-identity-header", "a1b2c3-identity-header")
        .body(b"client_assertion=eyJ.sa-token".to_vec());
        let shown = format!("{r:?}");
        for secret in [
            "eyJ.app-token",
            "a1b2c3",
            "eyJ.sa-token",
            "c2lnbmF0dXJl",
            "sv=2024",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        for said in [
            "POST",
            "runs()?…",
            "authorization",
            "x-identity-header",
            "exchange token",
        ] {
            assert!(shown.contains(said), "{said} not in {shown}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let auth = Auth::Basic {
            user: String::new(),
            secret: Secret::new("pat-abc123"),
        };
        let client = HttpClient::new("azure-devops", auth).unwrap();
        let shown = format!("{client:?} {}", Secret::new("pat-abc123"));
        assert!(!shown.contains("pat-abc123"), "{shown}");
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn hostile_retry_after_values_never_panic() {
        for v in [
            "1e20",
            "1e400",
            "-1",
            "-0.5",
            "NaN",
            "inf",
            "-inf",
            "18446744073709551616",
        ] {
            let parsed = parse_retry_after(v);
            assert!(
                parsed.is_none() || parsed >= Some(Duration::from_secs(u64::MAX / 2)),
                "{v} parsed as {parsed:?}"
            );
        }
        assert_eq!(parse_retry_after("1e20"), Some(Duration::MAX));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        let far = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT").unwrap();
        assert!(far > Duration::from_secs(200 * 365 * 86_400));
    }

    #[tokio::test]
    async fn a_huge_retry_after_on_any_response_is_harmless() {
        let server = MockServer::start().await;
        Mock::given(path("/ok"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("retry-after", "1e20")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", "9223372036854775807")
                    .set_body_string("[1]"),
            )
            .mount(&server)
            .await;
        Mock::given(path("/busy"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1e20"))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("github", Auth::None, fast()).unwrap();
        let v: Vec<u8> = client
            .get_json(&format!("{}/ok", server.uri()), "get", "ok")
            .await
            .unwrap();
        assert_eq!(v, vec![1]);
        let started = std::time::Instant::now();
        let err = client
            .send(Request::get(
                format!("{}/busy", server.uri()),
                "get",
                "busy",
            ))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTTP 429"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "waited for a demanded eon"
        );
    }

    #[tokio::test]
    async fn every_request_is_counted_by_provider_and_status_retries_included() {
        let server = MockServer::start().await;
        once_then(
            &server,
            "/flaky",
            ResponseTemplate::new(503),
            ResponseTemplate::new(200).set_body_string("[2]"),
        )
        .await;
        // A provider name of this test alone: the counts are the whole process's.
        let name = "counting-provider 127.0.0.1";
        let client = HttpClient::with_policy(name, Auth::None, fast()).unwrap();
        let v: Vec<u8> = client
            .get_json(&format!("{}/flaky", server.uri()), "get", "flaky")
            .await
            .unwrap();
        assert_eq!(v, vec![2]);
        let closed = HttpClient::with_policy(
            name,
            Auth::None,
            Policy {
                max_retries: 0,
                ..fast()
            },
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(
            closed
                .send(Request::get(
                    format!("http://127.0.0.1:{port}/"),
                    "get",
                    "x"
                ))
                .await
                .is_err()
        );
        let mine: Vec<(String, u64)> = crate::request_counts::request_counts()
            .into_iter()
            .filter(|c| c.provider == name)
            .map(|c| (c.status, c.count))
            .collect();
        assert_eq!(
            mine,
            [
                ("error".to_string(), 1),
                ("200".to_string(), 1),
                ("503".to_string(), 1)
            ]
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_an_error_naming_provider_and_limit() {
        let server = MockServer::start().await;
        Mock::given(path("/big"))
            .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
            .mount(&server)
            .await;
        Mock::given(path("/small"))
            .respond_with(ResponseTemplate::new(200).set_body_string("[1]"))
            .mount(&server)
            .await;
        let policy = Policy {
            max_body_bytes: 1024,
            ..fast()
        };
        let client = HttpClient::with_policy("azure-devops", Auth::None, policy).unwrap();
        let err = client
            .send(Request::get(
                format!("{}/big", server.uri()),
                "get builds",
                "ids 1",
            ))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("azure-devops"), "{err}");
        assert!(err.contains("1024 bytes"), "{err}");
        let v: Vec<u8> = client
            .get_json(&format!("{}/small", server.uri()), "get", "small")
            .await
            .unwrap();
        assert_eq!(v, vec![1]);
    }

    #[test]
    fn the_default_body_limit_is_32_mib() {
        assert_eq!(Policy::default().max_body_bytes, 32 * 1024 * 1024);
    }

    #[tokio::test]
    async fn retries_a_429_after_retry_after_then_succeeds() {
        let server = MockServer::start().await;
        once_then(
            &server,
            "/x",
            ResponseTemplate::new(429).insert_header("retry-after", "1"),
            ResponseTemplate::new(200).set_body_string("{\"ok\":1}"),
        )
        .await;
        let client = HttpClient::with_policy("test", Auth::None, fast()).unwrap();
        let started = std::time::Instant::now();
        let v: serde_json::Value = client
            .get_json(&format!("{}/x", server.uri()), "get", "x")
            .await
            .unwrap();
        assert_eq!(v["ok"], 1);
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "Retry-After was not honored"
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_response_says_how_many_attempts_it_took() {
        let server = MockServer::start().await;
        once_then(
            &server,
            "/w",
            ResponseTemplate::new(503),
            ResponseTemplate::new(201),
        )
        .await;
        let client = HttpClient::with_policy("test", Auth::None, fast()).unwrap();
        let url = format!("{}/w", server.uri());
        assert_eq!(
            client
                .send(Request::new(Method::POST, &url, "insert", "w"))
                .await
                .unwrap()
                .attempts(),
            2
        );
        assert_eq!(
            client
                .send(Request::new(Method::POST, &url, "insert", "w"))
                .await
                .unwrap()
                .attempts(),
            1
        );
    }

    #[tokio::test]
    async fn a_500_then_success_is_retried() {
        let server = MockServer::start().await;
        Mock::given(path("/y"))
            .respond_with(ResponseTemplate::new(500))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(path("/y"))
            .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("test", Auth::None, fast()).unwrap();
        let v: Vec<u8> = client
            .get_json(&format!("{}/y", server.uri()), "get", "y")
            .await
            .unwrap();
        assert!(v.is_empty());
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_rejected_token_names_provider_and_object_but_not_the_token() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401))
            .mount(&server)
            .await;
        let auth = Auth::Bearer(Secret::new("ghp_secret"));
        let client = HttpClient::with_policy("github api.github.com", auth, fast()).unwrap();
        let e = client
            .get_json::<serde_json::Value>(
                &format!("{}/z", server.uri()),
                "get run",
                "fabrikam/frontend#7",
            )
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Provider { auth: true, .. }));
        assert!(
            msg.contains("github api.github.com")
                && msg.contains("fabrikam/frontend#7")
                && msg.contains("token was rejected"),
            "{msg}"
        );
        assert!(!msg.contains("ghp_secret"));
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "auth errors are not retried"
        );
    }

    #[tokio::test]
    async fn a_malformed_body_is_a_clear_error() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("p", Auth::None, fast()).unwrap();
        let e = client
            .get_json::<serde_json::Value>(&server.uri(), "get builds", "ids 1")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("malformed response body") && e.contains("get builds"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_spent_rate_limit_holds_back_the_next_request_until_reset() {
        let server = MockServer::start().await;
        let reset = (Utc::now().timestamp() + 2).to_string();
        Mock::given(path("/a"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.as_str())
                    .set_body_string("{}"),
            )
            .mount(&server)
            .await;
        Mock::given(path("/b"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("github", Auth::None, fast()).unwrap();
        let other = client.clone();
        client
            .get_json::<serde_json::Value>(&format!("{}/a", server.uri()), "get", "a")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        other
            .get_json::<serde_json::Value>(&format!("{}/b", server.uri()), "get", "b")
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "the next request did not wait for the reset"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            2,
            "nothing was sent while the limit was spent"
        );
    }

    #[tokio::test]
    async fn gitlabs_ratelimit_headers_hold_back_the_next_request_too() {
        let server = MockServer::start().await;
        let reset = (Utc::now().timestamp() + 2).to_string();
        Mock::given(path("/a"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("RateLimit-Limit", "2000")
                    .insert_header("RateLimit-Remaining", "0")
                    .insert_header("RateLimit-Reset", reset.as_str())
                    .set_body_string("{}"),
            )
            .mount(&server)
            .await;
        Mock::given(path("/b"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("gitlab", Auth::None, fast()).unwrap();
        client
            .get_json::<serde_json::Value>(&format!("{}/a", server.uri()), "get", "a")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        client
            .get_json::<serde_json::Value>(&format!("{}/b", server.uri()), "get", "b")
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "the next request did not wait for RateLimit-Reset"
        );
    }

    #[tokio::test]
    async fn a_success_azure_devops_delayed_holds_back_the_next_request_for_retry_after() {
        let server = MockServer::start().await;
        // A delayed request as Azure DevOps answers it (docs: Rate limits, HTTP headers).
        Mock::given(path("/delayed"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Retry-After", "1")
                    .insert_header("X-RateLimit-Resource", "ATCPU")
                    .insert_header("X-RateLimit-Delay", "0.500")
                    .insert_header("X-RateLimit-Limit", "200")
                    .insert_header("X-RateLimit-Remaining", "12")
                    .set_body_string("{}"),
            )
            .mount(&server)
            .await;
        // Another server's Retry-After on a success means nothing, with GitHub's
        // `x-ratelimit-resource`, sent on every answer, too.
        Mock::given(path("/plain"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Retry-After", "1")
                    .insert_header("x-ratelimit-resource", "core")
                    .insert_header("x-ratelimit-remaining", "4999")
                    .set_body_string("{}"),
            )
            .mount(&server)
            .await;
        Mock::given(path("/next"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("azure-devops", Auth::None, fast()).unwrap();
        let get = |p: &str| {
            let url = format!("{}/{p}", server.uri());
            let client = client.clone();
            async move {
                client
                    .get_json::<serde_json::Value>(&url, "get", "next")
                    .await
                    .unwrap();
            }
        };
        get("plain").await;
        let started = std::time::Instant::now();
        get("next").await;
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "waited for nothing"
        );
        get("delayed").await;
        let started = std::time::Instant::now();
        get("next").await;
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "the next request did not wait for the delayed request's Retry-After"
        );
    }

    #[tokio::test]
    async fn a_secondary_limit_named_only_in_the_message_is_retried_not_an_auth_error() {
        let server = MockServer::start().await;
        let body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}"#;
        once_then(
            &server,
            "/s",
            ResponseTemplate::new(403).set_body_string(body),
            ResponseTemplate::new(200).set_body_string("[1]"),
        )
        .await;
        let policy = Policy {
            max_delay: Duration::from_millis(50),
            ..fast()
        };
        let client = HttpClient::with_policy("github", Auth::None, policy).unwrap();
        let v: Vec<u8> = client
            .get_json(&format!("{}/s", server.uri()), "get", "s")
            .await
            .unwrap();
        assert_eq!(v, vec![1]);
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_exhausted_primary_limit_says_when_it_resets() {
        let server = MockServer::start().await;
        let reset = (Utc::now().timestamp() + 3600).to_string();
        let body = r#"{"message":"API rate limit exceeded for user ID 1."}"#;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(403)
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.as_str())
                    .set_body_string(body),
            )
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("github", Auth::None, fast()).unwrap();
        let e = client
            .get_json::<serde_json::Value>(&server.uri(), "list runs", "fabrikam/web")
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Provider { auth: false, .. }), "{msg}");
        assert!(
            msg.contains("API rate limit exceeded") && msg.contains("resets at"),
            "{msg}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "a reset an hour away is not waited for"
        );
    }

    #[tokio::test]
    async fn a_limit_resetting_beyond_max_delay_fails_later_requests_unsent() {
        let server = MockServer::start().await;
        let reset = Utc::now().timestamp() + 3600;
        Mock::given(path("/a"))
            .respond_with(
                ResponseTemplate::new(403)
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                    .set_body_string(r#"{"message":"API rate limit exceeded"}"#),
            )
            .mount(&server)
            .await;
        Mock::given(path("/b"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("github", Auth::None, fast()).unwrap();
        let other = client.clone();
        assert!(
            client
                .send(Request::get(format!("{}/a", server.uri()), "get", "a"))
                .await
                .is_err()
        );
        let started = std::time::Instant::now();
        let e = other
            .send(Request::get(format!("{}/b", server.uri()), "get", "b"))
            .await
            .unwrap_err();
        let msg = e.to_string();
        let host = server.address().to_string();
        let at = DateTime::<Utc>::from_timestamp(reset, 0).unwrap();
        assert!(matches!(e, Error::Provider { auth: false, .. }), "{msg}");
        assert!(
            msg.contains("not sent")
                && msg.contains(&host)
                && [at, at + chrono::Duration::seconds(1)]
                    .iter()
                    .any(|t| msg.contains(&t.format("%H:%M").to_string())),
            "{msg}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(
            client
                .rate_limited_until()
                .is_some_and(|t| t > Utc::now() + chrono::Duration::minutes(59))
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refusals_by_a_rate_limit_are_told_from_other_failures() {
        let server = MockServer::start().await;
        let secondary = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
        for (route, answer) in [
            (
                "/secondary",
                ResponseTemplate::new(403).set_body_string(secondary),
            ),
            ("/too-many", ResponseTemplate::new(429)),
            ("/bad-gateway", ResponseTemplate::new(502)),
            (
                "/forbidden",
                ResponseTemplate::new(403)
                    .set_body_string(r#"{"message":"Resource not accessible by integration"}"#),
            ),
        ] {
            Mock::given(path(route))
                .respond_with(answer)
                .mount(&server)
                .await;
        }
        let policy = Policy {
            max_retries: 0,
            ..fast()
        };
        let refused = |route: &str| {
            let client = HttpClient::with_policy("github", Auth::None, policy.clone()).unwrap();
            let url = format!("{}{route}", server.uri());
            async move {
                let e = client
                    .send(Request::get(url, "get", "x"))
                    .await
                    .unwrap_err();
                is_rate_limit_refusal(&e)
            }
        };
        assert!(refused("/secondary").await, "a secondary limit");
        assert!(refused("/too-many").await, "a 429");
        assert!(!refused("/bad-gateway").await, "a 502 is no rate limit");
        assert!(
            !refused("/forbidden").await,
            "a refused token is no rate limit"
        );
        let unsent = Error::provider(
            "github",
            "get",
            "x",
            format!("{NOT_SENT}h is spent until t"),
        );
        assert!(is_rate_limit_refusal(&unsent));
    }

    #[tokio::test]
    async fn a_spent_budget_holds_back_only_its_own_requests() {
        let server = MockServer::start().await;
        let reset = Utc::now().timestamp() + 3600;
        Mock::given(path("/api/graphql"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("x-ratelimit-resource", "graphql")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                    .set_body_string("{}"),
            )
            .mount(&server)
            .await;
        Mock::given(path("/api/repos/o/r"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("github", Auth::None, fast()).unwrap();
        let graphql = |token: &str| {
            Request::new(
                Method::POST,
                format!("{}/api/graphql", server.uri()),
                "q",
                "o",
            )
            .header("authorization", &format!("Bearer {token}"))
        };
        client.send(graphql("installation-1")).await.unwrap();
        let e = client.send(graphql("installation-1")).await.unwrap_err();
        assert!(e.to_string().contains("not sent"), "the spent budget: {e}");
        // The REST budget of that token and the GraphQL budget of another installation are
        // counted apart.
        let rest = Request::get(format!("{}/api/repos/o/r", server.uri()), "get", "o/r")
            .header("authorization", "Bearer installation-1");
        client.send(rest).await.expect("another kind of API");
        client
            .send(graphql("installation-2"))
            .await
            .expect("another installation");
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
        assert!(client.rate_limited_until().is_some());
    }

    #[tokio::test]
    async fn a_secondary_limit_named_only_in_the_message_pauses_the_whole_client() {
        let server = MockServer::start().await;
        let body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
        Mock::given(path("/s"))
            .respond_with(ResponseTemplate::new(403).set_body_string(body))
            .mount(&server)
            .await;
        Mock::given(path("/b"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&server)
            .await;
        let policy = Policy {
            max_retries: 0,
            max_delay: Duration::from_secs(1),
            ..fast()
        };
        let client = HttpClient::with_policy("github", Auth::None, policy).unwrap();
        let e = client
            .send(Request::get(format!("{}/s", server.uri()), "get", "s"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("secondary rate limit"), "{e}");
        let started = std::time::Instant::now();
        client
            .send(Request::get(format!("{}/b", server.uri()), "get", "b"))
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "the next request did not wait for the secondary limit"
        );
    }

    #[test]
    fn the_secondary_limit_pause_is_a_minute_under_the_default_policy() {
        assert_eq!(
            SECONDARY_LIMIT_WAIT.min(Policy::default().max_delay),
            Duration::from_secs(60)
        );
    }

    #[tokio::test]
    async fn a_request_marked_no_retry_is_sent_once_after_a_5xx() {
        let server = MockServer::start().await;
        once_then(
            &server,
            "/w",
            ResponseTemplate::new(502),
            ResponseTemplate::new(201),
        )
        .await;
        let client = HttpClient::with_policy("test", Auth::None, fast()).unwrap();
        let url = format!("{}/w", server.uri());
        let e = client
            .send(Request::new(Method::POST, &url, "create", "w").no_retry())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("HTTP 502") && e.contains("not resent"), "{e}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_request_marked_no_retry_is_still_retried_after_a_429() {
        let server = MockServer::start().await;
        once_then(
            &server,
            "/w",
            ResponseTemplate::new(429).insert_header("retry-after", "0"),
            ResponseTemplate::new(201),
        )
        .await;
        let client = HttpClient::with_policy("test", Auth::None, fast()).unwrap();
        let url = format!("{}/w", server.uri());
        let r = client
            .send(Request::new(Method::POST, &url, "create", "w").no_retry())
            .await
            .unwrap();
        assert_eq!((r.status, r.attempts()), (201, 2));
    }

    #[tokio::test]
    async fn a_request_marked_no_retry_is_not_resent_after_a_timeout() {
        let server = MockServer::start().await;
        Mock::given(path("/slow"))
            .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_millis(500)))
            .mount(&server)
            .await;
        let policy = Policy {
            timeout: Duration::from_millis(100),
            ..fast()
        };
        let client = HttpClient::with_policy("test", Auth::None, policy).unwrap();
        let url = format!("{}/slow", server.uri());
        let e = client
            .send(Request::new(Method::POST, &url, "create", "w").no_retry())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("timed out") && e.contains("not resent"), "{e}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn passed_statuses_come_back_to_the_caller() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        let client = HttpClient::with_policy("p", Auth::None, fast()).unwrap();
        let r = client
            .send(Request::get(server.uri(), "get", "x").pass(&[404]))
            .await
            .unwrap();
        assert_eq!(r.status, 404);
        let e = client
            .send(Request::get(server.uri(), "get", "x"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("HTTP 404"), "{e}");
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_when_the_client_says_so_and_never_carries_the_token() {
        let elsewhere = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("[1]"))
            .mount(&elsewhere)
            .await;
        let server = MockServer::start().await;
        Mock::given(path("/moved"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/stolen", elsewhere.uri()).as_str()),
            )
            .mount(&server)
            .await;
        let token = || Auth::Bearer(Secret::new("argo-secret-token"));
        let url = format!("{}/moved", server.uri());

        let stay = Connection {
            follow_redirects: false,
            ..Connection::default()
        };
        let client = HttpClient::with_connection("argocd", token(), fast(), stay).unwrap();
        let r = client
            .send(Request::get(&url, "list applications", "").pass(&[302]))
            .await
            .unwrap();
        assert_eq!(r.status, 302);
        assert!(elsewhere.received_requests().await.unwrap().is_empty());

        // Followed (the default), the other host gets the request without the token.
        let client = HttpClient::with_policy("argocd", token(), fast()).unwrap();
        let v: Vec<u8> = client.get_json(&url, "list", "").await.unwrap();
        assert_eq!(v, vec![1]);
        let got = elsewhere.received_requests().await.unwrap();
        assert_eq!(got.len(), 1);
        assert!(
            !got[0].headers.contains_key("authorization"),
            "the token went to another host"
        );
        let first = &server.received_requests().await.unwrap()[0];
        assert_eq!(
            first.headers.get("authorization").unwrap(),
            "Bearer argo-secret-token"
        );
    }

    /// A server answering 200 to `/x`, and that URL.
    async fn answering_200() -> (MockServer, String) {
        let server = MockServer::start().await;
        Mock::given(path("/x"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let url = format!("{}/x", server.uri());
        (server, url)
    }

    #[tokio::test]
    async fn a_header_http_cannot_carry_fails_the_request_instead_of_being_dropped() {
        let (server, url) = answering_200().await;
        let client = HttpClient::with_policy("github", Auth::None, fast()).unwrap();

        // A required header with a line break: nothing is sent, the error names the header
        // and not its value.
        let req = Request::get(&url, "get repo", "fabrikam/api")
            .header("x-api-key", "k3y-v4lue\r\nx-other: 1")
            .header("accept", "application/json");
        let e = client.send(req).await.unwrap_err().to_string();
        assert!(
            e.contains("x-api-key") && e.contains("cannot be sent"),
            "{e}"
        );
        assert!(!e.contains("k3y-v4lue"), "{e}");
        let bad_name = Request::get(&url, "get repo", "fabrikam/api").header("x y\n", "1");
        let e = client.send(bad_name).await.unwrap_err();
        assert!(!may_succeed_later(&e), "{e}");
        let e = e.to_string();
        assert!(e.contains("x y\\n"), "{e}");
        // A client's own header too, on every request.
        let with_bad_default = HttpClient::with_policy("gitlab", Auth::None, fast())
            .unwrap()
            .default_header("private-token", "glpat-s3cr3t\n");
        let e = with_bad_default
            .send(Request::get(&url, "get project", "group/api"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("private-token") && !e.contains("s3cr3t"), "{e}");
        assert!(server.received_requests().await.unwrap().is_empty());

        // A condition the request can do without is dropped, and the request is sent.
        let req = Request::get(&url, "get repo", "fabrikam/api")
            .optional_header("if-none-match", "\"W/1\ncached\"")
            .header("accept", "application/json");
        assert_eq!(client.send(req).await.unwrap().status, 200);
        let got = server.received_requests().await.unwrap();
        assert_eq!(got.len(), 1);
        assert!(!got[0].headers.contains_key("if-none-match"));
        assert_eq!(got[0].headers["accept"], "application/json");
        // A valid one is sent.
        let req = Request::get(&url, "get repo", "").optional_header("if-none-match", "\"e1\"");
        client.send(req).await.unwrap();
        assert_eq!(
            server.received_requests().await.unwrap()[1].headers["if-none-match"],
            "\"e1\""
        );
    }

    #[tokio::test]
    async fn a_token_http_cannot_carry_is_refused_without_showing_it() {
        let (server, url) = answering_200().await;
        // A token read with a Windows line ending.
        let auth = Auth::Bearer(Secret::new("ghp_s3cr3t\r"));
        let client = HttpClient::with_policy("github", auth, fast()).unwrap();
        let e = client
            .send(Request::get(&url, "get repo", "fabrikam/api"))
            .await
            .unwrap_err();
        assert!(!may_succeed_later(&e), "{e}");
        let e = e.to_string();
        assert!(
            e.contains("the token") && e.contains("cannot be sent"),
            "{e}"
        );
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[test]
    fn a_url_is_under_its_base_only_once_resolved_as_it_is_sent() {
        let api = "https://ghe.example.com/api/v3";
        let under = |url: &str| url_under(url, api);
        assert_eq!(
            under("https://ghe.example.com/api/v3/repos/o/r/actions/runs?page=2").as_deref(),
            Some("https://ghe.example.com/api/v3/repos/o/r/actions/runs?page=2")
        );
        assert!(under("https://GHE.example.com:443/api/v3?page=2").is_some());
        // Dot segments, plain or percent-encoded, resolve before the comparison.
        assert_eq!(
            under("https://ghe.example.com/api/v3/repos/a/b/../../c/d/pulls").as_deref(),
            Some("https://ghe.example.com/api/v3/repos/c/d/pulls")
        );
        for elsewhere in [
            "https://ghe.example.com/api/v3/../../login",
            "https://ghe.example.com/api/v3/%2e%2e/%2E%2E/settings/tokens",
            "https://ghe.example.com/api/v3x/repos",
            "https://ghe.example.com/api",
            "http://ghe.example.com/api/v3/repos",
            "https://ghe.example.com:8443/api/v3/repos",
            "https://ghe.example.com.evil.example/api/v3/repos",
            "https://user:pw@ghe.example.com/api/v3/repos",
            "https://ghe.example.com\\@evil.example/api/v3/repos",
            "/api/v3/repos",
        ] {
            let resolved = under(elsewhere);
            let stays = resolved.as_deref().is_some_and(|u| {
                u.starts_with("https://ghe.example.com/api/v3/") && !u.contains("/../")
            });
            assert!(resolved.is_none() || stays, "{elsewhere} -> {resolved:?}");
        }
        assert!(under("https://ghe.example.com/api/v3/../../login").is_none());
        assert!(under("https://ghe.example.com/api/v3/%2e%2e/x").is_none());
        // A base at the root of its host.
        assert!(url_under("https://api.github.com/repos/o/r", "https://api.github.com").is_some());
        assert!(url_under("https://api.github.com.evil/x", "https://api.github.com").is_none());
    }
}
