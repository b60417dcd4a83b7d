//! [`GitHubActions`]: workflow runs and jobs as Spektate runs.
//!
//! A few runs of a repository are fetched one by one, revalidated with their ETags; more are
//! found in the repository's run list, a hundred a page, newest first, its pages revalidated
//! too and shared by the lookups under way ([`crate::run_lists`]). Jobs come a hundred a
//! GraphQL query ([`crate::jobs`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use spektate_core::http::is_rate_limit_refusal;
use spektate_core::{
    Error, Pipelines, RepoHost, RepoRef, Result, Run, RunBatch, RunKind, RunRequest, RunResult,
    RunStatus, Stage,
};

use crate::client::{Fetched, GitHub};
use crate::payloads::{Job, Jobs, PAGE, WorkflowRun, WorkflowRuns};
use crate::run_id::{IdKind, RunId};
use crate::run_lists::{Next, RunList, RunLists};

/// GitHub Actions as a [`Pipelines`] provider.
///
/// Runs are addressed per repository: each request's repository (the record's
/// `sourceRepo` for p1 and p2, `hldRepo` for p3), else [`GitHubActions::default_repo`].
/// Requests for repositories of other hosts are left to the next provider.
#[derive(Debug, Clone)]
pub struct GitHubActions {
    gh: GitHub,
    default_repo: Option<RepoRef>,
    bare_ids: IdKind,
    list_threshold: usize,
    max_list_pages: u32,
    lists: Arc<RunLists>,
    resolved_jobs: Arc<ResolvedJobs>,
}

/// The most bare ids [`IdKind::Auto`] remembers as jobs; past it the oldest half is
/// forgotten (and such an id costs its run request again).
const MAX_RESOLVED_JOBS: usize = 100_000;

/// Bare ids found to be jobs under [`IdKind::Auto`], by repository key and id, so each is
/// asked as a run only once.
#[derive(Debug, Default)]
struct ResolvedJobs(std::sync::Mutex<JobSet>);

/// A set that remembers insertion order, to forget its oldest entries first.
#[derive(Debug, Default)]
struct JobSet {
    set: HashSet<(String, u64)>,
    order: std::collections::VecDeque<(String, u64)>,
}

impl ResolvedJobs {
    fn contains(&self, repo: &RepoRef, id: u64) -> bool {
        let jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        jobs.set.contains(&(repo.key(), id))
    }

    fn insert(&self, repo: &RepoRef, id: u64) {
        let mut jobs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = (repo.key(), id);
        if jobs.set.insert(key.clone()) {
            jobs.order.push_back(key);
        }
        if jobs.order.len() > MAX_RESOLVED_JOBS {
            for _ in 0..MAX_RESOLVED_JOBS / 2 {
                if let Some(old) = jobs.order.pop_front() {
                    jobs.set.remove(&old);
                }
            }
        }
    }
}

enum Outcome {
    Found(Box<Run>),
    Missing,
    Failed(String),
}

/// A run or job fetched on its own: found (or unreadable as a run), not found, or failed.
type Single = Result<Option<std::result::Result<Run, String>>>;

/// What a repository's run list gave.
enum Listed {
    /// The repository cannot be read.
    Unreadable,
    /// The wanted runs the list holds, whether any page was read (proof the repository
    /// can be read, so a wanted run it lacks is gone), and the rate limit that stopped the
    /// reading, if one did.
    Runs {
        runs: HashMap<u64, WorkflowRun>,
        read: bool,
        refused: Option<String>,
    },
}

impl GitHubActions {
    pub(crate) fn new(gh: GitHub) -> Self {
        GitHubActions {
            gh,
            default_repo: None,
            bare_ids: IdKind::Run,
            list_threshold: 3,
            max_list_pages: 10,
            lists: Arc::default(),
            resolved_jobs: Arc::default(),
        }
    }

    /// The repository of runs whose record names none (a manual HLD edit's p3, say).
    pub fn default_repo(mut self, repo: RepoRef) -> Self {
        self.default_repo = Some(repo);
        self
    }

    /// What a bare number names: a workflow run (the default), a job, as the reference
    /// tool recorded, or either ([`IdKind::Auto`]: a number that is not a run of its
    /// repository is asked for as a job). `run:N` and `job:N` always say it themselves.
    pub fn bare_ids(mut self, kind: IdKind) -> Self {
        self.bare_ids = kind;
        self
    }

    /// Above how many runs of one repository the repository's run list is read rather than
    /// each run fetched (default 3). A list read before is read again for fewer: its first
    /// page is revalidated with its ETag, one request for every run on it.
    pub fn list_threshold(mut self, n: usize) -> Self {
        self.list_threshold = n;
        self
    }

    /// How many pages of a hundred runs a listing reads at most before fetching the runs
    /// it has not met one by one (default 10).
    pub fn max_list_pages(mut self, n: u32) -> Self {
        self.max_list_pages = n.max(1);
        self
    }

    /// The client.
    pub fn client(&self) -> &GitHub {
        &self.gh
    }

    fn repo_for(&self, repo: Option<&RepoRef>) -> std::result::Result<Option<RepoRef>, String> {
        match repo {
            Some(r) if self.gh.serves_repo(r) => Ok(Some(r.clone())),
            Some(_) => Ok(None),
            None => match &self.default_repo {
                Some(r) if self.gh.serves_repo(r) => Ok(Some(r.clone())),
                Some(r) => Err(format!(
                    "the default repository {r} is not on {}",
                    self.gh.repo_hosts().join(", ")
                )),
                None => Err(
                    "the record names no repository and no default repository is configured"
                        .to_string(),
                ),
            },
        }
    }

    /// The runs `items` (request, run id) of `repo`: from its run list, then one by one,
    /// unless a rate limit refused the list (each single fetch would be refused too).
    async fn repo_runs(
        &self,
        kind: RunKind,
        repo: RepoRef,
        items: Vec<(String, u64)>,
    ) -> Vec<(String, Outcome)> {
        let mut out = Vec::new();
        let wanted: HashSet<u64> = items.iter().map(|(_, id)| *id).collect();
        let mut rest = items;
        let mut access_proven = false;
        let mut refused = None;
        match self.listed(&repo, &wanted).await {
            Ok(Listed::Unreadable) => {
                let why = repo_unreadable(&repo);
                return rest
                    .into_iter()
                    .map(|(req, _)| (req, Outcome::Failed(why.clone())))
                    .collect();
            }
            Ok(Listed::Runs {
                mut runs,
                read,
                refused: why,
            }) => {
                access_proven = read;
                refused = why;
                rest.retain(|(req, id)| match runs.remove(id) {
                    Some(w) => {
                        out.push((req.clone(), convert(workflow_run(req, kind, &w))));
                        false
                    }
                    None => true,
                });
            }
            Err(e) if is_rate_limit_refusal(&e) => refused = Some(e.to_string()),
            Err(e) => tracing::warn!("{e}; fetching the runs of {} one by one", repo.key()),
        }
        if let Some(why) = refused {
            out.extend(
                rest.into_iter()
                    .map(|(req, _)| (req, Outcome::Failed(why.clone()))),
            );
            return out;
        }
        let fetches = rest.into_iter().map(|(req, id)| {
            let repo = &repo;
            async move {
                let got = self
                    .fetch_run(repo, id)
                    .await
                    .map(|w| w.map(|w| workflow_run(&req, kind, &w)));
                (req, got)
            }
        });
        let got = futures::future::join_all(fetches).await;
        out.extend(self.settle(&repo, got, access_proven).await);
        out
    }

    /// Outcomes of single lookups: a run or job not found is gone when the repository is
    /// proven readable (GitHub answers 404 for both), else a failure.
    async fn settle(
        &self,
        repo: &RepoRef,
        got: Vec<(String, Single)>,
        access_proven: bool,
    ) -> Vec<(String, Outcome)> {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for (req, got) in got {
            match got {
                Ok(Some(run)) => out.push((req, convert(run))),
                Ok(None) => missing.push(req),
                Err(e) => out.push((req, Outcome::Failed(e.to_string()))),
            }
        }
        if !missing.is_empty() {
            let verdict = if access_proven {
                Ok(())
            } else {
                self.check_repo(repo).await
            };
            for req in missing {
                let outcome = verdict
                    .clone()
                    .map_or_else(Outcome::Failed, |()| Outcome::Missing);
                out.push((req, outcome));
            }
        }
        out
    }

    /// The wanted runs `repo`'s run list holds. The list (shared with the calls under way) is
    /// read on, newest first, while more runs are missing than `list_threshold`, until it
    /// ends, reaches runs older than the oldest missing one, or `max_list_pages`. Its first
    /// page is read for fewer runs too when it was read before: a 304 then answers for every
    /// run on it.
    async fn listed(&self, repo: &RepoRef, wanted: &HashSet<u64>) -> Result<Listed> {
        let first = self.gh.repo_url(
            repo,
            &format!("/actions/runs?per_page={PAGE}&exclude_pull_requests=true"),
        )?;
        let shared = self.lists.of(&repo.key());
        let mut list = shared.lock().await;
        let mut refused = None;
        loop {
            let missing: Vec<u64> = wanted
                .iter()
                .filter(|id| !list.runs.contains_key(id))
                .copied()
                .collect();
            let Some(&oldest_missing) = missing.iter().min() else {
                break;
            };
            let many = missing.len() > self.list_threshold;
            let revalidates =
                matches!(list.next, Next::First) && !many && self.gh.revalidates(&first).await;
            let url = match &list.next {
                Next::First if many || revalidates => first.clone(),
                Next::Page(url)
                    if many
                        && list.pages < self.max_list_pages
                        && list.oldest.is_none_or(|o| o >= oldest_missing) =>
                {
                    url.clone()
                }
                _ => break,
            };
            let object = format!("{} page {}", repo.key(), list.pages + 1);
            let fetched = match self
                .gh
                .get_cached(&url, "list workflow runs", &object)
                .await
            {
                Ok(f) => f,
                // What was read stands; the runs still missing are fetched one by one,
                // unless a rate limit refused the page.
                Err(e) if list.pages > 0 => {
                    if is_rate_limit_refusal(&e) {
                        refused = Some(e.to_string());
                    } else {
                        tracing::warn!("{e}; fetching the runs it holds one by one");
                    }
                    break;
                }
                Err(e) => return Err(e),
            };
            match fetched {
                Fetched::NotFound(_) if list.pages == 0 => return Ok(Listed::Unreadable),
                Fetched::NotFound(_) => list.next = Next::End,
                Fetched::Body { body, next, .. } => {
                    let page: WorkflowRuns = self.gh.parse(&body, "list workflow runs", &object)?;
                    read_page(&mut list, page, next);
                }
            }
        }
        let runs = wanted
            .iter()
            .filter_map(|id| list.runs.get(id).map(|w| (*id, w.clone())))
            .collect();
        Ok(Listed::Runs {
            runs,
            read: list.pages > 0,
            refused,
        })
    }

    /// The jobs `items` (request, repository, job id): a hundred a GraphQL query, the rest
    /// (and a single job) one by one over REST.
    async fn job_runs(
        &self,
        kind: RunKind,
        items: Vec<(String, RepoRef, u64)>,
    ) -> Vec<(String, Outcome)> {
        if items.is_empty() {
            return Vec::new();
        }
        let pairs: Vec<(RepoRef, u64)> = items.iter().map(|(_, r, id)| (r.clone(), *id)).collect();
        let (found, rest) = match crate::jobs::batch(&self.gh, &pairs).await {
            Ok(got) => got,
            Err(e) => {
                let why = e.to_string();
                return items
                    .into_iter()
                    .map(|(req, _, _)| (req, Outcome::Failed(why.clone())))
                    .collect();
            }
        };
        let rest: HashSet<u64> = rest.into_iter().collect();
        let mut out = Vec::new();
        let mut by_repo: BTreeMap<String, (RepoRef, Vec<(String, u64)>)> = BTreeMap::new();
        for (req, repo, id) in items {
            match found.get(&id) {
                Some(job) => out.push((req.clone(), convert(job_run(&req, kind, job)))),
                None if rest.contains(&id) => by_repo
                    .entry(repo.key())
                    .or_insert_with(|| (repo, Vec::new()))
                    .1
                    .push((req, id)),
                None => {}
            }
        }
        for (repo, jobs) in by_repo.into_values() {
            let fetches = jobs.into_iter().map(|(req, id)| {
                let repo = &repo;
                async move {
                    let got = self
                        .fetch_job(repo, id)
                        .await
                        .map(|j| j.map(|j| job_run(&req, kind, &j)));
                    (req, got)
                }
            });
            let got = futures::future::join_all(fetches).await;
            out.extend(self.settle(&repo, got, false).await);
        }
        out
    }

    /// Under [`IdKind::Auto`]: each bare id the run lookups found no run for is asked for as
    /// a job of the same repository (`GET /repos/{owner}/{repo}/actions/jobs/{id}`), one
    /// request per id, and a job found is remembered so the next lookup asks for the job
    /// only. An id that is neither stays not found; a failed run lookup is not retried.
    async fn runs_or_jobs(
        &self,
        kind: RunKind,
        outcomes: Vec<(String, Outcome)>,
        maybe_jobs: HashMap<String, (RepoRef, u64)>,
    ) -> Vec<(String, Outcome)> {
        let mut out = Vec::with_capacity(outcomes.len());
        let mut retry = Vec::new();
        for (req, outcome) in outcomes {
            match (outcome, maybe_jobs.get(&req)) {
                (Outcome::Missing, Some((repo, id))) => retry.push((req, repo.clone(), *id)),
                (outcome, _) => out.push((req, outcome)),
            }
        }
        let limit = self.gh.inner.http.policy().concurrency.max(1);
        let asked = futures::stream::iter(retry.into_iter().map(|(req, repo, id)| async move {
            let outcome = match self.fetch_job(&repo, id).await {
                Ok(Some(job)) => {
                    self.resolved_jobs.insert(&repo, id);
                    convert(job_run(&req, kind, &job))
                }
                // The repository was proven readable by the run lookup.
                Ok(None) => Outcome::Missing,
                Err(e) => Outcome::Failed(e.to_string()),
            };
            (req, outcome)
        }))
        .buffer_unordered(limit)
        .collect::<Vec<_>>()
        .await;
        out.extend(asked);
        out
    }

    async fn fetch_run(&self, repo: &RepoRef, id: u64) -> Result<Option<WorkflowRun>> {
        let url = self.gh.repo_url(repo, &format!("/actions/runs/{id}"))?;
        let object = format!("{} run {id}", repo.key());
        match self
            .gh
            .get_cached(&url, "get workflow run", &object)
            .await?
        {
            Fetched::NotFound(_) => Ok(None),
            Fetched::Body { body, .. } => {
                self.gh.parse(&body, "get workflow run", &object).map(Some)
            }
        }
    }

    async fn fetch_job(&self, repo: &RepoRef, id: u64) -> Result<Option<Job>> {
        let url = self.gh.repo_url(repo, &format!("/actions/jobs/{id}"))?;
        let object = format!("{} job {id}", repo.key());
        match self
            .gh
            .get_cached(&url, "get workflow job", &object)
            .await?
        {
            Fetched::NotFound(_) => Ok(None),
            Fetched::Body { body, .. } => {
                self.gh.parse(&body, "get workflow job", &object).map(Some)
            }
        }
    }

    async fn check_repo(&self, repo: &RepoRef) -> std::result::Result<(), String> {
        let url = self.gh.repo_url(repo, "").map_err(|e| e.to_string())?;
        match self
            .gh
            .get_cached(&url, "get repository", &repo.key())
            .await
        {
            Ok(Fetched::Body { .. }) => Ok(()),
            Ok(Fetched::NotFound(_)) => Err(repo_unreadable(repo)),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Adds a page of a run list to what was read of it.
fn read_page(list: &mut RunList, page: WorkflowRuns, next: Option<String>) {
    list.pages += 1;
    // A page holds at most what was asked for (PAGE), whatever the server sends.
    for run in page.workflow_runs {
        list.oldest = Some(list.oldest.map_or(run.id, |o| o.min(run.id)));
        list.runs.insert(run.id, run);
    }
    list.next = next.map_or(Next::End, Next::Page);
}

fn repo_unreadable(repo: &RepoRef) -> String {
    format!(
        "repository {} was not found, or the token cannot read it",
        repo.key()
    )
}

fn convert(run: std::result::Result<Run, String>) -> Outcome {
    match run {
        Ok(run) => Outcome::Found(Box::new(run)),
        Err(why) => Outcome::Failed(why),
    }
}

/// Status and result from GitHub's `status` and `conclusion` words.
pub(crate) fn state(
    status: Option<&str>,
    conclusion: Option<&str>,
) -> std::result::Result<(RunStatus, Option<RunResult>), String> {
    let result = match conclusion {
        Some(c) => {
            Some(RunResult::from_word(c).ok_or_else(|| format!("unknown conclusion '{c}'"))?)
        }
        None => None,
    };
    let status = match status {
        Some(s) => RunStatus::from_word(s).ok_or_else(|| format!("unknown status '{s}'"))?,
        None if result.is_some() => RunStatus::Completed,
        None => RunStatus::Queued,
    };
    Ok((
        status,
        if status == RunStatus::Completed {
            result
        } else {
            None
        },
    ))
}

/// A workflow run as the run recorded under `id`.
pub(crate) fn workflow_run(
    id: &str,
    kind: RunKind,
    w: &WorkflowRun,
) -> std::result::Result<Run, String> {
    let (status, result) = state(w.status.as_deref(), w.conclusion.as_deref())
        .map_err(|e| format!("workflow run {}: {e}", w.id))?;
    let mut run = Run::new(id, kind, status);
    run.result = result;
    run.number = w.run_number.map(|n| format!("#{n}"));
    run.pipeline = w.name.clone();
    run.queued_at = w.created_at;
    run.started_at = w.run_started_at.filter(|_| status != RunStatus::Queued);
    // A run has no completion time of its own: it stops changing when it completes.
    run.finished_at = w.updated_at.filter(|_| status == RunStatus::Completed);
    run.last_changed_at = w.updated_at;
    run.url = w.html_url.clone();
    run.source_branch = w.head_branch.clone();
    run.source_commit = w.head_sha.clone();
    run.repository = w
        .repository
        .as_ref()
        .and_then(|r| r.html_url.as_deref())
        .and_then(|u| RepoRef::parse(u).ok());
    run.requested_by = w
        .triggering_actor
        .as_ref()
        .or(w.actor.as_ref())
        .map(|u| u.login.clone());
    Ok(run)
}

/// A job as the run recorded under `id`.
pub(crate) fn job_run(id: &str, kind: RunKind, j: &Job) -> std::result::Result<Run, String> {
    let (status, result) = state(j.status.as_deref(), j.conclusion.as_deref())
        .map_err(|e| format!("workflow job {}: {e}", j.id))?;
    let mut run = Run::new(id, kind, status);
    run.result = result;
    run.number = Some(j.id.to_string());
    run.pipeline = match (&j.workflow_name, &j.name) {
        (Some(w), Some(n)) => Some(format!("{w} / {n}")),
        (w, n) => w.clone().or_else(|| n.clone()),
    };
    run.queued_at = j.created_at.or(j.started_at);
    run.started_at = j.started_at.filter(|_| status != RunStatus::Queued);
    run.finished_at = j.completed_at.filter(|_| status == RunStatus::Completed);
    run.last_changed_at = run.finished_at.or(run.started_at).or(run.queued_at);
    run.url = j.html_url.clone();
    run.source_branch = j.head_branch.clone();
    run.source_commit = j.head_sha.clone();
    // The job page (`https://HOST/{owner}/{repo}/runs/{id}`, or `.../actions/runs/{run}/job/{id}`)
    // names the repository; it is a GitHub one whatever the host is called.
    run.repository = j.html_url.as_deref().and_then(github_repo_of_page);
    Ok(run)
}

/// The GitHub repository a page of it (`https://HOST/{owner}/{repo}/...`) belongs to, on
/// github.com or an Enterprise host of any name.
pub(crate) fn github_repo_of_page(url: &str) -> Option<RepoRef> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let (authority, path) = rest.split_once('/')?;
    let host = authority.rsplit('@').next()?.to_ascii_lowercase();
    let mut segs = path.split(['/', '?', '#']).filter(|s| !s.is_empty());
    let (owner, name) = (segs.next()?, segs.next()?);
    RepoRef::parse(&format!("{scheme}://{host}/{owner}/{name}"))
        .ok()
        .map(|mut r| {
            r.provider = RepoHost::GitHub;
            r
        })
}

#[async_trait]
impl Pipelines for GitHubActions {
    fn name(&self) -> String {
        format!("github-actions {}", self.gh.repo_hosts().join(","))
    }

    fn use_answers_cache(&self, cache: &std::sync::Arc<dyn spektate_core::cache::AnswersCache>) {
        self.gh.use_answers_cache(cache);
    }

    fn serves_run(&self, _kind: RunKind, id: &str) -> bool {
        RunId::parse(id, self.bare_ids).is_ok()
    }

    async fn runs(&self, kind: RunKind, requests: &[RunRequest]) -> Result<RunBatch> {
        let _call = self.lists.enter();
        let mut batch = RunBatch::default();
        let mut groups: BTreeMap<String, (RepoRef, Vec<(String, u64)>)> = BTreeMap::new();
        let mut jobs: Vec<(String, RepoRef, u64)> = Vec::new();
        // Bare ids under `IdKind::Auto` asked for as runs: a job if no such run exists.
        let mut maybe_jobs: HashMap<String, (RepoRef, u64)> = HashMap::new();
        for req in requests {
            let id = match RunId::parse(&req.id, self.bare_ids) {
                Ok(id) => id,
                Err(e) => {
                    batch.failed.insert(req.id.clone(), e.to_string());
                    continue;
                }
            };
            match self.repo_for(req.repo.as_deref()) {
                Ok(Some(repo)) if id.kind == IdKind::Job => {
                    jobs.push((req.id.clone(), repo, id.id));
                }
                Ok(Some(repo))
                    if id.kind == IdKind::Auto && self.resolved_jobs.contains(&repo, id.id) =>
                {
                    jobs.push((req.id.clone(), repo, id.id));
                }
                Ok(Some(repo)) => {
                    if id.kind == IdKind::Auto {
                        maybe_jobs.insert(req.id.clone(), (repo.clone(), id.id));
                    }
                    groups
                        .entry(repo.key())
                        .or_insert_with(|| (repo, Vec::new()))
                        .1
                        .push((req.id.clone(), id.id));
                }
                // Another host's repository: the next provider's.
                Ok(None) => {}
                Err(why) => {
                    batch
                        .failed
                        .insert(req.id.clone(), format!("cannot look {id} up: {why}"));
                }
            }
        }
        let limit = self.gh.inner.http.policy().concurrency;
        let lists = futures::stream::iter(
            groups
                .into_values()
                .map(|(repo, items)| self.repo_runs(kind, repo, items)),
        )
        .buffer_unordered(limit.max(1))
        .collect::<Vec<_>>();
        let (runs, jobs) = futures::join!(lists, self.job_runs(kind, jobs));
        let runs = self
            .runs_or_jobs(kind, runs.into_iter().flatten().collect(), maybe_jobs)
            .await;
        for (id, outcome) in runs.into_iter().chain(jobs) {
            match outcome {
                Outcome::Found(run) => {
                    batch.found.insert(id, *run);
                }
                Outcome::Missing => {
                    batch.not_found.insert(id);
                }
                Outcome::Failed(why) => {
                    batch.failed.insert(id, why);
                }
            }
        }
        Ok(batch)
    }

    /// Bare ids read as workflow runs may be the job ids the reference tool recorded.
    fn none_found_hint(&self) -> Option<String> {
        (self.bare_ids == IdKind::Run).then(|| {
            "if the pipelines recorded job ids, pass --github-ids job (auto tries both)".into()
        })
    }

    /// The jobs of a workflow run, in the order GitHub created them (stage 1 the first job,
    /// stage 2 the second). A job has no stages: its own state stands for both steps.
    async fn stages(&self, run: &Run) -> Result<Vec<Stage>> {
        let id = RunId::parse(&run.id, self.bare_ids)?;
        if id.kind == IdKind::Job {
            return Ok(Vec::new());
        }
        let repo = self
            .repo_for(run.repository.as_ref())
            .map_err(|why| Error::provider(self.name(), "list jobs", id.to_string(), why))?
            .ok_or_else(|| {
                Error::provider(
                    self.name(),
                    "list jobs",
                    id.to_string(),
                    "the run's repository is on another host",
                )
            })?;
        if id.kind == IdKind::Auto && self.resolved_jobs.contains(&repo, id.id) {
            return Ok(Vec::new());
        }
        let mut jobs: Vec<Job> = Vec::new();
        let mut url = Some(self.gh.repo_url(
            &repo,
            &format!("/actions/runs/{}/jobs?filter=latest&per_page={PAGE}", id.id),
        )?);
        let object = format!("{} run {}", repo.key(), id.id);
        for _ in 0..self.max_list_pages {
            let Some(page) = url.take() else { break };
            let Fetched::Body { body, next, .. } =
                self.gh.get_cached(&page, "list jobs", &object).await?
            else {
                return Err(Error::provider(
                    self.name(),
                    "list jobs",
                    object,
                    "the run was not found",
                ));
            };
            let listed: Jobs = self.gh.parse(&body, "list jobs", &object)?;
            jobs.extend(listed.jobs);
            url = next;
        }
        jobs.sort_by_key(|j| j.id);
        jobs.iter()
            .enumerate()
            .map(|(i, j)| {
                let (status, result) = state(j.status.as_deref(), j.conclusion.as_deref())
                    .map_err(|why| {
                        Error::provider(self.name(), "list jobs", format!("job {}", j.id), why)
                    })?;
                Ok(Stage {
                    name: j.name.clone().unwrap_or_else(|| format!("job {}", j.id)),
                    order: i as u32 + 1,
                    status,
                    result,
                    started_at: j.started_at,
                    finished_at: j.completed_at,
                    url: j.html_url.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_page_of_jobs_holds_at_most_the_hundred_asked_for() {
        let jobs: Vec<String> = (1..=250).map(|id| format!(r#"{{"id":{id}}}"#)).collect();
        let page: Jobs =
            serde_json::from_str(&format!(r#"{{"jobs":[{}]}}"#, jobs.join(","))).unwrap();
        let ids: Vec<u64> = page.jobs.iter().map(|j| j.id).collect();
        assert_eq!(ids, (1..=100).collect::<Vec<u64>>());
    }

    #[test]
    fn a_page_of_runs_holds_at_most_the_hundred_asked_for() {
        let runs: Vec<String> = (1..=250).map(|id| format!(r#"{{"id":{id}}}"#)).collect();
        let page: WorkflowRuns =
            serde_json::from_str(&format!(r#"{{"workflow_runs":[{}]}}"#, runs.join(","))).unwrap();
        let mut list = RunList::default();
        read_page(&mut list, page, None);
        assert_eq!(list.runs.len(), PAGE);
        assert_eq!(
            (list.oldest, list.runs.contains_key(&101)),
            (Some(1), false)
        );
    }

    #[test]
    fn a_recorded_job_becomes_a_run_with_its_repository_and_times() {
        let job: Job = serde_json::from_str(&fixture("gh-actions-1115488431.json")).unwrap();
        let run = job_run("job:1115488431", RunKind::Build, &job).unwrap();
        assert_eq!(run.id, "job:1115488431");
        assert_eq!(
            (run.status, run.result),
            (RunStatus::Completed, Some(RunResult::Succeeded))
        );
        assert_eq!(
            run.source_commit.as_deref(),
            Some("32b0b95f4ca771dee6808a17415d48790f62c6a9")
        );
        assert_eq!(
            run.url.as_deref(),
            Some("https://github.com/andrebriggs/spartan-app/runs/1115488431")
        );
        let repo = run.repository.unwrap();
        assert_eq!(
            (repo.owner.as_str(), repo.name.as_str()),
            ("andrebriggs", "spartan-app")
        );
        assert_eq!(
            run.started_at.unwrap().to_rfc3339(),
            "2020-09-15T02:29:56+00:00"
        );
        assert_eq!(
            run.finished_at.unwrap().to_rfc3339(),
            "2020-09-15T02:33:38+00:00"
        );
        assert_eq!(run.pipeline.as_deref(), Some("Build"));
    }

    #[test]
    fn a_job_page_on_an_enterprise_host_names_a_github_repository() {
        let mut job: Job = serde_json::from_str(&fixture("gh-actions-1115488431.json")).unwrap();
        for page in [
            "https://git.fabrikam.example/fabrikam/svc-4/actions/runs/7766/job/1115488431",
            "https://git.fabrikam.example/fabrikam/svc-4/runs/1115488431",
        ] {
            job.html_url = Some(page.into());
            let run = job_run("job:1115488431", RunKind::Build, &job).unwrap();
            let repo = run.repository.unwrap();
            assert_eq!(
                (
                    repo.provider,
                    repo.host.as_str(),
                    repo.owner.as_str(),
                    repo.name.as_str()
                ),
                (
                    RepoHost::GitHub,
                    "git.fabrikam.example",
                    "fabrikam",
                    "svc-4"
                ),
                "{page}"
            );
        }
    }

    #[test]
    fn every_documented_status_and_conclusion_maps() {
        for s in [
            "queued",
            "in_progress",
            "completed",
            "waiting",
            "requested",
            "pending",
        ] {
            state(Some(s), None).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        let cases = [
            ("success", RunResult::Succeeded),
            ("failure", RunResult::Failed),
            ("cancelled", RunResult::Canceled),
            ("skipped", RunResult::Skipped),
            ("timed_out", RunResult::Failed),
            ("action_required", RunResult::Failed),
            ("neutral", RunResult::Succeeded),
            ("stale", RunResult::Canceled),
            ("startup_failure", RunResult::Failed),
        ];
        for (word, want) in cases {
            assert_eq!(
                state(Some("completed"), Some(word)).unwrap(),
                (RunStatus::Completed, Some(want)),
                "{word}"
            );
        }
        assert_eq!(
            state(Some("waiting"), None).unwrap(),
            (RunStatus::Queued, None)
        );
        assert_eq!(
            state(Some("in_progress"), Some("success")).unwrap(),
            (RunStatus::InProgress, None)
        );
        let e = state(Some("exploded"), None).unwrap_err();
        assert!(e.contains("'exploded'"), "{e}");
    }
}
