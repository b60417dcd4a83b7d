//! Batched GraphQL lookups of one project: up to a hundred merge requests by iid in one
//! `mergeRequests(iids:)` connection, or up to [`COMMIT_BATCH`] commits under aliases (`c0`,
//! `c1`, ...) of `repository.commit(ref:)` (GitLab 17.10 and later). Values travel as
//! variables, so nothing is spliced into the query text.

use serde_json::{Map, Value, json};
use spektate_core::{Error, Result};

use crate::client::GitLab;

/// Merge requests per query. A lookup by iids is not scored per item: the query costs about
/// 26 of GitLab's complexity limit of 250 (a field 1, `mergedAt` and `closedAt` 5 each).
pub(crate) const BATCH: usize = 100;

/// Commits per query. GitLab refuses an authenticated query scoring over 250
/// (`GitlabSchema::AUTHENTICATED_MAX_COMPLEXITY`; 200 without a token) with a 200 whose
/// `errors` say "Query has complexity of ...". Each alias scores 12: `commit` 1, 1 more for
/// its Gitaly call, and the 10 fields of [`COMMIT_FIELDS`]; with `project` and `repository`
/// a batch of 16 scores 194.
pub(crate) const COMMIT_BATCH: usize = 16;

/// The merge request fields read (`MergeRequest` of GitLab's GraphQL reference).
pub(crate) const MERGE_REQUEST_FIELDS: &str = "iid title description state sourceBranch targetBranch mergedAt closedAt \
     webUrl mergeUser { username name avatarUrl webUrl }";

/// The commit fields read (`Commit` of GitLab's GraphQL reference).
pub(crate) const COMMIT_FIELDS: &str =
    "sha authorName authorEmail committedDate webUrl author { username name avatarUrl webUrl }";

/// The query for merge requests `iids` of the project at `path`.
pub(crate) fn merge_requests_query(path: &str, iids: &[u64]) -> (String, Value) {
    let text = format!(
        "query($path: ID!, $iids: [String!]) {{ project(fullPath: $path) {{ \
         mergeRequests(iids: $iids, first: {BATCH}) {{ nodes {{ {MERGE_REQUEST_FIELDS} }} }} }} }}"
    );
    let iids: Vec<String> = iids.iter().map(u64::to_string).collect();
    (text, json!({ "path": path, "iids": iids }))
}

/// The query for commits `shas` of the project at `path`, one alias each.
pub(crate) fn commits_query(path: &str, shas: &[String]) -> (String, Value) {
    let mut decls = vec!["$path: ID!".to_string()];
    let mut fields = Vec::with_capacity(shas.len());
    let mut vars = Map::new();
    vars.insert("path".into(), json!(path));
    for (i, sha) in shas.iter().enumerate() {
        let var = format!("c{i}");
        decls.push(format!("${var}: String!"));
        fields.push(format!("{var}: commit(ref: ${var}) {{ {COMMIT_FIELDS} }}"));
        vars.insert(var, json!(sha.trim()));
    }
    let text = format!(
        "query({}) {{ project(fullPath: $path) {{ repository {{ {} }} }} }}",
        decls.join(", "),
        fields.join(" ")
    );
    (text, Value::Object(vars))
}

/// Why a batch did not answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Do not fall back to REST: the answer would be the same (a rejected token, a project
    /// the token cannot read).
    Final(Error),
    /// GraphQL could not answer (an older GitLab without the field, a server error); REST may.
    Fallback(String),
}

/// Posts a query and returns the `project` object of its answer.
pub(crate) async fn project_query(
    gl: &GitLab,
    text: &str,
    vars: Value,
    operation: &str,
    path: &str,
) -> std::result::Result<Value, Failure> {
    let answer = match gl.graphql(text, vars, operation, path).await {
        Ok(a) => a,
        Err(e @ Error::Provider { auth: true, .. }) => return Err(Failure::Final(e)),
        Err(Error::Provider { message, .. }) => return Err(Failure::Fallback(message)),
        Err(e) => return Err(Failure::Fallback(e.to_string())),
    };
    let project = answer.data.as_ref().and_then(|d| d.get("project"));
    if !answer.errors.is_empty() {
        let first = answer.errors[0]
            .message
            .chars()
            .take(200)
            .collect::<String>();
        return Err(Failure::Fallback(format!("GraphQL error: {first}")));
    }
    match project {
        Some(Value::Object(_)) => Ok(project.cloned().unwrap_or_default()),
        Some(Value::Null) => Err(Failure::Final(Error::provider(
            gl.label(),
            operation,
            path,
            format!("project {path} was not found, or the token cannot read it"),
        ))),
        _ => Err(Failure::Fallback(
            "GraphQL answered without data".to_string(),
        )),
    }
}

/// Reports a batch sent to REST: one notice with the number of objects.
pub(crate) fn fell_back(
    gl: &GitLab,
    subject: spektate_core::warnings::Subject,
    n: usize,
    why: &str,
) {
    spektate_core::warnings::notice(spektate_core::warnings::Notice {
        subject,
        count: n,
        reason: spektate_core::warnings::Reason::new(
            &gl.label(),
            &format!("GraphQL failed ({why}); asked over REST"),
        ),
    });
}

/// Unwraps a result of [`project_query`] into `Ok(Some(project))`, `Ok(None)` (fall back),
/// or the final error.
pub(crate) fn settle(
    gl: &GitLab,
    subject: spektate_core::warnings::Subject,
    n: usize,
    got: std::result::Result<Value, Failure>,
) -> Result<Option<Value>> {
    match got {
        Ok(v) => Ok(Some(v)),
        Err(Failure::Final(e)) => Err(e),
        Err(Failure::Fallback(why)) => {
            fell_back(gl, subject, n, &why);
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// Field names per type of the schema excerpt in `tests/fixtures`.
    fn schema() -> HashMap<String, HashSet<String>> {
        let text = include_str!("../tests/fixtures/graphql-schema-excerpt.graphql");
        let mut types = HashMap::new();
        let mut current: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix("type ") {
                current = Some(name.trim_end_matches(" {").to_string());
            } else if line == "}" {
                current = None;
            } else if let (Some(t), Some(field)) = (&current, line.split(['(', ':']).next())
                && !field.is_empty()
                && !field.starts_with('#')
            {
                types
                    .entry(t.clone())
                    .or_insert_with(HashSet::new)
                    .insert(field.to_string());
            }
        }
        types
    }

    /// Checks a selection (`a b c { d e }`) of type `ty` against the schema; nested
    /// selections take the type of the field as the fake excerpt names it.
    fn check(
        types: &HashMap<String, HashSet<String>>,
        ty: &str,
        selection: &str,
        nested: &[(&str, &str)],
    ) {
        let mut depth = 0;
        let mut parent: Vec<&str> = vec![ty];
        let mut last = "";
        for token in selection.split_whitespace() {
            match token {
                "{" => {
                    depth += 1;
                    let t = nested
                        .iter()
                        .find(|(f, _)| *f == last)
                        .map(|(_, t)| *t)
                        .unwrap_or_else(|| panic!("no type for {last}"));
                    parent.push(t);
                }
                "}" => {
                    depth -= 1;
                    parent.pop();
                }
                field => {
                    let t = parent.last().unwrap();
                    assert!(
                        types.get(*t).is_some_and(|fs| fs.contains(field)),
                        "{t}.{field} is not in GitLab's schema"
                    );
                    last = field;
                }
            }
        }
        assert_eq!(depth, 0);
    }

    #[test]
    fn the_fields_read_are_in_gitlabs_schema() {
        let types = schema();
        check(
            &types,
            "MergeRequest",
            MERGE_REQUEST_FIELDS,
            &[("mergeUser", "UserCore")],
        );
        check(&types, "Commit", COMMIT_FIELDS, &[("author", "UserCore")]);
        for (ty, field) in [
            ("Query", "project"),
            ("Project", "mergeRequests"),
            ("Project", "repository"),
            ("Repository", "commit"),
            ("MergeRequestConnection", "nodes"),
        ] {
            assert!(types[ty].contains(field), "{ty}.{field}");
        }
        let (text, _) = merge_requests_query("a/b", &[1]);
        assert!(text.contains("project(fullPath: $path)") && text.contains("$path: ID!"));
    }

    #[test]
    fn a_batch_of_commits_stays_within_gitlabs_query_complexity() {
        let fields = COMMIT_FIELDS
            .split_whitespace()
            .filter(|t| !matches!(*t, "{" | "}"))
            .count();
        assert_eq!(fields, 10);
        // `project` and `repository` once; per alias `commit`, its Gitaly call, its fields.
        let cost = 2 + COMMIT_BATCH * (2 + fields);
        assert!(cost <= 250, "a batch of commits scores {cost}");
    }

    #[test]
    fn values_travel_as_variables() {
        let (text, vars) = merge_requests_query("fabrikam/platform/hld", &[5, 7]);
        assert!(
            text.starts_with("query($path: ID!, $iids: [String!]) { project(fullPath: $path)"),
            "{text}"
        );
        assert!(
            text.contains("mergeRequests(iids: $iids, first: 100)"),
            "{text}"
        );
        assert_eq!(
            vars,
            json!({"path": "fabrikam/platform/hld", "iids": ["5", "7"]})
        );
        let (text, vars) = commits_query("fabrikam/svc", &["abc\" } evil".to_string()]);
        assert!(!text.contains("evil"), "values never enter the query text");
        assert!(text.contains("c0: commit(ref: $c0)"), "{text}");
        assert_eq!(vars["c0"], "abc\" } evil");
    }
}
