//! `IdKind::Auto`: tables written by bedrock or the original pipelines hold GitHub Actions
//! job ids, newer ones run ids; a bare number that is not a run of its repository is read
//! as a job, with one more request, once.

mod support;

use std::sync::Arc;

use chrono::{Duration, Utc};
use spektate_core::{Pipelines, RepoRef, RunKind, RunRequest, RunResult, RunStatus};
use spektate_github::IdKind;
use support::{FakeGitHub, RunSpec, fixture};

fn req(id: &str, full: &str) -> RunRequest {
    RunRequest {
        id: id.to_string(),
        repo: Some(Arc::new(
            RepoRef::parse(&format!("https://github.com/{full}")).unwrap(),
        )),
    }
}

#[tokio::test]
async fn a_bare_id_that_is_no_run_is_read_as_a_job_with_one_more_request_and_remembered() {
    let gh = FakeGitHub::start().await;
    let t = Utc::now() - Duration::hours(2);
    {
        let mut w = gh.world();
        w.repos.insert("andrebriggs/spartan-app".into());
        w.runs.insert(
            ("andrebriggs/spartan-app".into(), 9_500_000_001),
            RunSpec::new("andrebriggs/spartan-app", 9_500_000_001, 12, t).json(),
        );
        w.jobs.insert(
            1115488431,
            (
                "andrebriggs/spartan-app".into(),
                fixture("gh-actions-1115488431.json"),
            ),
        );
    }
    let actions = gh.client().actions().bare_ids(IdKind::Auto);
    let wanted = [
        req("9500000001", "andrebriggs/spartan-app"),
        req("1115488431", "andrebriggs/spartan-app"),
        req("1115488499", "andrebriggs/spartan-app"),
    ];
    let batch = actions.runs(RunKind::Build, &wanted).await.unwrap();
    assert!(batch.failed.is_empty(), "{:?}", batch.failed);
    let run = &batch.found["9500000001"];
    assert_eq!(run.number.as_deref(), Some("#12"), "a run stays a run");
    let job = &batch.found["1115488431"];
    assert_eq!(
        (job.status, job.result),
        (RunStatus::Completed, Some(RunResult::Succeeded))
    );
    assert_eq!(
        job.url.as_deref(),
        Some("https://github.com/andrebriggs/spartan-app/runs/1115488431")
    );
    assert_eq!(
        job.source_commit.as_deref(),
        Some("32b0b95f4ca771dee6808a17415d48790f62c6a9")
    );
    assert!(
        batch.not_found.contains("1115488499"),
        "neither a run nor a job: gone"
    );
    let paths: Vec<String> = gh.served().into_iter().map(|s| s.path).collect();
    let runs = |id: &str| {
        paths
            .iter()
            .filter(|p| p.ends_with(&format!("/actions/runs/{id}")))
            .count()
    };
    let jobs = |id: &str| {
        paths
            .iter()
            .filter(|p| p.ends_with(&format!("/actions/jobs/{id}")))
            .count()
    };
    assert_eq!(
        (runs("1115488431"), jobs("1115488431")),
        (1, 1),
        "{paths:?}"
    );
    assert_eq!(
        (runs("1115488499"), jobs("1115488499")),
        (1, 1),
        "{paths:?}"
    );
    assert_eq!(jobs("9500000001"), 0, "a run found is not asked as a job");
    assert_eq!(
        paths.len(),
        6,
        "one request per id, the repository once (is it readable?), one more per id that is \
         no run: {paths:?}"
    );

    // The job is remembered: the next lookup asks for the job only.
    gh.clear_log();
    let batch = actions
        .runs(
            RunKind::Build,
            &[req("1115488431", "andrebriggs/spartan-app")],
        )
        .await
        .unwrap();
    assert!(batch.found.contains_key("1115488431"));
    let paths: Vec<String> = gh.served().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        ["/repos/andrebriggs/spartan-app/actions/jobs/1115488431"]
    );
    // A job has no stages, and asking for them costs nothing.
    gh.clear_log();
    let stages = actions.stages(&batch.found["1115488431"]).await.unwrap();
    assert!(stages.is_empty() && gh.served().is_empty());

    // `run:` and `job:` still say what they are; a failed run lookup is not retried as a job.
    {
        let mut w = gh.world();
        w.runs.insert(
            ("andrebriggs/spartan-app".into(), 9_500_000_002),
            RunSpec::new("andrebriggs/spartan-app", 9_500_000_002, 13, t).json(),
        );
        w.broken_runs.insert(9_500_000_002);
    }
    gh.clear_log();
    let batch = actions
        .runs(
            RunKind::Build,
            &[
                req("run:1115488431", "andrebriggs/spartan-app"),
                req("9500000002", "andrebriggs/spartan-app"),
            ],
        )
        .await
        .unwrap();
    assert!(batch.not_found.contains("run:1115488431"), "{batch:?}");
    assert!(batch.failed.contains_key("9500000002"), "{batch:?}");
    let paths: Vec<String> = gh.served().into_iter().map(|s| s.path).collect();
    assert!(
        !paths.iter().any(|p| p.contains("/actions/jobs/")),
        "{paths:?}"
    );
}
