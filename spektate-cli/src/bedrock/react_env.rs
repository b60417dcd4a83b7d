//! The original Spektate dashboard's environment (`REACT_APP_*`, `PORT`), taken by
//! `spektate dashboard`, `serve` and `deployment dashboard` for every setting their flags
//! and `SPEKTATE_*` variables leave unset.

use clap::ArgMatches;
use clap::parser::ValueSource;
use spektate::{Error, Result};

use super::roles::RoleTokens;
use crate::providers::ProviderArgs;
use crate::store_args::StoreArgs;

/// The original dashboard's settings, as its environment gives them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DashboardEnv {
    /// `REACT_APP_STORAGE_ACCOUNT_NAME`.
    pub account: Option<String>,
    /// `REACT_APP_STORAGE_ACCESS_KEY`.
    pub access_key: Option<String>,
    /// `REACT_APP_STORAGE_TABLE_NAME`.
    pub table: Option<String>,
    /// `REACT_APP_STORAGE_PARTITION_KEY`.
    pub partition: Option<String>,
    /// `REACT_APP_PIPELINE_ORG`.
    pub org: Option<String>,
    /// `REACT_APP_PIPELINE_PROJECT`.
    pub project: Option<String>,
    /// `REACT_APP_PIPELINE_ACCESS_TOKEN`, `REACT_APP_SOURCE_REPO_ACCESS_TOKEN`,
    /// `REACT_APP_MANIFEST_ACCESS_TOKEN`.
    pub roles: RoleTokens,
    /// `REACT_APP_MANIFEST`: the manifest repository's name.
    pub manifest: Option<String>,
    /// `REACT_APP_GITHUB_MANIFEST_USERNAME`: its GitHub owner.
    pub github_manifest_owner: Option<String>,
    /// `REACT_APP_SOURCE_REPO`: GitHub Actions' source repository, `owner/name`.
    pub source_repo: Option<String>,
    /// `REACT_APP_HLD_REPO`: GitHub Actions' HLD repository, `owner/name`.
    pub hld_repo: Option<String>,
    /// `REACT_APP_SOURCE_REPO_PROJECT_ID`: the GitLab project of p1 and p2.
    pub source_project_id: Option<String>,
    /// `REACT_APP_HLD_REPO_PROJECT_ID`: the GitLab project of p3.
    pub hld_project_id: Option<String>,
    /// `REACT_APP_MANIFEST_REPO_PROJECT_ID`: the GitLab project whose tags are read.
    pub manifest_project_id: Option<String>,
    /// `PORT`.
    pub port: Option<u16>,
    /// `REACT_APP_CACHE_REFRESH_INTERVAL_IN_SEC`.
    pub refresh: Option<u64>,
}

impl std::fmt::Debug for DashboardEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardEnv")
            .field("account", &self.account)
            .field("access_key", &self.access_key.as_ref().map(|_| "***"))
            .field("table", &self.table)
            .field("partition", &self.partition)
            .field("org", &self.org)
            .field("project", &self.project)
            .field("roles", &self.roles)
            .field("manifest", &self.manifest)
            .field("github_manifest_owner", &self.github_manifest_owner)
            .field("source_repo", &self.source_repo)
            .field("hld_repo", &self.hld_repo)
            .field("source_project_id", &self.source_project_id)
            .field("hld_project_id", &self.hld_project_id)
            .field("manifest_project_id", &self.manifest_project_id)
            .field("port", &self.port)
            .field("refresh", &self.refresh)
            .finish()
    }
}

/// A GitHub repository as the original took it (`owner/name`), or a URL as it is.
fn github_repo(v: &str) -> String {
    if v.contains("://") {
        v.to_string()
    } else {
        format!("https://github.com/{}", v.trim_matches('/'))
    }
}

impl DashboardEnv {
    /// Reads the variables through `env`; a `PORT` or refresh interval that is not a number
    /// in range is an error naming the variable and its value.
    pub fn read(env: &dyn Fn(&str) -> Option<String>) -> Result<DashboardEnv> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let port = match get("PORT") {
            None => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| {
                Error::invalid("PORT", format!("'{p}' is not a port number (0 to 65535)"))
            })?),
        };
        let refresh = match get("REACT_APP_CACHE_REFRESH_INTERVAL_IN_SEC") {
            None => None,
            Some(s) => match s.parse::<u64>() {
                Ok(n) if (1..=86_400).contains(&n) => Some(n),
                _ => {
                    return Err(Error::invalid(
                        "REACT_APP_CACHE_REFRESH_INTERVAL_IN_SEC",
                        format!("'{s}' is not a number of seconds from 1 to 86400"),
                    ));
                }
            },
        };
        Ok(DashboardEnv {
            account: get("REACT_APP_STORAGE_ACCOUNT_NAME"),
            access_key: get("REACT_APP_STORAGE_ACCESS_KEY"),
            table: get("REACT_APP_STORAGE_TABLE_NAME"),
            partition: get("REACT_APP_STORAGE_PARTITION_KEY"),
            org: get("REACT_APP_PIPELINE_ORG"),
            project: get("REACT_APP_PIPELINE_PROJECT"),
            roles: RoleTokens {
                pipelines: get("REACT_APP_PIPELINE_ACCESS_TOKEN"),
                source_repos: get("REACT_APP_SOURCE_REPO_ACCESS_TOKEN"),
                manifest_repo: get("REACT_APP_MANIFEST_ACCESS_TOKEN"),
                azure_devops: None,
            },
            manifest: get("REACT_APP_MANIFEST"),
            github_manifest_owner: get("REACT_APP_GITHUB_MANIFEST_USERNAME"),
            source_repo: get("REACT_APP_SOURCE_REPO"),
            hld_repo: get("REACT_APP_HLD_REPO"),
            source_project_id: get("REACT_APP_SOURCE_REPO_PROJECT_ID"),
            hld_project_id: get("REACT_APP_HLD_REPO_PROJECT_ID"),
            manifest_project_id: get("REACT_APP_MANIFEST_REPO_PROJECT_ID"),
            port,
            refresh,
        })
    }

    /// The manifest repository's URL: on GitHub under `REACT_APP_GITHUB_MANIFEST_USERNAME`,
    /// else in the Azure DevOps project.
    pub fn manifest_repo(&self) -> Option<String> {
        let name = self.manifest.as_deref()?;
        if name.contains("://") {
            return Some(name.to_string());
        }
        match (&self.github_manifest_owner, &self.org, &self.project) {
            (Some(owner), _, _) => Some(format!("https://github.com/{owner}/{name}")),
            (None, Some(org), Some(project)) => {
                Some(format!("https://dev.azure.com/{org}/{project}/_git/{name}"))
            }
            _ => None,
        }
    }

    /// Whether the original would read GitHub Actions: repositories named, no Azure DevOps
    /// project.
    pub fn github_actions(&self) -> bool {
        self.source_repo.is_some()
            && self.hld_repo.is_some()
            && (self.org.is_none() || self.project.is_none())
    }

    /// Whether the original would read GitLab: the source and HLD projects named, neither
    /// an Azure DevOps project nor GitHub Actions repositories.
    pub fn gitlab(&self) -> bool {
        self.source_project_id.is_some()
            && self.hld_project_id.is_some()
            && (self.org.is_none() || self.project.is_none())
            && self.source_repo.is_none()
    }

    /// Fills what `matches` (of `dashboard` or `serve`) left to defaults: store, partition,
    /// providers, tokens per role, port and refresh interval.
    pub fn apply(
        &self,
        matches: &ArgMatches,
        store: &mut StoreArgs,
        providers: &mut ProviderArgs,
        port: &mut u16,
        refresh: &mut u64,
    ) {
        let unset = |id: &str| {
            matches!(
                matches
                    .try_get_raw(id)
                    .ok()
                    .flatten()
                    .and_then(|_| matches.value_source(id)),
                None | Some(ValueSource::DefaultValue)
            )
        };
        let fill = |flag: bool, mine: &mut Option<String>, theirs: &Option<String>| {
            if flag && theirs.is_some() {
                *mine = theirs.clone();
            }
        };
        // The dashboard's storage account only when no store was named: an account wins over
        // `--store`, so it would replace the store the user named.
        let no_store = unset("store");
        fill(
            no_store && unset("account"),
            &mut store.account,
            &self.account,
        );
        if no_store && unset("access_key") && self.access_key.is_some() {
            store.access_key = self.access_key.as_deref().map(spektate::http::Secret::new);
        }
        fill(
            no_store && unset("table_name"),
            &mut store.table_name,
            &self.table,
        );
        if let Some(p) = &self.partition
            && unset("partition_keys")
        {
            store.partition_keys = vec![p.clone()];
        }
        fill(unset("org"), &mut providers.org, &self.org);
        fill(unset("project"), &mut providers.project, &self.project);
        fill(
            unset("manifest_repo"),
            &mut providers.manifest_repo,
            &self.manifest_repo(),
        );
        if self.github_actions() {
            providers.github = true;
            if providers.github_ids.is_none() {
                providers.github_ids = Some("auto".into());
            }
            fill(
                unset("source_repo"),
                &mut providers.source_repo,
                &self.source_repo.as_deref().map(github_repo),
            );
            fill(
                unset("hld_repo"),
                &mut providers.hld_repo,
                &self.hld_repo.as_deref().map(github_repo),
            );
        }
        if self.gitlab() {
            providers.gitlab = true;
        }
        providers.roles.fill(self.roles.clone());
        if let Some(p) = self.port
            && unset("port")
        {
            *port = p;
        }
        if let Some(r) = self.refresh
            && unset("refresh")
        {
            *refresh = r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_out_of_range_are_named() {
        let env = |name: &str| match name {
            "PORT" => Some("80800".to_string()),
            _ => None,
        };
        let e = DashboardEnv::read(&env).unwrap_err().to_string();
        assert!(e.contains("PORT") && e.contains("'80800'"), "{e}");
        let env = |name: &str| match name {
            "REACT_APP_CACHE_REFRESH_INTERVAL_IN_SEC" => Some("0".to_string()),
            _ => None,
        };
        let e = DashboardEnv::read(&env).unwrap_err().to_string();
        assert!(
            e.contains("REACT_APP_CACHE_REFRESH_INTERVAL_IN_SEC") && e.contains("'0'"),
            "{e}"
        );
    }

    /// `dashboard ARGS` parsed as `main` parses it, with `env` applied as `main` applies it.
    fn dashboard(env: &DashboardEnv, args: &[&str]) -> crate::Cli {
        use clap::FromArgMatches;
        let argv = ["spektate", "dashboard"].iter().chain(args);
        let m = crate::store_args::command::<crate::Cli>()
            .try_get_matches_from(argv)
            .unwrap();
        let mut cli = crate::Cli::from_arg_matches(&m).unwrap();
        let crate::Command::Dashboard(board) = &mut cli.command else {
            panic!("not dashboard");
        };
        env.apply(
            m.subcommand_matches("dashboard").unwrap(),
            &mut cli.store,
            &mut board.providers,
            &mut board.port,
            &mut board.refresh,
        );
        cli
    }

    fn board(cli: &crate::Cli) -> &crate::dashboard::DashboardCmd {
        match &cli.command {
            crate::Command::Dashboard(board) => board,
            _ => panic!("not dashboard"),
        }
    }

    #[test]
    fn flags_win_and_github_actions_repositories_turn_github_on_with_auto_ids() {
        let env = DashboardEnv {
            account: Some("fabrikamintro".into()),
            partition: Some("hello-world".into()),
            org: Some("fabrikam".into()),
            source_repo: Some("samiyaakhtar/hello-world-full-stack".into()),
            hld_repo: Some("samiyaakhtar/hello-world-hld".into()),
            manifest: Some("hello-world-manifests".into()),
            github_manifest_owner: Some("samiyaakhtar".into()),
            roles: RoleTokens {
                pipelines: Some("ghp_pipelines".into()),
                ..RoleTokens::default()
            },
            port: Some(5000),
            ..DashboardEnv::default()
        };
        let cli = dashboard(&env, &["--name", "other", "--port", "4041"]);
        let board = board(&cli);
        assert_eq!(cli.store.account.as_deref(), Some("other"), "the flag wins");
        assert_eq!(board.port, 4041, "the flag wins");
        assert_eq!(cli.store.partition_keys, ["hello-world"]);
        let p = &board.providers;
        assert!(p.github && p.github_ids.as_deref() == Some("auto"));
        assert_eq!(
            p.source_repo.as_deref(),
            Some("https://github.com/samiyaakhtar/hello-world-full-stack")
        );
        assert_eq!(
            p.manifest_repo.as_deref(),
            Some("https://github.com/samiyaakhtar/hello-world-manifests")
        );
        assert_eq!(p.roles.pipelines.as_deref(), Some("ghp_pipelines"));
    }

    #[test]
    fn a_store_named_by_flag_is_not_replaced_by_the_dashboards_storage_account() {
        let env = DashboardEnv {
            account: Some("fabrikamintro".into()),
            access_key: Some("a2V5".into()),
            table: Some("deployments".into()),
            ..DashboardEnv::default()
        };
        let cli = dashboard(
            &env,
            &["--store", "postgres://spektate@db.example.com/spektate"],
        );
        assert_eq!(cli.store.account, None, "the named store is read");
        assert!(cli.store.access_key.is_none() && cli.store.table_name.is_none());
        // With no store named, the original's variables name the Azure table.
        let cli = dashboard(&env, &[]);
        assert_eq!(cli.store.account.as_deref(), Some("fabrikamintro"));
    }

    #[tokio::test]
    async fn gitlab_project_ids_turn_gitlab_on_only_as_the_original_chose_it() {
        let gitlab = DashboardEnv {
            source_project_id: Some("not-an-id".into()),
            hld_project_id: Some("22039475".into()),
            roles: RoleTokens {
                pipelines: Some("glpat-pipelines".into()),
                ..RoleTokens::default()
            },
            ..DashboardEnv::default()
        };
        assert!(gitlab.gitlab());
        // The original read Azure DevOps first, then GitHub Actions, then GitLab.
        let azdo = DashboardEnv {
            org: Some("fabrikam".into()),
            project: Some("hello".into()),
            ..gitlab.clone()
        };
        let github = DashboardEnv {
            source_repo: Some("fabrikam/frontend".into()),
            ..gitlab.clone()
        };
        let half = DashboardEnv {
            hld_project_id: None,
            ..gitlab.clone()
        };
        assert!(!azdo.gitlab() && !github.gitlab() && !half.gitlab());

        let mut cli = dashboard(&gitlab, &[]);
        let crate::Command::Dashboard(board) = &mut cli.command else {
            panic!("not dashboard");
        };
        assert!(board.providers.gitlab);
        // A bad id is refused by name before anything is sent.
        let e = super::super::gitlab_projects::resolve(&gitlab, &mut board.providers)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("REACT_APP_SOURCE_REPO_PROJECT_ID") && e.contains("'not-an-id'"),
            "{e}"
        );
        assert!(!e.contains("glpat-pipelines"), "{e}");
    }

    #[test]
    fn the_manifest_repository_is_on_github_or_in_the_project() {
        let mut env = DashboardEnv {
            manifest: Some("hello-manifests".into()),
            org: Some("fabrikam".into()),
            project: Some("hello".into()),
            ..DashboardEnv::default()
        };
        assert_eq!(
            env.manifest_repo().as_deref(),
            Some("https://dev.azure.com/fabrikam/hello/_git/hello-manifests")
        );
        env.github_manifest_owner = Some("samiyaakhtar".into());
        assert_eq!(
            env.manifest_repo().as_deref(),
            Some("https://github.com/samiyaakhtar/hello-manifests")
        );
        let shown = format!(
            "{:?}",
            DashboardEnv {
                access_key: Some("a2V5".into()),
                ..env
            }
        );
        assert!(!shown.contains("a2V5"), "{shown}");
    }
}
