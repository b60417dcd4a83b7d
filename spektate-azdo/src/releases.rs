//! Classic releases (Release REST API on the `vsrm` host): `releases?releaseIdFilter=` with
//! environments and artifacts expanded, each release mapped to one run.
//!
//! A release deploys to one or more environments, each in one or more attempts (deploy
//! steps). The run is in progress while any environment is queued or deploying; once none
//! is, it completed with the worst result among the environments that deployed.

use chrono::{DateTime, Utc};
use serde_json::Value;
use spektate_core::fields::non_empty_text;
use spektate_core::{Run, RunKind, RunResult, RunStatus};

use crate::api::parse_time;

/// The container image a release deployed: its first artifact's version and registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactImage {
    /// The artifact version (the image tag for a container registry artifact).
    pub version: Option<String>,
    /// The registry (`hellorings.azurecr.io`), for container registry artifacts.
    pub registry: Option<String>,
}

/// The image version and registry of a release's first artifact.
pub fn artifact_image(release: &Value) -> Option<ArtifactImage> {
    let first = release.get("artifacts")?.as_array()?.first()?;
    let def = first.get("definitionReference")?;
    let pick = |name: &str| {
        def.get(name)
            .and_then(|v| non_empty_text(v.get("id")).or_else(|| non_empty_text(v.get("name"))))
    };
    Some(ArtifactImage {
        version: pick("version"),
        registry: pick("registryurl").or_else(|| pick("registry")),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnvState {
    NotStarted,
    Queued,
    Deploying,
    Done(RunResult),
}

fn env_state(env: &Value) -> EnvState {
    let word = env
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    match word.as_str() {
        "inprogress" => EnvState::Deploying,
        "queued" | "scheduled" => EnvState::Queued,
        "succeeded" => EnvState::Done(RunResult::Succeeded),
        "partiallysucceeded" => EnvState::Done(RunResult::PartiallySucceeded),
        "rejected" | "failed" => EnvState::Done(RunResult::Failed),
        "canceled" | "cancelled" => EnvState::Done(RunResult::Canceled),
        _ => EnvState::NotStarted,
    }
}

fn severity(r: RunResult) -> u8 {
    match r {
        RunResult::Failed => 4,
        RunResult::Canceled => 3,
        RunResult::PartiallySucceeded => 2,
        RunResult::Succeeded => 1,
        RunResult::Skipped => 0,
    }
}

/// Status and result of a release from its environments.
fn release_state(release: &Value, envs: &[Value]) -> (RunStatus, Option<RunResult>) {
    let states: Vec<EnvState> = envs.iter().map(env_state).collect();
    let done: Vec<RunResult> = states
        .iter()
        .filter_map(|s| match s {
            EnvState::Done(r) => Some(*r),
            _ => None,
        })
        .collect();
    if states.contains(&EnvState::Deploying)
        || (states.contains(&EnvState::Queued) && !done.is_empty())
    {
        return (RunStatus::InProgress, None);
    }
    if states.contains(&EnvState::Queued) {
        return (RunStatus::Queued, None);
    }
    if let Some(worst) = done.into_iter().max_by_key(|r| severity(*r)) {
        return (RunStatus::Completed, Some(worst));
    }
    let abandoned = release
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("abandoned"));
    if abandoned {
        (RunStatus::Completed, Some(RunResult::Canceled))
    } else {
        (RunStatus::Queued, None)
    }
}

fn steps(envs: &[Value]) -> impl Iterator<Item = &Value> {
    envs.iter().flat_map(|e| {
        e.get("deploySteps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    })
}

fn times<'a>(values: impl Iterator<Item = &'a Value>, field: &str) -> Vec<DateTime<Utc>> {
    values.filter_map(|v| parse_time(v.get(field))).collect()
}

/// One element of a `releases` list (with `$expand=environments,artifacts`) as a [`Run`];
/// `None` without an id.
pub fn release_to_run(release: &Value) -> Option<Run> {
    let id = non_empty_text(release.get("id"))?;
    let envs: Vec<Value> = release
        .get("environments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (status, result) = release_state(release, &envs);
    let mut run = Run::new(id, RunKind::Release, status);
    run.result = result;
    run.number = non_empty_text(release.get("name"));
    run.pipeline = release
        .get("releaseDefinition")
        .and_then(|d| non_empty_text(d.get("name")));
    run.url = release
        .pointer("/_links/web/href")
        .and_then(|v| non_empty_text(Some(v)));
    run.requested_by = release
        .get("createdFor")
        .and_then(|p| non_empty_text(p.get("displayName")))
        .or_else(|| {
            release
                .get("createdBy")
                .and_then(|p| non_empty_text(p.get("displayName")))
        });

    let queued = times(steps(&envs), "queuedOn");
    let phases = steps(&envs).flat_map(|s| {
        s.get("releaseDeployPhases")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    });
    let started = times(phases, "startedOn");
    let step_changes = times(steps(&envs), "lastModifiedOn");
    run.queued_at = queued
        .iter()
        .min()
        .copied()
        .or_else(|| parse_time(release.get("createdOn")));
    run.started_at = started.iter().min().copied().or_else(|| {
        (status != RunStatus::Queued)
            .then(|| queued.iter().min().copied())
            .flatten()
    });
    let env_changes = times(envs.iter(), "modifiedOn");
    if status == RunStatus::Completed {
        run.finished_at = step_changes
            .iter()
            .max()
            .copied()
            .or_else(|| env_changes.iter().max().copied());
    }
    run.last_changed_at = step_changes
        .iter()
        .chain(&env_changes)
        .copied()
        .chain(parse_time(release.get("modifiedOn")))
        .max();
    if let Some(image) = artifact_image(release) {
        run.image_version = image.version;
    }
    Some(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn release(envs: Value) -> Value {
        json!({"id": 7, "name": "Release-7", "status": "active", "createdOn": "2020-03-17T21:00:00Z",
               "modifiedOn": "2020-03-17T21:05:00Z", "environments": envs})
    }

    #[test]
    fn a_release_runs_while_any_environment_deploys_and_then_takes_the_worst_result() {
        let r = release(
            json!([{"name": "dev", "status": "succeeded"}, {"name": "qa", "status": "inProgress"}]),
        );
        assert_eq!(release_to_run(&r).unwrap().status, RunStatus::InProgress);
        let r = release(
            json!([{"name": "dev", "status": "succeeded"}, {"name": "qa", "status": "rejected"}]),
        );
        let run = release_to_run(&r).unwrap();
        assert_eq!(
            (run.status, run.result),
            (RunStatus::Completed, Some(RunResult::Failed))
        );
        let r = release(json!([{"name": "dev", "status": "notStarted"}]));
        assert_eq!(release_to_run(&r).unwrap().status, RunStatus::Queued);
        let mut r = release(json!([{"name": "dev", "status": "notStarted"}]));
        r["status"] = json!("abandoned");
        assert_eq!(
            release_to_run(&r).unwrap().result,
            Some(RunResult::Canceled)
        );
    }
}
