//! The captured Azure DevOps responses, and responses built from them in the documented
//! shapes of endpoints that were not captured.

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

fn environment_status(deployment_status: &str) -> &'static str {
    match deployment_status {
        "succeeded" => "succeeded",
        "partiallySucceeded" => "partiallySucceeded",
        "failed" => "rejected",
        "inProgress" => "inProgress",
        _ => "notStarted",
    }
}

/// The `releases?$expand=environments,artifacts` element of the release a captured
/// deployment (`release/deployments` element) belongs to: the release and its artifacts as
/// captured, with the deployment as the environment's deploy step.
pub fn release_from_deployment(d: &Value) -> Value {
    let mut release = d["release"].clone();
    let status = d["deploymentStatus"].as_str().unwrap_or("notDeployed");
    release["status"] = json!("active");
    release["createdOn"] = d["queuedOn"].clone();
    release["modifiedOn"] = d["lastModifiedOn"].clone();
    release["createdBy"] = d["requestedBy"].clone();
    release["createdFor"] = d["requestedFor"].clone();
    release["releaseDefinition"] = d["releaseDefinition"].clone();
    release["environments"] = json!([{
        "id": d["releaseEnvironment"]["id"],
        "releaseId": d["release"]["id"],
        "name": d["releaseEnvironment"]["name"],
        "status": environment_status(status),
        "rank": 1,
        "createdOn": d["queuedOn"],
        "modifiedOn": d["lastModifiedOn"],
        "deploySteps": [{
            "id": d["id"],
            "deploymentId": d["id"],
            "attempt": d["attempt"],
            "reason": d["reason"],
            "status": status,
            "operationStatus": d["operationStatus"],
            "queuedOn": d["queuedOn"],
            "lastModifiedOn": d["lastModifiedOn"],
            "hasStarted": true,
            "requestedBy": d["requestedBy"],
            "requestedFor": d["requestedFor"],
            "releaseDeployPhases": [{
                "rank": 1,
                "phaseType": "agentBasedDeployment",
                "name": "Agent job",
                "status": status,
                "startedOn": d["startedOn"]
            }]
        }]
    }]);
    release
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
