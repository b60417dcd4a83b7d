//! A small team's deployments, recorded through the linking rules, with a repository host
//! that knows authors and approval pull requests.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use spektate_core::{
    Author, ClusterSync, ImageBuilt, ManifestCommitted, ManifestGenerated, MemoryStore,
    MetadataUpdated, PullRequest, Recorder, RepoDefaults, RepoRef, Repositories, Result,
    RunReported, RunResult, RunStatus, Tracker, async_trait,
};

pub const FRONTEND: &str = "https://github.com/fabrikam/frontend";
pub const BACKEND: &str = "https://github.com/fabrikam/backend";
pub const HLD: &str = "https://github.com/fabrikam/hld";
pub const MANIFESTS: &str = "https://github.com/fabrikam/manifests";
pub const XSS: &str = "<img src=x onerror=alert(1)>";

/// A repository host: authors by repository, pull requests by id.
#[derive(Default)]
pub struct Repos {
    pub pulls: Mutex<HashMap<String, PullRequest>>,
    pub authors: Mutex<HashMap<String, Author>>,
}

pub fn person(name: &str, login: &str) -> Author {
    Author {
        name: name.to_string(),
        email: Some(format!("{login}@fabrikam.com")),
        login: Some(login.to_string()),
        avatar_url: None,
        url: Some(format!("https://github.com/{login}")),
        committed_at: None,
    }
}

pub fn pull(id: &str, title: &str, merged_by: Option<Author>) -> PullRequest {
    PullRequest {
        id: id.to_string(),
        title: title.to_string(),
        description: None,
        source_branch: Some(format!("deploy-{id}")),
        target_branch: Some("main".into()),
        merged: merged_by.is_some(),
        merged_at: merged_by.as_ref().map(|_| Utc::now()),
        merged_by,
        closed: false,
        url: Some(format!("{HLD}/pull/{id}")),
    }
}

#[async_trait]
impl Repositories for Repos {
    fn name(&self) -> String {
        "test repositories".into()
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        repo.host == "github.com"
    }

    async fn authors(&self, repo: &RepoRef, commits: &[String]) -> Result<HashMap<String, Author>> {
        let authors = self.authors.lock().unwrap();
        Ok(match authors.get(&repo.name) {
            Some(a) => commits.iter().map(|c| (c.clone(), a.clone())).collect(),
            None => HashMap::new(),
        })
    }

    async fn pull_requests(
        &self,
        _repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>> {
        let pulls = self.pulls.lock().unwrap();
        Ok(ids
            .iter()
            .filter_map(|id| pulls.get(id).map(|p| (id.clone(), p.clone())))
            .collect())
    }

    async fn sync_tags(&self, _repo: &RepoRef) -> Result<Vec<ClusterSync>> {
        Ok(Vec::new())
    }
}

pub struct Team {
    pub store: Arc<MemoryStore>,
    pub recorder: Recorder,
    pub repos: Arc<Repos>,
    pub tracker: Tracker,
}

pub fn team() -> Team {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(store.clone(), "fabrikam").unwrap();
    let repos = Arc::new(Repos::default());
    repos
        .authors
        .lock()
        .unwrap()
        .insert("frontend".into(), person("Alice Archer", "alice"));
    repos
        .authors
        .lock()
        .unwrap()
        .insert("backend".into(), person("Bob Baker", "bob"));
    repos
        .authors
        .lock()
        .unwrap()
        .insert("hld".into(), person("Dave Dunn", "dave"));
    let tracker = tracker(&store, &repos);
    Team {
        store,
        recorder,
        repos,
        tracker,
    }
}

/// A tracker of partition `fabrikam` over `store`, asking `repos`.
fn tracker(store: &Arc<MemoryStore>, repos: &Arc<Repos>) -> Tracker {
    let defaults = RepoDefaults {
        hld_repo: RepoRef::parse(HLD).ok(),
        ..Default::default()
    };
    Tracker::builder(store.clone())
        .partition("fabrikam")
        .repositories(repos.clone())
        .defaults(defaults)
        .build()
}

impl Team {
    /// The same team seen by a tracker of its own over the same store: another server's.
    pub fn replica(&self) -> Team {
        Team {
            store: self.store.clone(),
            recorder: Recorder::new(self.store.clone(), "fabrikam").unwrap(),
            repos: self.repos.clone(),
            tracker: tracker(&self.store, &self.repos),
        }
    }

    pub async fn run(&self, id: &str, status: RunStatus, result: Option<RunResult>) {
        let mut r = RunReported::new(id, status);
        r.result = result;
        r.url = Some(format!("https://ci.fabrikam.com/runs/{id}"));
        r.queued_at = Some(Utc::now() - Duration::minutes(10));
        self.recorder.run_reported(&r).await.unwrap();
    }

    pub async fn ok(&self, id: &str) {
        self.run(id, RunStatus::Completed, Some(RunResult::Succeeded))
            .await;
    }

    pub async fn image(&self, p1: &str, service: &str, tag: &str, commit: &str, repo: &str) {
        let e = ImageBuilt {
            p1: p1.into(),
            image_tag: tag.into(),
            commit_id: commit.into(),
            service: service.into(),
            repository: Some(repo.into()),
        };
        self.recorder.image_built(&e).await.unwrap();
    }

    pub async fn metadata(&self, p2: &str, tag: &str, hld: &str, ring: &str, pr: &str) {
        let e = MetadataUpdated {
            p2: p2.into(),
            image_tag: tag.into(),
            hld_commit_id: hld.into(),
            env: ring.into(),
            pr: Some(pr.into()),
            repository: Some(HLD.into()),
            service: None,
        };
        self.recorder.metadata_updated(&e).await.unwrap();
    }

    pub async fn manifest(&self, p3: &str, hld: &str, pr: Option<&str>, manifest: &str) {
        let e = ManifestGenerated {
            p3: p3.into(),
            hld_commit_id: hld.into(),
            manifest_commit_id: None,
            pr: pr.map(str::to_string),
            repository: Some(MANIFESTS.into()),
        };
        self.recorder.manifest_generated(&e).await.unwrap();
        let e = ManifestCommitted {
            p3: p3.into(),
            manifest_commit_id: manifest.into(),
            repository: Some(MANIFESTS.into()),
        };
        self.recorder.manifest_committed(&e).await.unwrap();
    }

    /// Five journeys, oldest first:
    /// 1. frontend to dev: complete and synced to east-us (PR #41 merged by Carol);
    /// 2. backend to staging: waiting for approval (PR #42 open);
    /// 3. api: image build failed;
    /// 4. a manual HLD edit by Dave: manifests pushed;
    /// 5. frontend again: image building.
    pub async fn play(&self) {
        let carol = person("Carol Chen", "carol");
        self.repos.pulls.lock().unwrap().insert(
            "41".into(),
            pull("41", "Update frontend-101 in ring dev", Some(carol)),
        );
        self.repos.pulls.lock().unwrap().insert(
            "42".into(),
            pull("42", "Update backend-102 in ring staging", None),
        );

        self.image(
            "101",
            "fabrikam/frontend",
            "frontend-101",
            "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            FRONTEND,
        )
        .await;
        self.ok("101").await;
        self.metadata(
            "201",
            "frontend-101",
            "c0ffee0000000000000000000000000000000001",
            "dev",
            "41",
        )
        .await;
        self.ok("201").await;
        self.manifest(
            "301",
            "c0ffee0000000000000000000000000000000001",
            Some("41"),
            "e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0",
        )
        .await;
        self.ok("301").await;
        self.recorder
            .cluster_synced("east-us", "e9f8a7b6c5d4", Some("flux"))
            .await
            .unwrap();

        self.image(
            "102",
            "fabrikam/backend",
            "backend-102",
            "b7e1d4a09c3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d",
            BACKEND,
        )
        .await;
        self.ok("102").await;
        self.metadata(
            "202",
            "backend-102",
            "d00d000000000000000000000000000000000002",
            "staging",
            "42",
        )
        .await;
        self.ok("202").await;

        self.image(
            "103",
            "fabrikam/api",
            "api-103",
            "3333333333333333333333333333333333333333",
            BACKEND,
        )
        .await;
        self.run("103", RunStatus::Completed, Some(RunResult::Failed))
            .await;

        self.manifest(
            "305",
            "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b",
            None,
            "1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c",
        )
        .await;
        self.ok("305").await;

        self.image(
            "104",
            "fabrikam/frontend",
            "frontend-104",
            "4444444444444444444444444444444444444444",
            FRONTEND,
        )
        .await;
        self.run("104", RunStatus::InProgress, None).await;
    }
}
