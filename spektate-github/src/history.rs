//! The newest commits of repositories' default branches, for ordering manifest commits
//! (`Repositories::commit_orders`): one GraphQL query per owner for all its repositories,
//! each under an alias (`r0`, `r1`, ...), owners and names passed as variables.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use spektate_core::{Error, MAX_COMMIT_ORDER, RepoRef, Result};

use crate::client::GitHub;

const OPERATION: &str = "get default branch history";

/// The query text and variables for `repos` (one owner's).
pub(crate) fn query(repos: &[&RepoRef]) -> (String, Value) {
    let mut decls = Vec::new();
    let mut fields = Vec::new();
    let mut vars = Map::new();
    for (i, repo) in repos.iter().enumerate() {
        decls.push(format!("$o{i}: String!, $n{i}: String!"));
        fields.push(format!(
            "r{i}: repository(owner: $o{i}, name: $n{i}) {{ ...history }}"
        ));
        vars.insert(format!("o{i}"), json!(repo.owner));
        vars.insert(format!("n{i}"), json!(repo.name));
    }
    let text = format!(
        "query({}) {{ {} }} fragment history on Repository {{ defaultBranchRef {{ target {{ \
         ... on Commit {{ history(first: {MAX_COMMIT_ORDER}) {{ nodes {{ oid }} }} }} }} }} }}",
        decls.join(", "),
        fields.join(" ")
    );
    (text, Value::Object(vars))
}

/// The histories of `repos`, newest first, by [`RepoRef::key`]; a repository GitHub does
/// not find (or the token cannot read) is left out, and an empty repository has none.
pub(crate) async fn commit_orders(
    gh: &GitHub,
    repos: &[RepoRef],
) -> Result<HashMap<String, Vec<String>>> {
    let mut by_owner: BTreeMap<&str, Vec<&RepoRef>> = BTreeMap::new();
    for repo in repos {
        by_owner.entry(repo.owner.as_str()).or_default().push(repo);
    }
    let queries = by_owner.values().map(|repos| one_owner(gh, repos));
    let mut out = HashMap::new();
    for got in futures::future::join_all(queries).await {
        out.extend(got?);
    }
    Ok(out)
}

async fn one_owner(gh: &GitHub, repos: &[&RepoRef]) -> Result<HashMap<String, Vec<String>>> {
    let mut out = HashMap::new();
    for chunk in repos.chunks(crate::graphql::BATCH) {
        let (text, vars) = query(chunk);
        let object = format!("{} repositories of {}", chunk.len(), chunk[0].owner);
        let owner = Some((chunk[0].owner.clone(), chunk[0].name.clone()));
        let answer = gh.graphql(&text, vars, OPERATION, &object, owner).await?;
        let failed = |m: String| Error::provider(gh.label(), OPERATION, &object, m);
        for e in &answer.errors {
            let on_repo = e.path.len() == 1;
            match e.kind.as_deref() {
                Some("NOT_FOUND") if on_repo => {}
                kind => {
                    return Err(failed(format!(
                        "GraphQL error {}: {}",
                        kind.unwrap_or_default(),
                        e.message
                    )));
                }
            }
        }
        let Some(data) = answer.data.as_ref().and_then(Value::as_object) else {
            return Err(failed("GraphQL answered without data".into()));
        };
        for (i, repo) in chunk.iter().enumerate() {
            let Some(found) = data.get(&format!("r{i}")).filter(|v| !v.is_null()) else {
                continue;
            };
            out.insert(repo.key(), read(found));
        }
    }
    Ok(out)
}

/// The commit ids of a repository's answer, newest first (none for an empty repository);
/// at most [`MAX_COMMIT_ORDER`], and only strings that look like commit ids.
pub(crate) fn read(repository: &Value) -> Vec<String> {
    repository
        .pointer("/defaultBranchRef/target/history/nodes")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .filter_map(|n| n.get("oid").and_then(Value::as_str))
                .filter(|oid| crate::commits::is_commit_id(oid))
                .take(MAX_COMMIT_ORDER)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_travel_as_variables_under_aliases() {
        let a = RepoRef::parse("https://github.com/fabrikam/manifests").unwrap();
        let b = RepoRef::parse("https://github.com/fabrikam/hld").unwrap();
        let (text, vars) = query(&[&a, &b]);
        assert!(
            text.starts_with("query($o0: String!, $n0: String!, $o1: String!, $n1: String!) { r0: repository(owner: $o0, name: $n0) { ...history } r1: repository(owner: $o1, name: $n1)"),
            "{text}"
        );
        assert!(
            text.contains("history(first: 100) { nodes { oid } }"),
            "{text}"
        );
        assert_eq!(
            vars,
            json!({"o0": "fabrikam", "n0": "manifests", "o1": "fabrikam", "n1": "hld"})
        );
    }

    #[test]
    fn an_answer_gives_commit_ids_newest_first_and_nothing_else() {
        let answer = json!({"defaultBranchRef": {"target": {"history": {"nodes": [
            {"oid": "57cb69b0594e45b5f3e2d5e505b42f5412349f76"},
            {"oid": "not a sha"},
            {"oid": 7},
            {"oid": "7d57f93bcb572c8cbb02fe7fd1c4d3f143746b1d"}
        ]}}}});
        assert_eq!(
            read(&answer),
            [
                "57cb69b0594e45b5f3e2d5e505b42f5412349f76",
                "7d57f93bcb572c8cbb02fe7fd1c4d3f143746b1d"
            ]
        );
        assert!(
            read(&json!({"defaultBranchRef": null})).is_empty(),
            "an empty repository"
        );
    }
}
