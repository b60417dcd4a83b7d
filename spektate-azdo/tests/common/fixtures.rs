//! The captured Azure DevOps responses, and responses built in the documented shapes of
//! endpoints that were not captured.

use std::time::Duration;

use serde_json::{Value, json};
use spektate_core::http::Policy;

/// A captured response by file name.
pub fn load(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A list response: `{"count": n, "value": [...]}`.
pub fn list(values: Vec<Value>) -> Value {
    json!({"count": values.len(), "value": values})
}

/// Retries that do not slow the tests down.
pub fn fast() -> Policy {
    Policy {
        base_delay: Duration::from_millis(5),
        timeout: Duration::from_secs(10),
        ..Policy::default()
    }
}

/// The person every fixture names.
pub fn identity(name: &str) -> Value {
    json!({"id": "e8900b94-217f-4a51-9d86-6bbf5d82b6fb", "displayName": name,
           "uniqueName": "saakhta@microsoft.com",
           "url": "https://vssps.dev.azure.com/fabrikam/_apis/Identities/e8900b94-217f-4a51-9d86-6bbf5d82b6fb",
           "imageUrl": "https://dev.azure.com/fabrikam/_api/_common/identityImage?id=e8900b94-217f-4a51-9d86-6bbf5d82b6fb"})
}

/// The deploy step status (`DeploymentStatus`) of an environment status.
fn deployment_status(environment_status: &str) -> Option<&'static str> {
    match environment_status {
        "succeeded" => Some("succeeded"),
        "partiallySucceeded" => Some("partiallySucceeded"),
        "rejected" | "canceled" => Some("failed"),
        "inProgress" => Some("inProgress"),
        _ => None,
    }
}

/// A classic release in the `Releases - List` shape with `$expand=environments,artifacts`
/// (the `Release` of the Release REST API): one environment `ring` in `status`
/// (`EnvironmentStatus`: `notStarted`, `queued`, `inProgress`, `succeeded`, `rejected`,
/// `canceled`, ...), deployed once, from a container image artifact shaped like the captured
/// one. `times` are when it was queued, started and last changed.
pub fn release(id: u64, ring: &str, status: &str, image: &str, times: [&str; 3]) -> Value {
    let [queued, started, changed] = times;
    let vsrm =
        "https://vsrm.dev.azure.com/fabrikam/f8a98d9c-8f11-46ef-89e4-07b4a56d1ad5/_apis/Release";
    let web = "https://dev.azure.com/fabrikam/f8a98d9c-8f11-46ef-89e4-07b4a56d1ad5/_release";
    let steps = match deployment_status(status) {
        Some(step) => json!([{
            "id": id * 10, "deploymentId": id * 10, "attempt": 1, "reason": "automated",
            "status": step, "operationStatus": if step == "inProgress" { "phaseInProgress" } else { "approved" },
            "queuedOn": queued, "lastModifiedOn": changed, "hasStarted": true,
            "requestedBy": identity("Samiya Akhtar"), "requestedFor": identity("Samiya Akhtar"),
            "releaseDeployPhases": [{"rank": 1, "phaseType": "agentBasedDeployment", "name": "Agent job",
                "status": step, "startedOn": started}]
        }]),
        None => json!([]),
    };
    let mut artifact = load("raw-releases.json")[0]["release"]["artifacts"][0].clone();
    artifact["definitionReference"]["version"] = json!({"id": image, "name": image});
    json!({
        "id": id, "name": format!("Release-{id}"), "status": "active",
        "createdOn": queued, "modifiedOn": changed,
        "modifiedBy": identity("Samiya Akhtar"), "createdBy": identity("Samiya Akhtar"),
        "createdFor": identity("Samiya Akhtar"),
        "environments": [{
            "id": id * 10, "releaseId": id, "name": ring, "status": status, "rank": 1,
            "createdOn": queued, "modifiedOn": changed, "definitionEnvironmentId": 1,
            "deploySteps": steps, "preDeployApprovals": [], "postDeployApprovals": [],
            "release": {"id": id, "name": format!("Release-{id}"), "url": format!("{vsrm}/releases/{id}")},
            "releaseDefinition": {"id": 1, "name": "hello-bedrock"}
        }],
        "artifacts": [artifact],
        "releaseDefinition": {"id": 1, "name": "hello-bedrock", "path": "\\",
            "url": format!("{vsrm}/definitions/1"),
            "_links": {"self": {"href": format!("{vsrm}/definitions/1")}, "web": {"href": format!("{web}?definitionId=1")}}},
        "description": "", "reason": "continuousIntegration", "releaseNameFormat": "Release-$(rev:r)",
        "keepForever": false, "definitionSnapshotRevision": 1,
        "logsContainerUrl": format!("{vsrm}/releases/{id}/logs"), "url": format!("{vsrm}/releases/{id}"),
        "_links": {"self": {"href": format!("{vsrm}/releases/{id}")},
            "web": {"href": format!("{web}?releaseId={id}&_a=release-summary")}},
        "tags": [], "projectReference": {"id": "f8a98d9c-8f11-46ef-89e4-07b4a56d1ad5", "name": "hello"},
        "properties": {}
    })
}

/// A build of an Azure Repos repository in the Builds - List shape.
pub fn tfs_build(
    org_url: &str,
    id: u64,
    status: &str,
    result: Option<&str>,
    repo: &str,
    commit: &str,
) -> Value {
    let mut b = json!({
        "_links": {"web": {"href": format!("{org_url}/hello/_build/results?buildId={id}")}},
        "id": id,
        "buildNumber": format!("20200317.{id}"),
        "status": status,
        "queueTime": "2020-03-17T21:00:00.1234567Z",
        "startTime": "2020-03-17T21:00:10Z",
        "lastChangedDate": "2020-03-17T21:05:00Z",
        "definition": {"id": 12, "name": repo},
        "sourceBranch": "refs/heads/master",
        "sourceVersion": commit,
        "requestedFor": {"displayName": "Samiya Akhtar", "uniqueName": "saakhta@microsoft.com"},
        "repository": {"id": format!("{id}-repo"), "type": "TfsGit", "name": repo,
            "url": format!("https://dev.azure.com/fabrikam/hello/_git/{repo}")}
    });
    if let Some(r) = result {
        b["result"] = json!(r);
        b["finishTime"] = json!("2020-03-17T21:05:00Z");
    }
    b
}
