//! [`GitLabPipelines`]: GitLab CI pipelines as Spektate runs, and their jobs as stages.
//!
//! A few pipelines of a project are fetched one by one, revalidated with their ETags; more
//! are found in the project's pipeline list, a hundred a page, newest first, following the
//! `Link` header (or `x-next-page`), its pages revalidated too.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use futures::StreamExt;
use spektate_core::{
    Error, Pipelines, RepoHost, RepoRef, Result, Run, RunBatch, RunKind, RunRequest, RunResult,
    RunStatus, Stage,
};

use crate::client::{Fetched, GitLab, PER_PAGE};
use crate::payloads::{Job, Pipeline};
use crate::project::Project;

/// GitLab CI as a [`Pipelines`] provider.
///
/// A recorded run id is a pipeline id (`$CI_PIPELINE_ID`). Pipelines live in a project: each
/// request's repository (the record's `sourceRepo` for p1 and p2, `hldRepo` for p3) when it
/// is a project of this instance, else [`GitLabPipelines::default_project`]. Requests for
/// repositories of other hosts are left to the next provider.
#[derive(Debug, Clone)]
pub struct GitLabPipelines {
    gl: GitLab,
    default_project: Option<Project>,
    list_threshold: usize,
    max_list_pages: u32,
}

enum Outcome {
    Found(Box<Run>),
    Missing,
    Failed(String),
}

/// What a project's pipeline list gave: the wanted pipelines it holds, and whether any page
/// was read (proof the project can be read, so a wanted pipeline it lacks is gone).
enum Listed {
    Unreadable,
    Pipelines {
        found: HashMap<u64, Pipeline>,
        read: bool,
    },
}

impl GitLabPipelines {
    pub(crate) fn new(gl: GitLab) -> Self {
        GitLabPipelines {
            gl,
            default_project: None,
            list_threshold: 3,
            max_list_pages: 10,
        }
    }

    /// The project of runs whose record names no repository of this instance: a numeric id
    /// or a `group/sub/name` path, as the Spektate tables of old configured it.
    pub fn default_project(mut self, project: Project) -> Self {
        self.default_project = Some(project);
        self
    }

    /// Above how many pipelines of one project its pipeline list is read rather than each
    /// pipeline fetched (default 3). A list read before is revalidated for fewer.
    pub fn list_threshold(mut self, n: usize) -> Self {
        self.list_threshold = n;
        self
    }

    /// How many pages of a hundred pipelines a listing reads at most before fetching the
    /// pipelines it has not met one by one (default 10).
    pub fn max_list_pages(mut self, n: u32) -> Self {
        self.max_list_pages = n.max(1);
        self
    }

    /// The client.
    pub fn client(&self) -> &GitLab {
        &self.gl
    }

    /// The project of a run recorded against `repo`: `Ok(None)` when the repository is
    /// another host's.
    fn project_for(&self, repo: Option<&RepoRef>) -> std::result::Result<Option<Project>, String> {
        match repo {
            Some(r) if self.gl.serves_repo(r) => {
                self.gl.project_of(r).map(Some).map_err(|e| e.to_string())
            }
            // Another host's repository: the next provider's.
            Some(_) => Ok(None),
            None => self.default_project.clone().map(Some).ok_or_else(|| {
                "the record names no project of this GitLab and no default project is configured"
                    .to_string()
            }),
        }
    }

    /// The pipelines `items` (request, pipeline id) of `project`: from its list, then one
    /// by one.
    async fn project_runs(
        &self,
        kind: RunKind,
        project: Project,
        items: Vec<(String, u64)>,
    ) -> Vec<(String, Outcome)> {
        let wanted: HashSet<u64> = items.iter().map(|(_, id)| *id).collect();
        let mut out = Vec::new();
        let mut rest = items;
        let mut access_proven = false;
        match self.listed(&project, &wanted).await {
            Ok(Listed::Unreadable) => {
                let why = unreadable(&project);
                return rest
                    .into_iter()
                    .map(|(req, _)| (req, Outcome::Failed(why.clone())))
                    .collect();
            }
            Ok(Listed::Pipelines { mut found, read }) => {
                access_proven = read;
                rest.retain(|(req, id)| match found.remove(id) {
                    Some(p) => {
                        out.push((req.clone(), convert(pipeline_run(req, kind, &p))));
                        false
                    }
                    None => true,
                });
            }
            Err(e) => tracing::warn!("{e}; fetching the pipelines of {project} one by one"),
        }
        let fetches = rest.into_iter().map(|(req, id)| {
            let project = &project;
            async move {
                let got = self
                    .fetch_pipeline(project, id)
                    .await
                    .map(|p| p.map(|p| pipeline_run(&req, kind, &p)));
                (req, got)
            }
        });
        let got = futures::future::join_all(fetches).await;
        let mut missing = Vec::new();
        for (req, got) in got {
            match got {
                Ok(Some(run)) => out.push((req, convert(run))),
                Ok(None) => missing.push(req),
                Err(e) => out.push((req, Outcome::Failed(e.to_string()))),
            }
        }
        if !missing.is_empty() {
            // GitLab answers 404 for a pipeline that is gone and for a project the token
            // cannot see: only a readable project makes the pipeline gone.
            let verdict = if access_proven {
                Ok(())
            } else {
                self.check_project(&project).await
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

    /// The wanted pipelines `project`'s list holds. The list is read on, newest first, while
    /// more pipelines are missing than `list_threshold`, until it ends, reaches pipelines
    /// older than the oldest missing one, or `max_list_pages`. Its first page is read for
    /// fewer too when it was read before: a 304 then answers for every pipeline on it.
    async fn listed(&self, project: &Project, wanted: &HashSet<u64>) -> Result<Listed> {
        let first = self
            .gl
            .project_url(project, &format!("/pipelines?per_page={PER_PAGE}"));
        let mut found: HashMap<u64, Pipeline> = HashMap::new();
        let mut next = Some(first.clone());
        let mut pages = 0u32;
        let mut oldest: Option<u64> = None;
        while let Some(url) = next.take() {
            let missing: Vec<u64> = wanted
                .iter()
                .filter(|id| !found.contains_key(id))
                .copied()
                .collect();
            let Some(&oldest_missing) = missing.iter().min() else {
                break;
            };
            let many = missing.len() > self.list_threshold;
            let go = if pages == 0 {
                many || self.gl.revalidates(&first).await
            } else {
                many && pages < self.max_list_pages && oldest.is_none_or(|o| o >= oldest_missing)
            };
            if !go {
                break;
            }
            let object = format!("{project} page {}", pages + 1);
            let fetched = match self.gl.get_cached(&url, "list pipelines", &object).await {
                Ok(f) => f,
                // What was read stands; the pipelines still missing are fetched one by one.
                Err(e) if pages > 0 => {
                    tracing::warn!("{e}; fetching the pipelines it holds one by one");
                    break;
                }
                Err(e) => return Err(e),
            };
            match fetched {
                Fetched::NotFound if pages == 0 => return Ok(Listed::Unreadable),
                Fetched::NotFound => break,
                Fetched::Body { body, next: n, .. } => {
                    let page: Vec<Pipeline> =
                        self.gl.parse_page(&body, "list pipelines", &object)?;
                    pages += 1;
                    for p in page {
                        oldest = Some(oldest.map_or(p.id, |o| o.min(p.id)));
                        if wanted.contains(&p.id) {
                            found.insert(p.id, p);
                        }
                    }
                    next = n;
                }
            }
        }
        Ok(Listed::Pipelines {
            found,
            read: pages > 0,
        })
    }

    async fn fetch_pipeline(&self, project: &Project, id: u64) -> Result<Option<Pipeline>> {
        let url = self.gl.project_url(project, &format!("/pipelines/{id}"));
        let object = format!("{project} pipeline {id}");
        match self.gl.get_cached(&url, "get pipeline", &object).await? {
            Fetched::NotFound => Ok(None),
            Fetched::Body { body, .. } => self.gl.parse(&body, "get pipeline", &object).map(Some),
        }
    }

    async fn check_project(&self, project: &Project) -> std::result::Result<(), String> {
        let url = self.gl.project_url(project, "");
        match self
            .gl
            .get_cached(&url, "get project", &project.to_string())
            .await
        {
            Ok(Fetched::Body { .. }) => Ok(()),
            Ok(Fetched::NotFound) => Err(unreadable(project)),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn unreadable(project: &Project) -> String {
    format!("GitLab {project} was not found, or the token cannot read it")
}

fn convert(run: std::result::Result<Run, String>) -> Outcome {
    match run {
        Ok(run) => Outcome::Found(Box::new(run)),
        Err(why) => Outcome::Failed(why),
    }
}

/// A recorded pipeline id: a positive number (`$CI_PIPELINE_ID`), `#` allowed before it.
pub(crate) fn pipeline_id(id: &str) -> Option<u64> {
    let digits = id.trim().trim_start_matches('#');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// Status and result from a GitLab pipeline or job status word.
pub(crate) fn state(word: &str) -> std::result::Result<(RunStatus, Option<RunResult>), String> {
    let w = word.trim().to_ascii_lowercase();
    Ok(match w.as_str() {
        "created"
        | "waiting_for_resource"
        | "waiting_for_callback"
        | "preparing"
        | "pending"
        | "scheduled"
        | "manual" => (RunStatus::Queued, None),
        "running" | "canceling" => (RunStatus::InProgress, None),
        "success" => (RunStatus::Completed, Some(RunResult::Succeeded)),
        "failed" => (RunStatus::Completed, Some(RunResult::Failed)),
        "canceled" => (RunStatus::Completed, Some(RunResult::Canceled)),
        "skipped" => (RunStatus::Completed, Some(RunResult::Skipped)),
        _ => return Err(format!("unknown status '{}'", word.trim())),
    })
}

/// The GitLab project a page of it (`https://HOST/group/sub/name/-/pipelines/1`) belongs to.
pub(crate) fn repo_of_page(url: &str) -> Option<RepoRef> {
    let (project, _) = url.trim().split_once("/-/")?;
    let mut repo = RepoRef::parse(project).ok()?;
    if repo.project.is_some() {
        // `_git` is a valid GitLab group name, which reads as Azure DevOps' separator: the
        // project is every group of the path, then its name.
        let path = project.split_once("://").map_or(project, |(_, rest)| rest);
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let segs: Vec<&str> = path.split('/').skip(1).filter(|s| !s.is_empty()).collect();
        let (name, groups) = segs.split_last()?;
        if groups.is_empty() {
            return None;
        }
        repo.owner = groups.join("/").replace("%20", " ");
        repo.name = name
            .strip_suffix(".git")
            .unwrap_or(name)
            .replace("%20", " ");
        repo.project = None;
    }
    repo.provider = RepoHost::GitLab;
    Some(repo)
}

/// A pipeline as the run recorded under `id`.
pub(crate) fn pipeline_run(
    id: &str,
    kind: RunKind,
    p: &Pipeline,
) -> std::result::Result<Run, String> {
    let word = p.status.as_deref().unwrap_or_default();
    let (status, result) = state(word).map_err(|e| format!("pipeline {}: {e}", p.id))?;
    let mut run = Run::new(id, kind, status);
    run.result = result;
    run.number = Some(format!("#{}", p.iid.unwrap_or(p.id)));
    run.pipeline = p.name.clone().filter(|n| !n.trim().is_empty());
    run.queued_at = p.created_at;
    run.started_at = p.started_at.filter(|_| status != RunStatus::Queued);
    run.finished_at = p
        .finished_at
        .or(p.updated_at)
        .filter(|_| status == RunStatus::Completed);
    run.last_changed_at = p.updated_at.or(p.finished_at).or(p.created_at);
    run.url = p.web_url.clone();
    run.source_branch = p.git_ref.clone();
    run.source_commit = p.sha.clone();
    run.repository = p.web_url.as_deref().and_then(repo_of_page);
    run.requested_by = p.user.as_ref().and_then(|u| u.username.clone());
    Ok(run)
}

/// Jobs grouped into the pipeline's stages, in the order their first job was created: by the
/// lowest job id of each, retried attempts included, as a retry is a new job with a higher id.
/// A stage's state comes from the latest attempt of each of its jobs.
pub(crate) fn stages_of(jobs: &[Job]) -> std::result::Result<Vec<Stage>, String> {
    let mut first: HashMap<&str, u64> = HashMap::new();
    for j in jobs {
        let id = first.entry(stage_name(j)).or_insert(j.id);
        *id = (*id).min(j.id);
    }
    let mut by_stage: HashMap<&str, Vec<&Job>> = HashMap::new();
    for j in latest_attempts(jobs) {
        by_stage.entry(stage_name(j)).or_default().push(j);
    }
    let mut ordered: Vec<(u64, &str, Vec<&Job>)> = by_stage
        .into_iter()
        .map(|(name, mut jobs)| {
            jobs.sort_by_key(|j| j.id);
            (first[name], name, jobs)
        })
        .collect();
    ordered.sort_by_key(|(first, _, _)| *first);
    ordered
        .into_iter()
        .enumerate()
        .map(|(i, (_, name, jobs))| stage(i as u32 + 1, name, &jobs))
        .collect()
}

/// The stage a job belongs to (GitLab's default stage is `test`).
fn stage_name(job: &Job) -> &str {
    job.stage.as_deref().unwrap_or("test")
}

/// The latest attempt of each job: of the jobs of one name in a stage, the newest. GitLab's
/// REST jobs carry no `retried` flag; retrying a job adds a job of the same name and marks the
/// older ones retried. A job without a name stands alone.
fn latest_attempts(jobs: &[Job]) -> Vec<&Job> {
    let mut latest: HashMap<(&str, std::result::Result<&str, u64>), &Job> = HashMap::new();
    for j in jobs {
        let key = (stage_name(j), j.name.as_deref().ok_or(j.id));
        let kept = latest.entry(key).or_insert(j);
        if j.id > kept.id {
            *kept = j;
        }
    }
    latest.into_values().collect()
}

/// Stage number `order` named `name`, of the latest attempts of its jobs.
fn stage(order: u32, name: &str, jobs: &[&Job]) -> std::result::Result<Stage, String> {
    let mut states = Vec::new();
    for j in jobs {
        states.extend(counted_state(j)?);
    }
    let (status, result) = aggregate(&states);
    Ok(Stage {
        name: name.to_string(),
        order,
        status,
        result,
        started_at: jobs.iter().filter_map(|j| j.started_at).min(),
        finished_at: jobs
            .iter()
            .filter_map(|j| j.finished_at)
            .max()
            .filter(|_| status == RunStatus::Completed),
        // The page of the stage's first job (a stage has none of its own).
        url: jobs.iter().find_map(|j| j.web_url.clone()),
    })
}

/// What a job counts for in its stage's state, as GitLab's composite status counts it
/// (`Ci::HasStatus`): a failed or canceled job allowed to fail as succeeded ("passed with
/// warnings"), and a manual job allowed to fail (an optional manual job, the default of
/// `when: manual`) as nothing: `None`. A stage of such manual jobs alone is therefore skipped,
/// as GitLab shows it. A scheduled (`when: delayed`) job starts by itself and GitLab waits for
/// it whether or not it may fail, so it counts as queued.
fn counted_state(job: &Job) -> std::result::Result<Option<(RunStatus, Option<RunResult>)>, String> {
    let word = job.status.as_deref().unwrap_or_default();
    let got = state(word).map_err(|e| format!("job {}: {e}", job.id))?;
    if job.allow_failure != Some(true) {
        return Ok(Some(got));
    }
    Ok(match got {
        (_, Some(RunResult::Failed | RunResult::Canceled)) => {
            Some((RunStatus::Completed, Some(RunResult::Succeeded)))
        }
        _ if word.trim().eq_ignore_ascii_case("manual") => None,
        _ => Some(got),
    })
}

/// A stage's state from its jobs': running while any runs, queued while any waits and none
/// runs, else completed: failed if any failed, canceled if any was, succeeded if any
/// succeeded, else (no job, or only skipped ones) skipped.
fn aggregate(states: &[(RunStatus, Option<RunResult>)]) -> (RunStatus, Option<RunResult>) {
    let any = |s: RunStatus| states.iter().any(|(st, _)| *st == s);
    let any_result = |r: RunResult| states.iter().any(|(_, res)| *res == Some(r));
    if any(RunStatus::InProgress) {
        return (RunStatus::InProgress, None);
    }
    if any(RunStatus::Queued) {
        let started = states.iter().any(|(st, _)| *st == RunStatus::Completed);
        let status = if started {
            RunStatus::InProgress
        } else {
            RunStatus::Queued
        };
        return (status, None);
    }
    let result = [RunResult::Failed, RunResult::Canceled, RunResult::Succeeded]
        .into_iter()
        .find(|r| any_result(*r))
        .unwrap_or(RunResult::Skipped);
    (RunStatus::Completed, Some(result))
}

#[async_trait]
impl Pipelines for GitLabPipelines {
    fn name(&self) -> String {
        format!("gitlab-ci {}", self.gl.url())
    }

    fn use_answers_cache(&self, cache: &std::sync::Arc<dyn spektate_core::cache::AnswersCache>) {
        self.gl.use_answers_cache(cache);
    }

    fn serves_run(&self, _kind: RunKind, id: &str) -> bool {
        pipeline_id(id).is_some()
    }

    async fn runs(&self, kind: RunKind, requests: &[RunRequest]) -> Result<RunBatch> {
        let mut batch = RunBatch::default();
        let mut groups: BTreeMap<Project, Vec<(String, u64)>> = BTreeMap::new();
        for req in requests {
            let Some(id) = pipeline_id(&req.id) else {
                batch.failed.insert(
                    req.id.clone(),
                    format!("'{}' is not a GitLab pipeline id", req.id),
                );
                continue;
            };
            match self.project_for(req.repo.as_deref()) {
                Ok(Some(project)) => groups
                    .entry(project)
                    .or_default()
                    .push((req.id.clone(), id)),
                Ok(None) => {}
                Err(why) => {
                    batch.failed.insert(
                        req.id.clone(),
                        format!("cannot look pipeline {id} up: {why}"),
                    );
                }
            }
        }
        let limit = self.gl.inner.http.policy().concurrency;
        let results = futures::stream::iter(
            groups
                .into_iter()
                .map(|(project, items)| self.project_runs(kind, project, items)),
        )
        .buffer_unordered(limit.max(1))
        .collect::<Vec<_>>()
        .await;
        for (id, outcome) in results.into_iter().flatten() {
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

    /// The pipeline's stages, from its jobs (`GET .../pipelines/:id/jobs`, retried attempts
    /// included, every page up to `max_list_pages`): the first stage is the image stage, the
    /// second the metadata stage.
    async fn stages(&self, run: &Run) -> Result<Vec<Stage>> {
        let id = pipeline_id(&run.id).ok_or_else(|| {
            Error::invalid(
                "GitLab pipeline id",
                format!("'{}' is not a pipeline id", run.id),
            )
        })?;
        let project = self
            .project_for(run.repository.as_ref())
            .map_err(|why| {
                Error::provider(self.name(), "list jobs", format!("pipeline {id}"), why)
            })?
            .ok_or_else(|| {
                Error::provider(
                    self.name(),
                    "list jobs",
                    format!("pipeline {id}"),
                    "the pipeline's project is on another host",
                )
            })?;
        let mut jobs: Vec<Job> = Vec::new();
        let mut url = Some(self.gl.project_url(
            &project,
            &format!("/pipelines/{id}/jobs?include_retried=true&per_page={PER_PAGE}"),
        ));
        let object = format!("{project} pipeline {id}");
        for _ in 0..self.max_list_pages {
            let Some(page) = url.take() else { break };
            let Fetched::Body { body, next, .. } =
                self.gl.get_cached(&page, "list jobs", &object).await?
            else {
                return Err(Error::provider(
                    self.name(),
                    "list jobs",
                    object,
                    "the pipeline was not found",
                ));
            };
            let listed: Vec<Job> = self.gl.parse_page(&body, "list jobs", &object)?;
            jobs.extend(listed);
            url = next;
        }
        stages_of(&jobs).map_err(|why| Error::provider(self.name(), "list jobs", object, why))
    }

    async fn check(&self) -> Result<Option<String>> {
        let token = self.gl.check_token().await?;
        let Some(project) = &self.default_project else {
            return Ok(Some(token));
        };
        self.check_project(project)
            .await
            .map_err(|why| Error::provider(self.name(), "get project", project.to_string(), why))?;
        Ok(Some(format!("{token}; default {project} readable")))
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
    fn a_captured_pipeline_becomes_a_run() {
        let p: Pipeline = serde_json::from_str(&fixture("gitlab-pipeline-1.json")).unwrap();
        let run = pipeline_run("208859532", RunKind::Build, &p).unwrap();
        assert_eq!(
            (run.status, run.result),
            (RunStatus::Completed, Some(RunResult::Succeeded))
        );
        assert_eq!(
            run.url.as_deref(),
            Some("https://gitlab.com/samiyaakhtar/hello-world-full-stack/-/pipelines/208859532")
        );
        assert_eq!(
            run.source_commit.as_deref(),
            Some("de399bc427cec3e0ddf67c8f59f4f0a7fc36893b")
        );
        assert_eq!(run.source_branch.as_deref(), Some("master"));
        assert_eq!(run.requested_by.as_deref(), Some("samiyaakhtar"));
        assert_eq!(
            run.started_at.unwrap().to_rfc3339(),
            "2020-10-28T17:36:55.584+00:00"
        );
        assert_eq!(
            run.finished_at.unwrap().to_rfc3339(),
            "2020-10-28T17:43:48.917+00:00"
        );
        let repo = run.repository.unwrap();
        assert_eq!(
            (repo.provider, repo.owner.as_str(), repo.name.as_str()),
            (RepoHost::GitLab, "samiyaakhtar", "hello-world-full-stack")
        );
    }

    #[test]
    fn every_pipeline_status_maps() {
        let cases = [
            ("created", RunStatus::Queued, None),
            ("waiting_for_resource", RunStatus::Queued, None),
            ("preparing", RunStatus::Queued, None),
            ("pending", RunStatus::Queued, None),
            ("scheduled", RunStatus::Queued, None),
            ("manual", RunStatus::Queued, None),
            ("running", RunStatus::InProgress, None),
            ("success", RunStatus::Completed, Some(RunResult::Succeeded)),
            ("failed", RunStatus::Completed, Some(RunResult::Failed)),
            ("canceled", RunStatus::Completed, Some(RunResult::Canceled)),
            ("skipped", RunStatus::Completed, Some(RunResult::Skipped)),
        ];
        for (word, status, result) in cases {
            assert_eq!(state(word).unwrap(), (status, result), "{word}");
        }
        let e = state("exploded").unwrap_err();
        assert!(e.contains("'exploded'"), "{e}");
    }

    #[test]
    fn a_page_of_jobs_each_in_a_stage_of_its_own_is_grouped_in_one_pass() {
        let jobs: Vec<Job> = (0..20_000u64)
            .rev()
            .map(|id| Job {
                id,
                name: None,
                stage: Some(format!("stage-{id}")),
                status: Some("success".into()),
                started_at: None,
                finished_at: None,
                web_url: None,
                allow_failure: None,
            })
            .collect();
        let stages = stages_of(&jobs).unwrap();
        assert_eq!(stages.len(), 20_000);
        assert_eq!((stages[0].name.as_str(), stages[0].order), ("stage-0", 1));
        assert_eq!(stages[19_999].name, "stage-19999");
    }

    fn job(id: u64, stage: &str, status: &str) -> Job {
        Job {
            id,
            name: Some(format!("{stage}-{id}")),
            stage: Some(stage.into()),
            status: Some(status.into()),
            started_at: None,
            finished_at: None,
            web_url: Some(format!("https://gitlab.com/fabrikam/svc/-/jobs/{id}")),
            allow_failure: None,
        }
    }

    /// A job allowed to fail.
    fn optional(id: u64, stage: &str, status: &str) -> Job {
        Job {
            allow_failure: Some(true),
            ..job(id, stage, status)
        }
    }

    /// A later attempt of `retried`.
    fn retry(id: u64, retried: &Job, status: &str) -> Job {
        Job {
            id,
            status: Some(status.into()),
            web_url: Some(format!("https://gitlab.com/fabrikam/svc/-/jobs/{id}")),
            ..retried.clone()
        }
    }

    fn states(stages: &[Stage]) -> Vec<(&str, u32, RunStatus, Option<RunResult>)> {
        stages
            .iter()
            .map(|s| (s.name.as_str(), s.order, s.status, s.result))
            .collect()
    }

    #[test]
    fn jobs_make_stages_in_order() {
        // GitLab lists jobs newest first.
        let jobs = [
            job(14, "deploy", "manual"),
            job(13, "update-hld", "failed"),
            job(12, "build", "success"),
            job(11, "build", "success"),
        ];
        let stages = stages_of(&jobs).unwrap();
        assert_eq!(
            states(&stages),
            [
                ("build", 1, RunStatus::Completed, Some(RunResult::Succeeded)),
                (
                    "update-hld",
                    2,
                    RunStatus::Completed,
                    Some(RunResult::Failed)
                ),
                ("deploy", 3, RunStatus::Queued, None),
            ]
        );
        assert_eq!(
            stages[0].url.as_deref(),
            Some("https://gitlab.com/fabrikam/svc/-/jobs/11"),
            "a stage links its first job"
        );
    }

    #[test]
    fn a_retried_job_keeps_its_stage_first_and_its_latest_attempt_decides() {
        let build = job(11, "build", "failed");
        // Newest first, retried attempts included: the build job was retried after
        // update-hld ran, twice.
        let jobs = [
            retry(14, &build, "success"),
            retry(13, &build, "failed"),
            job(12, "update-hld", "success"),
            build.clone(),
        ];
        assert_eq!(
            states(&stages_of(&jobs).unwrap()),
            [
                ("build", 1, RunStatus::Completed, Some(RunResult::Succeeded)),
                (
                    "update-hld",
                    2,
                    RunStatus::Completed,
                    Some(RunResult::Succeeded)
                ),
            ]
        );
        let running = [retry(15, &build, "running"), jobs[0].clone(), build];
        let stages = stages_of(&running).unwrap();
        assert_eq!(stages[0].status, RunStatus::InProgress, "the retry runs");
        assert_eq!(
            stages[0].url.as_deref(),
            Some("https://gitlab.com/fabrikam/svc/-/jobs/15"),
            "a stage links its latest attempt"
        );
    }

    #[test]
    fn jobs_allowed_to_fail_count_as_gitlab_counts_them() {
        let stage = |jobs: &[Job]| {
            let s = &stages_of(jobs).unwrap()[0];
            (s.status, s.result)
        };
        let passed = (RunStatus::Completed, Some(RunResult::Succeeded));
        assert_eq!(
            stage(&[job(1, "build", "success"), optional(2, "build", "manual")]),
            passed,
            "an optional manual job holds no stage"
        );
        assert_eq!(
            stage(&[job(1, "build", "success"), optional(2, "build", "failed")]),
            passed,
            "passed with warnings"
        );
        assert_eq!(
            stage(&[job(1, "build", "success"), optional(2, "build", "canceled")]),
            passed
        );
        assert_eq!(
            stage(&[optional(1, "deploy", "manual")]),
            (RunStatus::Completed, Some(RunResult::Skipped)),
            "a stage of optional manual jobs alone is skipped"
        );
        assert_eq!(
            stage(&[job(1, "build", "success"), job(2, "build", "manual")]),
            (RunStatus::InProgress, None),
            "a manual job not allowed to fail blocks its stage"
        );
        assert_eq!(
            stage(&[
                job(1, "build", "success"),
                optional(2, "build", "scheduled")
            ]),
            (RunStatus::InProgress, None),
            "a delayed job runs by itself"
        );
        assert_eq!(
            stage(&[job(1, "build", "failed"), optional(2, "build", "success")]),
            (RunStatus::Completed, Some(RunResult::Failed))
        );
    }

    #[test]
    fn a_page_under_a_group_named_git_names_its_gitlab_project() {
        let repo =
            repo_of_page("https://gitlab.example.com/fabrikam/_git/web/-/pipelines/1").unwrap();
        assert_eq!(repo.provider, RepoHost::GitLab);
        assert_eq!(
            (
                repo.owner.as_str(),
                repo.project.as_deref(),
                repo.name.as_str()
            ),
            ("fabrikam/_git", None, "web")
        );
        assert_eq!(
            repo.web_url(),
            "https://gitlab.example.com/fabrikam/_git/web"
        );
        let plain = repo_of_page("https://gitlab.com/a/b/c/-/pipelines/1").unwrap();
        assert_eq!((plain.owner.as_str(), plain.name.as_str()), ("a/b", "c"));
    }

    #[test]
    fn pipeline_ids() {
        assert_eq!(pipeline_id("208859532"), Some(208859532));
        assert_eq!(pipeline_id("#12"), Some(12));
        for bad in ["", "0", "run:1", "-1", "1.5", "99999999999999999999999"] {
            assert_eq!(pipeline_id(bad), None, "{bad}");
        }
    }
}
