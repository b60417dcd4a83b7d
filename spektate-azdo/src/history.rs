//! The newest commits of Azure Repos repositories' default branches, for ordering manifest
//! commits (`Repositories::commit_orders`): `GET {repository}/commits` with
//! `searchCriteria.$top`, one request per repository, all at once. Without
//! `searchCriteria.itemVersion` the service lists the default branch, newest first.

use std::collections::HashMap;

use serde_json::Value;
use spektate_core::fields::non_empty_text;
use spektate_core::http::{HttpClient, Request};
use spektate_core::{MAX_COMMIT_ORDER, RepoRef, Result};

use crate::api::{self, versions};

const OPERATION: &str = "list commits";

/// The `commits` URL of a repository's Git API URL `base`.
pub(crate) fn url(base: &str) -> String {
    format!(
        "{base}/commits?searchCriteria.$top={MAX_COMMIT_ORDER}&api-version={}",
        versions::GIT
    )
}

/// The history of one repository (`base` its Git API URL), newest first; `None` when the
/// service does not find it (or the token cannot see it).
pub(crate) async fn history(
    http: &HttpClient,
    repo: &RepoRef,
    base: &str,
) -> Result<Option<Vec<String>>> {
    let object = format!("{} commits", repo.key());
    let req = Request::get(url(base), OPERATION, &object).pass(&[404]);
    let resp = api::send(http, req, OPERATION, &object).await?;
    if resp.status == 404 {
        return Ok(None);
    }
    let values = api::list_values(&resp.body, MAX_COMMIT_ORDER, http, OPERATION, &object)?;
    Ok(Some(read(&values)))
}

/// Commit ids of a `GitCommitRef` list, in the order given, at most [`MAX_COMMIT_ORDER`],
/// only those that look like commit ids, lower-cased.
pub(crate) fn read(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(|c| non_empty_text(c.get("commitId")))
        .filter(|id| id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .take(MAX_COMMIT_ORDER)
        .map(|id| id.to_ascii_lowercase())
        .collect()
}

/// Histories of `repos`, by [`RepoRef::key`], each from `fetch` (one request each, all at
/// once); repositories not found are left out, and the first failure fails the call.
pub(crate) async fn all<'a, F, Fut>(
    repos: &'a [RepoRef],
    fetch: F,
) -> Result<HashMap<String, Vec<String>>>
where
    F: Fn(&'a RepoRef) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Vec<String>>>>,
{
    let calls = repos.iter().map(|r| {
        let call = fetch(r);
        async move { (r, call.await) }
    });
    let got = futures::future::join_all(calls).await;
    let mut out = HashMap::new();
    for (repo, history) in got {
        if let Some(h) = history? {
            out.insert(repo.key(), h);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_commit_list_gives_its_ids_in_order_and_nothing_else() {
        let values = vec![
            json!({"commitId": "BE67F8871A4D2C75F13A51C1D3C30AC0D74D4EF4", "comment": "Update frontend"}),
            json!({"commitId": "not a sha"}),
            json!({"comment": "no id"}),
            json!({"commitId": "23d0bc5b128a10056dc68afece360d8a0fabb014"}),
        ];
        assert_eq!(
            read(&values),
            [
                "be67f8871a4d2c75f13a51c1d3c30ac0d74d4ef4",
                "23d0bc5b128a10056dc68afece360d8a0fabb014"
            ]
        );
        assert_eq!(
            url("https://dev.azure.com/fabrikam/hello/_apis/git/repositories/manifests"),
            "https://dev.azure.com/fabrikam/hello/_apis/git/repositories/manifests/commits?searchCriteria.$top=100&api-version=6.0"
        );
    }
}
