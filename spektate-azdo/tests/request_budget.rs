//! The request budget: the tracker over 500 deployments of 10 services (one HLD repo, two
//! clusters) makes 24 requests to Azure DevOps cold (one of them the manifest repository's
//! history), and 2 on a second refresh in which nothing changed (the figures of the
//! README), against a fake organisation that pages its lists as the service does; a server
//! that pages sooner costs only the pages it adds. The reference makes 1,254 (counted from
//! what it asks per deployment), and re-fetches every build on every refresh. A commits
//! batch the service refuses (a commit pushed away) costs one request per commit of that
//! batch, and says so once.
//!
//! Print the figures with
//! `cargo test -p spektate-azdo --test request_budget -- --nocapture`.

mod common;

use std::sync::Arc;

use common::fake_org::{Caps, FakeOrg};
use common::fixtures::{load, release, tfs_build};
use serde_json::{Value, json};
use spektate_core::testkit::Served;
use spektate_core::warnings::collect_notices;
use spektate_core::{Filter, MemoryStore, Record, RecordStore, RepoDefaults, Status, Tracker};

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

/// Fills `fake` with every build, release, commit, pull request and tag of the 500
/// deployments, in the shapes of the REST API; `lost` is a source commit the repositories no
/// longer have.
fn organisation(fake: &FakeOrg, lost: Option<&str>) {
    let uri = fake.server.uri();
    let mut org = fake.org();
    for k in 0..DEPLOYMENTS {
        let service = format!("svc-{}", k % SERVICES);
        let failed = FAILED.contains(&k);
        let p1 = 10_000 + k as u64;
        let mut b = tfs_build(
            &uri,
            p1,
            "completed",
            Some(if failed { "failed" } else { "succeeded" }),
            &service,
            &sha(k),
        );
        b["queueTime"] = json!(at(k, 0));
        b["finishTime"] = json!(at(k, 5));
        b["lastChangedDate"] = json!(at(k, 5));
        org.builds.insert(p1, b);
        if failed {
            org.timelines.insert(p1, load("raw-build-stages.json"));
        }
        let commits = &mut org.repos.entry(service.clone()).or_default().commits;
        if lost != Some(sha(k).as_str()) {
            commits.insert(sha(k), commit(&sha(k)));
        }
        if !multi_stage(k) {
            let id = 5_000 + k as u64;
            let image = format!("svc-{}-{p1}", k % SERVICES);
            let ring = if k % 2 == 0 { "dev" } else { "prod" };
            let times = [at(k, 6), at(k, 7), at(k, 8)];
            let times = [times[0].as_str(), times[1].as_str(), times[2].as_str()];
            org.releases
                .insert(id, release(id, ring, "succeeded", &image, times));
        }
        let mut pr = load("pr-response.json");
        pr["pullRequestId"] = json!(3_000 + k);
        pr["title"] = json!(format!("Updating {service} image tag"));
        org.repos
            .entry("hld".into())
            .or_default()
            .pulls
            .insert(3_000 + k as u64, pr);
        if failed {
            continue;
        }
        let p3 = 20_000 + k as u64;
        let running = IN_PROGRESS.contains(&k);
        let mut b = tfs_build(
            &uri,
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
        org.builds.insert(p3, b);
    }
    // Flux marked two clusters with annotated tags.
    let manifests = org.repos.entry("manifests".into()).or_default();
    for (cluster, object, k) in [("east", sha(9_000_001), 496), ("west", sha(9_000_002), 495)] {
        let mut r = load("sync-response.json")["value"][0].clone();
        r["name"] = json!(format!("refs/tags/flux-{cluster}"));
        r["objectId"] = json!(object);
        manifests.refs.push(r);
        let mut tag = load("manifest-sync-tag-response.json");
        tag["name"] = json!(format!("flux-{cluster}"));
        tag["objectId"] = json!(object);
        tag["taggedObject"]["objectId"] = json!(sha(2_000_000 + k));
        manifests.tags.insert(object, tag);
    }
}

/// A commit as the Git API returns it, by the author of its deployment.
fn commit(id: &str) -> Value {
    let mut c = load("author-response.json");
    c["commitId"] = json!(id);
    c["author"]["name"] = json!(format!("Author of {}", &id[32.min(id.len())..]));
    c
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
fn breakdown(served: &[Served]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for s in served {
        let p = s.target.split('?').next().unwrap_or_default();
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

/// A fake organisation holding the 500 deployments, answering pages of at most `caps`, and a
/// tracker over their records reading it.
async fn tracker(caps: Caps, lost: Option<&str>) -> (FakeOrg, Tracker) {
    let fake = FakeOrg::start(caps).await;
    organisation(&fake, lost);
    let store = Arc::new(MemoryStore::new());
    for r in records() {
        store.insert(&r).await.unwrap();
    }
    let defaults = RepoDefaults {
        source_repo: None,
        hld_repo: Some(FakeOrg::repo("hld")),
        manifest_repo: Some(FakeOrg::repo("manifests")),
    };
    let tracker = Tracker::builder(store)
        .partition("hello")
        .pipelines(Arc::new(fake.pipelines()))
        .repositories(Arc::new(fake.repos()))
        .defaults(defaults)
        .build();
    (fake, tracker)
}

/// What a user sees once the 500 deployments are traced.
async fn assert_traced(tracker: &Tracker) {
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
    // What the reference asks for: a list of the image builds the records name, one of the
    // manifest builds and one of the releases, the timeline of each multi-stage build, then one request per deployment for
    // its author and one for its pull request, and the sync tags (the refs, then each
    // annotated tag).
    let multi_stage = ds.iter().filter(|d| d.multi_stage).count();
    let authors = ds.iter().filter(|d| d.record.commit_id.is_some()).count();
    let pulls = ds.iter().filter(|d| d.record.pr.is_some()).count();
    let reference = 3 + multi_stage + authors + pulls + 1 + 2;
    println!(
        "the reference: {reference} requests (3 lists, {multi_stage} timelines, {authors} authors, {pulls} pull requests, 3 for tags)"
    );
    assert_eq!(reference, 1_254, "the README's figure for the reference");
}

/// Traces the 500 deployments cold, then refreshes with nothing changed: the requests of each.
async fn cold_and_unchanged(caps: Caps) -> (Vec<Served>, Vec<Served>) {
    let (fake, tracker) = tracker(caps, None).await;
    let (refreshed, notices) = collect_notices(tracker.refresh()).await;
    refreshed.unwrap();
    let cold = fake.served();
    tracker.refresh().await.unwrap();
    let unchanged = fake.served().split_off(cold.len());
    assert_traced(&tracker).await;
    assert!(notices.is_empty(), "{notices:?}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    (cold, unchanged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_deployments_cost_24_requests_cold_and_2_when_nothing_changed() {
    let (cold, unchanged) = cold_and_unchanged(Caps::SERVICE).await;
    println!(
        "request budget: cold refresh {} requests, unchanged refresh {}",
        cold.len(),
        unchanged.len()
    );
    println!("  cold: {}", breakdown(&cold));
    println!("  unchanged: {}", breakdown(&unchanged));
    // The figures the README states.
    assert_eq!(
        breakdown(&cold),
        "annotatedtags 2, builds 4, commits 1, commitsbatch 10, pullrequests 1, refs 1, releases 3, timeline 2"
    );
    assert_eq!((cold.len(), unchanged.len()), (24, 2));
    assert_eq!(
        breakdown(&unchanged),
        "builds 1, refs 1",
        "only the runs still in progress, and the sync tags"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_paging_every_50_items_costs_only_the_pages_it_adds() {
    let (cold, unchanged) = cold_and_unchanged(Caps::every(50)).await;
    println!(
        "request budget, 50 a page: cold refresh {} requests ({}), unchanged refresh {}",
        cold.len(),
        breakdown(&cold),
        unchanged.len()
    );
    let continued = cold
        .iter()
        .filter(|s| s.target.contains("continuationToken="))
        .count();
    // 995 builds named in 4 URLs of at most 2,000 characters, 250 releases in 3 of at most
    // 100 ids, 500 pull requests: each read 50 a page.
    assert_eq!(
        breakdown(&cold),
        "annotatedtags 2, builds 21, commits 1, commitsbatch 10, pullrequests 10, refs 1, releases 5, timeline 2"
    );
    assert_eq!(
        continued,
        17 + 2,
        "builds and releases continued with their tokens"
    );
    assert_eq!((cold.len(), unchanged.len()), (52, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_commits_batch_costs_one_request_per_commit_of_that_batch_and_one_notice() {
    // The source commit of deployment 123 (service svc-3) was pushed away.
    let lost = sha(123);
    let (fake, tracker) = tracker(Caps::SERVICE, Some(&lost)).await;
    let (refreshed, notices) = collect_notices(tracker.refresh()).await;
    refreshed.unwrap();
    let served = fake.served();
    let cold = served.len();
    let singles = served
        .iter()
        .filter(|s| s.target.contains("/commits/"))
        .count();
    let batches = served
        .iter()
        .filter(|s| s.target.contains("/commitsbatch?"))
        .count();
    println!(
        "request budget with a refused commits batch: cold refresh {cold} requests: {}",
        breakdown(&served)
    );

    // svc-3's batch holds its 50 commits: each is then asked for on its own.
    let per_service = DEPLOYMENTS / SERVICES;
    assert_eq!((batches, singles), (SERVICES, per_service));
    assert_eq!(cold, 24 + per_service, "cold refresh made {cold} requests");
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
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());

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

/// A second process (a new tracker over the same store, with the same answers cache file)
/// asks Azure DevOps only about what is not final: the three p3 builds still running, the
/// sync tags' refs and the manifest history. Every final build and release, the failed runs'
/// stages, the 500 authors, the merged pull requests and the annotated tag objects come from
/// the cache, and the deployments read the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_process_with_the_answers_cache_asks_only_about_what_is_not_final() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spektate").join("answers.sqlite");
    let fake = FakeOrg::start(Caps::SERVICE).await;
    organisation(&fake, None);
    let store = Arc::new(MemoryStore::new());
    for r in records() {
        store.insert(&r).await.unwrap();
    }
    let process = || {
        let cache = spektate_core::cache::sqlite::SqliteAnswers::open(&path).unwrap();
        Tracker::builder(store.clone())
            .partition("hello")
            .pipelines(Arc::new(fake.pipelines()))
            .repositories(Arc::new(fake.repos()))
            .defaults(RepoDefaults {
                source_repo: None,
                hld_repo: Some(FakeOrg::repo("hld")),
                manifest_repo: Some(FakeOrg::repo("manifests")),
            })
            .answers_cache(Arc::new(cache))
            .build()
    };
    let first = process();
    first.refresh().await.unwrap();
    let cold = fake.served();
    assert_traced(&first).await;
    drop(first);
    let second = process();
    second.refresh().await.unwrap();
    let warm = fake.served().split_off(cold.len());
    println!(
        "answers cache: first process {} requests, second process {} ({})",
        cold.len(),
        warm.len(),
        breakdown(&warm)
    );
    assert_eq!(cold.len(), 24, "{}", breakdown(&cold));
    assert_eq!(
        breakdown(&warm),
        "builds 1, commits 1, refs 1",
        "only the running p3 builds, the sync tags' refs and the manifest history are asked again"
    );
    assert_traced(&second).await;
    let kept = spektate_core::cache::sqlite::SqliteAnswers::open(&path).unwrap();
    // 500 p1 builds, 495 finished p3 builds, 250 releases, the 2 failed runs' stages, 500
    // authors, 498 merged pull requests (the failed deployments have none) and the 2 flux
    // tag objects.
    assert_eq!(kept.len().unwrap(), 500 + 495 + 250 + 2 + 500 + 498 + 2);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

/// The ids of the runs `served` asked for (builds by `buildIds`, releases by
/// `releaseIdFilter`).
fn runs_asked(served: &[Served]) -> std::collections::BTreeSet<String> {
    let mut ids = std::collections::BTreeSet::new();
    for s in served {
        let Some((_, query)) = s.target.split_once('?') else {
            continue;
        };
        for pair in query.split('&') {
            if let Some(v) = pair
                .strip_prefix("buildIds=")
                .or_else(|| pair.strip_prefix("releaseIdFilter="))
            {
                ids.extend(v.replace("%2C", ",").split(',').map(str::to_string));
            }
        }
    }
    ids
}

/// `get --top 3`, no criterion needing a provider's answer: only the runs of the 3 newest
/// deployments and of the margin (5 more, `FilteredStore::TOP_MARGIN`) are asked for (their
/// p1 and p3 builds and their releases), not the 500, and the rows are those of a tracker
/// that traces all 500 and cuts to 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn top_3_asks_only_about_the_newest_deployments_and_a_margin_and_shows_the_same_rows() {
    let top = Filter {
        top: Some(3),
        ..Filter::default()
    };
    let (everything, all) = tracker(Caps::SERVICE, None).await;
    // Row keys are drawn at each write, so rows are told by image tag.
    let row = |d: &spektate_core::Deployment| {
        (
            d.image_tag().map(str::to_string),
            d.status,
            d.author.as_ref().map(|a| a.name.clone()),
        )
    };
    let want: Vec<_> = all
        .deployments(&top)
        .await
        .unwrap()
        .iter()
        .map(row)
        .collect();
    assert!(runs_asked(&everything.served()).len() > 900);

    let fake = FakeOrg::start(Caps::SERVICE).await;
    organisation(&fake, None);
    let store = Arc::new(MemoryStore::new());
    for r in records() {
        // Written one after the other, as the pipelines report them.
        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        store.insert(&r).await.unwrap();
    }
    let narrow = Tracker::builder(store)
        .partition("hello")
        .pipelines(Arc::new(fake.pipelines()))
        .repositories(Arc::new(fake.repos()))
        .defaults(RepoDefaults {
            source_repo: None,
            hld_repo: Some(FakeOrg::repo("hld")),
            manifest_repo: Some(FakeOrg::repo("manifests")),
        })
        .filter(&top)
        .build();
    let got: Vec<_> = narrow
        .deployments(&top)
        .await
        .unwrap()
        .iter()
        .map(row)
        .collect();
    assert_eq!(got, want);
    let asked = runs_asked(&fake.served());
    let newest_8: Vec<String> = (492..500)
        .flat_map(|k| [format!("{}", 10_000 + k), format!("{}", 20_000 + k)])
        .collect();
    assert!(
        newest_8.iter().all(|id| asked.contains(id)),
        "the p1 and p3 builds of the 8 newest deployments: {asked:?}"
    );
    let releases: Vec<&String> = asked.iter().filter(|id| !newest_8.contains(id)).collect();
    assert!(
        releases
            .iter()
            .all(|id| id.parse::<u32>().is_ok_and(|n| (5_492..5_500).contains(&n))),
        "besides them, only their releases: {asked:?}"
    );
    assert_eq!(asked.len(), 19, "{asked:?}");
}
