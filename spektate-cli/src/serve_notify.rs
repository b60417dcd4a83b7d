//! `serve`'s notification flags: webhooks (Slack, Teams, JSON), a CDEvents sink, the approval
//! wait, and GitHub Deployments statuses with the configured GitHub credentials.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use spektate::config::Names;
use spektate::dashboard::{Format, Notifications, Webhook};
use spektate::events::RepoScope;
use spektate::{Error, Result};

use crate::providers::ProviderArgs;

/// Where `serve` tells what happened to deployments.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Post to this webhook when a deployment is live in a cluster (and so reaches its ring),
    /// a step fails, or an approval pull request waits past --notify-pr-wait: `slack:URL`,
    /// `teams:URL` (a Teams Workflows webhook), `json:URL`, or a URL in --notify-format.
    /// Repeat for more; the variable takes several separated by spaces.
    #[arg(
        long = "notify-webhook",
        env = "SPEKTATE_NOTIFY_WEBHOOK",
        value_delimiter = ' ',
        hide_env_values = true,
        value_name = "[FORMAT:]URL"
    )]
    pub webhook: Vec<String>,

    /// The format of --notify-webhook URLs given without one.
    #[arg(long = "notify-format", value_parser = ["slack", "teams", "json"], default_value = "json")]
    pub format: String,

    /// Send CDEvents `service.deployed` / `service.upgraded` (v0.4, CloudEvents binary mode)
    /// here, once per deployment and cluster where it becomes live.
    #[arg(
        long = "cdevents-sink",
        env = "SPEKTATE_CDEVENTS_SINK",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub cdevents_sink: Option<String>,

    /// Tell the webhooks when an approval pull request has waited longer than this: `90m`,
    /// `4h`, `2d` (or seconds, `30s`).
    #[arg(long = "notify-pr-wait", value_name = "DURATION")]
    pub pr_wait: Option<String>,

    /// Write GitHub Deployments statuses (environment: the ring) to each deployment's source
    /// repository, with the GitHub token (SPEKTATE_GITHUB_TOKEN) or GitHub App configured, for
    /// the repositories --github-deployments-repo allows.
    #[arg(long = "github-deployments")]
    pub github_deployments: bool,

    /// A repository --github-deployments may write to: `owner/name` or `owner/*`, of every
    /// partition, or `PARTITION:owner/name` of one. Repeatable (the variable: separated by
    /// spaces). A record names its repository; no other is written to.
    #[arg(
        long = "github-deployments-repo",
        env = "SPEKTATE_GITHUB_DEPLOYMENTS_REPOS",
        value_delimiter = ' ',
        hide_env_values = true,
        value_name = "[PARTITION:]OWNER/NAME"
    )]
    pub github_deployments_repos: Vec<String>,

    /// The dashboard's public URL, linked from messages and GitHub environments.
    #[arg(
        long = "notify-link",
        env = "SPEKTATE_PUBLIC_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub link: Option<String>,
}

/// `90m`, `4h`, `2d`, `30s`: a positive whole number and a unit.
pub fn parse_wait(text: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = || {
        Error::invalid(
            "--notify-pr-wait",
            format!("'{text}' is not a duration such as 30s, 90m, 4h or 2d"),
        )
    };
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: u64 = t[..t.len() - unit.len_utf8()]
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(bad)?;
    let secs = match unit.to_ascii_lowercase() {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3_600),
        'd' => n.checked_mul(86_400),
        _ => None,
    }
    .filter(|s| *s <= 365 * 86_400)
    .ok_or_else(bad)?;
    Ok(Duration::from_secs(secs))
}

impl NotifyArgs {
    /// The notifications the flags ask for (empty when none).
    pub fn notifications(&self, providers: &ProviderArgs) -> Result<Notifications> {
        let flag = |name: &str, e: spektate::dashboard::Error| match e {
            spektate::dashboard::Error::Invalid { reason, .. } => Error::invalid(name, reason),
            other => Error::invalid(name, other),
        };
        let default = Format::parse(&self.format).map_err(|e| flag("--notify-format", e))?;
        let mut n = Notifications::new();
        for w in self.webhook.iter().filter(|w| !w.trim().is_empty()) {
            n = n.webhook(Webhook::parse(w, default).map_err(|e| flag("--notify-webhook", e))?);
        }
        if let Some(url) = self
            .cdevents_sink
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            n = n
                .cdevents_sink(url)
                .map_err(|e| flag("--cdevents-sink", e))?;
        }
        if let Some(wait) = &self.pr_wait {
            if self.webhook.iter().all(|w| w.trim().is_empty()) {
                return Err(Error::invalid(
                    "--notify-pr-wait",
                    "tells the webhooks; give --notify-webhook too",
                ));
            }
            n = n
                .pr_wait(parse_wait(wait)?)
                .map_err(|e| flag("--notify-pr-wait", e))?;
        }
        if let Some(link) = self.link.as_deref().filter(|u| !u.trim().is_empty()) {
            n = n.link(link).map_err(|e| flag("--notify-link", e))?;
        }
        if self.github_deployments {
            let github = providers
                .settings()
                .github
                .filter(|g| g.token.is_some() || g.app.is_some())
                .ok_or_else(|| {
                    Error::invalid(
                        "--github-deployments",
                        "writes with the GitHub credentials: set SPEKTATE_GITHUB_TOKEN (a token \
                         that may write deployments) or a GitHub App (--github-app-id)",
                    )
                })?;
            let repos = self
                .github_deployments_repos
                .iter()
                .map(|r| r.trim())
                .filter(|r| !r.is_empty());
            let scope = RepoScope::parse(repos).map_err(|e| match e {
                Error::Invalid { reason, .. } => {
                    Error::invalid("--github-deployments-repo", reason)
                }
                other => other,
            })?;
            if scope.is_empty() {
                return Err(Error::invalid(
                    "--github-deployments",
                    "writes only to the repositories --github-deployments-repo names \
                     (owner/name, owner/* or PARTITION:owner/name); give at least one",
                ));
            }
            let client = github.client(&Names::FLAGS)?;
            n = n.github_deployments(Arc::new(client.deployments()), scope);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_take_a_unit() {
        assert_eq!(parse_wait("4h").unwrap(), Duration::from_secs(4 * 3600));
        assert_eq!(parse_wait(" 90m ").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_wait("2d").unwrap(), Duration::from_secs(2 * 86_400));
        assert_eq!(parse_wait("30s").unwrap(), Duration::from_secs(30));
        for bad in [
            "",
            "4",
            "h",
            "0h",
            "-1h",
            "4x",
            "99999999999999999999d",
            "400d",
        ] {
            let e = parse_wait(bad).unwrap_err().to_string();
            assert!(
                e.contains("--notify-pr-wait") && e.contains(&format!("'{bad}'")),
                "{e}"
            );
        }
    }
}
