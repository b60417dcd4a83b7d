//! [`AzureRepos`]: commit authors, approval pull requests and Flux sync tags of Azure Repos.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};
use spektate_core::fields::non_empty_text;
use spektate_core::http::{HttpClient, Method, Policy, Request, Secret};
use spektate_core::model::run::strip_ref;
use spektate_core::model::url::without_credentials;
use spektate_core::url_encode::{path, query_value, segment};
use spektate_core::warnings::{self, Notice, Reason, Subject};
use spektate_core::{
    Author, ClusterSync, DEFAULT_SYNC_TAG_PREFIX, Error, PullRequest, RepoHost, RepoRef,
    Repositories, Result, check_sync_tag_prefix, commits_match,
};

use crate::api::{self, DEFAULT_URL, parse_time, versions};

/// Commits per `commitsbatch` request.
const COMMITS_PER_BATCH: usize = 100;
/// Up to this many pull requests are fetched one by one; more go through the list API.
const PR_SINGLE_MAX: usize = 3;
/// Pull requests per page of the list API.
const PR_PAGE: usize = 1000;
/// Pages of pull requests (or refs) read at most per call.
const MAX_PAGES: usize = 20;
use spektate_core::MAX_SYNC_TAGS;

/// Azure Repos of an organisation (or several): commit authors through the commits batch
/// API, pull requests one by one or through the list API when many are wanted, and the
/// clusters Flux marked with `flux-<cluster>` annotated tags (or another prefix).
///
/// Annotated tag objects never change, so each is fetched once per provider, and once for
/// every process sharing an answers cache ([`Repositories::use_answers_cache`]).
#[derive(Debug)]
pub struct AzureRepos {
    http: HttpClient,
    base_url: String,
    /// The host (with port) the base URL names: the only one the token is sent to.
    host: String,
    /// The prefix of sync tags; the rest of the tag name is the cluster.
    tag_prefix: String,
    tags: Mutex<HashMap<String, TagTarget>>,
    /// Where annotated tag objects are kept across processes, once a tracker hands it over.
    kept: KeptTags,
}

/// The answers cache annotated tag objects are kept in, if any.
#[derive(Default)]
struct KeptTags(std::sync::OnceLock<std::sync::Arc<dyn spektate_core::cache::AnswersCache>>);

impl std::fmt::Debug for KeptTags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.get().map_or("none".into(), |c| c.describe()))
    }
}

/// What an annotated tag (or a lightweight tag's object) points at.
#[derive(Debug, Clone)]
struct TagTarget {
    commit: String,
    date: Option<chrono::DateTime<chrono::Utc>>,
    tagger: Option<String>,
}

impl TagTarget {
    /// What an annotated tag object says, its tagger else the ref's creator.
    fn of(object: spektate_core::cache::TagObject, creator: Option<String>) -> Self {
        TagTarget {
            commit: object.target,
            date: object.date,
            tagger: object.tagger.or(creator),
        }
    }
}

/// Builds an [`AzureRepos`] provider.
#[derive(Debug, Clone)]
pub struct AzureReposBuilder {
    token: Option<Secret>,
    base_url: String,
    policy: Policy,
    tag_prefix: String,
}

impl AzureReposBuilder {
    /// The personal access token (sent as basic auth with an empty user).
    pub fn token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// Where `dev.azure.com` and `*.visualstudio.com` repositories are read (default
    /// `https://dev.azure.com`): the organisation name is appended. Repositories of other
    /// hosts (Azure DevOps Server) are read at their own collection URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Timeouts, retries and concurrency (default: 30 s, 4 retries, 8 requests at once).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The prefix of sync tags (default [`DEFAULT_SYNC_TAG_PREFIX`], `flux-`); the rest of the
    /// tag name is the cluster's.
    pub fn sync_tag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tag_prefix = prefix.into();
        self
    }

    /// The provider; an error names a malformed base URL or a sync tag prefix
    /// [`check_sync_tag_prefix`] refuses.
    pub fn build(self) -> Result<AzureRepos> {
        let base_url = api::org_url("Azure DevOps URL", &self.base_url)?;
        check_sync_tag_prefix(&self.tag_prefix)?;
        let name = format!(
            "azure-repos {}",
            base_url
                .split_once("://")
                .map_or(base_url.as_str(), |(_, r)| r)
        );
        let http = api::client(&name, self.token.as_ref(), self.policy)?;
        let host = configured_host(&base_url);
        Ok(AzureRepos {
            http,
            base_url,
            host,
            tag_prefix: self.tag_prefix,
            tags: Mutex::new(HashMap::new()),
            kept: KeptTags::default(),
        })
    }
}

/// Whether `host` is Azure DevOps Services (whose repositories are asked at the configured URL).
fn is_cloud(host: &str) -> bool {
    host == "dev.azure.com" || host.ends_with(".visualstudio.com")
}

/// The lower-cased `host[:port]` of an http(s) URL, without user info.
fn configured_host(url: &str) -> String {
    let bare = without_credentials(url);
    let rest = bare.split_once("://").map_or(bare.as_str(), |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

impl AzureRepos {
    /// A builder.
    pub fn builder() -> AzureReposBuilder {
        AzureReposBuilder {
            token: None,
            base_url: DEFAULT_URL.to_string(),
            policy: Policy::default(),
            tag_prefix: DEFAULT_SYNC_TAG_PREFIX.to_string(),
        }
    }

    /// Azure Repos of `dev.azure.com` with a personal access token.
    pub fn new(token: Secret) -> Result<Self> {
        Self::builder().token(token).build()
    }

    /// Whether `repo` is an Azure Repos repository this provider contacts: a cloud one
    /// (`dev.azure.com`, `*.visualstudio.com`), asked at the configured URL, or one on the
    /// configured Server's host. The token is sent nowhere else.
    pub fn serves_host(&self, repo: &RepoRef) -> bool {
        repo.provider == RepoHost::AzureDevOps && (is_cloud(&repo.host) || repo.host == self.host)
    }

    /// The Git API URL of `repo`: `{org}/{project}/_apis/git/repositories/{name}`, on the
    /// configured host and scheme; a repository elsewhere is refused.
    pub fn repo_api_url(&self, repo: &RepoRef) -> Result<String> {
        if repo.provider != RepoHost::AzureDevOps {
            return Err(Error::invalid(
                "repository",
                format!("'{}' is not an Azure Repos repository", repo.web_url()),
            ));
        }
        if !self.serves_host(repo) {
            return Err(Error::invalid(
                "repository",
                format!(
                    "'{}' is not contacted: host {} is not configured (Azure DevOps URL {})",
                    repo.web_url(),
                    repo.host,
                    self.base_url
                ),
            ));
        }
        let host = repo.host.as_str();
        let org = if is_cloud(host) {
            format!("{}/{}", self.base_url, segment(&repo.owner))
        } else {
            let scheme = self.base_url.split_once("://").map_or("https", |(s, _)| s);
            format!("{scheme}://{host}/{}", path(&repo.owner))
        };
        let project = repo.project.as_deref().unwrap_or(&repo.name);
        Ok(format!(
            "{org}/{}/_apis/git/repositories/{}",
            segment(project),
            segment(&repo.name)
        ))
    }

    /// Checks that `repo` exists and the token may read it; returns its web URL.
    pub async fn check(&self, repo: &RepoRef) -> Result<String> {
        let url = format!("{}?api-version={}", self.repo_api_url(repo)?, versions::GIT);
        let body: Value = api::get_json(&self.http, &url, "get repository", &repo.key()).await?;
        Ok(non_empty_text(body.get("webUrl")).unwrap_or_else(|| repo.web_url()))
    }

    /// Succeeds when `repo` can be read. Azure Repos answers 404 both for an item it does not
    /// have and for a repository the token cannot read; when nothing asked for was found, this
    /// one request tells the two apart, so an unreadable repository is an error rather than
    /// every object missing.
    async fn readable(&self, repo: &RepoRef) -> Result<()> {
        AzureRepos::check(self, repo).await.map(|_| ())
    }

    /// The commits `ids` of `repo` through one `commitsbatch` request; `None` when the
    /// service refuses the batch (one unknown commit fails all of it), with one [`Notice`]
    /// that the caller then asks for each commit on its own.
    ///
    /// The body is a `GitQueryCommitsCriteria` with `ids`, which may not be combined with
    /// other criteria, and `includeUserImageUrl`, without which authors come back without
    /// their avatars.
    async fn commits_batch(
        &self,
        repo: &RepoRef,
        base: &str,
        ids: &[String],
    ) -> Result<Option<Vec<Value>>> {
        let url = format!(
            "{base}/commitsbatch?api-version={}&$top={}",
            versions::GIT,
            ids.len()
        );
        let object = format!("{} commits {}", repo.key(), ids.join(","));
        let body = json!({"ids": ids, "includeUserImageUrl": true});
        let req = Request::new(Method::POST, url, "get commits", &object)
            .json(&body)
            .pass(&[400, 404]);
        let resp = api::send(&self.http, req, "get commits", &object).await?;
        if resp.status == 400 || resp.status == 404 {
            let said = serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|v| non_empty_text(v.get("message")))
                .map(|m| m.chars().take(200).collect::<String>())
                .unwrap_or_default();
            tracing::debug!(
                "{}: get commits {}: batch refused: {said}",
                self.http.provider(),
                repo.key()
            );
            warnings::notice(Notice {
                subject: Subject::Author,
                count: ids.len(),
                reason: Reason::new(
                    self.http.provider(),
                    &format!(
                        "the commits batch was refused (HTTP {}); asked for each commit on its own",
                        resp.status
                    ),
                ),
            });
            return Ok(None);
        }
        Ok(Some(api::list_values(
            &resp.body,
            ids.len(),
            &self.http,
            "get commits",
            &object,
        )?))
    }

    async fn commit(&self, repo: &RepoRef, base: &str, id: &str) -> Result<Option<Value>> {
        let url = format!(
            "{base}/commits/{}?api-version={}",
            segment(id),
            versions::GIT
        );
        let object = format!("{} commit {id}", repo.key());
        let req = Request::get(url, "get commit", &object).pass(&[400, 404]);
        let resp = api::send(&self.http, req, "get commit", &object).await?;
        if resp.status == 400 || resp.status == 404 {
            return Ok(None);
        }
        resp.json().map(Some)
    }

    async fn pull_request(&self, repo: &RepoRef, base: &str, id: u64) -> Result<Option<Value>> {
        let url = format!("{base}/pullrequests/{id}?api-version={}", versions::GIT);
        let object = format!("{} pull request {id}", repo.key());
        let req = Request::get(url, "get pull request", &object).pass(&[404]);
        let resp = api::send(&self.http, req, "get pull request", &object).await?;
        if resp.status == 404 {
            return Ok(None);
        }
        resp.json().map(Some)
    }

    /// Pages through the pull request list (newest first) until every id in `wanted` is
    /// seen, the list ends, or it reaches pull requests older than the oldest wanted.
    async fn list_pull_requests(
        &self,
        repo: &RepoRef,
        base: &str,
        wanted: &BTreeSet<u64>,
    ) -> Result<HashMap<u64, Value>> {
        let mut found = HashMap::new();
        let Some(&oldest) = wanted.first() else {
            return Ok(found);
        };
        let mut skip = 0usize;
        for _ in 0..MAX_PAGES {
            let url = format!(
                "{base}/pullrequests?searchCriteria.status=all&$top={PR_PAGE}&$skip={skip}&api-version={}",
                versions::GIT
            );
            let object = format!("{} pull requests from {skip}", repo.key());
            let req = Request::get(&url, "list pull requests", &object);
            let resp = api::send(&self.http, req, "list pull requests", &object).await?;
            let page = api::list_values(
                &resp.body,
                PR_PAGE,
                &self.http,
                "list pull requests",
                &object,
            )?;
            if page.is_empty() {
                break;
            }
            skip += page.len();
            let mut lowest = u64::MAX;
            for pr in page {
                let Some(id) = pr.get("pullRequestId").and_then(Value::as_u64) else {
                    continue;
                };
                lowest = lowest.min(id);
                if wanted.contains(&id) {
                    found.insert(id, pr);
                }
            }
            if found.len() == wanted.len() || lowest <= oldest {
                break;
            }
        }
        Ok(found)
    }

    /// Puts the annotated tag objects of `flux` the answers cache holds into the memo.
    async fn kept_tag_objects(&self, repo: &RepoRef, flux: &[(String, String, Option<String>)]) {
        let Some(cache) = self.kept.0.get() else {
            return;
        };
        let repo_key = repo.key();
        let unknown: Vec<String> = {
            let memo = self.tags.lock().unwrap_or_else(|p| p.into_inner());
            flux.iter()
                .map(|(_, object_id, _)| object_id.clone())
                .filter(|id| !memo.contains_key(&format!("{repo_key}/{id}")))
                .collect()
        };
        let kept = spektate_core::cache::tag_objects::find(cache, &repo_key, &unknown).await;
        let mut memo = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        for (_, object_id, creator) in flux {
            if let Some(object) = kept.get(object_id) {
                memo.insert(
                    format!("{repo_key}/{object_id}"),
                    TagTarget::of(object.clone(), creator.clone()),
                );
            }
        }
    }

    /// Forgets the tag objects of `repo` that its listing no longer names: the memo holds
    /// what its sync tags point at now, not every object they ever pointed at.
    fn forget_tags_but(&self, repo: &RepoRef, listed: &[(String, String, Option<String>)]) {
        let prefix = format!("{}/", repo.key());
        let named: std::collections::HashSet<String> = listed
            .iter()
            .map(|(_, object_id, _)| format!("{prefix}{object_id}"))
            .collect();
        self.tags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|key, _| !key.starts_with(&prefix) || named.contains(key));
    }

    async fn tag_target(
        &self,
        repo: &RepoRef,
        base: &str,
        object_id: &str,
        creator: Option<String>,
    ) -> Result<TagTarget> {
        let key = format!("{}/{object_id}", repo.key());
        if let Some(t) = self
            .tags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(t.clone());
        }
        let url = format!(
            "{base}/annotatedtags/{}?api-version={}",
            segment(object_id),
            versions::ANNOTATED_TAGS
        );
        let object = format!("{} tag object {object_id}", repo.key());
        let req = Request::get(url, "get annotated tag", &object).pass(&[404]);
        let resp = api::send(&self.http, req, "get annotated tag", &object).await?;
        let target = if resp.status == 404 {
            // A lightweight tag: the ref points straight at the commit.
            TagTarget {
                commit: object_id.to_string(),
                date: None,
                tagger: creator,
            }
        } else {
            let tag: Value = resp.json()?;
            let commit = tag
                .pointer("/taggedObject/objectId")
                .and_then(|v| non_empty_text(Some(v)))
                .ok_or_else(|| {
                    Error::provider(
                        self.http.provider(),
                        "get annotated tag",
                        &object,
                        "malformed response body: no taggedObject",
                    )
                })?;
            let object = spektate_core::cache::TagObject {
                target: commit.to_lowercase(),
                target_is_tag: false,
                tagger: tag
                    .pointer("/taggedBy/name")
                    .and_then(|v| non_empty_text(Some(v))),
                date: parse_time(tag.pointer("/taggedBy/date")),
            };
            if let Some(cache) = self.kept.0.get() {
                let kept = vec![(object_id.to_string(), object.clone())];
                spektate_core::cache::tag_objects::keep(cache, &repo.key(), kept).await;
            }
            TagTarget::of(object, creator)
        };
        self.tags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, target.clone());
        Ok(target)
    }
}

fn identity(v: Option<&Value>) -> Option<Author> {
    let v = v?;
    let name = non_empty_text(v.get("displayName"))?;
    Some(Author {
        name,
        email: non_empty_text(v.get("uniqueName")),
        login: None,
        avatar_url: non_empty_text(v.get("imageUrl")).or_else(|| {
            v.pointer("/_links/avatar/href")
                .and_then(|h| non_empty_text(Some(h)))
        }),
        url: None,
        committed_at: None,
    })
}

/// A commit (`GitCommitRef`) as its author.
pub fn commit_author(repo: &RepoRef, commit: &Value) -> Option<Author> {
    let person = commit.get("author").or_else(|| commit.get("committer"))?;
    let email = non_empty_text(person.get("email"));
    let name = non_empty_text(person.get("name")).or_else(|| email.clone())?;
    let sha = non_empty_text(commit.get("commitId"));
    Some(Author {
        name,
        email,
        login: None,
        avatar_url: non_empty_text(person.get("imageUrl")),
        url: non_empty_text(commit.get("remoteUrl")).or_else(|| sha.map(|s| repo.commit_url(&s))),
        committed_at: parse_time(commit.pointer("/committer/date"))
            .or_else(|| parse_time(person.get("date"))),
    })
}

/// A `GitPullRequest` as a [`PullRequest`]; `closedBy` is who merged it.
pub fn pull_request(repo: &RepoRef, pr: &Value) -> Option<PullRequest> {
    let id = non_empty_text(pr.get("pullRequestId"))?;
    let status = pr
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let merged = status == "completed";
    let web = pr
        .pointer("/repository/webUrl")
        .and_then(|v| non_empty_text(Some(v)))
        .map(|w| format!("{}/pullrequest/{id}", w.trim_end_matches('/')))
        .unwrap_or_else(|| repo.pull_request_url(&id));
    Some(PullRequest {
        title: non_empty_text(pr.get("title")).unwrap_or_default(),
        description: non_empty_text(pr.get("description")),
        source_branch: non_empty_text(pr.get("sourceRefName")).map(|b| strip_ref(&b)),
        target_branch: non_empty_text(pr.get("targetRefName")).map(|b| strip_ref(&b)),
        merged,
        merged_by: if merged {
            identity(pr.get("closedBy"))
        } else {
            None
        },
        merged_at: parse_time(pr.get("closedDate")),
        closed: status == "abandoned",
        url: Some(web),
        id,
    })
}

#[async_trait]
impl Repositories for AzureRepos {
    fn name(&self) -> String {
        self.http.provider().to_string()
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        self.serves_host(repo)
    }

    async fn check_repo(&self, repo: &RepoRef) -> Result<String> {
        AzureRepos::check(self, repo)
            .await
            .map(|_| "repository readable".to_string())
    }

    async fn authors(&self, repo: &RepoRef, commits: &[String]) -> Result<HashMap<String, Author>> {
        let base = self.repo_api_url(repo)?;
        let wanted: Vec<String> = commits
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let jobs = wanted.chunks(COMMITS_PER_BATCH).map(|chunk| {
            let base = &base;
            async move {
                match self.commits_batch(repo, base, chunk).await? {
                    Some(list) => Ok(list),
                    None => {
                        let singles = chunk.iter().map(|id| self.commit(repo, base, id));
                        let got = futures::future::try_join_all(singles).await?;
                        Ok::<_, Error>(got.into_iter().flatten().collect())
                    }
                }
            }
        });
        let lists = futures::future::try_join_all(jobs).await?;
        let mut out = HashMap::new();
        for commit in lists.iter().flatten() {
            let Some(sha) = non_empty_text(commit.get("commitId")) else {
                continue;
            };
            let Some(author) = commit_author(repo, commit) else {
                continue;
            };
            for id in wanted.iter().filter(|id| commits_match(id, &sha)) {
                out.insert(id.clone(), author.clone());
            }
        }
        if out.is_empty() && !wanted.is_empty() {
            self.readable(repo).await?;
        }
        Ok(out)
    }

    async fn pull_requests(
        &self,
        repo: &RepoRef,
        ids: &[String],
    ) -> Result<HashMap<String, PullRequest>> {
        let base = self.repo_api_url(repo)?;
        let mut by_number: HashMap<u64, Vec<String>> = HashMap::new();
        for id in ids {
            if let Ok(n) = id.trim().parse::<u64>() {
                by_number.entry(n).or_default().push(id.clone());
            }
        }
        let wanted: BTreeSet<u64> = by_number.keys().copied().collect();
        let mut found: HashMap<u64, Value> = HashMap::new();
        if wanted.len() > PR_SINGLE_MAX {
            found = self.list_pull_requests(repo, &base, &wanted).await?;
        }
        let rest: Vec<u64> = wanted
            .iter()
            .filter(|n| !found.contains_key(n))
            .copied()
            .collect();
        let singles = rest.iter().map(|n| self.pull_request(repo, &base, *n));
        for (n, pr) in rest
            .iter()
            .zip(futures::future::try_join_all(singles).await?)
        {
            if let Some(pr) = pr {
                found.insert(*n, pr);
            }
        }
        let mut out = HashMap::new();
        for (n, pr) in found {
            let Some(pr) = pull_request(repo, &pr) else {
                continue;
            };
            for id in by_number.remove(&n).unwrap_or_default() {
                out.insert(id, pr.clone());
            }
        }
        if out.is_empty() && !wanted.is_empty() {
            self.readable(repo).await?;
        }
        Ok(out)
    }

    /// One `commits` request per repository, all at once.
    async fn commit_orders(
        &self,
        repos: &[RepoRef],
    ) -> Result<Option<HashMap<String, Vec<String>>>> {
        crate::history::all(repos, |repo| async move {
            let base = self.repo_api_url(repo)?;
            crate::history::history(&self.http, repo, &base).await
        })
        .await
        .map(Some)
    }

    fn use_answers_cache(&self, cache: &std::sync::Arc<dyn spektate_core::cache::AnswersCache>) {
        let _ = self.kept.0.set(cache.clone());
    }

    async fn sync_tags(&self, repo: &RepoRef) -> Result<Vec<ClusterSync>> {
        let base = self.repo_api_url(repo)?;
        let first = format!(
            "{base}/refs?filter={}&api-version={}",
            query_value(&format!("tags/{}", self.tag_prefix)),
            versions::GIT
        );
        let object = format!("{} tags", repo.key());
        // Each cluster's tag once, and at most MAX_SYNC_TAGS of them: each may cost a request.
        let mut clusters = std::collections::HashSet::new();
        let keep = |r: Value| {
            let name = non_empty_text(r.get("name"))?;
            let cluster = name
                .strip_prefix("refs/tags/")?
                .strip_prefix(self.tag_prefix.as_str())
                .filter(|c| !c.is_empty())?
                .to_string();
            // A git object id, or no tag: it goes into a URL path.
            let object_id = non_empty_text(r.get("objectId"))?.to_lowercase();
            let hex = object_id.bytes().all(|b| b.is_ascii_hexdigit());
            if !(hex && matches!(object_id.len(), 40 | 64)) {
                return None;
            }
            let creator = r
                .get("creator")
                .and_then(|c| non_empty_text(c.get("displayName")));
            clusters
                .insert(cluster.clone())
                .then_some((cluster, object_id, creator))
        };
        let flux: Vec<(String, String, Option<String>)> = api::pages(
            &self.http,
            &first,
            MAX_PAGES,
            "list refs",
            &object,
            MAX_SYNC_TAGS + 1,
            keep,
        )
        .await?;
        if flux.len() > MAX_SYNC_TAGS {
            return Err(Error::provider(
                self.http.provider(),
                "list refs",
                &object,
                format!("more than {MAX_SYNC_TAGS} sync tags"),
            ));
        }
        self.kept_tag_objects(repo, &flux).await;
        self.forget_tags_but(repo, &flux);
        let targets = futures::future::try_join_all(flux.iter().map(|(_, object_id, creator)| {
            self.tag_target(repo, &base, object_id, creator.clone())
        }))
        .await?;
        Ok(flux
            .into_iter()
            .zip(targets)
            .map(|((cluster, _, _), t)| ClusterSync {
                cluster,
                commit: t.commit,
                synced_at: t.date,
                tagger: t.tagger,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_of_cloud_and_server_repositories() {
        let p = AzureRepos::builder()
            .base_url("http://127.0.0.1:9/")
            .build()
            .unwrap();
        let cloud =
            RepoRef::parse("https://dev.azure.com/fabrikam/Hello%20World/_git/hld").unwrap();
        assert_eq!(
            p.repo_api_url(&cloud).unwrap(),
            "http://127.0.0.1:9/fabrikam/hello%20world/_apis/git/repositories/hld"
        );
        let server =
            RepoRef::parse("https://tfs.corp.local/tfs/DefaultCollection/Ops/_git/manifests")
                .unwrap();
        assert!(
            !p.serves_repo(&server),
            "a host nobody configured is not contacted"
        );
        let e = p.repo_api_url(&server).unwrap_err().to_string();
        assert!(
            e.contains("not contacted") && e.contains("tfs.corp.local"),
            "{e}"
        );
        let on_server = AzureRepos::builder()
            .base_url("https://TFS.corp.local/tfs")
            .build()
            .unwrap();
        assert!(on_server.serves_repo(&server));
        assert_eq!(
            on_server.repo_api_url(&server).unwrap(),
            "https://tfs.corp.local/tfs/defaultcollection/ops/_apis/git/repositories/manifests"
        );
        let downgraded =
            RepoRef::parse("http://tfs.corp.local/tfs/DefaultCollection/Ops/_git/manifests")
                .unwrap();
        assert!(
            on_server
                .repo_api_url(&downgraded)
                .unwrap()
                .starts_with("https://"),
            "the configured scheme is used, not the record's"
        );
        let elsewhere = RepoRef::parse("http://any.host/o/p/_git/r").unwrap();
        assert!(!on_server.serves_repo(&elsewhere) && !p.serves_repo(&elsewhere));
        let gh = RepoRef::parse("https://github.com/fabrikam/frontend").unwrap();
        assert!(!p.serves_repo(&gh));
        assert!(
            p.repo_api_url(&gh)
                .unwrap_err()
                .to_string()
                .contains("not an Azure Repos repository")
        );
    }
}
