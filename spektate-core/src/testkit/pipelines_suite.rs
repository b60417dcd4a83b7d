//! The conformance suite every [`Pipelines`] provider runs, each against a fake of its own
//! service's API that pages, fails and revalidates as the service does.

use std::collections::HashSet;
use std::sync::Arc;

use super::report::Report;
use super::served::{Served, describe};
use crate::correlate::Lookup;
use crate::correlate::fetch;
use crate::model::run::{RunKind, RunResult, RunStatus};
use crate::provider::{Pipelines, RunBatch, RunRequest};

/// The state of a run the suite asks a fake to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpec {
    /// Queued, in progress or completed.
    pub status: RunStatus,
    /// How a completed run ended.
    pub result: Option<RunResult>,
}

impl RunSpec {
    /// Waiting for an agent.
    pub const QUEUED: RunSpec = RunSpec::new(RunStatus::Queued, None);
    /// Running.
    pub const RUNNING: RunSpec = RunSpec::new(RunStatus::InProgress, None);
    /// Completed and succeeded.
    pub const SUCCEEDED: RunSpec = RunSpec::new(RunStatus::Completed, Some(RunResult::Succeeded));
    /// Completed and failed.
    pub const FAILED: RunSpec = RunSpec::new(RunStatus::Completed, Some(RunResult::Failed));
    /// Completed and canceled.
    pub const CANCELED: RunSpec = RunSpec::new(RunStatus::Completed, Some(RunResult::Canceled));

    const fn new(status: RunStatus, result: Option<RunResult>) -> Self {
        RunSpec { status, result }
    }
}

/// A [`Pipelines`] provider under test with a fake of its service's API: the suite puts runs
/// in the fake, breaks some, and counts what the provider asked for.
///
/// The fake answers as the service does: in its shapes, a page at a time (continuation
/// tokens, `Link` headers), with ETags where the service sends them.
pub trait PipelinesFake: Send + Sync {
    /// The provider, reading this fake.
    fn provider(&self) -> Arc<dyn Pipelines>;

    /// The kinds of run the provider looks up.
    fn kinds(&self) -> Vec<RunKind>;

    /// Puts runs of `kind` in one place the token reads (a project, a repository), newer
    /// than every run put there before; the requests naming them, in order.
    fn add_runs(&self, kind: RunKind, runs: &[RunSpec]) -> Vec<RunRequest>;

    /// Changes the state of a run put there before.
    fn set_run(&self, kind: RunKind, run: &RunRequest, spec: RunSpec);

    /// A run of that place the service no longer has (deleted, retention expired).
    fn gone_run(&self, kind: RunKind) -> RunRequest;

    /// A provider and a run of a place its token cannot read (another project, a private
    /// repository).
    fn unreadable_run(&self, kind: RunKind) -> (Arc<dyn Pipelines>, RunRequest);

    /// Makes every request that asks for `run` (a page of a list holding it included) fail
    /// with HTTP 500, retries included, until [`PipelinesFake::mend_run`].
    fn break_run(&self, kind: RunKind, run: &RunRequest);

    /// Ends [`PipelinesFake::break_run`] for `run`.
    fn mend_run(&self, kind: RunKind, run: &RunRequest);

    /// The most runs of `kind` one answer of the fake carries.
    fn page_size(&self, kind: RunKind) -> usize;

    /// The most runs of `kind` one request of the provider asks for: a failed request fails
    /// at most these.
    fn batch_size(&self, kind: RunKind) -> usize;

    /// Whether the service revalidates with ETags, so an unchanged answer is a 304.
    fn revalidates(&self) -> bool;

    /// Every request the fake answered so far, in order.
    fn served(&self) -> Vec<Served>;
}

/// Runs every case for every kind the provider serves; panics naming the case and kind on
/// the first failure. Says which cases ran and which do not apply to the service.
pub async fn pipelines_conformance(fake: &dyn PipelinesFake) -> Report {
    let mut report = Report::default();
    for kind in fake.kinds() {
        runs_come_back_with_their_state(fake, kind).await;
        a_batch_costs_a_request_per_page(fake, kind).await;
        gone_runs_are_not_found_unreadable_ones_fail(fake, kind).await;
        a_failed_request_fails_only_its_runs(fake, kind).await;
        if fake.revalidates() {
            unchanged_runs_are_revalidated(fake, kind).await;
        }
    }
    report.pass("runs come back with their state");
    report.pass("a batch costs a request per page");
    report.pass("gone runs are not found, unreadable ones fail");
    report.pass("a failed request fails only its runs");
    if fake.revalidates() {
        report.pass("unchanged runs are revalidated");
    } else {
        report.skip(
            "unchanged runs are revalidated",
            "the service sends no ETags",
        );
    }
    report
}

/// Looks `requests` up once; the batch and the requests it cost.
async fn lookup(
    fake: &dyn PipelinesFake,
    provider: &Arc<dyn Pipelines>,
    kind: RunKind,
    requests: &[RunRequest],
    case: &str,
) -> (RunBatch, Vec<Served>) {
    let before = fake.served().len();
    let batch = provider
        .runs(kind, requests)
        .await
        .unwrap_or_else(|e| panic!("{case} ({kind:?}): runs failed as a whole: {e}"));
    let served = fake.served().split_off(before);
    (batch, served)
}

/// Every id asked for is in exactly one of found, not found and failed, and nothing else is.
fn each_answered_once(batch: &RunBatch, requests: &[RunRequest], case: &str) {
    let asked: HashSet<&str> = requests.iter().map(|r| r.id.as_str()).collect();
    let mut answered: Vec<&str> = batch.found.keys().map(String::as_str).collect();
    answered.extend(batch.not_found.iter().map(String::as_str));
    answered.extend(batch.failed.keys().map(String::as_str));
    let unique: HashSet<&str> = answered.iter().copied().collect();
    assert_eq!(
        unique.len(),
        answered.len(),
        "{case}: an id is in two sets of the batch"
    );
    assert_eq!(
        unique, asked,
        "{case}: every id asked for, and only those, is answered"
    );
}

async fn runs_come_back_with_their_state(fake: &dyn PipelinesFake, kind: RunKind) {
    let case = "runs come back with their state";
    let specs = [
        RunSpec::QUEUED,
        RunSpec::RUNNING,
        RunSpec::SUCCEEDED,
        RunSpec::FAILED,
        RunSpec::CANCELED,
    ];
    let requests = fake.add_runs(kind, &specs);
    let provider = fake.provider();
    let (batch, _) = lookup(fake, &provider, kind, &requests, case).await;
    each_answered_once(&batch, &requests, case);
    for (req, spec) in requests.iter().zip(specs) {
        let run = batch
            .found
            .get(&req.id)
            .unwrap_or_else(|| panic!("{case} ({kind:?}): {} not found: {batch:?}", req.id));
        assert_eq!(
            (run.id.as_str(), run.kind),
            (req.id.as_str(), kind),
            "{case}: the run is filed under the id asked for"
        );
        assert_eq!(
            (run.status, run.result),
            (spec.status, spec.result),
            "{case} ({kind:?}): run {}",
            req.id
        );
        assert!(
            run.url.is_some(),
            "{case} ({kind:?}): run {} has no page to link",
            req.id
        );
    }
}

async fn a_batch_costs_a_request_per_page(fake: &dyn PipelinesFake, kind: RunKind) {
    let case = "a batch costs a request per page";
    let page = fake.page_size(kind);
    let n = 2 * page + 3;
    let requests = fake.add_runs(kind, &vec![RunSpec::SUCCEEDED; n]);
    let provider = fake.provider();
    let (batch, served) = lookup(fake, &provider, kind, &requests, case).await;
    each_answered_once(&batch, &requests, case);
    assert_eq!(
        batch.found.len(),
        n,
        "{case} ({kind:?}): {n} runs, more than one page of {page}, are all found \
         (not found {:?}, failed {:?})",
        batch.not_found,
        batch.failed.values().next()
    );
    // One request per page, plus at most one short page per request batch.
    let budget = n.div_ceil(page) + n.div_ceil(fake.batch_size(kind));
    assert!(
        served.len() <= budget,
        "{case} ({kind:?}): {n} runs cost {} requests, more than {budget}:\n{}",
        served.len(),
        describe(&served, 0)
    );
}

async fn gone_runs_are_not_found_unreadable_ones_fail(fake: &dyn PipelinesFake, kind: RunKind) {
    let case = "gone runs are not found, unreadable ones fail";
    let mut requests = fake.add_runs(kind, &[RunSpec::SUCCEEDED, RunSpec::FAILED]);
    let gone = fake.gone_run(kind);
    requests.push(gone.clone());
    let provider = fake.provider();
    let (batch, _) = lookup(fake, &provider, kind, &requests, case).await;
    each_answered_once(&batch, &requests, case);
    assert_eq!(
        batch.found.len(),
        2,
        "{case} ({kind:?}): the runs that exist are found: {batch:?}"
    );
    assert!(
        batch.not_found.contains(&gone.id),
        "{case} ({kind:?}): a run the service no longer has is not found: {batch:?}"
    );
    // What the tracker makes of it: expired, since the same batch proved the place readable.
    let (_, looked, _) = fetch::runs(&[provider], kind, requests).await;
    assert!(
        matches!(looked.get(&gone.id), Some(Lookup::Missing)),
        "{case} ({kind:?}): the tracker takes it as expired: {:?}",
        looked.get(&gone.id)
    );

    let (blind, hidden) = fake.unreadable_run(kind);
    match blind.runs(kind, std::slice::from_ref(&hidden)).await {
        Ok(batch) => {
            assert!(
                !batch.not_found.contains(&hidden.id),
                "{case} ({kind:?}): a run the token cannot read is not 'not found': {batch:?}"
            );
            let why = batch.failed.get(&hidden.id).unwrap_or_else(|| {
                panic!("{case} ({kind:?}): a run the token cannot read fails: {batch:?}")
            });
            assert!(!why.trim().is_empty(), "{case}: the failure says why");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let (_, looked, _) = fetch::runs(&[blind], kind, vec![hidden.clone()]).await;
    assert!(
        matches!(looked.get(&hidden.id), Some(Lookup::Failed(_))),
        "{case} ({kind:?}): the tracker shows a failure, not an expired run: {looked:?}"
    );
}

async fn a_failed_request_fails_only_its_runs(fake: &dyn PipelinesFake, kind: RunKind) {
    let case = "a failed request fails only its runs";
    let per_request = fake.batch_size(kind);
    let n = per_request + 5;
    let requests = fake.add_runs(kind, &vec![RunSpec::SUCCEEDED; n]);
    let broken = &requests[n - 1];
    fake.break_run(kind, broken);
    let provider = fake.provider();
    let (batch, _) = lookup(fake, &provider, kind, &requests, case).await;
    fake.mend_run(kind, broken);
    each_answered_once(&batch, &requests, case);
    let why = batch.failed.get(&broken.id).unwrap_or_else(|| {
        panic!(
            "{case} ({kind:?}): the run whose request failed is failed: found {}, not found {:?}",
            batch.found.contains_key(&broken.id),
            batch.not_found
        )
    });
    assert!(
        why.contains("500"),
        "{case} ({kind:?}): the reason names the failure: {why}"
    );
    assert!(
        batch.not_found.is_empty(),
        "{case} ({kind:?}): a failure never makes a run look gone: {:?}",
        batch.not_found
    );
    assert!(
        batch.found.len() >= n - per_request,
        "{case} ({kind:?}): only the runs of the failed request fail ({} of {n} found, \
         at most {per_request} a request)",
        batch.found.len()
    );
}

async fn unchanged_runs_are_revalidated(fake: &dyn PipelinesFake, kind: RunKind) {
    let case = "unchanged runs are revalidated";
    let specs = [
        RunSpec::RUNNING,
        RunSpec::QUEUED,
        RunSpec::RUNNING,
        RunSpec::SUCCEEDED,
        RunSpec::RUNNING,
    ];
    let requests = fake.add_runs(kind, &specs);
    let provider = fake.provider();
    lookup(fake, &provider, kind, &requests, case).await;
    let (batch, served) = lookup(fake, &provider, kind, &requests, case).await;
    assert_eq!(
        batch.found.len(),
        specs.len(),
        "{case} ({kind:?}): {batch:?}"
    );
    assert!(
        !served.is_empty() && served.iter().all(Served::revalidated),
        "{case} ({kind:?}): asking again for unchanged runs costs only 304s:\n{}",
        describe(&served, 0)
    );
    fake.set_run(kind, &requests[0], RunSpec::SUCCEEDED);
    let (batch, _) = lookup(fake, &provider, kind, &requests, case).await;
    let run = &batch.found[&requests[0].id];
    assert_eq!(
        (run.status, run.result),
        (RunStatus::Completed, Some(RunResult::Succeeded)),
        "{case} ({kind:?}): a run that changed is read again"
    );
}
