//! The GitHub API client shared by [`GitHubActions`](crate::GitHubActions) and
//! [`GitHubRepos`](crate::GitHubRepos): hosts, token, headers, conditional requests and GraphQL.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use spektate_core::http::{Auth, HttpClient, Method, Policy, Request, Response, Secret};
use spektate_core::{Error, RepoHost, RepoRef, Result};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::app::{AppTokens, GitHubApp};
use spektate_core::cache::AnswersCache;
use spektate_core::etag_cache::{Cached, EtagCache, Identity};

/// The public GitHub API.
pub const PUBLIC_API: &str = "https://api.github.com";

/// The REST API version sent in `X-GitHub-Api-Version`.
pub const API_VERSION: &str = "2022-11-28";

/// A GitHub (or GitHub Enterprise Server) API endpoint with its credentials.
///
/// Cheap to clone; clones share the HTTP client, its concurrency limit and rate-limit
/// pause, and the ETag cache. Build one and hand out [`GitHub::actions`] and [`GitHub::repos`].
#[derive(Clone)]
pub struct GitHub {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub http: HttpClient,
    pub api: String,
    pub graphql: Option<String>,
    pub hosts: Vec<String>,
    pub cache: EtagCache,
    /// Who requests are made as, for the pages kept across processes.
    pub identity: Identity,
    /// Where tag objects are kept across processes, once a tracker hands its cache over.
    pub answers: std::sync::OnceLock<Arc<dyn AnswersCache>>,
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
    pub graphql_queries: AtomicU64,
    /// Whether requests carry a token.
    pub has_token: bool,
    /// The GitHub App whose installation tokens authorize requests, instead of a token.
    pub app: Option<AppTokens>,
    /// The owner and name of repositories by id, learned from `Link` headers: the next
    /// pages of a list are `/repositories/{id}/...`, and an app's token is per owner.
    pub repo_ids: std::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api", &self.inner.api)
            .field("hosts", &self.inner.hosts)
            .field("http", &self.inner.http)
            .finish()
    }
}

/// Requests a [`GitHub`] client has sent (retries not counted), for watching the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Requests sent, REST and GraphQL.
    pub requests: u64,
    /// REST requests answered `304 Not Modified` (free against the rate limit).
    pub not_modified: u64,
    /// GraphQL queries among the requests.
    pub graphql_queries: u64,
}

/// Builds a [`GitHub`] client.
#[derive(Debug, Clone)]
pub struct GitHubBuilder {
    api: String,
    graphql: Option<Option<String>>,
    hosts: Vec<String>,
    token: Option<Secret>,
    app: Option<GitHubApp>,
    policy: Policy,
    cache_capacity: usize,
}

impl Default for GitHubBuilder {
    fn default() -> Self {
        GitHubBuilder {
            api: PUBLIC_API.to_string(),
            graphql: None,
            hosts: Vec::new(),
            token: None,
            app: None,
            // GitHub asks integrations not to fire requests concurrently; a few at once
            // keeps a cold trace quick without tripping secondary limits.
            policy: Policy {
                concurrency: 4,
                ..Policy::default()
            },
            cache_capacity: 2_000,
        }
    }
}

impl GitHubBuilder {
    /// The REST API base URL: `https://api.github.com` (the default) or, for GitHub
    /// Enterprise Server, `https://HOST/api/v3`. A bare `https://HOST` of an Enterprise
    /// server is taken as `https://HOST/api/v3`.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api = url.into();
        self
    }

    /// The GraphQL endpoint; by default `https://api.github.com/graphql`, or
    /// `https://HOST/api/graphql` for an Enterprise server.
    pub fn graphql_url(mut self, url: impl Into<String>) -> Self {
        self.graphql = Some(Some(url.into()));
        self
    }

    /// Never use GraphQL: every object is fetched through REST.
    pub fn without_graphql(mut self) -> Self {
        self.graphql = Some(None);
        self
    }

    /// A host whose repositories this client serves (`github.com`, `github.example.com`).
    /// By default the host the API URL belongs to.
    pub fn repo_host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into().trim().to_ascii_lowercase());
        self
    }

    /// The token (a personal access token, a GitHub App installation token or
    /// `GITHUB_TOKEN`), sent as `Authorization: Bearer`. Without one, only public
    /// repositories can be read, at 60 requests an hour, and GraphQL is not used.
    pub fn token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// The token when there is one.
    pub fn maybe_token(mut self, token: Option<Secret>) -> Self {
        self.token = token;
        self
    }

    /// A GitHub App instead of a token: each request carries an installation token of the
    /// installation on the repository's owner, minted with the app's key and refreshed
    /// before it expires. Only the configured API is asked, for tokens as for data.
    pub fn app(mut self, app: GitHubApp) -> Self {
        self.app = Some(app);
        self
    }

    /// Timeouts, retries and concurrency (default: 4 requests in flight).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How many requests are in flight at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.policy.concurrency = n.max(1);
        self
    }

    /// How many responses keep their ETag for revalidation (default 2,000; 0 disables).
    pub fn cache_capacity(mut self, n: usize) -> Self {
        self.cache_capacity = n;
        self
    }

    /// The client; an unusable URL is an error naming it.
    pub fn build(self) -> Result<GitHub> {
        let (api, derived_host, enterprise) = api_base(&self.api)?;
        let graphql = match self.graphql {
            Some(Some(url)) => Some(http_url("GitHub GraphQL URL", &url)?),
            Some(None) => None,
            None if enterprise => Some(format!("{}/api/graphql", api.trim_end_matches("/api/v3"))),
            None => Some(format!("{api}/graphql")),
        };
        if self.app.is_some() && self.token.is_some() {
            return Err(Error::invalid(
                "GitHub credentials",
                "a token and a GitHub App are both given; give one",
            ));
        }
        // GraphQL refuses anonymous queries: without a token everything goes through REST.
        let graphql = graphql.filter(|_| self.token.is_some() || self.app.is_some());
        let hosts = if self.hosts.is_empty() {
            vec![derived_host]
        } else {
            self.hosts
        };
        let auth = match self.token {
            Some(t) if !t.expose().trim().is_empty() => {
                Auth::Bearer(Secret::new(t.expose().trim()))
            }
            _ => Auth::None,
        };
        let has_token = !matches!(auth, Auth::None) || self.app.is_some();
        let installation = self
            .app
            .as_ref()
            .and_then(GitHubApp::installation_id)
            .map(|i| i.to_string())
            .unwrap_or_default();
        let identity = match (&auth, &self.app) {
            (_, Some(app)) => Identity::of(&[&api, "app", app.app_id(), &installation]),
            (Auth::Bearer(t), None) => Identity::of(&[&api, "token", t.expose()]),
            _ => Identity::of(&[&api, "anonymous"]),
        };
        let name = format!("github {}", hosts.join(","));
        let http = HttpClient::with_policy(name, auth, self.policy)?
            .default_header("accept", "application/vnd.github+json")
            .default_header("x-github-api-version", API_VERSION);
        Ok(GitHub {
            inner: Arc::new(Inner {
                http,
                api,
                graphql,
                hosts,
                cache: EtagCache::new(self.cache_capacity),
                identity,
                answers: std::sync::OnceLock::new(),
                requests: AtomicU64::new(0),
                not_modified: AtomicU64::new(0),
                graphql_queries: AtomicU64::new(0),
                has_token,
                app: self.app.map(AppTokens::new),
                repo_ids: Default::default(),
            }),
        })
    }
}

/// The `rel="next"` URL of a `Link` header (`<URL>; rel="next", <URL>; rel="last"`), when it
/// is under the API base `api`: the token is sent nowhere else.
pub(crate) fn next_page(link: &str, api: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|p| {
            p.trim()
                .strip_prefix("rel=")
                .is_some_and(|r| r.trim_matches('"').split(' ').any(|r| r == "next"))
        });
        next.then(|| spektate_core::http::url_under(url, api))?
    })
}

/// `(REST base, repository host, is an Enterprise server)` of an API URL.
fn api_base(url: &str) -> Result<(String, String, bool)> {
    let base = http_url("GitHub API URL", url)?;
    let (_, rest) = base.split_once("://").unwrap_or(("", &base));
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h.to_ascii_lowercase(), p),
        None => (rest.to_ascii_lowercase(), ""),
    };
    if host == "api.github.com" || host == "github.com" || host == "www.github.com" {
        return Ok((PUBLIC_API.to_string(), "github.com".to_string(), false));
    }
    if path.is_empty() {
        // A bare Enterprise server URL: its REST API lives under /api/v3.
        return Ok((format!("{base}/api/v3"), host, true));
    }
    let enterprise = path.ends_with("api/v3");
    Ok((base, host, enterprise))
}

/// A checked http(s) URL without a trailing slash or user info, or an error naming `field`
/// and the value ([`spektate_core::model::url::api_base`]).
fn http_url(field: &str, url: &str) -> Result<String> {
    spektate_core::model::url::api_base(field, url, "SPEKTATE_GITHUB_TOKEN")
}

/// What a conditional GET brought back.
#[derive(Debug, Clone)]
pub(crate) enum Fetched {
    /// The body, whether it was revalidated (304) rather than sent again, and for a page of
    /// a list the URL of the next page.
    Body {
        body: Arc<Vec<u8>>,
        revalidated: bool,
        next: Option<String>,
    },
    /// The object does not exist: 404, or 422 for a commit a readable repository does not
    /// have (a repository the token cannot read is a 404 too).
    NotFound(u16),
}

/// One GraphQL error as GitHub reports it; its message is cut to
/// [`MAX_CAUSE_CHARS`](spektate_core::warnings::MAX_CAUSE_CHARS) characters, as it goes into
/// errors and logs.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphQlError {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub path: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "clipped")]
    pub message: String,
}

fn clipped<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let m = String::deserialize(d)?;
    Ok(spektate_core::warnings::clip(
        &m,
        spektate_core::warnings::MAX_CAUSE_CHARS,
    ))
}

/// A GraphQL answer: `data` and `errors`, both possibly present.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphQlResponse {
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    #[serde(default)]
    pub errors: Vec<GraphQlError>,
}

impl GitHub {
    /// A builder for github.com; see [`GitHubBuilder`].
    pub fn builder() -> GitHubBuilder {
        GitHubBuilder::default()
    }

    /// A client for github.com with an optional token.
    pub fn public(token: Option<Secret>) -> Result<GitHub> {
        GitHub::builder().maybe_token(token).build()
    }

    /// The GitHub Actions pipelines provider of this client.
    pub fn actions(&self) -> crate::GitHubActions {
        crate::GitHubActions::new(self.clone())
    }

    /// The repositories provider (authors, pull requests, sync tags) of this client.
    pub fn repos(&self) -> crate::GitHubRepos {
        crate::GitHubRepos::new(self.clone())
    }

    /// The REST base URL.
    pub fn api_url(&self) -> &str {
        &self.inner.api
    }

    /// The GraphQL endpoint, when GraphQL is used (it needs a token).
    pub fn graphql_url(&self) -> Option<&str> {
        self.inner.graphql.as_deref()
    }

    /// The hosts whose repositories this client serves.
    pub fn repo_hosts(&self) -> &[String] {
        &self.inner.hosts
    }

    /// Requests sent so far.
    pub fn stats(&self) -> RequestStats {
        RequestStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            not_modified: self.inner.not_modified.load(Ordering::Relaxed),
            graphql_queries: self.inner.graphql_queries.load(Ordering::Relaxed),
        }
    }

    /// Whether `repo` is a GitHub repository on one of this client's hosts.
    pub fn serves_repo(&self, repo: &RepoRef) -> bool {
        repo.provider == RepoHost::GitHub && self.inner.hosts.contains(&repo.host)
    }

    /// A short name for messages: `github github.com`.
    pub(crate) fn label(&self) -> String {
        self.inner.http.provider().to_string()
    }

    /// `{api}/repos/{owner}/{name}{tail}`, or an error when the owner or name cannot be a
    /// GitHub repository's.
    pub(crate) fn repo_url(&self, repo: &RepoRef, tail: &str) -> Result<String> {
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if !ok(&repo.owner) || !ok(&repo.name) {
            return Err(Error::invalid(
                "GitHub repository",
                format!(
                    "'{}/{}' is not an owner/name GitHub accepts",
                    repo.owner, repo.name
                ),
            ));
        }
        Ok(format!(
            "{}/repos/{}/{}{tail}",
            self.inner.api, repo.owner, repo.name
        ))
    }

    /// Sends a request and counts it.
    pub(crate) async fn send(&self, req: Request) -> Result<Response> {
        let owner = self.owner_of(req.url());
        self.send_for(req, owner).await
    }

    /// Sends a request on behalf of the repository `owner/name` (whose installation token
    /// a GitHub App uses) and counts it.
    async fn send_for(&self, req: Request, owner: Option<(String, String)>) -> Result<Response> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let Some(app) = &self.inner.app else {
            return self.inner.http.send(req).await;
        };
        let (owner, repo) = owner.ok_or_else(|| {
            Error::provider(
                self.label(),
                "choose installation",
                req.url(),
                "a GitHub App's token is per repository owner, and this request names none",
            )
        })?;
        let http = &self.inner.http;
        let token = app
            .token(http, &self.inner.api, &owner, Some(&repo))
            .await?;
        let req = req.header("authorization", &format!("Bearer {}", token.expose()));
        let sent = http.send(req).await;
        if let Err(Error::Provider { auth: true, .. }) = &sent {
            // Revoked or expired early: the next request mints another.
            app.forget(&owner).await;
        }
        sent
    }

    /// The repository (owner, name) a REST URL of this API is about: `/repos/{owner}/{name}/...`,
    /// or `/repositories/{id}/...` of a repository seen before. `None` for other hosts.
    fn owner_of(&self, url: &str) -> Option<(String, String)> {
        let rest = url.strip_prefix(self.inner.api.as_str())?;
        let mut parts = rest.split(['/', '?']).filter(|s| !s.is_empty());
        match parts.next()? {
            "repos" => Some((parts.next()?.to_string(), parts.next()?.to_string())),
            "repositories" => {
                let id = parts.next()?;
                let known = self
                    .inner
                    .repo_ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                known.get(id).cloned()
            }
            _ => None,
        }
    }

    /// Remembers whose repository a `/repositories/{id}/...` next page of `url` is.
    fn learn_repo_id(&self, url: &str, next: &str) {
        let Some(owner) = self.owner_of(url) else {
            return;
        };
        let Some(rest) = next.strip_prefix(self.inner.api.as_str()) else {
            return;
        };
        let mut parts = rest.split(['/', '?']).filter(|s| !s.is_empty());
        if let (Some("repositories"), Some(id)) = (parts.next(), parts.next()) {
            let mut known = self
                .inner
                .repo_ids
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if known.len() < 10_000 {
                known.insert(id.to_string(), owner);
            }
        }
    }

    /// Whether requests go out with a GitHub App's installation tokens.
    pub fn uses_app(&self) -> bool {
        self.inner.app.is_some()
    }

    /// A GET revalidated with `If-None-Match` when its ETag is stored: a 304 brings back
    /// the stored body. 404 (and 422, which GitHub answers for an unknown commit) is
    /// [`Fetched::NotFound`]; other failures are errors naming `operation` and `object`.
    pub(crate) async fn get_cached(
        &self,
        url: &str,
        operation: &str,
        object: &str,
    ) -> Result<Fetched> {
        // A kept page's next URL is followed with the token: only one under the API is.
        let cached = self.inner.cache.lookup(url).await.map(|mut c| {
            c.next = c
                .next
                .and_then(|n| spektate_core::http::url_under(&n, &self.inner.api));
            c
        });
        let mut req = Request::get(url, operation, object).pass(&[304, 404, 422]);
        if let Some(c) = &cached {
            req = req.optional_header("if-none-match", &c.etag);
        }
        let resp = self.send(req).await?;
        if let Some(next) = resp
            .header("link")
            .and_then(|link| next_page(link, &self.inner.api))
        {
            self.learn_repo_id(url, &next);
        }
        match resp.status {
            304 => match cached {
                Some(c) => {
                    self.inner.not_modified.fetch_add(1, Ordering::Relaxed);
                    Ok(Fetched::Body {
                        body: c.body,
                        revalidated: true,
                        next: c.next,
                    })
                }
                // A 304 to a request that sent no validator: nothing to reuse, ask again plainly.
                None => {
                    let resp = self
                        .send(Request::get(url, operation, object).pass(&[404, 422]))
                        .await?;
                    Ok(self.keep(url, resp).await)
                }
            },
            _ => Ok(self.keep(url, resp).await),
        }
    }

    async fn keep(&self, url: &str, resp: Response) -> Fetched {
        if matches!(resp.status, 404 | 422) {
            self.inner.cache.forget(url).await;
            return Fetched::NotFound(resp.status);
        }
        let next = resp
            .header("link")
            .and_then(|link| next_page(link, &self.inner.api));
        let body = Arc::new(resp.body);
        if let Some(etag) = resp.headers.get("etag").and_then(|v| v.to_str().ok()) {
            let cached = Cached {
                etag: etag.to_string(),
                body: body.clone(),
                next: next.clone(),
            };
            self.inner.cache.keep(url, cached).await;
        }
        Fetched::Body {
            body,
            revalidated: false,
            next,
        }
    }

    /// Whether a GET of `url` would be revalidated: its ETag is stored, so an unchanged
    /// answer is a 304 that GitHub does not count against the rate limit.
    pub(crate) async fn revalidates(&self, url: &str) -> bool {
        self.inner.cache.lookup(url).await.is_some()
    }

    /// Keeps list pages with their ETags, and annotated tag objects, in `cache` too, so
    /// another process revalidates or reuses them; pages are kept under this client's
    /// credential, so another credential never reads them. The first cache given stays.
    pub fn use_answers_cache(&self, cache: &Arc<dyn AnswersCache>) {
        self.inner
            .cache
            .persist_in(cache.clone(), self.inner.identity);
        let _ = self.inner.answers.set(cache.clone());
    }

    /// Where tag objects are kept across processes, if anywhere.
    pub(crate) fn answers(&self) -> Option<&Arc<dyn AnswersCache>> {
        self.inner.answers.get()
    }

    /// Checks the token against the API with `GET /rate_limit`, which every token may call
    /// and which costs nothing against the limit; a rejected token is an error. Says how many
    /// requests are left this hour.
    pub async fn check_token(&self) -> Result<String> {
        if let Some(app) = &self.inner.app {
            return self.check_app(app).await;
        }
        let url = format!("{}/rate_limit", self.inner.api);
        let who = if self.inner.has_token {
            "token accepted"
        } else {
            "no token (anonymous)"
        };
        let Some(resp) = self.get_uncached(&url, "check token", "rate_limit").await? else {
            // An Enterprise server with rate limiting turned off answers 404 to a valid token.
            return Ok(format!("{who}; the server has no rate limit"));
        };
        let v: serde_json::Value = resp.json()?;
        let core = v.pointer("/resources/core").or_else(|| v.get("rate"));
        let n = |k: &str| {
            core.and_then(|c| c.get(k))
                .and_then(serde_json::Value::as_u64)
        };
        Ok(match (n("remaining"), n("limit")) {
            (Some(left), Some(limit)) => {
                format!("{who}; {left} of {limit} requests left this hour")
            }
            _ => who.to_string(),
        })
    }

    /// Checks a GitHub App: its JWT is accepted (`GET /app`), and where it is installed; with
    /// a fixed installation, that an installation token can be minted for it.
    async fn check_app(&self, app: &AppTokens) -> Result<String> {
        let http = &self.inner.http;
        let api = &self.inner.api;
        let who = app.describe_app(http, api).await?;
        let installations = app.installations(http, api).await?;
        let listed: Vec<String> = installations
            .iter()
            .map(|(login, id)| format!("{login} (installation {id})"))
            .collect();
        if let Some(id) = app.app().installation_id() {
            if !installations.iter().any(|(_, i)| *i == id) {
                return Err(Error::Provider {
                    provider: self.label(),
                    operation: "check GitHub App".into(),
                    object: format!("installation {id}"),
                    message: format!(
                        "{who} has no installation {id}; it is installed on: {}",
                        if listed.is_empty() {
                            "nothing".to_string()
                        } else {
                            listed.join(", ")
                        }
                    ),
                    auth: true,
                });
            }
            let (login, _) = installations
                .iter()
                .find(|(_, i)| *i == id)
                .cloned()
                .unwrap_or_default();
            app.token(http, api, &login, None).await?;
            return Ok(format!(
                "{who} accepted; installation {id} ({login}) token minted"
            ));
        }
        Ok(match listed.is_empty() {
            true => format!("{who} accepted; installed nowhere yet"),
            false => format!("{who} accepted; installed on {}", listed.join(", ")),
        })
    }

    /// A plain GET (no ETag kept): for list pages, whose bodies are large and change often.
    pub(crate) async fn get_uncached(
        &self,
        url: &str,
        operation: &str,
        object: &str,
    ) -> Result<Option<Response>> {
        let resp = self
            .send(Request::get(url, operation, object).pass(&[404]))
            .await?;
        Ok((resp.status != 404).then_some(resp))
    }

    /// Whether GraphQL is used.
    pub(crate) fn has_graphql(&self) -> bool {
        self.inner.graphql.is_some()
    }

    /// Posts a GraphQL query. HTTP failures are errors; GraphQL errors come back in the answer.
    pub(crate) async fn graphql(
        &self,
        query: &str,
        variables: serde_json::Value,
        operation: &str,
        object: &str,
        owner: Option<(String, String)>,
    ) -> Result<GraphQlResponse> {
        let Some(url) = &self.inner.graphql else {
            return Err(Error::provider(
                self.label(),
                operation,
                object,
                "GraphQL is not configured",
            ));
        };
        let body = serde_json::json!({ "query": query, "variables": variables });
        self.inner.graphql_queries.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .send_for(
                Request::new(Method::POST, url, operation, object).json(&body),
                owner,
            )
            .await?;
        resp.json()
    }

    /// Parses a JSON body; a malformed one is an error naming `operation` and `object`.
    pub(crate) fn parse<T: DeserializeOwned>(
        &self,
        body: &[u8],
        operation: &str,
        object: &str,
    ) -> Result<T> {
        serde_json::from_slice(body).map_err(|e| {
            Error::provider(
                self.label(),
                operation,
                object,
                format!("malformed response body: {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graphql_error_message_is_cut_to_a_cause() {
        let long = "x".repeat(1_000_000);
        let answer: GraphQlResponse = serde_json::from_str(&format!(
            r#"{{"errors":[{{"type":"SOMETHING","message":"{long}"}}]}}"#
        ))
        .unwrap();
        let m = &answer.errors[0].message;
        assert_eq!(
            m.chars().count(),
            spektate_core::warnings::MAX_CAUSE_CHARS + 1
        );
        assert!(m.ends_with('…'));
    }

    #[test]
    fn api_urls_of_github_com_and_enterprise_servers() {
        let gh = GitHub::builder().build().unwrap();
        assert_eq!(gh.api_url(), "https://api.github.com");
        assert_eq!(gh.repo_hosts(), ["github.com"]);
        assert_eq!(gh.graphql_url(), None, "no token, no GraphQL");

        let token = Secret::new("ghp_x");
        let ghes = GitHub::builder()
            .api_url("https://GitHub.Example.com/")
            .token(token.clone())
            .build()
            .unwrap();
        assert_eq!(ghes.api_url(), "https://GitHub.Example.com/api/v3");
        assert_eq!(
            ghes.graphql_url(),
            Some("https://GitHub.Example.com/api/graphql")
        );
        assert_eq!(ghes.repo_hosts(), ["github.example.com"]);

        let ghes = GitHub::builder()
            .api_url("https://ghe.corp:8443/api/v3")
            .token(token.clone())
            .build()
            .unwrap();
        assert_eq!(ghes.api_url(), "https://ghe.corp:8443/api/v3");
        assert_eq!(
            ghes.graphql_url(),
            Some("https://ghe.corp:8443/api/graphql")
        );
        assert_eq!(ghes.repo_hosts(), ["ghe.corp:8443"]);

        let public = GitHub::builder()
            .api_url("https://api.github.com")
            .token(token)
            .build()
            .unwrap();
        assert_eq!(public.graphql_url(), Some("https://api.github.com/graphql"));
    }

    #[test]
    fn the_next_page_comes_from_the_link_header_and_stays_on_the_api() {
        let api = "https://api.github.com";
        let link = "<https://api.github.com/repositories/1300192/actions/runs?per_page=100&page=3>; rel=\"next\", \
                    <https://api.github.com/repositories/1300192/actions/runs?per_page=100&page=9>; rel=\"last\", \
                    <https://api.github.com/repositories/1300192/actions/runs?per_page=100&page=1>; rel=\"first\"";
        assert_eq!(
            next_page(link, api).as_deref(),
            Some("https://api.github.com/repositories/1300192/actions/runs?per_page=100&page=3")
        );
        let last = "<https://api.github.com/repositories/1/pulls?page=1>; rel=\"prev\"";
        assert_eq!(next_page(last, api), None, "the last page has no next");
        for elsewhere in [
            "<https://evil.example/repositories/1/pulls?page=2>; rel=\"next\"",
            "<https://api.github.com.evil.example/x?page=2>; rel=\"next\"",
        ] {
            assert_eq!(next_page(elsewhere, api), None, "{elsewhere}");
        }
        assert_eq!(next_page("garbage", api), None);
        // On an Enterprise server, dot segments cannot take the token off the API's path.
        let ghe = "https://ghe.example.com/api/v3";
        for off_api in [
            "<https://ghe.example.com/api/v3/../../login?page=2>; rel=\"next\"",
            "<https://ghe.example.com/api/v3/%2e%2e/%2E%2E/settings?page=2>; rel=\"next\"",
        ] {
            assert_eq!(next_page(off_api, ghe), None, "{off_api}");
        }
        // One that stays on it is followed as it is sent.
        assert_eq!(
            next_page(
                "<https://ghe.example.com/api/v3/repos/a/b/../../c/d/pulls?page=2>; rel=\"next\"",
                ghe
            )
            .as_deref(),
            Some("https://ghe.example.com/api/v3/repos/c/d/pulls?page=2")
        );
    }

    #[test]
    fn unusable_urls_are_errors_naming_the_value() {
        for bad in [
            "",
            "api.github.com",
            "ftp://x",
            "https://",
            "https:///x",
            "https://a b",
            "https:/\u{e9}x",
        ] {
            let e = GitHub::builder()
                .api_url(bad)
                .build()
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("GitHub API URL") && e.contains(&format!("'{}'", bad.trim())),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn serves_github_repositories_of_its_hosts_only() {
        let gh = GitHub::builder()
            .api_url("https://github.example.com")
            .build()
            .unwrap();
        assert!(gh.serves_repo(&RepoRef::parse("https://github.example.com/ops/hld").unwrap()));
        assert!(!gh.serves_repo(&RepoRef::parse("https://github.com/ops/hld").unwrap()));
        assert!(!gh.serves_repo(&RepoRef::parse("https://dev.azure.com/o/p/_git/hld").unwrap()));
    }

    #[test]
    fn the_token_never_prints() {
        let gh = GitHub::builder()
            .token(Secret::new("ghp_supersecret"))
            .build()
            .unwrap();
        assert!(!format!("{gh:?}").contains("ghp_supersecret"));
    }
}
