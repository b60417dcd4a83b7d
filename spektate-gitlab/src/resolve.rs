//! [`GitLab::project_repo`]: a project named by its numeric id, as the original Spektate
//! dashboard configured GitLab (`REACT_APP_*_PROJECT_ID`), turned into its repository.

use serde::Deserialize;
use spektate_core::{Error, RepoRef, Result};

use crate::client::{Fetched, GitLab};
use crate::project::Project;

/// The fields of `GET /projects/:id` read here.
#[derive(Deserialize)]
struct ProjectInfo {
    path_with_namespace: String,
}

impl GitLab {
    /// The repository of `project` on this instance, with one `GET /projects/:id`: its
    /// `path_with_namespace` under this instance's URL. The path the answer gives must be a
    /// project path (never a URL), so the answer cannot point the token at another host. A
    /// project that is missing or hidden from the token is an error naming it.
    pub async fn project_repo(&self, project: &Project) -> Result<RepoRef> {
        let url = self.project_url(project, "");
        let object = project.to_string();
        let body = match self.get_cached(&url, "get project", &object).await? {
            Fetched::Body { body, .. } => body,
            Fetched::NotFound => {
                return Err(Error::provider(
                    self.label(),
                    "get project",
                    object,
                    "not found, or not visible to this token",
                ));
            }
        };
        let info: ProjectInfo = self.parse(&body, "get project", &object)?;
        let path = match Project::parse(&info.path_with_namespace)? {
            Project::Path(p) => p,
            Project::Id(_) => {
                return Err(Error::provider(
                    self.label(),
                    "get project",
                    object,
                    "path_with_namespace is not a group/name path",
                ));
            }
        };
        RepoRef::parse(&format!("{}/{path}", self.url()))
    }
}
