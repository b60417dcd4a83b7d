//! Notifications: after each refresh, the events between the last snapshot and the new one
//! ([`spektate_core::events::Detector`]) go to the destinations the operator configured:
//! webhooks in Slack, Teams or plain JSON format (a deployment live in a cluster, a failed
//! step, an approval pull request waiting too long), a CDEvents sink (`service.deployed` /
//! `service.upgraded`), and GitHub Deployments statuses.
//!
//! Each destination has a bounded queue ([`DEFAULT_QUEUE`] events) and a worker of its own:
//! a slow or failing destination delays only itself, never a refresh or another destination.
//! Requests go through the shared HTTP helper (timeouts, retries with backoff,
//! `Retry-After`); a failure is logged with the destination's host, never its URL, which
//! often holds the webhook's secret, and a webhook's or CDEvents sink's event is sent again
//! later when the failure may pass ([`DEFAULT_RESEND_AFTER`]). Destinations come from the
//! server's configuration only; nothing a record says chooses where a message goes.

mod cdevents;
mod message;
mod plain;
mod slack;
mod teams;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use spektate_core::RecordStore;
use spektate_core::events::{
    DeploymentStatuses, Detector, Event, EventKind, RepoScope, StatusWriter,
};
use spektate_core::http::{Auth, HttpClient, Method, Policy, Request};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Error, Shared};

/// Events waiting per destination; more are dropped with a log line.
pub const DEFAULT_QUEUE: usize = 1_000;

/// How long after a failed send (the HTTP helper's retries spent) an event is sent again,
/// attempt by attempt: a destination down for up to about 80 minutes misses nothing.
pub const DEFAULT_RESEND_AFTER: [Duration; 4] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(60 * 60),
];

/// The largest answer read from a destination.
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// The shortest `--notify-pr-wait` accepted.
pub const MIN_PR_WAIT: Duration = Duration::from_secs(1);

/// How a webhook's messages are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Slack incoming webhook: `text` and Block Kit `blocks`.
    Slack,
    /// Microsoft Teams (Workflows webhook): a message with an Adaptive Card attachment.
    Teams,
    /// The event as JSON.
    Json,
}

impl Format {
    /// `slack`, `teams` or `json`.
    pub fn parse(word: &str) -> Result<Self, Error> {
        match word.trim().to_ascii_lowercase().as_str() {
            "slack" => Ok(Format::Slack),
            "teams" => Ok(Format::Teams),
            "json" => Ok(Format::Json),
            _ => Err(Error::invalid(
                "notification format",
                format!("'{word}' is not one of slack, teams, json"),
            )),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Format::Slack => "slack",
            Format::Teams => "teams",
            Format::Json => "json",
        }
    }
}

/// An `http(s)` URL, checked; errors show the scheme and host only.
#[derive(Clone, PartialEq, Eq)]
struct Destination {
    url: String,
    host: String,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.host)
    }
}

impl Destination {
    fn parse(field: &str, url: &str) -> Result<Self, Error> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            Error::invalid(field, format!("'{}' is not an http(s) URL", shown(url)))
        })?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit('@').next().unwrap_or_default();
        let scheme = scheme.to_ascii_lowercase();
        if !(scheme == "https" || scheme == "http") || host.is_empty() {
            return Err(Error::invalid(
                field,
                format!("'{}' is not an http(s) URL with a host", shown(url)),
            ));
        }
        if rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .contains('@')
        {
            return Err(Error::invalid(
                field,
                format!("{scheme}://{host}/...: put no user or password in the URL"),
            ));
        }
        Ok(Destination {
            url: url.to_string(),
            host: host.to_ascii_lowercase(),
        })
    }
}

/// What of a URL an error may show: scheme and host, the path (often a secret) elided.
fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = host.rsplit('@').next().unwrap_or_default();
            let more = rest.len() > host.len();
            format!("{scheme}://{host}{}", if more { "/..." } else { "" })
        }
        None => "(not a URL)".to_string(),
    }
}

/// A webhook and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    format: Format,
    to: Destination,
}

impl Webhook {
    /// `URL`, in `default` format, or `slack:URL`, `teams:URL`, `json:URL`.
    pub fn parse(spec: &str, default: Format) -> Result<Self, Error> {
        let spec = spec.trim();
        let (format, url) = match spec.split_once(':') {
            Some((word, rest)) if !rest.starts_with("//") => (Format::parse(word)?, rest),
            _ => (default, spec),
        };
        Ok(Webhook {
            format,
            to: Destination::parse("notification webhook", url)?,
        })
    }

    /// Its format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Its host (what logs name).
    pub fn host(&self) -> &str {
        &self.to.host
    }
}

/// Where notifications go, and when an approval pull request has waited too long.
#[derive(Clone)]
pub struct Notifications {
    webhooks: Vec<Webhook>,
    cdevents: Option<Destination>,
    github: Option<(Arc<dyn DeploymentStatuses>, RepoScope)>,
    pr_wait: Option<Duration>,
    link: Option<String>,
    queue: usize,
    resend_after: Vec<Duration>,
    policy: Policy,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            webhooks: Vec::new(),
            cdevents: None,
            github: None,
            pr_wait: None,
            link: None,
            queue: DEFAULT_QUEUE,
            resend_after: DEFAULT_RESEND_AFTER.to_vec(),
            policy: Policy {
                timeout: Duration::from_secs(10),
                max_retries: 4,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(60),
                concurrency: 1,
                max_body_bytes: MAX_ANSWER_BYTES,
            },
        }
    }
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications")
            .field("webhooks", &self.webhooks)
            .field("cdevents", &self.cdevents)
            .field("github", &self.github.as_ref().map(|(g, _)| g.name()))
            .field("pr_wait", &self.pr_wait)
            .finish()
    }
}

impl Notifications {
    /// No destinations yet.
    pub fn new() -> Self {
        Notifications::default()
    }

    /// Posts to `webhook` too.
    pub fn webhook(mut self, webhook: Webhook) -> Self {
        self.webhooks.push(webhook);
        self
    }

    /// Sends CDEvents `service.deployed` / `service.upgraded` to `url`.
    pub fn cdevents_sink(mut self, url: &str) -> Result<Self, Error> {
        self.cdevents = Some(Destination::parse("CDEvents sink", url)?);
        Ok(self)
    }

    /// Writes deployment statuses to `host` (GitHub) for the repositories it serves that
    /// `scope` allows for each deployment's partition.
    pub fn github_deployments(
        mut self,
        host: Arc<dyn DeploymentStatuses>,
        scope: RepoScope,
    ) -> Self {
        self.github = Some((host, scope));
        self
    }

    /// Tells when an approval pull request has waited longer than `wait` (at least
    /// [`MIN_PR_WAIT`]).
    pub fn pr_wait(mut self, wait: Duration) -> Result<Self, Error> {
        if wait < MIN_PR_WAIT {
            return Err(Error::invalid(
                "approval wait",
                format!("{wait:?} is shorter than a second"),
            ));
        }
        self.pr_wait = Some(wait);
        Ok(self)
    }

    /// The dashboard's public URL, linked from messages and GitHub environments.
    pub fn link(mut self, url: &str) -> Result<Self, Error> {
        self.link = Some(Destination::parse("dashboard link", url)?.url);
        Ok(self)
    }

    /// Events kept waiting per destination (at least one).
    pub fn queue(mut self, events: usize) -> Self {
        self.queue = events.max(1);
        self
    }

    /// How long after each failed send a webhook's or CDEvents sink's event is sent again
    /// ([`NOTIFY_RESEND_AFTER`](crate::NOTIFY_RESEND_AFTER)); empty: a failed event is only
    /// logged. At most [`Self::queue`] events of a destination wait to be sent again.
    pub fn resend_after(mut self, delays: &[Duration]) -> Self {
        self.resend_after = delays.to_vec();
        self
    }

    /// The timeouts and retries of every request (the default: 10 s, four retries).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Policy {
            max_body_bytes: policy.max_body_bytes.min(MAX_ANSWER_BYTES),
            concurrency: 1,
            ..policy
        };
        self
    }

    /// Whether there is nowhere to send anything.
    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.cdevents.is_none() && self.github.is_none()
    }

    /// A line for the start-up banner: `2 webhooks (slack, teams), CDEvents, GitHub
    /// Deployments`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.webhooks.is_empty() {
            let formats: Vec<&str> = self.webhooks.iter().map(|w| w.format.word()).collect();
            parts.push(format!(
                "{} webhook{} ({})",
                self.webhooks.len(),
                if self.webhooks.len() == 1 { "" } else { "s" },
                formats.join(", ")
            ));
        }
        if let Some(c) = &self.cdevents {
            parts.push(format!("CDEvents to {}", c.host));
        }
        if self.github.is_some() {
            parts.push("GitHub Deployments".to_string());
        }
        parts.join(", ")
    }

    /// Starts watching the refreshes of `partitions`, and the destinations' workers; all
    /// stop when the returned value is dropped.
    pub(crate) fn start(&self, partitions: Vec<Arc<Shared>>) -> Result<Running, Error> {
        let mut tasks = Vec::new();
        let mut sinks = Vec::new();
        let mut add = |name: String, kind: Kind, wants: fn(&EventKind) -> bool| {
            let (tx, rx) = mpsc::channel(self.queue);
            let resend = Resend::new(self.resend_after.clone(), self.queue);
            tasks.push(Abort(tokio::spawn(work(name.clone(), kind, rx, resend))));
            sinks.push(Sink { name, tx, wants });
        };
        let client = |name: &str| {
            HttpClient::with_policy(name, Auth::None, self.policy.clone())
                .map_err(|e| Error::invalid("notifications", e))
        };
        for (n, w) in self.webhooks.iter().enumerate() {
            let name = format!("{} webhook {} (#{})", w.format.word(), w.to.host, n + 1);
            let kind = Kind::Webhook {
                http: client(&format!("webhook {}", w.to.host))?,
                url: w.to.url.clone(),
                format: w.format,
                link: self.link.clone(),
            };
            add(name, kind, |k| !matches!(k, EventKind::Ready));
        }
        if let Some(c) = &self.cdevents {
            let kind = Kind::CdEvents {
                http: client(&format!("cdevents {}", c.host))?,
                url: c.url.clone(),
            };
            add(format!("CDEvents sink {}", c.host), kind, |k| {
                matches!(k, EventKind::Live { .. })
            });
        }
        if let Some((g, scope)) = &self.github {
            let writer =
                StatusWriter::new(g.clone(), scope.clone()).environment_url(self.link.as_deref());
            add(
                format!("deployment statuses on {}", g.name()),
                Kind::Statuses(Box::new(writer)),
                |k| !matches!(k, EventKind::ApprovalWaiting { .. }),
            );
        }
        let sinks = Arc::new(sinks);
        let started = Utc::now();
        let holder: Arc<str> = holder_name().into();
        for shared in partitions {
            let detector = Detector::new(started).pr_wait(self.pr_wait);
            tasks.push(Abort(tokio::spawn(watch(
                shared,
                detector,
                sinks.clone(),
                holder.clone(),
            ))));
        }
        Ok(Running { _tasks: tasks })
    }
}

/// Notifications being sent; they stop when this is dropped.
pub(crate) struct Running {
    _tasks: Vec<Abort>,
}

struct Abort(JoinHandle<()>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An event waiting to be told, with the store its server shares with others and the
/// server's name among them (the event is claimed there before it is sent).
struct Queued {
    event: Event,
    store: Arc<dyn RecordStore>,
    holder: Arc<str>,
}

/// A destination's queue.
struct Sink {
    name: String,
    tx: mpsc::Sender<Arc<Queued>>,
    wants: fn(&EventKind) -> bool,
}

impl Sink {
    fn offer(&self, q: &Arc<Queued>) {
        let e = &q.event;
        if !(self.wants)(&e.kind) {
            return;
        }
        match self.tx.try_send(q.clone()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => tracing::warn!(
                "notification to {} not sent: its queue is full; {} of deployment {} dropped",
                self.name,
                e.kind.word(),
                e.deployment.id()
            ),
            Err(mpsc::error::TrySendError::Closed(_)) => tracing::warn!(
                "notification to {} not sent: its worker stopped; {} of deployment {} dropped",
                self.name,
                e.kind.word(),
                e.deployment.id()
            ),
        }
    }
}

/// What a destination does with an event.
enum Kind {
    Webhook {
        http: HttpClient,
        url: String,
        format: Format,
        link: Option<String>,
    },
    CdEvents {
        http: HttpClient,
        url: String,
    },
    Statuses(Box<StatusWriter>),
}

/// The body a webhook of `format` gets for `e`.
pub(crate) fn webhook_body(format: Format, e: &Event, link: Option<&str>) -> serde_json::Value {
    let m = message::message(e);
    match format {
        Format::Slack => slack::body(&m, link),
        Format::Teams => teams::body(&m, link),
        Format::Json => plain::body(e, &m, link),
    }
}

impl Kind {
    async fn send(&self, e: &Event) -> spektate_core::Result<()> {
        let object = format!("{} of deployment {}", e.kind.word(), e.deployment.id());
        match self {
            Kind::Webhook {
                http,
                url,
                format,
                link,
            } => {
                let body = webhook_body(*format, e, link.as_deref());
                let req = Request::new(Method::POST, url.as_str(), "post notification", object)
                    .json(&body);
                http.send(req).await.map(drop)
            }
            Kind::CdEvents { http, url } => {
                let Some(event) = cdevents::cdevent(e) else {
                    tracing::debug!("no CDEvent for {object}: no image or HLD commit to name");
                    return Ok(());
                };
                let mut req =
                    Request::new(Method::POST, url.as_str(), "post CDEvent", object).json(&event);
                for (name, value) in cdevents::headers(&event) {
                    req = req.header(name, &value);
                }
                http.send(req).await.map(drop)
            }
            Kind::Statuses(writer) => writer.write(e).await.map(drop),
        }
    }
}

/// Sends each queued event in turn, if this server claims it for this destination; a failure
/// (after the helper's retries) is logged, and a webhook's or CDEvents sink's event that may
/// pass later is set aside to be sent again ([`Resend`]), while the events queued after it go
/// on.
async fn work(name: String, kind: Kind, mut rx: mpsc::Receiver<Arc<Queued>>, mut resend: Resend) {
    let mut warned = false;
    loop {
        let (q, attempt) = tokio::select! {
            biased;
            () = resend.due() => match resend.take() {
                Some(next) => next,
                None => continue,
            },
            q = rx.recv() => match q {
                Some(q) if claimed(&q, &name, &mut warned).await => (q, 0),
                Some(_) => continue,
                None => return,
            },
        };
        if let Err(err) = kind.send(&q.event).await {
            // A deployment status is the deployment's state, not a message: one written late
            // could undo a newer one, so it is not sent again; nor is a request the
            // destination refused as wrong.
            let again =
                !matches!(kind, Kind::Statuses(_)) && spektate_core::http::may_succeed_later(&err);
            resend.failed(&name, q, attempt, &err, again);
        }
    }
}

/// Events of one destination whose send failed, each with the time it is sent again:
/// bounded, so a destination that stays down holds at most as many events as its queue.
/// The claim made before the first attempt stays this server's, so no other server sends
/// them; events still set aside when the server stops are not sent.
struct Resend {
    after: Vec<Duration>,
    limit: usize,
    waiting: Vec<(tokio::time::Instant, usize, Arc<Queued>)>,
}

impl Resend {
    fn new(after: Vec<Duration>, limit: usize) -> Self {
        Resend {
            after,
            limit,
            waiting: Vec::new(),
        }
    }

    /// Resolves when the first event set aside is due; never while none is.
    async fn due(&self) {
        match self.waiting.iter().map(|(at, ..)| *at).min() {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    /// The first event due, with the number of its next attempt.
    fn take(&mut self) -> Option<(Arc<Queued>, usize)> {
        let now = tokio::time::Instant::now();
        let first = (0..self.waiting.len())
            .filter(|&i| self.waiting[i].0 <= now)
            .min_by_key(|&i| self.waiting[i].0)?;
        let (_, attempt, q) = self.waiting.swap_remove(first);
        Some((q, attempt))
    }

    /// Logs attempt `attempt`'s failure of `q`, and sets it aside when it is to be sent
    /// `again` and attempts are left.
    fn failed(
        &mut self,
        sink: &str,
        q: Arc<Queued>,
        attempt: usize,
        err: &spektate_core::Error,
        again: bool,
    ) {
        let (e, d) = (&q.event, &q.event.deployment);
        if !again {
            tracing::warn!("notification to {sink} failed: {err}");
            return;
        }
        let now = tokio::time::Instant::now();
        let due = self
            .after
            .get(attempt)
            .and_then(|delay| Some((now.checked_add(*delay)?, delay)));
        let Some((at, delay)) = due else {
            tracing::warn!(
                "notification to {sink} failed: {err}; {} of deployment {} dropped after {} \
                 attempts",
                e.kind.word(),
                d.id(),
                attempt + 1
            );
            return;
        };
        if self.waiting.len() >= self.limit {
            tracing::warn!(
                "notification to {sink} failed: {err}; {} of deployment {} dropped: {} events \
                 already wait to be sent again",
                e.kind.word(),
                d.id(),
                self.waiting.len()
            );
            return;
        }
        tracing::warn!(
            "notification to {sink} failed: {err}; {} of deployment {} is sent again in {}s",
            e.kind.word(),
            d.id(),
            delay.as_secs_f64()
        );
        self.waiting.push((at, attempt + 1, q));
    }
}

/// This server's name among the servers sharing its store: the process id and 64 random
/// bits, so two servers on one host differ too.
fn holder_name() -> String {
    let mut bits = [0u8; 8];
    if getrandom::fill(&mut bits).is_err() {
        bits = Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_le_bytes();
    }
    format!(
        "spektate-{}-{:016x}",
        std::process::id(),
        u64::from_le_bytes(bits)
    )
}

/// Whether this server tells `q` to destination `sink`: servers sharing the store claim each
/// event and destination in it just before sending, and the first to claim it sends it. An
/// event a server could not queue (its queue was full) or that it stopped before sending is
/// claimed by none, so another server sends it. When the store cannot be asked (a store
/// opened for reading, or down), the event is sent all the same: twice rather than never.
async fn claimed(q: &Queued, sink: &str, warned: &mut bool) -> bool {
    let (e, d) = (&q.event, &q.event.deployment);
    let key = format!("{}\n{}\n{sink}", d.id(), e.kind.key());
    match q.store.claim(d.partition(), &key, &q.holder).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::debug!(
                "{} of deployment {} is sent to {sink} by another server sharing the store",
                e.kind.word(),
                d.id()
            );
            false
        }
        Err(err) => {
            if !std::mem::replace(warned, true) {
                tracing::warn!(
                    "notifications to {sink} are not claimed in the store ({err}); every \
                     server sharing it sends them"
                );
            }
            true
        }
    }
}

/// After each refresh of a partition, hands the events of its new snapshot to the sinks.
async fn watch(
    shared: Arc<Shared>,
    mut detector: Detector,
    sinks: Arc<Vec<Sink>>,
    holder: Arc<str>,
) {
    let mut ended = shared.refresh.ended();
    let mut last = None;
    loop {
        let snapshot = shared.tracker.snapshot();
        if snapshot.refreshed_at.is_some() && snapshot.refreshed_at != last {
            last = snapshot.refreshed_at;
            let events = detector.observe(&snapshot.deployments, Utc::now());
            for event in events {
                let q = Arc::new(Queued {
                    event,
                    store: shared.tracker.store().clone(),
                    holder: holder.clone(),
                });
                for sink in sinks.iter() {
                    sink.offer(&q);
                }
            }
        }
        if ended.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
