//! The ID token of the CI a pipeline runs in (`spektate record --oidc`), so it writes to a
//! Spektate server with no stored secret. The server checks it against its OIDC rules.
//!
//! - **GitHub Actions**: a job with `permissions: id-token: write` has
//!   `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; a `GET` of the URL
//!   with `&audience=...` and the request token as bearer answers `{"value": "<jwt>"}`.
//! - **Azure Pipelines**: `SYSTEM_OIDCREQUESTURI`, with `System.AccessToken` mapped into the
//!   step as `SYSTEM_ACCESSTOKEN`; a `POST` of the URL with `api-version=7.1-preview.1` (and
//!   `serviceConnectionId` for a service connection's token) and the access token as bearer
//!   answers `{"oidcToken": "<jwt>"}`. Its audience is always `api://AzureADTokenExchange`;
//!   its subject is `p://org/project/pipeline`, or `sc://org/project/connection` for a
//!   service connection.
//!
//! Tokens are [`Secret`]s and never printed.

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::{Auth, HttpClient, Method, Policy, Request, Secret};
use crate::url_encode;

/// The `api-version` an Azure Pipelines ID token is asked with.
pub const AZURE_API_VERSION: &str = "7.1-preview.1";
/// The audience of every Azure Pipelines ID token.
pub const AZURE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The CI an ID token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    /// GitHub Actions.
    GitHubActions,
    /// Azure Pipelines.
    AzurePipelines,
}

/// What to ask for.
#[derive(Debug, Clone, Default)]
pub struct IdTokenRequest {
    /// The audience (`aud`) asked of GitHub Actions; Azure Pipelines has a fixed one.
    pub audience: String,
    /// The Azure Pipelines service connection whose token to ask for (none: the pipeline's).
    pub service_connection: Option<String>,
}

#[derive(Deserialize)]
struct GitHubAnswer {
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AzureAnswer {
    oidc_token: String,
}

fn missing(why: impl Into<String>) -> Error {
    Error::invalid("--oidc", why.into())
}

/// A variable of `env`, trimmed, when set and not empty.
fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `url` with `pairs` added to its query.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = url.to_string();
    for (name, value) in pairs {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(name);
        out.push('=');
        out.push_str(&url_encode::query_value(value));
    }
    out
}

/// A URL as an error may show it: its scheme and host, without user info, path or query (a
/// token request URL's query may hold a token), cut.
fn scheme_and_host(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // No authority: at most a scheme such as `file:` or `mailto:`, else nothing.
        return match url.split_once(':') {
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                format!("scheme '{}', no host", crate::text::shown(scheme, 20))
            }
            _ => "no scheme".to_string(),
        };
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!(
        "{}://{}",
        crate::text::shown(scheme, 20),
        crate::text::shown(host, 100)
    )
}

/// Which CI the environment `env` is, by the variables it sets; an error that says what to
/// set when it is a CI that holds back the token.
pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> Result<Ci> {
    let github = (
        var(env, "ACTIONS_ID_TOKEN_REQUEST_URL"),
        var(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    );
    if let (Some(_), Some(_)) = github {
        return Ok(Ci::GitHubActions);
    }
    let azure = (
        var(env, "SYSTEM_OIDCREQUESTURI"),
        var(env, "SYSTEM_ACCESSTOKEN"),
    );
    if let (Some(_), Some(_)) = azure {
        return Ok(Ci::AzurePipelines);
    }
    if azure.0.is_some() {
        return Err(missing(
            "Azure Pipelines gives an ID token only with System.AccessToken: add `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)` to the step",
        ));
    }
    if var(env, "GITHUB_ACTIONS").is_some() || github.0.is_some() {
        return Err(missing(
            "GitHub Actions gives an ID token only to a job with `permissions: id-token: write`",
        ));
    }
    Err(missing(
        "no CI ID token here: --oidc works in GitHub Actions (permissions: id-token: write) and Azure Pipelines (SYSTEM_ACCESSTOKEN mapped into the step)",
    ))
}

/// The ID token of the CI `env` describes (see the module), asked for with `request`.
pub async fn request_id_token(
    env: &dyn Fn(&str) -> Option<String>,
    request: &IdTokenRequest,
) -> Result<Secret> {
    request_id_token_with(env, request, default_policy()).await
}

/// How the token is asked for: 10 s an attempt, three retries.
pub fn default_policy() -> Policy {
    Policy {
        timeout: Duration::from_secs(10),
        max_retries: 3,
        base_delay: Duration::from_millis(250),
        max_delay: Duration::from_secs(10),
        concurrency: 1,
        max_body_bytes: 64 * 1024,
    }
}

/// [`request_id_token`] with an explicit policy.
pub async fn request_id_token_with(
    env: &dyn Fn(&str) -> Option<String>,
    request: &IdTokenRequest,
    policy: Policy,
) -> Result<Secret> {
    let ci = detect(env)?;
    let (url_var, bearer_var) = match ci {
        Ci::GitHubActions => (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ),
        Ci::AzurePipelines => ("SYSTEM_OIDCREQUESTURI", "SYSTEM_ACCESSTOKEN"),
    };
    let (Some(url), Some(bearer)) = (var(env, url_var), var(env, bearer_var)) else {
        return Err(missing(format!(
            "the CI's token request variables {url_var} and {bearer_var} are not both set"
        )));
    };
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(missing(format!(
            "{url_var} ({}) is not an http(s) URL",
            scheme_and_host(&url)
        )));
    }
    let (provider, request) = match ci {
        Ci::GitHubActions => {
            let audience = request.audience.trim();
            if audience.is_empty() {
                return Err(Error::invalid(
                    "--oidc-audience",
                    "is empty; give the audience the server's OIDC rule names",
                ));
            }
            (
                "GitHub Actions ID token",
                Request::get(
                    with_query(&url, &[("audience", audience)]),
                    "request ID token",
                    format!("audience {audience}"),
                ),
            )
        }
        Ci::AzurePipelines => {
            let mut pairs = vec![("api-version", AZURE_API_VERSION)];
            if let Some(sc) = request.service_connection.as_deref().map(str::trim)
                && !sc.is_empty()
            {
                pairs.push(("serviceConnectionId", sc));
            }
            (
                "Azure Pipelines ID token",
                Request::new(
                    Method::POST,
                    with_query(&url, &pairs),
                    "request ID token",
                    request
                        .service_connection
                        .as_deref()
                        .map_or("the pipeline".to_string(), |sc| {
                            format!("service connection {sc}")
                        }),
                )
                .header("content-type", "application/json")
                .body(Vec::new()),
            )
        }
    };
    let http = HttpClient::with_policy(provider, Auth::Bearer(Secret::new(bearer)), policy)?;
    let response = http.send(request).await?;
    let token = match ci {
        Ci::GitHubActions => response.json::<GitHubAnswer>()?.value,
        Ci::AzurePipelines => response.json::<AzureAnswer>()?.oidc_token,
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(Error::provider(
            provider,
            "request ID token",
            "",
            "the answer holds no token",
        ));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use wiremock::matchers::{body_string, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn fast() -> Policy {
        Policy {
            base_delay: Duration::from_millis(5),
            ..default_policy()
        }
    }

    #[tokio::test]
    async fn github_actions_gives_a_token_for_the_audience_asked() {
        let ci = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/_apis/token"))
            .and(query_param("api-version", "2.0"))
            .and(query_param("audience", "https://spektate.example.com/x y"))
            .and(header("authorization", "Bearer request-token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"count": 1, "value": "e30.e30.sig"})),
            )
            .expect(1)
            .mount(&ci)
            .await;
        let env = env_of(&[
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("{}/_apis/token?api-version=2.0", ci.uri()),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token".into()),
            ("GITHUB_ACTIONS", "true".into()),
        ]);
        let asked = IdTokenRequest {
            audience: "https://spektate.example.com/x y".into(),
            service_connection: None,
        };
        let token = request_id_token_with(&env, &asked, fast()).await.unwrap();
        assert_eq!(token.expose(), "e30.e30.sig");
        assert_eq!(format!("{token:?}"), "***");
    }

    #[tokio::test]
    async fn azure_pipelines_gives_the_token_of_the_pipeline_or_its_service_connection() {
        let ci = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(
                "/fabrikam/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
            ))
            .and(query_param("api-version", AZURE_API_VERSION))
            .and(query_param("serviceConnectionId", "5e4b-sc"))
            .and(header("authorization", "Bearer system-token"))
            .and(header("content-type", "application/json"))
            .and(body_string(""))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"oidcToken": "e30.e30.sc"})),
            )
            .expect(1)
            .mount(&ci)
            .await;
        Mock::given(method("POST"))
            .and(path(
                "/fabrikam/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
            ))
            .and(query_param("api-version", AZURE_API_VERSION))
            .and(header("authorization", "Bearer system-token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"oidcToken": "e30.e30.pipeline"})),
            )
            .mount(&ci)
            .await;
        let env = env_of(&[
            (
                "SYSTEM_OIDCREQUESTURI",
                format!(
                    "{}/fabrikam/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
                    ci.uri()
                ),
            ),
            ("SYSTEM_ACCESSTOKEN", "system-token".into()),
            ("TF_BUILD", "True".into()),
        ]);
        let sc = IdTokenRequest {
            audience: String::new(),
            service_connection: Some("5e4b-sc".into()),
        };
        let token = request_id_token_with(&env, &sc, fast()).await.unwrap();
        assert_eq!(token.expose(), "e30.e30.sc");
        let pipeline = request_id_token_with(&env, &IdTokenRequest::default(), fast())
            .await
            .unwrap();
        assert_eq!(pipeline.expose(), "e30.e30.pipeline");
        let requests = ci.received_requests().await.unwrap();
        assert!(
            requests
                .iter()
                .all(|r| !r.url.query().unwrap_or_default().contains("audience")),
            "Azure Pipelines has no audience to ask for"
        );
    }

    #[tokio::test]
    async fn a_refused_request_is_an_error_without_the_request_token() {
        let ci = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(403).set_body_string("no"))
            .mount(&ci)
            .await;
        let env = env_of(&[
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("{}/token", ci.uri()),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token".into()),
        ]);
        let asked = IdTokenRequest {
            audience: "spektate".into(),
            service_connection: None,
        };
        let e = request_id_token_with(&env, &asked, fast())
            .await
            .unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("GitHub Actions ID token"), "{shown}");
        assert!(shown.contains("HTTP 403"), "{shown}");
        assert!(!shown.contains("request-token"), "{shown}");
    }

    #[tokio::test]
    async fn a_request_url_that_is_not_http_names_its_variable_scheme_and_host_only() {
        let asked = IdTokenRequest {
            audience: "spektate".into(),
            service_connection: None,
        };
        let cases = [
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                "ftp://user:pw@ci.example.com:8021/_apis/token?api-version=2.0&sig=secret-sig",
                "invalid --oidc: ACTIONS_ID_TOKEN_REQUEST_URL (ftp://ci.example.com:8021) is not an http(s) URL",
            ),
            (
                "SYSTEM_OIDCREQUESTURI",
                "SYSTEM_ACCESSTOKEN",
                "file:/etc/token?sig=secret-sig",
                "invalid --oidc: SYSTEM_OIDCREQUESTURI (scheme 'file', no host) is not an http(s) URL",
            ),
            (
                "SYSTEM_OIDCREQUESTURI",
                "SYSTEM_ACCESSTOKEN",
                "dev.azure.com/x?sig=secret-sig",
                "invalid --oidc: SYSTEM_OIDCREQUESTURI (no scheme) is not an http(s) URL",
            ),
        ];
        for (url_var, token_var, url, want) in cases {
            let env = env_of(&[(url_var, url.into()), (token_var, "request-token".into())]);
            let e = request_id_token_with(&env, &asked, fast())
                .await
                .unwrap_err()
                .to_string();
            assert_eq!(e, want);
            assert!(!e.contains("secret-sig") && !e.contains("pw"), "{e}");
        }
    }

    #[test]
    fn a_ci_that_holds_back_its_token_says_what_to_set() {
        let github = detect(&env_of(&[("GITHUB_ACTIONS", "true".into())])).unwrap_err();
        assert!(
            github.to_string().contains("permissions: id-token: write"),
            "{github}"
        );
        let azure = detect(&env_of(&[(
            "SYSTEM_OIDCREQUESTURI",
            "https://dev.azure.com/x".into(),
        )]))
        .unwrap_err();
        assert!(
            azure
                .to_string()
                .contains("SYSTEM_ACCESSTOKEN: $(System.AccessToken)"),
            "{azure}"
        );
        let none = detect(&env_of(&[])).unwrap_err();
        assert!(
            none.to_string()
                .starts_with("invalid --oidc: no CI ID token here")
        );
    }
}
