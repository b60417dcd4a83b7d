//! The deployment filter of `Tracker.deployments` and `Tracker.table`, from the arguments a
//! binding received: the same criteria, words and checks as `spektate get`.

use spektate::{Filter, Result, config};

/// A filter's criteria as a binding receives them: text as given, `kind` and `status` as
/// words (see [`crate::words::kind`] and [`crate::words::status`]), `top` as a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterArgs {
    /// Service, by shown name or stored name.
    pub service: Option<String>,
    /// Ring (environment).
    pub ring: Option<String>,
    /// Author name, e-mail or login; a part matches.
    pub author: Option<String>,
    /// Image tag.
    pub image_tag: Option<String>,
    /// A p1, p2 or p3 run id.
    pub run_id: Option<String>,
    /// A source, HLD or manifest commit (7 or more characters of it).
    pub commit: Option<String>,
    /// The deployment id.
    pub deployment_id: Option<String>,
    /// `deployment` or `manualHldEdit`, in any spelling `spektate get` accepts.
    pub kind: Option<String>,
    /// `complete`, `inProgress`, `failed`, `canceled` or `incomplete`, in any spelling
    /// `spektate get` accepts.
    pub status: Option<String>,
    /// A word in any shown field.
    pub keyword: Option<String>,
    /// Only the newest N: 1 or more.
    pub top: Option<i64>,
    /// Also the deployments whose runs the CI no longer has (`Deployment.expired`).
    pub include_expired: bool,
}

impl FilterArgs {
    /// The library's filter, or a `ConfigError` naming the argument (`kind`, `status`,
    /// `top`) and its value.
    pub fn into_filter(self) -> Result<Filter> {
        Ok(Filter {
            service: self.service,
            ring: self.ring,
            author: self.author,
            image_tag: self.image_tag,
            run_id: self.run_id,
            commit: self.commit,
            deployment_id: self.deployment_id,
            kind: self.kind.as_deref().map(crate::words::kind).transpose()?,
            status: self
                .status
                .as_deref()
                .map(crate::words::status)
                .transpose()?,
            keyword: self.keyword,
            top: config::top_setting("top", self.top)?,
            include_expired: self.include_expired,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spektate::{DeploymentKind, Status};

    #[test]
    fn words_and_text_become_the_library_filter() {
        let f = FilterArgs {
            service: Some("frontend".into()),
            kind: Some("manual-hld-edit".into()),
            status: Some("inProgress".into()),
            top: Some(3),
            include_expired: true,
            ..FilterArgs::default()
        }
        .into_filter()
        .unwrap();
        assert_eq!(
            f,
            Filter {
                service: Some("frontend".into()),
                kind: Some(DeploymentKind::ManualHldEdit),
                status: Some(Status::InProgress),
                top: Some(3),
                include_expired: true,
                ..Filter::default()
            }
        );
        assert_eq!(
            FilterArgs::default().into_filter().unwrap(),
            Filter::default()
        );
    }

    #[test]
    fn a_bad_criterion_is_a_config_error_naming_it() {
        let bad = |args: FilterArgs| args.into_filter().unwrap_err().to_string();
        let top = bad(FilterArgs {
            top: Some(0),
            ..FilterArgs::default()
        });
        assert!(top.starts_with("invalid top: 0"), "{top}");
        let kind = bad(FilterArgs {
            kind: Some("image".into()),
            ..FilterArgs::default()
        });
        assert!(kind.starts_with("invalid kind: 'image'"), "{kind}");
    }
}
