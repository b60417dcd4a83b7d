//! Filters over deployments, the ones `spektate get` and the dashboard offer.

use serde::{Deserialize, Serialize};

use crate::correlate::join::is_manual_edit;
use crate::model::deployment::{Deployment, DeploymentKind, Status, commits_match};
use crate::model::record::{Record, normalize};
use crate::store::RecordQuery;

/// Which deployments to show. Every given criterion must hold; text compares case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    /// Service, by shown name (`frontend`) or stored name (`fabrikam/frontend`).
    pub service: Option<String>,
    /// Ring (environment).
    pub ring: Option<String>,
    /// Author name, e-mail or login; a part of one matches, or, in double quotes
    /// (`"Al"`), the whole of one (ignoring case), as a picker of names means it.
    pub author: Option<String>,
    /// Image tag.
    pub image_tag: Option<String>,
    /// A run id: p1, p2 or p3.
    pub run_id: Option<String>,
    /// A commit: source, HLD or manifest; a prefix of 7 or more characters matches.
    pub commit: Option<String>,
    /// The deployment id (row key).
    pub deployment_id: Option<String>,
    /// Deployment or manual HLD edit.
    pub kind: Option<DeploymentKind>,
    /// Overall status.
    pub status: Option<Status>,
    /// A word found in any shown field.
    pub keyword: Option<String>,
    /// At most this many, newest first.
    pub top: Option<usize>,
    /// Also show deployments whose runs the CI no longer has ([`Deployment::expired`]);
    /// hidden unless set. Metrics count them whatever this says ([`Filter::counting`]).
    pub include_expired: bool,
}

fn norm(v: &Option<String>) -> Option<String> {
    v.as_deref().and_then(normalize)
}

impl Filter {
    /// The part of the filter a store can apply itself.
    pub fn store_query(&self) -> RecordQuery {
        let mut q = RecordQuery::all();
        q.image_tag = norm(&self.image_tag);
        q.env = norm(&self.ring);
        q.run_id = norm(&self.run_id);
        q.row_key = norm(&self.deployment_id);
        q
    }

    /// The same criteria, expired deployments included: what metrics count, since a
    /// deployment's history outlives the CI's retention of its runs.
    pub fn counting(&self) -> Filter {
        Filter {
            include_expired: true,
            ..self.clone()
        }
    }

    /// Whether `d` passes every criterion (`top` aside); a record kept only as context
    /// ([`Record::context`]) never does, an expired deployment only with
    /// [`Filter::include_expired`].
    pub fn matches(&self, d: &Deployment) -> bool {
        if d.record.context || (d.expired && !self.include_expired) {
            return false;
        }
        let author_ok = match norm(&self.author) {
            None => true,
            Some(a) => d.author.as_ref().is_some_and(|au| {
                let mut fields = [Some(&au.name), au.email.as_ref(), au.login.as_ref()]
                    .into_iter()
                    .flatten()
                    .map(|v| v.to_lowercase());
                match a.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                    Some(whole) if !whole.is_empty() => fields.any(|v| v == whole),
                    _ => fields.any(|v| v.contains(&a)),
                }
            }),
        };
        let keyword_ok = match norm(&self.keyword) {
            None => true,
            Some(k) => keyword_fields(d).any(|v| v.to_lowercase().contains(&k)),
        };
        self.admits_record(&d.record)
            && author_ok
            && keyword_ok
            && self.status.is_none_or(|s| s == d.status)
    }

    /// Whether a deployment of `record` can pass: the criteria the record alone decides
    /// (service, ring, image tag, id, run, commit, kind). A tracker drops the records that
    /// fail them before asking any provider about them.
    pub fn admits_record(&self, r: &Record) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| match norm(want) {
            None => true,
            Some(w) => have.is_some_and(|h| h.to_lowercase() == w),
        };
        let service_ok = match norm(&self.service) {
            None => true,
            Some(w) => {
                r.service_name() == Some(w.as_str()) || r.service.as_deref() == Some(w.as_str())
            }
        };
        let run_ok = match norm(&self.run_id) {
            None => true,
            Some(id) => [&r.p1, &r.p2, &r.p3]
                .iter()
                .any(|p| p.as_deref() == Some(id.as_str())),
        };
        let commit_ok = match norm(&self.commit) {
            None => true,
            Some(c) => [&r.commit_id, &r.hld_commit_id, &r.manifest_commit_id]
                .iter()
                .any(|have| have.as_deref().is_some_and(|h| commits_match(h, &c))),
        };
        let kind = if is_manual_edit(r) {
            DeploymentKind::ManualHldEdit
        } else {
            DeploymentKind::Deployment
        };
        service_ok
            && eq(&self.ring, r.env.as_deref())
            && eq(&self.image_tag, r.image_tag.as_deref())
            && eq(&self.deployment_id, Some(&r.row_key))
            && run_ok
            && commit_ok
            && self.kind.is_none_or(|k| k == kind)
    }

    /// The deployments that pass, in their order, cut to `top`.
    pub fn apply<'a>(
        &self,
        deployments: impl IntoIterator<Item = &'a Deployment>,
    ) -> Vec<Deployment> {
        let it = deployments.into_iter().filter(|d| self.matches(d)).cloned();
        match self.top {
            Some(n) => it.take(n).collect(),
            None => it.collect(),
        }
    }
}

fn keyword_fields(d: &Deployment) -> impl Iterator<Item = &str> {
    let texts = [
        d.service(),
        d.ring(),
        d.image_tag(),
        d.commit_id(),
        d.hld_commit_id(),
        d.manifest_commit_id(),
        d.pr(),
        d.record.p1.as_deref(),
        d.record.p2.as_deref(),
        d.record.p3.as_deref(),
        d.author.as_ref().map(|a| a.name.as_str()),
        d.pull_request.as_ref().map(|p| p.title.as_str()),
        d.pull_request
            .as_ref()
            .and_then(|p| p.merged_by.as_ref())
            .map(|a| a.name.as_str()),
    ];
    texts
        .into_iter()
        .flatten()
        .chain(d.clusters.iter().map(|c| c.cluster.as_str()))
}
