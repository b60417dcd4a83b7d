//! `Tracker`: a store's records joined with what providers know into deployments.

use std::sync::Arc;

use chrono::Utc;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use spektate::config::{Access, ProviderSettings};
use spektate::correlate::placement::{Placement, PlacementFilter, placements};
use spektate::{Filter, Tracker, render};
use spektate_bindings_common::metrics::{MetricsArgs, metrics};

use crate::errors::to_py;
use crate::filter::{PyFilter, filter_arg};
use crate::insights::PyMetrics;
use crate::names::{NAMES, quoted};
use crate::providers::{PyAzureDevOps, PyGitHub, PyGitLab};
use crate::results::{PyDeployment, PyRefreshStats};
use crate::store::{PyStore, store_arg};
use crate::twins::pymethods_with_twins;
use crate::values::{Json, datetime, word_arg};

/// Joins a store's records with what providers know into deployments, and keeps them fresh.
#[pyclass(frozen, module = "spektate", name = "Tracker")]
pub struct PyTracker(Tracker);

pymethods_with_twins! {
    impl PyTracker {
        /// A tracker over `partition` of `store` (a `Store`, or a spec or path that must exist),
        /// reading runs from the providers given (Azure DevOps first, then GitHub, then GitLab) and from the
        /// run reports in the store.
        #[new]
        #[pyo3(signature = (store, *, partition = "default".to_string(), azure_devops = None, github = None,
                            gitlab = None, source_repo = None, hld_repo = None, manifest_repo = None))]
        #[allow(clippy::too_many_arguments)]
        fn new(
            py: Python<'_>,
            store: &Bound<'_, PyAny>,
            partition: String,
            azure_devops: Option<PyRef<'_, PyAzureDevOps>>,
            github: Option<PyRef<'_, PyGitHub>>,
            gitlab: Option<PyRef<'_, PyGitLab>>,
            source_repo: Option<String>,
            hld_repo: Option<String>,
            manifest_repo: Option<String>,
        ) -> PyResult<Self> {
            let store = store_arg(py, store, Access::Read)?;
            let settings = ProviderSettings {
                azure_devops: azure_devops.map(|a| a.settings.clone()).unwrap_or_default(),
                github: github.map(|g| g.0.clone()),
                gitlab: gitlab.map(|g| g.0.clone()),
                source_repo,
                hld_repo,
                manifest_repo,
            };
            spektate::recorder::check_partition(&partition).map_err(to_py)?;
            let providers = settings.build(&NAMES).map_err(to_py)?;
            Ok(PyTracker(providers.tracker(store, partition).build()))
        }

        /// The partition tracked.
        #[getter]
        fn partition(&self) -> &str {
            self.0.partition()
        }

        /// The store read.
        #[getter]
        fn store(&self) -> PyStore {
            PyStore(self.0.store().clone())
        }

        fn __repr__(&self) -> String {
            format!(
                "Tracker(store={}, partition={})",
                quoted(&self.0.store().describe()),
                quoted(self.0.partition())
            )
        }
    }
    io {
        /// The deployments that pass the filter (a `Filter`, or its keyword arguments), newest
        /// first. The first call refreshes; later calls answer from the last refresh (call
        /// `refresh()` to pick up what changed).
        #[pyo3(signature = (filter = None, **criteria))]
        fn deployments / deployments_blocking(
            &self,
            filter: Option<PyRef<'py, PyFilter>>,
            criteria: Option<&Bound<'py, PyDict>>,
        ) -> Vec<PyDeployment> {
            let f = filter_arg(filter, criteria)?;
            let t = self.0.clone();
            async move {
                Ok(t.deployments(&f)
                    .await?
                    .into_iter()
                    .map(PyDeployment)
                    .collect::<Vec<_>>())
            }
        }

        /// Where each service is running, as `spektate status -o json` prints it: one dict per
        /// service, ring and cluster with the image tag live there (`imageTag`), the commit the
        /// cluster runs (`exact` when it is the deployment's own), `since`, `builtAt` and
        /// `behind` (`images`, `newestTag`, `newestDeploymentId`, `newestBuiltAt`). The keywords
        /// pick rows; newer images of a service still count.
        #[pyo3(signature = (*, service = None, ring = None, image_tag = None, cluster = None))]
        fn status / status_blocking(
            &self,
            service: Option<String>,
            ring: Option<String>,
            image_tag: Option<String>,
            cluster: Option<String>,
        ) -> Json<Vec<Placement>> {
            let only = PlacementFilter { service, ring, image_tag, cluster };
            let t = self.0.clone();
            // Every deployment: the commit a cluster runs may be another service's.
            async move { Ok(Json(placements(&t.deployments(&Filter::default()).await?, &only))) }
        }

        /// The deployments that pass the filter as the text table `spektate get` prints for
        /// them (`wide=True`: `-o wide`); just the header when there are none.
        #[pyo3(signature = (filter = None, *, wide = false, **criteria))]
        fn table / table_blocking(
            &self,
            filter: Option<PyRef<'py, PyFilter>>,
            wide: bool,
            criteria: Option<&Bound<'py, PyDict>>,
        ) -> String {
            let f = filter_arg(filter, criteria)?;
            let t = self.0.clone();
            async move { Ok(render::table(&t.deployments(&f).await?, wide, Utc::now())) }
        }

        /// The DORA metrics of the deployments that pass the filter (a `Filter`, or its keyword
        /// arguments; those whose runs the CI no longer has count whatever `include_expired`
        /// says), as `spektate metrics -o json` computes them: deployments count by the time
        /// they finished, from `since` (an aware datetime; `None`: the first that finished) to
        /// `until` (`None`: now); `by` breaks them down by `"service"`, `"ring"` or `"week"` (a
        /// `GroupBy` member or its word).
        #[pyo3(signature = (filter = None, *, since = None, until = None, by = None, **criteria))]
        fn metrics / metrics_blocking(
            &self,
            filter: Option<PyRef<'py, PyFilter>>,
            since: Option<&Bound<'py, PyAny>>,
            until: Option<&Bound<'py, PyAny>>,
            by: Option<&Bound<'py, PyAny>>,
            criteria: Option<&Bound<'py, PyDict>>,
        ) -> PyMetrics {
            let f = filter_arg(filter, criteria)?;
            let options = MetricsArgs {
                since: datetime("since", since)?,
                until: datetime("until", until)?,
                by: word_arg("by", by)?,
            }
            .into_options(Utc::now())
            .map_err(to_py)?;
            let t = self.0.clone();
            async move { Ok(PyMetrics(Arc::new(metrics(&t, &f, options).await?))) }
        }

        /// Reads what changed in the store and re-fetches only what can still change.
        fn refresh / refresh_blocking(&self) -> PyRefreshStats {
            let t = self.0.clone();
            async move { t.refresh().await.map(PyRefreshStats) }
        }

        /// Deletes the records whose runs the CI says are gone (as of the last refresh);
        /// returns how many.
        fn prune_expired / prune_expired_blocking(&self) -> usize {
            let t = self.0.clone();
            async move { t.prune_expired().await }
        }
    }
}
