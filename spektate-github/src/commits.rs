//! Commit authors: GraphQL for many commits of a repository, REST for one (or as fallback).

use std::collections::HashMap;

use serde_json::Value;
use spektate_core::fields::{non_empty, rfc3339_time};
use spektate_core::url_encode;
use spektate_core::{Author, Error, RepoRef, Result};

use crate::client::{Fetched, GitHub};
use crate::graphql::{self, Lookup};
use crate::payloads::Commit;

/// Whether `sha` can name a commit: 4 to 40 hex digits.
pub(crate) fn is_commit_id(sha: &str) -> bool {
    (4..=40).contains(&sha.len()) && sha.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Authors of `commits` of `repo`, by commit id as given; unknown commits are left out.
pub(crate) async fn authors(
    gh: &GitHub,
    repo: &RepoRef,
    commits: &[String],
) -> Result<HashMap<String, Author>> {
    let mut wanted: Vec<String> = Vec::new();
    for c in commits {
        if !is_commit_id(c.trim()) {
            tracing::warn!(
                "{}: skipping author of '{c}' in {}: not a commit id",
                gh.label(),
                repo.key()
            );
        } else if !wanted.contains(c) {
            wanted.push(c.clone());
        }
    }
    graphql::batch_then_rest(
        gh,
        Lookup::Commits,
        repo,
        &wanted,
        from_graphql,
        |c| async move { rest_author(gh, repo, &c).await },
    )
    .await
}

/// `GET /repos/{owner}/{repo}/commits/{ref}` with one file of the diff: the commit's
/// fields come whole on every page, and the files (up to 300 with their patches) would only
/// swell the body kept in the ETag cache.
async fn rest_author(gh: &GitHub, repo: &RepoRef, sha: &str) -> Result<Option<Author>> {
    let url = gh.repo_url(
        repo,
        &format!("/commits/{}?per_page=1", url_encode::segment(sha.trim())),
    )?;
    let object = format!("{} commit {sha}", repo.key());
    match gh.get_cached(&url, "get commit", &object).await? {
        // 422: the repository has no such commit.
        Fetched::NotFound(422) => Ok(None),
        Fetched::NotFound(_) => Err(Error::provider(
            gh.label(),
            "get commit",
            object,
            "the repository was not found, or the token cannot read it",
        )),
        Fetched::Body { body, .. } => {
            Ok(Some(from_rest(&gh.parse(&body, "get commit", &object)?)))
        }
    }
}

/// The author of a REST commit; with no GitHub account (`author: null`), the git identity alone.
pub(crate) fn from_rest(c: &Commit) -> Author {
    let git = c.commit.author.as_ref();
    let account = c.author.as_ref();
    Author {
        name: non_empty(git.and_then(|a| a.name.as_deref()))
            .or_else(|| account.map(|u| u.login.clone()))
            .unwrap_or_default(),
        email: non_empty(git.and_then(|a| a.email.as_deref())),
        login: account.map(|u| u.login.clone()),
        avatar_url: account.and_then(|u| u.avatar_url.clone()),
        url: account
            .and_then(|u| u.html_url.clone())
            .or_else(|| c.html_url.clone()),
        committed_at: c.commit.committer.as_ref().and_then(|a| a.date),
    }
}

/// The author of a GraphQL `Commit`; `None` for an object that is not a commit.
pub(crate) fn from_graphql(obj: &Value) -> Option<Author> {
    let author = obj.get("author")?;
    let user = author.get("user").filter(|u| !u.is_null());
    let s = |v: Option<&Value>| non_empty(v.and_then(Value::as_str));
    let login = s(user.and_then(|u| u.get("login")));
    Some(Author {
        name: s(author.get("name"))
            .or_else(|| login.clone())
            .unwrap_or_default(),
        email: s(author.get("email")),
        login,
        avatar_url: s(user.and_then(|u| u.get("avatarUrl"))).or_else(|| s(author.get("avatarUrl"))),
        url: s(user.and_then(|u| u.get("url"))).or_else(|| s(obj.get("url"))),
        committed_at: rfc3339_time(obj.get("committedDate")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_rest_commit_gives_name_login_avatar_and_profile() {
        let c: Commit = serde_json::from_str(&fixture("author-response.json")).unwrap();
        let a = from_rest(&c);
        assert_eq!(a.name, "Edaena Salinas");
        assert_eq!(a.email.as_deref(), Some("edaena@users.noreply.github.com"));
        assert_eq!(a.login.as_deref(), Some("edaena"));
        assert_eq!(
            a.avatar_url.as_deref(),
            Some("https://avatars0.githubusercontent.com/u/1280985?v=4")
        );
        assert_eq!(a.url.as_deref(), Some("https://github.com/edaena"));
        assert_eq!(
            a.committed_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2019-10-28T21:54:37+00:00"),
            "the committer's date"
        );
    }

    #[test]
    fn an_author_without_a_github_account_keeps_the_git_identity() {
        let mut v: Value = serde_json::from_str(&fixture("author-response.json")).unwrap();
        v["author"] = Value::Null;
        let a = from_rest(&serde_json::from_value(v).unwrap());
        assert_eq!(
            (a.name.as_str(), a.login.as_deref(), a.avatar_url.as_deref()),
            ("Edaena Salinas", None, None)
        );
        assert_eq!(
            a.url.as_deref(),
            Some(
                "https://github.com/edaena/spartan-app/commit/f19cb81f889d8d29dd21d860df04967fdf5af567"
            ),
            "the commit page stands in for a profile"
        );

        let g = json!({"oid": "f19c", "url": "https://github.com/o/r/commit/f19c",
            "committedDate": "2026-11-02T08:40:00Z",
            "author": {"name": "Build Bot", "email": "bot@example.com", "avatarUrl": "https://avatars.githubusercontent.com/u/e?email=bot", "user": null}});
        let a = from_graphql(&g).unwrap();
        assert_eq!((a.name.as_str(), a.login.as_deref()), ("Build Bot", None));
        assert_eq!(a.url.as_deref(), Some("https://github.com/o/r/commit/f19c"));
        assert!(a.avatar_url.is_some());
        assert_eq!(
            a.committed_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-02T08:40:00+00:00")
        );
    }

    #[test]
    fn commit_ids_are_hex() {
        assert!(is_commit_id("f19cb81"));
        assert!(is_commit_id("f19cb81f889d8d29dd21d860df04967fdf5af567"));
        assert!(!is_commit_id("main"));
        assert!(!is_commit_id("f19cb81f889d8d29dd21d860df04967fdf5af5670"));
    }
}
