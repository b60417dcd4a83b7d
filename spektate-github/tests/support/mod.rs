//! A fake GitHub for the tests: REST and GraphQL answers in the shapes of GitHub's API
//! references (and of the captured responses in `tests/fixtures`), ETags and 304s on every
//! GET, GitHub Enterprise paths (`/api/v3`, `/api/graphql`) and github.com paths alike, and
//! a log of what was asked and answered.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use spektate_core::http::{Policy, Secret};
use spektate_github::GitHub;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// With `SPEKTATE_SPECS_OUT=DIR`, every request a fake answered goes into this file of `DIR`
/// (its path without `/api/v3`, the GraphQL request body, the JSON answered, 304s with none),
/// which `tests/specs/run.sh` checks against GitHub's published descriptions.
pub const SPECS_LOG: &str = "github-served.jsonl";

/// The token the tests use; it must never show up in output.
pub const TOKEN: &str = "ghp_testtoken0123456789abcdefghijklmnopqr";

/// One request as the fake saw and answered it.
#[derive(Debug, Clone)]
pub struct Served {
    pub method: String,
    /// Path and query, without the `/api/v3` prefix.
    pub path: String,
    pub status: u16,
    pub if_none_match: Option<String>,
    /// For GraphQL: how many objects the query asked for.
    pub graphql_objects: usize,
}

impl Served {
    pub fn is_graphql(&self) -> bool {
        self.method == "POST" && self.path.ends_with("graphql")
    }
}

/// What the fake GitHub knows.
#[derive(Debug, Default)]
pub struct World {
    /// Repositories that exist, as `owner/name`.
    pub repos: HashSet<String>,
    /// Workflow runs by repository and id.
    pub runs: BTreeMap<(String, u64), Value>,
    /// Jobs by id, with their repository.
    pub jobs: BTreeMap<u64, (String, Value)>,
    /// Commits by repository, full SHA.
    pub commits: HashMap<(String, String), Value>,
    /// Pull requests by repository and number.
    pub pulls: BTreeMap<(String, u64), Value>,
    /// Git refs by repository.
    pub refs: HashMap<String, Vec<Value>>,
    /// Annotated tag objects by repository and SHA.
    pub tags: HashMap<(String, String), Value>,
    /// Commits of each repository's default branch (`owner/name`), newest first.
    pub history: HashMap<String, Vec<String>>,
    /// When set, GraphQL answers every query with an internal error.
    pub graphql_broken: bool,
    /// Pull requests (repository, number) whose GraphQL field fails with an error of the
    /// `type` given (`None`: untyped) and message, their alias null, as GitHub reports a
    /// resource of an organization enforcing SAML (`FORBIDDEN`); REST still answers them.
    pub pull_field_errors: HashMap<(String, u64), (Option<String>, String)>,
    /// Runs whose requests (their own, or a page of a list holding them) fail with HTTP 500.
    pub broken_runs: HashSet<u64>,
}

/// A running fake GitHub.
pub struct FakeGitHub {
    pub server: MockServer,
    pub world: Arc<Mutex<World>>,
    log: Arc<Mutex<Vec<Served>>>,
}

impl FakeGitHub {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let world = Arc::new(Mutex::new(World::default()));
        let log = Arc::new(Mutex::new(Vec::new()));
        Mock::given(wiremock::matchers::any())
            .respond_with(Responder {
                world: world.clone(),
                log: log.clone(),
                origin: server.uri(),
            })
            .with_priority(10)
            .mount(&server)
            .await;
        FakeGitHub { server, world, log }
    }

    /// The API URL a GitHub Enterprise user would configure for this server.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.server.uri())
    }

    /// A client for this server with the test token, serving `github.com` repositories.
    pub fn client(&self) -> GitHub {
        self.builder().token(Secret::new(TOKEN)).build().unwrap()
    }

    /// A builder for this server with quick retries.
    pub fn builder(&self) -> spektate_github::GitHubBuilder {
        let policy = Policy {
            base_delay: std::time::Duration::from_millis(5),
            timeout: std::time::Duration::from_secs(10),
            ..Policy::default()
        };
        GitHub::builder()
            .api_url(self.api_url())
            .repo_host("github.com")
            .policy(policy)
            .concurrency(4)
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
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

fn server_error() -> (u16, Value) {
    (
        500,
        json!({"message": "Server Error", "documentation_url": "https://docs.github.com/rest", "status": "500"}),
    )
}

fn is_broken(world: &World, run: &Value) -> bool {
    run["id"]
        .as_u64()
        .is_some_and(|id| world.broken_runs.contains(&id))
}

fn etag_of(body: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("W/\"{:016x}\"", h.finish())
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let raw = req.url.path();
        let api = if raw.starts_with("/api/v3") {
            format!("{}/api/v3", self.origin)
        } else {
            self.origin.clone()
        };
        let path = raw.strip_prefix("/api/v3").unwrap_or(raw).to_string();
        let query: HashMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let full = match req.url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let if_none_match = req
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let world = self.world.lock().unwrap();
        let mut graphql_objects = 0;
        let mut link = None;
        let graphql_request = req.method.as_str() == "POST" && path.ends_with("/graphql");
        let (status, body) = if graphql_request {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            graphql_objects = body["variables"].as_object().map_or(0, |v| {
                v.keys().filter(|k| *k != "owner" && *k != "name").count()
            });
            (200, graphql(&world, &body))
        } else if req.method.as_str() == "GET" {
            let path = by_id(&world, &path);
            let (status, body, pages) = rest(&world, &path, &query);
            link = pages.and_then(|p| link_header(&api, &world, &path, &query, p));
            (status, body)
        } else {
            not_found()
        };
        drop(world);
        let text = body.to_string();
        let mut status = status;
        let mut template = ResponseTemplate::new(status)
            .insert_header("content-type", "application/json; charset=utf-8")
            .insert_header("x-ratelimit-limit", "5000")
            .insert_header("x-ratelimit-remaining", "4321")
            .insert_header(
                "x-ratelimit-resource",
                if graphql_objects > 0 {
                    "graphql"
                } else {
                    "core"
                },
            );
        if let Some(link) = &link {
            template = template.insert_header("link", link.as_str());
        }
        if status == 200 && req.method.as_str() == "GET" {
            let etag = etag_of(&text);
            if if_none_match.as_deref() == Some(etag.as_str()) {
                status = 304;
                template = ResponseTemplate::new(304).insert_header("etag", etag.as_str());
                if let Some(link) = &link {
                    template = template.insert_header("link", link.as_str());
                }
            } else {
                template = template
                    .insert_header("etag", etag.as_str())
                    .set_body_string(text);
            }
        } else {
            template = template.set_body_string(text);
        }
        let request: Option<Value> =
            graphql_request.then(|| serde_json::from_slice(&req.body).unwrap_or(Value::Null));
        let answered = if status == 304 { Value::Null } else { body };
        spektate_core::testkit::specs_log::served(
            SPECS_LOG,
            req.method.as_str(),
            &full,
            status,
            request.as_ref(),
            &answered,
        );
        self.log.lock().unwrap().push(Served {
            method: req.method.to_string(),
            path: full,
            status,
            if_none_match,
            graphql_objects,
        });
        template
    }
}

/// The id GitHub gave repository `full` (`owner/name`).
pub fn repo_id(full: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    full.hash(&mut h);
    h.finish() % 1_000_000_000 + 1
}

/// `/repositories/{id}/...`, the form `Link` headers use, as `/repos/{owner}/{name}/...`.
fn by_id(world: &World, path: &str) -> String {
    let Some(rest) = path.strip_prefix("/repositories/") else {
        return path.to_string();
    };
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    match world.repos.iter().find(|r| repo_id(r).to_string() == id) {
        Some(full) if tail.is_empty() => format!("/repos/{full}"),
        Some(full) => format!("/repos/{full}/{tail}"),
        None => path.to_string(),
    }
}

/// The `Link` header of page `page` of `last` of a list, as GitHub writes it: URLs of the
/// repository by id, the query kept but `page`.
fn link_header(
    api: &str,
    world: &World,
    path: &str,
    query: &HashMap<String, String>,
    (page, last): (usize, usize),
) -> Option<String> {
    let parts: Vec<&str> = path.trim_matches('/').splitn(4, '/').collect();
    let [_, owner, name, tail] = parts.as_slice() else {
        return None;
    };
    let full = format!("{owner}/{name}").to_ascii_lowercase();
    if !world.repos.contains(&full) || last <= 1 {
        return None;
    }
    let mut keys: Vec<&String> = query.keys().filter(|k| *k != "page").collect();
    keys.sort();
    let url = |p: usize| {
        let mut q: Vec<String> = keys.iter().map(|k| format!("{k}={}", query[*k])).collect();
        q.push(format!("page={p}"));
        format!(
            "<{api}/repositories/{}/{tail}?{}>",
            repo_id(&full),
            q.join("&")
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    Some(links.join(", "))
}

/// A GET's status and body, and for a page of a list (`per_page` at most 100, 30 by default)
/// its number and the number of pages.
fn rest(
    world: &World,
    path: &str,
    query: &HashMap<String, String>,
) -> (u16, Value, Option<(usize, usize)>) {
    let (status, body) = rest_answer(world, path, query);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let total = match parts.get(3..) {
        Some(["actions", "runs"] | ["actions", "runs", _, "jobs"]) => body["total_count"].as_u64(),
        Some(["pulls"]) => {
            let repo = format!("{}/{}", parts[1], parts[2]).to_ascii_lowercase();
            Some(world.pulls.keys().filter(|(r, _)| *r == repo).count() as u64)
        }
        _ => None,
    };
    let per = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let pages = total
        .filter(|_| status == 200)
        .map(|t| (page, (t as usize).div_ceil(per).max(1)));
    (status, body, pages)
}

fn rest_answer(world: &World, path: &str, query: &HashMap<String, String>) -> (u16, Value) {
    if path.trim_matches('/') == "rate_limit" {
        // `rate-limit-overview` of GitHub's REST description (`rate` is the deprecated copy of
        // `resources.core`).
        let core = json!({"limit": 5000, "used": 679, "remaining": 4321, "reset": 1_764_441_600});
        return (
            200,
            json!({"resources": {"core": core, "search": {"limit": 30, "used": 0, "remaining": 30, "reset": 1_764_441_600},
                "graphql": {"limit": 5000, "used": 12, "remaining": 4988, "reset": 1_764_441_600}}, "rate": core}),
        );
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if parts.len() < 3 || parts[0] != "repos" {
        return not_found();
    }
    let repo = format!("{}/{}", parts[1], parts[2]).to_ascii_lowercase();
    if !world.repos.contains(&repo) {
        return not_found();
    }
    let page = |default: usize| -> (usize, usize) {
        let per = query
            .get("per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
            .min(100);
        let page = query
            .get("page")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        (per, page)
    };
    match &parts[3..] {
        [] => (200, repository(&repo)),
        ["actions", "runs"] => {
            let (per, page) = page(30);
            let mut runs: Vec<&Value> = world
                .runs
                .iter()
                .filter(|((r, _), _)| *r == repo)
                .map(|(_, v)| v)
                .collect();
            runs.sort_by_key(|v| std::cmp::Reverse(v["id"].as_u64()));
            let total = runs.len();
            let slice: Vec<Value> = runs
                .into_iter()
                .skip((page - 1) * per)
                .take(per)
                .cloned()
                .collect();
            if slice.iter().any(|r| is_broken(world, r)) {
                return server_error();
            }
            (200, json!({"total_count": total, "workflow_runs": slice}))
        }
        ["actions", "runs", id] => match id
            .parse::<u64>()
            .ok()
            .and_then(|id| world.runs.get(&(repo.clone(), id)))
        {
            Some(run) if is_broken(world, run) => server_error(),
            Some(run) => (200, run.clone()),
            None => not_found(),
        },
        ["actions", "runs", id, "jobs"] => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found();
            };
            if !world.runs.contains_key(&(repo.clone(), id)) {
                return not_found();
            }
            let (per, page) = page(30);
            let jobs: Vec<Value> = world
                .jobs
                .values()
                .filter(|(r, j)| *r == repo && j["run_id"].as_u64() == Some(id))
                .map(|(_, j)| j.clone())
                .collect();
            let total = jobs.len();
            let slice: Vec<Value> = jobs.into_iter().skip((page - 1) * per).take(per).collect();
            (200, json!({"total_count": total, "jobs": slice}))
        }
        ["actions", "jobs", id] => {
            match id.parse::<u64>().ok().and_then(|id| world.jobs.get(&id)) {
                Some((r, job)) if *r == repo => (200, job.clone()),
                _ => not_found(),
            }
        }
        ["commits", sha] => {
            let found = world
                .commits
                .iter()
                .find(|((r, full), _)| *r == repo && full.starts_with(&sha.to_ascii_lowercase()));
            match found {
                // The diff's files are paged (`per_page`, 300 by default); the rest is whole.
                Some((_, c)) => {
                    let (per, page) = match query.get("per_page") {
                        Some(_) => page(30),
                        None => (300, page(30).1),
                    };
                    let mut c = c.clone();
                    if let Some(files) = c["files"].as_array_mut() {
                        let slice: Vec<Value> =
                            files.drain(..).skip((page - 1) * per).take(per).collect();
                        *files = slice;
                    }
                    (200, c)
                }
                None => (
                    422,
                    json!({"message": format!("No commit found for SHA: {sha}"), "documentation_url": "https://docs.github.com/rest/commits/commits#get-a-commit", "status": "422"}),
                ),
            }
        }
        ["pulls"] => {
            let (per, page) = page(30);
            let mut pulls: Vec<&Value> = world
                .pulls
                .iter()
                .filter(|((r, _), _)| *r == repo)
                .map(|(_, v)| v)
                .collect();
            // sort=updated&direction=desc: the most recently updated first.
            pulls.sort_by(|a, b| {
                b["updated_at"]
                    .as_str()
                    .cmp(&a["updated_at"].as_str())
                    .then(b["number"].as_u64().cmp(&a["number"].as_u64()))
            });
            let slice: Vec<Value> = pulls
                .into_iter()
                .skip((page - 1) * per)
                .take(per)
                .map(|p| {
                    // The list carries `pull-request-simple`: no merged flag, no merged_by.
                    let mut p = p.clone();
                    if let Some(o) = p.as_object_mut() {
                        for k in [
                            "merged",
                            "merged_by",
                            "comments",
                            "commits",
                            "additions",
                            "deletions",
                            "changed_files",
                            "mergeable",
                            "mergeable_state",
                            "maintainer_can_modify",
                            "review_comments",
                        ] {
                            o.remove(k);
                        }
                    }
                    p
                })
                .collect();
            (200, Value::Array(slice))
        }
        ["pulls", n] => match n
            .parse::<u64>()
            .ok()
            .and_then(|n| world.pulls.get(&(repo.clone(), n)))
        {
            Some(p) => (200, p.clone()),
            None => not_found(),
        },
        ["git", "matching-refs", rest @ ..] => {
            let prefix = format!("refs/{}", rest.join("/"));
            let refs: Vec<Value> = world
                .refs
                .get(&repo)
                .map(|rs| {
                    rs.iter()
                        .filter(|r| r["ref"].as_str().is_some_and(|n| n.starts_with(&prefix)))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            (200, Value::Array(refs))
        }
        ["git", "tags", sha] => match world.tags.get(&(repo.clone(), sha.to_string())) {
            Some(t) => (200, t.clone()),
            None => not_found(),
        },
        _ => not_found(),
    }
}

fn graphql(world: &World, body: &Value) -> Value {
    if world.graphql_broken {
        return json!({"data": null, "errors": [{"message": "Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug. Please include `9E1C:5D8F:2A3B4C:2F3E4D:6650A1B2` when reporting this issue."}]});
    }
    let query = body["query"].as_str().unwrap_or_default();
    let vars = body["variables"].as_object().cloned().unwrap_or_default();
    if query.contains("resource(url:") {
        // On the query root: each job's page answered with the check run the job is.
        let data: serde_json::Map<String, Value> = vars
            .iter()
            .map(|(var, url)| {
                let found = url.as_str().and_then(|u| job_of_page(world, u));
                (var.clone(), found.map_or(Value::Null, graphql_check_run))
            })
            .collect();
        return json!({ "data": data });
    }
    if query.contains("defaultBranchRef") {
        return graphql_histories(world, query, &vars);
    }
    let owner = vars
        .get("owner")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = vars.get("name").and_then(Value::as_str).unwrap_or_default();
    let repo = format!("{owner}/{name}").to_ascii_lowercase();
    if !world.repos.contains(&repo) {
        return json!({"data": {"repository": null}, "errors": [{"type": "NOT_FOUND", "path": ["repository"],
            "locations": [{"line": 1, "column": 40}], "message": format!("Could not resolve to a Repository with the name '{repo}'.")}]});
    }
    let mut data = serde_json::Map::new();
    let mut errors = Vec::new();
    for (var, value) in &vars {
        if var == "owner" || var == "name" {
            continue;
        }
        let answer = if query.contains("pullRequest(") {
            let n = value.as_u64().unwrap_or_default();
            let field_error = world.pull_field_errors.get(&(repo.clone(), n));
            match (world.pulls.get(&(repo.clone(), n)), field_error) {
                (Some(_), Some((kind, message))) => {
                    let mut e = json!({"path": ["repository", var], "locations": [{"line": 1, "column": 90}], "message": message});
                    if let Some(kind) = kind {
                        e["type"] = json!(kind);
                    }
                    errors.push(e);
                    Value::Null
                }
                (Some(p), None) => graphql_pull(p),
                (None, _) => {
                    errors.push(json!({"type": "NOT_FOUND", "path": ["repository", var], "locations": [{"line": 1, "column": 90}],
                        "message": format!("Could not resolve to a PullRequest with the number of {n}.")}));
                    Value::Null
                }
            }
        } else if query.contains("object(expression:") {
            let sha = value.as_str().unwrap_or_default().to_ascii_lowercase();
            world
                .commits
                .iter()
                .find(|((r, full), _)| *r == repo && full.starts_with(&sha))
                .map_or(Value::Null, |(_, c)| graphql_commit(c))
        } else if query.contains("object(oid:") {
            let sha = value.as_str().unwrap_or_default().to_string();
            world
                .tags
                .get(&(repo.clone(), sha))
                .map_or(Value::Null, graphql_tag)
        } else {
            return json!({"errors": [{"message": "Parse error on query"}]});
        };
        data.insert(var.clone(), answer);
    }
    let mut out = json!({"data": {"repository": data}});
    if !errors.is_empty() {
        out["errors"] = Value::Array(errors);
    }
    out
}

/// Repositories under aliases `rN: repository(owner: $oN, name: $nN)`, each answered with the
/// first `history(first: N)` commits of its default branch, as GitHub's `Repository` and
/// `CommitHistoryConnection`; an unknown repository is `null` with a `NOT_FOUND` error.
fn graphql_histories(world: &World, query: &str, vars: &serde_json::Map<String, Value>) -> Value {
    let first: usize = query
        .split_once("history(first: ")
        .and_then(|(_, rest)| rest.split(')').next()?.parse().ok())
        .unwrap_or(0);
    let mut data = serde_json::Map::new();
    let mut errors = Vec::new();
    for i in 0.. {
        let (Some(owner), Some(name)) = (
            vars.get(&format!("o{i}")).and_then(Value::as_str),
            vars.get(&format!("n{i}")).and_then(Value::as_str),
        ) else {
            break;
        };
        let alias = format!("r{i}");
        if !query.contains(&format!("{alias}: repository(owner: $o{i}, name: $n{i})")) {
            return json!({"errors": [{"message": "Parse error on query"}]});
        }
        let repo = format!("{owner}/{name}").to_ascii_lowercase();
        if !world.repos.contains(&repo) {
            errors.push(json!({"type": "NOT_FOUND", "path": [alias], "locations": [{"line": 1, "column": 90}],
                "message": format!("Could not resolve to a Repository with the name '{repo}'.")}));
            data.insert(alias, Value::Null);
            continue;
        }
        let answer = match world.history.get(&repo) {
            Some(commits) => {
                let nodes: Vec<Value> = commits
                    .iter()
                    .take(first)
                    .map(|c| json!({"oid": c}))
                    .collect();
                json!({"defaultBranchRef": {"target": {"history": {"nodes": nodes}}}})
            }
            None => json!({"defaultBranchRef": null}),
        };
        data.insert(alias, answer);
    }
    let mut out = json!({ "data": data });
    if !errors.is_empty() {
        out["errors"] = Value::Array(errors);
    }
    out
}

/// The job whose page (`https://github.com/{owner}/{repo}/runs/{id}`) `url` is.
fn job_of_page<'w>(world: &'w World, url: &str) -> Option<&'w Value> {
    let path = url.strip_prefix("https://github.com/")?;
    let parts: Vec<&str> = path.split('/').collect();
    let [owner, name, "runs", id] = parts.as_slice() else {
        return None;
    };
    let (repo, job) = world.jobs.get(&id.parse().ok()?)?;
    (*repo == format!("{owner}/{name}").to_ascii_lowercase()).then_some(job)
}

/// `{"name": name}`, or null without a name (GraphQL's `Ref.name` and `Workflow.name` are
/// non-null: an object without one is not answered at all).
fn named(name: &Value) -> Value {
    if name.is_null() {
        Value::Null
    } else {
        json!({ "name": name })
    }
}

/// A job as GraphQL's `CheckRun` (the fields the provider's `job` fragment asks for).
fn graphql_check_run(j: &Value) -> Value {
    let upper = |v: &Value| {
        v.as_str()
            .map_or(Value::Null, |w| json!(w.to_ascii_uppercase()))
    };
    let repo = j["url"]
        .as_str()
        .and_then(|u| u.strip_prefix("https://api.github.com/repos/"))
        .and_then(|r| r.split("/actions/").next())
        .unwrap_or_default();
    json!({
        "databaseId": j["id"], "name": j["name"], "status": upper(&j["status"]),
        "conclusion": upper(&j["conclusion"]), "startedAt": j["started_at"], "completedAt": j["completed_at"],
        "url": format!("https://github.com/{repo}/runs/{}", j["id"]),
        "checkSuite": {"branch": named(&j["head_branch"]), "commit": {"oid": j["head_sha"]},
            "workflowRun": if j["workflow_name"].is_null() { Value::Null } else { json!({"workflow": named(&j["workflow_name"])}) }}
    })
}

fn graphql_commit(c: &Value) -> Value {
    let user = if c["author"].is_null() {
        Value::Null
    } else {
        json!({"login": c["author"]["login"], "url": c["author"]["html_url"], "avatarUrl": c["author"]["avatar_url"]})
    };
    json!({
        "oid": c["sha"], "url": c["html_url"], "committedDate": c["commit"]["committer"]["date"],
        "author": {"name": c["commit"]["author"]["name"], "email": c["commit"]["author"]["email"],
            "avatarUrl": "https://avatars.githubusercontent.com/u/e?email=x&s=460", "user": user}
    })
}

fn graphql_pull(p: &Value) -> Value {
    let merged = p["merged"].as_bool().unwrap_or(false);
    let state = if merged {
        "MERGED"
    } else if p["state"] == "closed" {
        "CLOSED"
    } else {
        "OPEN"
    };
    let merged_by = if p["merged_by"].is_null() {
        Value::Null
    } else {
        json!({"login": p["merged_by"]["login"], "url": p["merged_by"]["html_url"], "avatarUrl": p["merged_by"]["avatar_url"], "name": null, "email": ""})
    };
    json!({
        "number": p["number"], "title": p["title"], "body": p["body"], "url": p["html_url"], "state": state,
        "merged": merged, "mergedAt": p["merged_at"], "closedAt": p["closed_at"],
        "headRefName": p["head"]["ref"], "baseRefName": p["base"]["ref"], "mergedBy": merged_by
    })
}

fn graphql_tag(t: &Value) -> Value {
    let typename = if t["object"]["type"] == "tag" {
        "Tag"
    } else {
        "Commit"
    };
    json!({"oid": t["sha"], "name": t["tag"], "tagger": t["tagger"], "target": {"oid": t["object"]["sha"], "__typename": typename}})
}

// ---------------------------------------------------------------------------------------
// Payload builders, in the shapes of GitHub's REST reference.

/// A `simple-user` of GitHub's REST description: an account and its API links.
pub fn user(login: &str, id: u64) -> Value {
    let api = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"), "gravatar_id": "",
        "url": api, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{api}/followers"), "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"), "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"), "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"), "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"), "type": "User", "site_admin": false
    })
}

/// A `minimal-repository` (what a workflow run carries): the repository and its API links.
pub fn minimal_repository(full: &str) -> Value {
    let (owner, name) = full.split_once('/').unwrap();
    let api = format!("https://api.github.com/repos/{full}");
    let mut repo = json!({
        "id": repo_id(full), "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name, "full_name": full,
        "owner": user(owner, 583231), "private": false, "html_url": format!("https://github.com/{full}"),
        "description": null, "fork": false, "url": api
    });
    for (field, tail) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        repo[field] = json!(format!("{api}{tail}"));
    }
    repo
}

/// A `full-repository` (`GET /repos/{owner}/{repo}`).
pub fn repository(full: &str) -> Value {
    let mut repo = minimal_repository(full);
    let extra = json!({
        "clone_url": format!("https://github.com/{full}.git"), "git_url": format!("git://github.com/{full}.git"),
        "ssh_url": format!("git@github.com:{full}.git"), "svn_url": format!("https://github.com/{full}"),
        "default_branch": "main", "homepage": null, "language": null, "mirror_url": null, "license": null,
        "forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0, "stargazers_count": 0,
        "watchers": 0, "watchers_count": 0, "network_count": 0, "subscribers_count": 1, "size": 108,
        "has_issues": true, "has_projects": true, "has_wiki": true, "has_pages": false, "has_downloads": true,
        "has_discussions": false, "archived": false, "disabled": false, "visibility": "public",
        "pushed_at": "2026-01-05T10:00:00Z", "created_at": "2025-06-01T09:00:00Z", "updated_at": "2026-01-05T10:00:00Z"
    });
    for (k, v) in extra.as_object().unwrap() {
        repo[k] = v.clone();
    }
    repo
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A workflow run (`GET /repos/{owner}/{repo}/actions/runs/{run_id}`).
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub repo: String,
    pub id: u64,
    pub number: u64,
    pub workflow: String,
    pub status: &'static str,
    pub conclusion: Option<&'static str>,
    pub head_sha: String,
    pub branch: String,
    pub created: DateTime<Utc>,
    pub minutes: i64,
}

impl RunSpec {
    pub fn new(repo: &str, id: u64, number: u64, created: DateTime<Utc>) -> Self {
        RunSpec {
            repo: repo.to_string(),
            id,
            number,
            workflow: "build-and-deploy".to_string(),
            status: "completed",
            conclusion: Some("success"),
            head_sha: sha_of(&format!("{repo}-{id}")),
            branch: "main".to_string(),
            created,
            minutes: 6,
        }
    }

    pub fn running(mut self) -> Self {
        self.status = "in_progress";
        self.conclusion = None;
        self
    }

    pub fn queued(mut self) -> Self {
        self.status = "queued";
        self.conclusion = None;
        self
    }

    pub fn failed(mut self) -> Self {
        self.conclusion = Some("failure");
        self
    }

    pub fn json(&self) -> Value {
        let full = &self.repo;
        let done = self.status == "completed";
        let updated = if done {
            self.created + Duration::minutes(self.minutes)
        } else {
            self.created + Duration::minutes(2)
        };
        json!({
            "id": self.id, "name": self.workflow, "node_id": format!("WFR_kwLOA{}", self.id),
            "head_branch": self.branch, "head_sha": self.head_sha, "path": ".github/workflows/build.yml",
            "display_title": format!("Deploy {}", &self.head_sha[..7]), "run_number": self.number,
            "event": "push", "status": self.status, "conclusion": self.conclusion, "workflow_id": 161335,
            "check_suite_id": self.id * 3, "check_suite_node_id": format!("CS_kwDO{}", self.id),
            "url": format!("https://api.github.com/repos/{full}/actions/runs/{}", self.id),
            "html_url": format!("https://github.com/{full}/actions/runs/{}", self.id),
            "pull_requests": [], "created_at": ts(self.created), "updated_at": ts(updated),
            "actor": user("octocat", 1), "triggering_actor": user("octocat", 1), "run_attempt": 1,
            "referenced_workflows": [], "run_started_at": ts(self.created + Duration::seconds(20)),
            "jobs_url": format!("https://api.github.com/repos/{full}/actions/runs/{}/jobs", self.id),
            "logs_url": format!("https://api.github.com/repos/{full}/actions/runs/{}/logs", self.id),
            "head_commit": {"id": self.head_sha, "tree_id": sha_of(&self.head_sha), "message": "Build", "timestamp": ts(self.created),
                "author": {"name": "Mona Lisa", "email": "mona@example.com"}, "committer": {"name": "GitHub", "email": "noreply@github.com"}},
            "check_suite_url": format!("https://api.github.com/repos/{full}/check-suites/{}", self.id * 3),
            "cancel_url": format!("https://api.github.com/repos/{full}/actions/runs/{}/cancel", self.id),
            "rerun_url": format!("https://api.github.com/repos/{full}/actions/runs/{}/rerun", self.id),
            "artifacts_url": format!("https://api.github.com/repos/{full}/actions/runs/{}/artifacts", self.id),
            "workflow_url": format!("https://api.github.com/repos/{full}/actions/workflows/161335"),
            "repository": minimal_repository(full), "head_repository": minimal_repository(full)
        })
    }
}

/// A job (`GET /repos/{owner}/{repo}/actions/jobs/{job_id}`).
pub fn job(
    repo: &str,
    id: u64,
    run_id: u64,
    name: &str,
    status: &str,
    conclusion: Option<&str>,
    started: DateTime<Utc>,
) -> Value {
    let done = status == "completed";
    json!({
        "id": id, "run_id": run_id, "run_attempt": 1, "node_id": format!("CR_kwDO{id}"),
        "head_sha": sha_of(&format!("{repo}-{run_id}")), "head_branch": "main", "workflow_name": "build-and-deploy",
        "url": format!("https://api.github.com/repos/{repo}/actions/jobs/{id}"),
        "html_url": format!("https://github.com/{repo}/actions/runs/{run_id}/job/{id}"),
        "run_url": format!("https://api.github.com/repos/{repo}/actions/runs/{run_id}"),
        "status": status, "conclusion": conclusion, "created_at": ts(started - Duration::seconds(5)),
        "started_at": ts(started), "completed_at": if done { Value::String(ts(started + Duration::minutes(3))) } else { Value::Null },
        "name": name, "steps": [{"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1,
            "started_at": ts(started), "completed_at": ts(started + Duration::seconds(4))}],
        "check_run_url": format!("https://api.github.com/repos/{repo}/check-runs/{id}"), "labels": ["ubuntu-latest"],
        "runner_id": 1, "runner_name": "GitHub Actions 1", "runner_group_id": 1, "runner_group_name": "GitHub Actions"
    })
}

/// A commit (`GET /repos/{owner}/{repo}/commits/{ref}`); `login` `None` for an author with
/// no GitHub account.
pub fn commit(
    repo: &str,
    sha: &str,
    name: &str,
    email: &str,
    login: Option<(&str, u64)>,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "sha": sha, "node_id": format!("C_kwDO{}", &sha[..8]),
        "commit": {"author": {"name": name, "email": email, "date": ts(at)}, "committer": {"name": name, "email": email, "date": ts(at)},
            "message": "Change the greeting", "url": format!("https://api.github.com/repos/{repo}/git/commits/{sha}"),
            "tree": {"sha": sha_of(sha), "url": format!("https://api.github.com/repos/{repo}/git/trees/{}", sha_of(sha))}, "comment_count": 0,
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}},
        "comments_url": format!("https://api.github.com/repos/{repo}/commits/{sha}/comments"),
        "url": format!("https://api.github.com/repos/{repo}/commits/{sha}"),
        "html_url": format!("https://github.com/{repo}/commit/{sha}"),
        "author": login.map_or(Value::Null, |(l, id)| user(l, id)),
        "committer": login.map_or(Value::Null, |(l, id)| user(l, id)),
        "parents": [], "stats": {"total": 2, "additions": 1, "deletions": 1}, "files": []
    })
}

/// A pull request (`GET /repos/{owner}/{repo}/pulls/{n}`); merged by `merged_by` when given.
pub fn pull(
    repo: &str,
    number: u64,
    title: &str,
    head: &str,
    merged_by: Option<&str>,
    updated: DateTime<Utc>,
) -> Value {
    let merged = merged_by.is_some();
    let api = format!("https://api.github.com/repos/{repo}");
    let link = |href: String| json!({ "href": href });
    let links = json!({
        "self": link(format!("{api}/pulls/{number}")), "html": link(format!("https://github.com/{repo}/pull/{number}")),
        "issue": link(format!("{api}/issues/{number}")), "comments": link(format!("{api}/issues/{number}/comments")),
        "review_comments": link(format!("{api}/pulls/{number}/comments")),
        "review_comment": link(format!("{api}/pulls/comments{{/number}}")),
        "commits": link(format!("{api}/pulls/{number}/commits")), "statuses": link(format!("{api}/statuses/{}", sha_of(head)))
    });
    let mut pull = json!({
        "_links": links, "assignee": null, "assignees": [], "labels": [], "milestone": null,
        "requested_reviewers": [], "requested_teams": [], "author_association": "MEMBER", "auto_merge": null,
        "diff_url": format!("https://github.com/{repo}/pull/{number}.diff"),
        "patch_url": format!("https://github.com/{repo}/pull/{number}.patch"),
        "issue_url": format!("{api}/issues/{number}"), "commits_url": format!("{api}/pulls/{number}/commits"),
        "review_comments_url": format!("{api}/pulls/{number}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{number}/comments"),
        "statuses_url": format!("{api}/statuses/{}", sha_of(head)),
        "mergeable_state": if merged { "unknown" } else { "clean" }, "maintainer_can_modify": false, "review_comments": 0
    });
    let fields = json!({
        "url": format!("https://api.github.com/repos/{repo}/pulls/{number}"), "id": 1000 + number,
        "node_id": format!("PR_kwDO{number}"), "html_url": format!("https://github.com/{repo}/pull/{number}"),
        "number": number, "state": if merged { "closed" } else { "open" }, "locked": false, "title": title,
        "user": user("spektate-bot", 77), "body": format!("Updates the HLD with {head}."),
        "created_at": ts(updated - Duration::minutes(30)), "updated_at": ts(updated),
        "closed_at": if merged { Value::String(ts(updated)) } else { Value::Null },
        "merged_at": if merged { Value::String(ts(updated)) } else { Value::Null },
        "merge_commit_sha": sha_of(&format!("{repo}#{number}")),
        "head": {"label": format!("fabrikam:{head}"), "ref": head, "sha": sha_of(head), "user": user("fabrikam", 9), "repo": repository(repo)},
        "base": {"label": "fabrikam:main", "ref": "main", "sha": sha_of("main"), "user": user("fabrikam", 9), "repo": repository(repo)},
        "draft": false, "merged": merged, "mergeable": null, "merged_by": merged_by.map_or(Value::Null, |l| user(l, 42)),
        "comments": 0, "commits": 1, "additions": 1, "deletions": 1, "changed_files": 1
    });
    for (k, v) in fields.as_object().unwrap() {
        pull[k] = v.clone();
    }
    pull
}

/// A ref of `git/matching-refs` pointing at a tag object (`"tag"`) or a commit (`"commit"`).
pub fn git_ref(repo: &str, tag: &str, sha: &str, kind: &str) -> Value {
    let api = if kind == "tag" { "tags" } else { "commits" };
    json!({
        "ref": format!("refs/tags/{tag}"), "node_id": format!("REF_kwDO{tag}"),
        "url": format!("https://api.github.com/repos/{repo}/git/refs/tags/{tag}"),
        "object": {"sha": sha, "type": kind, "url": format!("https://api.github.com/repos/{repo}/git/{api}/{sha}")}
    })
}

/// An annotated tag object as Flux writes it.
pub fn tag_object(repo: &str, sha: &str, tag: &str, commit: &str, at: DateTime<Utc>) -> Value {
    json!({
        "node_id": format!("TAG_kwDO{}", &sha[..8]), "sha": sha,
        "url": format!("https://api.github.com/repos/{repo}/git/tags/{sha}"),
        "tagger": {"name": "Weave Flux", "email": "support@weave.works", "date": ts(at)},
        "object": {"sha": commit, "type": "commit", "url": format!("https://api.github.com/repos/{repo}/git/commits/{commit}")},
        "tag": tag, "message": "Sync pointer\n",
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
    })
}

/// A stable 40-hex SHA for a name.
pub fn sha_of(name: &str) -> String {
    let mut out = String::new();
    let mut i = 0u64;
    while out.len() < 40 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (name, i).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
        i += 1;
    }
    out.truncate(40);
    out
}

/// A captured fixture.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[path = "../../../tests/support/spektate_bin.rs"]
mod spektate_bin;
#[allow(unused_imports)] // Not every test binary runs `spektate`.
pub use spektate_bin::spektate_bin;
