//! `Filter`: which deployments `Tracker.deployments` and `Tracker.table` return, as one
//! object; their keyword arguments build one the same way.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use spektate::Filter;
use spektate_bindings_common::filter::FilterArgs;
use spektate_bindings_common::words::word;

use crate::errors::{invalid, to_py};
use crate::names::quoted;
use crate::values::{member_opt, whole, word_arg};

/// Which deployments to show; every given criterion must hold.
#[pyclass(frozen, eq, module = "spektate", name = "Filter")]
#[derive(Clone, PartialEq)]
pub struct PyFilter(pub Filter);

#[pymethods]
impl PyFilter {
    /// The criteria: `kind` and `status` take an enum member or a word in any spelling
    /// `spektate get` accepts (`"inProgress"`, `"in-progress"`); `top` keeps the newest N;
    /// `include_expired` also passes the deployments whose runs the CI no longer has.
    #[new]
    #[pyo3(signature = (*, service = None, ring = None, author = None, image_tag = None, run_id = None,
                        commit = None, deployment_id = None, kind = None, status = None, keyword = None, top = None,
                        include_expired = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        service: Option<String>,
        ring: Option<String>,
        author: Option<String>,
        image_tag: Option<String>,
        run_id: Option<String>,
        commit: Option<String>,
        deployment_id: Option<String>,
        kind: Option<&Bound<'_, PyAny>>,
        status: Option<&Bound<'_, PyAny>>,
        keyword: Option<String>,
        top: Option<&Bound<'_, PyAny>>,
        include_expired: bool,
    ) -> PyResult<Self> {
        FilterArgs {
            service,
            ring,
            author,
            image_tag,
            run_id,
            commit,
            deployment_id,
            kind: word_arg("kind", kind)?,
            status: word_arg("status", status)?,
            keyword,
            top: whole("top", top)?,
            include_expired,
        }
        .into_filter()
        .map(PyFilter)
        .map_err(to_py)
    }

    /// Service, by shown or stored name.
    #[getter]
    fn service(&self) -> Option<&str> {
        self.0.service.as_deref()
    }
    /// Ring (environment).
    #[getter]
    fn ring(&self) -> Option<&str> {
        self.0.ring.as_deref()
    }
    /// Author name, e-mail or login; a part matches.
    #[getter]
    fn author(&self) -> Option<&str> {
        self.0.author.as_deref()
    }
    /// Image tag.
    #[getter]
    fn image_tag(&self) -> Option<&str> {
        self.0.image_tag.as_deref()
    }
    /// A p1, p2 or p3 run id.
    #[getter]
    fn run_id(&self) -> Option<&str> {
        self.0.run_id.as_deref()
    }
    /// A source, HLD or manifest commit (7 or more characters of it).
    #[getter]
    fn commit(&self) -> Option<&str> {
        self.0.commit.as_deref()
    }
    /// The deployment id.
    #[getter]
    fn deployment_id(&self) -> Option<&str> {
        self.0.deployment_id.as_deref()
    }
    /// Deployment or manual HLD edit, as a `DeploymentKind` member.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "DeploymentKind", self.0.kind.as_ref())
    }
    /// Overall status, as a `Status` member (`"in-progress"` reads back `Status.IN_PROGRESS`).
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "Status", self.0.status.as_ref())
    }
    /// A word found in any shown field.
    #[getter]
    fn keyword(&self) -> Option<&str> {
        self.0.keyword.as_deref()
    }
    /// At most this many, newest first.
    #[getter]
    fn top(&self) -> Option<usize> {
        self.0.top
    }
    /// Whether deployments whose runs the CI no longer has pass too.
    #[getter]
    fn include_expired(&self) -> bool {
        self.0.include_expired
    }

    /// `Filter(ring='prod', status='inProgress')`: the given criteria only.
    fn __repr__(&self) -> String {
        let f = &self.0;
        let text = [
            ("service", &f.service),
            ("ring", &f.ring),
            ("author", &f.author),
            ("image_tag", &f.image_tag),
            ("run_id", &f.run_id),
            ("commit", &f.commit),
            ("deployment_id", &f.deployment_id),
        ];
        let mut parts: Vec<String> = text
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}={}", quoted(v))))
            .collect();
        let words = [
            ("kind", f.kind.as_ref().map(word)),
            ("status", f.status.as_ref().map(word)),
        ];
        parts.extend(
            words
                .iter()
                .filter_map(|(k, w)| w.as_deref().map(|w| format!("{k}='{w}'"))),
        );
        parts.extend(
            f.keyword
                .as_deref()
                .map(|k| format!("keyword={}", quoted(k))),
        );
        parts.extend(f.top.map(|n| format!("top={n}")));
        if f.include_expired {
            parts.push("include_expired=True".to_string());
        }
        format!("Filter({})", parts.join(", "))
    }
}

/// The filter of a `Tracker` method: a `Filter`, or the keyword arguments of one (not both).
pub fn filter_arg(
    filter: Option<PyRef<'_, PyFilter>>,
    criteria: Option<&Bound<'_, PyDict>>,
) -> PyResult<Filter> {
    let criteria = criteria.filter(|c| !c.is_empty());
    match (filter, criteria) {
        (Some(_), Some(_)) => Err(invalid(
            "filter",
            "give a Filter or keyword criteria, not both",
        )),
        (Some(f), None) => Ok(f.0.clone()),
        (None, Some(c)) => {
            let f = c.py().get_type::<PyFilter>().call((), Some(c))?;
            Ok(f.cast::<PyFilter>()?.get().0.clone())
        }
        (None, None) => Ok(Filter::default()),
    }
}
