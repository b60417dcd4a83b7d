//! A run list refused by a spent rate limit: no request per run follows, and the client
//! sends nothing more until the reset.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use spektate_core::http::{Policy, Secret};
use spektate_core::{Pipelines, RepoRef, Repositories, RunKind, RunRequest};
use spektate_github::GitHub;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_refused_run_list_is_not_followed_by_one_request_per_run() {
    let server = MockServer::start().await;
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
        .mount(&server)
        .await;
    let client = GitHub::builder()
        .api_url(format!("{}/api/v3", server.uri()))
        .repo_host("github.com")
        .without_graphql()
        .token(Secret::new("ghp_secret"))
        .policy(Policy {
            base_delay: Duration::from_millis(5),
            ..Policy::default()
        })
        .build()
        .unwrap();
    let repo = Arc::new(RepoRef::parse("https://github.com/fabrikam/frontend").unwrap());
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
