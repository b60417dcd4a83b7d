//! Flux sync tags: `flux-<cluster>` tags of the manifest project mark the commit each
//! cluster runs. `GET .../repository/tags?search=^<prefix>` lists them, a hundred a page,
//! each page revalidated with its ETag; a tag's `commit` is the commit it points at, through
//! the tag object of an annotated tag. GitLab's tag API does not name an annotated tag's
//! tagger, so a GitLab sync names none; its time is the tag's `created_at` where GitLab
//! sends it (annotated tags, GitLab 16.11 and later).

use spektate_core::{ClusterSync, Error, RepoRef, Result, check_sync_tag_prefix, url_encode};

use crate::client::{Fetched, GitLab, PER_PAGE};
use crate::payloads::Tag;

/// Pages of tags read at most (ten thousand tags).
const MAX_PAGES: usize = 100;

/// The clusters whose `{prefix}<cluster>` tag marks a commit of `repo`, by cluster name.
pub(crate) async fn sync_tags(
    gl: &GitLab,
    repo: &RepoRef,
    prefix: &str,
) -> Result<Vec<ClusterSync>> {
    check_sync_tag_prefix(prefix)?;
    let project = gl.project_of(repo)?;
    let object = project.to_string();
    let mut url = Some(gl.project_url(
        &project,
        &format!(
            "/repository/tags?search={}&per_page={PER_PAGE}",
            url_encode::query_value(&format!("^{prefix}"))
        ),
    ));
    let mut out: Vec<ClusterSync> = Vec::new();
    let mut pages = 0;
    while let Some(page) = url.take() {
        if pages == MAX_PAGES {
            tracing::warn!(
                "{}: {object} has more than {} sync tags; reading the first",
                gl.label(),
                MAX_PAGES * PER_PAGE
            );
            break;
        }
        pages += 1;
        let (body, next) = match gl.get_cached(&page, "list sync tags", &object).await? {
            Fetched::NotFound => {
                return Err(Error::provider(
                    gl.label(),
                    "list sync tags",
                    object,
                    "the project was not found, or the token cannot read it",
                ));
            }
            Fetched::Body { body, next, .. } => (body, next),
        };
        let tags: Vec<Tag> = gl.parse_page(&body, "list sync tags", &object)?;
        out.extend(tags.iter().filter_map(|t| sync_of(t, prefix)));
        url = next;
    }
    out.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    out.dedup_by(|a, b| a.cluster == b.cluster);
    Ok(out)
}

/// The sync a tag marks, when its name starts with `prefix` (GitLab's search matches
/// anywhere else too) and names a cluster.
pub(crate) fn sync_of(tag: &Tag, prefix: &str) -> Option<ClusterSync> {
    let cluster = tag.name.strip_prefix(prefix).filter(|c| !c.is_empty())?;
    let commit = tag
        .commit
        .as_ref()
        .map(|c| c.id.clone())
        .or_else(|| tag.target.clone())?;
    let annotated = tag.message.as_deref().is_some_and(|m| !m.is_empty())
        || tag.target.as_deref().is_some_and(|t| t != commit);
    Some(ClusterSync {
        cluster: cluster.to_string(),
        commit,
        synced_at: tag.created_at.filter(|_| annotated),
        tagger: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_tags_name_their_cluster_and_commit() {
        let body = std::fs::read_to_string(format!(
            "{}/tests/fixtures/tags-response.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let tags: Vec<Tag> = serde_json::from_str(&body).unwrap();
        let syncs: Vec<ClusterSync> = tags.iter().filter_map(|t| sync_of(t, "flux-")).collect();
        assert_eq!(syncs.len(), 1);
        assert_eq!(syncs[0].cluster, "east-us");
        assert_eq!(syncs[0].commit, "a41c826038ae7052f81510fe02896769abe17427");
        assert_eq!(
            syncs[0].synced_at, None,
            "a lightweight tag has no time of its own"
        );
    }

    #[test]
    fn an_annotated_tag_points_through_its_tag_object() {
        let tag: Tag = serde_json::from_value(serde_json::json!({
            "name": "flux-west", "message": "Sync", "target": "f00dfeed00000000000000000000000000000000",
            "commit": {"id": "a41c826038ae7052f81510fe02896769abe17427"},
            "created_at": "2024-05-02T10:00:00.000Z"}))
        .unwrap();
        let s = sync_of(&tag, "flux-").unwrap();
        assert_eq!(s.commit, "a41c826038ae7052f81510fe02896769abe17427");
        assert_eq!(
            s.synced_at.unwrap().to_rfc3339(),
            "2024-05-02T10:00:00+00:00"
        );
        let other: Tag =
            serde_json::from_value(serde_json::json!({"name": "v1-flux-west", "target": "a"}))
                .unwrap();
        assert!(
            sync_of(&other, "flux-").is_none(),
            "the search matches anywhere; the prefix must lead"
        );
        let bare: Tag =
            serde_json::from_value(serde_json::json!({"name": "flux-", "target": "a"})).unwrap();
        assert!(sync_of(&bare, "flux-").is_none());
    }
}
