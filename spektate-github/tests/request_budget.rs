//! The request budget on a realistic history: 500 deployments of 10 services traced through
//! the real `Tracker` against the fake GitHub of `tests/support` (REST lists a hundred a page
//! with `Link` headers, ETags and 304s, GraphQL batches), holding 1,582 workflow runs and 423
//! pull requests. The first 100 deployments were recorded by the reference tool, as `job:`
//! ids; since then half the services run a metadata workflow of its own (p2 is a run beside
//! p1) and the others update the HLD in a later job of the image workflow (p2 is p1). CodeQL
//! and lint runs sit between them, some HLD changes are pushed without a pull request, and
//! one service has four runs still queued or running.
//!
//! The reference tool spends about 2,200 requests on this history (one per run or job, author
//! and pull request). Spektate makes 42 cold (one of them the manifest repository's history)
//! and 4 per refresh with nothing changed, all 304s.
//!
//! `cargo test -p spektate-github --test request_budget -- --nocapture` prints the counts.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use spektate_core::{
    Filter, ImageBuilt, ManifestCommitted, ManifestGenerated, MemoryStore, MetadataUpdated,
    Recorder, Status, StepState, Tracker,
};
use support::{FakeGitHub, RunSpec, Served, commit, git_ref, job, pull, sha_of, tag_object};

const SERVICES: usize = 10;
const DEPLOYMENTS: usize = 500;
const RUNS: usize = 1_582;
const PULL_REQUESTS: usize = 423;
const HLD: &str = "fabrikam/hld";
const MANIFESTS: &str = "fabrikam/manifests";

/// Deployments recorded by the reference tool, with job ids.
const JOB_ERA: usize = 100;
/// Deployments whose image build failed.
const IMAGE_FAILED: [usize; 4] = [50, 150, 250, 350];
/// The multi-stage run whose metadata job failed.
const METADATA_FAILED: usize = 401;
/// svc-4's four unfinished runs: an image build running, a metadata run running, an image
/// build queued and a metadata run waiting for its environment's approval.
const IMAGE_RUNNING: usize = 494;
const METADATA_RUNNING: usize = 484;
const IMAGE_QUEUED: usize = 474;
const METADATA_QUEUED: usize = 464;
/// The manifest run still running.
const MANIFEST_RUNNING: usize = 497;
/// The deployment whose approval pull request is open.
const AWAITING: usize = 498;

fn svc_repo(i: usize) -> String {
    format!("fabrikam/svc-{i}")
}

/// Whether the service runs a metadata workflow of its own (else p2 is a job of p1's run).
fn separate_metadata(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// Whether the HLD change of deployment `k` is pushed without a pull request.
fn direct_push(k: usize) -> bool {
    k % 6 == 3
}

/// Whether deployment `k` gets past its image build.
fn image_done(k: usize) -> bool {
    !IMAGE_FAILED.contains(&k) && k != IMAGE_RUNNING && k != IMAGE_QUEUED
}

/// Whether deployment `k` gets to its manifest run.
fn reaches_manifest(k: usize) -> bool {
    image_done(k) && ![METADATA_FAILED, METADATA_RUNNING, METADATA_QUEUED, AWAITING].contains(&k)
}

/// The workflow runs deployment `k` makes.
fn deployment_runs(k: usize) -> usize {
    let p2 = usize::from(k >= JOB_ERA && separate_metadata(k % SERVICES) && image_done(k));
    1 + p2 + usize::from(reaches_manifest(k))
}

/// What the history left where, for the assertions.
#[derive(Default)]
struct History {
    newest_manifest: String,
    edge_manifest: String,
    /// svc-4's running image build.
    image_running: u64,
}

/// Builds the world and records what the pipelines would record.
struct Builder<'a> {
    gh: &'a FakeGitHub,
    recorder: &'a Recorder,
    now: DateTime<Utc>,
    next_run: u64,
    next_job: u64,
    numbers: BTreeMap<String, u64>,
    history: History,
}

impl Builder<'_> {
    /// A new run of `repo` created at `at` (ids grow with time, as GitHub's do).
    fn run(&mut self, repo: &str, workflow: &str, at: DateTime<Utc>) -> RunSpec {
        self.next_run += 1;
        let number = self.numbers.entry(repo.to_string()).or_default();
        *number += 1;
        let mut run = RunSpec::new(repo, self.next_run, *number, at);
        run.workflow = workflow.into();
        run
    }

    fn put(&mut self, run: &RunSpec) {
        self.gh
            .world()
            .runs
            .insert((run.repo.clone(), run.id), run.json());
    }

    /// A job of `run`; its id.
    fn job(&mut self, run: &RunSpec, name: &str, conclusion: &'static str) -> u64 {
        self.next_job += 1;
        let j = job(
            &run.repo,
            self.next_job,
            run.id,
            name,
            "completed",
            Some(conclusion),
            run.created,
        );
        self.gh
            .world()
            .jobs
            .insert(self.next_job, (run.repo.clone(), j));
        self.next_job
    }

    /// CodeQL and lint runs beside the deployments.
    fn other_runs(&mut self, k: usize, count: usize, at: DateTime<Utc>) {
        for n in 0..count {
            let (repo, workflow) = if (k + n).is_multiple_of(10) {
                (HLD.to_string(), "lint")
            } else {
                (svc_repo((k * 3 + n) % SERVICES), "CodeQL")
            };
            let run = self.run(&repo, workflow, at - Duration::minutes(3));
            self.put(&run);
        }
    }

    async fn deployment(&mut self, k: usize) {
        let i = k % SERVICES;
        let repo = svc_repo(i);
        let at = self.now - Duration::minutes(((DEPLOYMENTS - k) * 20) as i64);
        let jobs = k < JOB_ERA;
        let ring = if k.is_multiple_of(2) { "dev" } else { "prod" };

        // The image build: a run, or jobs of a run in the reference tool's days.
        let mut build = self.run(&repo, "build-and-deploy", at);
        let commit_sha = sha_of(&format!("{repo}-commit-{k}"));
        build.head_sha = commit_sha.clone();
        if IMAGE_FAILED.contains(&k) {
            build = build.failed();
        } else if k == IMAGE_RUNNING {
            build = build.running();
            self.history.image_running = build.id;
        } else if k == IMAGE_QUEUED {
            build = build.queued();
        } else if k == METADATA_FAILED {
            build = build.failed();
        }
        self.put(&build);
        let (p1, mut p2) = if jobs {
            let failed = IMAGE_FAILED.contains(&k);
            let p1 = self.job(&build, "build", if failed { "failure" } else { "success" });
            let p2 =
                (!failed).then(|| format!("job:{}", self.job(&build, "update-hld", "success")));
            (format!("job:{p1}"), p2)
        } else {
            let p1 = format!("run:{}", build.id);
            (p1.clone(), (!separate_metadata(i)).then_some(p1))
        };
        if k == METADATA_FAILED {
            self.job(&build, "build", "success");
            self.job(&build, "update-hld", "failure");
        }
        let (name, email, login) = if k.is_multiple_of(7) {
            ("Build Agent", "agent@build.fabrikam.example", None)
        } else {
            ("Mona Lisa", "mona@fabrikam.example", Some(("mona", 42u64)))
        };
        self.gh.world().commits.insert(
            (repo.clone(), commit_sha.clone()),
            commit(&repo, &commit_sha, name, email, login, at),
        );
        let image_tag = format!("svc-{i}-{}", build.number);
        self.recorder
            .image_built(&ImageBuilt {
                p1: p1.clone(),
                image_tag: image_tag.clone(),
                commit_id: commit_sha,
                service: format!("fabrikam/svc-{i}"),
                repository: Some(format!("https://github.com/{repo}")),
            })
            .await
            .unwrap();
        if !image_done(k) {
            return;
        }

        // The metadata update: its own run, or the image workflow's later job.
        if p2.is_none() {
            let mut update = self.run(&repo, "update-hld", at + Duration::minutes(6));
            if k == METADATA_RUNNING {
                update = update.running();
            } else if k == METADATA_QUEUED {
                update = update.queued();
            }
            self.put(&update);
            p2 = Some(format!("run:{}", update.id));
        }
        let pr = (!direct_push(k)).then(|| (k + 1) as u64);
        if let Some(pr) = pr {
            let merged_by = (k != AWAITING).then_some("mona");
            let title = format!("Deploy {image_tag} to {ring}");
            let approval = pull(
                HLD,
                pr,
                &title,
                &format!("{image_tag}-{ring}"),
                merged_by,
                at + Duration::minutes(8),
            );
            self.gh.world().pulls.insert((HLD.into(), pr), approval);
        }
        let hld_commit = sha_of(&format!("hld-{k}"));
        self.recorder
            .metadata_updated(&MetadataUpdated {
                p2: p2.unwrap(),
                image_tag,
                hld_commit_id: hld_commit.clone(),
                env: ring.into(),
                pr: pr.map(|n| n.to_string()),
                repository: Some(format!("https://github.com/{HLD}")),
                service: None,
            })
            .await
            .unwrap();
        if !reaches_manifest(k) {
            return;
        }

        // The manifest run in the HLD repository.
        let mut manifest = self.run(HLD, "generate-manifests", at + Duration::minutes(10));
        if k == MANIFEST_RUNNING {
            manifest = manifest.running();
        }
        self.put(&manifest);
        let p3 = if jobs {
            format!("job:{}", self.job(&manifest, "generate", "success"))
        } else {
            format!("run:{}", manifest.id)
        };
        self.recorder
            .manifest_generated(&ManifestGenerated {
                p3: p3.clone(),
                hld_commit_id: hld_commit,
                manifest_commit_id: None,
                pr: pr.map(|n| n.to_string()),
                repository: None,
            })
            .await
            .unwrap();
        if k == MANIFEST_RUNNING {
            return;
        }
        let manifest_commit = sha_of(&format!("manifest-{k}"));
        self.recorder
            .manifest_committed(&ManifestCommitted {
                p3,
                manifest_commit_id: manifest_commit.clone(),
                repository: Some(format!("https://github.com/{MANIFESTS}")),
            })
            .await
            .unwrap();
        if k == DEPLOYMENTS - 10 {
            self.history.edge_manifest = manifest_commit.clone();
        }
        self.history.newest_manifest = manifest_commit;
    }
}

/// Builds the history in `gh` and records it through `recorder`.
async fn history(gh: &FakeGitHub, recorder: &Recorder) -> History {
    {
        let mut w = gh.world();
        w.repos.extend([HLD.to_string(), MANIFESTS.to_string()]);
        w.repos.extend((0..SERVICES).map(svc_repo));
    }
    let mut b = Builder {
        gh,
        recorder,
        now: Utc::now(),
        next_run: 9_100_000_000,
        next_job: 31_000_000_000,
        numbers: BTreeMap::new(),
        history: History::default(),
    };
    let others = RUNS - (0..DEPLOYMENTS).map(deployment_runs).sum::<usize>();
    for k in 0..DEPLOYMENTS {
        let at = b.now - Duration::minutes(((DEPLOYMENTS - k) * 20) as i64);
        b.other_runs(
            k,
            (k + 1) * others / DEPLOYMENTS - k * others / DEPLOYMENTS,
            at,
        );
        b.deployment(k).await;
    }

    // Pull requests of the HLD that deploy nothing (docs, dependency bumps).
    let approvals = gh.world().pulls.len();
    for n in 0..PULL_REQUESTS - approvals {
        let number = (DEPLOYMENTS + 1 + n) as u64;
        let docs = pull(
            HLD,
            number,
            "Update the README",
            &format!("docs-{n}"),
            Some("mona"),
            b.now - Duration::days(9) + Duration::hours(n as i64),
        );
        gh.world().pulls.insert((HLD.into(), number), docs);
    }

    // Flux: two clusters run the newest manifest commit (annotated tags), an edge cluster an
    // older one (a lightweight tag).
    let mut w = gh.world();
    let (west, east) = (sha_of("tag-west"), sha_of("tag-east"));
    let newest = b.history.newest_manifest.clone();
    for (sha, tag) in [(&west, "flux-west"), (&east, "flux-east")] {
        let object = tag_object(MANIFESTS, sha, tag, &newest, b.now);
        w.tags.insert((MANIFESTS.into(), sha.clone()), object);
    }
    w.refs.insert(
        MANIFESTS.into(),
        vec![
            git_ref(MANIFESTS, "flux-east", &east, "tag"),
            git_ref(MANIFESTS, "flux-edge", &b.history.edge_manifest, "commit"),
            git_ref(MANIFESTS, "flux-west", &west, "tag"),
            git_ref(MANIFESTS, "release-2024.05", &sha_of("release"), "commit"),
        ],
    );
    assert_eq!(w.runs.len(), RUNS, "the history holds {RUNS} runs");
    assert_eq!(w.pulls.len(), PULL_REQUESTS);
    drop(w);
    b.history
}

fn describe(served: &[Served]) -> String {
    served
        .iter()
        .map(|s| format!("  {} {} -> {}", s.method, s.path, s.status))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Requests per kind, as `runs 19, graphql 21, ...`.
fn breakdown(served: &[Served]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in served {
        let kind = if s.is_graphql() {
            "graphql"
        } else if s.path.contains("/actions/runs?") {
            "run lists"
        } else if s.path.contains("/jobs") {
            "jobs"
        } else if s.path.contains("/actions/runs/") {
            "runs"
        } else if s.path.contains("/pulls") {
            "pull probes"
        } else if s.path.contains("/git/") {
            "tags"
        } else {
            "other"
        };
        *counts.entry(kind).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realistic_history_costs_42_requests_cold_and_4_per_unchanged_refresh() {
    let gh = FakeGitHub::start().await;
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let history = history(&gh, &recorder).await;
    let client = gh.client();
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .pipelines(Arc::new(client.actions()))
        .repositories(Arc::new(client.repos()))
        .build();

    // Cold.
    gh.clear_log();
    tracker.refresh().await.unwrap();
    let cold = gh.served();
    println!("cold: {} requests ({})", cold.len(), breakdown(&cold));
    let ds = tracker.snapshot().deployments.clone();
    assert_eq!(ds.len(), DEPLOYMENTS);

    // What a user sees.
    assert!(
        ds.iter().all(|d| d.warnings.is_empty()),
        "{:?}",
        ds.iter().find(|d| !d.warnings.is_empty())
    );
    let count = |st: Status| ds.iter().filter(|d| d.status == st).count();
    assert_eq!(
        (
            count(Status::InProgress),
            count(Status::Failed),
            count(Status::Incomplete)
        ),
        (5, 5, 1),
        "svc-4's four unfinished runs and the running manifest run; four image failures and \
         one metadata failure; the deployment awaiting approval"
    );
    assert_eq!(count(Status::Complete), DEPLOYMENTS - 11);
    assert!(
        ds.iter()
            .filter(|d| d.commit_id().is_some())
            .all(|d| d.author.is_some()),
        "every author is known"
    );
    assert!(
        ds.iter()
            .filter(|d| d.author.as_ref().is_some_and(|a| a.login.is_none()))
            .count()
            > 50,
        "authors without a GitHub account are shown by their git name"
    );
    let with_pr = ds.iter().filter(|d| d.pr().is_some()).count();
    assert_eq!(
        ds.iter().filter(|d| d.pull_request.is_some()).count(),
        with_pr,
        "every approval pull request is known"
    );
    let waiting: Vec<_> = ds.iter().filter(|d| d.awaiting_approval()).collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].pr(), Some((AWAITING + 1).to_string().as_str()));

    // Deployments recorded with job ids read as well as those recorded with runs.
    let by_jobs: Vec<_> = ds
        .iter()
        .filter(|d| {
            d.record
                .p1
                .as_deref()
                .is_some_and(|p| p.starts_with("job:"))
        })
        .collect();
    assert_eq!(by_jobs.len(), JOB_ERA);
    assert_eq!(
        by_jobs
            .iter()
            .filter(|d| d.status == Status::Complete)
            .count(),
        JOB_ERA - 1,
        "every job-era deployment but the failed build is complete"
    );
    let failed_md = ds
        .iter()
        .find(|d| {
            d.service() == Some("svc-1") && d.status == Status::Failed && d.record.p2 == d.record.p1
        })
        .unwrap();
    assert_eq!(
        (
            failed_md.image.as_ref().unwrap().state,
            failed_md.metadata.as_ref().unwrap().state
        ),
        (StepState::Succeeded, StepState::Failed),
        "the jobs of the multi-stage run tell which stage failed"
    );
    let svc4_active: Vec<StepState> = ds
        .iter()
        .filter(|d| d.service() == Some("svc-4") && d.status == Status::InProgress)
        .flat_map(|d| [&d.image, &d.metadata])
        .filter_map(|s| s.as_ref().map(|s| s.state))
        .filter(|s| s.is_active())
        .collect();
    assert_eq!(svc4_active.len(), 4, "{svc4_active:?}");
    let newest = ds
        .iter()
        .find(|d| d.manifest_commit_id() == Some(history.newest_manifest.as_str()))
        .unwrap();
    let clusters: Vec<&str> = newest.clusters.iter().map(|c| c.cluster.as_str()).collect();
    assert_eq!(clusters, ["east", "west"]);
    assert_eq!(newest.clusters[0].tagger.as_deref(), Some("Weave Flux"));
    let edge = ds
        .iter()
        .find(|d| d.manifest_commit_id() == Some(history.edge_manifest.as_str()))
        .unwrap();
    assert_eq!(edge.clusters[0].cluster, "edge");

    // What the reference asks for, one request each: every run or job, author and pull
    // request the records name.
    let mut objects: HashSet<String> = HashSet::new();
    for d in ds.iter() {
        let r = &d.record;
        objects.extend([&r.p1, &r.p2, &r.p3].into_iter().flatten().cloned());
        objects.extend(r.commit_id.iter().map(|c| format!("commit {c}")));
        objects.extend(r.pr.iter().map(|n| format!("pull {n}")));
    }
    println!("the reference: {} requests, one per object", objects.len());
    assert_eq!(
        objects.len(),
        2_195,
        "the README's figure for the reference"
    );

    // The budget: one list per repository for p1, p2 and p3 together, jobs a hundred a query.
    let lists: Vec<&str> = cold
        .iter()
        .filter(|s| s.path.contains("/actions/runs?"))
        .map(|s| s.path.as_str())
        .collect();
    let unique: HashSet<&str> = lists.iter().copied().collect();
    assert_eq!(lists.len(), unique.len(), "a page of a run list read twice");
    assert!(
        cold.iter().all(|s| !s.path.contains("/actions/jobs/")),
        "jobs come in GraphQL batches, not one by one:\n{}",
        describe(&cold)
    );
    assert!(
        cold.len() <= 60,
        "cold trace made {} requests:\n{}",
        cold.len(),
        describe(&cold)
    );
    assert_eq!(cold.len(), 42, "the README's figure: {}", breakdown(&cold));

    // Refreshes with nothing changed: only revalidations, free against the rate limit.
    for round in 1..=2 {
        gh.clear_log();
        tracker.refresh().await.unwrap();
        let served = gh.served();
        println!(
            "refresh {round}: {} requests ({}), {} answered 304",
            served.len(),
            breakdown(&served),
            served.iter().filter(|s| s.status == 304).count()
        );
        assert!(
            served.len() <= 5,
            "refresh {round} made {} requests:\n{}",
            served.len(),
            describe(&served)
        );
        assert_eq!(
            served.len(),
            4,
            "the README's figure:\n{}",
            describe(&served)
        );
        assert!(
            served
                .iter()
                .all(|s| s.status == 304 && s.if_none_match.is_some()),
            "refresh {round} fetched something that did not change:\n{}",
            describe(&served)
        );
        assert!(
            served
                .iter()
                .any(|s| s.path.contains("fabrikam/svc-4/actions/runs?")),
            "svc-4's four unfinished runs cost one revalidated page:\n{}",
            describe(&served)
        );
        assert_eq!(tracker.snapshot().deployments.len(), DEPLOYMENTS);
    }

    // The approval pull request gets merged and svc-4's running image build finishes: the
    // next refresh sees both.
    {
        let mut w = gh.world();
        let later = Utc::now();
        let pr = (AWAITING + 1) as u64;
        let mut merged = w.pulls[&(HLD.to_string(), pr)].clone();
        merged["state"] = "closed".into();
        merged["merged"] = true.into();
        merged["merged_at"] = later.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
        merged["closed_at"] = merged["merged_at"].clone();
        merged["updated_at"] = merged["merged_at"].clone();
        merged["merged_by"] = support::user("hubot", 5);
        w.pulls.insert((HLD.to_string(), pr), merged);
        let key = ("fabrikam/svc-4".to_string(), history.image_running);
        let mut run: Value = w.runs[&key].clone();
        run["status"] = "completed".into();
        run["conclusion"] = "success".into();
        run["updated_at"] = later.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
        w.runs.insert(key, run);
    }
    gh.clear_log();
    tracker.refresh().await.unwrap();
    let served = gh.served();
    println!(
        "refresh after a merge and a finished run: {} requests",
        served.len()
    );
    assert!(served.len() <= 7, "{}", describe(&served));
    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    let pr = (AWAITING + 1).to_string();
    let d = ds.iter().find(|d| d.pr() == Some(pr.as_str())).unwrap();
    let p = d.pull_request.as_ref().unwrap();
    assert!(p.merged);
    assert_eq!(
        p.merged_by.as_ref().and_then(|a| a.login.as_deref()),
        Some("hubot")
    );
    assert_eq!(
        ds.iter()
            .filter(|d| d.service() == Some("svc-4") && d.status == Status::InProgress)
            .count(),
        3,
        "svc-4's image build finished: that deployment waits for its metadata update"
    );
}

/// The answers cache as it was before it kept list pages and tag objects: answers only.
struct AnswersOnly(spektate_core::cache::sqlite::SqliteAnswers);

impl spektate_core::cache::AnswersCache for AnswersOnly {
    fn describe(&self) -> String {
        self.0.describe()
    }

    fn load(
        &self,
        wanted: &spektate_core::cache::Wanted,
    ) -> spektate_core::Result<Vec<spektate_core::cache::Answer>> {
        self.0.load(wanted)
    }

    fn save(&self, answers: &[spektate_core::cache::Answer]) -> spektate_core::Result<()> {
        self.0.save(answers)
    }
}

/// A second process over the cache file the first filled (a new client and tracker, nothing
/// in memory): with answers only, it lists every repository's runs again and fetches the tag
/// objects again; with the list pages and tag objects kept, it revalidates the pages (304s)
/// and asks no tag object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_with_the_cache_file_revalidates_pages_and_reuses_tag_objects() {
    use spektate_core::cache::AnswersCache;
    use spektate_core::cache::sqlite::SqliteAnswers;

    let gh = FakeGitHub::start().await;
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    history(&gh, &recorder).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.sqlite");
    let process = |cache: Arc<dyn AnswersCache>| {
        let client = gh.client();
        Tracker::builder(store.clone())
            .partition("fabrikam")
            .pipelines(Arc::new(client.actions()))
            .repositories(Arc::new(client.repos()))
            .answers_cache(cache)
            .build()
    };
    let statuses = |t: &Tracker| {
        let mut s: Vec<(String, String)> = t
            .snapshot()
            .deployments
            .iter()
            .map(|d| (d.record.row_key.clone(), format!("{:?}", d.status)))
            .collect();
        s.sort();
        s
    };

    gh.clear_log();
    let first = process(Arc::new(SqliteAnswers::open(&file).unwrap()));
    first.refresh().await.unwrap();
    let cold = gh.served();
    println!(
        "first process: {} requests ({})",
        cold.len(),
        breakdown(&cold)
    );

    gh.clear_log();
    let answers_only = process(Arc::new(AnswersOnly(SqliteAnswers::open(&file).unwrap())));
    answers_only.refresh().await.unwrap();
    let before = gh.served();
    println!(
        "second process, answers only: {} requests ({}), {} answered 304",
        before.len(),
        breakdown(&before),
        before.iter().filter(|s| s.status == 304).count()
    );

    gh.clear_log();
    let second = process(Arc::new(SqliteAnswers::open(&file).unwrap()));
    second.refresh().await.unwrap();
    let after = gh.served();
    println!(
        "second process, pages and tag objects kept: {} requests ({}), {} answered 304",
        after.len(),
        breakdown(&after),
        after.iter().filter(|s| s.status == 304).count()
    );

    assert_eq!(statuses(&second), statuses(&first), "the same deployments");
    assert_eq!(statuses(&answers_only), statuses(&first));
    // Tag objects: the two annotated flux tags, one GraphQL batch (or REST for one).
    let graphql = |served: &[Served]| served.iter().filter(|s| s.is_graphql()).count();
    let rest_tags = |served: &[Served]| {
        served
            .iter()
            .filter(|s| s.path.contains("/git/tags/"))
            .count()
    };
    assert_eq!(
        graphql(&after) + rest_tags(&after) + 1,
        graphql(&before) + rest_tags(&before),
        "no tag object asked again:\n{}",
        describe(&after)
    );
    // The open approval pull request, which the first process read in a GraphQL batch, is
    // asked again, and so is a job that failed this week (a re-run keeps its id); every
    // other REST request revalidates.
    let open_pr = format!("/repos/{HLD}/pulls/{}", AWAITING + 1);
    assert!(
        after
            .iter()
            .filter(|s| !s.is_graphql() && s.path != open_pr && !s.path.contains("/actions/jobs/"))
            .all(|s| s.status == 304 && s.if_none_match.is_some()),
        "every REST request revalidates:\n{}",
        describe(&after)
    );
    let revalidated = |served: &[Served]| served.iter().filter(|s| s.status == 304).count();
    assert_eq!(
        (before.len(), after.len(), revalidated(&after)),
        (16, 10, 7),
        "the README's figures (requests, and 304s of the second):\n{}\n--\n{}",
        describe(&before),
        describe(&after)
    );
}
