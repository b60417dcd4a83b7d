//! The Spektate dashboard: one page where a team sees every deployment move from image to
//! cluster, and the JSON API behind it, served from a [`Tracker`].
//!
//! The page shows the columns of the reference dashboard (State, Service, Ring, Author, Image
//! Creation, Metadata Update, Approval Pull Request, Merged By, Ready to Deploy, Last Updated,
//! Synced Cluster), keeps its filters in the URL and updates in place. Its HTML, CSS and
//! JavaScript are embedded in the binary: nothing is fetched from a CDN or the network.
//!
//! Routes, relative to where the router is mounted:
//!
//! | route | what |
//! |---|---|
//! | `/` | the page |
//! | `/api/deployments` | deployments as JSON; the filters of `spektate get` as query parameters, plus `limit` (see [`DeploymentQuery`]) |
//! | `/api/status` | where each service runs, per service, ring and cluster, as JSON (`spektate status`); the page `/status.html` shows it as a grid |
//! | `/api/health` | whether the data is there, fresh and complete, and if not why ([`Health`]); `503` while the first refresh runs |
//! | `/assets/*` | the page's script, style sheet and icon |
//!
//! Serve it on its own, within the default [`Limits`] (header read timeout, idle timeout,
//! connection cap); [`Server::limits`] sets others:
//!
//! ```no_run
//! # async fn run(tracker: spektate_core::Tracker) -> Result<(), spektate_dashboard::Error> {
//! use std::time::Duration;
//! spektate_dashboard::serve(tracker, "127.0.0.1:4040".parse().unwrap(), Duration::from_secs(30)).await
//! # }
//! ```
//!
//! Or mount it in a service of your own, with a background refresh:
//!
//! ```no_run
//! # async fn run(tracker: spektate_core::Tracker) {
//! use std::time::Duration;
//! use spektate_dashboard::Dashboard;
//!
//! let dashboard = Dashboard::new(tracker).refresh_every(Duration::from_secs(30));
//! let _refresher = dashboard.spawn_refresher(); // stops when dropped
//! // The page is then at /spektate/index.html (/spektate redirects there).
//! let app = axum::Router::new().nest("/spektate", dashboard.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! A router without a refresher refreshes the tracker itself when a request finds the last
//! refresh older than the refresh interval, one refresh at a time.
//!
//! Each refresh runs as a task of its own: a refresh that panics is reported as a failed
//! one, and the background refresher's loop is restarted if it ever stops. Either makes
//! `/api/health` say `degraded`, with the reason, until a refresh works again; so does a
//! provider that failed for some deployments.
#![warn(missing_docs)]

mod api;
mod assets;
mod auth;
mod connection;
pub mod gitops;
mod health;
mod idempotency;
mod insights;
mod insights_page;
mod journey;
mod logging;
mod metrics;
mod notify;
pub mod oidc;
mod openapi;
pub mod otlp;
mod partitions;
mod refresh;
mod routes;
mod serve;
mod service;
mod status;
pub mod tokens;
mod write;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use spektate_core::Tracker;

pub use api::{
    DEFAULT_LIMIT, DeploymentQuery, Links, MAX_LIMIT, MAX_VALUES, Sort, SortColumn, State, links,
    state,
};
pub use auth::{ViewerAuth, ViewerRule};
pub use gitops::{FluxHook, Hooks};
pub use health::{Health, HealthStatus};
pub use idempotency::{CAPACITY as IDEMPOTENCY_KEYS, KEEP_FOR as IDEMPOTENCY_KEEP_FOR};
pub use insights::MetricsQuery;
pub use logging::{LogFormat, init_logging};
pub use notify::{
    DEFAULT_QUEUE as NOTIFY_QUEUE, DEFAULT_RESEND_AFTER as NOTIFY_RESEND_AFTER, Format,
    MIN_PR_WAIT, Notifications, Webhook,
};
pub use oidc::{Oidc, OidcRule, OidcRules};
pub use openapi::example;
pub use refresh::Refresher;
pub use routes::{Access, Route};
pub use serve::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT, Limits,
};
pub use service::Service;
pub use write::{BODY_TIMEOUT, MAX_BODY_BYTES};

/// The shortest refresh interval: one second.
pub const MIN_REFRESH: Duration = Duration::from_secs(1);
/// The longest refresh interval: one day.
pub const MAX_REFRESH: Duration = Duration::from_secs(86_400);
/// The refresh interval unless set: 30 seconds.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

/// What can go wrong serving the dashboard.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that cannot be accepted: names the field and the offending value.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The parameter or setting (`limit`, `kind`, `refresh interval`).
        field: String,
        /// What is wrong with it, quoting the value.
        reason: String,
    },
    /// The address cannot be listened on (in use, not an address of this machine, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("dashboard server on {addr} stopped: {source}")]
    Serve {
        /// The address it listened on.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// The dashboard over one tracker: its router, its background refresh and its health.
///
/// Cloning is cheap; clones share the tracker, the refresh state and the health.
#[derive(Clone)]
pub struct Dashboard {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) tracker: Tracker,
    refresh_ms: AtomicU64,
    pub(crate) background: AtomicBool,
    pub(crate) refresh: refresh::RefreshState,
    /// Turns to list deployments on the blocking pool, one per core.
    pub(crate) listing: Arc<tokio::sync::Semaphore>,
    /// What `/metrics` reports.
    pub(crate) metrics: Arc<metrics::Metrics>,
}

impl Shared {
    pub(crate) fn refresh_every(&self) -> Duration {
        Duration::from_millis(self.refresh_ms.load(Ordering::Relaxed))
    }
}

impl Dashboard {
    /// A dashboard over `tracker`, refreshing every [`DEFAULT_REFRESH`].
    pub fn new(tracker: Tracker) -> Self {
        Dashboard::beside(tracker, Arc::default(), DEFAULT_REFRESH)
    }

    /// A dashboard over `tracker` that counts into `metrics` and refreshes every `every`:
    /// another partition of a server.
    pub(crate) fn beside(
        tracker: Tracker,
        metrics: Arc<metrics::Metrics>,
        every: Duration,
    ) -> Self {
        Dashboard {
            shared: Arc::new(Shared {
                tracker,
                refresh_ms: AtomicU64::new(every.as_millis() as u64),
                background: AtomicBool::new(false),
                refresh: refresh::RefreshState::default(),
                listing: Arc::new(tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(2, |n| n.get()),
                )),
                metrics,
            }),
        }
    }

    /// How often the tracker is refreshed, and the page's default polling interval; kept
    /// between [`MIN_REFRESH`] and [`MAX_REFRESH`].
    pub fn refresh_every(self, every: Duration) -> Self {
        let every = every.clamp(MIN_REFRESH, MAX_REFRESH);
        self.shared
            .refresh_ms
            .store(every.as_millis() as u64, Ordering::Relaxed);
        self
    }

    /// The tracker served.
    pub fn tracker(&self) -> &Tracker {
        &self.shared.tracker
    }

    /// The page, the read API, the probes and the assets, open to every viewer, to serve or
    /// to [`Router::nest`] under a path; [`Service`] adds the write API and sign-in.
    pub fn router(&self) -> Router {
        Service::new(self.clone()).router()
    }

    /// Refreshes the tracker in the background every refresh interval, until the returned
    /// [`Refresher`] is dropped. Needs a Tokio runtime.
    pub fn spawn_refresher(&self) -> Refresher {
        refresh::spawn(self.shared.clone())
    }

    /// Whether the data is there, fresh and complete, and if not why.
    pub fn health(&self) -> Health {
        health::health(&self.shared)
    }

    /// Listens on `addr` (port 0 picks a free port); [`Server::run`] then serves.
    pub async fn bind(self, addr: SocketAddr) -> Result<Server, Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(Server {
            router: self.router(),
            dashboard: self,
            others: Vec::new(),
            listener,
            addr,
            limits: Limits::default(),
            notify: None,
        })
    }
}

/// The dashboard's router over `tracker`, refreshed on demand; see [`Dashboard`] for a
/// background refresh.
pub fn router(tracker: Tracker) -> Router {
    Dashboard::new(tracker).router()
}

/// A dashboard listening on an address, not serving yet.
pub struct Server {
    dashboard: Dashboard,
    /// The server's other partitions, each refreshed in the background too.
    others: Vec<Dashboard>,
    router: Router,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    limits: Limits,
    /// Where the events of the refreshes are sent, if anywhere.
    notify: Option<Notifications>,
}

impl Server {
    /// Serves within `limits` instead of the defaults; timeouts are kept from 100 ms to a
    /// day, the connection cap from 1 to a million.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The address listened on (with the port picked when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL. An unspecified address (`0.0.0.0`, `::`) is shown as `localhost`.
    pub fn url(&self) -> String {
        if self.addr.ip().is_unspecified() {
            format!("http://localhost:{}/", self.addr.port())
        } else {
            format!("http://{}/", self.addr)
        }
    }

    /// Serves, refreshing the tracker in the background, until `shutdown` completes; then
    /// stops listening, finishes the requests in flight and returns. Connections that are
    /// not handling a request are closed within a second.
    pub async fn run<F>(self, shutdown: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let _refreshers: Vec<Refresher> = std::iter::once(&self.dashboard)
            .chain(&self.others)
            .map(Dashboard::spawn_refresher)
            .collect();
        let _notifier = match &self.notify {
            Some(n) => Some(
                n.start(
                    std::iter::once(&self.dashboard)
                        .chain(&self.others)
                        .map(|d| d.shared.clone())
                        .collect(),
                )?,
            ),
            None => None,
        };
        let partitions: Vec<&str> = std::iter::once(&self.dashboard)
            .chain(&self.others)
            .map(|d| d.tracker().partition())
            .collect();
        tracing::info!(address = %self.addr, partition = %partitions.join(","), "serving");
        serve::run(self.listener, self.addr, self.router, self.limits, shutdown).await;
        tracing::info!(address = %self.addr, "stopped; the requests in flight were answered");
        Ok(())
    }
}

/// Serves the dashboard of `tracker` on `addr`, refreshing every `every`, until Ctrl-C or
/// SIGTERM.
pub async fn serve(tracker: Tracker, addr: SocketAddr, every: Duration) -> Result<(), Error> {
    Dashboard::new(tracker)
        .refresh_every(every)
        .bind(addr)
        .await?
        .run(shutdown_signal())
        .await
}

/// Completes on Ctrl-C, or on SIGTERM where there are signals (what a container runtime sends).
/// On Unix both are caught from the moment this is called, not from the first poll: a server
/// that says where it listens after calling it stops cleanly on a signal sent at once.
/// Elsewhere Ctrl-C is caught from the first poll. Call it inside a Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let received = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = received(interrupt) => {}
                _ = received(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
