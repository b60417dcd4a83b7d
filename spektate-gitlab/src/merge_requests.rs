//! Merge requests, with a change probe so an unchanged project costs one 304.
//!
//! Before looking merge requests up, the project's most recently updated merge request is
//! asked for (`GET .../merge_requests?state=all&order_by=updated_at&sort=desc&per_page=1`)
//! with the ETag of the last answer. Any change to any merge request (a merge, a new title)
//! puts it first and changes that answer; a 304 therefore means none changed, and the merge
//! requests read since the previous probe are still right. Those not known are read a
//! hundred a GraphQL query (`mergeRequests(iids:)`), or a hundred a REST page
//! (`GET .../merge_requests?iids[]=...`) when GraphQL cannot answer.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use spektate_core::cache::ProbedMemo;
use spektate_core::fields::non_empty;
use spektate_core::warnings::Subject;
use spektate_core::{Author, Error, PullRequest, RepoRef, Result};

use crate::client::{Fetched, GitLab, PER_PAGE};
use crate::graphql;
use crate::payloads::{MergeRequest, User};
use crate::project::Project;

/// Merge requests read, per project, under the generation of its change probe.
pub(crate) type MergeRequestMemo = ProbedMemo<PullRequest>;

/// A merge request iid as recorded (`5`, `!5`).
pub(crate) fn iid(id: &str) -> Option<u64> {
    let n: u64 = id.trim().trim_start_matches(['!', '#']).parse().ok()?;
    (n > 0 && n <= i32::MAX as u64).then_some(n)
}

/// These merge requests of `repo`, by id as given; unknown ones are left out.
pub(crate) async fn merge_requests(
    gl: &GitLab,
    memo: &MergeRequestMemo,
    repo: &RepoRef,
    ids: &[String],
) -> Result<HashMap<String, PullRequest>> {
    let project = gl.project_of(repo)?;
    let mut wanted: Vec<(String, u64)> = Vec::new();
    let mut seen = HashSet::new();
    for id in ids {
        match iid(id) {
            Some(n) if seen.insert(n) => wanted.push((id.clone(), n)),
            Some(_) => {}
            None => tracing::warn!(
                "{}: skipping merge request '{id}' of {project}: not a merge request iid",
                gl.label()
            ),
        }
    }
    let mut out = HashMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let key = project.to_string();
    let generation = probe(gl, memo, &project).await?;
    let mut todo: Vec<(String, u64)> = Vec::new();
    for (id, n) in wanted {
        match generation.and_then(|g| memo.get(&key, g, n)) {
            Some(Some(mr)) => {
                out.insert(id.clone(), PullRequest { id, ..mr });
            }
            Some(None) => {}
            None => todo.push((id, n)),
        }
    }
    if todo.is_empty() {
        return Ok(out);
    }
    let iids: Vec<u64> = todo.iter().map(|(_, n)| *n).collect();
    let fetched = fetch(gl, &project, &iids).await?;
    if let Some(g) = generation {
        let read = iids.iter().map(|n| (*n, fetched.get(n).cloned()));
        memo.keep(&key, g, read.collect());
    }
    for (id, n) in todo {
        if let Some(mr) = fetched.get(&n) {
            out.insert(id.clone(), PullRequest { id, ..mr.clone() });
        }
    }
    Ok(out)
}

/// The merge requests `iids` of `project`: GraphQL first, REST pages for what it cannot answer.
async fn fetch(gl: &GitLab, project: &Project, iids: &[u64]) -> Result<HashMap<u64, PullRequest>> {
    let mut found = HashMap::new();
    let mut rest: Vec<u64> = iids.to_vec();
    if let (true, Project::Path(path)) = (gl.has_graphql(), project) {
        rest.clear();
        let batches = iids.chunks(graphql::BATCH).map(|chunk| async move {
            let (text, vars) = graphql::merge_requests_query(path, chunk);
            let got = graphql::project_query(gl, &text, vars, "get merge requests", path).await;
            (chunk, got)
        });
        for (chunk, got) in futures::future::join_all(batches).await {
            match graphql::settle(gl, Subject::PullRequest, chunk.len(), got)? {
                Some(project) => {
                    let nodes = project
                        .pointer("/mergeRequests/nodes")
                        .and_then(Value::as_array);
                    for mr in nodes.into_iter().flatten().filter_map(from_graphql) {
                        let n: u64 = mr.id.parse().unwrap_or_default();
                        if chunk.contains(&n) {
                            found.insert(n, mr);
                        }
                    }
                }
                None => rest.extend_from_slice(chunk),
            }
        }
    }
    let pages = rest
        .chunks(PER_PAGE)
        .map(|chunk| rest_page(gl, project, chunk));
    for got in futures::future::join_all(pages).await {
        for mr in got? {
            found.insert(mr.iid, from_rest(&mr));
        }
    }
    Ok(found)
}

/// `GET .../merge_requests?state=all&iids[]=...`: up to a hundred merge requests at once.
async fn rest_page(gl: &GitLab, project: &Project, iids: &[u64]) -> Result<Vec<MergeRequest>> {
    let query: String = iids.iter().map(|n| format!("&iids%5B%5D={n}")).collect();
    let url = gl.project_url(
        project,
        &format!("/merge_requests?state=all&per_page={PER_PAGE}{query}"),
    );
    let object = format!("{project} ({} merge requests)", iids.len());
    match gl.get_cached(&url, "list merge requests", &object).await? {
        Fetched::NotFound => Err(unreadable(gl, project)),
        Fetched::Body { body, .. } => gl.parse_page(&body, "list merge requests", &object),
    }
}

fn unreadable(gl: &GitLab, project: &Project) -> Error {
    Error::provider(
        gl.label(),
        "list merge requests",
        project.to_string(),
        "the project was not found, or the token cannot read it",
    )
}

/// Probes the project's merge requests for change: the generation under which remembered
/// merge requests are current, or `None` when the probe could not tell.
async fn probe(gl: &GitLab, memo: &MergeRequestMemo, project: &Project) -> Result<Option<u64>> {
    let url = gl.project_url(
        project,
        "/merge_requests?state=all&order_by=updated_at&sort=desc&per_page=1",
    );
    match gl
        .get_cached(&url, "list merge requests", &project.to_string())
        .await
    {
        Ok(Fetched::Body { revalidated, .. }) => {
            Ok(Some(memo.probed(&project.to_string(), !revalidated)))
        }
        Ok(Fetched::NotFound) => Err(unreadable(gl, project)),
        Err(e @ Error::Provider { auth: true, .. }) => Err(e),
        Err(e) => {
            tracing::warn!("{e}; reading the merge requests again");
            Ok(None)
        }
    }
}

/// Who merged: named by login, as the other providers name a merger, else by display name.
fn person(u: &User) -> Author {
    Author {
        name: non_empty(u.username.as_deref())
            .or_else(|| non_empty(u.name.as_deref()))
            .unwrap_or_default(),
        email: None,
        login: u.username.clone(),
        avatar_url: u.avatar_url.clone(),
        url: u.web_url.clone(),
        committed_at: None,
    }
}

/// A REST merge request. `merged_by` is read before `merge_user`, either may be empty.
pub(crate) fn from_rest(m: &MergeRequest) -> PullRequest {
    let state = m.state.as_deref().unwrap_or_default();
    let merged = state.eq_ignore_ascii_case("merged");
    PullRequest {
        id: m.iid.to_string(),
        title: m.title.clone().unwrap_or_default(),
        description: non_empty(m.description.as_deref()),
        source_branch: m.source_branch.clone(),
        target_branch: m.target_branch.clone(),
        merged,
        merged_by: m
            .merged_by
            .as_ref()
            .or(m.merge_user.as_ref())
            .filter(|_| merged)
            .map(person),
        merged_at: m
            .merged_at
            .or(m.closed_at)
            .filter(|_| merged || state.eq_ignore_ascii_case("closed")),
        closed: state.eq_ignore_ascii_case("closed"),
        url: m.web_url.clone(),
    }
}

/// The time field `key` of a GraphQL object; a bad time is no time.
fn graphql_time(obj: &Value, key: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    obj.get(key)?.as_str()?.parse().ok()
}

/// A GraphQL `MergeRequest`: when it was merged, else, closed unmerged, when it was closed, as
/// [`from_rest`] reads it. `None` when the object is not one.
pub(crate) fn from_graphql(obj: &Value) -> Option<PullRequest> {
    let s = |k: &str| non_empty(obj.get(k).and_then(Value::as_str));
    let iid: u64 = s("iid")?.parse().ok()?;
    let state = s("state").unwrap_or_default();
    let merged = state.eq_ignore_ascii_case("merged");
    let merged_by = obj
        .get("mergeUser")
        .filter(|m| m.is_object() && merged)
        .map(|m| {
            let ms = |k: &str| non_empty(m.get(k).and_then(Value::as_str));
            person(&User {
                username: ms("username"),
                name: ms("name"),
                avatar_url: ms("avatarUrl"),
                web_url: ms("webUrl"),
            })
        });
    Some(PullRequest {
        id: iid.to_string(),
        title: s("title").unwrap_or_default(),
        description: s("description"),
        source_branch: s("sourceBranch"),
        target_branch: s("targetBranch"),
        merged,
        merged_by,
        merged_at: graphql_time(obj, "mergedAt").or_else(|| {
            graphql_time(obj, "closedAt").filter(|_| state.eq_ignore_ascii_case("closed"))
        }),
        closed: state.eq_ignore_ascii_case("closed"),
        url: s("webUrl"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn captured() -> Value {
        let body = std::fs::read_to_string(format!(
            "{}/tests/fixtures/pr-response.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    #[test]
    fn a_captured_merged_merge_request() {
        let m: MergeRequest = serde_json::from_value(captured()).unwrap();
        let pr = from_rest(&m);
        assert_eq!((pr.id.as_str(), pr.title.as_str()), ("5", "automated"));
        assert!(pr.merged && !pr.closed && pr.description.is_none());
        assert_eq!(
            (pr.source_branch.as_deref(), pr.target_branch.as_deref()),
            (Some("DEPLOY/backend.208444041"), Some("master"))
        );
        let by = pr.merged_by.unwrap();
        assert_eq!(
            (by.name.as_str(), by.login.as_deref()),
            ("samiyaakhtar", Some("samiyaakhtar"))
        );
        assert_eq!(
            pr.merged_at.unwrap().to_rfc3339(),
            "2020-10-27T22:14:17.524+00:00"
        );
        assert_eq!(
            pr.url.as_deref(),
            Some("https://gitlab.com/samiyaakhtar/hello-world-full-stack-hld/-/merge_requests/5")
        );
    }

    #[test]
    fn a_merge_request_merged_without_merged_by_and_open_and_closed_ones() {
        let mut v = captured();
        v["merged_by"] = Value::Null;
        v["merge_user"] = Value::Null;
        let pr = from_rest(&serde_json::from_value(v.clone()).unwrap());
        assert!(pr.merged && pr.merged_by.is_none() && pr.merged_at.is_some());
        v["merge_user"] = json!({"username": "mona", "name": "Mona"});
        let pr = from_rest(&serde_json::from_value(v.clone()).unwrap());
        assert_eq!(
            pr.merged_by.unwrap().login.as_deref(),
            Some("mona"),
            "merge_user stands in"
        );
        v["state"] = json!("opened");
        v["merged_at"] = Value::Null;
        let open = from_rest(&serde_json::from_value(v.clone()).unwrap());
        assert!(
            !open.merged && !open.closed && open.merged_by.is_none() && open.merged_at.is_none()
        );
        v["state"] = json!("closed");
        v["closed_at"] = json!("2020-10-28T09:00:00Z");
        let closed = from_rest(&serde_json::from_value(v).unwrap());
        assert!(!closed.merged && closed.closed);
    }

    #[test]
    fn a_graphql_merge_request() {
        let obj = json!({"iid": "12", "title": "Update frontend to frontend-812 in prod", "description": "",
            "state": "merged", "sourceBranch": "frontend-812-prod", "targetBranch": "main",
            "mergedAt": "2024-05-02T10:00:00Z", "webUrl": "https://gitlab.com/fabrikam/hld/-/merge_requests/12",
            "mergeUser": {"username": "mona", "name": "Mona Lisa", "avatarUrl": null, "webUrl": "https://gitlab.com/mona"}});
        let pr = from_graphql(&obj).unwrap();
        assert!(pr.merged && !pr.closed && pr.description.is_none());
        assert_eq!(pr.merged_by.unwrap().name, "mona");
        assert!(from_graphql(&json!({"title": "no iid"})).is_none());
    }

    #[test]
    fn a_graphql_merge_request_closed_unmerged_has_its_closing_time_as_over_rest() {
        let obj = json!({"iid": "13", "title": "Update frontend", "state": "closed",
            "mergedAt": null, "closedAt": "2024-05-03T09:00:00Z", "mergeUser": null});
        let pr = from_graphql(&obj).unwrap();
        assert!(pr.closed && !pr.merged && pr.merged_by.is_none());
        assert_eq!(
            pr.merged_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2024-05-03T09:00:00+00:00")
        );
        let mut open = obj.clone();
        open["state"] = json!("opened");
        assert!(from_graphql(&open).unwrap().merged_at.is_none());
        let mut v = captured();
        v["state"] = json!("closed");
        v["merged_at"] = Value::Null;
        v["closed_at"] = json!("2024-05-03T09:00:00Z");
        let rest = from_rest(&serde_json::from_value(v).unwrap());
        assert_eq!(rest.merged_at, pr.merged_at, "the same as REST");
    }

    #[test]
    fn iids() {
        assert_eq!(iid("5"), Some(5));
        assert_eq!(iid("!12"), Some(12));
        for bad in ["", "0", "abc", "-1", "99999999999"] {
            assert_eq!(iid(bad), None, "{bad}");
        }
    }
}
