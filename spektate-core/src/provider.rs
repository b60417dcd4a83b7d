//! Provider traits: where runs, commit authors, pull requests, sync tags and what GitOps
//! agents applied come from.
//!
//! A provider says which runs or repositories it serves, so several can be combined: the
//! tracker asks each in turn, and a run one provider does not find falls to the next.
//!
//! The contracts below are what the conformance suites of the test kit
//! (`testkit::pipelines_conformance`, `testkit::repositories_conformance`, feature `testkit`)
//! check, each provider against a fake of its own service's API.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;

use crate::cache::AnswersCache;
use crate::error::{Error, Result};
use crate::model::cluster::Applied;
use crate::model::deployment::{Author, ClusterSync, PullRequest};
use crate::model::repo::RepoRef;
use crate::model::run::{Run, RunKind, Stage};

/// The default prefix of a sync tag: Flux v1's `flux-<cluster>` (its `--git-sync-tag` default
/// `flux-sync` included). The rest of the tag name is the cluster.
pub const DEFAULT_SYNC_TAG_PREFIX: &str = "flux-";

/// Checks a sync tag prefix: not empty, and without whitespace or a character a git tag name
/// may not hold (`~ ^ : ? * [ \`).
pub fn check_sync_tag_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() || prefix.contains(|c: char| c.is_whitespace() || "~^:?*[\\".contains(c)) {
        return Err(Error::invalid(
            "sync tag prefix",
            format!("'{prefix}' cannot start a git tag name"),
        ));
    }
    Ok(())
}

/// The most commits of a repository's history [`Repositories::commit_orders`] gives.
pub const MAX_COMMIT_ORDER: usize = 100;

/// The most sync tags (clusters) one repository's listing may hold: each may cost a request,
/// so a provider refuses a listing with more ([`Repositories::sync_tags`]).
pub const MAX_SYNC_TAGS: usize = 10_000;

/// A run to look up, with the repository it was recorded against, if any
/// (providers that address runs per repository, such as GitHub Actions, need it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunRequest {
    /// The run id as recorded.
    pub id: String,
    /// The repository the record names for this step (shared: many requests name one).
    pub repo: Option<Arc<RepoRef>>,
}

/// What a provider found for a batch of run ids: each id it serves is in exactly one of the
/// three.
#[derive(Debug, Clone, Default)]
pub struct RunBatch {
    /// Runs found, by requested id.
    pub found: HashMap<String, Run>,
    /// Ids the provider authoritatively does not have (retention expired, deleted) in a place
    /// the token reads; a place it cannot read is a failure, never "not found".
    pub not_found: HashSet<String>,
    /// Ids whose lookup failed, with the reason; the others of the batch still count.
    pub failed: HashMap<String, String>,
}

/// A CI system: builds, releases and their stages.
#[async_trait]
pub trait Pipelines: Send + Sync {
    /// A short name for messages (`azure-devops dev.azure.com/fabrikam/hello`).
    fn name(&self) -> String;

    /// Whether this provider serves run `id` of `kind`. Defaults to every run.
    fn serves_run(&self, kind: RunKind, id: &str) -> bool {
        let _ = (kind, id);
        true
    }

    /// The runs with these ids, fetched in as few calls as the API allows, every page of
    /// them. A failed request fails only the ids it asked for; `Err` is for a call that can
    /// answer none. The tracker asks for each kind at once, in calls that overlap.
    async fn runs(&self, kind: RunKind, requests: &[RunRequest]) -> Result<RunBatch>;

    /// The stages of a multi-stage run, by order.
    async fn stages(&self, run: &Run) -> Result<Vec<Stage>>;

    /// What else than a wrong project or token may explain a batch of which no run was found
    /// (ids of another kind of object, say), for the warning about it. Defaults to nothing.
    fn none_found_hint(&self) -> Option<String> {
        None
    }

    /// Checks the credentials and settings against the service with one cheap request
    /// (`spektate validate`): what was found, or `None` when there is nothing to check.
    async fn check(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Keeps what this provider fetched that another process can reuse (list pages with
    /// their ETags, annotated tag objects) in `cache` too. A tracker built with
    /// [`crate::TrackerBuilder::answers_cache`] hands its cache to each of its providers;
    /// the first cache a provider is given stays. The default keeps nothing.
    fn use_answers_cache(&self, cache: &Arc<dyn AnswersCache>) {
        let _ = cache;
    }
}

/// A repository host: commit authors, pull requests and GitOps sync tags.
#[async_trait]
pub trait Repositories: Send + Sync {
    /// A short name for messages.
    fn name(&self) -> String;

    /// Whether this provider serves `repo`.
    fn serves_repo(&self, repo: &RepoRef) -> bool;

    /// Authors of these commits of `repo`, by commit id as given; missing ones are left out,
    /// and a repository the token cannot read is an error, not every commit missing.
    async fn authors(&self, repo: &RepoRef, commits: &[String]) -> Result<HashMap<String, Author>>;

    /// These pull requests of `repo`, by id as given; missing ones are left out, and a
    /// repository the token cannot read is an error.
    async fn pull_requests(
        &self,
        repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>>;

    /// The clusters whose sync tag (`<prefix><cluster>`, by default
    /// [`DEFAULT_SYNC_TAG_PREFIX`]) marks a commit of `repo`.
    async fn sync_tags(&self, repo: &RepoRef) -> Result<Vec<ClusterSync>>;

    /// The newest commits of the default branch of each of `repos` (each one this provider
    /// serves), newest first, by [`RepoRef::key`]: at most [`MAX_COMMIT_ORDER`] each, in one or
    /// two requests for all of them. A repository left out of the map was not found; `None`
    /// means this provider does not offer histories (the default), so commits keep the order
    /// their records were written in.
    async fn commit_orders(
        &self,
        repos: &[RepoRef],
    ) -> Result<Option<HashMap<String, Vec<String>>>> {
        let _ = repos;
        Ok(None)
    }

    /// Checks the credentials against the service with one cheap request (`spektate
    /// validate`): what was found, or `None` when there is nothing to check without a
    /// repository.
    async fn check(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// Checks that `repo` (one this provider serves) can be read.
    async fn check_repo(&self, repo: &RepoRef) -> Result<String> {
        let _ = repo;
        Ok("not checked: this provider has no check".to_string())
    }

    /// Keeps what this provider fetched that another process can reuse (list pages with
    /// their ETags, annotated tag objects) in `cache` too. A tracker built with
    /// [`crate::TrackerBuilder::answers_cache`] hands its cache to each of its providers;
    /// the first cache a provider is given stays. The default keeps nothing.
    fn use_answers_cache(&self, cache: &Arc<dyn AnswersCache>) {
        let _ = cache;
    }
}

/// A GitOps agent's API that says what it applied to each cluster it deploys to (Argo CD):
/// the applications, each with its destination cluster, source repositories and the newest
/// commit of each it applied.
///
/// The tracker asks once per refresh, for every application at once: a source answers from
/// one call, whatever the number of applications. What the answer holds is untrusted: it
/// only ever names clusters, repositories and commits, and never where a credential goes.
#[async_trait]
pub trait SyncSource: Send + Sync {
    /// A short name for messages (`argocd argocd.fabrikam.com`).
    fn name(&self) -> String;

    /// What every application applied. When nothing changed since the last answer (the
    /// service said so with a `304`, or its list carries the same resource version), the
    /// same `Arc` comes back, so nothing is parsed or compared again.
    async fn applied(&self) -> Result<Arc<Vec<Applied>>>;

    /// Checks the credentials and settings with one request (`spektate validate`): what was
    /// found, or `None` when there is nothing to check.
    async fn check(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_sync_tag_prefix_is_flux_and_prefixes_are_checked() {
        assert_eq!(DEFAULT_SYNC_TAG_PREFIX, "flux-");
        for ok in [DEFAULT_SYNC_TAG_PREFIX, "argo/", "sync-"] {
            assert!(check_sync_tag_prefix(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "flux sync",
            "a~",
            "a^",
            "a:",
            "a?",
            "a*",
            "a[",
            "a\\",
            "a\t",
        ] {
            let e = check_sync_tag_prefix(bad).unwrap_err().to_string();
            assert!(e.contains("sync tag prefix"), "{bad:?}: {e}");
        }
    }
}
