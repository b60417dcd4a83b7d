//! The request budget: the tracker over 500 deployments of 10 services (one HLD repo, two
//! clusters) makes at most 40 requests to Azure DevOps cold, and at most 3 on a second
//! refresh in which nothing changed. The reference made 969, and re-fetched every build on
//! every refresh. A commits batch the service refuses (a commit pushed away) costs one
//! request per commit of that batch, and says so once.
//!
//! Print the figures with
//! `cargo test -p spektate-azdo --test request_budget -- --nocapture`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::fixtures::{fast, list, load, tfs_build};
use serde_json::{Value, json};
use spektate_azdo::{AzureDevOps, AzureRepos};
use spektate_core::http::Secret;
use spektate_core::warnings::collect_notices;
use spektate_core::{
    Filter, MemoryStore, Record, RecordStore, RepoDefaults, RepoRef, Status, Tracker,
};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DEPLOYMENTS: usize = 500;
const SERVICES: usize = 10;
const IN_PROGRESS: [usize; 3] = [497, 498, 499];
const FAILED: [usize; 2] = [105, 215];

fn sha(n: usize) -> String {
    format!("{:040x}", n)
}

fn multi_stage(k: usize) -> bool {
    k % SERVICES >= 5
}

fn at(k: usize, minute: usize) -> String {
    let t = chrono::DateTime::parse_from_rfc3339("2020-03-01T00:00:00Z").unwrap()
        + chrono::Duration::minutes((k * 30 + minute) as i64);
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The organisation: every build, release, commit, pull request and tag of the 500
/// deployments, served in the shapes of the REST API.
struct Org {
    builds: HashMap<u64, Value>,
    releases: HashMap<u64, Value>,
    /// A source commit the repositories no longer have.
    lost: Option<String>,
    /// Requests the real service would refuse.
    violations: Arc<Mutex<Vec<String>>>,
}

impl Org {
    /// The organisation with every commit a record names.
    fn new() -> Org {
        Org::losing(None)
    }

    /// The organisation without the commit `lost`.
    fn losing(lost: Option<String>) -> Org {
        let mut builds = HashMap::new();
        let mut releases = HashMap::new();
        for k in 0..DEPLOYMENTS {
            let service = format!("svc-{}", k % SERVICES);
            let failed = FAILED.contains(&k);
            let p1 = 10_000 + k as u64;
            let mut b = tfs_build(
                "https://dev.azure.com/fabrikam",
                p1,
                "completed",
                Some(if failed { "failed" } else { "succeeded" }),
                &service,
                &sha(k),
            );
            b["queueTime"] = json!(at(k, 0));
            b["finishTime"] = json!(at(k, 5));
            b["lastChangedDate"] = json!(at(k, 5));
            builds.insert(p1, b);
            if !multi_stage(k) {
                let id = 5_000 + k as u64;
                releases.insert(id, release(id, k));
            }
            if failed {
                continue;
            }
            let p3 = 20_000 + k as u64;
            let running = IN_PROGRESS.contains(&k);
            let mut b = tfs_build(
                "https://dev.azure.com/fabrikam",
                p3,
                if running { "inProgress" } else { "completed" },
                (!running).then_some("succeeded"),
                "hld",
                &sha(1_000_000 + k),
            );
            b["queueTime"] = json!(at(k, 10));
            b["lastChangedDate"] = json!(at(k, 15));
            if !running {
                b["finishTime"] = json!(at(k, 15));
            }
            builds.insert(p3, b);
        }
        Org {
            builds,
            releases,
            lost,
            violations: Arc::default(),
        }
    }

    /// A commit as the Git API returns it, by the author of its deployment.
    fn commit(id: &str) -> Value {
        let mut c = load("author-response.json");
        c["commitId"] = json!(id);
        c["author"]["name"] = json!(format!("Author of {}", &id[32.min(id.len())..]));
        c
    }

    /// Commits - Get Commits Batch: the criteria must be `ids` and `includeUserImageUrl`
    /// only (`ids` may not be combined with other criteria); one unknown id fails it all.
    fn commits_batch(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let keys: Vec<&String> = body
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        let Some(ids) = body["ids"]
            .as_array()
            .filter(|_| keys.len() == 2 && body["includeUserImageUrl"] == json!(true))
        else {
            self.violations.lock().unwrap().push(format!(
                "commitsbatch criteria {keys:?}, includeUserImageUrl {}",
                body["includeUserImageUrl"]
            ));
            return ResponseTemplate::new(400);
        };
        let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
        if let Some(gone) = ids.iter().find(|id| Some(**id) == self.lost.as_deref()) {
            return ResponseTemplate::new(404).set_body_json(
                json!({"message": format!("TF401175: The item {gone} could not be found.")}),
            );
        }
        let commits = ids.into_iter().map(Org::commit).collect();
        ResponseTemplate::new(200).set_body_json(list(commits))
    }
}

fn release(id: u64, k: usize) -> Value {
    let ring = if k % 2 == 0 { "dev" } else { "prod" };
    json!({
        "id": id, "name": format!("Release-{id}"), "status": "active",
        "createdOn": at(k, 6), "modifiedOn": at(k, 8),
        "releaseDefinition": {"id": 1, "name": "hld-update"},
        "_links": {"web": {"href": format!("https://dev.azure.com/fabrikam/hello/_release?releaseId={id}")}},
        "artifacts": [{"type": "AzureContainerRepository", "alias": "_image", "isPrimary": true,
            "definitionReference": {"version": {"id": format!("svc-{}-{}", k % SERVICES, 10_000 + k)},
                "registryurl": {"id": "fabrikam.azurecr.io", "name": "fabrikam"}}}],
        "environments": [{"id": id, "name": ring, "status": "succeeded", "modifiedOn": at(k, 8),
            "deploySteps": [{"id": id, "attempt": 1, "status": "succeeded", "operationStatus": "Approved",
                "queuedOn": at(k, 6), "lastModifiedOn": at(k, 8),
                "releaseDeployPhases": [{"rank": 1, "status": "succeeded", "startedOn": at(k, 7)}]}]}]
    })
}

fn ids_param(req: &Request, name: &str) -> Vec<u64> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.split(',').filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_default()
}

fn param(req: &Request, name: &str) -> Option<usize> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

impl Respond for Org {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        assert!(
            req.url.as_str().len() <= 2000,
            "a URL of {} characters",
            req.url.as_str().len()
        );
        let path = req.url.path().to_string();
        let ok = |v: Value| ResponseTemplate::new(200).set_body_json(v);
        let repo = path
            .strip_prefix("/fabrikam/hello/_apis/git/repositories/")
            .map(|r| r.split('/').collect::<Vec<_>>());
        if path == "/fabrikam/hello/_apis/build/builds" {
            let found = ids_param(req, "buildIds")
                .iter()
                .filter_map(|id| self.builds.get(id).cloned())
                .collect();
            return ok(list(found));
        }
        if let Some(id) = path
            .strip_prefix("/fabrikam/hello/_apis/build/builds/")
            .and_then(|r| r.strip_suffix("/timeline"))
        {
            let _ = id;
            return ok(load("raw-build-stages.json"));
        }
        if path == "/fabrikam/hello/_apis/release/releases" {
            let found = ids_param(req, "releaseIdFilter")
                .iter()
                .filter_map(|id| self.releases.get(id).cloned())
                .collect();
            return ok(list(found));
        }
        match repo.as_deref() {
            Some([_, "commitsbatch"]) => self.commits_batch(req),
            Some([_, "commits", id]) if Some(*id) != self.lost.as_deref() => ok(Org::commit(id)),
            Some(["hld", "pullrequests"]) => {
                let (top, skip) = (
                    param(req, "$top").unwrap_or(100),
                    param(req, "$skip").unwrap_or(0),
                );
                let page = (0..DEPLOYMENTS)
                    .rev()
                    .skip(skip)
                    .take(top)
                    .map(|k| {
                        let mut pr = load("pr-response.json");
                        pr["pullRequestId"] = json!(3_000 + k);
                        pr["title"] = json!(format!("Updating svc-{} image tag", k % SERVICES));
                        pr
                    })
                    .collect();
                ok(list(page))
            }
            Some(["manifests", "refs"]) => {
                let mut refs = load("sync-response.json");
                let east = refs["value"][0].clone();
                let mut west = east.clone();
                refs["value"][0]["name"] = json!("refs/tags/flux-east");
                refs["value"][0]["objectId"] = json!(sha(9_000_001));
                west["name"] = json!("refs/tags/flux-west");
                west["objectId"] = json!(sha(9_000_002));
                refs["value"].as_array_mut().unwrap().push(west);
                ok(refs)
            }
            Some(["manifests", "annotatedtags", object]) => {
                let mut tag = load("manifest-sync-tag-response.json");
                let k = if *object == sha(9_000_001) { 496 } else { 495 };
                tag["objectId"] = json!(object);
                tag["taggedObject"]["objectId"] = json!(sha(2_000_000 + k));
                ok(tag)
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

fn records() -> Vec<Record> {
    (0..DEPLOYMENTS)
        .map(|k| {
            let mut r = Record::new("hello");
            let p1 = (10_000 + k).to_string();
            let p2 = if multi_stage(k) {
                p1.clone()
            } else {
                (5_000 + k).to_string()
            };
            let set = |r: &mut Record, c: &str, v: String| {
                r.set_column(c, Some(v));
            };
            set(&mut r, "service", format!("fabrikam/svc-{}", k % SERVICES));
            set(&mut r, "imageTag", format!("svc-{}-{p1}", k % SERVICES));
            set(&mut r, "commitId", sha(k));
            set(&mut r, "p1", p1);
            if FAILED.contains(&k) {
                set(&mut r, "p2", p2);
                return r;
            }
            set(&mut r, "p2", p2);
            set(
                &mut r,
                "env",
                if k % 2 == 0 { "dev" } else { "prod" }.to_string(),
            );
            set(&mut r, "hldCommitId", sha(1_000_000 + k));
            set(&mut r, "pr", (3_000 + k).to_string());
            set(&mut r, "p3", (20_000 + k).to_string());
            if !IN_PROGRESS.contains(&k) {
                set(&mut r, "manifestCommitId", sha(2_000_000 + k));
            }
            r
        })
        .collect()
}

/// Requests per endpoint, as `builds 4, releases 3, ...`.
fn breakdown(requests: &[Request]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in requests {
        let p = r.url.path();
        let kind = [
            "timeline",
            "releases",
            "builds",
            "commitsbatch",
            "commits",
            "pullrequests",
            "refs",
            "annotatedtags",
        ]
        .into_iter()
        .find(|k| p.contains(k))
        .unwrap_or("other");
        *counts.entry(kind).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A tracker over the 500 records, reading `org` through a mock server; and the list of
/// requests the real service would refuse.
async fn tracker(org: Org) -> (MockServer, Tracker, Arc<Mutex<Vec<String>>>) {
    let violations = org.violations.clone();
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(org)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::new());
    for r in records() {
        store.insert(&r).await.unwrap();
    }
    let token = Secret::new("azdo-pat");
    let pipelines = AzureDevOps::builder(format!("{}/fabrikam", server.uri()), "hello")
        .token(token.clone())
        .policy(fast())
        .build()
        .unwrap();
    let repos = AzureRepos::builder()
        .base_url(server.uri())
        .token(token)
        .policy(fast())
        .build()
        .unwrap();
    let defaults = RepoDefaults {
        source_repo: None,
        hld_repo: Some(RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/hld").unwrap()),
        manifest_repo: Some(
            RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").unwrap(),
        ),
    };
    let tracker = Tracker::builder(store)
        .partition("hello")
        .pipelines(Arc::new(pipelines))
        .repositories(Arc::new(repos))
        .defaults(defaults)
        .build();
    (server, tracker, violations)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_deployments_cost_at_most_40_requests_cold_and_3_when_nothing_changed() {
    let (server, tracker, violations) = tracker(Org::new()).await;
    let (refreshed, notices) = collect_notices(tracker.refresh()).await;
    refreshed.unwrap();
    let first = server.received_requests().await.unwrap();
    let cold = first.len();
    tracker.refresh().await.unwrap();
    let all = server.received_requests().await.unwrap();
    let second = all.len() - cold;
    println!(
        "request budget: cold refresh {cold} requests (limit 40), second refresh {second} (limit 3)"
    );
    println!("  cold: {}", breakdown(&first));
    println!("  second: {}", breakdown(&all[cold..]));

    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    assert_eq!(ds.len(), DEPLOYMENTS);
    let count = |s: Status| ds.iter().filter(|d| d.status == s).count();
    assert_eq!(
        (
            count(Status::Complete),
            count(Status::InProgress),
            count(Status::Failed)
        ),
        (495, 3, 2)
    );
    assert!(
        ds.iter().all(|d| d
            .author
            .as_ref()
            .is_some_and(|a| a.name.starts_with("Author of"))),
        "every deployment has its author"
    );
    assert!(
        ds.iter()
            .filter(|d| d.pr().is_some())
            .all(|d| d.pull_request.as_ref().is_some_and(|p| p.merged)),
        "every PR is known"
    );
    let synced: Vec<(String, Vec<String>)> = ds
        .iter()
        .filter(|d| d.is_synced())
        .map(|d| {
            (
                d.id().to_string(),
                d.clusters.iter().map(|c| c.cluster.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(synced.len(), 2, "{synced:?}");
    let failed = ds.iter().find(|d| d.status == Status::Failed).unwrap();
    assert_eq!(
        failed.metadata.as_ref().map(|s| s.state),
        Some(spektate_core::StepState::Failed),
        "the failed stage is named"
    );
    assert!(
        ds.iter().all(|d| d.warnings.is_empty()),
        "{:?}",
        ds.iter()
            .find(|d| !d.warnings.is_empty())
            .map(|d| &d.warnings)
    );

    assert!(
        violations.lock().unwrap().is_empty(),
        "{:?}",
        violations.lock().unwrap()
    );
    assert!(notices.is_empty(), "{notices:?}");
    assert!(cold <= 40, "cold refresh made {cold} requests");
    assert!(
        second <= 3,
        "a refresh with nothing new made {second} requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_commits_batch_costs_one_request_per_commit_of_that_batch_and_one_notice() {
    // The source commit of deployment 123 (service svc-3) was pushed away.
    let lost = sha(123);
    let (server, tracker, violations) = tracker(Org::losing(Some(lost.clone()))).await;
    let (refreshed, notices) = collect_notices(tracker.refresh()).await;
    refreshed.unwrap();
    let requests = server.received_requests().await.unwrap();
    let cold = requests.len();
    let singles = requests
        .iter()
        .filter(|r| r.url.path().contains("/commits/"))
        .count();
    let batches = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/commitsbatch"))
        .count();
    println!(
        "request budget with a refused commits batch: cold refresh {cold} requests: {}",
        breakdown(&requests)
    );

    // svc-3's batch holds its 50 commits: each is then asked for on its own.
    let per_service = DEPLOYMENTS / SERVICES;
    assert_eq!((batches, singles), (SERVICES, per_service));
    assert!(
        cold <= 40 + per_service,
        "cold refresh made {cold} requests"
    );
    let said: Vec<String> = notices
        .iter()
        .map(|n| {
            format!(
                "{}: {} commits: {}",
                n.reason.provider(),
                n.count,
                n.reason.cause()
            )
        })
        .collect();
    assert_eq!(said.len(), 1, "one notice for the refused batch: {said:?}");
    assert!(
        said[0].starts_with("azure-repos ")
            && said[0].contains(&format!(
                ": {per_service} commits: the commits batch was refused (HTTP 404)"
            )),
        "{}",
        said[0]
    );
    assert!(violations.lock().unwrap().is_empty());

    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    let without: Vec<&str> = ds
        .iter()
        .filter(|d| d.author.is_none())
        .filter_map(|d| d.commit_id())
        .collect();
    assert_eq!(
        without,
        [lost.as_str()],
        "only the lost commit has no author"
    );
}
