//! Builds (Build REST API): the `builds?buildIds=` list mapped to runs, URL-length chunking,
//! and the stages of a build from its timeline.

use serde_json::Value;
use spektate_core::fields::non_empty_text;
use spektate_core::{RepoRef, Run, RunKind, RunResult, RunStatus, Stage};

use crate::api::parse_time;

/// The longest request URL sent, in characters.
pub const MAX_URL_LEN: usize = 2000;

/// Room kept free in each chunk's URL for a continuation token.
const TOKEN_ROOM: usize = 120;

/// Splits `ids` into comma-joined lists such that `prefix` followed by a list never
/// exceeds [`MAX_URL_LEN`] (less room for a continuation token). Ids are sent as given.
pub fn chunk_ids(prefix_len: usize, ids: &[String]) -> Vec<Vec<String>> {
    let budget = MAX_URL_LEN.saturating_sub(prefix_len + TOKEN_ROOM).max(16);
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut len = 0;
    for id in ids {
        let add = id.len() + usize::from(!current.is_empty());
        if !current.is_empty() && len + add > budget {
            chunks.push(std::mem::take(&mut current));
            len = 0;
        }
        len += id.len() + usize::from(!current.is_empty());
        current.push(id.clone());
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Maps a build status word; Azure DevOps' `none`, `notStarted` and `postponed` are queued.
pub fn build_status(word: Option<&str>) -> RunStatus {
    match word {
        Some(w) => RunStatus::from_word(w).unwrap_or_else(|| {
            tracing::debug!("unknown build status '{w}', taken as queued");
            RunStatus::Queued
        }),
        None => RunStatus::Queued,
    }
}

/// Maps a build or stage result word; `none` (no result yet) is `None`, `abandoned` canceled.
pub fn build_result(word: Option<&str>) -> Option<RunResult> {
    match word?.to_ascii_lowercase().as_str() {
        "none" | "" => None,
        "abandoned" => Some(RunResult::Canceled),
        w => RunResult::from_word(w),
    }
}

/// The repository a build checked out: Azure Repos, GitHub (Enterprise) or another Git host
/// with a parseable URL. TFVC, Subversion and unknown kinds are `None`.
pub fn build_repository(repo: &Value) -> Option<RepoRef> {
    let kind = repo
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let url = non_empty_text(repo.get("url"));
    match kind.as_str() {
        "tfsgit" | "git" | "githubenterprise" | "bitbucket" | "gitlab" => {
            url.and_then(|u| RepoRef::parse(&u).ok())
        }
        "github" => url.and_then(|u| RepoRef::parse(&u).ok()).or_else(|| {
            non_empty_text(repo.get("id"))
                .and_then(|id| RepoRef::parse(&format!("https://github.com/{id}")).ok())
        }),
        _ => None,
    }
}

/// One element of a `builds` list as a [`Run`]; `None` without an id.
pub fn build_to_run(b: &Value) -> Option<Run> {
    let id = non_empty_text(b.get("id"))?;
    let status = build_status(b.get("status").and_then(Value::as_str));
    let mut run = Run::new(id, RunKind::Build, status);
    if status == RunStatus::Completed {
        run.result = build_result(b.get("result").and_then(Value::as_str));
    }
    run.number = non_empty_text(b.get("buildNumber"));
    run.pipeline = b
        .get("definition")
        .and_then(|d| non_empty_text(d.get("name")));
    run.queued_at = parse_time(b.get("queueTime"));
    run.started_at = parse_time(b.get("startTime"));
    run.finished_at = parse_time(b.get("finishTime"));
    run.last_changed_at = parse_time(b.get("lastChangedDate"));
    run.url = b
        .pointer("/_links/web/href")
        .and_then(|v| non_empty_text(Some(v)));
    run.source_branch =
        non_empty_text(b.get("sourceBranch")).map(|s| spektate_core::model::run::strip_ref(&s));
    run.source_commit = non_empty_text(b.get("sourceVersion"));
    run.repository = b.get("repository").and_then(build_repository);
    run.requested_by = b
        .get("requestedFor")
        .or_else(|| b.get("requestedBy"))
        .and_then(|p| non_empty_text(p.get("displayName")));
    Some(run)
}

/// The stages of a build timeline (`records` of type `Stage`), by order. With the run's web
/// page (`…/_build/results?buildId=N`), each stage links to the run's logs at that stage
/// (`&view=logs&s=<the stage record's id>`).
pub fn timeline_stages(timeline: &Value, run_url: Option<&str>) -> Vec<Stage> {
    let Some(records) = timeline.get("records").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut stages: Vec<Stage> = records
        .iter()
        .filter(|r| {
            r.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("stage"))
        })
        .map(|r| {
            let status = build_status(r.get("state").and_then(Value::as_str));
            Stage {
                name: non_empty_text(r.get("name"))
                    .or_else(|| non_empty_text(r.get("identifier")))
                    .unwrap_or_default(),
                order: r
                    .get("order")
                    .and_then(Value::as_u64)
                    .and_then(|o| u32::try_from(o).ok())
                    .unwrap_or(u32::MAX),
                status,
                result: if status == RunStatus::Completed {
                    build_result(r.get("result").and_then(Value::as_str))
                } else {
                    None
                },
                started_at: parse_time(r.get("startTime")),
                finished_at: parse_time(r.get("finishTime")),
                url: run_url
                    .zip(r.get("id").and_then(Value::as_str))
                    .and_then(stage_url),
            }
        })
        .collect();
    stages.sort_by(|a, b| {
        a.order
            .cmp(&b.order)
            .then_with(|| a.started_at.cmp(&b.started_at))
    });
    stages
}

/// The logs of a run at a stage: the run's page with `view=logs&s=<stage record id>`; `None`
/// when the id is not a timeline record id (a GUID) or the page has a fragment.
fn stage_url((run_url, stage_id): (&str, &str)) -> Option<String> {
    let guid = (1..=64).contains(&stage_id.len())
        && stage_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !guid || run_url.contains('#') {
        return None;
    }
    let join = if run_url.contains('?') { '&' } else { '?' };
    Some(format!("{run_url}{join}view=logs&s={stage_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunks_keep_every_url_under_the_limit_and_every_id_once() {
        let ids: Vec<String> = (100_000..101_000).map(|n| n.to_string()).collect();
        let prefix = "https://dev.azure.com/fabrikam/Hello%20World/_apis/build/builds?api-version=6.0&buildIds=";
        let chunks = chunk_ids(prefix.len(), &ids);
        assert!(chunks.len() >= 4, "{} chunks", chunks.len());
        for c in &chunks {
            assert!(prefix.len() + c.join(",").len() + TOKEN_ROOM <= MAX_URL_LEN);
        }
        let flat: Vec<String> = chunks.into_iter().flatten().collect();
        assert_eq!(flat, ids);
        assert!(chunk_ids(prefix.len(), &[]).is_empty());
    }

    #[test]
    fn result_words_map_including_abandoned_and_none() {
        assert_eq!(
            build_result(Some("succeededWithIssues")),
            Some(RunResult::PartiallySucceeded)
        );
        assert_eq!(build_result(Some("abandoned")), Some(RunResult::Canceled));
        assert_eq!(build_result(Some("none")), None);
        assert_eq!(build_status(Some("notStarted")), RunStatus::Queued);
        assert_eq!(build_status(Some("postponed")), RunStatus::Queued);
        assert_eq!(build_status(Some("cancelling")), RunStatus::InProgress);
    }

    #[test]
    fn azure_repos_and_github_repositories() {
        let tfs = json!({"id": "5c1b", "type": "TfsGit", "name": "hello-bedrock",
            "url": "https://fabrikam@dev.azure.com/fabrikam/hellobedrock/_git/hello-bedrock"});
        let r = build_repository(&tfs).unwrap();
        assert_eq!(
            (r.owner.as_str(), r.project.as_deref(), r.name.as_str()),
            ("fabrikam", Some("hellobedrock"), "hello-bedrock")
        );
        let gh = json!({"id": "edaena/spartan-app", "type": "GitHub", "clean": null});
        assert_eq!(
            build_repository(&gh).unwrap().web_url(),
            "https://github.com/edaena/spartan-app"
        );
        assert_eq!(
            build_repository(&json!({"type": "TfsVersionControl", "url": "$/x"})),
            None
        );
    }
}
