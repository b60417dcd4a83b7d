//! The team server: the dashboard, its read API and the write API in one router, with
//! viewer authentication, pipeline tokens, probes, metrics and access logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use spektate_core::ingest::Kind;
use spektate_core::{RecordQuery, Tracker};

use crate::api::{self, json};
use crate::auth::{Grant, Principal, ViewerAuth, ViewerRule, Viewers};
use crate::idempotency::Cache;
use crate::oidc::Oidc;
use crate::partitions::Partitions;
use crate::routes::{Access, Matched, Route, Routes};
use crate::tokens::Tokens;
use crate::write::{self, Writes};
use crate::{Dashboard, Error, Health, HealthStatus, Server, Shared, assets, openapi, status};

/// How long `/api/ready` waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The dashboard with a write API and sign-in: what `spektate serve` runs.
///
/// ```no_run
/// # async fn run(tracker: spektate_core::Tracker) -> Result<(), spektate_dashboard::Error> {
/// use spektate_dashboard::{Dashboard, Service, ViewerAuth, tokens::Tokens};
/// let server = Service::new(Dashboard::new(tracker))
///     .accept_writes(Tokens::from_file("tokens.json")?)
///     .viewers(ViewerAuth::proxy_headers())
///     .bind("127.0.0.1:4040".parse().unwrap())
///     .await?;
/// server.run(spektate_dashboard::shutdown_signal()).await
/// # }
/// ```
pub struct Service {
    dashboard: Dashboard,
    /// Further partitions, in the order added; `dashboard`'s is the default.
    more: Vec<Dashboard>,
    tokens: Arc<Tokens>,
    oidc: Option<Arc<Oidc>>,
    writes: bool,
    viewers: ViewerAuth,
    viewer_rules: Vec<ViewerRule>,
    cache: Arc<Cache>,
    hooks: crate::gitops::Hooks,
    notify: Option<crate::Notifications>,
}

impl Service {
    /// The dashboard's page and read API, open to every viewer, with no write API.
    pub fn new(dashboard: Dashboard) -> Self {
        Service {
            dashboard,
            more: Vec::new(),
            tokens: Arc::new(Tokens::none()),
            oidc: None,
            writes: false,
            viewers: ViewerAuth::None,
            viewer_rules: Vec::new(),
            cache: Arc::new(Cache::default()),
            hooks: crate::gitops::Hooks::default(),
            notify: None,
        }
    }

    /// Sends the events of every partition's refreshes to `notifications`' destinations
    /// (started by [`Server::run`]).
    pub fn notify(mut self, notifications: crate::Notifications) -> Self {
        self.notify = (!notifications.is_empty()).then_some(notifications);
        self
    }

    /// Adds the write API, into the tracker's store, for pipelines holding one of `tokens`
    /// (which viewers' tokens come from too, with `--auth token`).
    pub fn accept_writes(mut self, tokens: Tokens) -> Self {
        self.tokens = Arc::new(tokens);
        self.writes = true;
        self
    }

    /// Adds the write API for pipelines holding an OIDC ID token that `oidc`'s rules let in
    /// (GitHub Actions, Azure Pipelines), besides write tokens of [`Service::accept_writes`].
    pub fn accept_oidc(mut self, oidc: Oidc) -> Self {
        self.oidc = Some(Arc::new(oidc));
        self.writes = true;
        self
    }

    /// Serves another partition too, over `tracker`: requests name it with `?partition=`
    /// (those that name none get the first). It is refreshed as often as the first, in the
    /// background of its own, and counts into the same metrics. A partition served already is
    /// an error.
    ///
    /// Build the trackers from one set of providers (clones of the same `Arc`s) so their
    /// caches are shared.
    pub fn partition(mut self, tracker: Tracker) -> Result<Self, Error> {
        let name = tracker.partition();
        if self.dashboards().any(|d| d.tracker().partition() == name) {
            return Err(Error::invalid(
                "partition",
                format!("'{name}' is served already; give each partition once"),
            ));
        }
        let first = &self.dashboard.shared;
        self.more.push(Dashboard::beside(
            tracker,
            first.metrics.clone(),
            first.refresh_every(),
        ));
        Ok(self)
    }

    /// The partitions served, the default first.
    pub fn partitions(&self) -> Vec<String> {
        self.dashboards()
            .map(|d| d.tracker().partition().to_string())
            .collect()
    }

    fn dashboards(&self) -> impl Iterator<Item = &Dashboard> {
        std::iter::once(&self.dashboard).chain(&self.more)
    }

    /// Takes the events of GitOps agents: Flux v2's notification-controller at
    /// `/api/flux/{cluster}`, Argo CD Notifications at `/api/argocd`, each with its own
    /// secret (see [`crate::Hooks`]).
    pub fn hooks(mut self, hooks: crate::gitops::Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// Ages idempotency keys by `clock` instead of [`Instant::now`], so a test can see a key
    /// expire without waiting a day.
    #[cfg(feature = "testkit")]
    #[doc(hidden)]
    pub fn idempotency_clock(
        mut self,
        clock: impl Fn() -> Instant + Send + Sync + 'static,
    ) -> Self {
        self.cache = Arc::new(Cache::with_clock(Arc::new(clock)));
        self
    }

    /// Viewers' tokens, for a server with [`ViewerAuth::Token`] and no write API.
    pub fn tokens(mut self, tokens: Tokens) -> Self {
        self.tokens = Arc::new(tokens);
        self
    }

    /// How viewers sign in.
    pub fn viewers(mut self, auth: ViewerAuth) -> Self {
        self.viewers = auth;
        self
    }

    /// Which partitions each viewer named by the proxy header may read (with
    /// [`ViewerAuth::Header`]); without rules, every viewer reads every partition.
    pub fn viewer_rules(mut self, rules: Vec<ViewerRule>) -> Self {
        self.viewer_rules = rules;
        self
    }

    /// The routes the router has.
    pub fn routes(&self) -> Vec<Route> {
        self.build().1
    }

    /// The API document the server serves.
    pub fn openapi(&self) -> serde_json::Value {
        let mut doc = openapi::document(&self.viewers, self.writes, self.oidc.is_some());
        crate::gitops::document(&mut doc, &self.hooks, self.writes, self.oidc.is_some());
        openapi::method_not_allowed(&mut doc);
        doc
    }

    /// The router: mount it, or [`Service::bind`] to serve it on its own.
    pub fn router(&self) -> Router {
        self.build().0
    }

    fn build(&self) -> (Router, Vec<Route>) {
        let shared = self.dashboard.shared.clone();
        let partitions = Arc::new(Partitions::new(
            self.dashboards().map(|d| d.shared.clone()).collect(),
        ));
        let viewers = Arc::new(Viewers {
            auth: self.viewers.clone(),
            tokens: self.tokens.clone(),
            partitions: partitions.names(),
            rules: self.viewer_rules.clone(),
        });
        let guarded = self.viewers.is_on().then(|| viewers.clone());
        let public = Public {
            partitions: partitions.clone(),
            viewers,
            cache: self.cache.clone(),
            document: Arc::new(self.openapi()),
        };
        let pages = api::routes(assets::routes(Routes::new(guarded)), &partitions);
        let pages = crate::journey::routes(crate::insights_page::routes(pages), &partitions);
        let mut routes = crate::insights::routes(status::routes(pages, &partitions), &partitions)
            .get(
                "/api/health",
                Access::Public,
                get(health).with_state(public.clone()),
            )
            .get(
                "/api/ready",
                Access::Public,
                get(ready).with_state(public.clone()),
            )
            .get(
                "/api/openapi.json",
                Access::Public,
                get(document).with_state(public.clone()),
            )
            .get(
                "/metrics",
                Access::Public,
                get(metrics).with_state(public.clone()),
            );
        if self.writes {
            let writes = Arc::new(Writes {
                tokens: self.tokens.clone(),
                oidc: self.oidc.clone(),
                cache: self.cache.clone(),
                partitions: partitions.clone(),
            });
            for kind in Kind::ALL {
                routes = routes.post(
                    kind.path(),
                    Access::Pipeline,
                    post(write::write).with_state((writes.clone(), kind)),
                );
            }
            routes = routes.post(
                "/api/cdevents",
                Access::Pipeline,
                post(crate::gitops::cdevents::event).with_state(writes.clone()),
            );
        }
        routes = crate::gitops::routes(routes, &self.hooks, &partitions);
        let (router, list) = routes.finish();
        let router = router
            .merge(api::api_fallbacks())
            .fallback(assets::not_found)
            .layer(middleware::map_response(assets::secure))
            .layer(middleware::from_fn_with_state(shared.clone(), observe));
        (router, list)
    }

    /// Listens on `addr`; [`Server::run`] then serves, refreshing in the background.
    pub async fn bind(self, addr: std::net::SocketAddr) -> Result<Server, Error> {
        let router = self.router();
        let mut server = self.dashboard.bind(addr).await?;
        server.router = router;
        server.others = self.more;
        server.notify = self.notify;
        Ok(server)
    }
}

/// What the public routes share.
#[derive(Clone)]
struct Public {
    partitions: Arc<Partitions>,
    viewers: Arc<Viewers>,
    cache: Arc<Cache>,
    document: Arc<serde_json::Value>,
}

/// `/api/health`: for a viewer, the health of the partitions it may read; for others, when
/// viewers must sign in, only the status of all and the version (the reasons name
/// repositories and providers). With several partitions it is the first readable one's, with
/// the worst status and every reason (each named by its partition) of the readable ones,
/// and each one's health under `partitions`.
async fn health(State(public): State<Public>, headers: HeaderMap) -> Response {
    for shared in public.partitions.all() {
        crate::refresh::before_health(shared).await;
    }
    let grant = if public.viewers.auth.is_on() {
        public
            .viewers
            .identify(&headers)
            .ok()
            .map(|(_, grant)| grant)
    } else {
        Some(Grant::default())
    };
    let (h, whole) = match grant.and_then(|g| combined_health(&public.partitions, &g)) {
        Some(h) => (h, true),
        None => (
            combined_health(&public.partitions, &Grant::default())
                .expect("a server serves a partition"),
            false,
        ),
    };
    let status = if h.status.is_serving() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if whole {
        return json(status, &h);
    }
    json(status, &json!({"status": h.status, "version": h.version}))
}

/// How bad a status is, for the worst of several.
fn severity(s: HealthStatus) -> u8 {
    match s {
        HealthStatus::Ok => 0,
        HealthStatus::Degraded => 1,
        HealthStatus::Starting => 2,
        HealthStatus::Unavailable => 3,
    }
}

/// The health of the partitions `grant` may read, none when it may read none.
fn combined_health(partitions: &Partitions, grant: &Grant) -> Option<Health> {
    let all: Vec<Health> = partitions
        .all()
        .iter()
        .filter(|s| grant.allows(s.tracker.partition()))
        .map(|s| crate::health::health(s))
        .collect();
    let mut h = all.first()?.clone();
    if partitions.all().len() == 1 {
        return Some(h);
    }
    h.status = all
        .iter()
        .map(|p| p.status)
        .max_by_key(|s| severity(*s))
        .unwrap_or(h.status);
    h.reasons = all
        .iter()
        .flat_map(|p| {
            p.reasons
                .iter()
                .map(move |r| format!("{}: {r}", p.partition))
        })
        .collect();
    h.partitions = all;
    Some(h)
}

/// `/api/ready`: whether the store answers a read, for every partition.
async fn ready(State(public): State<Public>) -> Response {
    let probes = async {
        for shared in public.partitions.all() {
            let tracker = &shared.tracker;
            let probe = RecordQuery::all().row_key("~ready");
            tracker.store().query(tracker.partition(), &probe).await?;
        }
        Ok::<(), spektate_core::Error>(())
    };
    match tokio::time::timeout(READY_TIMEOUT, probes).await {
        Ok(Ok(())) => json(StatusCode::OK, &json!({"status": "ready"})),
        Ok(Err(e)) => {
            tracing::warn!("readiness: the store cannot be read: {e}");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"status": "unavailable", "error": "the store cannot be read; the server's log says why"}),
            )
        }
        Err(_) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "unavailable", "error": format!("the store did not answer within {} s", READY_TIMEOUT.as_secs())}),
        ),
    }
}

async fn document(State(public): State<Public>) -> Response {
    json(StatusCode::OK, &*public.document)
}

async fn metrics(State(public): State<Public>) -> Response {
    let snapshots: Vec<(String, Arc<spektate_core::Snapshot>)> = public
        .partitions
        .all()
        .iter()
        .map(|s| (s.tracker.partition().to_string(), s.tracker.snapshot()))
        .collect();
    let shared = public.partitions.default_one().clone();
    let keys = public.cache.len();
    // Walking every deployment is work for the blocking pool, one turn of the listings'.
    let _turn = shared.listing.clone().acquire_owned().await;
    let rendered = tokio::task::spawn_blocking(move || {
        let by_partition: Vec<(&str, &[spektate_core::Deployment])> = snapshots
            .iter()
            .map(|(p, s)| (p.as_str(), s.deployments.as_slice()))
            .collect();
        shared.metrics.render(&by_partition, keys)
    })
    .await;
    let text = match rendered {
        Ok(text) => text,
        Err(e) => {
            tracing::error!("rendering /metrics failed: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Counts each answer by route and status, and logs it: method, path (never the query),
/// status, milliseconds and who asked (a viewer's name or a token's id and name, never a
/// token).
async fn observe(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().chars().take(200).collect::<String>();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    let route = response
        .extensions()
        .get::<Matched>()
        .map_or("unmatched", |m| m.0);
    // Labels take only known words, so odd requests cannot grow the metrics without bound.
    let method_label = match method.as_str() {
        m @ ("GET" | "POST" | "HEAD" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    };
    shared.metrics.request(method_label, route, status, took);
    let who = response
        .extensions()
        .get::<Principal>()
        .map_or("", |p| p.0.as_str());
    tracing::info!(
        target: "spektate::access",
        method = %method,
        path = %path,
        status,
        ms = (took.as_secs_f64() * 1e6).round() / 1e3,
        who,
        "request"
    );
    response
}
