//! Rate limits, headers and credentials, as GitHub sends and expects them.

mod support;

use std::time::{Duration as StdDuration, Instant};

use chrono::Utc;
use spektate_core::http::Secret;
use spektate_core::{Error, Pipelines, RepoRef, Repositories, RunKind, RunRequest};
use support::{FakeGitHub, RunSpec, TOKEN};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const RUN_PATH: &str = "/api/v3/repos/fabrikam/frontend/actions/runs/9600000001";

fn req(id: u64) -> RunRequest {
    RunRequest {
        id: id.to_string(),
        repo: Some(std::sync::Arc::new(
            RepoRef::parse("https://github.com/fabrikam/frontend").unwrap(),
        )),
    }
}

async fn world_with_two_runs() -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    let mut w = gh.world();
    w.repos.insert("fabrikam/frontend".into());
    for id in [9_600_000_001u64, 9_600_000_002] {
        w.runs.insert(
            ("fabrikam/frontend".into(), id),
            RunSpec::new("fabrikam/frontend", id, 1, Utc::now()).json(),
        );
    }
    drop(w);
    gh
}

#[tokio::test]
async fn a_secondary_rate_limit_with_retry_after_is_waited_out() {
    let gh = world_with_two_runs().await;
    let body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 8844:3EDF1D:1F13C4:2BB820:652AAB04.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"403"}"#;
    Mock::given(method("GET"))
        .and(path(RUN_PATH))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "1")
                .insert_header("x-ratelimit-remaining", "4990")
                .set_body_string(body),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&gh.server)
        .await;
    let started = Instant::now();
    let batch = gh
        .client()
        .actions()
        .runs(RunKind::Build, &[req(9_600_000_001)])
        .await
        .unwrap();
    assert!(batch.found.contains_key("9600000001"), "{:?}", batch.failed);
    assert!(
        started.elapsed() >= StdDuration::from_millis(950),
        "Retry-After was not honored"
    );
    let hits = gh
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == RUN_PATH)
        .count();
    assert_eq!(hits, 2, "one refused request, one retry after the wait");
}

#[tokio::test]
async fn a_spent_primary_limit_holds_the_next_request_until_it_resets() {
    let gh = world_with_two_runs().await;
    let reset = (Utc::now().timestamp() + 2).to_string();
    let run = RunSpec::new("fabrikam/frontend", 9_600_000_001, 1, Utc::now())
        .json()
        .to_string();
    Mock::given(method("GET"))
        .and(path(RUN_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_string(run),
        )
        .with_priority(1)
        .mount(&gh.server)
        .await;
    let actions = gh.client().actions();
    actions
        .runs(RunKind::Build, &[req(9_600_000_001)])
        .await
        .unwrap();
    let started = Instant::now();
    let batch = actions
        .runs(RunKind::Build, &[req(9_600_000_002)])
        .await
        .unwrap();
    assert!(batch.found.contains_key("9600000002"));
    assert!(
        started.elapsed() >= StdDuration::from_millis(950),
        "the next request did not wait for x-ratelimit-reset"
    );
    assert_eq!(
        gh.server.received_requests().await.unwrap().len(),
        2,
        "no request was refused on the way"
    );
}

#[tokio::test]
async fn a_primary_limit_resetting_in_an_hour_fails_fast_and_says_when() {
    let gh = world_with_two_runs().await;
    let reset = (Utc::now().timestamp() + 3600).to_string();
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_string(r#"{"message":"API rate limit exceeded for user ID 583231. If you reach out to GitHub Support for help, please include the request ID DBC8:2B3A:1D1E0F:1E4C9A:6650B1C2 and timestamp 2024-05-24 12:00:00 UTC.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"403"}"#),
        )
        .with_priority(1)
        .mount(&gh.server)
        .await;
    let started = Instant::now();
    let batch = gh
        .client()
        .actions()
        .runs(RunKind::Build, &[req(9_600_000_001)])
        .await
        .unwrap();
    let why = &batch.failed["9600000001"];
    assert!(
        why.contains("API rate limit exceeded") && why.contains("resets at"),
        "{why}"
    );
    assert!(
        !why.contains("token was rejected"),
        "a rate limit is not a credentials problem: {why}"
    );
    assert!(started.elapsed() < StdDuration::from_secs(5));
    assert_eq!(
        gh.server.received_requests().await.unwrap().len(),
        1,
        "no hammering"
    );
}

#[tokio::test]
async fn requests_say_who_they_are_and_carry_the_token() {
    let gh = world_with_two_runs().await;
    gh.client()
        .actions()
        .runs(RunKind::Build, &[req(9_600_000_001)])
        .await
        .unwrap();
    let received = gh.server.received_requests().await.unwrap();
    let h = &received[0].headers;
    let get = |n: &str| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        get("user-agent").starts_with("spektate/"),
        "{}",
        get("user-agent")
    );
    assert_eq!(get("x-github-api-version"), "2022-11-28");
    assert_eq!(get("accept"), "application/vnd.github+json");
    assert_eq!(get("authorization"), format!("Bearer {TOKEN}"));
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_error_that_never_shows_the_token() {
    let gh = world_with_two_runs().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string(r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#))
        .with_priority(1)
        .mount(&gh.server)
        .await;
    let client = gh.client();
    let e = client
        .repos()
        .pull_requests(
            &RepoRef::parse("https://github.com/fabrikam/hld").unwrap(),
            &["3".to_string()],
        )
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Provider { auth: true, .. }), "{msg}");
    assert!(
        msg.contains("token was rejected")
            && msg.contains("Bad credentials")
            && msg.contains("fabrikam/hld"),
        "{msg}"
    );
    let batch = client
        .actions()
        .runs(RunKind::Build, &[req(9_600_000_001)])
        .await
        .unwrap();
    let why = &batch.failed["9600000001"];
    assert!(why.contains("token was rejected"), "{why}");
    for shown in [msg, why.clone(), format!("{client:?}")] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }
}

/// A run list refused by a spent rate limit: no request per run follows, and the client
/// sends nothing more until the reset.
#[tokio::test]
async fn a_refused_run_list_is_not_followed_by_one_request_per_run() {
    let gh = FakeGitHub::start().await;
    let server = &gh.server;
    let reset = (Utc::now().timestamp() + 3600).to_string();
    Mock::given(method("GET"))
        .and(path("/api/v3/repos/fabrikam/frontend/actions/runs"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_string(r#"{"message":"API rate limit exceeded for user ID 583231.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"403"}"#),
        )
        .with_priority(1)
        .mount(server)
        .await;
    let client = gh
        .builder()
        .without_graphql()
        .token(Secret::new(TOKEN))
        .build()
        .unwrap();
    let repo = std::sync::Arc::new(RepoRef::parse("https://github.com/fabrikam/frontend").unwrap());
    let wanted: Vec<RunRequest> = (1..=10)
        .map(|i| RunRequest {
            id: (9_600_000_000u64 + i).to_string(),
            repo: Some(repo.clone()),
        })
        .collect();
    let batch = client
        .actions()
        .runs(RunKind::Build, &wanted)
        .await
        .unwrap();
    assert_eq!(batch.failed.len(), 10, "{:?}", batch.found.keys());
    for why in batch.failed.values() {
        assert!(
            why.contains("API rate limit exceeded") && why.contains("resets at"),
            "{why}"
        );
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "requests went out while the rate limit was spent"
    );

    let e = client
        .repos()
        .pull_requests(&repo, &["3".to_string()])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not sent") && e.contains("rate limit") && e.contains("127.0.0.1"),
        "{e}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// A run list refused by a secondary limit named only in its message: no request per run
/// follows either, though the pause is short enough to wait out.
#[tokio::test]
async fn a_run_list_refused_by_a_secondary_limit_is_not_followed_by_one_request_per_run() {
    let gh = FakeGitHub::start().await;
    let body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"403"}"#;
    Mock::given(method("GET"))
        .and(path("/api/v3/repos/fabrikam/frontend/actions/runs"))
        .respond_with(ResponseTemplate::new(403).set_body_string(body))
        .with_priority(1)
        .mount(&gh.server)
        .await;
    let client = gh
        .builder()
        .without_graphql()
        .token(Secret::new(TOKEN))
        .policy(spektate_core::http::Policy {
            max_retries: 0,
            max_delay: StdDuration::from_millis(50),
            ..spektate_core::http::Policy::default()
        })
        .build()
        .unwrap();
    let wanted: Vec<RunRequest> = (1..=10).map(|i| req(9_600_000_000 + i)).collect();
    let batch = client
        .actions()
        .runs(RunKind::Build, &wanted)
        .await
        .unwrap();
    assert_eq!(batch.failed.len(), 10, "{:?}", batch.found.keys());
    assert!(
        batch
            .failed
            .values()
            .all(|why| why.contains("secondary rate limit"))
    );
    assert_eq!(
        gh.server.received_requests().await.unwrap().len(),
        1,
        "requests went out after the secondary limit"
    );
}
