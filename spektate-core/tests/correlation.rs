//! Status, duration, last updated and expiry as tables of cases
//! (docs/ARCHITECTURE.md, Correlation).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use spektate_core::correlate::{Knowledge, Lookup, RepoDefaults, correlate, deployment};
use spektate_core::{Filter, Record, Run, RunKind, RunResult, RunStatus, Stage, Status, StepState};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap() + Duration::minutes(min)
}

/// A run queued at `q`, finished at `f` (minutes), with a state word: ok, fail, cancel, skip,
/// done (completed without a result), run, queue.
fn run(id: &str, kind: RunKind, state: &str, q: i64, f: Option<i64>) -> Run {
    let (status, result) = match state {
        "ok" => (RunStatus::Completed, Some(RunResult::Succeeded)),
        "fail" => (RunStatus::Completed, Some(RunResult::Failed)),
        "cancel" => (RunStatus::Completed, Some(RunResult::Canceled)),
        "skip" => (RunStatus::Completed, Some(RunResult::Skipped)),
        "done" => (RunStatus::Completed, None),
        "run" => (RunStatus::InProgress, None),
        "queue" => (RunStatus::Queued, None),
        other => panic!("bad state {other}"),
    };
    let mut r = Run::new(id, kind, status);
    r.result = result;
    r.queued_at = Some(t(q));
    r.started_at = Some(t(q));
    r.finished_at = f.map(t);
    r.last_changed_at = Some(t(f.unwrap_or(q)));
    r
}

fn record(p1: Option<&str>, p2: Option<&str>, p3: Option<&str>) -> Arc<Record> {
    let mut r = Record::new("p");
    r.p1 = p1.map(Into::into);
    r.p2 = p2.map(Into::into);
    r.p3 = p3.map(Into::into);
    r.image_tag = p1.or(p2).map(|_| "img".to_string());
    r.service = Some("svc".into());
    r.timestamp = Some(t(-100));
    Arc::new(r)
}

fn know(runs: &[Run]) -> Knowledge {
    let mut k = Knowledge::default();
    for r in runs {
        k.runs_mut(r.kind)
            .insert(r.id.as_str().into(), Lookup::Found(Arc::new(r.clone())));
    }
    k
}

#[test]
fn status_from_step_states() {
    use RunKind::{Build as B, Release as R};
    // (p1, p2, p3) as (state) or None; expected status.
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Status,
    );
    let cases: Vec<Case> = vec![
        (
            "p3 succeeded",
            Some("ok"),
            Some("ok"),
            Some("ok"),
            Status::Complete,
        ),
        (
            "p3 succeeded even if p1 unknown",
            None,
            None,
            Some("ok"),
            Status::Complete,
        ),
        (
            "p3 running",
            Some("ok"),
            Some("ok"),
            Some("run"),
            Status::InProgress,
        ),
        ("p1 queued", Some("queue"), None, None, Status::InProgress),
        ("p1 running", Some("run"), None, None, Status::InProgress),
        ("p2 failed", Some("ok"), Some("fail"), None, Status::Failed),
        (
            "p3 failed",
            Some("ok"),
            Some("ok"),
            Some("fail"),
            Status::Failed,
        ),
        (
            "running beats failed",
            Some("fail"),
            Some("run"),
            None,
            Status::InProgress,
        ),
        (
            "failed beats canceled",
            Some("cancel"),
            Some("fail"),
            None,
            Status::Failed,
        ),
        (
            "p2 canceled",
            Some("ok"),
            Some("cancel"),
            None,
            Status::Canceled,
        ),
        (
            "image done, nothing else yet",
            Some("ok"),
            None,
            None,
            Status::Incomplete,
        ),
        (
            "p3 finished skipped: no manifests were made",
            Some("ok"),
            Some("ok"),
            Some("skip"),
            Status::Incomplete,
        ),
        (
            "p3 completed without a result counts as succeeded",
            Some("ok"),
            Some("ok"),
            Some("done"),
            Status::Complete,
        ),
        (
            "metadata done, awaiting approval",
            Some("ok"),
            Some("ok"),
            None,
            Status::Incomplete,
        ),
    ];
    for (name, s1, s2, s3, want) in cases {
        let mut runs = Vec::new();
        if let Some(s) = s1 {
            runs.push(run("1", B, s, 0, Some(5)));
        }
        if let Some(s) = s2 {
            runs.push(run("2", R, s, 6, Some(8)));
        }
        if let Some(s) = s3 {
            runs.push(run("3", B, s, 9, Some(12)));
        }
        let rec = record(s1.map(|_| "1"), s2.map(|_| "2"), s3.map(|_| "3"));
        let d = deployment(&rec, &know(&runs), &RepoDefaults::default(), t(60));
        assert_eq!(d.status, want, "{name}");
    }
}

#[test]
fn multi_stage_stage_results_decide_which_step_failed() {
    let stage = |order, result| Stage {
        name: format!("stage{order}"),
        order,
        status: RunStatus::Completed,
        result,
        started_at: None,
        finished_at: None,
        url: None,
    };
    // (stage 1 result, stage 2 result, image state, metadata state)
    let cases = [
        (
            Some(RunResult::Succeeded),
            Some(RunResult::Failed),
            StepState::Succeeded,
            StepState::Failed,
        ),
        (
            Some(RunResult::Failed),
            Some(RunResult::Skipped),
            StepState::Failed,
            StepState::Skipped,
        ),
        (
            Some(RunResult::Canceled),
            Some(RunResult::Skipped),
            StepState::Canceled,
            StepState::Skipped,
        ),
    ];
    for (s1, s2, want1, want2) in cases {
        let r = run("7", RunKind::Build, "fail", 0, Some(10));
        let mut k = know(&[r]);
        k.stages
            .insert("7".into(), Lookup::Found(vec![stage(1, s1), stage(2, s2)]));
        let d = deployment(
            &record(Some("7"), Some("7"), None),
            &k,
            &RepoDefaults::default(),
            t(60),
        );
        assert!(d.multi_stage);
        assert_eq!(
            (
                d.image.as_ref().unwrap().state,
                d.metadata.as_ref().unwrap().state
            ),
            (want1, want2),
            "{s1:?}/{s2:?}"
        );
        assert_eq!(
            d.status,
            if want1 == StepState::Canceled {
                Status::Canceled
            } else {
                Status::Failed
            }
        );
    }
    // A succeeded multi-stage run succeeded in both steps, no stages needed.
    let k = know(&[run("8", RunKind::Build, "ok", 0, Some(10))]);
    let d = deployment(
        &record(Some("8"), Some("8"), None),
        &k,
        &RepoDefaults::default(),
        t(60),
    );
    assert_eq!(
        (d.image.unwrap().state, d.metadata.unwrap().state),
        (StepState::Succeeded, StepState::Succeeded)
    );
}

#[test]
fn duration_sums_runs_or_counts_a_multi_stage_run_once() {
    let now = t(100);
    type Case = (&'static str, Arc<Record>, Vec<Run>, Option<i64>);
    let cases: Vec<Case> = vec![
        (
            "three finished runs",
            record(Some("1"), Some("2"), Some("3")),
            vec![
                run("1", RunKind::Build, "ok", 0, Some(5)),
                run("2", RunKind::Release, "ok", 10, Some(12)),
                run("3", RunKind::Build, "ok", 20, Some(23)),
            ],
            Some(10 * 60),
        ),
        (
            "in progress counts to now",
            record(Some("1"), None, None),
            vec![run("1", RunKind::Build, "run", 90, None)],
            Some(10 * 60),
        ),
        (
            "multi-stage counted once, plus p3",
            record(Some("1"), Some("1"), Some("3")),
            vec![
                run("1", RunKind::Build, "ok", 0, Some(8)),
                run("3", RunKind::Build, "ok", 20, Some(22)),
            ],
            Some(10 * 60),
        ),
        (
            "one run is p1, p2 and p3",
            record(Some("1"), Some("1"), Some("1")),
            vec![run("1", RunKind::Build, "ok", 0, Some(8))],
            Some(8 * 60),
        ),
        (
            "p1 is also p3, p2 a release",
            record(Some("1"), Some("2"), Some("1")),
            vec![
                run("1", RunKind::Build, "ok", 0, Some(5)),
                run("2", RunKind::Release, "ok", 10, Some(12)),
            ],
            Some(7 * 60),
        ),
        (
            "a running p1 that is also p3 counts to now once",
            record(Some("1"), Some("2"), Some("1")),
            vec![
                run("1", RunKind::Build, "run", 90, None),
                run("2", RunKind::Release, "ok", 92, Some(93)),
            ],
            Some(11 * 60),
        ),
        (
            "a release and a build with one id are two runs",
            record(Some("1"), Some("3"), Some("3")),
            vec![
                run("1", RunKind::Build, "ok", 0, Some(5)),
                run("3", RunKind::Release, "ok", 10, Some(12)),
                run("3", RunKind::Build, "ok", 20, Some(23)),
            ],
            Some(10 * 60),
        ),
        ("no known runs", record(Some("1"), None, None), vec![], None),
    ];
    for (name, rec, runs, want) in cases {
        let d = deployment(&rec, &know(&runs), &RepoDefaults::default(), now);
        assert_eq!(d.duration_secs, want, "{name}");
    }

    // One workflow run recorded as p2 (looked up as a release) and p3 (as a build): the
    // provider gives both the same page, so it is one run.
    let page = "https://github.com/fabrikam/hld/actions/runs/3";
    let mut release = run("3", RunKind::Release, "ok", 10, Some(12));
    let mut build = run("3", RunKind::Build, "ok", 10, Some(12));
    release.url = Some(page.into());
    build.url = Some(page.into());
    let runs = [run("1", RunKind::Build, "ok", 0, Some(5)), release, build];
    let rec = record(Some("1"), Some("3"), Some("3"));
    let d = deployment(&rec, &know(&runs), &RepoDefaults::default(), now);
    assert_eq!(d.duration_secs, Some(7 * 60));
}

#[test]
fn last_updated_prefers_p3_then_p2_then_p1_then_the_record() {
    let now = t(100);
    let runs = vec![
        run("1", RunKind::Build, "ok", 0, Some(5)),
        run("2", RunKind::Release, "ok", 10, Some(12)),
        run("3", RunKind::Build, "run", 20, None),
    ];
    let k = know(&runs);
    let cases = [
        ("p3", record(Some("1"), Some("2"), Some("3")), t(20)),
        ("p2", record(Some("1"), Some("2"), None), t(12)),
        ("p1", record(Some("1"), None, None), t(5)),
        ("record time", record(Some("99"), None, None), t(-100)),
    ];
    for (name, rec, want) in cases {
        assert_eq!(
            deployment(&rec, &k, &RepoDefaults::default(), now).last_updated,
            want,
            "{name}"
        );
    }
    let mut no_time = (*record(Some("99"), None, None)).clone();
    no_time.timestamp = None;
    let no_time = Arc::new(no_time);
    assert_eq!(
        deployment(&no_time, &k, &RepoDefaults::default(), now).last_updated,
        now,
        "else now"
    );
}

#[test]
fn deployments_are_sorted_newest_first() {
    let runs = vec![
        run("1", RunKind::Build, "ok", 0, Some(5)),
        run("2", RunKind::Build, "ok", 30, Some(35)),
        run("3", RunKind::Build, "ok", 10, Some(15)),
    ];
    let records = vec![
        record(Some("1"), None, None),
        record(Some("2"), None, None),
        record(Some("3"), None, None),
    ];
    let out = correlate(&records, &know(&runs), &RepoDefaults::default(), t(60));
    let order: Vec<&str> = out
        .iter()
        .map(|d| d.run_id(spektate_core::StepName::Image).unwrap())
        .collect();
    assert_eq!(order, vec!["2", "3", "1"]);
}

#[test]
fn expired_records_are_deployments_marked_expired_and_unknown_runs_are_shown() {
    let mut k = know(&[run("3", RunKind::Build, "ok", 0, Some(2))]);
    k.builds.insert("1".into(), Lookup::Missing);
    k.releases.insert("2".into(), Lookup::Missing);
    let all_gone = record(Some("1"), Some("2"), None);
    let d = deployment(&all_gone, &k, &RepoDefaults::default(), t(60));
    assert!(d.expired, "every run gone: expired");
    assert_eq!(d.image.as_ref().unwrap().state, StepState::Expired);
    assert_eq!(d.metadata.as_ref().unwrap().state, StepState::Expired);
    assert_eq!(d.run_id(spektate_core::StepName::Image), Some("1"));
    assert_eq!(d.status, Status::Incomplete);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["expired"], true);
    assert!(!Filter::default().matches(&d), "hidden by default");
    assert!(
        Filter {
            include_expired: true,
            ..Filter::default()
        }
        .matches(&d),
        "shown when asked"
    );

    let partly = record(Some("1"), None, Some("3"));
    let d = deployment(&partly, &k, &RepoDefaults::default(), t(60));
    assert!(!d.expired, "one run still known: not expired");
    assert_eq!(d.image.unwrap().state, StepState::Expired);
    assert_eq!(d.status, Status::Complete);

    // A run the CI forgot, shown from what the store kept: expired, with its run.
    let mut kept = know(&[run("1", RunKind::Build, "ok", 0, Some(5))]);
    kept.kept_builds.insert("1".into());
    let d = deployment(
        &record(Some("1"), None, None),
        &kept,
        &RepoDefaults::default(),
        t(60),
    );
    assert!(d.expired);
    assert_eq!(d.image.as_ref().unwrap().state, StepState::Succeeded);
    assert_eq!(serde_json::to_value(&d).unwrap()["expired"], true);

    let unknown = record(Some("42"), None, None);
    let d = deployment(&unknown, &k, &RepoDefaults::default(), t(60));
    assert!(!d.expired, "unknown is not gone");
    assert_eq!(d.image.unwrap().state, StepState::Unknown);
}

/// A thousand deployments whose CI and repository host are unreachable: the providers fail
/// as Azure DevOps does, each error naming the hundred objects of its batch.
mod unreachable_host {
    use std::collections::HashMap;
    use std::sync::Arc;

    use spektate_core::warnings::summarize;
    use spektate_core::{
        Author, ClusterSync, Error, Filter, MemoryStore, Pipelines, PullRequest, Record,
        RecordStore, RepoRef, Repositories, Result, Run, RunBatch, RunKind, RunRequest, Stage,
        Tracker, async_trait,
    };

    const HOST: &str = "azure-devops dev.azure.com/fabrikam";

    fn down(operation: &str, objects: String) -> Error {
        Error::provider(HOST, operation, objects, "could not connect")
    }

    fn first_hundred(ids: &[String]) -> String {
        ids[..ids.len().min(100)].join(",")
    }

    struct Down;

    #[async_trait]
    impl Pipelines for Down {
        fn name(&self) -> String {
            format!("{HOST}/hello")
        }

        async fn runs(&self, _kind: RunKind, requests: &[RunRequest]) -> Result<RunBatch> {
            // Each id of a failed batch gets the batch's error, as text.
            let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
            let why = down("get builds", format!("ids {}", first_hundred(&ids))).to_string();
            Ok(RunBatch {
                failed: ids.into_iter().map(|id| (id, why.clone())).collect(),
                ..RunBatch::default()
            })
        }

        async fn stages(&self, run: &Run) -> Result<Vec<Stage>> {
            Err(down("get timeline", run.id.clone()))
        }
    }

    #[async_trait]
    impl Repositories for Down {
        fn name(&self) -> String {
            HOST.into()
        }

        fn serves_repo(&self, _repo: &RepoRef) -> bool {
            true
        }

        async fn authors(
            &self,
            repo: &RepoRef,
            commits: &[String],
        ) -> Result<HashMap<String, Author>> {
            let objects = format!("{} commits {}", repo.key(), first_hundred(commits));
            Err(down("get commits", objects))
        }

        async fn pull_requests(
            &self,
            repo: &RepoRef,
            ids: &[String],
        ) -> Result<HashMap<String, PullRequest>> {
            let objects = format!("{} pull requests {}", repo.key(), first_hundred(ids));
            Err(down("get pull requests", objects))
        }

        async fn sync_tags(&self, repo: &RepoRef) -> Result<Vec<ClusterSync>> {
            Err(down("get refs", repo.key()))
        }
    }

    async fn thousand_deployments() -> Tracker {
        let store = Arc::new(MemoryStore::new());
        let repo = |name: &str| Some(format!("https://dev.azure.com/fabrikam/hello/_git/{name}"));
        for i in 0..1000u64 {
            let mut r = Record::new("fabrikam");
            r.p1 = Some(format!("{}", 1000 + i));
            r.image_tag = Some(format!("frontend-{i}"));
            r.service = Some("frontend".into());
            r.commit_id = Some(format!("{:040x}", i * 7919 + 1));
            r.pr = Some(format!("{}", i + 1));
            r.manifest_commit_id = Some(format!("{:040x}", i * 31 + 5));
            r.source_repo = repo("frontend");
            r.hld_repo = repo("hld");
            r.manifest_repo = repo("manifests");
            store.insert(&r).await.unwrap();
        }
        let down = Arc::new(Down);
        Tracker::builder(store)
            .partition("fabrikam")
            .pipelines(down.clone())
            .repositories(down)
            .build()
    }

    #[tokio::test]
    async fn one_line_per_provider_and_cause_with_the_number_of_objects() {
        let tracker = thousand_deployments().await;
        let ds = tracker.deployments(&Filter::default()).await.unwrap();
        assert_eq!(ds.len(), 1000, "every deployment is shown");

        let lines: Vec<String> = summarize(&ds).iter().map(|s| s.to_string()).collect();
        assert_eq!(
            lines,
            [
                format!("{HOST}: 1000 runs: could not connect"),
                format!("{HOST}: author of 1000 commits: could not connect"),
                format!("{HOST}: 1000 pull requests: could not connect"),
                format!("{HOST}: sync tags of 1 repository: could not connect"),
            ]
        );

        // Each deployment says briefly which of its lookups failed, naming only its own objects.
        let d = ds
            .iter()
            .find(|d| d.record.p1.as_deref() == Some("1007"))
            .unwrap();
        let commit = d.commit_id().unwrap();
        assert_eq!(
            d.warnings,
            [
                format!("image run 1007: {HOST}: could not connect"),
                format!(
                    "author of commit {commit} in dev.azure.com/fabrikam/hello/frontend: {HOST}: could not connect"
                ),
                format!(
                    "pull request 8 in dev.azure.com/fabrikam/hello/hld: {HOST}: could not connect"
                ),
                format!(
                    "sync tags of dev.azure.com/fabrikam/hello/manifests: {HOST}: could not connect"
                ),
            ]
        );

        // The text stays bounded: a short line a lookup, not a hundred object ids each.
        let longest = ds.iter().flat_map(|d| &d.warnings).map(String::len).max();
        assert!(longest < Some(160), "{longest:?} bytes");
        let text: usize = ds.iter().flat_map(|d| &d.warnings).map(String::len).sum();
        let json = serde_json::to_string(&ds).unwrap().len();
        assert!(text < 500_000, "{text} bytes of warnings");
        assert!(json < 3_000_000, "{json} bytes of JSON");
    }
}

#[test]
fn the_author_is_looked_up_in_the_repository_of_the_run_before_the_default() {
    use spektate_core::{Author, RepoRef};
    let frontend = RepoRef::parse("https://github.com/fabrikam/frontend").unwrap();
    let backend = RepoRef::parse("https://github.com/fabrikam/backend").unwrap();
    let defaults = RepoDefaults {
        source_repo: Some(frontend.clone()),
        ..RepoDefaults::default()
    };
    let author = |name: &str| {
        Lookup::Found(Arc::new(Author {
            name: name.into(),
            email: None,
            login: None,
            avatar_url: None,
            url: None,
            committed_at: None,
        }))
    };
    // A backend record names no source repository; its build ran on the backend repository.
    let mut built = run("1", RunKind::Build, "ok", 0, Some(5));
    built.repository = Some(backend.clone());
    let mut k = know(&[built.clone()]);
    for (repo, name) in [(&backend, "Backend Author"), (&frontend, "Wrong Author")] {
        k.authors
            .entry(repo.key().as_str().into())
            .or_default()
            .insert("c0ffee1".into(), author(name));
    }
    let mut r = (*record(Some("1"), None, None)).clone();
    r.commit_id = Some("c0ffee1".into());
    let d = deployment(&Arc::new(r.clone()), &k, &defaults, t(60));
    assert_eq!(
        d.author.as_ref().map(|a| a.name.as_str()),
        Some("Backend Author")
    );

    // A record that names its repository is looked up there.
    r.source_repo = Some("https://github.com/fabrikam/frontend".into());
    let d = deployment(&Arc::new(r.clone()), &k, &defaults, t(60));
    assert_eq!(
        d.author.as_ref().map(|a| a.name.as_str()),
        Some("Wrong Author")
    );

    // A run that names no repository leaves the default.
    r.source_repo = None;
    let k = {
        let mut k = k;
        built.repository = None;
        k.builds.insert("1".into(), Lookup::Found(Arc::new(built)));
        k
    };
    let d = deployment(&Arc::new(r), &k, &defaults, t(60));
    assert_eq!(
        d.author.as_ref().map(|a| a.name.as_str()),
        Some("Wrong Author")
    );
}
