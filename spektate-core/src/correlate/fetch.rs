//! Fetching from providers: runs per kind through the provider chain, stages, authors,
//! pull requests and sync tags, each batched per repository with bounded concurrency, and
//! every call ended by the deadline [`super::within`] sets.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;

use super::deadline::call;
use super::join::Lookup;
use crate::model::deployment::{Author, ClusterSync, PullRequest};
use crate::model::repo::RepoHost;
use crate::model::repo::RepoRef;
use crate::model::run::{Run, RunKind, Stage};
use crate::provider::{Pipelines, Repositories, RunRequest};
use crate::warnings::{Notice, Reason, Subject, notice};

/// Looks runs up through the provider chain: each provider gets the ids it serves that no
/// earlier provider found. Returns every requested id that anything answered for, and the
/// index of the provider that found each run.
pub async fn runs(
    providers: &[Arc<dyn Pipelines>],
    kind: RunKind,
    requests: Vec<RunRequest>,
) -> (
    RunKind,
    HashMap<String, Lookup<Arc<Run>>>,
    HashMap<String, usize>,
) {
    let mut out: HashMap<String, Lookup<Arc<Run>>> = HashMap::new();
    let mut served_by = HashMap::new();
    let mut pending = requests;
    for (index, provider) in providers.iter().enumerate() {
        let (mine, rest): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|r| provider.serves_run(kind, &r.id));
        pending = rest;
        if mine.is_empty() {
            continue;
        }
        let name = provider.name();
        match call(&name, provider.runs(kind, &mine)).await {
            Ok(batch) => {
                // Ids of one failed batch share its reason.
                let mut reasons: HashMap<&str, Reason> = HashMap::new();
                // "Not found" is only believed from a provider that showed it can see the
                // project by finding a run of the same batch: a wrong project, or a token
                // that sees nothing, must not make every run look expired.
                let proven = !batch.found.is_empty();
                let check = "check the project and the token";
                let advice = match provider.none_found_hint() {
                    Some(hint) => format!("{hint}; else {check}"),
                    None => check.to_string(),
                };
                let unproven = Reason::new(
                    &name,
                    &format!("not found, nor any other run asked for: {advice}"),
                );
                for req in mine {
                    if let Some(run) = batch.found.get(&req.id) {
                        out.insert(req.id.clone(), Lookup::Found(Arc::new(run.clone())));
                        served_by.insert(req.id, index);
                    } else {
                        if batch.not_found.contains(&req.id) && !proven {
                            out.entry(req.id.clone())
                                .or_insert_with(|| Lookup::Failed(unproven.clone()));
                        } else if batch.not_found.contains(&req.id) {
                            out.insert(req.id.clone(), Lookup::Missing);
                        } else if let Some(why) = batch.failed.get(&req.id) {
                            let why = reasons
                                .entry(why)
                                .or_insert_with(|| Reason::from_text(&name, why));
                            out.entry(req.id.clone())
                                .or_insert_with(|| Lookup::Failed(why.clone()));
                        }
                        pending.push(req);
                    }
                }
            }
            Err(why) => {
                for req in mine {
                    out.entry(req.id.clone())
                        .or_insert_with(|| Lookup::Failed(why.clone()));
                    pending.push(req);
                }
            }
        }
    }
    (kind, out, served_by)
}

/// One provider call as a lookup: found, or failed with its reason.
async fn lookup<T>(provider: &str, fut: impl Future<Output = crate::Result<T>>) -> Lookup<T> {
    match call(provider, fut).await {
        Ok(v) => Lookup::Found(v),
        Err(why) => Lookup::Failed(why),
    }
}

/// Runs up to `limit` boxed futures at once and collects their outputs.
async fn bounded<T: Send + 'static>(jobs: Vec<BoxFuture<'static, T>>, limit: usize) -> Vec<T> {
    futures::stream::iter(jobs)
        .buffer_unordered(limit.max(1))
        .collect()
        .await
}

/// Stages of these runs, each from the provider that served the run, `limit` at a time.
pub async fn stages(
    providers: &[Arc<dyn Pipelines>],
    runs: Vec<(Arc<Run>, usize)>,
    limit: usize,
) -> Vec<(String, Lookup<Vec<Stage>>)> {
    let mut jobs: Vec<BoxFuture<'static, (String, Lookup<Vec<Stage>>)>> = Vec::new();
    for (run, index) in runs {
        let provider = providers[index].clone();
        jobs.push(Box::pin(async move {
            let got = lookup(&provider.name(), provider.stages(&run)).await;
            (run.id.clone(), got)
        }));
    }
    bounded(jobs, limit).await
}

/// Says once, for `count` objects of `repo`, that no provider contacts its host: a token is
/// sent only to the hosts its provider was configured for.
fn not_contacted(repo: &RepoRef, subject: Subject, count: usize) {
    let kind = match repo.provider {
        RepoHost::AzureDevOps => "azure-devops",
        RepoHost::GitHub => "github",
        RepoHost::GitLab => "gitlab",
    };
    notice(Notice {
        subject,
        count,
        reason: Reason::new(
            &format!("{kind} {}", repo.host),
            "not contacted: host not configured",
        ),
    });
}

/// Which repository provider serves `repo`: the first that says so.
pub fn provider_for<'a>(
    providers: &'a [Arc<dyn Repositories>],
    repo: &RepoRef,
) -> Option<&'a Arc<dyn Repositories>> {
    providers.iter().find(|p| p.serves_repo(repo))
}

/// Looks items (commits or pull requests) up per repository, one batched call per
/// repository, `limit` repositories at a time. Items asked for and not returned are
/// [`Lookup::Missing`]; a failed call marks its items [`Lookup::Failed`].
pub async fn per_repo<T: Send + 'static>(
    providers: &[Arc<dyn Repositories>],
    wanted: BTreeMap<String, (RepoRef, Vec<String>)>,
    limit: usize,
    fetch: ItemCall<T>,
    subject: Subject,
) -> Vec<ItemLookup<T>> {
    let mut jobs: Vec<BoxFuture<'static, Vec<ItemLookup<T>>>> = Vec::new();
    for (key, (repo, ids)) in wanted {
        let Some(provider) = provider_for(providers, &repo) else {
            not_contacted(&repo, subject, ids.len());
            continue;
        };
        let name = provider.name();
        let fut = fetch(provider.clone(), repo, ids.clone());
        jobs.push(Box::pin(async move {
            match call(&name, fut).await {
                Ok(mut found) => ids
                    .into_iter()
                    .map(|id| {
                        let got = found.remove(&id).map_or(Lookup::Missing, Lookup::Found);
                        ((key.clone(), id), got)
                    })
                    .collect(),
                Err(why) => ids
                    .into_iter()
                    .map(|id| ((key.clone(), id), Lookup::Failed(why.clone())))
                    .collect(),
            }
        }));
    }
    bounded(jobs, limit).await.into_iter().flatten().collect()
}

/// The lookup of one item: ((repository key, id), what was found).
pub type ItemLookup<T> = ((String, String), Lookup<T>);

/// One batched call of a repository provider for a list of ids.
pub type ItemCall<T> = fn(
    Arc<dyn Repositories>,
    RepoRef,
    Vec<String>,
) -> BoxFuture<'static, crate::Result<HashMap<String, T>>>;

/// [`ItemCall`] for commit authors.
pub fn authors_call(
    p: Arc<dyn Repositories>,
    repo: RepoRef,
    ids: Vec<String>,
) -> BoxFuture<'static, crate::Result<HashMap<String, Author>>> {
    Box::pin(async move { p.authors(&repo, &ids).await })
}

/// [`ItemCall`] for pull requests.
pub fn pull_requests_call(
    p: Arc<dyn Repositories>,
    repo: RepoRef,
    ids: Vec<String>,
) -> BoxFuture<'static, crate::Result<HashMap<String, PullRequest>>> {
    Box::pin(async move { p.pull_requests(&repo, &ids).await })
}

/// Sync tags of each manifest repository, from the provider serving it, `limit` at a time.
pub async fn sync_tags(
    providers: &[Arc<dyn Repositories>],
    repos: Vec<(String, RepoRef)>,
    limit: usize,
) -> Vec<(String, Lookup<Vec<ClusterSync>>)> {
    let mut jobs: Vec<BoxFuture<'static, (String, Lookup<Vec<ClusterSync>>)>> = Vec::new();
    for (key, repo) in repos {
        let Some(p) = provider_for(providers, &repo).cloned() else {
            not_contacted(&repo, Subject::SyncTags, 1);
            continue;
        };
        jobs.push(Box::pin(async move {
            let got = lookup(&p.name(), p.sync_tags(&repo)).await;
            (key, got)
        }));
    }
    bounded(jobs, limit).await
}

/// The histories of these repositories' default branches
/// ([`Repositories::commit_orders`]): one call per provider for all the repositories it
/// serves, at once, each cut to [`crate::provider::MAX_COMMIT_ORDER`] commits. Repositories
/// no provider serves, or whose provider offers no histories, are left out; a failed call is
/// logged and leaves its repositories out (their commits keep their records' order).
pub async fn commit_orders(
    providers: &[Arc<dyn Repositories>],
    repos: Vec<(String, RepoRef)>,
) -> Vec<(String, Vec<String>)> {
    let mut per_provider: BTreeMap<usize, Vec<(String, RepoRef)>> = BTreeMap::new();
    for (key, repo) in repos {
        if let Some(at) = providers.iter().position(|p| p.serves_repo(&repo)) {
            per_provider.entry(at).or_default().push((key, repo));
        }
    }
    let calls = per_provider.into_iter().map(|(at, wanted)| async move {
        let provider = &providers[at];
        let name = provider.name();
        let repos: Vec<RepoRef> = wanted.iter().map(|(_, r)| r.clone()).collect();
        match call(&name, provider.commit_orders(&repos)).await {
            Ok(Some(mut found)) => wanted
                .into_iter()
                .filter_map(|(key, repo)| {
                    let mut commits = found.remove(&repo.key())?;
                    commits.truncate(crate::provider::MAX_COMMIT_ORDER);
                    Some((key, commits))
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(why) => {
                tracing::warn!(
                    "{why}: history of {} repositories not read; their commits keep the order of their records",
                    wanted.len()
                );
                Vec::new()
            }
        }
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    use std::sync::Arc;

    use super::runs;
    use crate::correlate::join::Lookup;
    use crate::model::run::{Run, RunKind, RunStatus};
    use crate::provider::Pipelines;
    use crate::testkit::{FakeCi, requests};

    #[tokio::test]
    async fn not_found_is_believed_only_from_a_batch_that_found_a_run() {
        let ci = Arc::new(FakeCi::new());
        let chain: Vec<Arc<dyn Pipelines>> = vec![ci.clone()];
        let (_, out, _) = runs(&chain, RunKind::Build, requests(&["7", "8"])).await;
        for id in ["7", "8"] {
            match &out[id] {
                Lookup::Failed(why) => assert_eq!(
                    why.to_string(),
                    "fake ci: not found, nor any other run asked for: check the project and \
                     the token",
                    "run {id}"
                ),
                other => panic!("run {id}: {other:?}"),
            }
        }

        ci.set(Run::new("7", RunKind::Build, RunStatus::Completed));
        let (_, out, served_by) = runs(&chain, RunKind::Build, requests(&["7", "8"])).await;
        assert!(matches!(&out["7"], Lookup::Found(r) if r.id == "7"));
        assert_eq!(out["8"], Lookup::Missing, "the batch saw the project");
        assert_eq!(served_by.get("7"), Some(&0));
    }
}
