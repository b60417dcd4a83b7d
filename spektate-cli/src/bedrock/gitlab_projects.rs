//! The original dashboard's GitLab projects, named by numeric id:
//! `REACT_APP_SOURCE_REPO_PROJECT_ID` (the project of p1 and p2),
//! `REACT_APP_HLD_REPO_PROJECT_ID` (p3's) and `REACT_APP_MANIFEST_REPO_PROJECT_ID` (whose
//! tags say which cluster runs what). Each is looked up once at start (`GET /projects/:id`,
//! with its role's token) and becomes the default source, HLD or manifest repository, which
//! a flag or `SPEKTATE_*` variable given wins over.

use spektate::config::GitLabSettings;
use spektate::gitlab::Project;
use spektate::{Error, Result};

use super::react_env::DashboardEnv;
use crate::providers::ProviderArgs;

/// Sets the default repositories of `providers` from the GitLab project ids of `env`, when
/// `env` reads GitLab (`DashboardEnv::gitlab`). A project that cannot be read is an error
/// naming its variable and id.
pub async fn resolve(env: &DashboardEnv, providers: &mut ProviderArgs) -> Result<()> {
    if !env.gitlab() {
        return Ok(());
    }
    let Some(settings) = providers.settings().gitlab else {
        return Ok(());
    };
    let roles = &providers.roles;
    let pipelines = roles.pipelines.clone();
    let manifest = roles.manifest_repo.clone().or_else(|| pipelines.clone());
    let wanted = [
        (
            "REACT_APP_SOURCE_REPO_PROJECT_ID",
            &env.source_project_id,
            &pipelines,
            providers.source_repo.is_none(),
        ),
        (
            "REACT_APP_HLD_REPO_PROJECT_ID",
            &env.hld_project_id,
            &pipelines,
            providers.hld_repo.is_none(),
        ),
        (
            "REACT_APP_MANIFEST_REPO_PROJECT_ID",
            &env.manifest_project_id,
            &manifest,
            providers.manifest_repo.is_none(),
        ),
    ];
    let mut found = Vec::new();
    for (var, id, token, unset) in wanted {
        let Some(id) = id.as_deref().filter(|_| unset) else {
            found.push(None);
            continue;
        };
        let project = Project::parse(id).map_err(|e| Error::invalid(var, e.to_string()))?;
        let with_token = GitLabSettings {
            token: settings.token.clone().or_else(|| token.clone()),
            ..settings.clone()
        };
        let client = with_token.client("GitLab URL (--gitlab-url, SPEKTATE_GITLAB_URL)")?;
        let repo = client.project_repo(&project).await.map_err(|e| {
            Error::invalid(var, format!("GitLab project '{id}' could not be read: {e}"))
        })?;
        found.push(Some(repo.web_url()));
    }
    let slots = [
        &mut providers.source_repo,
        &mut providers.hld_repo,
        &mut providers.manifest_repo,
    ];
    for (slot, url) in slots.into_iter().zip(found) {
        if url.is_some() {
            *slot = url;
        }
    }
    Ok(())
}
