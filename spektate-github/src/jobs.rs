//! Jobs recorded by id (`job:N`, what the reference tool recorded): a hundred in one GraphQL
//! query, across repositories. A job is a check run, and `resource(url:)` answers its page,
//! `https://HOST/{owner}/{repo}/runs/{id}`, with it.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use spektate_core::{RepoRef, Result};

use crate::client::GitHub;
use crate::graphql::{self, Lookup};
use crate::payloads::Job;

/// The page of job `id` of `repo`.
pub(crate) fn page(repo: &RepoRef, id: u64) -> String {
    format!("{}/runs/{id}", repo.web_url())
}

/// The jobs GraphQL found, by id, and the ids left for REST: those it did not answer as a
/// job (gone, or a page it does not resolve) and those of a query that failed. Without
/// GraphQL, or for a single job, every id is left for REST, where an unchanged job is a 304.
pub(crate) async fn batch(
    gh: &GitHub,
    jobs: &[(RepoRef, u64)],
) -> Result<(HashMap<u64, Job>, Vec<u64>)> {
    let mut items: Vec<(u64, Value)> = Vec::with_capacity(jobs.len());
    let mut seen = HashSet::new();
    for (repo, id) in jobs {
        if seen.insert(*id) {
            items.push((*id, json!(page(repo, *id))));
        }
    }
    let mut found = HashMap::new();
    if !gh.has_graphql() || items.len() < 2 {
        return Ok((found, items.into_iter().map(|(id, _)| id).collect()));
    }
    // A GitHub App's installation token reads one owner's repositories: one batch per owner.
    let groups: Vec<Vec<(u64, Value)>> = if gh.uses_app() {
        let mut by_owner: Vec<(String, Vec<(u64, Value)>)> = Vec::new();
        for (id, page) in items.iter().cloned() {
            let owner = page
                .as_str()
                .and_then(graphql::page_owner)
                .map(|(o, _)| o.to_ascii_lowercase())
                .unwrap_or_default();
            match by_owner.iter_mut().find(|(o, _)| *o == owner) {
                Some((_, group)) => group.push((id, page)),
                None => by_owner.push((owner, vec![(id, page)])),
            }
        }
        by_owner.into_iter().map(|(_, g)| g).collect()
    } else {
        vec![items.clone()]
    };
    let mut objects = HashMap::new();
    let mut rest = Vec::new();
    for group in &groups {
        let (found_here, left) = graphql::lookup_all(gh, Lookup::Jobs, None, group).await?;
        objects.extend(found_here);
        rest.extend(left);
    }
    for (id, _) in &items {
        match objects.get(id).and_then(from_graphql) {
            Some(job) if job.id == *id => {
                found.insert(*id, job);
            }
            _ if !rest.contains(id) => rest.push(*id),
            _ => {}
        }
    }
    Ok((found, rest))
}

/// A GraphQL `CheckRun` as the REST job it is; `None` for another object.
pub(crate) fn from_graphql(obj: &Value) -> Option<Job> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let word = |k: &str| text(obj.get(k)).map(|w| w.to_ascii_lowercase());
    let time = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
    };
    let suite = obj.get("checkSuite");
    let of_suite = |pointer: &str| text(suite.and_then(|s| s.pointer(pointer)));
    Some(Job {
        id: obj.get("databaseId")?.as_u64()?,
        status: word("status"),
        conclusion: word("conclusion"),
        created_at: None,
        started_at: time("startedAt"),
        completed_at: time("completedAt"),
        name: text(obj.get("name")),
        html_url: text(obj.get("url")),
        head_sha: of_suite("/commit/oid"),
        head_branch: of_suite("/branch/name"),
        workflow_name: of_suite("/workflowRun/workflow/name"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use spektate_core::{RunKind, RunResult, RunStatus};

    #[test]
    fn a_graphql_check_run_is_read_as_the_job_it_is() {
        let obj = json!({"databaseId": 1115488431u64, "name": "Build", "status": "COMPLETED",
            "conclusion": "SUCCESS", "startedAt": "2020-09-15T02:29:56Z", "completedAt": "2020-09-15T02:33:38Z",
            "url": "https://github.com/andrebriggs/spartan-app/runs/1115488431",
            "checkSuite": {"branch": {"name": "master"}, "commit": {"oid": "32b0b95f4ca771dee6808a17415d48790f62c6a9"},
                "workflowRun": {"workflow": {"name": "CI"}}}});
        let job = from_graphql(&obj).unwrap();
        let run = crate::actions::job_run("job:1115488431", RunKind::Build, &job).unwrap();
        assert_eq!(
            (run.status, run.result),
            (RunStatus::Completed, Some(RunResult::Succeeded))
        );
        assert_eq!(run.pipeline.as_deref(), Some("CI / Build"));
        assert_eq!(
            run.source_commit.as_deref(),
            Some("32b0b95f4ca771dee6808a17415d48790f62c6a9")
        );
        assert_eq!(run.source_branch.as_deref(), Some("master"));
        assert_eq!(run.repository.unwrap().name, "spartan-app");
        let running = json!({"databaseId": 7, "status": "IN_PROGRESS", "conclusion": null});
        let job = from_graphql(&running).unwrap();
        assert_eq!(
            crate::actions::job_run("job:7", RunKind::Build, &job)
                .unwrap()
                .status,
            RunStatus::InProgress
        );
        assert!(from_graphql(&json!({"url": "https://github.com/o/r/pull/1"})).is_none());
        let repo = RepoRef::parse("https://github.com/andrebriggs/spartan-app").unwrap();
        assert_eq!(
            page(&repo, 1115488431),
            "https://github.com/andrebriggs/spartan-app/runs/1115488431"
        );
    }
}
