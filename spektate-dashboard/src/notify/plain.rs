//! Plain JSON: the event with the deployment's identifying values, for a receiver of one's
//! own (`event` is `live`, `stepFailed`, `clusterFailed` or `approvalWaiting`).

use serde_json::{Value, json};
use spektate_core::events::{Event, EventKind, step_word};

use super::message::{Message, cut};

/// The body posted to a JSON webhook.
pub(crate) fn body(e: &Event, m: &Message, link: Option<&str>) -> Value {
    let d = &e.deployment;
    let opt = |v: Option<&str>| v.map(cut);
    let mut out = json!({
        "event": e.kind.word(),
        "text": m.title,
        "at": e.at,
        "partition": cut(d.partition()),
        "deployment": {
            "id": cut(d.id()),
            "service": opt(d.service()),
            "ring": opt(d.ring()),
            "imageTag": opt(d.image_tag()),
            "commitId": opt(d.commit_id()),
            "hldCommitId": opt(d.hld_commit_id()),
            "manifestCommitId": opt(d.manifest_commit_id()),
            "pr": opt(d.pr()),
            "status": d.status,
        },
    });
    match &e.kind {
        EventKind::Live {
            cluster,
            commit,
            exact,
            first_in_ring,
            replaced,
        } => {
            out["cluster"] = json!(cut(cluster));
            out["commit"] = json!(cut(commit));
            out["exact"] = json!(exact);
            out["firstInRing"] = json!(first_in_ring);
            out["replaced"] = json!(replaced);
        }
        EventKind::StepFailed { step, run_id } => {
            out["step"] = json!(step_word(*step));
            out["runId"] = json!(cut(run_id));
        }
        EventKind::ApprovalWaiting { pr, since } => {
            out["pr"] = json!(cut(pr));
            out["waitingSince"] = json!(since);
        }
        EventKind::Ready => {}
        EventKind::ClusterFailed {
            cluster,
            reason,
            health,
            message,
            ..
        } => {
            out["cluster"] = json!(cut(cluster));
            out["reason"] = json!(reason.as_deref().map(cut));
            out["health"] = json!(health.as_deref().map(cut));
            out["message"] = json!(message.as_deref().map(cut));
        }
    }
    if let Some(link) = link {
        out["link"] = json!(link);
    }
    out
}
