//! Creating a GitHub deployment is not idempotent: a POST that may have landed is not resent.

use std::time::Duration;

use serde_json::json;
use spektate_core::RepoRef;
use spektate_core::events::{DeploymentStatuses, NewDeployment};
use spektate_core::http::{Policy, Secret};
use spektate_github::GitHub;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_deployment_answered_502_is_posted_once_and_the_error_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/repos/fabrikam/frontend/deployments"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/repos/fabrikam/frontend/deployments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 42})))
        .mount(&server)
        .await;
    let deployments = GitHub::builder()
        .api_url(format!("{}/api/v3", server.uri()))
        .repo_host("github.com")
        .without_graphql()
        .token(Secret::new("ghp_secret"))
        .policy(Policy {
            base_delay: Duration::from_millis(5),
            ..Policy::default()
        })
        .build()
        .unwrap()
        .deployments();
    let repo = RepoRef::parse("https://github.com/fabrikam/frontend").unwrap();
    let new = NewDeployment {
        git_ref: "main".into(),
        environment: "prod".into(),
        description: "frontend".into(),
        payload: json!({}),
    };
    let e = deployments
        .create_deployment(&repo, &new)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("create deployment") && e.contains("fabrikam/frontend") && e.contains("502"),
        "{e}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "the deployment was posted twice"
    );
}
