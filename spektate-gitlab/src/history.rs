//! The newest commits of GitLab projects' default branches, for ordering manifest commits
//! (`Repositories::commit_orders`): `GET /projects/:id/repository/commits?per_page=100`, one
//! request per project, all at once, revalidated with its ETag. Without `ref_name` GitLab
//! lists the default branch, newest first.

use std::collections::HashMap;

use serde::Deserialize;
use spektate_core::{MAX_COMMIT_ORDER, RepoRef, Result};

use crate::client::{Fetched, GitLab};

const OPERATION: &str = "list commits";

/// One commit of the list: only its id is read.
#[derive(Debug, Deserialize)]
pub(crate) struct CommitId {
    #[serde(default)]
    id: Option<serde_json::Value>,
}

/// The history of `repo`'s default branch, newest first; `None` when the project is not
/// found (or the token cannot read it).
async fn history(gl: &GitLab, repo: &RepoRef) -> Result<Option<Vec<String>>> {
    let project = gl.project_of(repo)?;
    let object = project.to_string();
    let url = gl.project_url(
        &project,
        &format!("/repository/commits?per_page={MAX_COMMIT_ORDER}"),
    );
    match gl.get_cached(&url, OPERATION, &object).await? {
        Fetched::NotFound => Ok(None),
        Fetched::Body { body, .. } => {
            let commits: Vec<CommitId> = gl.parse_page(&body, OPERATION, &object)?;
            Ok(Some(read(&commits)))
        }
    }
}

/// The ids that look like commit ids, in order, at most [`MAX_COMMIT_ORDER`], lower-cased.
pub(crate) fn read(commits: &[CommitId]) -> Vec<String> {
    commits
        .iter()
        .filter_map(|c| c.id.as_ref()?.as_str())
        .filter(|id| id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .take(MAX_COMMIT_ORDER)
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Histories of `repos`, by [`RepoRef::key`], one request each, all at once; projects not
/// found are left out, and the first failure fails the call.
pub(crate) async fn commit_orders(
    gl: &GitLab,
    repos: &[RepoRef],
) -> Result<HashMap<String, Vec<String>>> {
    let calls = repos
        .iter()
        .map(|repo| async move { (repo, history(gl, repo).await) });
    let mut out = HashMap::new();
    for (repo, got) in futures::future::join_all(calls).await {
        if let Some(h) = got? {
            out.insert(repo.key(), h);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_list_gives_its_ids_in_order_and_nothing_else() {
        let body = r#"[
          {"id": "ED899A2F4B50B4370FEEAE94B6C4E2E9F1B1B1B1", "short_id": "ed899a2f", "title": "Update frontend",
           "author_name": "Build Agent", "created_at": "2026-11-26T12:00:00.000+00:00", "parent_ids": []},
          {"id": 12},
          {"short_id": "6104942438c"},
          {"id": "6104942438c14ec7bd21c6cd5bd995272b3faff6", "short_id": "6104942438c", "title": "Sanitize for network graph"}
        ]"#;
        let commits: Vec<CommitId> = serde_json::from_str(body).unwrap();
        assert_eq!(
            read(&commits),
            [
                "ed899a2f4b50b4370feeae94b6c4e2e9f1b1b1b1",
                "6104942438c14ec7bd21c6cd5bd995272b3faff6"
            ]
        );
    }
}
