//! In-memory providers that count their calls, for tests of correlation and refresh.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::deployment::{Author, ClusterSync, PullRequest};
use crate::model::repo::RepoRef;
use crate::model::run::{Run, RunKind, Stage};
use crate::provider::{Pipelines, Repositories, RunBatch, RunRequest};

/// Requests for the runs `ids`, naming no repository, as a record that names none asks.
pub fn requests(ids: &[&str]) -> Vec<RunRequest> {
    ids.iter()
        .map(|id| RunRequest {
            id: id.to_string(),
            repo: None,
        })
        .collect()
}

/// A CI whose runs are set by the test; authoritative (unknown ids are `not_found`) unless
/// built with [`FakeCi::lenient`].
#[derive(Default)]
pub struct FakeCi {
    runs: Mutex<HashMap<(RunKind, String), Run>>,
    stages: Mutex<HashMap<String, Vec<Stage>>>,
    lenient: bool,
    /// Calls of [`Pipelines::runs`].
    pub run_calls: AtomicUsize,
    /// Run ids asked for, over all calls.
    pub ids_asked: AtomicUsize,
    /// Calls of [`Pipelines::stages`].
    pub stage_calls: AtomicUsize,
}

impl FakeCi {
    /// An authoritative fake CI.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake CI that never says a run is gone.
    pub fn lenient() -> Self {
        FakeCi {
            lenient: true,
            ..Self::default()
        }
    }

    /// Sets (or replaces) a run.
    pub fn set(&self, run: Run) {
        self.runs
            .lock()
            .unwrap()
            .insert((run.kind, run.id.clone()), run);
    }

    /// Sets the stages of a run.
    pub fn set_stages(&self, id: &str, stages: Vec<Stage>) {
        self.stages.lock().unwrap().insert(id.to_string(), stages);
    }

    /// All calls so far.
    pub fn calls(&self) -> usize {
        self.run_calls.load(Ordering::SeqCst) + self.stage_calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Pipelines for FakeCi {
    fn name(&self) -> String {
        "fake ci".into()
    }

    async fn runs(&self, kind: RunKind, requests: &[RunRequest]) -> Result<RunBatch> {
        self.run_calls.fetch_add(1, Ordering::SeqCst);
        self.ids_asked.fetch_add(requests.len(), Ordering::SeqCst);
        let runs = self.runs.lock().unwrap();
        let mut batch = RunBatch::default();
        for r in requests {
            match runs.get(&(kind, r.id.clone())) {
                Some(run) => {
                    batch.found.insert(r.id.clone(), run.clone());
                }
                None if !self.lenient => {
                    batch.not_found.insert(r.id.clone());
                }
                None => {}
            }
        }
        Ok(batch)
    }

    async fn stages(&self, run: &Run) -> Result<Vec<Stage>> {
        self.stage_calls.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .stages
            .lock()
            .unwrap()
            .get(&run.id)
            .cloned()
            .unwrap_or_default())
    }
}

/// A repository host whose authors, pull requests and sync tags are set by the test.
#[derive(Default)]
pub struct FakeRepos {
    authors: Mutex<HashMap<String, Author>>,
    pulls: Mutex<HashMap<String, PullRequest>>,
    tags: Mutex<Vec<ClusterSync>>,
    history: Mutex<Option<Vec<String>>>,
    histories: Mutex<HashMap<String, Vec<String>>>,
    /// The repositories (keys) each call of [`Repositories::commit_orders`] asked for.
    pub history_asked: Mutex<Vec<Vec<String>>>,
    /// When set, author lookups fail with this message.
    pub fail_authors: Mutex<Option<String>>,
    /// Calls of [`Repositories::authors`].
    pub author_calls: AtomicUsize,
    /// Calls of [`Repositories::pull_requests`].
    pub pull_calls: AtomicUsize,
    /// Calls of [`Repositories::sync_tags`].
    pub tag_calls: AtomicUsize,
    /// Calls of [`Repositories::commit_orders`], once a history is set.
    pub history_calls: AtomicUsize,
}

impl FakeRepos {
    /// An empty fake host.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the author of a commit (any repository).
    pub fn set_author(&self, commit: &str, name: &str) {
        let a = Author {
            name: name.into(),
            email: Some(format!("{}@example.com", name.to_lowercase())),
            login: None,
            avatar_url: None,
            url: None,
            committed_at: None,
        };
        self.authors.lock().unwrap().insert(commit.to_string(), a);
    }

    /// Sets a pull request (any repository).
    pub fn set_pull(&self, pr: PullRequest) {
        self.pulls.lock().unwrap().insert(pr.id.clone(), pr);
    }

    /// Sets the sync tags (any repository).
    pub fn set_tags(&self, tags: Vec<ClusterSync>) {
        *self.tags.lock().unwrap() = tags;
    }

    /// Sets the history of the default branch (every repository), newest first; until then
    /// the fake offers no histories.
    pub fn set_history(&self, newest_first: Vec<String>) {
        *self.history.lock().unwrap() = Some(newest_first);
    }

    /// Sets the history of the default branch of one repository (by its key), newest first,
    /// in place of the one [`FakeRepos::set_history`] gives every repository.
    pub fn set_repo_history(&self, repo: &RepoRef, newest_first: Vec<String>) {
        self.histories
            .lock()
            .unwrap()
            .insert(repo.key(), newest_first);
    }

    /// All calls so far.
    pub fn calls(&self) -> usize {
        self.author_calls.load(Ordering::SeqCst)
            + self.pull_calls.load(Ordering::SeqCst)
            + self.tag_calls.load(Ordering::SeqCst)
            + self.history_calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Repositories for FakeRepos {
    fn name(&self) -> String {
        "fake repos".into()
    }

    fn serves_repo(&self, _repo: &RepoRef) -> bool {
        true
    }

    async fn authors(&self, repo: &RepoRef, commits: &[String]) -> Result<HashMap<String, Author>> {
        self.author_calls.fetch_add(1, Ordering::SeqCst);
        if let Some(msg) = self.fail_authors.lock().unwrap().clone() {
            return Err(Error::provider(
                "fake repos",
                "get commit authors",
                repo.key(),
                msg,
            ));
        }
        let authors = self.authors.lock().unwrap();
        Ok(commits
            .iter()
            .filter_map(|c| authors.get(c).map(|a| (c.clone(), a.clone())))
            .collect())
    }

    async fn pull_requests(
        &self,
        _repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>> {
        self.pull_calls.fetch_add(1, Ordering::SeqCst);
        let pulls = self.pulls.lock().unwrap();
        Ok(ids
            .iter()
            .filter_map(|id| pulls.get(id).map(|p| (id.clone(), p.clone())))
            .collect())
    }

    async fn sync_tags(&self, _repo: &RepoRef) -> Result<Vec<ClusterSync>> {
        self.tag_calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.tags.lock().unwrap().clone())
    }

    async fn commit_orders(
        &self,
        repos: &[RepoRef],
    ) -> Result<Option<HashMap<String, Vec<String>>>> {
        let history = self.history.lock().unwrap().clone();
        let histories = self.histories.lock().unwrap().clone();
        if history.is_none() && histories.is_empty() {
            return Ok(None);
        }
        self.history_calls.fetch_add(1, Ordering::SeqCst);
        let keys: Vec<String> = repos.iter().map(RepoRef::key).collect();
        self.history_asked.lock().unwrap().push(keys.clone());
        Ok(Some(
            keys.into_iter()
                .filter_map(|key| {
                    let h = histories.get(&key).or(history.as_ref())?.clone();
                    Some((key, h))
                })
                .collect(),
        ))
    }
}
