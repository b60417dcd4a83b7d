//! A GitLab project, named by its numeric id or by its path with subgroups.

use std::fmt;

use spektate_core::{Error, Result};

/// A project as the REST API addresses it: `/projects/21761957` or
/// `/projects/group%2Fsub%2Fname`.
///
/// ```
/// use spektate_gitlab::Project;
/// assert_eq!(Project::parse("21761957").unwrap(), Project::Id(21761957));
/// assert_eq!(
///     Project::parse("Fabrikam/Platform/hld").unwrap(),
///     Project::Path("fabrikam/platform/hld".into())
/// );
/// assert!(Project::parse("hld").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Project {
    /// The numeric id GitLab assigned (`$CI_PROJECT_ID`).
    Id(u64),
    /// The path with its groups, lower-cased (`$CI_PROJECT_PATH`).
    Path(String),
}

impl Project {
    /// Parses a numeric id or a `group[/subgroup...]/name` path; anything else is an error
    /// naming the value.
    pub fn parse(value: &str) -> Result<Self> {
        let v = value.trim().trim_matches('/');
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            return match v.parse::<u64>() {
                Ok(id) if id > 0 => Ok(Project::Id(id)),
                _ => Err(invalid(value)),
            };
        }
        let segments: Vec<&str> = v.split('/').collect();
        let ok = segments.len() >= 2
            && segments.len() <= 21
            && segments.iter().all(|s| {
                !s.is_empty()
                    && !s.starts_with('.')
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            });
        if ok {
            Ok(Project::Path(v.to_ascii_lowercase()))
        } else {
            Err(invalid(value))
        }
    }

    /// What goes into `/projects/{id}` before encoding.
    pub(crate) fn api_id(&self) -> String {
        match self {
            Project::Id(id) => id.to_string(),
            Project::Path(p) => p.clone(),
        }
    }
}

impl fmt::Display for Project {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Project::Id(id) => write!(f, "project {id}"),
            Project::Path(p) => f.write_str(p),
        }
    }
}

fn invalid(value: &str) -> Error {
    Error::invalid(
        "GitLab project",
        format!(
            "'{}' is neither a project id nor a group/name path",
            value.trim()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paths_with_subgroups() {
        assert_eq!(Project::parse(" 22039475 ").unwrap(), Project::Id(22039475));
        let p = Project::parse("samiyaakhtar/hello-world-full-stack-hld").unwrap();
        assert_eq!(p.api_id(), "samiyaakhtar/hello-world-full-stack-hld");
        let nested = Project::parse("/fabrikam/platform/team.a/hld/").unwrap();
        assert_eq!(nested, Project::Path("fabrikam/platform/team.a/hld".into()));
        for bad in [
            "",
            "0",
            "hld",
            "a//b",
            "a/b?x=1",
            "a/../b",
            "a b/c",
            "99999999999999999999999",
        ] {
            let e = Project::parse(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("'{}'", bad.trim())), "{bad}: {e}");
        }
    }
}
