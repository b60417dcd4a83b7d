//! The route table: every route is added through it, so the server can say which routes it
//! has (the API document is checked against this list) and who may use each.

use std::sync::Arc;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::{Method, StatusCode};
use axum::middleware;
use axum::response::Response;
use axum::routing::MethodRouter;

use crate::api::ErrorBody;
use crate::auth::{self, Viewers};

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: probes, metrics, the API document.
    Public,
    /// Viewers, as `--auth` says (anyone without it).
    Viewer,
    /// Pipelines with a write token for the partition.
    Pipeline,
    /// A GitOps agent's hook, with the secret configured for it (`--flux-secret-file`,
    /// the Argo CD hook token).
    Hook,
}

/// One route of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `GET` or `POST`.
    pub method: Method,
    /// The path, as the router matches it.
    pub path: &'static str,
    /// Who may use it.
    pub access: Access,
}

/// The route pattern a response answered, for metrics and logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Matched(pub(crate) &'static str);

/// A router being built, and the routes added to it.
pub(crate) struct Routes {
    router: Router,
    list: Vec<Route>,
    viewers: Option<Arc<Viewers>>,
}

impl Routes {
    /// No routes yet; `viewers` guards the [`Access::Viewer`] routes (none: open to all).
    pub(crate) fn new(viewers: Option<Arc<Viewers>>) -> Self {
        Routes {
            router: Router::new(),
            list: Vec::new(),
            viewers,
        }
    }

    /// Adds a `GET` route.
    pub(crate) fn get(self, path: &'static str, access: Access, handler: MethodRouter) -> Self {
        self.add(Method::GET, path, access, handler)
    }

    /// Adds a `POST` route.
    pub(crate) fn post(self, path: &'static str, access: Access, handler: MethodRouter) -> Self {
        self.add(Method::POST, path, access, handler)
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter,
    ) -> Self {
        let mut handler = handler.layer(middleware::map_response(
            move |mut r: Response| async move {
                r.extensions_mut().insert(Matched(path));
                r
            },
        ));
        if let (Access::Viewer, Some(viewers)) = (access, &self.viewers) {
            handler = handler.layer(middleware::from_fn_with_state(viewers.clone(), auth::guard));
        }
        self.router = self.router.route(path, handler);
        self.list.push(Route {
            method,
            path,
            access,
        });
        self
    }

    /// The router and its routes; a method a route does not take is answered by
    /// [`method_not_allowed`].
    pub(crate) fn finish(self) -> (Router, Vec<Route>) {
        (
            self.router.method_not_allowed_fallback(method_not_allowed),
            self.list,
        )
    }
}

/// A JSON 405 naming the method and path; axum adds the `Allow` header.
async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    let message = format!(
        "method {method} is not allowed on {}; /api/openapi.json lists the API",
        uri.path()
    );
    ErrorBody {
        error: &message,
        field: None,
        value: None,
    }
    .respond(StatusCode::METHOD_NOT_ALLOWED)
}
