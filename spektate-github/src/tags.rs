//! Flux sync tags: `flux-<cluster>` tags of the manifest repository mark the commit each
//! cluster runs. Annotated tags (what Flux v1 writes) point at a tag object that names the
//! commit, the time and the tagger; lightweight tags point straight at the commit.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use spektate_core::url_encode;
use spektate_core::{ClusterSync, Error, MAX_SYNC_TAGS, RepoRef, Result};

use crate::client::{Fetched, GitHub};
use crate::graphql::{self, Lookup};
use crate::payloads::{GitRef, GitRefs, GitTag};

/// What an annotated tag object says. Tag objects never change, so they are read once, and
/// kept across processes when a tracker hands over its answers cache.
pub(crate) type TagInfo = spektate_core::cache::TagObject;

/// Tag objects by SHA, per repository, kept to those the last listing named.
#[derive(Debug, Default)]
pub(crate) struct TagMemo {
    repos: Mutex<HashMap<String, HashMap<String, TagInfo>>>,
}

impl TagMemo {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, TagInfo>>> {
        self.repos.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Tags of tags followed at most this deep.
const MAX_DEPTH: usize = 4;

/// The clusters whose `{prefix}<cluster>` tag marks a commit of `repo`, by cluster name.
pub(crate) async fn sync_tags(
    gh: &GitHub,
    memo: &TagMemo,
    repo: &RepoRef,
    prefix: &str,
) -> Result<Vec<ClusterSync>> {
    let refs = matching_refs(gh, repo, prefix).await?;
    let mut memo_here = memo.lock().remove(&repo.key()).unwrap_or_default();
    let mut out = Vec::new();
    // (cluster, tag object sha) of annotated tags still to resolve.
    let mut annotated: Vec<(String, String)> = Vec::new();
    for r in &refs {
        let Some(cluster) = r
            .name
            .strip_prefix("refs/tags/")
            .and_then(|n| n.strip_prefix(prefix))
        else {
            continue;
        };
        if cluster.is_empty() {
            continue;
        }
        match r.object.kind.as_str() {
            "commit" => out.push(ClusterSync {
                cluster: cluster.to_string(),
                commit: r.object.sha.clone(),
                synced_at: None,
                tagger: None,
            }),
            "tag" => annotated.push((cluster.to_string(), r.object.sha.clone())),
            other => tracing::debug!("{}: ignoring {} pointing at a {other}", gh.label(), r.name),
        }
    }
    let mut keep: HashMap<String, TagInfo> = HashMap::new();
    let mut pending: Vec<(String, String)> = annotated;
    for _ in 0..MAX_DEPTH {
        if pending.is_empty() {
            break;
        }
        let mut unknown: Vec<String> = pending
            .iter()
            .map(|(_, sha)| sha.clone())
            .filter(|sha| !memo_here.contains_key(sha))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if let Some(cache) = gh.answers() {
            let kept = spektate_core::cache::tag_objects::find(cache, &repo.key(), &unknown).await;
            unknown.retain(|sha| !kept.contains_key(sha));
            memo_here.extend(kept);
        }
        let fetched = tag_objects(gh, repo, &unknown).await?;
        if let Some(cache) = gh.answers() {
            let new = fetched
                .iter()
                .map(|(s, i)| (s.clone(), i.clone()))
                .collect();
            spektate_core::cache::tag_objects::keep(cache, &repo.key(), new).await;
        }
        memo_here.extend(fetched);
        let mut next = Vec::new();
        for (cluster, sha) in pending {
            let Some(info) = memo_here.get(&sha).cloned() else {
                tracing::warn!(
                    "{}: tag object {sha} of flux tag {cluster} in {} was not found",
                    gh.label(),
                    repo.key()
                );
                continue;
            };
            keep.insert(sha, info.clone());
            if info.target_is_tag {
                next.push((cluster, info.target));
            } else {
                out.push(ClusterSync {
                    cluster,
                    commit: info.target,
                    synced_at: info.date,
                    tagger: info.tagger,
                });
            }
        }
        pending = next;
    }
    memo.lock().insert(repo.key(), keep);
    out.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    Ok(out)
}

/// `GET /git/matching-refs/tags/{prefix}`, revalidated with its ETag. The endpoint answers
/// every matching ref at once.
async fn matching_refs(gh: &GitHub, repo: &RepoRef, prefix: &str) -> Result<Vec<GitRef>> {
    spektate_core::check_sync_tag_prefix(prefix)?;
    let url = gh.repo_url(
        repo,
        &format!("/git/matching-refs/tags/{}", url_encode::path(prefix)),
    )?;
    let object = repo.key();
    match gh.get_cached(&url, "list sync tags", &object).await? {
        Fetched::NotFound(_) => Err(Error::provider(
            gh.label(),
            "list sync tags",
            object,
            "the repository was not found, or the token cannot read it",
        )),
        Fetched::Body { body, .. } => {
            let GitRefs(refs) = gh.parse(&body, "list sync tags", &object)?;
            if refs.len() > MAX_SYNC_TAGS {
                return Err(Error::provider(
                    gh.label(),
                    "list sync tags",
                    object,
                    format!("more than {MAX_SYNC_TAGS} sync tags"),
                ));
            }
            Ok(refs)
        }
    }
}

/// Tag objects by SHA: GraphQL for several, REST for one or as fallback.
async fn tag_objects(
    gh: &GitHub,
    repo: &RepoRef,
    shas: &[String],
) -> Result<HashMap<String, TagInfo>> {
    if shas.is_empty() {
        return Ok(HashMap::new());
    }
    graphql::batch_then_rest(
        gh,
        Lookup::Tags,
        repo,
        shas,
        from_graphql,
        |sha| async move { rest_tag(gh, repo, &sha).await },
    )
    .await
}

async fn rest_tag(gh: &GitHub, repo: &RepoRef, sha: &str) -> Result<Option<TagInfo>> {
    if !crate::commits::is_commit_id(sha) {
        return Err(Error::invalid(
            "tag object",
            format!("'{sha}' is not a SHA"),
        ));
    }
    let url = gh.repo_url(repo, &format!("/git/tags/{sha}"))?;
    let object = format!("{} tag {sha}", repo.key());
    match gh.get_cached(&url, "get tag object", &object).await? {
        Fetched::NotFound(_) => Ok(None),
        Fetched::Body { body, .. } => Ok(Some(from_rest(&gh.parse(
            &body,
            "get tag object",
            &object,
        )?))),
    }
}

/// An annotated tag object from REST.
pub(crate) fn from_rest(t: &GitTag) -> TagInfo {
    let tagger = t.tagger.as_ref();
    TagInfo {
        target: t.object.sha.clone(),
        target_is_tag: t.object.kind == "tag",
        tagger: tagger
            .and_then(|a| a.name.clone())
            .filter(|n| !n.trim().is_empty()),
        date: tagger.and_then(|a| a.date),
    }
}

/// An annotated tag object from GraphQL; `None` when the object is not a tag.
pub(crate) fn from_graphql(obj: &Value) -> Option<TagInfo> {
    let target = obj.get("target")?;
    let tagger = obj.get("tagger").filter(|t| !t.is_null());
    Some(TagInfo {
        target: target.get("oid")?.as_str()?.to_string(),
        target_is_tag: target.get("__typename").and_then(Value::as_str) == Some("Tag"),
        tagger: tagger
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|n| !n.trim().is_empty()),
        date: tagger
            .and_then(|t| t.get("date"))
            .and_then(Value::as_str)
            .and_then(|d| d.parse().ok()),
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
    fn an_annotated_flux_tag_names_commit_time_and_tagger() {
        let t: GitTag = serde_json::from_str(&fixture("sync-response-1.json")).unwrap();
        let info = from_rest(&t);
        assert_eq!(info.target, "57cb69b0594e45b5f3e2d5e505b42f5412349f76");
        assert!(!info.target_is_tag);
        assert_eq!(info.tagger.as_deref(), Some("Weave Flux"));
        assert_eq!(info.date.unwrap().to_rfc3339(), "2019-11-20T15:34:19+00:00");
        let refs: Vec<GitRef> = serde_json::from_str(&fixture("sync-response.json")).unwrap();
        assert_eq!(
            refs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["refs/tags/flux-alaska", "refs/tags/flux-sync"]
        );
        assert!(refs.iter().all(|r| r.object.kind == "tag"));
    }

    #[test]
    fn a_graphql_tag_object() {
        let obj = json!({"oid": "7d57f93bcb572c8cbb02fe7fd1c4d3f143746b1d", "name": "flux-alaska",
            "tagger": {"name": "Weave Flux", "email": "support@weave.works", "date": "2019-11-20T15:34:19+00:00"},
            "target": {"oid": "57cb69b0594e45b5f3e2d5e505b42f5412349f76", "__typename": "Commit"}});
        let info = from_graphql(&obj).unwrap();
        assert_eq!(info.target, "57cb69b0594e45b5f3e2d5e505b42f5412349f76");
        assert_eq!(info.tagger.as_deref(), Some("Weave Flux"));
        assert!(
            from_graphql(&json!({"oid": "abc"})).is_none(),
            "a commit is not a tag object"
        );
    }
}
