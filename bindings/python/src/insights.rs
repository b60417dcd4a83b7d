//! Insight classes: the DORA metrics of `Tracker.metrics` and the ETA of a deployment on its
//! way, read-only views of the library's values with typed attributes (times as aware
//! datetimes, durations in seconds and as `timedelta`, enum members for the words), `==`,
//! `__repr__` and `to_dict()` (the JSON document `spektate metrics -o json` prints, or the
//! deployment JSON's `eta`).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use pyo3::prelude::*;
use spektate::insights::dora::{FailureRate, Frequency, Group, LeadTime, Restore, Shares};
use spektate::insights::{Band, Dora, Eta, EtaStep, Figures};
use spektate_bindings_common::words::word;

use crate::values::{json, member, member_opt};

/// `repr()` of an optional band: `'elite'` or `None`.
fn band_repr(band: Option<Band>) -> String {
    band.map_or("None".to_string(), |b| format!("'{}'", word(&b)))
}

/// `repr()` of optional seconds.
fn secs_repr(secs: Option<i64>) -> String {
    secs.map_or("None".to_string(), |s| s.to_string())
}

/// `repr()` of an optional number.
fn num_repr(n: Option<f64>) -> String {
    n.map_or("None".to_string(), |n| format!("{n}"))
}

/// The DORA metrics of a tracker's deployments in a window, overall and per group.
#[pyclass(frozen, eq, module = "spektate", name = "Metrics")]
#[derive(PartialEq)]
pub struct PyMetrics(pub Arc<Dora>);

#[pymethods]
impl PyMetrics {
    /// The window's start: the one given, else the first deployment that finished.
    #[getter]
    fn since(&self) -> Option<DateTime<Utc>> {
        self.0.since
    }
    /// The window's end.
    #[getter]
    fn until(&self) -> DateTime<Utc> {
        self.0.until
    }
    /// Where lead time starts.
    #[getter]
    fn lead_time_from(&self) -> &'static str {
        self.0.lead_time_from
    }
    /// The figures of every deployment in the window.
    #[getter]
    fn overall(&self) -> PyFigures {
        PyFigures(self.0.overall.clone())
    }
    /// The breakdown asked for, as a `GroupBy` member.
    #[getter]
    fn by<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "GroupBy", self.0.by.as_ref())
    }
    /// One entry per service, ring (`-` for none) or week (`2026-W05`), in key order; empty
    /// without a breakdown.
    #[getter]
    fn groups(&self) -> Vec<PyMetricsGroup> {
        self.0.groups.iter().cloned().map(PyMetricsGroup).collect()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &*self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Metrics(since={}, until='{}', by={}, groups={})",
            self.0
                .since
                .map_or("None".to_string(), |s| format!("'{}'", s.to_rfc3339())),
            self.0.until.to_rfc3339(),
            self.0
                .by
                .map_or("None".to_string(), |b| format!("'{}'", word(&b))),
            self.0.groups.len()
        )
    }
}

/// The four DORA figures over one set of deployments.
#[pyclass(frozen, eq, module = "spektate", name = "Figures")]
#[derive(PartialEq)]
pub struct PyFigures(pub Figures);

#[pymethods]
impl PyFigures {
    /// Deployments that completed, per day and per week.
    #[getter]
    fn deployment_frequency(&self) -> PyDeploymentFrequency {
        PyDeploymentFrequency(self.0.deployment_frequency.clone())
    }
    /// From the image pipeline's queue time to the first cluster (or the last step).
    #[getter]
    fn lead_time(&self) -> PyLeadTime {
        PyLeadTime(self.0.lead_time.clone())
    }
    /// Deployments with a failed step over those that finished.
    #[getter]
    fn change_failure_rate(&self) -> PyChangeFailureRate {
        PyChangeFailureRate(self.0.change_failure_rate.clone())
    }
    /// From a failure to the next completed deployment of its service and ring.
    #[getter]
    fn time_to_restore(&self) -> PyTimeToRestore {
        PyTimeToRestore(self.0.time_to_restore.clone())
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        let f = &self.0;
        format!(
            "Figures(completed={}, lead_time_median_secs={}, change_failure_rate={}, time_to_restore_median_secs={})",
            f.deployment_frequency.completed,
            secs_repr(f.lead_time.median_secs),
            num_repr(f.change_failure_rate.rate),
            secs_repr(f.time_to_restore.median_secs)
        )
    }
}

/// The figures of one group of `Metrics.groups`.
#[pyclass(frozen, eq, module = "spektate", name = "MetricsGroup")]
#[derive(PartialEq)]
pub struct PyMetricsGroup(pub Group);

#[pymethods]
impl PyMetricsGroup {
    /// The service, ring (`-` for none) or week (`2026-W05`).
    #[getter]
    fn key(&self) -> &str {
        &self.0.key
    }
    /// Its four figures.
    #[getter]
    fn figures(&self) -> PyFigures {
        PyFigures(self.0.figures.clone())
    }
    /// Deployments that completed, per day and per week.
    #[getter]
    fn deployment_frequency(&self) -> PyDeploymentFrequency {
        PyDeploymentFrequency(self.0.figures.deployment_frequency.clone())
    }
    /// Lead time for changes.
    #[getter]
    fn lead_time(&self) -> PyLeadTime {
        PyLeadTime(self.0.figures.lead_time.clone())
    }
    /// Change failure rate.
    #[getter]
    fn change_failure_rate(&self) -> PyChangeFailureRate {
        PyChangeFailureRate(self.0.figures.change_failure_rate.clone())
    }
    /// Time to restore.
    #[getter]
    fn time_to_restore(&self) -> PyTimeToRestore {
        PyTimeToRestore(self.0.figures.time_to_restore.clone())
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "MetricsGroup(key='{}', completed={})",
            self.0.key.replace('\\', "\\\\").replace('\'', "\\'"),
            self.0.figures.deployment_frequency.completed
        )
    }
}

/// Deployment frequency: deployments that completed (their last step succeeded).
#[pyclass(frozen, eq, module = "spektate", name = "DeploymentFrequency")]
#[derive(PartialEq)]
pub struct PyDeploymentFrequency(pub Frequency);

#[pymethods]
impl PyDeploymentFrequency {
    /// Deployments that completed in the window.
    #[getter]
    fn completed(&self) -> usize {
        self.0.completed
    }
    /// The window's length in days.
    #[getter]
    fn days(&self) -> f64 {
        self.0.days
    }
    /// Completed per day; `None` for an empty window.
    #[getter]
    fn per_day(&self) -> Option<f64> {
        self.0.per_day
    }
    /// Completed per week.
    #[getter]
    fn per_week(&self) -> Option<f64> {
        self.0.per_week
    }
    /// Its DORA band, as a `Band` member.
    #[getter]
    fn band<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "Band", self.0.band.as_ref())
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "DeploymentFrequency(completed={}, per_day={}, band={})",
            self.0.completed,
            num_repr(self.0.per_day),
            band_repr(self.0.band)
        )
    }
}

/// Lead time for changes of the completed deployments.
#[pyclass(frozen, eq, module = "spektate", name = "LeadTime")]
#[derive(PartialEq)]
pub struct PyLeadTime(pub LeadTime);

#[pymethods]
impl PyLeadTime {
    /// Completed deployments with a start time.
    #[getter]
    fn count(&self) -> usize {
        self.0.count
    }
    /// Of those, how many reached a cluster (the others end at their last step).
    #[getter]
    fn live(&self) -> usize {
        self.0.live
    }
    /// Of those, how many start at the source commit's time (the others at the image
    /// pipeline's queue time, the commit's time being unknown).
    #[getter(from_commit)]
    fn starting_at_the_commit(&self) -> usize {
        self.0.from_commit
    }
    /// Median, in seconds.
    #[getter]
    fn median_secs(&self) -> Option<i64> {
        self.0.median_secs
    }
    /// The median as a `timedelta`.
    #[getter]
    fn median(&self) -> Option<TimeDelta> {
        self.0.median_secs.map(TimeDelta::seconds)
    }
    /// 90th percentile (nearest rank), in seconds.
    #[getter]
    fn p90_secs(&self) -> Option<i64> {
        self.0.p90_secs
    }
    /// The 90th percentile as a `timedelta`.
    #[getter]
    fn p90(&self) -> Option<TimeDelta> {
        self.0.p90_secs.map(TimeDelta::seconds)
    }
    /// The share of lead time each step took; `None` without lead times.
    #[getter]
    fn shares(&self) -> Option<PyLeadTimeShares> {
        self.0.shares.clone().map(PyLeadTimeShares)
    }
    /// The median's DORA band, as a `Band` member.
    #[getter]
    fn band<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "Band", self.0.band.as_ref())
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "LeadTime(count={}, median_secs={}, p90_secs={}, band={})",
            self.0.count,
            secs_repr(self.0.median_secs),
            secs_repr(self.0.p90_secs),
            band_repr(self.0.band)
        )
    }
}

/// The share of lead time each step took, from 0 to 1.
#[pyclass(frozen, eq, module = "spektate", name = "LeadTimeShares")]
#[derive(PartialEq)]
pub struct PyLeadTimeShares(pub Shares);

#[pymethods]
impl PyLeadTimeShares {
    /// From the source commit to the image pipeline's queue time.
    #[getter]
    fn commit(&self) -> f64 {
        self.0.commit
    }
    /// The image pipeline (queue and run).
    #[getter]
    fn image(&self) -> f64 {
        self.0.image
    }
    /// The metadata pipeline.
    #[getter]
    fn metadata(&self) -> f64 {
        self.0.metadata
    }
    /// Waiting for the approval pull request's merge.
    #[getter]
    fn approval(&self) -> f64 {
        self.0.approval
    }
    /// The manifest pipeline.
    #[getter]
    fn manifests(&self) -> f64 {
        self.0.manifests
    }
    /// From the manifests to the first cluster.
    #[getter]
    fn sync(&self) -> f64 {
        self.0.sync
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        let s = &self.0;
        format!(
            "LeadTimeShares(commit={}, image={}, metadata={}, approval={}, manifests={}, sync={})",
            s.commit, s.image, s.metadata, s.approval, s.manifests, s.sync
        )
    }
}

/// Change failure rate: deployments with a failed step over those that finished.
#[pyclass(frozen, eq, module = "spektate", name = "ChangeFailureRate")]
#[derive(PartialEq)]
pub struct PyChangeFailureRate(pub FailureRate);

#[pymethods]
impl PyChangeFailureRate {
    /// Deployments with a failed step.
    #[getter]
    fn failed(&self) -> usize {
        self.0.failed
    }
    /// Deployments that completed or failed.
    #[getter]
    fn finished(&self) -> usize {
        self.0.finished
    }
    /// `failed / finished`; `None` when none finished.
    #[getter]
    fn rate(&self) -> Option<f64> {
        self.0.rate
    }
    /// Its DORA band, as a `Band` member.
    #[getter]
    fn band<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "Band", self.0.band.as_ref())
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "ChangeFailureRate(failed={}, finished={}, rate={}, band={})",
            self.0.failed,
            self.0.finished,
            num_repr(self.0.rate),
            band_repr(self.0.band)
        )
    }
}

/// Time to restore: from a failed deployment's finish to the next completed one of the same
/// service and ring.
#[pyclass(frozen, eq, module = "spektate", name = "TimeToRestore")]
#[derive(PartialEq)]
pub struct PyTimeToRestore(pub Restore);

#[pymethods]
impl PyTimeToRestore {
    /// Failures followed by a completed deployment of the same service and ring.
    #[getter]
    fn restorations(&self) -> usize {
        self.0.restorations
    }
    /// Failures in the window no completed deployment followed yet.
    #[getter]
    fn unrestored(&self) -> usize {
        self.0.unrestored
    }
    /// Median, in seconds.
    #[getter]
    fn median_secs(&self) -> Option<i64> {
        self.0.median_secs
    }
    /// The median as a `timedelta`.
    #[getter]
    fn median(&self) -> Option<TimeDelta> {
        self.0.median_secs.map(TimeDelta::seconds)
    }
    /// The median's DORA band, as a `Band` member.
    #[getter]
    fn band<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        member_opt(py, "Band", self.0.band.as_ref())
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "TimeToRestore(restorations={}, unrestored={}, median_secs={}, band={})",
            self.0.restorations,
            self.0.unrestored,
            secs_repr(self.0.median_secs),
            band_repr(self.0.band)
        )
    }
}

/// When a deployment on its way is expected to be live, from the history of its service and
/// ring (else its service, else every deployment).
#[pyclass(frozen, eq, module = "spektate", name = "Eta")]
#[derive(PartialEq)]
pub struct PyEta(pub Arc<Eta>);

#[pymethods]
impl PyEta {
    /// The remaining steps, the running one first.
    #[getter]
    fn steps(&self) -> Vec<PyEtaStep> {
        self.0.steps.iter().cloned().map(PyEtaStep).collect()
    }
    /// Expected to be live: the last step's expected finish (medians).
    #[getter]
    fn live_at(&self) -> DateTime<Utc> {
        self.0.live_at
    }
    /// Live at the 90th percentile.
    #[getter]
    fn live_p90_at(&self) -> DateTime<Utc> {
        self.0.live_p90_at
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &*self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "Eta(live_at='{}', live_p90_at='{}', steps={})",
            self.0.live_at.to_rfc3339(),
            self.0.live_p90_at.to_rfc3339(),
            self.0.steps.len()
        )
    }
}

/// The expected finish of one remaining step of a deployment's journey.
#[pyclass(frozen, eq, module = "spektate", name = "EtaStep")]
#[derive(PartialEq)]
pub struct PyEtaStep(pub EtaStep);

#[pymethods]
impl PyEtaStep {
    /// The step, as a `Segment` member.
    #[getter]
    fn segment<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "Segment", &self.0.segment)
    }
    /// Its expected finish (medians).
    #[getter]
    fn expected_at(&self) -> DateTime<Utc> {
        self.0.expected_at
    }
    /// Its finish at the 90th percentile.
    #[getter]
    fn p90_at(&self) -> DateTime<Utc> {
        self.0.p90_at
    }
    /// How many past durations the estimate rests on.
    #[getter]
    fn samples(&self) -> usize {
        self.0.samples
    }
    /// Whose history they are, as a `Basis` member.
    #[getter]
    fn basis<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        member(py, "Basis", &self.0.basis)
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "EtaStep(segment='{}', expected_at='{}', p90_at='{}', basis='{}')",
            word(&self.0.segment),
            self.0.expected_at.to_rfc3339(),
            self.0.p90_at.to_rfc3339(),
            word(&self.0.basis)
        )
    }
}
