//! A fake GitLab for the tests: REST v4 (pipelines, jobs, commits, merge requests, tags,
//! projects, `/user`, `/job`) and GraphQL (`project.mergeRequests(iids:)`,
//! `project.repository.commit(ref:)`), answering in GitLab's documented shapes. Lists page as
//! GitLab's offset pagination does (`per_page` at most 100, `x-page`, `x-next-page`,
//! `x-total`, a `Link` header); every GET answer carries a weak ETag and a matching
//! `If-None-Match` gets a bodyless 304. Requests are logged and counted; the token is checked
//! in the header its kind uses. A pipeline's jobs leave retried attempts out unless asked
//! with `include_retried=true`, and GraphQL refuses a query over GitLab's complexity limit.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use spektate_core::RepoRef;
use spektate_gitlab::{GitLab, GitLabBuilder, Policy, Secret, TokenKind};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Where `tests/specs/run.sh` finds what the fake answered (`spektate_core::testkit::specs_log`).
pub const SPECS_LOG: &str = "gitlab-served.jsonl";

/// The token the fake accepts.
pub const TOKEN: &str = "glpat-fake-test-token-0123456789";

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub method: String,
    /// Path (without the instance's prefix and `/api/v4`) and query, as sent.
    pub path: String,
    pub status: u16,
    pub if_none_match: Option<String>,
    /// For GraphQL: how many objects the query asked for.
    pub graphql_objects: usize,
}

impl Served {
    pub fn is_graphql(&self) -> bool {
        self.method == "POST" && self.path.ends_with("/graphql")
    }
}

/// What the fake GitLab holds.
#[derive(Debug, Default)]
pub struct World {
    /// Project paths by numeric id.
    pub projects: BTreeMap<u64, String>,
    /// Pipelines per project path, by id.
    pub pipelines: HashMap<String, BTreeMap<u64, Value>>,
    /// Jobs per pipeline id.
    pub jobs: HashMap<u64, Vec<Value>>,
    /// Commits per (project path, sha).
    pub commits: HashMap<(String, String), Value>,
    /// Merge requests per project path, by iid.
    pub merge_requests: HashMap<String, BTreeMap<u64, Value>>,
    /// Tags per project path, in the order GitLab lists them.
    pub tags: HashMap<String, Vec<Value>>,
    /// The default branch's commit ids per project path, newest first.
    pub history: HashMap<String, Vec<String>>,
    /// Projects that exist but the token cannot see (answered 404).
    pub hidden: HashSet<String>,
    /// Pipelines whose every request (a page holding one included) fails with 500.
    pub broken: HashSet<u64>,
    /// How many requests to refuse with 429 and `Retry-After: 1` next.
    pub throttle: u32,
    /// An older GitLab: `Repository.commit` does not exist in its GraphQL schema.
    pub no_graphql_commit: bool,
    /// GraphQL answers 502.
    pub graphql_down: bool,
}

impl World {
    pub fn add_project(&mut self, path: &str) -> u64 {
        if let Some((id, _)) = self.projects.iter().find(|(_, p)| *p == path) {
            return *id;
        }
        let id = 4_000_000 + self.projects.len() as u64;
        self.projects.insert(id, path.to_string());
        id
    }

    fn project_id(&self, path: &str) -> u64 {
        self.projects
            .iter()
            .find(|(_, p)| *p == path)
            .map_or(0, |(id, _)| *id)
    }
}

/// A running fake GitLab.
pub struct FakeGitLab {
    pub server: MockServer,
    pub world: Arc<Mutex<World>>,
    /// The path the instance is served under (`/gitlab`), or empty.
    pub prefix: String,
    log: Arc<Mutex<Vec<Served>>>,
}

impl FakeGitLab {
    /// A fake at the server's root.
    pub async fn start() -> Self {
        Self::start_under("").await
    }

    /// A fake served under `prefix` (`/gitlab`), as a self-managed instance with a relative
    /// URL root.
    pub async fn start_under(prefix: &str) -> Self {
        Self::start_with(prefix, TokenKind::Private).await
    }

    /// A fake that takes the token as `kind` sends it.
    pub async fn start_with(prefix: &str, kind: TokenKind) -> Self {
        let server = MockServer::start().await;
        let world = Arc::new(Mutex::new(World::default()));
        let log = Arc::new(Mutex::new(Vec::new()));
        Mock::given(wiremock::matchers::any())
            .respond_with(Responder {
                world: world.clone(),
                log: log.clone(),
                origin: server.uri(),
                prefix: prefix.to_string(),
                kind,
            })
            .mount(&server)
            .await;
        FakeGitLab {
            server,
            world,
            prefix: prefix.to_string(),
            log,
        }
    }

    /// The instance URL a user would configure.
    pub fn url(&self) -> String {
        format!("{}{}", self.server.uri(), self.prefix)
    }

    /// The web URL of a project of this instance.
    pub fn project_url(&self, path: &str) -> String {
        format!("{}/{path}", self.url())
    }

    /// A repository of this instance.
    pub fn repo(&self, path: &str) -> RepoRef {
        RepoRef::parse(&self.project_url(path)).unwrap()
    }

    /// A builder for this instance with quick retries.
    pub fn builder(&self) -> GitLabBuilder {
        let policy = Policy {
            base_delay: std::time::Duration::from_millis(2),
            max_retries: 1,
            timeout: std::time::Duration::from_secs(10),
            ..Policy::default()
        };
        GitLab::builder().url(self.url()).policy(policy)
    }

    /// A client for this instance with the test token.
    pub fn client(&self) -> GitLab {
        self.builder().token(Secret::new(TOKEN)).build().unwrap()
    }

    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    /// Everything served so far.
    pub fn served(&self) -> Vec<Served> {
        self.log.lock().unwrap().clone()
    }

    /// Forgets what was served (to count one phase).
    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

struct Responder {
    world: Arc<Mutex<World>>,
    log: Arc<Mutex<Vec<Served>>>,
    /// `http://127.0.0.1:PORT`, where the `Link` headers point.
    origin: String,
    prefix: String,
    kind: TokenKind,
}

fn message(status: u16, text: &str) -> (u16, Value) {
    (status, json!({ "message": text }))
}

fn etag_of(body: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("W/\"{:016x}\"", h.finish())
}

/// A page of `items` as GitLab's offset pagination cuts it, with its headers.
struct Page {
    items: Vec<Value>,
    headers: Vec<(String, String)>,
}

fn paginate(
    all: Vec<Value>,
    query: &HashMap<String, String>,
    url: &str,
    pairs: &[(String, String)],
) -> Page {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = all.len();
    let pages = total.div_ceil(per_page).max(1);
    let items: Vec<Value> = all
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link_to = |p: usize| {
        let mut q: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        q.push(format!("page={p}"));
        format!("<{url}?{}>", q.join("&"))
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    links.push(format!("{}; rel=\"first\"", link_to(1)));
    links.push(format!("{}; rel=\"last\"", link_to(pages)));
    let next = if page < pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    Page {
        items,
        headers: vec![
            ("x-page".into(), page.to_string()),
            ("x-per-page".into(), per_page.to_string()),
            ("x-next-page".into(), next),
            ("x-prev-page".into(), prev),
            ("x-total".into(), total.to_string()),
            ("x-total-pages".into(), pages.to_string()),
            ("link".into(), links.join(", ")),
        ],
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Responder {
    fn authorized(&self, req: &Request) -> bool {
        let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok());
        match self.kind {
            TokenKind::Private => header("private-token") == Some(TOKEN),
            _ => header("authorization") == Some(&format!("Bearer {TOKEN}")),
        }
    }
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let raw = req.url.path().to_string();
        let under = raw.strip_prefix(self.prefix.as_str()).unwrap_or("");
        let rest = under.strip_prefix("/api/v4").map(str::to_string);
        let if_none_match = req
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let shown = match (&rest, req.url.query()) {
            (Some(r), Some(q)) => format!("{r}?{q}"),
            (Some(r), None) => r.clone(),
            (None, _) => under.to_string(),
        };
        let mut world = self.world.lock().unwrap();
        let mut graphql_objects = 0;
        let mut headers: Vec<(String, String)> = Vec::new();
        let (status, body) = if world.throttle > 0 {
            world.throttle -= 1;
            headers.push(("retry-after".into(), "1".into()));
            headers.push(("ratelimit-remaining".into(), "0".into()));
            message(429, "Retry later")
        } else if !self.authorized(req) {
            message(401, "401 Unauthorized")
        } else if req.method.as_str() == "POST" && under == "/api/graphql" {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            graphql_objects = body["variables"]["iids"].as_array().map_or_else(
                || {
                    body["variables"]
                        .as_object()
                        .map_or(0, |v| v.keys().filter(|k| *k != "path").count())
                },
                Vec::len,
            );
            if world.graphql_down {
                (502, json!({"message": "502 Bad Gateway"}))
            } else {
                (200, graphql(&world, &body, &self.url_base()))
            }
        } else if let (Some(path), "GET") = (&rest, req.method.as_str()) {
            let pairs: Vec<(String, String)> = req
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut query: HashMap<String, String> = HashMap::new();
            let mut iids: Vec<u64> = Vec::new();
            for (k, v) in &pairs {
                if k == "iids[]" {
                    iids.extend(v.parse::<u64>().ok());
                } else {
                    query.insert(k.clone(), v.clone());
                }
            }
            let url = format!("{}{}/api/v4{path}", self.origin, self.prefix);
            let (status, body, page_headers) =
                rest_api(&world, path, &query, &iids, &url, &pairs, &self.url_base());
            headers.extend(page_headers);
            (status, body)
        } else {
            message(404, "404 Not Found")
        };
        drop(world);
        let text = body.to_string();
        let answered = body;
        let mut status = status;
        let mut template = ResponseTemplate::new(status)
            .insert_header("content-type", "application/json")
            .insert_header("cache-control", "max-age=0, private, must-revalidate")
            .insert_header("ratelimit-limit", "2000")
            .insert_header("ratelimit-observed", "1");
        for (k, v) in &headers {
            template = template.insert_header(k.as_str(), v.as_str());
        }
        if status == 200 && req.method.as_str() == "GET" {
            let etag = etag_of(&text);
            if if_none_match.as_deref() == Some(etag.as_str()) {
                status = 304;
                template = ResponseTemplate::new(304).insert_header("etag", etag.as_str());
                for (k, v) in &headers {
                    template = template.insert_header(k.as_str(), v.as_str());
                }
            } else {
                template = template
                    .insert_header("etag", etag.as_str())
                    .set_body_string(text);
            }
        } else {
            template = template.set_body_string(text);
        }
        let logged = raw.strip_prefix(self.prefix.as_str()).unwrap_or(&raw);
        let logged = match req.url.query() {
            Some(q) => format!("{logged}?{q}"),
            None => logged.to_string(),
        };
        let request: Option<Value> = (under == "/api/graphql")
            .then(|| serde_json::from_slice(&req.body).unwrap_or(Value::Null));
        spektate_core::testkit::specs_log::served(
            SPECS_LOG,
            req.method.as_str(),
            &logged,
            status,
            request.as_ref(),
            if status == 304 {
                &Value::Null
            } else {
                &answered
            },
        );
        self.log.lock().unwrap().push(Served {
            method: req.method.to_string(),
            path: shown,
            status,
            if_none_match,
            graphql_objects,
        });
        template
    }
}

impl Responder {
    fn url_base(&self) -> String {
        format!("{}{}", self.origin, self.prefix)
    }
}

/// The project a `/projects/:id` segment names: a numeric id or an encoded path.
fn project_of(world: &World, segment: &str) -> Option<String> {
    let decoded = decode(segment).to_ascii_lowercase();
    let path = match decoded.parse::<u64>() {
        Ok(id) => world.projects.get(&id)?.clone(),
        Err(_) => decoded,
    };
    (world.projects.values().any(|p| *p == path) && !world.hidden.contains(&path)).then_some(path)
}

fn rest_api(
    world: &World,
    path: &str,
    query: &HashMap<String, String>,
    iids: &[u64],
    url: &str,
    pairs: &[(String, String)],
    base: &str,
) -> (u16, Value, Vec<(String, String)>) {
    let plain = |(s, v): (u16, Value)| (s, v, Vec::new());
    let paged = |all: Vec<Value>| {
        let page = paginate(all, query, url, pairs);
        (200, Value::Array(page.items), page.headers)
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["user"] => plain((
            200,
            json!({"id": 1384451, "username": "spektate-bot", "name": "Spektate", "state": "active",
                   "avatar_url": null, "web_url": format!("{base}/spektate-bot")}),
        )),
        ["job"] => plain((
            200,
            json!({"id": 8801, "status": "running", "stage": "deploy", "name": "record",
                   "pipeline": {"id": 208859532, "project_id": 21761957, "status": "running"}}),
        )),
        ["projects", p, tail @ ..] => {
            let Some(project) = project_of(world, p) else {
                return plain(message(404, "404 Project Not Found"));
            };
            let id = world.project_id(&project);
            match tail {
                [] => plain((
                    200,
                    json!({"id": id, "path_with_namespace": project, "web_url": format!("{base}/{project}"),
                           "default_branch": "main", "visibility": "private"}),
                )),
                ["pipelines"] => {
                    let all: Vec<Value> = world
                        .pipelines
                        .get(&project)
                        .map(|ps| ps.values().rev().map(list_item).collect())
                        .unwrap_or_default();
                    let page = paginate(all, query, url, pairs);
                    if page.items.iter().any(|p| is_broken(world, p)) {
                        return plain(message(500, "500 Internal Server Error"));
                    }
                    (200, Value::Array(page.items), page.headers)
                }
                ["pipelines", n] => {
                    let p = n
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| world.pipelines.get(&project)?.get(&n));
                    match p {
                        Some(p) if is_broken(world, p) => {
                            plain(message(500, "500 Internal Server Error"))
                        }
                        Some(p) => plain((200, p.clone())),
                        None => plain(message(404, "404 Not found")),
                    }
                }
                ["pipelines", n, "jobs"] => match n.parse::<u64>().ok().and_then(|n| {
                    world
                        .pipelines
                        .get(&project)?
                        .get(&n)
                        .map(|_| world.jobs.get(&n).cloned().unwrap_or_default())
                }) {
                    Some(mut jobs) => {
                        if query.get("include_retried").map(String::as_str) != Some("true") {
                            jobs = latest_attempts(jobs);
                        }
                        jobs.sort_by_key(|j| std::cmp::Reverse(j["id"].as_u64()));
                        paged(jobs)
                    }
                    None => plain(message(404, "404 Not found")),
                },
                ["repository", "commits"] => {
                    // The default branch, newest first: commits as the list shows them.
                    let all: Vec<Value> = world
                        .history
                        .get(&project)
                        .into_iter()
                        .flatten()
                        .map(|sha| {
                            world
                                .commits
                                .get(&(project.clone(), sha.clone()))
                                .map(listed_commit)
                                .unwrap_or_else(|| {
                                    json!({"id": sha, "short_id": &sha[..sha.len().min(11)],
                                           "title": "Update manifests", "message": "Update manifests\n",
                                           "author_name": "Build Agent", "author_email": "agent@fabrikam.example",
                                           "authored_date": "2026-11-26T12:00:00.000+00:00",
                                           "committer_name": "Build Agent", "committer_email": "agent@fabrikam.example",
                                           "committed_date": "2026-11-26T12:00:00.000+00:00",
                                           "created_at": "2026-11-26T12:00:00.000+00:00", "parent_ids": [],
                                           "web_url": format!("https://gitlab.com/{project}/-/commit/{sha}")})
                                })
                        })
                        .collect();
                    paged(all)
                }
                ["repository", "commits", sha] => {
                    match world.commits.get(&(project.clone(), sha.to_string())) {
                        Some(c) => plain((200, rest_commit(c))),
                        None => plain(message(404, "404 Commit Not Found")),
                    }
                }
                ["repository", "tags"] => {
                    let search = query.get("search").cloned().unwrap_or_default();
                    let all: Vec<Value> = world
                        .tags
                        .get(&project)
                        .into_iter()
                        .flatten()
                        .filter(|t| {
                            let name = t["name"].as_str().unwrap_or_default();
                            match search.strip_prefix('^') {
                                Some(prefix) => name.starts_with(prefix),
                                None => search.is_empty() || name.contains(&search),
                            }
                        })
                        .cloned()
                        .collect();
                    paged(all)
                }
                ["merge_requests"] => {
                    let mut all: Vec<Value> = world
                        .merge_requests
                        .get(&project)
                        .map(|m| m.values().cloned().collect())
                        .unwrap_or_default();
                    if !iids.is_empty() {
                        all.retain(|m| m["iid"].as_u64().is_some_and(|i| iids.contains(&i)));
                    }
                    if query.get("order_by").map(String::as_str) == Some("updated_at") {
                        all.sort_by(|a, b| {
                            b["updated_at"]
                                .as_str()
                                .cmp(&a["updated_at"].as_str())
                                .then(b["iid"].as_u64().cmp(&a["iid"].as_u64()))
                        });
                    } else {
                        all.sort_by_key(|m| std::cmp::Reverse(m["iid"].as_u64()));
                    }
                    paged(all)
                }
                _ => plain(message(404, "404 Not Found")),
            }
        }
        _ => plain(message(404, "404 Not Found")),
    }
}

/// A commit as REST answers it: without the GraphQL-only account hint the fake keeps in it.
fn rest_commit(c: &Value) -> Value {
    let mut c = c.clone();
    if let Some(o) = c.as_object_mut() {
        o.remove("x_username");
    }
    c
}

/// A commit as the commit list shows it: without what only `GET .../commits/:sha` answers.
fn listed_commit(c: &Value) -> Value {
    let mut c = rest_commit(c);
    if let Some(o) = c.as_object_mut() {
        for detail in ["stats", "status", "last_pipeline", "project_id"] {
            o.remove(detail);
        }
    }
    c
}

/// The jobs GitLab lists without `include_retried`: of the jobs of one name (a retry is a new
/// job of the same name), the newest.
fn latest_attempts(jobs: Vec<Value>) -> Vec<Value> {
    let mut latest: HashMap<String, Value> = HashMap::new();
    for j in jobs {
        let key = format!("{}\n{}", j["stage"], j["name"]);
        if latest
            .get(&key)
            .is_none_or(|kept| kept["id"].as_u64() < j["id"].as_u64())
        {
            latest.insert(key, j);
        }
    }
    latest.into_values().collect()
}

fn is_broken(world: &World, p: &Value) -> bool {
    p["id"]
        .as_u64()
        .is_some_and(|id| world.broken.contains(&id))
}

/// What `GET /projects/:id/pipelines` shows of a pipeline: no user, no start or finish.
fn list_item(p: &Value) -> Value {
    let keys = [
        "id",
        "iid",
        "project_id",
        "sha",
        "ref",
        "status",
        "source",
        "created_at",
        "updated_at",
        "web_url",
        "name",
    ];
    Value::Object(
        keys.iter()
            .filter_map(|k| p.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect(),
    )
}

/// GitLab's limit on an authenticated query's complexity
/// (`GitlabSchema::AUTHENTICATED_MAX_COMPLEXITY`).
pub const MAX_COMPLEXITY: usize = 250;

/// The complexity GitLab scores a query of the provider's: 1 a field, `commit` 1 more for its
/// Gitaly call, `mergedAt` and `closedAt` 5 (their declared complexity). A lookup by iids is
/// not scored per item, so `mergeRequests(iids:)` is not multiplied by its page size.
pub fn complexity(query: &str) -> usize {
    let body = query.split_once('{').map_or("", |(_, b)| b);
    let mut in_args = 0usize;
    let mut fields = String::new();
    for c in body.chars() {
        match c {
            '(' => in_args += 1,
            ')' => in_args = in_args.saturating_sub(1),
            _ if in_args > 0 => {}
            '{' | '}' => fields.push(' '),
            _ => fields.push(c),
        }
    }
    fields
        .split_whitespace()
        .filter(|t| !t.ends_with(':'))
        .map(|field| match field {
            "commit" => 2,
            "mergedAt" | "closedAt" => 5,
            _ => 1,
        })
        .sum()
}

/// Answers the two queries the provider sends, as GitLab's GraphQL does: a query over
/// [`MAX_COMPLEXITY`] is refused with GitLab's error; a project the token cannot see is
/// `project: null`; an unknown commit or iid is `null` or left out.
fn graphql(world: &World, body: &Value, base: &str) -> Value {
    let query = body["query"].as_str().unwrap_or_default();
    let score = complexity(query);
    if score > MAX_COMPLEXITY {
        return json!({"errors": [{"message": format!(
            "Query has complexity of {score}, which exceeds max complexity of {MAX_COMPLEXITY}"
        )}]});
    }
    let vars = &body["variables"];
    let path = vars["path"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let visible = world.projects.values().any(|p| *p == path) && !world.hidden.contains(&path);
    if query.contains("mergeRequests(iids:") {
        if !visible {
            return json!({"data": {"project": null}});
        }
        let iids: Vec<u64> = vars["iids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str()?.parse().ok())
            .collect();
        let nodes: Vec<Value> = world
            .merge_requests
            .get(&path)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|m| m["iid"].as_u64().is_some_and(|i| iids.contains(&i)))
            .map(mr_graphql)
            .collect();
        return json!({"data": {"project": {"mergeRequests": {"nodes": nodes}}}});
    }
    if query.contains("commit(ref:") {
        if world.no_graphql_commit {
            return json!({"errors": [{"message": "Field 'commit' doesn't exist on type 'Repository'",
                "locations": [{"line": 1, "column": 90}], "path": ["query", "project", "repository", "c0"],
                "extensions": {"code": "undefinedField", "typeName": "Repository", "fieldName": "commit"}}]});
        }
        if !visible {
            return json!({"data": {"project": null}});
        }
        let mut repository = serde_json::Map::new();
        for (k, v) in vars.as_object().into_iter().flatten() {
            if k == "path" {
                continue;
            }
            let sha = v.as_str().unwrap_or_default();
            let found = world
                .commits
                .get(&(path.clone(), sha.to_string()))
                .map(|c| commit_graphql(c, base));
            repository.insert(k.clone(), found.unwrap_or(Value::Null));
        }
        return json!({"data": {"project": {"repository": repository}}});
    }
    json!({"errors": [{"message": "unexpected query"}]})
}

fn mr_graphql(m: &Value) -> Value {
    let user = |u: &Value| {
        if u.is_object() {
            json!({"username": u["username"], "name": u["name"], "avatarUrl": u["avatar_url"], "webUrl": u["web_url"]})
        } else {
            Value::Null
        }
    };
    json!({
        "iid": m["iid"].as_u64().unwrap_or_default().to_string(),
        "title": m["title"], "description": m["description"], "state": m["state"],
        "sourceBranch": m["source_branch"], "targetBranch": m["target_branch"],
        "mergedAt": m["merged_at"], "closedAt": m["closed_at"], "webUrl": m["web_url"],
        "mergeUser": user(&m["merge_user"]),
    })
}

fn commit_graphql(c: &Value, base: &str) -> Value {
    let author = match c.get("x_username").and_then(Value::as_str) {
        Some(u) => json!({"username": u, "name": c["author_name"], "avatarUrl": null,
                          "webUrl": format!("{base}/{u}")}),
        None => Value::Null,
    };
    json!({"sha": c["id"], "authorName": c["author_name"], "authorEmail": c["author_email"],
           "committedDate": c["committed_date"], "webUrl": c["web_url"], "author": author})
}

/// A 40-hex sha derived from `seed`.
pub fn sha_of(seed: &str) -> String {
    let mut out = String::new();
    let mut n = 0u64;
    while out.len() < 40 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seed, n).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
        n += 1;
    }
    out.truncate(40);
    out
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A pipeline as `GET /projects/:id/pipelines/:pipeline_id` answers it (shaped like the
/// captured `gitlab-pipeline-1.json`).
#[allow(clippy::too_many_arguments)] // one per field the tests vary
pub fn pipeline(
    base: &str,
    project: &str,
    project_id: u64,
    id: u64,
    iid: u64,
    status: &str,
    sha: &str,
    at: DateTime<Utc>,
) -> Value {
    let final_state = matches!(status, "success" | "failed" | "canceled" | "skipped");
    let started = !matches!(
        status,
        "created" | "pending" | "waiting_for_resource" | "preparing" | "scheduled" | "manual"
    );
    json!({
        "id": id, "iid": iid, "project_id": project_id, "sha": sha, "ref": "main", "status": status,
        "source": "push", "name": null,
        "created_at": time(at), "updated_at": time(at + Duration::minutes(5)),
        "web_url": format!("{base}/{project}/-/pipelines/{id}"),
        "before_sha": "0000000000000000000000000000000000000000", "tag": false, "yaml_errors": null,
        "user": {"id": 1384451, "name": "samiya akhtar", "username": "samiyaakhtar", "state": "active",
                 "avatar_url": "https://secure.gravatar.com/avatar/890514c6e4e1d88993e8d6e65383cd57?s=80&d=identicon",
                 "web_url": format!("{base}/samiyaakhtar")},
        "started_at": if started { Value::from(time(at + Duration::seconds(2))) } else { Value::Null },
        "finished_at": if final_state { Value::from(time(at + Duration::minutes(5))) } else { Value::Null },
        "committed_at": null, "duration": if final_state { Value::from(298) } else { Value::Null },
        "queued_duration": 2, "coverage": null,
        "detailed_status": {"icon": format!("status_{status}"), "text": status, "label": status, "group": status,
                            "tooltip": status, "has_details": true,
                            "details_path": format!("/{project}/-/pipelines/{id}"), "illustration": null}
    })
}

/// A job of a pipeline as `GET .../pipelines/:id/jobs` lists it.
pub fn job(
    base: &str,
    project: &str,
    id: u64,
    pipeline_id: u64,
    stage: &str,
    status: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "id": id, "status": status, "stage": stage, "name": format!("{stage}-job"), "ref": "main",
        "tag": false, "coverage": null, "allow_failure": false,
        "created_at": time(at), "started_at": time(at + Duration::seconds(5)),
        "finished_at": if matches!(status, "success" | "failed" | "canceled") { Value::from(time(at + Duration::minutes(2))) } else { Value::Null },
        "duration": 115.2, "queued_duration": 1.1,
        "user": {"id": 1384451, "username": "samiyaakhtar", "name": "samiya akhtar"},
        "pipeline": {"id": pipeline_id, "project_id": 4_000_000, "ref": "main", "status": status},
        "web_url": format!("{base}/{project}/-/jobs/{id}"),
    })
}

/// A commit as `GET .../repository/commits/:sha` answers it (shaped like the captured
/// `author-response.json`); `username` is the GitLab account GraphQL links, if any.
pub fn commit(
    base: &str,
    project: &str,
    sha: &str,
    name: &str,
    email: &str,
    username: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    let mut c = json!({
        "id": sha, "short_id": &sha[..8], "created_at": time(at), "parent_ids": [sha_of(&format!("{sha}-parent"))],
        "title": "Update .gitlab-ci.yml", "message": "Update .gitlab-ci.yml",
        "author_name": name, "author_email": email, "authored_date": time(at),
        "committer_name": name, "committer_email": email, "committed_date": time(at),
        "web_url": format!("{base}/{project}/-/commit/{sha}"),
        "stats": {"additions": 4, "deletions": 12, "total": 16}, "status": "success",
    });
    if let Some(u) = username {
        c["x_username"] = Value::from(u);
    }
    c
}

/// A merge request as `GET .../merge_requests/:iid` answers it (shaped like the captured
/// `pr-response.json`): `state` is `opened`, `merged` or `closed`.
#[allow(clippy::too_many_arguments)] // one per field the tests vary
pub fn merge_request(
    base: &str,
    project: &str,
    iid: u64,
    title: &str,
    branch: &str,
    state: &str,
    merged_by: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    let user = |u: &str| {
        json!({"id": 1384451, "name": format!("{u} (name)"), "username": u, "state": "active",
                                "avatar_url": null, "web_url": format!("{base}/{u}")})
    };
    let merged = state == "merged";
    json!({
        "id": 75_910_000 + iid, "iid": iid, "project_id": 22039475, "title": title, "description": null,
        "state": state, "created_at": time(at), "updated_at": time(at + Duration::minutes(2)),
        "merged_by": match (merged, merged_by) { (true, Some(u)) => user(u), _ => Value::Null },
        "merge_user": match (merged, merged_by) { (true, Some(u)) => user(u), _ => Value::Null },
        "merged_at": if merged { Value::from(time(at + Duration::minutes(2))) } else { Value::Null },
        "closed_by": null,
        "closed_at": if state == "closed" { Value::from(time(at + Duration::minutes(2))) } else { Value::Null },
        "target_branch": "main", "source_branch": branch,
        "author": user("samiyaakhtar"), "assignees": [], "labels": [], "draft": false,
        "merge_status": "can_be_merged", "sha": sha_of(&format!("mr-{iid}")),
        "merge_commit_sha": if merged { Value::from(sha_of(&format!("merge-{iid}"))) } else { Value::Null },
        "reference": format!("!{iid}"),
        "web_url": format!("{base}/{project}/-/merge_requests/{iid}"),
    })
}

/// A tag as `GET .../repository/tags` lists it: annotated (a tag object, a message, a time)
/// or lightweight (shaped like the captured `tags-response.json`).
pub fn tag(
    base: &str,
    project: &str,
    name: &str,
    commit_sha: &str,
    annotated: bool,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "name": name,
        "message": if annotated { "Sync" } else { "" },
        "target": if annotated { sha_of(&format!("tag-object-{name}")) } else { commit_sha.to_string() },
        "commit": {"id": commit_sha, "short_id": &commit_sha[..8], "created_at": time(at), "parent_ids": [],
                   "title": "Updated k8s manifest files", "message": "Updated k8s manifest files\n",
                   "author_name": "Automated Account", "author_email": "admin@azuredevops.com",
                   "authored_date": time(at), "committer_name": "Automated Account",
                   "committer_email": "admin@azuredevops.com", "committed_date": time(at),
                   "web_url": format!("{base}/{project}/-/commit/{commit_sha}")},
        "release": null, "protected": false,
        "created_at": if annotated { Value::from(time(at)) } else { Value::Null },
    })
}

#[path = "../../../tests/support/spektate_bin.rs"]
mod spektate_bin;
#[allow(unused_imports)] // Not every test binary runs `spektate`.
pub use spektate_bin::spektate_bin;
