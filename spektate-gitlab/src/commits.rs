//! Commit authors: sixteen commits a GraphQL query (within GitLab's query complexity limit),
//! which links each author's GitLab account; REST (`GET .../repository/commits/:sha`, one
//! each, the git identity alone) without a token or when GraphQL cannot answer.

use std::collections::HashMap;

use serde_json::Value;
use spektate_core::fields::{non_empty, rfc3339_time};
use spektate_core::warnings::Subject;
use spektate_core::{Author, Error, RepoRef, Result, url_encode};

use crate::client::{Fetched, GitLab};
use crate::graphql::{self, COMMIT_BATCH};
use crate::payloads::Commit;
use crate::project::Project;

/// Whether `sha` can name a commit: 4 to 64 hex digits (SHA-1 or SHA-256 repositories).
pub(crate) fn is_commit_id(sha: &str) -> bool {
    (4..=64).contains(&sha.len()) && sha.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Authors of `commits` of `repo`, by commit id as given; unknown commits are left out.
pub(crate) async fn authors(
    gl: &GitLab,
    repo: &RepoRef,
    commits: &[String],
) -> Result<HashMap<String, Author>> {
    let project = gl.project_of(repo)?;
    let mut wanted: Vec<String> = Vec::new();
    for c in commits {
        if !is_commit_id(c.trim()) {
            tracing::warn!(
                "{}: skipping author of '{c}' in {project}: not a commit id",
                gl.label()
            );
        } else if !wanted.contains(c) {
            wanted.push(c.clone());
        }
    }
    let mut out = HashMap::new();
    let mut rest = wanted.clone();
    if let (true, true, Project::Path(path)) = (gl.has_graphql(), !wanted.is_empty(), &project) {
        rest.clear();
        let batches = wanted.chunks(COMMIT_BATCH).map(|chunk| async move {
            let (text, vars) = graphql::commits_query(path, chunk);
            let got = graphql::project_query(gl, &text, vars, "get commit authors", path).await;
            (chunk, got)
        });
        for (chunk, got) in futures::future::join_all(batches).await {
            match graphql::settle(gl, Subject::Author, chunk.len(), got)? {
                Some(project) => {
                    let repository = project.get("repository");
                    for (i, sha) in chunk.iter().enumerate() {
                        let obj = repository.and_then(|r| r.get(format!("c{i}")));
                        if let Some(author) = obj.and_then(from_graphql) {
                            out.insert(sha.clone(), author);
                        }
                    }
                }
                None => rest.extend(chunk.iter().cloned()),
            }
        }
    }
    let fetches = rest
        .iter()
        .map(|sha| async { (sha.clone(), rest_author(gl, &project, sha).await) });
    let mut missing = false;
    for (sha, got) in futures::future::join_all(fetches).await {
        match got? {
            Some(a) => {
                out.insert(sha, a);
            }
            None => missing = true,
        }
    }
    if missing {
        // GitLab answers 404 for an unknown commit and for a project the token cannot see.
        let url = gl.project_url(&project, "");
        if let Fetched::NotFound = gl
            .get_cached(&url, "get project", &project.to_string())
            .await?
        {
            return Err(Error::provider(
                gl.label(),
                "get commit",
                project.to_string(),
                "the project was not found, or the token cannot read it",
            ));
        }
    }
    Ok(out)
}

async fn rest_author(gl: &GitLab, project: &Project, sha: &str) -> Result<Option<Author>> {
    let url = gl.project_url(
        project,
        &format!("/repository/commits/{}", url_encode::segment(sha.trim())),
    );
    let object = format!("{project} commit {sha}");
    match gl.get_cached(&url, "get commit", &object).await? {
        Fetched::NotFound => Ok(None),
        Fetched::Body { body, .. } => {
            Ok(Some(from_rest(&gl.parse(&body, "get commit", &object)?)))
        }
    }
}

/// The author of a REST commit: its git identity (GitLab links no account there).
pub(crate) fn from_rest(c: &Commit) -> Author {
    Author {
        name: non_empty(c.author_name.as_deref()).unwrap_or_default(),
        email: non_empty(c.author_email.as_deref()),
        login: None,
        avatar_url: None,
        url: None,
        committed_at: rfc3339_time(c.committed_date.as_ref()),
    }
}

/// A GraphQL `Commit`: the git identity, and the GitLab account it belongs to when there is one.
pub(crate) fn from_graphql(obj: &Value) -> Option<Author> {
    obj.get("sha")?.as_str()?;
    let s =
        |v: Option<&Value>, k: &str| non_empty(v.and_then(|v| v.get(k)).and_then(Value::as_str));
    let user = obj.get("author").filter(|u| u.is_object());
    let login = s(user, "username");
    Some(Author {
        name: s(Some(obj), "authorName")
            .or_else(|| s(user, "name"))
            .or_else(|| login.clone())
            .unwrap_or_default(),
        email: s(Some(obj), "authorEmail"),
        login,
        avatar_url: s(user, "avatarUrl"),
        url: s(user, "webUrl"),
        committed_at: rfc3339_time(obj.get("committedDate")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_captured_commit_names_its_author() {
        let body = std::fs::read_to_string(format!(
            "{}/tests/fixtures/author-response.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let c: Commit = serde_json::from_str(&body).unwrap();
        let a = from_rest(&c);
        assert_eq!(a.name, "samiya akhtar");
        assert_eq!(a.email.as_deref(), Some("samiyaakhtar7@gmail.com"));
        assert_eq!(
            a.committed_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2020-10-28T20:52:59+00:00")
        );
    }

    #[test]
    fn a_graphql_commit_with_and_without_an_account() {
        let with = json!({"sha": "ad3aa569", "authorName": "samiya akhtar", "authorEmail": "s@example.com",
            "committedDate": "2020-10-28T21:52:59+01:00",
            "webUrl": "https://gitlab.com/s/h/-/commit/ad3aa569",
            "author": {"username": "samiyaakhtar", "name": "samiya akhtar",
                       "avatarUrl": "https://secure.gravatar.com/avatar/8905", "webUrl": "https://gitlab.com/samiyaakhtar"}});
        let a = from_graphql(&with).unwrap();
        assert_eq!(
            (a.name.as_str(), a.login.as_deref(), a.url.as_deref()),
            (
                "samiya akhtar",
                Some("samiyaakhtar"),
                Some("https://gitlab.com/samiyaakhtar")
            )
        );
        assert_eq!(
            a.committed_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2020-10-28T20:52:59+00:00"),
            "in UTC"
        );
        let without = json!({"sha": "ad3aa569", "authorName": "Build Agent", "authorEmail": "", "author": null,
            "committedDate": "last Tuesday"});
        let a = from_graphql(&without).unwrap();
        assert_eq!(
            (a.name.as_str(), a.login, a.email, a.committed_at),
            ("Build Agent", None, None, None)
        );
        assert!(from_graphql(&json!(null)).is_none());
    }
}
