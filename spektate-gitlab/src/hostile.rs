//! Hostile answers: every parser of a GitLab answer, fed bodies no GitLab sends, must answer
//! with an error or nothing, never panic.

use serde_json::{Value, json};
use spektate_core::RunKind;

use crate::payloads::{Commit, Job, MergeRequest, Pipeline, Tag};

fn bodies() -> Vec<Value> {
    let long = "x".repeat(100_000);
    vec![
        json!(null),
        json!([]),
        json!({}),
        json!({"id": -1}),
        json!({"id": 1e300}),
        json!({"id": 18446744073709551615u64, "status": "success", "web_url": "https://gitlab.com/-/-/-/pipelines/1"}),
        json!({"id": 1, "status": long, "web_url": long, "ref": long, "sha": long}),
        json!({"id": 1, "status": "success", "created_at": "yesterday", "user": "me"}),
        json!({"id": 1, "status": "\u{0}", "web_url": "/-/", "iid": "1"}),
        json!({"iid": 0, "state": "merged", "merged_by": [], "merge_user": {"username": 5}}),
        json!({"iid": "12", "state": null, "mergeUser": "x", "mergedAt": "never"}),
        json!({"sha": 5, "author": "x", "authorName": ["a"]}),
        json!({"name": "flux-", "target": null, "commit": {"id": null}}),
        json!({"name": "flux-\u{0}", "target": "", "commit": {"id": ""}, "created_at": 5}),
        json!({"id": 1, "stage": null, "status": "exploded"}),
    ]
}

#[test]
fn hostile_answers_never_panic() {
    for body in bodies() {
        let text = body.to_string();
        if let Ok(p) = serde_json::from_str::<Pipeline>(&text) {
            let _ = crate::pipelines::pipeline_run("1", RunKind::Build, &p);
        }
        if let Ok(jobs) = serde_json::from_str::<Vec<Job>>(&format!("[{text}]")) {
            let _ = crate::pipelines::stages_of(&jobs);
        }
        if let Ok(c) = serde_json::from_str::<Commit>(&text) {
            let _ = crate::commits::from_rest(&c);
        }
        if let Ok(m) = serde_json::from_str::<MergeRequest>(&text) {
            let _ = crate::merge_requests::from_rest(&m);
        }
        if let Ok(t) = serde_json::from_str::<Tag>(&text) {
            let _ = crate::tags::sync_of(&t, "flux-");
        }
        let _ = crate::merge_requests::from_graphql(&body);
        let _ = crate::commits::from_graphql(&body);
        if let Some(url) = body.get("web_url").and_then(Value::as_str) {
            let _ = crate::pipelines::repo_of_page(url);
        }
    }
    for id in ["", "#", "##1", "1#", "0x10", "١٢", "-0", "+1", " 7 "] {
        let _ = crate::pipelines::pipeline_id(id);
        let _ = crate::merge_requests::iid(id);
        let _ = crate::project::Project::parse(id);
    }
    assert_eq!(crate::pipelines::pipeline_id(" 7 "), Some(7));
}
