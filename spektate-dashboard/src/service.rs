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
use spektate_core::RecordQuery;
use spektate_core::ingest::Kind;

use crate::api::{self, json};
use crate::auth::{Principal, ViewerAuth, Viewers};
use crate::idempotency::Cache;
use crate::oidc::Oidc;
use crate::routes::{Access, Matched, Route, Routes};
use crate::tokens::Tokens;
use crate::write::{self, Writes};
use crate::{Dashboard, Error, Server, Shared, assets, openapi};

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
    tokens: Arc<Tokens>,
    oidc: Option<Arc<Oidc>>,
    writes: bool,
    viewers: ViewerAuth,
    cache: Arc<Cache>,
}

impl Service {
    /// The dashboard's page and read API, open to every viewer, with no write API.
    pub fn new(dashboard: Dashboard) -> Self {
        Service {
            dashboard,
            tokens: Arc::new(Tokens::none()),
            oidc: None,
            writes: false,
            viewers: ViewerAuth::None,
            cache: Arc::new(Cache::default()),
        }
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

    /// The routes the router has.
    pub fn routes(&self) -> Vec<Route> {
        self.build().1
    }

    /// The API document the server serves.
    pub fn openapi(&self) -> serde_json::Value {
        openapi::document(&self.viewers, self.writes, self.oidc.is_some())
    }

    /// The router: mount it, or [`Service::bind`] to serve it on its own.
    pub fn router(&self) -> Router {
        self.build().0
    }

    fn build(&self) -> (Router, Vec<Route>) {
        let shared = self.dashboard.shared.clone();
        let viewers = Arc::new(Viewers {
            auth: self.viewers.clone(),
            tokens: self.tokens.clone(),
            partition: shared.tracker.partition().to_string(),
        });
        let guarded = self.viewers.is_on().then(|| viewers.clone());
        let public = Public {
            shared: shared.clone(),
            viewers,
            cache: self.cache.clone(),
            document: Arc::new(self.openapi()),
        };
        let mut routes = api::routes(assets::routes(Routes::new(guarded)), &shared)
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
                store: shared.tracker.store().clone(),
                tokens: self.tokens.clone(),
                oidc: self.oidc.clone(),
                partition: shared.tracker.partition().to_string(),
                cache: self.cache.clone(),
                shared: shared.clone(),
            });
            for kind in Kind::ALL {
                routes = routes.post(
                    kind.path(),
                    Access::Pipeline,
                    post(write::write).with_state((writes.clone(), kind)),
                );
            }
        }
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
        Ok(server)
    }
}

/// What the public routes share.
#[derive(Clone)]
struct Public {
    shared: Arc<Shared>,
    viewers: Arc<Viewers>,
    cache: Arc<Cache>,
    document: Arc<serde_json::Value>,
}

/// `/api/health`: the whole health for viewers; for others, when viewers must sign in, only
/// the status and version (the reasons name repositories and providers).
async fn health(State(public): State<Public>, headers: HeaderMap) -> Response {
    let full = api::health(State(public.shared.clone())).await;
    if !public.viewers.auth.is_on() || public.viewers.identify(&headers).is_ok() {
        return full;
    }
    let status = full.status();
    let h = crate::health::health(&public.shared);
    json(status, &json!({"status": h.status, "version": h.version}))
}

/// `/api/ready`: whether the store answers a read.
async fn ready(State(public): State<Public>) -> Response {
    let tracker = &public.shared.tracker;
    let probe = RecordQuery::all().row_key("~ready");
    let read = tokio::time::timeout(
        READY_TIMEOUT,
        tracker.store().query(tracker.partition(), &probe),
    )
    .await;
    match read {
        Ok(Ok(_)) => json(StatusCode::OK, &json!({"status": "ready"})),
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
    let snapshot = public.shared.tracker.snapshot();
    let text = public
        .shared
        .metrics
        .render(&snapshot.deployments, public.cache.len());
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
