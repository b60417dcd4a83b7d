//! [`GitHubDeployments`]: GitHub Deployments and their statuses, written back so a
//! repository's page shows where each commit runs
//! (`POST /repos/{owner}/{repo}/deployments`, then `POST .../deployments/{id}/statuses`).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use spektate_core::events::{DeploymentStatus, DeploymentStatuses, NewDeployment};
use spektate_core::http::{Method, Request};
use spektate_core::url_encode;
use spektate_core::{Error, RepoRef, Result};

use crate::client::GitHub;

/// GitHub as a [`DeploymentStatuses`] host: the client's token (or GitHub App installation
/// token) goes only to its API, and only for repositories on its hosts.
#[derive(Debug, Clone)]
pub struct GitHubDeployments {
    gh: GitHub,
}

impl GitHub {
    /// Deployments and statuses of this client's repositories.
    pub fn deployments(&self) -> GitHubDeployments {
        GitHubDeployments { gh: self.clone() }
    }
}

/// The part of GitHub's deployment object read back.
#[derive(Deserialize)]
struct Created {
    id: u64,
}

/// A deployment as a list of them shows it: its id and payload (an object, or the text of
/// one as older deployments kept it).
#[derive(Deserialize)]
struct Listed {
    id: u64,
    #[serde(default)]
    payload: serde_json::Value,
}

/// The most deployments of one commit and environment read when looking one up.
const LOOKUP_PAGE: usize = 100;

/// Spektate's id and partition in a deployment's payload.
fn spektate_of(payload: &serde_json::Value) -> Option<(String, String)> {
    let parsed;
    let payload = match payload {
        serde_json::Value::String(text) => {
            parsed = serde_json::from_str::<serde_json::Value>(text).ok()?;
            &parsed
        }
        other => other,
    };
    let s = payload.get("spektate")?;
    Some((
        s.get("id")?.as_str()?.to_string(),
        s.get("partition")?.as_str()?.to_string(),
    ))
}

#[async_trait]
impl DeploymentStatuses for GitHubDeployments {
    fn name(&self) -> String {
        self.gh.label()
    }

    fn serves_repo(&self, repo: &RepoRef) -> bool {
        self.gh.serves_repo(repo)
    }

    /// `GET /repos/{owner}/{repo}/deployments?ref=&environment=`, newest first: the first
    /// whose payload names the same Spektate deployment and partition. `ref` is compared as
    /// it was sent, so a short commit id finds its deployment too (`sha` wants the full one).
    async fn find_deployment(&self, repo: &RepoRef, d: &NewDeployment) -> Result<Option<u64>> {
        let Some(wanted) = spektate_of(&d.payload) else {
            return Ok(None);
        };
        let url = format!(
            "{}?ref={}&environment={}&per_page={LOOKUP_PAGE}",
            self.gh.repo_url(repo, "/deployments")?,
            url_encode::query_value(&d.git_ref),
            url_encode::query_value(&d.environment)
        );
        let object = format!("{}/{} {}", repo.owner, repo.name, d.environment);
        let Some(resp) = self
            .gh
            .get_uncached(&url, "list deployments", &object)
            .await?
        else {
            return Ok(None);
        };
        let listed: Vec<Listed> = resp.json()?;
        Ok(listed
            .iter()
            .take(LOOKUP_PAGE)
            .find(|l| spektate_of(&l.payload).as_ref() == Some(&wanted))
            .map(|l| l.id))
    }

    async fn create_deployment(&self, repo: &RepoRef, d: &NewDeployment) -> Result<u64> {
        let url = self.gh.repo_url(repo, "/deployments")?;
        let object = format!("{}/{} {}", repo.owner, repo.name, d.environment);
        // No merge of the default branch into the commit, and no commit status checks: the
        // commit is already deployed, this only records it. Each POST creates a deployment, so
        // one that may have landed is not resent.
        let body = json!({
            "ref": d.git_ref,
            "environment": d.environment,
            "description": d.description,
            "auto_merge": false,
            "required_contexts": [],
            "payload": d.payload,
        });
        let resp = self
            .gh
            .send(
                Request::new(Method::POST, url, "create deployment", &object)
                    .json(&body)
                    .no_retry(),
            )
            .await?;
        if resp.status != 201 {
            // 202 is GitHub's answer when it merged the default branch instead.
            return Err(Error::provider(
                self.gh.label(),
                "create deployment",
                object,
                format!("HTTP {} instead of 201 Created", resp.status),
            ));
        }
        Ok(resp.json::<Created>()?.id)
    }

    async fn create_status(&self, repo: &RepoRef, id: u64, s: &DeploymentStatus) -> Result<()> {
        let url = self
            .gh
            .repo_url(repo, &format!("/deployments/{id}/statuses"))?;
        let object = format!("{}/{} deployment {id}", repo.owner, repo.name);
        let mut body = json!({
            "state": s.state.as_str(),
            "environment": s.environment,
            "description": s.description,
            "auto_inactive": true,
        });
        if let Some(u) = &s.log_url {
            body["log_url"] = json!(u);
        }
        if let Some(u) = &s.environment_url {
            body["environment_url"] = json!(u);
        }
        // Retried like a read: a repeat adds the same state again, the deployment's latest
        // status stays right, while a status lost to a 5xx would leave it stale.
        self.gh
            .send(Request::new(Method::POST, url, "create deployment status", object).json(&body))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use spektate_core::events::DeploymentState;
    use spektate_core::http::{Policy, Secret};
    use wiremock::matchers::{body_partial_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn client(server: &MockServer) -> GitHubDeployments {
        client_with(
            server,
            Policy {
                max_retries: 0,
                ..Policy::default()
            },
        )
    }

    fn client_with(server: &MockServer, policy: Policy) -> GitHubDeployments {
        GitHub::builder()
            .api_url(format!("{}/api/v3", server.uri()))
            .repo_host("github.com")
            .without_graphql()
            .token(Secret::new("ghp_secret"))
            .policy(policy)
            .build()
            .unwrap()
            .deployments()
    }

    #[tokio::test]
    async fn a_deployment_whose_creation_may_have_landed_is_not_posted_again() {
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
        let quick = Policy {
            base_delay: std::time::Duration::from_millis(5),
            ..Policy::default()
        };
        let e = client_with(&server, quick)
            .create_deployment(&repo(), &new_deployment("a1"))
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

    /// A deployment object as GitHub documents it (abridged).
    fn deployment(id: u64) -> Value {
        json!({
            "url": format!("https://api.github.com/repos/fabrikam/frontend/deployments/{id}"),
            "id": id,
            "node_id": "MDEwOkRlcGxveW1lbnQx",
            "sha": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
            "ref": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
            "task": "deploy",
            "payload": {},
            "original_environment": "prod",
            "environment": "prod",
            "description": "frontend frontend-1001",
            "creator": { "login": "spektate-bot", "id": 1 },
            "created_at": "2026-11-26T12:00:00Z",
            "updated_at": "2026-11-26T12:00:00Z",
            "statuses_url": format!("https://api.github.com/repos/fabrikam/frontend/deployments/{id}/statuses"),
            "repository_url": "https://api.github.com/repos/fabrikam/frontend",
            "transient_environment": false,
            "production_environment": true
        })
    }

    fn repo() -> RepoRef {
        RepoRef::parse("https://github.com/fabrikam/frontend").unwrap()
    }

    fn new_deployment(id: &str) -> NewDeployment {
        NewDeployment {
            git_ref: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d".into(),
            environment: "prod".into(),
            description: "frontend frontend-1001".into(),
            payload: json!({"spektate": {"id": id, "partition": "fabrikam"}}),
        }
    }

    #[tokio::test]
    async fn a_deployment_another_server_created_is_found_by_its_spektate_id() {
        let server = MockServer::start().await;
        let with = |id: u64, payload: Value| {
            let mut d = deployment(id);
            d["payload"] = payload;
            d
        };
        Mock::given(method("GET"))
            .and(path("/api/v3/repos/fabrikam/frontend/deployments"))
            .and(query_param(
                "ref",
                "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
            ))
            .and(query_param("environment", "prod"))
            .and(query_param("per_page", "100"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                with(
                    45,
                    json!({"spektate": {"id": "b2", "partition": "fabrikam"}})
                ),
                with(
                    44,
                    json!({"spektate": {"id": "a1", "partition": "contoso"}})
                ),
                with(
                    43,
                    json!("{\"spektate\":{\"id\":\"a1\",\"partition\":\"fabrikam\"}}")
                ),
                with(42, json!({})),
            ])))
            .expect(2)
            .mount(&server)
            .await;
        let gh = client(&server);
        let found = gh.find_deployment(&repo(), &new_deployment("a1")).await;
        assert_eq!(
            found.unwrap(),
            Some(43),
            "same id and partition, payload kept as text"
        );
        let none = gh.find_deployment(&repo(), &new_deployment("c3")).await;
        assert_eq!(none.unwrap(), None);
    }

    #[tokio::test]
    async fn a_deployment_then_its_status_are_posted_with_the_token() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v3/repos/fabrikam/frontend/deployments"))
            .and(header("authorization", "Bearer ghp_secret"))
            .and(body_partial_json(json!({
                "ref": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
                "environment": "prod",
                "auto_merge": false,
                "required_contexts": [],
                "payload": {"spektate": {"id": "a1"}}
            })))
            .respond_with(ResponseTemplate::new(201).set_body_json(deployment(42)))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(
                "/api/v3/repos/fabrikam/frontend/deployments/42/statuses",
            ))
            .and(body_partial_json(json!({
                "state": "success",
                "environment": "prod",
                "description": "frontend frontend-1001: live in east-us",
                "log_url": "https://github.com/fabrikam/hld/actions/runs/3",
                "environment_url": "https://spektate.fabrikam.com/",
                "auto_inactive": true
            })))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "url": "https://api.github.com/repos/fabrikam/frontend/deployments/42/statuses/1",
                "id": 1, "state": "success", "environment": "prod"
            })))
            .expect(1)
            .mount(&server)
            .await;
        let gh = client(&server);
        assert!(gh.serves_repo(&repo()));
        assert!(!gh.serves_repo(&RepoRef::parse("https://gitlab.com/fabrikam/frontend").unwrap()));
        let id = gh
            .create_deployment(
                &repo(),
                &NewDeployment {
                    git_ref: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d".into(),
                    environment: "prod".into(),
                    description: "frontend frontend-1001".into(),
                    payload: json!({"spektate": {"id": "a1"}}),
                },
            )
            .await
            .unwrap();
        assert_eq!(id, 42);
        gh.create_status(
            &repo(),
            id,
            &DeploymentStatus {
                state: DeploymentState::Success,
                environment: "prod".into(),
                description: "frontend frontend-1001: live in east-us".into(),
                log_url: Some("https://github.com/fabrikam/hld/actions/runs/3".into()),
                environment_url: Some("https://spektate.fabrikam.com/".into()),
            },
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_conflict_or_an_auto_merge_is_an_error_naming_the_repository_not_the_token() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v3/repos/fabrikam/frontend/deployments"))
            .respond_with(ResponseTemplate::new(409).set_body_json(json!({
                "message": "Conflict: Commit status checks failed for main.",
                "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment"
            })))
            .mount(&server)
            .await;
        let new = NewDeployment {
            git_ref: "main".into(),
            environment: "prod".into(),
            description: "frontend".into(),
            payload: json!({}),
        };
        let e = client(&server)
            .create_deployment(&repo(), &new)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fabrikam/frontend") && e.contains("409") && e.contains("status checks"),
            "{e}"
        );
        assert!(!e.contains("ghp_secret"), "{e}");

        let merged = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v3/repos/fabrikam/frontend/deployments"))
            .respond_with(ResponseTemplate::new(202).set_body_json(
                json!({"message": "Auto-merged main into topic-branch on deployment."}),
            ))
            .mount(&merged)
            .await;
        let e = client(&merged)
            .create_deployment(&repo(), &new)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("202"), "{e}");
    }
}
