//! The request budget on a realistic history: 500 deployments of 10 services (one HLD
//! project, a manifest project, two clusters) traced through the real `Tracker` against the
//! fake GitLab of `tests/support`, which pages as GitLab does (`per_page` at most 100,
//! `x-next-page` and `Link`), sends ETags and answers GraphQL. Half the services run a
//! metadata pipeline of their own (p2 beside p1); the others update the HLD in a later stage
//! of the image pipeline (p2 is p1). Merge-request pipelines sit between them, some HLD
//! changes are pushed without a merge request, one image build and one manifest pipeline are
//! still running and one merge request is still open.
//!
//! `cargo test -p spektate-gitlab --test request_budget -- --nocapture` prints the counts.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use spektate_core::{
    Filter, ImageBuilt, ManifestCommitted, ManifestGenerated, MemoryStore, MetadataUpdated,
    Recorder, Status, StepState, Tracker,
};
use support::{FakeGitLab, Served, commit, job, merge_request, pipeline, sha_of, tag};

const SERVICES: usize = 10;
const DEPLOYMENTS: usize = 500;
const HLD: &str = "fabrikam/hld";
const MANIFESTS: &str = "fabrikam/manifests";

/// Deployments whose image build failed.
const IMAGE_FAILED: [usize; 2] = [50, 150];
/// The multi-stage pipeline whose metadata stage failed (svc-1: p2 is p1).
const METADATA_FAILED: usize = 401;
/// svc-4's image build, still running.
const IMAGE_RUNNING: usize = 494;
/// The manifest pipeline still running.
const MANIFEST_RUNNING: usize = 497;
/// The deployment whose approval merge request is open.
const AWAITING: usize = 498;

fn svc(i: usize) -> String {
    format!("fabrikam/svc-{i}")
}

/// Whether the service runs a metadata pipeline of its own (else p2 is p1's later stage).
fn separate_metadata(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// Whether the HLD change of deployment `k` is pushed without a merge request.
fn direct_push(k: usize) -> bool {
    k % 6 == 3
}

struct Builder<'a> {
    gl: &'a FakeGitLab,
    recorder: &'a Recorder,
    now: DateTime<Utc>,
    next_pipeline: u64,
    next_job: u64,
    iids: BTreeMap<String, u64>,
    newest_manifest: String,
    older_manifest: String,
    image_running: u64,
}

impl Builder<'_> {
    /// A new pipeline of `project` created at `at` with `status`; its id.
    fn pipeline(&mut self, project: &str, status: &str, sha: &str, at: DateTime<Utc>) -> u64 {
        self.next_pipeline += 1;
        let id = self.next_pipeline;
        let iid = self.iids.entry(project.to_string()).or_default();
        *iid += 1;
        let base = self.gl.url();
        let mut w = self.gl.world();
        let pid = w.add_project(project);
        let p = pipeline(&base, project, pid, id, *iid, status, sha, at);
        w.pipelines.entry(project.into()).or_default().insert(id, p);
        id
    }

    fn job(&mut self, project: &str, pipeline: u64, stage: &str, status: &str, at: DateTime<Utc>) {
        self.next_job += 1;
        let j = job(
            &self.gl.url(),
            project,
            self.next_job,
            pipeline,
            stage,
            status,
            at,
        );
        self.gl.world().jobs.entry(pipeline).or_default().push(j);
    }

    async fn deployment(&mut self, k: usize) {
        let i = k % SERVICES;
        let project = svc(i);
        let at = self.now - Duration::minutes(((DEPLOYMENTS - k) * 20) as i64);
        let ring = if k.is_multiple_of(2) { "dev" } else { "prod" };
        let base = self.gl.url();

        // A merge-request pipeline of the service beside the deployments.
        self.pipeline(
            &project,
            "success",
            &sha_of(&format!("mr-{k}")),
            at - Duration::minutes(5),
        );

        let sha = sha_of(&format!("{project}-commit-{k}"));
        let status = if IMAGE_FAILED.contains(&k) || k == METADATA_FAILED {
            "failed"
        } else if k == IMAGE_RUNNING {
            "running"
        } else {
            "success"
        };
        let p1 = self.pipeline(&project, status, &sha, at);
        if k == IMAGE_RUNNING {
            self.image_running = p1;
        }
        if !separate_metadata(i) {
            let update = if k == METADATA_FAILED {
                "failed"
            } else {
                "success"
            };
            let build = if IMAGE_FAILED.contains(&k) {
                "failed"
            } else {
                "success"
            };
            self.job(&project, p1, "build", build, at);
            self.job(&project, p1, "update-hld", update, at);
        }
        let (name, email, username) = if k.is_multiple_of(7) {
            ("Build Agent", "agent@build.fabrikam.example", None)
        } else {
            ("Mona Lisa", "mona@fabrikam.example", Some("mona"))
        };
        let c = commit(&base, &project, &sha, name, email, username, at);
        self.gl
            .world()
            .commits
            .insert((project.clone(), sha.clone()), c);
        let image_tag = format!("svc-{i}-{k}");
        self.recorder
            .image_built(&ImageBuilt {
                p1: p1.to_string(),
                image_tag: image_tag.clone(),
                commit_id: sha,
                service: format!("fabrikam/svc-{i}"),
                repository: Some(self.gl.project_url(&project)),
            })
            .await
            .unwrap();
        if IMAGE_FAILED.contains(&k) || k == IMAGE_RUNNING {
            return;
        }

        let p2 = if separate_metadata(i) {
            self.pipeline(
                &project,
                "success",
                &sha_of(&format!("md-{k}")),
                at + Duration::minutes(6),
            )
        } else {
            p1
        };
        let mr = (!direct_push(k)).then_some((k + 1) as u64);
        if let Some(iid) = mr {
            let (state, by) = if k == AWAITING {
                ("opened", None)
            } else {
                ("merged", Some("mona"))
            };
            let m = merge_request(
                &base,
                HLD,
                iid,
                &format!("Deploy {image_tag} to {ring}"),
                &format!("{image_tag}-{ring}"),
                state,
                by,
                at + Duration::minutes(8),
            );
            self.gl
                .world()
                .merge_requests
                .entry(HLD.into())
                .or_default()
                .insert(iid, m);
        }
        let hld_commit = sha_of(&format!("hld-{k}"));
        self.recorder
            .metadata_updated(&MetadataUpdated {
                p2: p2.to_string(),
                image_tag,
                hld_commit_id: hld_commit.clone(),
                env: ring.into(),
                pr: mr.map(|n| n.to_string()),
                repository: Some(self.gl.project_url(HLD)),
                service: None,
            })
            .await
            .unwrap();
        if k == METADATA_FAILED || k == AWAITING {
            return;
        }

        let status = if k == MANIFEST_RUNNING {
            "running"
        } else {
            "success"
        };
        let p3 = self.pipeline(HLD, status, &hld_commit, at + Duration::minutes(10));
        self.recorder
            .manifest_generated(&ManifestGenerated {
                p3: p3.to_string(),
                hld_commit_id: hld_commit,
                manifest_commit_id: None,
                pr: mr.map(|n| n.to_string()),
                repository: None,
            })
            .await
            .unwrap();
        if k == MANIFEST_RUNNING {
            return;
        }
        let manifest = sha_of(&format!("manifest-{k}"));
        self.recorder
            .manifest_committed(&ManifestCommitted {
                p3: p3.to_string(),
                manifest_commit_id: manifest.clone(),
                repository: Some(self.gl.project_url(MANIFESTS)),
            })
            .await
            .unwrap();
        if k == DEPLOYMENTS - 10 {
            self.older_manifest = manifest.clone();
        }
        self.newest_manifest = manifest;
    }
}

fn describe(served: &[Served]) -> String {
    served
        .iter()
        .map(|s| format!("  {} {} -> {}", s.method, s.path, s.status))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Requests per kind, as `graphql 15, pipeline lists 20, ...`.
fn breakdown(served: &[Served]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in served {
        let kind = if s.is_graphql() {
            "graphql"
        } else if s.path.contains("/pipelines?") {
            "pipeline lists"
        } else if s.path.contains("/jobs") {
            "jobs"
        } else if s.path.contains("/pipelines/") {
            "pipelines"
        } else if s.path.contains("/merge_requests") {
            "merge request probes"
        } else if s.path.contains("/repository/tags") {
            "tags"
        } else if s.path.contains("/repository/commits?") {
            "history"
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

/// The 500 deployments, recorded into a memory store and held by the fake: the store, the
/// newest and an older manifest commit, and the running image pipeline.
async fn history(gl: &FakeGitLab) -> (Arc<MemoryStore>, String, String, u64) {
    {
        let mut w = gl.world();
        w.add_project(HLD);
        w.add_project(MANIFESTS);
        for i in 0..SERVICES {
            w.add_project(&svc(i));
        }
    }
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let mut b = Builder {
        gl,
        recorder: &recorder,
        now: Utc::now(),
        next_pipeline: 208_000_000,
        next_job: 1_115_000_000,
        iids: BTreeMap::new(),
        newest_manifest: String::new(),
        older_manifest: String::new(),
        image_running: 0,
    };
    for k in 0..DEPLOYMENTS {
        b.deployment(k).await;
    }
    let (newest, older, image_running) = (
        b.newest_manifest.clone(),
        b.older_manifest.clone(),
        b.image_running,
    );
    {
        // Flux: east runs the newest manifest commit (an annotated tag), west an older one
        // (a lightweight tag); a release tag is not a sync tag.
        let base = gl.url();
        let mut w = gl.world();
        let tags = w.tags.entry(MANIFESTS.into()).or_default();
        tags.push(tag(
            &base,
            MANIFESTS,
            "flux-east",
            &newest,
            true,
            Utc::now(),
        ));
        tags.push(tag(
            &base,
            MANIFESTS,
            "flux-west",
            &older,
            false,
            Utc::now(),
        ));
        tags.push(tag(
            &base,
            MANIFESTS,
            "release-2024.05",
            &older,
            true,
            Utc::now(),
        ));
        let pipelines: usize = w.pipelines.values().map(BTreeMap::len).sum();
        println!(
            "the history: {pipelines} pipelines, {} merge requests",
            w.merge_requests[HLD].len()
        );
    }
    (store, newest, older, image_running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_deployments_cost_at_most_80_requests_cold_and_5_per_unchanged_refresh() {
    let gl = FakeGitLab::start().await;
    let (store, newest, older, image_running) = history(&gl).await;
    let client = gl.client();
    let tracker = Tracker::builder(store)
        .partition("fabrikam")
        .pipelines(Arc::new(client.pipelines()))
        .repositories(Arc::new(client.repos()))
        .build();

    // Cold.
    gl.clear_log();
    tracker.refresh().await.unwrap();
    let cold = gl.served();
    println!("cold: {} requests ({})", cold.len(), breakdown(&cold));
    let ds = tracker.snapshot().deployments.clone();
    assert_eq!(ds.len(), DEPLOYMENTS);

    // What a user sees.
    assert!(
        ds.iter().all(|d| d.warnings.is_empty()),
        "{:?}",
        ds.iter()
            .find(|d| !d.warnings.is_empty())
            .map(|d| &d.warnings)
    );
    let count = |st: Status| ds.iter().filter(|d| d.status == st).count();
    assert_eq!(
        (
            count(Status::InProgress),
            count(Status::Failed),
            count(Status::Incomplete)
        ),
        (2, 3, 1),
        "the running image build and manifest pipeline; two image failures and one metadata \
         failure; the deployment awaiting approval"
    );
    assert_eq!(count(Status::Complete), DEPLOYMENTS - 6);
    assert!(
        ds.iter()
            .filter(|d| d.commit_id().is_some())
            .all(|d| d.author.is_some()),
        "every author is known"
    );
    let agents = ds
        .iter()
        .filter(|d| d.author.as_ref().is_some_and(|a| a.login.is_none()))
        .count();
    assert!(
        agents > 50,
        "authors without an account show by their git name: {agents}"
    );
    assert_eq!(
        ds.iter().filter(|d| d.pull_request.is_some()).count(),
        ds.iter().filter(|d| d.pr().is_some()).count(),
        "every approval merge request is known"
    );
    let waiting: Vec<_> = ds.iter().filter(|d| d.awaiting_approval()).collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].pr(), Some((AWAITING + 1).to_string().as_str()));
    let merged = ds.iter().find(|d| d.pr() == Some("2")).unwrap();
    let mr = merged.pull_request.as_ref().unwrap();
    assert!(mr.merged);
    assert_eq!(
        mr.merged_by.as_ref().and_then(|a| a.login.as_deref()),
        Some("mona")
    );
    let failed_md = ds
        .iter()
        .find(|d| d.status == Status::Failed && d.record.p2 == d.record.p1)
        .unwrap();
    assert_eq!(
        (
            failed_md.image.as_ref().unwrap().state,
            failed_md.metadata.as_ref().unwrap().state
        ),
        (StepState::Succeeded, StepState::Failed),
        "the stages of the multi-stage pipeline tell which one failed"
    );
    let d = ds
        .iter()
        .find(|d| d.manifest_commit_id() == Some(newest.as_str()))
        .unwrap();
    let clusters: Vec<&str> = d.clusters.iter().map(|c| c.cluster.as_str()).collect();
    assert_eq!(clusters, ["east"]);
    let d = ds
        .iter()
        .find(|d| d.manifest_commit_id() == Some(older.as_str()))
        .unwrap();
    assert_eq!(d.clusters[0].cluster, "west");

    // The budget.
    let lists: Vec<&str> = cold
        .iter()
        .filter(|s| s.path.contains("/pipelines?"))
        .map(|s| s.path.as_str())
        .collect();
    assert!(
        lists.iter().all(|p| p.contains("per_page=100")),
        "lists ask for GitLab's largest page"
    );
    assert!(
        cold.iter()
            .filter(|s| s.path.contains("/repository/commits/"))
            .count()
            == 0,
        "commits come in GraphQL batches, not one by one:\n{}",
        describe(&cold)
    );
    // Commits come sixteen a GraphQL query (GitLab's query complexity limit): four queries
    // for each service's 50 commits.
    assert!(
        cold.len() <= 80,
        "cold trace made {} requests:\n{}",
        cold.len(),
        describe(&cold)
    );
    assert_eq!(cold.len(), 79, "the README's figure: {}", breakdown(&cold));

    // Refreshes with nothing changed: only revalidations.
    for round in 1..=2 {
        gl.clear_log();
        tracker.refresh().await.unwrap();
        let served = gl.served();
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
        assert_eq!(tracker.snapshot().deployments.len(), DEPLOYMENTS);
    }

    // The approval merge request gets merged and svc-4's image build finishes: the next
    // refresh sees both.
    {
        let base = gl.url();
        let mut w = gl.world();
        let iid = (AWAITING + 1) as u64;
        let title = w.merge_requests[HLD][&iid]["title"]
            .as_str()
            .unwrap()
            .to_string();
        let m = merge_request(
            &base,
            HLD,
            iid,
            &title,
            "x",
            "merged",
            Some("hubot"),
            Utc::now(),
        );
        w.merge_requests.get_mut(HLD).unwrap().insert(iid, m);
        let p = w
            .pipelines
            .get_mut("fabrikam/svc-4")
            .unwrap()
            .get_mut(&image_running)
            .unwrap();
        p["status"] = "success".into();
        p["finished_at"] = p["updated_at"].clone();
    }
    gl.clear_log();
    tracker.refresh().await.unwrap();
    let served = gl.served();
    println!(
        "refresh after a merge and a finished build: {} requests",
        served.len()
    );
    assert!(served.len() <= 8, "{}", describe(&served));
    let ds = tracker.deployments(&Filter::default()).await.unwrap();
    let pr = (AWAITING + 1).to_string();
    let d = ds.iter().find(|d| d.pr() == Some(pr.as_str())).unwrap();
    let m = d.pull_request.as_ref().unwrap();
    assert!(m.merged);
    assert_eq!(
        m.merged_by.as_ref().and_then(|a| a.login.as_deref()),
        Some("hubot")
    );
    let built = ds
        .iter()
        .find(|d| d.record.p1.as_deref() == Some(image_running.to_string().as_str()))
        .unwrap();
    assert_eq!(
        built.image.as_ref().map(|s| s.state),
        Some(StepState::Succeeded),
        "svc-4's image build finished"
    );
}

/// The answers cache as it was before it kept list pages: answers only.
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
/// in memory): with answers only, its list pages are downloaded again; with the pages kept,
/// they are revalidated (304s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_with_the_cache_file_revalidates_the_pages_the_first_fetched() {
    use spektate_core::cache::AnswersCache;
    use spektate_core::cache::sqlite::SqliteAnswers;

    let gl = FakeGitLab::start().await;
    let (store, ..) = history(&gl).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.sqlite");
    let process = |cache: Arc<dyn AnswersCache>| {
        let client = gl.client();
        Tracker::builder(store.clone())
            .partition("fabrikam")
            .pipelines(Arc::new(client.pipelines()))
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
    let not_modified = |served: &[Served]| served.iter().filter(|s| s.status == 304).count();

    gl.clear_log();
    let first = process(Arc::new(SqliteAnswers::open(&file).unwrap()));
    first.refresh().await.unwrap();
    let cold = gl.served();
    println!(
        "first process: {} requests ({})",
        cold.len(),
        breakdown(&cold)
    );

    gl.clear_log();
    let answers_only = process(Arc::new(AnswersOnly(SqliteAnswers::open(&file).unwrap())));
    answers_only.refresh().await.unwrap();
    let before = gl.served();
    println!(
        "second process, answers only: {} requests ({}), {} answered 304",
        before.len(),
        breakdown(&before),
        not_modified(&before)
    );

    gl.clear_log();
    let second = process(Arc::new(SqliteAnswers::open(&file).unwrap()));
    second.refresh().await.unwrap();
    let after = gl.served();
    println!(
        "second process, pages kept: {} requests ({}), {} answered 304",
        after.len(),
        breakdown(&after),
        not_modified(&after)
    );

    assert_eq!(statuses(&second), statuses(&first), "the same deployments");
    assert_eq!(statuses(&answers_only), statuses(&first));
    assert_eq!(not_modified(&before), 0, "{}", describe(&before));
    let revalidated: Vec<&Served> = after.iter().filter(|s| s.if_none_match.is_some()).collect();
    assert!(
        revalidated.iter().all(|s| s.status == 304) && !revalidated.is_empty(),
        "{}",
        describe(&after)
    );
    assert_eq!(
        (
            before.len(),
            not_modified(&before),
            after.len(),
            not_modified(&after)
        ),
        (10, 0, 11, 8),
        "the README's figures:\n{}\n--\n{}",
        describe(&before),
        describe(&after)
    );
}
