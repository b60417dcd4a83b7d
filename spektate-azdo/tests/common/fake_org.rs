//! A fake Azure DevOps organisation `fabrikam` with the project `hello`: builds, classic
//! releases, timelines and Git repositories, answered in the shapes of the REST API a page at a
//! time (`$top`, `$skip`, the `x-ms-continuationtoken` header and `continuationToken`
//! parameter), with every request logged and the ones the real service would refuse recorded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use spektate_azdo::{AzureDevOps, AzureRepos};
use spektate_core::RepoRef;
use spektate_core::http::Secret;
use spektate_core::testkit::Served;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::fixtures::{fast, list};

/// With `SPEKTATE_SPECS_OUT=DIR`, every request the organisation answered goes into this file
/// of `DIR` (path and query, the JSON request body, the JSON answered), which
/// `tests/specs/run.sh` checks against the descriptions in `tests/specs/azure-devops`.
const SPECS_LOG: &str = "azure-devops-served.jsonl";

/// The organisation.
pub const ORG: &str = "fabrikam";
/// The only project the token reads.
pub const PROJECT: &str = "hello";
/// The token the providers send.
pub const PAT: &str = "azdo-pat-7f3e2d1a";

/// The most items the service answers per request of each list. A shorter page with a
/// continuation token is always valid, so a fake may page sooner than the service.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Builds - List: `$top` goes up to 5,000.
    pub builds: usize,
    /// Releases - List: 100 (50 without `$top`).
    pub releases: usize,
    /// Refs - List: `$top` "cannot be bigger than 1000".
    pub refs: usize,
    /// Pull Requests - Get Pull Requests: pages by `$top` and `$skip`.
    pub pulls: usize,
}

impl Caps {
    /// The service's own limits.
    pub const SERVICE: Caps = Caps {
        builds: 5000,
        releases: 100,
        refs: 1000,
        pulls: 1000,
    };

    /// A server that answers at most `n` items a page of every list.
    pub fn every(n: usize) -> Caps {
        Caps {
            builds: n,
            releases: n,
            refs: n,
            pulls: n,
        }
    }
}

/// A Git repository of the project.
#[derive(Debug, Default)]
pub struct Repo {
    /// Commits (`GitCommitRef`) by id.
    pub commits: BTreeMap<String, Value>,
    /// Pull requests (`GitPullRequest`) by number.
    pub pulls: BTreeMap<u64, Value>,
    /// Refs (`GitRef`), in name order.
    pub refs: Vec<Value>,
    /// Annotated tag objects (`GitAnnotatedTag`) by object id.
    pub tags: HashMap<String, Value>,
    /// The default branch's commit ids, newest first.
    pub history: Vec<String>,
}

/// What the organisation holds.
#[derive(Debug)]
pub struct Org {
    /// Page limits.
    pub caps: Caps,
    /// Builds (`Build`) by id.
    pub builds: BTreeMap<u64, Value>,
    /// Build timelines by build id.
    pub timelines: HashMap<u64, Value>,
    /// Releases (`Release` with environments and artifacts) by id.
    pub releases: BTreeMap<u64, Value>,
    /// Repositories of the project by name.
    pub repos: BTreeMap<String, Repo>,
    /// Build and release ids whose requests fail with HTTP 500.
    pub broken: HashSet<u64>,
    /// Requests the real service would refuse.
    pub violations: Vec<String>,
}

/// A running fake organisation.
pub struct FakeOrg {
    pub server: MockServer,
    org: Arc<Mutex<Org>>,
    log: Arc<Mutex<Vec<Served>>>,
}

impl FakeOrg {
    /// An empty organisation answering pages of at most `caps`.
    pub async fn start(caps: Caps) -> FakeOrg {
        let server = MockServer::start().await;
        let org = Arc::new(Mutex::new(Org {
            caps,
            builds: BTreeMap::new(),
            timelines: HashMap::new(),
            releases: BTreeMap::new(),
            repos: BTreeMap::new(),
            broken: HashSet::new(),
            violations: Vec::new(),
        }));
        let log = Arc::new(Mutex::new(Vec::new()));
        Mock::given(wiremock::matchers::any())
            .respond_with(Responder {
                org: org.clone(),
                log: log.clone(),
            })
            .mount(&server)
            .await;
        FakeOrg { server, org, log }
    }

    /// What the organisation holds, to change it.
    pub fn org(&self) -> MutexGuard<'_, Org> {
        self.org.lock().unwrap()
    }

    /// Every request answered so far.
    pub fn served(&self) -> Vec<Served> {
        self.log.lock().unwrap().clone()
    }

    /// Requests the real service would refuse.
    pub fn violations(&self) -> Vec<String> {
        self.org().violations.clone()
    }

    /// The pipelines provider of `project`.
    pub fn pipelines_of(&self, project: &str) -> AzureDevOps {
        AzureDevOps::builder(format!("{}/{ORG}", self.server.uri()), project)
            .token(Secret::new(PAT))
            .policy(fast())
            .build()
            .unwrap()
    }

    /// The pipelines provider of the project.
    pub fn pipelines(&self) -> AzureDevOps {
        self.pipelines_of(PROJECT)
    }

    /// The repositories provider, reading cloud repositories here.
    pub fn repos(&self) -> AzureRepos {
        AzureRepos::builder()
            .base_url(self.server.uri())
            .token(Secret::new(PAT))
            .policy(fast())
            .build()
            .unwrap()
    }

    /// The project's repository `name`, as a record names it.
    pub fn repo(name: &str) -> RepoRef {
        RepoRef::parse(&format!(
            "https://dev.azure.com/{ORG}/{PROJECT}/_git/{name}"
        ))
        .unwrap()
    }
}

struct Responder {
    org: Arc<Mutex<Org>>,
    log: Arc<Mutex<Vec<Served>>>,
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut org = self.org.lock().unwrap();
        let (status, body, token) = answer(&mut org, req);
        drop(org);
        let target = match req.url.query() {
            Some(q) => format!("{}?{q}", req.url.path()),
            None => req.url.path().to_string(),
        };
        let request: Option<Value> = serde_json::from_slice(&req.body).ok();
        spektate_core::testkit::specs_log::served(
            SPECS_LOG,
            req.method.as_str(),
            &target,
            status,
            request.as_ref(),
            &body,
        );
        self.log.lock().unwrap().push(Served {
            method: req.method.to_string(),
            target,
            status,
            conditional: req.headers.contains_key("if-none-match"),
        });
        let mut template = ResponseTemplate::new(status)
            .insert_header(
                "content-type",
                "application/json; charset=utf-8; api-version=6.0",
            )
            .set_body_json(body);
        if let Some(token) = token {
            template = template.insert_header("x-ms-continuationtoken", token.as_str());
        }
        template
    }
}

/// The first value of query parameter `name`.
fn param(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn number(req: &Request, name: &str) -> Option<usize> {
    param(req, name).and_then(|v| v.parse().ok())
}

fn ids(req: &Request, name: &str) -> Vec<u64> {
    param(req, name)
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// An error body as the service writes it (`typeKey` names the exception).
fn error(type_key: &str, message: &str) -> Value {
    json!({"$id": "1", "innerException": null, "message": message,
           "typeName": format!("Microsoft.TeamFoundation.{type_key}, Microsoft.TeamFoundation.Core.WebApi"),
           "typeKey": type_key, "errorCode": 0, "eventId": 3000})
}

/// An opaque continuation token naming where the next page starts (with characters that
/// must be percent-encoded when sent back).
fn token(next: usize) -> String {
    format!("p{next}+/=")
}

/// Where the page a continuation token names starts.
fn start_of(violations: &mut Vec<String>, req: &Request) -> Option<usize> {
    let raw = param(req, "continuationToken")?;
    match raw
        .strip_prefix('p')
        .and_then(|r| r.strip_suffix("+/="))
        .and_then(|n| n.parse().ok())
    {
        Some(n) => Some(n),
        None => {
            violations.push(format!(
                "continuation token {raw:?} was not one the service sent"
            ));
            Some(usize::MAX)
        }
    }
}

/// One page of `items` from `start`, at most `size`: the page and the token of the next.
fn page(items: Vec<Value>, start: usize, size: usize) -> (Vec<Value>, Option<String>) {
    let end = start.saturating_add(size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| token(end));
    (
        items
            .get(start.min(items.len())..end)
            .unwrap_or_default()
            .to_vec(),
        next,
    )
}

type Answer = (u16, Value, Option<String>);

/// The id (a GUID) the service gave repository `name`.
fn repo_id(name: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    let n = h.finish();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n >> 32,
        (n >> 16) & 0xffff,
        n & 0xfff,
        (n >> 4) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

/// A commit (`GitCommit`) as the lists answer it: a `GitCommitRef`, without `treeId`.
fn commit_ref(commit: &Value) -> Value {
    let mut c = commit.clone();
    if let Some(o) = c.as_object_mut() {
        o.remove("treeId");
    }
    c
}

fn answer(org: &mut Org, req: &Request) -> Answer {
    let url_len = req.url.as_str().len();
    if url_len > 2000 {
        org.violations
            .push(format!("a URL of {url_len} characters: {}", req.url.path()));
        return (414, json!({"message": "URI Too Long"}), None);
    }
    let parts: Vec<String> = req
        .url
        .path_segments()
        .map(|s| s.map(str::to_string).collect())
        .unwrap_or_default();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let missing_project = |p: &str| {
        (
            404,
            error(
                "ProjectDoesNotExistWithNameException",
                &format!(
                    "TF200016: The following project does not exist: {p}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server."
                ),
            ),
            None,
        )
    };
    match parts.as_slice() {
        [ORG, "_apis", "projects", p] if *p == PROJECT => (
            200,
            json!({"id": "f8a98d9c-8f11-46ef-89e4-07b4a56d1ad5", "name": PROJECT, "state": "wellFormed"}),
            None,
        ),
        [ORG, "_apis", "projects", p] => missing_project(p),
        [ORG, p, "_apis", ..] if *p != PROJECT => missing_project(p),
        [ORG, _, "_apis", "build", "builds"] => builds(org, req),
        [ORG, _, "_apis", "build", "builds", id, "timeline"] => {
            match id.parse().ok().and_then(|id: u64| org.timelines.get(&id)) {
                Some(t) => (200, t.clone(), None),
                None => (204, Value::Null, None),
            }
        }
        [ORG, _, "_apis", "release", "releases"] => releases(org, req),
        [ORG, _, "_apis", "git", "repositories", name, rest @ ..] => git(org, req, name, rest),
        _ => (404, json!({"message": "no such endpoint"}), None),
    }
}

fn builds(org: &mut Org, req: &Request) -> Answer {
    let wanted = ids(req, "buildIds");
    if let Some(id) = wanted.iter().find(|id| org.broken.contains(id)) {
        return (
            500,
            error(
                "UnexpectedErrorException",
                &format!("TF400898: An Internal Error Occurred. Activity Id: 7f3e2d1a-{id}."),
            ),
            None,
        );
    }
    let top = number(req, "$top").unwrap_or(org.caps.builds);
    if top > 5000 {
        org.violations.push(format!("builds $top={top}"));
    }
    let start = start_of(&mut org.violations, req).unwrap_or(0);
    // Newest first, the default order.
    let found: Vec<Value> = wanted
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .rev()
        .filter_map(|id| org.builds.get(id).cloned())
        .collect();
    let (values, next) = page(found, start, top.min(org.caps.builds));
    (200, list(values), next)
}

fn releases(org: &mut Org, req: &Request) -> Answer {
    let wanted = ids(req, "releaseIdFilter");
    if let Some(id) = wanted.iter().find(|id| org.broken.contains(id)) {
        return (
            500,
            error(
                "UnexpectedErrorException",
                &format!("VS402881: An internal error occurred for release {id}."),
            ),
            None,
        );
    }
    let top = number(req, "$top").unwrap_or(50);
    if top > 100 {
        org.violations.push(format!("releases $top={top}"));
    }
    let expand = param(req, "$expand").unwrap_or_default();
    // The token is the id of the next release to answer: releases are newest first.
    let from = param(req, "continuationToken").and_then(|t| t.parse::<u64>().ok());
    let mut found: Vec<Value> = wanted
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .rev()
        .filter(|id| from.is_none_or(|f| **id <= f))
        .filter_map(|id| org.releases.get(id).cloned())
        .collect();
    let size = top.min(org.caps.releases);
    let next = found
        .get(size)
        .and_then(|r| r["id"].as_u64())
        .map(|id| id.to_string());
    found.truncate(size);
    for r in &mut found {
        let o = r.as_object_mut().unwrap();
        if !expand.contains("environments") {
            o.remove("environments");
        }
        if !expand.contains("artifacts") {
            o.remove("artifacts");
        }
    }
    (200, list(found), next)
}

fn git(org: &mut Org, req: &Request, name: &str, rest: &[&str]) -> Answer {
    let caps = org.caps;
    let Some(repo) = org.repos.get(name) else {
        return (
            404,
            error(
                "GitRepositoryNotFoundException",
                &format!(
                    "TF401019: The Git repository with name or identifier {name} does not exist or you do not have permissions for the operation you are attempting."
                ),
            ),
            None,
        );
    };
    let not_found = |what: &str| {
        (
            404,
            error(
                "GitItemNotFoundException",
                &format!("TF401175: The item {what} could not be found."),
            ),
            None,
        )
    };
    match rest {
        [] => (
            200,
            json!({"id": repo_id(name), "name": name,
                   "webUrl": format!("https://dev.azure.com/{ORG}/{PROJECT}/_git/{name}")}),
            None,
        ),
        ["commitsbatch"] => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let keys: Vec<String> = body
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            let Some(wanted) = body["ids"]
                .as_array()
                .filter(|_| keys.len() == 2 && body["includeUserImageUrl"] == json!(true))
            else {
                let why = format!("commitsbatch criteria {keys:?}");
                org.violations.push(why);
                return (
                    400,
                    error("ArgumentException", "The criteria are not valid."),
                    None,
                );
            };
            let mut commits = Vec::new();
            for id in wanted.iter().filter_map(Value::as_str) {
                match repo.commits.get(id) {
                    Some(c) => commits.push(commit_ref(c)),
                    None => return not_found(id),
                }
            }
            let skip = number(req, "$skip").unwrap_or(0);
            let top = number(req, "$top").unwrap_or(100);
            let page: Vec<Value> = commits.into_iter().skip(skip).take(top).collect();
            (200, list(page), None)
        }
        ["commits"] => {
            // The default branch, newest first, as `GitCommitRef`s.
            let Some(top) = number(req, "searchCriteria.$top") else {
                org.violations
                    .push("commits listed without searchCriteria.$top".into());
                return (
                    400,
                    error("ArgumentException", "searchCriteria.$top is missing."),
                    None,
                );
            };
            let page: Vec<Value> = repo
                .history
                .iter()
                .take(top)
                .map(|id| {
                    repo.commits.get(id).map(commit_ref).unwrap_or_else(|| {
                        json!({"commitId": id, "comment": "Update manifests",
                               "author": {"name": "Build Agent", "email": "agent@fabrikam.example", "date": "2026-11-26T12:00:00Z"},
                               "url": format!("https://dev.azure.com/{ORG}/{PROJECT}/_apis/git/repositories/{}/commits/{id}", repo_id(name))})
                    })
                })
                .collect();
            (200, list(page), None)
        }
        ["commits", id] => match repo.commits.get(*id) {
            Some(c) => (200, c.clone(), None),
            None => not_found(id),
        },
        ["pullrequests"] => {
            if param(req, "searchCriteria.status").as_deref() != Some("all") {
                org.violations
                    .push("pull requests listed without searchCriteria.status=all".into());
            }
            let skip = number(req, "$skip").unwrap_or(0);
            let top = number(req, "$top").unwrap_or(100).min(caps.pulls);
            // Newest first.
            let page: Vec<Value> = repo
                .pulls
                .values()
                .rev()
                .skip(skip)
                .take(top)
                .cloned()
                .collect();
            (200, list(page), None)
        }
        ["pullrequests", n] => match n.parse().ok().and_then(|n: u64| repo.pulls.get(&n)) {
            Some(pr) => (200, pr.clone(), None),
            None => not_found(&format!("pull request {n}")),
        },
        ["refs"] => {
            let filter = format!("refs/{}", param(req, "filter").unwrap_or_default());
            let top = number(req, "$top");
            if top.is_some_and(|t| t > 1000) {
                org.violations.push(format!("refs $top={top:?}"));
                return (
                    400,
                    error("ArgumentException", "$top cannot be bigger than 1000."),
                    None,
                );
            }
            let continuing = req.url.query_pairs().any(|(k, _)| k == "continuationToken");
            let size = top
                .unwrap_or(if continuing { 100 } else { caps.refs })
                .min(caps.refs);
            let matching: Vec<Value> = repo
                .refs
                .iter()
                .filter(|r| r["name"].as_str().is_some_and(|n| n.starts_with(&filter)))
                .cloned()
                .collect();
            let start = start_of(&mut org.violations, req).unwrap_or(0);
            let (values, next) = page(matching, start, size);
            (200, list(values), next)
        }
        ["annotatedtags", object] => match repo.tags.get(*object) {
            Some(t) => (200, t.clone(), None),
            None => not_found(object),
        },
        _ => (404, json!({"message": "no such endpoint"}), None),
    }
}
