//! The GitLab API client shared by [`GitLabPipelines`](crate::GitLabPipelines) and
//! [`GitLabRepos`](crate::GitLabRepos): the instance URL, token, conditional requests,
//! pagination and GraphQL.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use spektate_core::http::{
    Auth, Connection, HttpClient, Method, Policy, Request, Response, Secret,
};
use spektate_core::model::url::api_base;
use spektate_core::{Error, RepoHost, RepoRef, Result, url_encode};

use crate::project::Project;
use spektate_core::cache::AnswersCache;
use spektate_core::etag_cache::{Cached, EtagCache, Identity};

/// gitlab.com.
pub const GITLAB_COM: &str = "https://gitlab.com";

/// Objects a page of a REST list carries: GitLab's largest `per_page`.
pub const PER_PAGE: usize = 100;

/// How the token is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenKind {
    /// A personal, project or group access token: the `PRIVATE-TOKEN` header.
    #[default]
    Private,
    /// An OAuth 2.0 access token: `Authorization: Bearer`.
    OAuth,
    /// A CI/CD job token (`$CI_JOB_TOKEN`): `Authorization: Bearer`. It reads only what the
    /// job's project allows, and only the endpoints GitLab opens to job tokens.
    Job,
}

impl TokenKind {
    /// The kind named by a word: `private`, `oauth` or `job`.
    pub fn from_word(word: &str) -> Result<Self> {
        match word.trim().to_ascii_lowercase().as_str() {
            "private" | "pat" | "personal" => Ok(TokenKind::Private),
            "oauth" | "bearer" => Ok(TokenKind::OAuth),
            "job" | "ci" => Ok(TokenKind::Job),
            _ => Err(Error::invalid(
                "GitLab token kind",
                format!("'{}' is not one of private, oauth, job", word.trim()),
            )),
        }
    }
}

/// A GitLab instance (gitlab.com or self-managed) with its credentials.
///
/// Cheap to clone; clones share the HTTP client, its concurrency limit and rate-limit pause,
/// and the ETag cache. Build one and hand out [`GitLab::pipelines`] and [`GitLab::repos`].
#[derive(Clone)]
pub struct GitLab {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub http: HttpClient,
    /// The instance URL, e.g. `https://gitlab.example.com/gitlab`.
    pub base: String,
    /// `{base}/api/v4`.
    pub api: String,
    /// `{base}/api/graphql`, when GraphQL is used.
    pub graphql: Option<String>,
    /// The host (and port) repositories of this instance are on.
    pub host: String,
    /// The path the instance lives under (`gitlab` for `https://example.com/gitlab`), else empty.
    pub prefix: String,
    pub token_kind: Option<TokenKind>,
    pub cache: EtagCache,
    /// Who requests are made as, for the pages kept across processes.
    pub identity: Identity,
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
    pub graphql_queries: AtomicU64,
}

impl fmt::Debug for GitLab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLab")
            .field("api", &self.inner.api)
            .field("token_kind", &self.inner.token_kind)
            .field("http", &self.inner.http)
            .finish()
    }
}

/// Requests a [`GitLab`] client has sent (retries not counted), for watching the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Requests sent, REST and GraphQL.
    pub requests: u64,
    /// REST requests answered `304 Not Modified`.
    pub not_modified: u64,
    /// GraphQL queries among the requests.
    pub graphql_queries: u64,
}

/// Builds a [`GitLab`] client.
#[derive(Debug, Clone)]
pub struct GitLabBuilder {
    url: String,
    token: Option<Secret>,
    token_kind: TokenKind,
    graphql: bool,
    policy: Policy,
    cache_capacity: usize,
}

impl Default for GitLabBuilder {
    fn default() -> Self {
        GitLabBuilder {
            url: GITLAB_COM.to_string(),
            token: None,
            token_kind: TokenKind::Private,
            graphql: true,
            policy: Policy {
                concurrency: 4,
                ..Policy::default()
            },
            cache_capacity: 2_000,
        }
    }
}

impl GitLabBuilder {
    /// The instance URL: `https://gitlab.com` (the default), or a self-managed instance,
    /// with the path it is served under if any (`https://example.com/gitlab`). An URL ending
    /// in `/api/v4` is taken as the instance it belongs to.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The token; sent only to the instance URL, never to a host a response names.
    pub fn token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// The token when there is one.
    pub fn maybe_token(mut self, token: Option<Secret>) -> Self {
        self.token = token;
        self
    }

    /// How the token is sent (default [`TokenKind::Private`]).
    pub fn token_kind(mut self, kind: TokenKind) -> Self {
        self.token_kind = kind;
        self
    }

    /// Never use GraphQL: merge requests and commits are read over REST.
    pub fn without_graphql(mut self) -> Self {
        self.graphql = false;
        self
    }

    /// Timeouts, retries and concurrency (default: 4 requests in flight).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How many responses keep their ETag for revalidation (default 2,000; 0 disables).
    pub fn cache_capacity(mut self, n: usize) -> Self {
        self.cache_capacity = n;
        self
    }

    /// The client; an unusable URL or token is an error naming it (never showing the token).
    pub fn build(self) -> Result<GitLab> {
        let base = instance_url(&self.url)?;
        let (_, rest) = base.split_once("://").unwrap_or(("", &base));
        let (host, prefix) = match rest.split_once('/') {
            Some((h, p)) => (h.to_ascii_lowercase(), p.to_ascii_lowercase()),
            None => (rest.to_ascii_lowercase(), String::new()),
        };
        let token = self
            .token
            .map(|t| t.expose().trim().to_string())
            .filter(|t| !t.is_empty());
        if token
            .as_ref()
            .is_some_and(|t| !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(Error::invalid(
                "GitLab token",
                "it holds characters an HTTP header cannot carry (whitespace or non-ASCII)",
            ));
        }
        let auth = match (&token, self.token_kind) {
            (Some(t), TokenKind::OAuth | TokenKind::Job) => Auth::Bearer(Secret::new(t.clone())),
            _ => Auth::None,
        };
        let token_kind = token.as_ref().map(|_| self.token_kind);
        let identity = match (&token, token_kind) {
            (Some(t), Some(kind)) => Identity::of(&[&base, &format!("{kind:?}"), t]),
            _ => Identity::of(&[&base, "anonymous"]),
        };
        let name = format!("gitlab {host}{}", slash(&prefix));
        // Redirects are not followed: a `PRIVATE-TOKEN` header would go along to wherever
        // a response points.
        let connection = Connection {
            follow_redirects: false,
            ..Connection::default()
        };
        let mut http = HttpClient::with_connection(name, auth, self.policy, connection)?;
        if let (Some(t), TokenKind::Private) = (&token, self.token_kind) {
            http = http.default_header("private-token", t);
        }
        // GraphQL answers anonymous queries only for public projects; without a token
        // everything goes through REST, which says 404 plainly.
        let graphql = (self.graphql && token.is_some()).then(|| format!("{base}/api/graphql"));
        Ok(GitLab {
            inner: Arc::new(Inner {
                http,
                api: format!("{base}/api/v4"),
                graphql,
                base,
                host,
                prefix,
                token_kind,
                cache: EtagCache::new(self.cache_capacity),
                identity,
                requests: AtomicU64::new(0),
                not_modified: AtomicU64::new(0),
                graphql_queries: AtomicU64::new(0),
            }),
        })
    }
}

fn slash(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    }
}

/// A trimmed http(s) instance URL without a trailing slash or `/api/v4`, or an error naming
/// the value.
fn instance_url(url: &str) -> Result<String> {
    let check = |u: &str| api_base("GitLab URL", u, "SPEKTATE_GITLAB_TOKEN");
    let u = check(url)?;
    match u
        .strip_suffix("/api/v4")
        .or_else(|| u.strip_suffix("/api/graphql"))
    {
        Some(instance) => check(instance),
        None => Ok(u),
    }
}

/// The next page of a list: the `rel="next"` URL of the `Link` header when it is under the
/// API base `api` (the token is sent nowhere else), else the page `x-next-page` names
/// (offset pagination), else none: the list ended.
pub(crate) fn next_page(resp: &Response, url: &str, api: &str) -> Option<String> {
    if let Some(link) = resp.header("link") {
        if let Some(next) = link_next(link, api) {
            return Some(next);
        }
        if link.contains("rel=\"next\"") {
            // A next page elsewhere: not followed.
            return None;
        }
    }
    let page = resp.header("x-next-page")?.trim();
    if page.is_empty() || !page.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(with_page(url, page))
}

/// `url` with its `page` query parameter set to `page`.
fn with_page(url: &str, page: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .collect();
    let page = format!("page={page}");
    params.push(&page);
    format!("{path}?{}", params.join("&"))
}

/// The `rel="next"` target of a `Link` header when it is under `api`
/// ([`spektate_core::http::url_under`]), as it is sent.
pub(crate) fn link_next(link: &str, api: &str) -> Option<String> {
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
    /// 404: the object does not exist, or the token cannot see its project.
    NotFound,
}

/// A GraphQL answer: `data` and `errors`, both possibly present.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphQlResponse {
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    #[serde(default)]
    pub errors: Vec<GraphQlError>,
}

/// One GraphQL error as GitLab reports it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GraphQlError {
    #[serde(default)]
    pub message: String,
}

impl GitLab {
    /// A builder for gitlab.com; see [`GitLabBuilder`].
    pub fn builder() -> GitLabBuilder {
        GitLabBuilder::default()
    }

    /// The pipelines provider of this client.
    pub fn pipelines(&self) -> crate::GitLabPipelines {
        crate::GitLabPipelines::new(self.clone())
    }

    /// The repositories provider (authors, merge requests, sync tags) of this client.
    pub fn repos(&self) -> crate::GitLabRepos {
        crate::GitLabRepos::new(self.clone())
    }

    /// The instance URL.
    pub fn url(&self) -> &str {
        &self.inner.base
    }

    /// The REST base URL (`{url}/api/v4`).
    pub fn api_url(&self) -> &str {
        &self.inner.api
    }

    /// The GraphQL endpoint, when GraphQL is used (it needs a token).
    pub fn graphql_url(&self) -> Option<&str> {
        self.inner.graphql.as_deref()
    }

    /// Requests sent so far.
    pub fn stats(&self) -> RequestStats {
        RequestStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            not_modified: self.inner.not_modified.load(Ordering::Relaxed),
            graphql_queries: self.inner.graphql_queries.load(Ordering::Relaxed),
        }
    }

    /// Whether `repo` is a project of this instance: on its host, under its path. A
    /// repository whose URL does not say GitLab (`https://git.example.com/ops/hld` reads as
    /// GitHub) is served too when its host is this instance's; Azure DevOps ones never are.
    pub fn serves_repo(&self, repo: &RepoRef) -> bool {
        repo.provider != RepoHost::AzureDevOps
            && repo.host == self.inner.host
            && self.project_path(repo).is_some()
    }

    /// The project path (`group/sub/name`) of `repo` on this instance: its path without the
    /// instance's own path prefix.
    pub(crate) fn project_path(&self, repo: &RepoRef) -> Option<String> {
        let full = format!("{}/{}", repo.owner, repo.name);
        let prefix = &self.inner.prefix;
        if prefix.is_empty() {
            return Some(full);
        }
        full.strip_prefix(prefix.as_str())?
            .strip_prefix('/')
            .filter(|p| p.contains('/'))
            .map(str::to_string)
    }

    /// The project of `repo` on this instance, or an error naming the repository.
    pub(crate) fn project_of(&self, repo: &RepoRef) -> Result<Project> {
        let path = self.project_path(repo).ok_or_else(|| {
            Error::invalid(
                "GitLab project",
                format!("{} is not a project of {}", repo.web_url(), self.inner.base),
            )
        })?;
        Project::parse(&path)
    }

    /// A short name for messages: `gitlab gitlab.com`.
    pub(crate) fn label(&self) -> String {
        self.inner.http.provider().to_string()
    }

    /// `{api}/projects/{id or encoded path}{tail}`.
    pub(crate) fn project_url(&self, project: &Project, tail: &str) -> String {
        format!(
            "{}/projects/{}{tail}",
            self.inner.api,
            url_encode::segment(&project.api_id())
        )
    }

    /// `{api}{tail}`.
    pub(crate) fn api(&self, tail: &str) -> String {
        format!("{}{tail}", self.inner.api)
    }

    /// Sends a request to this instance and counts it. A URL elsewhere is refused.
    pub(crate) async fn send(&self, req: Request) -> Result<Response> {
        if spektate_core::http::url_under(req.url(), &self.inner.base).is_none() {
            return Err(Error::provider(
                self.label(),
                "send request",
                req.url(),
                format!("the URL is not under {}", self.inner.base),
            ));
        }
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.http.send(req).await
    }

    /// A GET revalidated with `If-None-Match` when its ETag is stored: a 304 brings back the
    /// stored body. 404 is [`Fetched::NotFound`]; other failures are errors naming
    /// `operation` and `object`.
    pub(crate) async fn get_cached(
        &self,
        url: &str,
        operation: &str,
        object: &str,
    ) -> Result<Fetched> {
        let cached = self.inner.cache.lookup(url).await;
        let mut req = Request::get(url, operation, object).pass(&[304, 404]);
        if let Some(c) = &cached {
            req = req.optional_header("if-none-match", &c.etag);
        }
        let resp = self.send(req).await?;
        match (resp.status, cached) {
            (304, Some(c)) => {
                self.inner.not_modified.fetch_add(1, Ordering::Relaxed);
                Ok(Fetched::Body {
                    body: c.body,
                    revalidated: true,
                    next: c.next,
                })
            }
            (304, None) => {
                // A 304 to a request that sent no validator: ask again plainly.
                let resp = self
                    .send(Request::get(url, operation, object).pass(&[404]))
                    .await?;
                Ok(self.keep(url, resp).await)
            }
            _ => Ok(self.keep(url, resp).await),
        }
    }

    async fn keep(&self, url: &str, resp: Response) -> Fetched {
        if resp.status == 404 {
            self.inner.cache.forget(url).await;
            return Fetched::NotFound;
        }
        let next = next_page(&resp, url, &self.inner.api);
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

    /// Whether a GET of `url` would be revalidated (its ETag is stored).
    pub(crate) async fn revalidates(&self, url: &str) -> bool {
        self.inner.cache.lookup(url).await.is_some()
    }

    /// Keeps list pages with their ETags in `cache` too, so another process revalidates them;
    /// pages are kept under this client's credential, so another credential never reads them.
    /// The first cache given stays.
    pub fn use_answers_cache(&self, cache: &Arc<dyn AnswersCache>) {
        self.inner
            .cache
            .persist_in(cache.clone(), self.inner.identity);
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
    ) -> Result<GraphQlResponse> {
        let Some(url) = &self.inner.graphql else {
            return Err(Error::provider(
                self.label(),
                operation,
                object,
                "GraphQL is not used",
            ));
        };
        let body = serde_json::json!({ "query": query, "variables": variables });
        self.inner.graphql_queries.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .send(Request::new(Method::POST, url, operation, object).json(&body))
            .await?;
        resp.json()
    }

    /// Parses a JSON body; a malformed one is an error naming `operation` and `object`.
    /// A page of a list: its first [`PER_PAGE`] items; the rest are checked for syntax and
    /// dropped unread, so a server ignoring `per_page` cannot make a page hold more.
    pub(crate) fn parse_page<T: DeserializeOwned>(
        &self,
        body: &[u8],
        operation: &str,
        object: &str,
    ) -> Result<Vec<T>> {
        let mut de = serde_json::Deserializer::from_slice(body);
        spektate_core::fields::first::<PER_PAGE, _, _>(&mut de)
            .and_then(|page| de.end().map(|()| page))
            .map_err(|e| {
                Error::provider(
                    self.label(),
                    operation,
                    object,
                    format!("malformed response body: {e}"),
                )
            })
    }

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

    /// Checks the token with one request: `GET /user` for an access or OAuth token, `GET
    /// /job` for a CI job token; a rejected token is an error (the token never shown).
    pub async fn check_token(&self) -> Result<String> {
        let Some(kind) = self.inner.token_kind else {
            return Ok("no token (anonymous): public projects only".to_string());
        };
        let (tail, what) = match kind {
            TokenKind::Job => ("/job", "job"),
            _ => ("/user", "user"),
        };
        let url = self.api(tail);
        let resp = self.send(Request::get(&url, "check token", what)).await?;
        let v: serde_json::Value = resp.json()?;
        let s = |v: &serde_json::Value, k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        Ok(match kind {
            TokenKind::Job => {
                let project = v
                    .pointer("/pipeline/project_id")
                    .and_then(serde_json::Value::as_u64);
                match (v.get("id").and_then(serde_json::Value::as_u64), project) {
                    (Some(id), Some(p)) => {
                        format!("job token accepted: job {id} of project {p}")
                    }
                    (Some(id), None) => format!("job token accepted: job {id}"),
                    _ => "job token accepted".to_string(),
                }
            }
            _ => match s(&v, "username") {
                Some(u) => format!("token accepted for @{u}"),
                None => "token accepted".to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_at_most_what_was_asked_whatever_the_server_sends() {
        let gl = GitLab::builder().build().unwrap();
        let tags: Vec<String> = (0..250)
            .map(|i| format!(r#"{{"name":"flux-c{i}","target":"{i:040x}"}}"#))
            .collect();
        let body = format!("[{}]", tags.join(","));
        let page: Vec<crate::payloads::Tag> = gl
            .parse_page(body.as_bytes(), "list sync tags", "ops/manifests")
            .unwrap();
        assert_eq!(page.len(), PER_PAGE);
        assert_eq!(page[99].name, "flux-c99");
        // What follows the kept items is still checked.
        let e = gl
            .parse_page::<crate::payloads::Tag>(b"[] trailing", "list sync tags", "ops/manifests")
            .unwrap_err()
            .to_string();
        assert!(e.contains("malformed response body"), "{e}");
        let e = gl
            .parse_page::<crate::payloads::Tag>(b"[1, {", "list sync tags", "ops/manifests")
            .unwrap_err()
            .to_string();
        assert!(e.contains("list sync tags ops/manifests"), "{e}");
    }

    #[test]
    fn instance_urls_of_gitlab_com_and_self_managed_servers() {
        let gl = GitLab::builder().build().unwrap();
        assert_eq!(gl.api_url(), "https://gitlab.com/api/v4");
        assert_eq!(gl.graphql_url(), None, "no token, no GraphQL");
        let sm = GitLab::builder()
            .url("https://Example.com/gitlab/api/v4/")
            .token(Secret::new("glpat-x"))
            .build()
            .unwrap();
        assert_eq!(sm.url(), "https://Example.com/gitlab");
        assert_eq!(sm.api_url(), "https://Example.com/gitlab/api/v4");
        assert_eq!(
            sm.graphql_url(),
            Some("https://Example.com/gitlab/api/graphql")
        );
        let repo = RepoRef::parse("https://example.com/gitlab/ops/platform/hld.git").unwrap();
        assert!(sm.serves_repo(&repo));
        assert_eq!(sm.project_path(&repo).as_deref(), Some("ops/platform/hld"));
        let outside = RepoRef::parse("https://example.com/other/ops/hld").unwrap();
        assert!(!sm.serves_repo(&outside), "not under the instance's path");
        let github = RepoRef::parse("https://github.com/ops/hld").unwrap();
        assert!(!gl.serves_repo(&github));
        let azure = RepoRef::parse("https://dev.azure.com/o/p/_git/hld").unwrap();
        assert!(!gl.serves_repo(&azure));
        let own = GitLab::builder()
            .url("https://git.fabrikam.example")
            .build()
            .unwrap();
        let two = RepoRef::parse("https://git.fabrikam.example/ops/hld").unwrap();
        assert_eq!(
            two.provider,
            RepoHost::GitHub,
            "the URL alone reads as GitHub"
        );
        assert!(
            own.serves_repo(&two),
            "its own host's repositories are served"
        );
    }

    #[test]
    fn unusable_urls_and_tokens_are_errors_naming_them() {
        for bad in ["", "gitlab.com", "ftp://x", "https://", "https://a b"] {
            let e = GitLab::builder().url(bad).build().unwrap_err().to_string();
            assert!(
                e.contains("GitLab URL") && e.contains(&format!("'{}'", bad.trim())),
                "{bad}: {e}"
            );
        }
        let e = GitLab::builder()
            .token(Secret::new("glpat-abc\ndef"))
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GitLab token") && !e.contains("glpat-abc"),
            "{e}"
        );
        assert!(
            TokenKind::from_word("nope")
                .unwrap_err()
                .to_string()
                .contains("'nope'")
        );
        assert_eq!(TokenKind::from_word("Job").unwrap(), TokenKind::Job);
    }

    #[test]
    fn the_next_page_comes_from_link_or_x_next_page_and_stays_on_the_api() {
        let api = "https://gitlab.com/api/v4";
        let link = "<https://gitlab.com/api/v4/projects/8/pipelines?page=3&per_page=100>; rel=\"next\", \
                    <https://gitlab.com/api/v4/projects/8/pipelines?page=1&per_page=100>; rel=\"first\"";
        assert_eq!(
            link_next(link, api).as_deref(),
            Some("https://gitlab.com/api/v4/projects/8/pipelines?page=3&per_page=100")
        );
        for elsewhere in [
            "<https://evil.example/api/v4/x?page=2>; rel=\"next\"",
            "<https://gitlab.com/api/v4.evil.example/x?page=2>; rel=\"next\"",
            "<https://gitlab.com/api/v4/../../other/x?page=2>; rel=\"next\"",
            "<https://gitlab.com/api/v4/%2e%2e/%2e%2e/other/x?page=2>; rel=\"next\"",
        ] {
            assert_eq!(link_next(elsewhere, api), None, "{elsewhere}");
        }
        assert_eq!(
            with_page(
                "https://gitlab.com/api/v4/projects/8/pipelines?per_page=100&page=1",
                "2"
            ),
            "https://gitlab.com/api/v4/projects/8/pipelines?per_page=100&page=2"
        );
    }

    #[test]
    fn the_token_never_prints() {
        for kind in [TokenKind::Private, TokenKind::OAuth, TokenKind::Job] {
            let gl = GitLab::builder()
                .token(Secret::new("glpat-supersecret"))
                .token_kind(kind)
                .build()
                .unwrap();
            assert!(!format!("{gl:?}").contains("supersecret"));
        }
    }
}
