//! What each parser is fed, shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the
//! never-panic smoke test (`tests/parsers_never_panic.rs`), so both feed the parsers alike.
//!
//! Each function takes one fuzz input: the first byte picks the parser, the rest is an answer
//! body (or a header value, or a URL) fed the way the provider feeds it: bytes →
//! `serde_json::Value` or the payload struct → the conversion function. They assert only
//! what holds for every input: nothing panics, and a few cheap invariants.

#![allow(dead_code)]

use serde_json::Value;
use spektate_azdo::builds::{build_to_run, timeline_stages};
use spektate_azdo::commit_author;
use spektate_azdo::fuzzing as azdo;
use spektate_azdo::parse_time;
use spektate_azdo::releases::{artifact_image, release_to_run};
use spektate_core::cache::{Answer, AnswerKey, KINDS};
use spektate_core::http::parse_retry_after;
use spektate_core::insights::otlp::{MAX_MESSAGE_CHARS, PartialSuccess};
use spektate_core::insights::otlp_proto::{decode_partial_success, status_message};
use spektate_core::model::url::{has_credentials, without_credentials};
use spektate_core::{RepoHost, RepoRef, Run};
use spektate_github::fuzzing as github;
use spektate_github::{IdKind, RunId};
use spektate_gitlab::fuzzing as gitlab;

/// How many parsers each target chooses among (by its first byte).
pub const AZDO_PARSERS: u8 = 7;
pub const GITHUB_PARSERS: u8 = 10;
pub const GITLAB_PARSERS: u8 = 9;
pub const TABLE_PARSERS: u8 = 5;
pub const OTLP_PARSERS: u8 = 3;
pub const HEADER_PARSERS: u8 = 1;
pub const URL_PARSERS: u8 = 1;

/// Azure DevOps: builds, releases, timelines, commits, pull requests, refs, annotated tags.
pub fn azdo_payloads(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % AZDO_PARSERS {
        // `builds?buildIds=` pages.
        0 => {
            for b in azdo_list(body) {
                if let Some(run) = build_to_run(&b) {
                    check_run(&run);
                }
            }
        }
        // `releases?releaseIdFilter=` pages.
        1 => {
            for r in azdo_list(body) {
                let _ = artifact_image(&r);
                if let Some(run) = release_to_run(&r) {
                    check_run(&run);
                }
            }
        }
        // A build timeline; an empty body is no stages.
        2 => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            if let Ok(timeline) = serde_json::from_slice::<Value>(body) {
                let stages = timeline_stages(
                    &timeline,
                    Some("https://dev.azure.com/fabrikam/hello/_build/results?buildId=6676"),
                );
                assert!(stages.windows(2).all(|w| w[0].order <= w[1].order));
            }
        }
        // A commit, a `commitsbatch` page, or the message of a refused batch.
        3 => {
            let repo = azure_repo();
            if let Ok(v) = serde_json::from_slice::<Value>(body) {
                let _ = commit_author(&repo, &v);
                let _ = azdo::text(v.get("message")).map(|m| m.chars().take(200).count());
            }
            for c in azdo_list(body) {
                let _ = commit_author(&repo, &c);
            }
        }
        // A pull request, or a page of the pull request list.
        4 => {
            let repo = azure_repo();
            if let Ok(v) = serde_json::from_slice::<Value>(body) {
                let _ = spektate_azdo::pull_request(&repo, &v);
            }
            for pr in azdo_list(body) {
                if pr.get("pullRequestId").and_then(Value::as_u64).is_some() {
                    let _ = spektate_azdo::pull_request(&repo, &pr);
                }
            }
        }
        // `refs?filter=tags/flux-`: what `AzureRepos::sync_tags` reads of each ref.
        5 => {
            for r in azdo_list(body) {
                let Some(name) = azdo::text(r.get("name")) else {
                    continue;
                };
                if name
                    .strip_prefix("refs/tags/flux-")
                    .is_some_and(|c| !c.is_empty())
                {
                    let _ = azdo::text(r.get("objectId")).map(|o| o.to_lowercase());
                    let _ = r
                        .get("creator")
                        .and_then(|c| azdo::text(c.get("displayName")));
                }
            }
        }
        // `annotatedtags/{objectId}`: what `AzureRepos::tag_target` reads of a tag object.
        _ => {
            if let Ok(tag) = serde_json::from_slice::<Value>(body) {
                let commit = tag
                    .pointer("/taggedObject/objectId")
                    .and_then(|v| azdo::text(Some(v)))
                    .map(|c| c.to_lowercase());
                let _ = (commit, parse_time(tag.pointer("/taggedBy/date")));
                let _ = tag
                    .pointer("/taggedBy/name")
                    .and_then(|v| azdo::text(Some(v)));
            }
        }
    }
}

/// The `value` array of an Azure DevOps list answer (or a bare array), as the providers
/// take it; anything else is a malformed answer, no rows.
fn azdo_list(body: &[u8]) -> Vec<Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut o)) => match o.remove("value") {
            Some(Value::Array(v)) => v,
            _ => Vec::new(),
        },
        Ok(Value::Array(v)) => v,
        _ => Vec::new(),
    }
}

fn azure_repo() -> RepoRef {
    RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").expect("a repository")
}

/// GitHub: workflow runs, jobs, commits, pull requests, refs, tag objects, GraphQL answers,
/// and recorded ids and pages.
pub fn github_payloads(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % GITHUB_PARSERS {
        0 => {
            if let Some(Ok(run)) = github::workflow_run(body) {
                check_run(&run);
            }
        }
        1 => github::workflow_runs(body)
            .iter()
            .flatten()
            .for_each(check_run),
        2 => {
            if let Some(Ok(run)) = github::job(body) {
                check_run(&run);
            }
        }
        3 => github::jobs(body).iter().flatten().for_each(check_run),
        4 => {
            let _ = github::commit(body);
        }
        5 => {
            let _ = github::pull(body);
        }
        // `git/matching-refs/tags/flux-`: what `sync_tags` reads of each ref.
        6 => {
            for (name, sha, kind) in github::matching_refs(body) {
                let cluster = name
                    .strip_prefix("refs/tags/")
                    .and_then(|n| n.strip_prefix("flux-"));
                let _ = (cluster, sha, kind == "commit" || kind == "tag");
            }
        }
        7 => {
            let _ = github::tag(body);
        }
        // A GraphQL batch answer: its kind and size, then the body.
        8 => {
            let [kind, n, rest @ ..] = body else {
                return;
            };
            let n = usize::from(*n) % 101;
            if let Some(read) = github::graphql(*kind, n, rest) {
                assert!(read <= n);
            }
        }
        // Recorded run ids, pull request numbers and run pages.
        _ => {
            let text = String::from_utf8_lossy(body);
            for bare in [IdKind::Run, IdKind::Job] {
                if let Ok(id) = RunId::parse(&text, bare) {
                    assert!(id.id > 0);
                    assert_eq!(RunId::parse(&id.to_string(), bare).ok(), Some(id));
                }
            }
            if let Some(n) = github::pull_number(&text) {
                assert!(n > 0 && n <= i32::MAX as u64);
            }
            if let Some(repo) = github::repo_of_page(&text) {
                let _ = (repo.key(), repo.web_url(), repo.commit_url("a1b2c3d"));
            }
        }
    }
}

/// Azure Table Storage: ETags; entities and query pages as records, run reports and cluster
/// reports; pages of records parsed as they stream; kept answers (`<partition>~answers`
/// rows, pages of them, and the values they keep).
pub fn table_entity(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % TABLE_PARSERS {
        0 => {
            if let Ok(etag) = std::str::from_utf8(body) {
                let _ = azdo::etag_time(etag);
            }
        }
        // A query page (`{"value": [...]}`) or one entity.
        1 => {
            let Ok(answer) = serde_json::from_slice::<Value>(body) else {
                return;
            };
            let rows = match answer.get("value") {
                Some(Value::Array(rows)) => rows.clone(),
                _ => vec![answer],
            };
            for row in &rows {
                if let Some(r) = azdo::entity_record(row) {
                    let _ = r.etag.as_deref().map(azdo::etag_time);
                }
                let _ = azdo::insertion_time(row);
                let _ = azdo::entity_report(row);
                let _ = azdo::entity_cluster(row);
            }
        }
        // A page of records parsed as it streams: never more rows than entities, and each
        // the record the entity gives when parsed whole.
        2 => {
            let Ok(rows) = azdo::record_page(body) else {
                return;
            };
            assert!(rows.len() <= count(body, b"{"), "{} rows", rows.len());
            // One `value` key, spelled plainly: the page's list is the one a tree reads.
            if count(body, b"\"value\"") != 1 || count(body, b"\\u") != 0 {
                return;
            }
            let Ok(page) = serde_json::from_slice::<Value>(body) else {
                return;
            };
            let Some(Value::Array(entities)) = page.get("value") else {
                return;
            };
            assert_eq!(rows.len(), entities.len());
            for (row, entity) in rows.iter().zip(entities) {
                let want = azdo::entity_record(entity);
                assert_eq!(row.as_ref().map(|(_, r)| r), want.as_ref(), "{entity}");
                if let (Some((order, _)), Some(want)) = (row, want) {
                    assert_eq!(*order, azdo::insertion_time(entity).or(want.timestamp));
                }
            }
        }
        // Kept answers: a page of a `<partition>~answers` partition, or one point read. An
        // answer read is always the one of the key its row names.
        3 => {
            let rows = match azdo::answer_page(body) {
                Ok(rows) => rows,
                Err(_) => azdo::answer_entity(body)
                    .map(|r| vec![r])
                    .unwrap_or_default(),
            };
            assert!(rows.len() <= count(body, b"{").max(1));
            for (key, answer) in rows.into_iter().flatten() {
                if let Ok(answer) = answer {
                    assert_eq!(answer.key(), key);
                }
            }
        }
        // The value of a kept answer (a `Fact` as JSON), read under a key of any kind, as
        // the answers stores read one.
        _ => {
            let [kind, value @ ..] = body else {
                return;
            };
            let Ok(value) = std::str::from_utf8(value) else {
                return;
            };
            let key = AnswerKey {
                namespace: "github.com/fabrikam/frontend".into(),
                kind: KINDS[usize::from(*kind) % KINDS.len()].into(),
                id: "8c5f2a1e9d3b4c7a6f0e1d2c3b4a59687f6e5d4c".into(),
            };
            if let Ok(answer) = Answer::from_stored(key.clone(), value) {
                assert_eq!(answer.key(), key);
            }
        }
    }
}

/// How many times `needle` occurs in `haystack`.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// GitLab: pipelines, jobs, commits, histories, merge requests, sync tags, GraphQL answers,
/// and recorded ids, pages and `Link` headers.
pub fn gitlab_payloads(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % GITLAB_PARSERS {
        0 => {
            if let Some(Ok(run)) = gitlab::pipeline(body) {
                check_run(&run);
            }
        }
        1 => gitlab::pipelines(body).iter().flatten().for_each(check_run),
        // A pipeline's jobs as its stages: never more stages than jobs, numbered in order.
        2 => {
            if let Some((jobs, Ok(stages))) = gitlab::jobs(body) {
                assert!(stages.len() <= jobs);
                for (i, stage) in stages.iter().enumerate() {
                    assert_eq!(stage.order as usize, i + 1);
                }
            }
        }
        3 => {
            let _ = gitlab::commit(body);
        }
        // A branch's history: only commit ids, lower-cased, at most the bound.
        4 => {
            if let Some((listed, ids)) = gitlab::history(body) {
                assert!(ids.len() <= listed && ids.len() <= spektate_core::MAX_COMMIT_ORDER);
                for id in &ids {
                    assert!(
                        id.len() == 40
                            && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                    );
                }
            }
        }
        // Merge requests: only a merged one names who merged it.
        5 => {
            for pr in gitlab::merge_requests(body) {
                assert!(pr.merged || pr.merged_by.is_none(), "{pr:?}");
            }
        }
        // Sync tags: never more than the tags listed, each naming a cluster and a commit.
        6 => {
            if let Some((tags, syncs)) = gitlab::sync_tags(body) {
                assert!(syncs.len() <= tags);
                for s in &syncs {
                    assert!(!s.cluster.is_empty());
                }
            }
        }
        // A GraphQL batch answer: its size, then the body.
        7 => {
            let [n, rest @ ..] = body else {
                return;
            };
            let n = usize::from(*n) % 101;
            if let Some((prs, authors)) = gitlab::graphql(rest, n) {
                assert!(authors.len() <= n);
                for pr in prs {
                    assert!(pr.merged || pr.merged_by.is_none(), "{pr:?}");
                }
            }
        }
        // Recorded pipeline ids and merge request iids, pages, project ids or paths, and
        // `Link` headers: a next page is only ever under the API.
        _ => {
            let text = String::from_utf8_lossy(body);
            if let Some(n) = gitlab::pipeline_id(&text) {
                assert!(n > 0);
            }
            let _ = gitlab::iid(&text);
            if let Some(repo) = gitlab::repo_of_page(&text) {
                let _ = (repo.key(), repo.web_url(), repo.commit_url("a1b2c3d"));
            }
            if let Ok(project) = spektate_gitlab::Project::parse(&text) {
                let _ = project.to_string();
            }
            const API: &str = "https://gitlab.com/api/v4";
            if let Some(next) = gitlab::link_next(&text, API) {
                let rest = next.strip_prefix(API).expect("a next page under the API");
                assert!(rest.starts_with('/') || rest.starts_with('?'), "{next}");
            }
        }
    }
}

/// An OpenTelemetry collector's answer to an export: the binary and JSON
/// `ExportTraceServiceResponse` (its partial success) and a binary `google.rpc.Status`.
/// Whatever it says, a message shown is short and has no control characters.
pub fn otlp_answers(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let message = match pick % OTLP_PARSERS {
        0 => decode_partial_success(body).ok().map(|p| p.error_message),
        1 => PartialSuccess::from_json(body)
            .ok()
            .map(|p| p.error_message),
        _ => status_message(body),
    };
    if let Some(m) = message {
        assert!(m.chars().count() <= MAX_MESSAGE_CHARS, "{m:?}");
        assert!(!m.chars().any(char::is_control), "{m:?}");
    }
}

/// Response headers: `Retry-After`. (GitLab's `Link` header is fed by [`gitlab_payloads`];
/// GitHub lists are paged by `page=`, Azure DevOps by `x-ms-continuationtoken`.)
pub fn http_headers(data: &[u8]) {
    let Some((_, value)) = data.split_first() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    let parsed = parse_retry_after(value);
    let v = value.trim();
    if !v.is_empty() && v.len() < 10 && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = v.parse().expect("digits");
        assert_eq!(
            parsed,
            Some(std::time::Duration::from_secs(secs)),
            "{value:?}"
        );
    }
}

/// Repository URLs: `RepoRef::parse` and `without_credentials`.
pub fn repo_url(data: &[u8]) {
    let Some((_, url)) = data.split_first() else {
        return;
    };
    let url = String::from_utf8_lossy(url);
    let clean = without_credentials(&url);
    if let Some((_, rest)) = clean.split_once("://") {
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        assert!(!authority.contains('@'), "{url:?} -> {clean:?}");
    }
    assert_eq!(has_credentials(&url), clean.len() != url.len());
    if let Ok(repo) = RepoRef::parse(&url) {
        check_repo(&repo);
    }
}

/// What holds for any run a parser makes.
fn check_run(run: &Run) {
    if let Some(repo) = &run.repository {
        check_repo(repo);
    }
}

/// What holds for any repository `RepoRef::parse` made: its URLs can be built, and one of
/// plain names (what hosts allow) parses back to the same repository.
fn check_repo(repo: &RepoRef) {
    let web = repo.web_url();
    let _ = (
        repo.commit_url("a1b2c3d"),
        repo.pull_request_url("1"),
        repo.to_string(),
    );
    let plain = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_ ".contains(c) || extra.contains(c))
    };
    let plain_parts = plain(&repo.host, ".:")
        && plain(&repo.owner, "/")
        && repo.project.as_deref().is_none_or(|p| plain(p, "."))
        && plain(&repo.name, ".")
        // Parsing trims the URL, and strips one `.git`: such names do not come back.
        && repo.name.trim_end() == repo.name
        && !repo.name.ends_with(".git");
    // A path whose third segment is a GitHub route (`o/r/pull/1`) is a GitHub page on any
    // host not named gitlab, by design: a GitLab group path shaped so does not come back.
    const GITHUB_ROUTES: [&str; 9] = [
        "actions", "runs", "pull", "tree", "blob", "commit", "commits", "releases", "compare",
    ];
    let github_page_shaped = repo.provider == RepoHost::GitLab
        && !repo.host.contains("gitlab")
        && repo
            .owner
            .split('/')
            .chain([repo.name.as_str()])
            .nth(2)
            .is_some_and(|s| GITHUB_ROUTES.contains(&s));
    // Azure DevOps reserves names starting with `_`; a `_git` part reads as the separator.
    let reserved = repo
        .owner
        .split('/')
        .chain(repo.project.as_deref())
        .chain([repo.name.as_str()])
        .any(|s| s == "_git");
    if plain_parts && !github_page_shaped && !reserved {
        let again = RepoRef::parse(&web).unwrap_or_else(|e| panic!("{repo:?}: {web}: {e}"));
        assert_eq!(again.key(), repo.key(), "{repo:?} -> {web}");
    }
}
