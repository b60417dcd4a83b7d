//! [`AzureDevOps`]: the pipelines provider over one project's builds and classic releases.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde_json::Value;
use spektate_core::fields::non_empty_text;
use spektate_core::http::{HttpClient, Policy, Request, Secret};
use spektate_core::url_encode::segment;
use spektate_core::{Error, Pipelines, Result, Run, RunBatch, RunKind, RunRequest, Stage};

use crate::api::{self, DEFAULT_URL, versions};
use crate::builds::{build_to_run, chunk_ids, timeline_stages};
use crate::releases::release_to_run;

/// Release ids per `releases?releaseIdFilter=` request.
const RELEASES_PER_REQUEST: usize = 100;

/// Pages followed per chunk before giving up on a continuation chain.
const MAX_PAGES: usize = 50;

/// Azure DevOps Pipelines of one project: builds (p1, p3, multi-stage p2) by id through the
/// Build REST API, classic releases (p2) through the Release REST API, and stages from
/// build timelines.
///
/// ```
/// use spektate_azdo::AzureDevOps;
/// use spektate_core::http::Secret;
///
/// let cloud = AzureDevOps::cloud("fabrikam", "hello world", Secret::new("pat")).unwrap();
/// assert_eq!(cloud.release_url(), "https://vsrm.dev.azure.com/fabrikam");
/// let server = AzureDevOps::new("https://tfs.corp.local/tfs/DefaultCollection", "ops", Secret::new("pat")).unwrap();
/// assert_eq!(server.release_url(), "https://tfs.corp.local/tfs/DefaultCollection");
/// ```
#[derive(Debug, Clone)]
pub struct AzureDevOps {
    http: HttpClient,
    org_url: String,
    release_url: String,
    project: String,
}

/// Builds an [`AzureDevOps`] provider.
#[derive(Debug, Clone)]
pub struct AzureDevOpsBuilder {
    org_url: String,
    project: String,
    token: Option<Secret>,
    release_url: Option<String>,
    policy: Policy,
}

impl AzureDevOpsBuilder {
    /// The personal access token (sent as basic auth with an empty user).
    pub fn token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// The release management URL, when it is not derived from the organisation URL
    /// (`vsrm.dev.azure.com/{org}` for the cloud, the collection URL for a server).
    pub fn release_url(mut self, url: impl Into<String>) -> Self {
        self.release_url = Some(url.into());
        self
    }

    /// Timeouts, retries and concurrency (default: 30 s, 4 retries, 8 requests at once).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The provider; an error names a malformed URL or an empty project.
    pub fn build(self) -> Result<AzureDevOps> {
        let org_url = api::org_url("Azure DevOps organisation URL", &self.org_url)?;
        let project = self.project.trim().to_string();
        if project.is_empty() {
            return Err(Error::invalid(
                "Azure DevOps project",
                "is empty; a value is required",
            ));
        }
        let release_url = match &self.release_url {
            Some(u) => api::org_url("Azure DevOps release URL", u)?,
            None => derive_release_url(&org_url),
        };
        let name = format!("azure-devops {}", without_scheme(&org_url));
        let http = api::client(&name, self.token.as_ref(), self.policy)?;
        Ok(AzureDevOps {
            http,
            org_url,
            release_url,
            project,
        })
    }
}

fn without_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

/// `https://dev.azure.com/org` → `https://vsrm.dev.azure.com/org`;
/// `https://org.visualstudio.com` → `https://org.vsrm.visualstudio.com`; a server's
/// collection URL serves releases itself.
fn derive_release_url(org_url: &str) -> String {
    let (scheme, rest) = org_url.split_once("://").unwrap_or(("https", org_url));
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let host_l = host.to_ascii_lowercase();
    let sep = if path.is_empty() { "" } else { "/" };
    if host_l == "dev.azure.com" {
        format!("{scheme}://vsrm.dev.azure.com{sep}{path}")
    } else if let Some(org) = host_l
        .strip_suffix(".visualstudio.com")
        .filter(|o| !o.contains('.'))
    {
        format!("{scheme}://{org}.vsrm.visualstudio.com{sep}{path}")
    } else {
        org_url.to_string()
    }
}

fn is_run_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 10 && id.bytes().all(|b| b.is_ascii_digit())
}

impl AzureDevOps {
    /// A builder for the project `project` of the organisation (or collection) at `org_url`.
    pub fn builder(org_url: impl Into<String>, project: impl Into<String>) -> AzureDevOpsBuilder {
        AzureDevOpsBuilder {
            org_url: org_url.into(),
            project: project.into(),
            token: None,
            release_url: None,
            policy: Policy::default(),
        }
    }

    /// The provider for `project` at `org_url` with a personal access token.
    pub fn new(
        org_url: impl Into<String>,
        project: impl Into<String>,
        token: Secret,
    ) -> Result<Self> {
        Self::builder(org_url, project).token(token).build()
    }

    /// The provider for `project` of the cloud organisation `org` (`dev.azure.com/{org}`).
    pub fn cloud(org: &str, project: impl Into<String>, token: Secret) -> Result<Self> {
        Self::new(
            format!("{DEFAULT_URL}/{}", segment(org.trim())),
            project,
            token,
        )
    }

    /// The organisation or collection URL.
    pub fn org_url(&self) -> &str {
        &self.org_url
    }

    /// The release management URL.
    pub fn release_url(&self) -> &str {
        &self.release_url
    }

    /// The project.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Checks that the project exists and the token may read it; returns the project's name.
    pub async fn check(&self) -> Result<String> {
        let url = format!(
            "{}/_apis/projects/{}?api-version={}",
            self.org_url,
            segment(&self.project),
            versions::PROJECTS
        );
        let body: Value = api::get_json(&self.http, &url, "get project", &self.project).await?;
        Ok(non_empty_text(body.get("name")).unwrap_or_else(|| self.project.clone()))
    }

    /// The builds with these ids, in chunks whose URLs stay under 2,000 characters,
    /// fetched concurrently (bounded by the client's policy).
    pub async fn builds(&self, ids: &[String]) -> RunBatch {
        let base = format!(
            "{}/{}/_apis/build/builds?api-version={}",
            self.org_url,
            segment(&self.project),
            versions::BUILDS
        );
        self.fetch(
            ids,
            &base,
            "buildIds",
            usize::MAX,
            "get builds",
            build_to_run,
        )
        .await
    }

    /// The classic releases with these ids, with environments and artifacts.
    pub async fn releases(&self, ids: &[String]) -> RunBatch {
        let base = format!(
            "{}/{}/_apis/release/releases?api-version={}&$expand=environments,artifacts",
            self.release_url,
            segment(&self.project),
            versions::RELEASES
        );
        self.fetch(
            ids,
            &base,
            "releaseIdFilter",
            RELEASES_PER_REQUEST,
            "get releases",
            release_to_run,
        )
        .await
    }

    async fn fetch(
        &self,
        ids: &[String],
        base: &str,
        param: &str,
        max_per_chunk: usize,
        operation: &str,
        map: fn(&Value) -> Option<Run>,
    ) -> RunBatch {
        let wanted: BTreeSet<String> = ids.iter().filter(|id| is_run_id(id)).cloned().collect();
        let wanted: Vec<String> = wanted.into_iter().collect();
        // `&$top=NNNN&{param}=` follows the base in every chunk's URL.
        let prefix_len = base.len() + "&$top=".len() + 4 + param.len() + 2;
        let chunks: Vec<Vec<String>> = chunk_ids(prefix_len, &wanted)
            .into_iter()
            .flat_map(|c| {
                c.chunks(max_per_chunk)
                    .map(<[String]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect();
        let jobs = chunks.into_iter().map(|chunk| async move {
            let url = format!("{base}&$top={}&{param}={}", chunk.len(), chunk.join(","));
            let object = format!("ids {}", chunk.join(","));
            // Each run of the chunk once; nothing else a page holds is kept.
            let mut seen = BTreeSet::new();
            let keep = |v: Value| {
                let run = map(&v)?;
                (chunk.contains(&run.id) && seen.insert(run.id.clone())).then_some(run)
            };
            let got = api::pages(
                &self.http,
                &url,
                MAX_PAGES,
                operation,
                &object,
                chunk.len(),
                keep,
            )
            .await;
            (chunk, got)
        });
        let mut batch = RunBatch::default();
        for (chunk, got) in futures::future::join_all(jobs).await {
            match got {
                Ok(runs) => {
                    for run in runs {
                        batch.found.insert(run.id.clone(), run);
                    }
                    for id in chunk {
                        if !batch.found.contains_key(&id) {
                            batch.not_found.insert(id);
                        }
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    for id in chunk {
                        batch.failed.insert(id, why.clone());
                    }
                }
            }
        }
        batch
    }

    /// The stages of build `id`, by order, from its timeline.
    pub async fn build_stages(&self, id: &str) -> Result<Vec<Stage>> {
        self.timeline_stages_of(id, None).await
    }

    /// The stages of build `id`; with its web page, each linked to the run's logs at it.
    async fn timeline_stages_of(&self, id: &str, run_url: Option<&str>) -> Result<Vec<Stage>> {
        if !is_run_id(id) {
            return Err(Error::invalid(
                "build id",
                format!("'{id}' is not an Azure DevOps build id"),
            ));
        }
        let url = format!(
            "{}/{}/_apis/build/builds/{id}/timeline?api-version={}",
            self.org_url,
            segment(&self.project),
            versions::BUILDS
        );
        let object = format!("build {id}");
        let req = Request::get(&url, "get timeline", &object).pass(&[404]);
        let resp = api::send(&self.http, req, "get timeline", &object).await?;
        if resp.status == 404 || resp.status == 204 || resp.body.iter().all(u8::is_ascii_whitespace)
        {
            return Ok(Vec::new());
        }
        let timeline: Value = resp.json()?;
        Ok(timeline_stages(&timeline, run_url))
    }
}

#[async_trait]
impl Pipelines for AzureDevOps {
    fn name(&self) -> String {
        format!("{}/{}", self.http.provider(), self.project)
    }

    async fn check(&self) -> Result<Option<String>> {
        AzureDevOps::check(self)
            .await
            .map(|p| Some(format!("project {p} readable")))
    }

    fn serves_run(&self, _kind: RunKind, id: &str) -> bool {
        is_run_id(id)
    }

    async fn runs(&self, kind: RunKind, requests: &[RunRequest]) -> Result<RunBatch> {
        let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
        Ok(match kind {
            RunKind::Build => self.builds(&ids).await,
            RunKind::Release => self.releases(&ids).await,
        })
    }

    async fn stages(&self, run: &Run) -> Result<Vec<Stage>> {
        self.timeline_stages_of(&run.id, run.url.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_urls_follow_the_organisation_url() {
        assert_eq!(
            derive_release_url("https://dev.azure.com/fabrikam"),
            "https://vsrm.dev.azure.com/fabrikam"
        );
        assert_eq!(
            derive_release_url("https://fabrikam.visualstudio.com"),
            "https://fabrikam.vsrm.visualstudio.com"
        );
        assert_eq!(
            derive_release_url("http://127.0.0.1:8080/fabrikam"),
            "http://127.0.0.1:8080/fabrikam"
        );
    }

    #[test]
    fn bad_configuration_is_named() {
        let e = AzureDevOps::builder("dev.azure.com/fabrikam", "p")
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("organisation URL") && e.contains("'dev.azure.com/fabrikam'"),
            "{e}"
        );
        let e = AzureDevOps::builder("https://dev.azure.com/fabrikam", "  ")
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("project"), "{e}");
    }

    #[test]
    fn only_numeric_ids_are_served() {
        let p = AzureDevOps::cloud("fabrikam", "hello", Secret::new("pat-s3cret")).unwrap();
        assert!(p.serves_run(RunKind::Build, "7176"));
        assert!(!p.serves_run(RunKind::Build, "jenkins-42"));
        assert!(!p.serves_run(RunKind::Release, ""));
        assert!(!format!("{p:?}").contains("pat-s3cret"));
    }
}
