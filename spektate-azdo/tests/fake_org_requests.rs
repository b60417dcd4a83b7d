//! The requests the conformance and budget tests make only to be refused, made against the
//! fake organisation with something to answer: the project check, the repository check and one
//! pull request by number. `tests/specs/run.sh` checks what was served against the service's
//! REST descriptions.

mod common;

use common::fake_org::{Caps, FakeOrg, ORG, PROJECT, Repo};
use common::fixtures::load;
use serde_json::json;
use spektate_core::Repositories;

#[tokio::test]
async fn the_project_a_repository_and_a_pull_request_by_number_are_read() {
    let fake = FakeOrg::start(Caps::SERVICE).await;
    {
        let mut pr = load("pr-response.json");
        pr["pullRequestId"] = json!(7);
        pr["codeReviewId"] = json!(7);
        pr["title"] = json!("Update frontend to frontend-812 in prod");
        let mut repo = Repo::default();
        repo.pulls.insert(7, pr);
        fake.org().repos.insert("hld".into(), repo);
    }
    assert_eq!(fake.pipelines().check().await.unwrap(), PROJECT);

    let hld = FakeOrg::repo("hld");
    let repos = fake.repos();
    assert_eq!(
        repos.check(&hld).await.unwrap(),
        format!("https://dev.azure.com/{ORG}/{PROJECT}/_git/hld")
    );
    let pulls = repos.pull_requests(&hld, &["7".to_string()]).await.unwrap();
    assert_eq!(pulls["7"].title, "Update frontend to frontend-812 in prod");

    let served: Vec<String> = fake
        .served()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s.status,
                s.target.split('?').next().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        served,
        [
            format!("200 /{ORG}/_apis/projects/{PROJECT}"),
            format!("200 /{ORG}/{PROJECT}/_apis/git/repositories/hld"),
            format!("200 /{ORG}/{PROJECT}/_apis/git/repositories/hld/pullrequests/7"),
        ]
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
