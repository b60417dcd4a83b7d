//! Hosts, credentials, limits and fallbacks against the fake GitLab: how each kind of token
//! is sent, that it goes nowhere but the configured instance, a 429 with `Retry-After`, a
//! project by numeric id, and GraphQL falling back to REST.

mod support;

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use spektate_core::{Pipelines, Repositories, RunKind, RunRequest, RunResult, RunStatus, Stage};
use spektate_gitlab::{GitLab, Project, Secret, TokenKind};
use support::{FakeGitLab, TOKEN, commit, job, merge_request, pipeline, sha_of};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SVC: &str = "fabrikam/svc";

fn add_pipeline(gl: &FakeGitLab, project: &str, id: u64, status: &str) {
    let base = gl.url();
    let mut w = gl.world();
    let pid = w.add_project(project);
    let p = pipeline(
        &base,
        project,
        pid,
        id,
        id % 1000,
        status,
        &sha_of("x"),
        Utc::now(),
    );
    w.pipelines.entry(project.into()).or_default().insert(id, p);
}

#[tokio::test]
async fn each_token_kind_is_sent_in_its_header() {
    for kind in [TokenKind::Private, TokenKind::OAuth, TokenKind::Job] {
        let gl = FakeGitLab::start_with("", kind).await;
        add_pipeline(&gl, SVC, 208_859_532, "success");
        let client = gl
            .builder()
            .token(Secret::new(TOKEN))
            .token_kind(kind)
            .build()
            .unwrap();
        let runs = client
            .pipelines()
            .runs(
                RunKind::Build,
                &[RunRequest {
                    id: "208859532".into(),
                    repo: Some(Arc::new(gl.repo(SVC))),
                }],
            )
            .await
            .unwrap();
        assert_eq!(runs.found.len(), 1, "{kind:?}: {runs:?}");
        let checked = client.check_token().await.unwrap();
        let want = match kind {
            TokenKind::Job => "job token accepted: job 8801 of project 21761957",
            _ => "token accepted for @spektate-bot",
        };
        assert_eq!(checked, want, "{kind:?}");
    }
}

#[tokio::test]
async fn a_rejected_token_is_an_error_that_never_shows_it() {
    let gl = FakeGitLab::start().await;
    add_pipeline(&gl, SVC, 208_859_532, "success");
    let wrong = "glpat-not-the-right-one";
    let client = gl.builder().token(Secret::new(wrong)).build().unwrap();
    let req = RunRequest {
        id: "208859532".into(),
        repo: Some(Arc::new(gl.repo(SVC))),
    };
    let batch = client
        .pipelines()
        .runs(RunKind::Build, &[req])
        .await
        .unwrap();
    let why = &batch.failed["208859532"];
    assert!(why.contains("the token was rejected (HTTP 401)"), "{why}");
    let e = client.repos().sync_tags(&gl.repo(SVC)).await.unwrap_err();
    let shown = format!("{e} {e:?} {client:?}");
    assert!(shown.contains("401") && !shown.contains(wrong), "{shown}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let gl = FakeGitLab::start().await;
    add_pipeline(&gl, SVC, 208_859_532, "running");
    gl.world().throttle = 1;
    let client = gl.client();
    let started = Instant::now();
    let req = RunRequest {
        id: "208859532".into(),
        repo: Some(Arc::new(gl.repo(SVC))),
    };
    let batch = client
        .pipelines()
        .runs(RunKind::Build, &[req])
        .await
        .unwrap();
    assert_eq!(batch.found["208859532"].status, RunStatus::InProgress);
    assert!(
        started.elapsed() >= StdDuration::from_millis(900),
        "Retry-After: 1 was honored ({:?})",
        started.elapsed()
    );
    let statuses: Vec<u16> = gl.served().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test]
async fn a_project_by_numeric_id_serves_records_that_name_none() {
    let gl = FakeGitLab::start().await;
    add_pipeline(
        &gl,
        "samiyaakhtar/hello-world-full-stack",
        208_859_532,
        "failed",
    );
    let id = gl
        .world()
        .add_project("samiyaakhtar/hello-world-full-stack");
    let pipelines = gl.client().pipelines().default_project(Project::Id(id));
    let batch = pipelines
        .runs(
            RunKind::Release,
            &[RunRequest {
                id: "208859532".into(),
                repo: None,
            }],
        )
        .await
        .unwrap();
    let run = &batch.found["208859532"];
    assert_eq!(run.result, Some(spektate_core::RunResult::Failed));
    assert_eq!(run.requested_by.as_deref(), Some("samiyaakhtar"));
    assert!(
        gl.served()
            .iter()
            .all(|s| s.path.starts_with(&format!("/projects/{id}/"))),
        "{:?}",
        gl.served()
    );
    // Without a default project, a record naming no project is a failure that says why.
    let batch = gl
        .client()
        .pipelines()
        .runs(
            RunKind::Release,
            &[RunRequest {
                id: "208859532".into(),
                repo: None,
            }],
        )
        .await
        .unwrap();
    assert!(
        batch.failed["208859532"].contains("no default project"),
        "{batch:?}"
    );
    // A project of another instance is left to the next provider.
    let other = spektate_core::RepoRef::parse("https://gitlab.com/fabrikam/svc").unwrap();
    let batch = pipelines
        .runs(
            RunKind::Build,
            &[RunRequest {
                id: "1".into(),
                repo: Some(Arc::new(other)),
            }],
        )
        .await
        .unwrap();
    assert!(batch.found.is_empty() && batch.failed.is_empty() && batch.not_found.is_empty());
}

#[tokio::test]
async fn stages_come_from_the_jobs_of_a_pipeline() {
    let gl = FakeGitLab::start().await;
    add_pipeline(&gl, SVC, 208_859_532, "failed");
    let base = gl.url();
    gl.world().jobs.insert(
        208_859_532,
        vec![
            job(&base, SVC, 11, 208_859_532, "build", "success", Utc::now()),
            job(
                &base,
                SVC,
                12,
                208_859_532,
                "update-hld",
                "failed",
                Utc::now(),
            ),
        ],
    );
    let pipelines = gl.client().pipelines();
    let batch = pipelines
        .runs(
            RunKind::Build,
            &[RunRequest {
                id: "208859532".into(),
                repo: Some(Arc::new(gl.repo(SVC))),
            }],
        )
        .await
        .unwrap();
    let stages = pipelines.stages(&batch.found["208859532"]).await.unwrap();
    let names: Vec<(&str, Option<spektate_core::RunResult>)> =
        stages.iter().map(|s| (s.name.as_str(), s.result)).collect();
    assert_eq!(
        names,
        [
            ("build", Some(spektate_core::RunResult::Succeeded)),
            ("update-hld", Some(spektate_core::RunResult::Failed))
        ]
    );
}

/// The stages of pipeline `id` of [`SVC`].
async fn stages(gl: &FakeGitLab, id: u64) -> Vec<Stage> {
    let pipelines = gl.client().pipelines();
    let batch = pipelines
        .runs(
            RunKind::Build,
            &[RunRequest {
                id: id.to_string(),
                repo: Some(Arc::new(gl.repo(SVC))),
            }],
        )
        .await
        .unwrap();
    pipelines
        .stages(&batch.found[&id.to_string()])
        .await
        .unwrap()
}

fn states(stages: &[Stage]) -> Vec<(&str, RunStatus, Option<RunResult>)> {
    stages
        .iter()
        .map(|s| (s.name.as_str(), s.status, s.result))
        .collect()
}

#[tokio::test]
async fn a_retried_job_of_the_first_stage_leaves_the_image_stage_first() {
    let gl = FakeGitLab::start().await;
    let id = 208_859_600;
    add_pipeline(&gl, SVC, id, "success");
    let base = gl.url();
    let at = Utc::now();
    // The build job failed, the metadata stage's 120 jobs ran, then the build job was
    // retried: GitLab lists only the retry unless asked for retried jobs, and the first
    // attempt is on the second page.
    let mut jobs = vec![job(&base, SVC, 1, id, "build", "failed", at)];
    for n in 1..=120u64 {
        let mut j = job(&base, SVC, 1 + n, id, "update-hld", "success", at);
        j["name"] = format!("update-hld {n}/120").into();
        jobs.push(j);
    }
    jobs.push(job(&base, SVC, 122, id, "build", "success", at));
    gl.world().jobs.insert(id, jobs);
    let got = stages(&gl, id).await;
    assert_eq!(
        states(&got),
        [
            ("build", RunStatus::Completed, Some(RunResult::Succeeded)),
            (
                "update-hld",
                RunStatus::Completed,
                Some(RunResult::Succeeded)
            ),
        ],
        "{:?}",
        gl.served()
    );
    assert!(
        got[0]
            .url
            .as_deref()
            .is_some_and(|u| u.ends_with("/jobs/122")),
        "the build stage links the retry"
    );
}

#[tokio::test]
async fn jobs_allowed_to_fail_leave_their_stage_passed() {
    let gl = FakeGitLab::start().await;
    let id = 208_859_601;
    add_pipeline(&gl, SVC, id, "success");
    let base = gl.url();
    let at = Utc::now();
    let optional = |n: u64, stage: &str, name: &str, status: &str| {
        let mut j = job(&base, SVC, n, id, stage, status, at);
        j["name"] = name.into();
        j["allow_failure"] = true.into();
        j
    };
    gl.world().jobs.insert(
        id,
        vec![
            job(&base, SVC, 1, id, "build", "success", at),
            // `when: manual`, allowed to fail by default: never played.
            optional(2, "build", "deploy-review", "manual"),
            job(&base, SVC, 3, id, "update-hld", "success", at),
            optional(4, "update-hld", "lint-hld", "failed"),
        ],
    );
    let passed = (RunStatus::Completed, Some(RunResult::Succeeded));
    assert_eq!(
        states(&stages(&gl, id).await),
        [
            ("build", passed.0, passed.1),
            ("update-hld", passed.0, passed.1)
        ]
    );
}

#[tokio::test]
async fn commit_authors_come_in_batches_gitlab_accepts() {
    let gl = FakeGitLab::start().await;
    let base = gl.url();
    let shas: Vec<String> = (0..40).map(|i| sha_of(&format!("batch-{i}"))).collect();
    {
        let mut w = gl.world();
        w.add_project(SVC);
        for sha in &shas {
            let c = commit(
                &base,
                SVC,
                sha,
                "Mona Lisa",
                "mona@fabrikam.example",
                Some("mona"),
                Utc::now(),
            );
            w.commits.insert((SVC.into(), sha.clone()), c);
        }
    }
    let repos = gl.client().repos();
    let (found, notices) =
        spektate_core::warnings::collect_notices(repos.authors(&gl.repo(SVC), &shas)).await;
    let found = found.unwrap();
    assert!(
        notices.is_empty(),
        "no batch fell back to REST: {notices:?}"
    );
    assert_eq!(found.len(), 40);
    assert!(
        found.values().all(|a| a.login.as_deref() == Some("mona")),
        "GraphQL links every author's account"
    );
    let served = gl.served();
    let queries: Vec<usize> = served
        .iter()
        .filter(|s| s.is_graphql())
        .map(|s| s.graphql_objects)
        .collect();
    assert_eq!(queries.iter().sum::<usize>(), 40);
    assert!(queries.len() <= 3, "{queries:?}");
    assert!(
        !served
            .iter()
            .any(|s| s.path.contains("/repository/commits/"))
    );
}

#[test]
fn the_fake_refuses_what_gitlab_refuses() {
    let alias = "commit(ref: $c0) { sha authorName authorEmail committedDate webUrl \
                 author { username name avatarUrl webUrl } }";
    let query = |n: usize| {
        let aliases: Vec<String> = (0..n).map(|i| format!("c{i}: {alias}")).collect();
        format!(
            "query($path: ID!) {{ project(fullPath: $path) {{ repository {{ {} }} }} }}",
            aliases.join(" ")
        )
    };
    assert_eq!(support::complexity(&query(1)), 2 + 12);
    assert!(support::complexity(&query(20)) <= support::MAX_COMPLEXITY);
    assert!(support::complexity(&query(21)) > support::MAX_COMPLEXITY);
    assert_eq!(support::complexity(&query(100)), 1202);
}

#[tokio::test]
async fn a_merge_request_closed_unmerged_has_its_closing_time_over_graphql() {
    let gl = FakeGitLab::start().await;
    let base = gl.url();
    {
        let mut w = gl.world();
        w.add_project(SVC);
        let closed = merge_request(&base, SVC, 7, "Deploy", "b", "closed", None, Utc::now());
        let open = merge_request(&base, SVC, 8, "Deploy", "c", "opened", None, Utc::now());
        let mrs = w.merge_requests.entry(SVC.into()).or_default();
        mrs.insert(7, closed);
        mrs.insert(8, open);
    }
    let repos = gl.client().repos();
    let ids: Vec<String> = vec!["7".into(), "8".into()];
    let found = repos.pull_requests(&gl.repo(SVC), &ids).await.unwrap();
    assert!(
        !gl.served().iter().any(|s| s.path.contains("iids")),
        "answered over GraphQL"
    );
    let closed = &found["7"];
    assert!(closed.closed && !closed.merged);
    assert!(closed.merged_at.is_some(), "{closed:?}");
    assert!(found["8"].merged_at.is_none());
}

#[tokio::test]
async fn graphql_falls_back_to_rest() {
    let gl = FakeGitLab::start().await;
    let base = gl.url();
    let shas: Vec<String> = (0..3).map(|i| sha_of(&format!("c{i}"))).collect();
    {
        let mut w = gl.world();
        w.add_project(SVC);
        for sha in &shas {
            let c = commit(
                &base,
                SVC,
                sha,
                "Mona Lisa",
                "mona@fabrikam.example",
                Some("mona"),
                Utc::now(),
            );
            w.commits.insert((SVC.into(), sha.clone()), c);
        }
        for iid in 1..=3 {
            let m = merge_request(
                &base,
                SVC,
                iid,
                "Deploy",
                "b",
                "merged",
                None,
                Utc::now() - Duration::hours(1),
            );
            w.merge_requests
                .entry(SVC.into())
                .or_default()
                .insert(iid, m);
        }
        // An older GitLab, without Repository.commit; then GraphQL down altogether.
        w.no_graphql_commit = true;
    }
    let repos = gl.client().repos();
    let (found, notices) =
        spektate_core::warnings::collect_notices(repos.authors(&gl.repo(SVC), &shas)).await;
    let found = found.unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[&shas[0]].name, "Mona Lisa");
    assert_eq!(notices.len(), 1, "{notices:?}");
    let said = notices[0].to_string();
    assert!(
        said.contains("3 commits") && said.contains("doesn't exist"),
        "{said}"
    );

    gl.world().graphql_down = true;
    let ids: Vec<String> = vec!["1".into(), "2".into(), "!3".into(), "99".into()];
    gl.clear_log();
    let (found, _) =
        spektate_core::warnings::collect_notices(repos.pull_requests(&gl.repo(SVC), &ids)).await;
    let found = found.unwrap();
    assert_eq!(found.len(), 3, "{found:?}");
    let merged = &found["!3"];
    assert!(
        merged.merged && merged.merged_by.is_none(),
        "a merge request merged without merged_by: {merged:?}"
    );
    let rest: Vec<String> = gl
        .served()
        .iter()
        .filter(|s| s.method == "GET" && s.path.contains("iids"))
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(
        rest.len(),
        1,
        "one REST page for every merge request: {:?}",
        gl.served()
    );
}

#[tokio::test]
async fn the_token_goes_to_the_configured_instance_only() {
    // A next page and a redirect that point at another host are not followed.
    let instance = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let next = format!(
        "<{}/api/v4/projects/fabrikam%2Fsvc/repository/tags?page=2&per_page=100>; rel=\"next\"",
        elsewhere.uri()
    );
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/fabrikam%2Fsvc/repository/tags"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_string(include_str!("fixtures/tags-response.json")),
        )
        .mount(&instance)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/fabrikam%2Fsvc/pipelines/7"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .mount(&instance)
        .await;
    Mock::given(header("private-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&elsewhere)
        .await;
    let client = GitLab::builder()
        .url(instance.uri())
        .token(Secret::new(TOKEN))
        .build()
        .unwrap();
    let repo = spektate_core::RepoRef::parse(&format!("{}/fabrikam/svc", instance.uri())).unwrap();
    let syncs = client.repos().sync_tags(&repo).await.unwrap();
    assert_eq!(syncs.len(), 1, "the first page is read: {syncs:?}");
    let batch = client
        .pipelines()
        .runs(
            RunKind::Build,
            &[RunRequest {
                id: "7".into(),
                repo: Some(Arc::new(repo)),
            }],
        )
        .await
        .unwrap();
    assert!(batch.failed["7"].contains("302"), "{batch:?}");
    let stolen = elsewhere.received_requests().await.unwrap_or_default();
    assert!(
        stolen.is_empty(),
        "the other host received {} requests",
        stolen.len()
    );
}

#[tokio::test]
async fn histories_come_one_commits_list_per_project_revalidated_with_its_etag() {
    let gl = FakeGitLab::start().await;
    let history: Vec<String> = (0..150).map(|i| sha_of(&format!("m{i}"))).collect();
    {
        let mut w = gl.world();
        w.add_project("fabrikam/manifests");
        w.history
            .insert("fabrikam/manifests".into(), history.clone());
    }
    let repos = gl.client().repos();
    let asked = [gl.repo("fabrikam/manifests"), gl.repo("fabrikam/gone")];
    let got = repos
        .commit_orders(&asked)
        .await
        .unwrap()
        .expect("GitLab offers histories");
    assert_eq!(got[&asked[0].key()], history[..100], "the newest 100");
    assert!(
        !got.contains_key(&asked[1].key()),
        "a project GitLab does not find is left out"
    );
    let served = gl.served();
    assert_eq!(served.len(), 2, "{served:?}");
    assert!(
        served
            .iter()
            .any(|s| s.path.ends_with("/repository/commits?per_page=100") && s.status == 200),
        "{served:?}"
    );

    // Asked again with nothing pushed: a 304, the same history.
    gl.clear_log();
    let again = repos.commit_orders(&asked[..1]).await.unwrap().unwrap();
    assert_eq!(again[&asked[0].key()], history[..100]);
    let served = gl.served();
    assert_eq!(
        served.iter().map(|s| s.status).collect::<Vec<_>>(),
        [304],
        "{served:?}"
    );
}
