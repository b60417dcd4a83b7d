//! Repositories, parsed from their URLs, with the host kept (Azure DevOps Server, GitHub Enterprise).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which service hosts a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RepoHost {
    /// Azure DevOps Services or Server (Azure Repos).
    #[serde(rename = "azure-devops")]
    AzureDevOps,
    /// GitHub or GitHub Enterprise Server.
    #[serde(rename = "github")]
    GitHub,
    /// GitLab, hosted or self-managed.
    #[serde(rename = "gitlab")]
    GitLab,
}

/// A repository: host kind, host name, owner (org, owner, group path), project and name.
///
/// All parts are lower-cased, as records store them, so two spellings of one URL compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoRef {
    /// The hosting service.
    pub provider: RepoHost,
    /// `http` or `https`; `https` for SSH URLs.
    pub scheme: String,
    /// Host name, with a port when one was given (`dev.azure.com`, `github.example.com:8443`).
    pub host: String,
    /// Azure DevOps organisation or collection path (`fabrikam`, `tfs/defaultcollection`),
    /// GitHub owner, or GitLab group path (`group/subgroup`).
    pub owner: String,
    /// Azure DevOps project; `None` elsewhere.
    pub project: Option<String>,
    /// Repository name.
    pub name: String,
}

impl RepoRef {
    /// Parses a clone or web URL of Azure DevOps, GitHub or GitLab.
    ///
    /// ```
    /// use spektate_core::{RepoHost, RepoRef};
    /// let r = RepoRef::parse("git@github.com:Fabrikam/Frontend.git").unwrap();
    /// assert_eq!((r.provider, r.owner.as_str(), r.name.as_str()), (RepoHost::GitHub, "fabrikam", "frontend"));
    /// let a = RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/hld").unwrap();
    /// assert_eq!(a.project.as_deref(), Some("hello"));
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        parse(url).ok_or_else(|| {
            Error::invalid(
                "repository URL",
                format!(
                    "'{}' is not an Azure DevOps, GitHub or GitLab repository URL",
                    super::url::without_credentials(url.trim())
                ),
            )
        })
    }

    /// A stable key: `host/owner[/project]/name`.
    pub fn key(&self) -> String {
        match &self.project {
            Some(p) => format!("{}/{}/{}/{}", self.host, self.owner, p, self.name),
            None => format!("{}/{}/{}", self.host, self.owner, self.name),
        }
    }

    /// The repository's web page.
    pub fn web_url(&self) -> String {
        match self.provider {
            RepoHost::AzureDevOps => format!(
                "{}/{}/_git/{}",
                self.azure_org_url(),
                space_encoded(self.project.as_deref().unwrap_or_default()),
                space_encoded(&self.name)
            ),
            _ => format!(
                "{}://{}/{}/{}",
                self.scheme, self.host, self.owner, self.name
            ),
        }
    }

    /// For Azure DevOps: the organisation (or collection) URL the REST API lives under.
    pub fn azure_org_url(&self) -> String {
        if self.host.ends_with(".visualstudio.com") {
            format!("{}://{}", self.scheme, self.host)
        } else {
            format!("{}://{}/{}", self.scheme, self.host, self.owner)
        }
    }

    /// The web page of a commit.
    pub fn commit_url(&self, sha: &str) -> String {
        match self.provider {
            RepoHost::AzureDevOps => format!("{}/commit/{sha}", self.web_url()),
            RepoHost::GitHub => format!("{}/commit/{sha}", self.web_url()),
            RepoHost::GitLab => format!("{}/-/commit/{sha}", self.web_url()),
        }
    }

    /// The web page listing the repository's tags (where Flux's `flux-<cluster>` sync tags
    /// show which commit each cluster runs).
    ///
    /// ```
    /// use spektate_core::RepoRef;
    /// let r = RepoRef::parse("https://github.com/fabrikam/manifests").unwrap();
    /// assert_eq!(r.tags_url(), "https://github.com/fabrikam/manifests/tags");
    /// let a = RepoRef::parse("https://dev.azure.com/fabrikam/hello/_git/manifests").unwrap();
    /// assert_eq!(a.tags_url(), "https://dev.azure.com/fabrikam/hello/_git/manifests/tags");
    /// ```
    pub fn tags_url(&self) -> String {
        match self.provider {
            RepoHost::AzureDevOps | RepoHost::GitHub => format!("{}/tags", self.web_url()),
            RepoHost::GitLab => format!("{}/-/tags", self.web_url()),
        }
    }

    /// The web page of a pull (merge) request.
    pub fn pull_request_url(&self, id: &str) -> String {
        match self.provider {
            RepoHost::AzureDevOps => format!("{}/pullrequest/{id}", self.web_url()),
            RepoHost::GitHub => format!("{}/pull/{id}", self.web_url()),
            RepoHost::GitLab => format!("{}/-/merge_requests/{id}", self.web_url()),
        }
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.web_url())
    }
}

/// Only spaces, on purpose not `url_encode::segment`: `web_url` must parse back to the same
/// repository, and `parse` decodes `%20` alone.
fn space_encoded(s: &str) -> String {
    s.replace(' ', "%20")
}

fn parse(url: &str) -> Option<RepoRef> {
    let raw = url.trim();
    if raw.is_empty() || raw.chars().any(|c| c.is_whitespace() && c != ' ') {
        return None;
    }
    let lower = raw.to_lowercase();
    // Split into scheme, host and path for the URL forms, including scp-like `git@host:path`.
    let (scheme, rest) = if let Some(r) = lower.strip_prefix("https://") {
        ("https", r)
    } else if let Some(r) = lower.strip_prefix("http://") {
        ("http", r)
    } else if let Some(r) = lower.strip_prefix("ssh://") {
        ("ssh", r)
    } else if let Some(r) = lower.strip_prefix("git://") {
        ("ssh", r)
    } else if lower.contains('@') && lower.contains(':') && !lower.contains("://") {
        // git@host:owner/repo.git → host/owner/repo.git
        let (user_host, path) = lower.split_once(':')?;
        let host = user_host.rsplit('@').next()?;
        return build("ssh", host, path);
    } else {
        return None;
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit('@').next()?; // drop `user@` / `user:pass@`
    let host = if scheme == "ssh" {
        // ssh://git@host:22/path: the port is the SSH port, not the web one.
        host.split(':').next()?
    } else {
        host
    };
    build(scheme, host, path)
}

/// Whether a path is a page of a GitHub repository (`owner/repo/actions/runs/1/job/2`,
/// `owner/repo/pull/3`, ...): GitLab puts such pages after `/-/`.
fn is_github_page(segs: &[String]) -> bool {
    const ROUTES: [&str; 9] = [
        "actions", "runs", "pull", "tree", "blob", "commit", "commits", "releases", "compare",
    ];
    segs.len() >= 4 && !segs.iter().any(|s| s == "-") && ROUTES.contains(&segs[2].as_str())
}

fn build(scheme: &str, host: &str, path: &str) -> Option<RepoRef> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("%20", " "))
        .collect();
    if let Some(last) = segs.last_mut()
        && let Some(stripped) = last.strip_suffix(".git")
    {
        *last = stripped.to_string();
    }
    segs.retain(|s| !s.is_empty());
    if host.is_empty() || segs.is_empty() {
        return None;
    }
    let web_scheme = if scheme == "ssh" { "https" } else { scheme }.to_string();
    let mk = |provider, host: &str, owner: String, project: Option<String>, name: String| {
        Some(RepoRef {
            provider,
            scheme: web_scheme.clone(),
            host: host.to_string(),
            owner,
            project,
            name,
        })
    };

    // Azure DevOps over SSH: ssh.dev.azure.com:v3/org/project/repo, vs-ssh.visualstudio.com:v3/...
    if host == "ssh.dev.azure.com" || host.ends_with("vs-ssh.visualstudio.com") {
        if segs.len() == 4 && segs[0] == "v3" {
            let org = segs[1].clone();
            let h = if host == "ssh.dev.azure.com" {
                "dev.azure.com".to_string()
            } else {
                format!("{org}.visualstudio.com")
            };
            return mk(
                RepoHost::AzureDevOps,
                &h,
                org,
                Some(segs[2].clone()),
                segs[3].clone(),
            );
        }
        return None;
    }
    // Azure DevOps web and HTTPS clone URLs: .../{project}/_git/{repo}
    if let Some(i) = segs.iter().position(|s| s == "_git") {
        if i + 1 >= segs.len() || i == 0 {
            return None;
        }
        let name = segs[i + 1].clone();
        if host.ends_with(".visualstudio.com") {
            let org = host.split('.').next()?.to_string();
            let project = segs[i - 1].clone();
            return mk(RepoHost::AzureDevOps, host, org, Some(project), name);
        }
        if i < 2 {
            // dev.azure.com/org/_git/repo: the project is named like the repo.
            return mk(
                RepoHost::AzureDevOps,
                host,
                segs[0].clone(),
                Some(name.clone()),
                name,
            );
        }
        let owner = segs[..i - 1].join("/");
        return mk(
            RepoHost::AzureDevOps,
            host,
            owner,
            Some(segs[i - 1].clone()),
            name,
        );
    }
    if host == "dev.azure.com" || host.ends_with(".visualstudio.com") {
        return None;
    }
    // GitLab: nested groups, and web URLs with `/-/...` suffixes.
    let trimmed: Vec<String> = match segs.iter().position(|s| s == "-") {
        Some(i) => segs[..i].to_vec(),
        None => segs.clone(),
    };
    if !host.contains("github")
        && (host.contains("gitlab") || (trimmed.len() > 2 && !is_github_page(&segs)))
    {
        if trimmed.len() < 2 {
            return None;
        }
        let name = trimmed.last()?.clone();
        let owner = trimmed[..trimmed.len() - 1].join("/");
        return mk(RepoHost::GitLab, host, owner, None, name);
    }
    // GitHub and GitHub Enterprise: owner/repo (web URLs may carry /pull/1, /tree/main, ...).
    if segs.len() >= 2 {
        let host = if host == "www.github.com" {
            "github.com"
        } else {
            host
        };
        return mk(
            RepoHost::GitHub,
            host,
            segs[0].clone(),
            None,
            segs[1].clone(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(url: &str) -> RepoRef {
        RepoRef::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn azure_devops_forms() {
        let cases = [
            "https://dev.azure.com/Fabrikam/Hello%20World/_git/HLD",
            "https://fabrikam@dev.azure.com/fabrikam/hello world/_git/hld/",
            "git@ssh.dev.azure.com:v3/fabrikam/Hello%20World/hld",
            "ssh://git@ssh.dev.azure.com/v3/fabrikam/hello%20world/hld.git",
        ];
        for url in cases {
            let r = p(url);
            assert_eq!(r.provider, RepoHost::AzureDevOps, "{url}");
            assert_eq!(r.host, "dev.azure.com", "{url}");
            assert_eq!(r.owner, "fabrikam", "{url}");
            assert_eq!(r.project.as_deref(), Some("hello world"), "{url}");
            assert_eq!(r.name, "hld", "{url}");
        }
        let vs = p("https://fabrikam.visualstudio.com/DefaultCollection/Hello/_git/hld");
        assert_eq!(
            (vs.owner.as_str(), vs.project.as_deref()),
            ("fabrikam", Some("hello"))
        );
        assert_eq!(vs.azure_org_url(), "https://fabrikam.visualstudio.com");
        let server = p("http://tfs.corp.local:8080/tfs/DefaultCollection/Ops/_git/manifests");
        assert_eq!(server.host, "tfs.corp.local:8080");
        assert_eq!(server.owner, "tfs/defaultcollection");
        assert_eq!(
            server.azure_org_url(),
            "http://tfs.corp.local:8080/tfs/defaultcollection"
        );
        assert_eq!(
            server.web_url(),
            "http://tfs.corp.local:8080/tfs/defaultcollection/ops/_git/manifests"
        );
    }

    #[test]
    fn github_forms() {
        let cases = [
            ("https://github.com/Fabrikam/Frontend", "github.com"),
            ("https://github.com/fabrikam/frontend.git", "github.com"),
            ("http://github.com/fabrikam/frontend/", "github.com"),
            ("git@github.com:fabrikam/frontend.git", "github.com"),
            ("ssh://git@github.com/fabrikam/frontend", "github.com"),
            ("https://github.com/fabrikam/frontend/pull/12", "github.com"),
            (
                "https://github.fabrikam.com/Fabrikam/Frontend.git",
                "github.fabrikam.com",
            ),
        ];
        for (url, host) in cases {
            let r = p(url);
            assert_eq!(r.provider, RepoHost::GitHub, "{url}");
            assert_eq!(
                (r.host.as_str(), r.owner.as_str(), r.name.as_str()),
                (host, "fabrikam", "frontend"),
                "{url}"
            );
        }
        assert_eq!(
            p("git@github.com:a/b.git").web_url(),
            "https://github.com/a/b"
        );
    }

    #[test]
    fn github_enterprise_pages_on_any_host_name_are_github() {
        for url in [
            "https://git.fabrikam.example/Fabrikam/svc-4/actions/runs/7766/job/1115488431",
            "https://git.fabrikam.example/fabrikam/svc-4/runs/1115488431",
            "https://git.fabrikam.example/fabrikam/svc-4/pull/12",
        ] {
            let r = p(url);
            assert_eq!(
                (r.provider, r.owner.as_str(), r.name.as_str()),
                (RepoHost::GitHub, "fabrikam", "svc-4"),
                "{url}"
            );
        }
        let nested = p("https://git.fabrikam.example/group/sub/project");
        assert_eq!(
            nested.provider,
            RepoHost::GitLab,
            "a group path stays GitLab"
        );
    }

    #[test]
    fn gitlab_forms() {
        let r = p("https://gitlab.com/Fabrikam/platform/Frontend.git");
        assert_eq!(
            (r.provider, r.owner.as_str(), r.name.as_str()),
            (RepoHost::GitLab, "fabrikam/platform", "frontend")
        );
        let r = p("git@gitlab.example.com:ops/manifests.git");
        assert_eq!(
            (r.provider, r.host.as_str()),
            (RepoHost::GitLab, "gitlab.example.com")
        );
        let r = p("https://gitlab.com/ops/manifests/-/merge_requests/3");
        assert_eq!((r.owner.as_str(), r.name.as_str()), ("ops", "manifests"));
    }

    #[test]
    fn spellings_of_one_repo_share_a_key() {
        let a = p("https://github.com/Fabrikam/Frontend.git");
        let b = p("git@github.com:fabrikam/frontend");
        assert_eq!(a.key(), b.key());
        assert_eq!(a, b);
    }

    #[test]
    fn unparseable_urls_are_named_in_the_error() {
        for bad in [
            "",
            "not a url",
            "https://dev.azure.com/org",
            "https://github.com/only",
            "ftp://x/y/z",
            "https://dev.azure.com/o/p/_git/",
        ] {
            let e = RepoRef::parse(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("'{}'", bad.trim())), "{bad}: {e}");
        }
    }
}
