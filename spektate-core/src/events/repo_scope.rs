//! Which repositories a partition's deployments may have statuses written to: a record names
//! its source repository, so without a scope one team's pipeline could make the server's
//! token write into any repository the token reaches.

use crate::error::{Error, Result};
use crate::model::repo::RepoRef;

/// What a [`RepoScope`] is named by in errors.
const NAME: &str = "GitHub Deployments repository";

/// One allowed repository: `owner/name` or `owner/*`, of every partition or, written
/// `partition:owner/name`, of one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    partition: Option<String>,
    owner: String,
    /// `None` for every repository of the owner.
    name: Option<String>,
}

/// The repositories statuses may be written to; empty allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoScope {
    allowed: Vec<Allowed>,
}

impl RepoScope {
    /// Parses `[partition:]owner/name` or `[partition:]owner/*` entries (case-insensitive,
    /// as GitHub's names are).
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let mut allowed = Vec::new();
        for entry in entries {
            allowed.push(Self::entry(entry)?);
        }
        Ok(RepoScope { allowed })
    }

    fn entry(text: &str) -> Result<Allowed> {
        let bad = |why: &str| Error::invalid(NAME, format!("'{}' {why}", shown(text)));
        let t = text.trim();
        // A partition may hold ':'; an owner/name may not.
        let (partition, repo) = match t.rsplit_once(':') {
            Some((p, r)) if !p.is_empty() => (Some(p.to_string()), r),
            Some(_) => return Err(bad("has an empty partition before ':'")),
            None => (None, t),
        };
        let (owner, name) = repo
            .split_once('/')
            .ok_or_else(|| bad("is not owner/name or owner/*"))?;
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !word(owner) || !(name == "*" || word(name)) {
            return Err(bad(
                "is not owner/name or owner/* (letters, digits, '-', '_' and '.')",
            ));
        }
        Ok(Allowed {
            partition,
            owner: owner.to_ascii_lowercase(),
            name: (name != "*").then(|| name.to_ascii_lowercase()),
        })
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Whether deployments of `partition` may have statuses written to `repo`.
    pub fn allows(&self, partition: &str, repo: &RepoRef) -> bool {
        self.allowed.iter().any(|a| {
            a.partition.as_deref().is_none_or(|p| p == partition)
                && a.owner.eq_ignore_ascii_case(&repo.owner)
                && a.name
                    .as_deref()
                    .is_none_or(|n| n.eq_ignore_ascii_case(&repo.name))
        })
    }
}

/// A value as shown in an error: at most 100 characters, control characters escaped.
fn shown(text: &str) -> String {
    text.chars()
        .take(100)
        .flat_map(char::escape_debug)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(url: &str) -> RepoRef {
        RepoRef::parse(url).unwrap()
    }

    #[test]
    fn entries_allow_their_repositories_in_their_partitions() {
        let scope = RepoScope::parse([
            "fabrikam/frontend",
            "contoso:contoso/*",
            "Fabrikam/Back.end",
        ])
        .unwrap();
        let frontend = repo("https://github.com/fabrikam/frontend");
        assert!(scope.allows("fabrikam", &frontend));
        assert!(
            scope.allows("contoso", &frontend),
            "no partition: every one"
        );
        assert!(scope.allows("fabrikam", &repo("https://github.com/FABRIKAM/back.end")));
        let contoso = repo("https://github.com/contoso/anything");
        assert!(scope.allows("contoso", &contoso));
        assert!(
            !scope.allows("fabrikam", &contoso),
            "contoso's only in its partition"
        );
        assert!(!scope.allows("fabrikam", &repo("https://github.com/fabrikam/other")));
        let ops = repo("https://github.com/fabrikam/ops");
        let partitioned = RepoScope::parse(["team:a:fabrikam/ops"]).unwrap();
        assert!(partitioned.allows("team:a", &ops) && !partitioned.allows("fabrikam", &ops));
        assert!(!RepoScope::default().allows("fabrikam", &frontend));
    }

    #[test]
    fn bad_entries_are_named() {
        for (entry, why) in [
            ("frontend", "not owner/name"),
            ("fabrikam/", "not owner/name"),
            ("*/*", "not owner/name"),
            ("fabrikam/front end", "not owner/name"),
            (":fabrikam/frontend", "empty partition"),
            ("a/b/c", "not owner/name"),
        ] {
            let e = RepoScope::parse([entry]).unwrap_err().to_string();
            assert!(
                e.contains(NAME) && e.contains(entry) && e.contains(why),
                "{e}"
            );
        }
    }
}
