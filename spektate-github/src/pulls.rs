//! Pull requests, with a change probe so an unchanged repository costs one 304.
//!
//! Before looking pull requests up, the repository's most recently updated pull request is
//! asked for (`GET /pulls?state=all&sort=updated&direction=desc&per_page=1`) with the ETag of
//! the last answer. Any change to any pull request (a merge, a new title, a comment) puts it
//! first and changes that answer; a 304 therefore means none of them changed, and the pull
//! requests read since the previous probe are still right.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use spektate_core::cache::ProbedMemo;
use spektate_core::fields::non_empty;
use spektate_core::{Author, Error, PullRequest, RepoRef, Result};

use crate::client::{Fetched, GitHub};
use crate::graphql::{self, Lookup};
use crate::payloads::Pull;

/// Pull requests read, per repository, under the generation of its change probe.
pub(crate) type PullMemo = ProbedMemo<PullRequest>;

/// A pull request number: a positive integer GraphQL's `Int` can carry.
pub(crate) fn number(id: &str) -> Option<u64> {
    let n: u64 = id.trim().trim_start_matches('#').parse().ok()?;
    (n > 0 && n <= i32::MAX as u64).then_some(n)
}

/// These pull requests of `repo`, by id as given; unknown ones are left out.
pub(crate) async fn pull_requests(
    gh: &GitHub,
    memo: &PullMemo,
    repo: &RepoRef,
    ids: &[String],
) -> Result<HashMap<String, PullRequest>> {
    let mut wanted: Vec<(String, u64)> = Vec::new();
    let mut seen = HashSet::new();
    for id in ids {
        match number(id) {
            Some(n) if seen.insert(n) => wanted.push((id.clone(), n)),
            Some(_) => {}
            None => tracing::warn!(
                "{}: skipping pull request '{id}' of {}: not a pull request number",
                gh.label(),
                repo.key()
            ),
        }
    }
    let mut out = HashMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let generation = probe(gh, memo, repo).await?;
    let key = repo.key();
    let mut todo: Vec<(String, u64)> = Vec::new();
    for (id, n) in wanted {
        match generation.and_then(|g| memo.get(&key, g, n)) {
            Some(Some(pr)) => {
                out.insert(id.clone(), PullRequest { id, ..pr });
            }
            Some(None) => {}
            None => todo.push((id, n)),
        }
    }
    if todo.is_empty() {
        return Ok(out);
    }
    let mut fetched: HashMap<u64, PullRequest> = HashMap::new();
    let mut rest: Vec<u64> = todo.iter().map(|(_, n)| *n).collect();
    if gh.has_graphql() && todo.len() > 1 {
        let items: Vec<(u64, Value)> = todo.iter().map(|(_, n)| (*n, json!(n))).collect();
        let (found, fallback) = graphql::lookup_all(gh, Lookup::Pulls, Some(repo), &items).await?;
        for (n, obj) in found {
            if let Some(pr) = from_graphql(&obj) {
                fetched.insert(n, pr);
            }
        }
        rest = fallback;
    }
    let singles = rest
        .iter()
        .map(|n| async move { (*n, rest_pull(gh, repo, *n).await) });
    for (n, got) in futures::future::join_all(singles).await {
        if let Some(pr) = got? {
            fetched.insert(n, pr);
        }
    }
    if let Some(g) = generation {
        let read = todo.iter().map(|(_, n)| (*n, fetched.get(n).cloned()));
        memo.keep(&key, g, read.collect());
    }
    for (id, n) in todo {
        if let Some(pr) = fetched.remove(&n) {
            out.insert(id.clone(), PullRequest { id, ..pr });
        }
    }
    Ok(out)
}

/// Probes the repository's pull requests for change: the generation under which
/// remembered pull requests are current, or `None` when the probe could not tell.
async fn probe(gh: &GitHub, memo: &PullMemo, repo: &RepoRef) -> Result<Option<u64>> {
    let url = gh.repo_url(
        repo,
        "/pulls?state=all&sort=updated&direction=desc&per_page=1",
    )?;
    match gh.get_cached(&url, "list pull requests", &repo.key()).await {
        Ok(Fetched::Body { revalidated, .. }) => Ok(Some(memo.probed(&repo.key(), !revalidated))),
        Ok(Fetched::NotFound(_)) => Err(Error::provider(
            gh.label(),
            "list pull requests",
            repo.key(),
            "the repository was not found, or the token cannot read it",
        )),
        Err(e @ Error::Provider { auth: true, .. }) => Err(e),
        Err(e) => {
            tracing::warn!("{e}; reading the pull requests again");
            Ok(None)
        }
    }
}

async fn rest_pull(gh: &GitHub, repo: &RepoRef, n: u64) -> Result<Option<PullRequest>> {
    let url = gh.repo_url(repo, &format!("/pulls/{n}"))?;
    let object = format!("{} pull request {n}", repo.key());
    match gh.get_cached(&url, "get pull request", &object).await? {
        Fetched::NotFound(_) => Ok(None),
        Fetched::Body { body, .. } => Ok(Some(from_rest(&gh.parse(
            &body,
            "get pull request",
            &object,
        )?))),
    }
}

/// A REST pull request.
pub(crate) fn from_rest(p: &Pull) -> PullRequest {
    let merged = p.merged.unwrap_or(p.merged_at.is_some());
    PullRequest {
        id: p.number.to_string(),
        title: p.title.clone(),
        description: non_empty(p.body.as_deref()),
        source_branch: Some(p.head.branch.clone()),
        target_branch: Some(p.base.branch.clone()),
        merged,
        merged_by: p.merged_by.as_ref().map(|u| Author {
            name: u.login.clone(),
            email: None,
            login: Some(u.login.clone()),
            avatar_url: u.avatar_url.clone(),
            url: u.html_url.clone(),
            committed_at: None,
        }),
        merged_at: p.merged_at.or(p.closed_at),
        closed: p.state.eq_ignore_ascii_case("closed") && !merged,
        url: p.html_url.clone(),
    }
}

/// A GraphQL `PullRequest`; `None` when the object is not one.
pub(crate) fn from_graphql(obj: &Value) -> Option<PullRequest> {
    let s = |k: &str| non_empty(obj.get(k).and_then(Value::as_str));
    let time = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
    };
    let number = obj.get("number")?.as_u64()?;
    let merged = obj.get("merged").and_then(Value::as_bool).unwrap_or(false);
    let merged_by = obj.get("mergedBy").filter(|m| !m.is_null()).map(|m| {
        let ms = |k: &str| non_empty(m.get(k).and_then(Value::as_str));
        let login = ms("login");
        Author {
            name: ms("name").or_else(|| login.clone()).unwrap_or_default(),
            email: ms("email"),
            login,
            avatar_url: ms("avatarUrl"),
            url: ms("url"),
            committed_at: None,
        }
    });
    Some(PullRequest {
        id: number.to_string(),
        title: s("title").unwrap_or_default(),
        description: s("body"),
        source_branch: s("headRefName"),
        target_branch: s("baseRefName"),
        merged,
        merged_by,
        merged_at: time("mergedAt").or_else(|| time("closedAt")),
        closed: s("state").is_some_and(|st| st.eq_ignore_ascii_case("closed")) && !merged,
        url: s("url"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_merged_rest_pull_request() {
        let p: Pull = serde_json::from_str(&fixture("pr-response.json")).unwrap();
        let pr = from_rest(&p);
        assert_eq!(pr.id, "408");
        assert_eq!(
            pr.title,
            "Updating all other pipelines to install helm2 prior to runnin steps"
        );
        assert_eq!(
            pr.description.as_deref(),
            Some("Closes https://github.com/microsoft/bedrock/issues/1182")
        );
        assert_eq!(
            (pr.source_branch.as_deref(), pr.target_branch.as_deref()),
            (Some("helm-2-pipelines"), Some("master"))
        );
        assert!(pr.merged && !pr.closed);
        assert_eq!(
            pr.merged_by.as_ref().and_then(|a| a.login.as_deref()),
            Some("bnookala")
        );
        assert_eq!(
            pr.merged_at.unwrap().to_rfc3339(),
            "2020-03-17T17:16:45+00:00"
        );
        assert_eq!(
            pr.url.as_deref(),
            Some("https://github.com/CatalystCode/spk/pull/408")
        );
    }

    #[test]
    fn an_open_and_an_abandoned_rest_pull_request() {
        let mut v: Value = serde_json::from_str(&fixture("pr-response.json")).unwrap();
        for (k, x) in [
            ("state", json!("open")),
            ("merged", json!(false)),
            ("merged_at", Value::Null),
            ("closed_at", Value::Null),
            ("merged_by", Value::Null),
        ] {
            v[k] = x;
        }
        let open = from_rest(&serde_json::from_value(v.clone()).unwrap());
        assert!(
            !open.merged && !open.closed && open.merged_by.is_none() && open.merged_at.is_none()
        );
        v["state"] = json!("closed");
        v["closed_at"] = json!("2020-03-18T09:00:00Z");
        let abandoned = from_rest(&serde_json::from_value(v).unwrap());
        assert!(!abandoned.merged && abandoned.closed);
    }

    #[test]
    fn a_graphql_pull_request() {
        let obj = json!({"number": 12, "title": "Update frontend to frontend-812 in prod", "body": "",
            "url": "https://github.com/fabrikam/hld/pull/12", "state": "MERGED", "merged": true,
            "mergedAt": "2024-05-02T10:00:00Z", "closedAt": "2024-05-02T10:00:00Z",
            "headRefName": "frontend-812-prod", "baseRefName": "main",
            "mergedBy": {"login": "mona", "url": "https://github.com/mona", "avatarUrl": "https://avatars.githubusercontent.com/u/583231?v=4", "name": "Mona Lisa", "email": ""}});
        let pr = from_graphql(&obj).unwrap();
        assert!(pr.merged && !pr.closed && pr.description.is_none());
        let by = pr.merged_by.unwrap();
        assert_eq!(
            (by.name.as_str(), by.login.as_deref(), by.email),
            ("Mona Lisa", Some("mona"), None)
        );
        assert_eq!(pr.source_branch.as_deref(), Some("frontend-812-prod"));
    }

    #[test]
    fn pull_request_numbers() {
        assert_eq!(number("408"), Some(408));
        assert_eq!(number("#12"), Some(12));
        for bad in ["", "0", "abc", "-1", "99999999999"] {
            assert_eq!(number(bad), None, "{bad}");
        }
    }
}
