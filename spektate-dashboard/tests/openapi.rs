//! The API document the server serves: every route of the router is in it and every
//! operation in it is a route, each with the sign-in its route asks for, and the request
//! examples it shows are written by the server as they are.

mod support;

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::Value;
use spektate_core::ingest::Kind;
use spektate_dashboard::{Access, Dashboard, Service, ViewerAuth};
use support::{Running, start};

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

async fn document(server: &Running) -> Value {
    let r = server
        .client
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the document is public");
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_operation_is_a_route() {
    let server = start(ViewerAuth::Token).await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.0.3");
    let routes: BTreeSet<(String, String)> = server
        .routes
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(operations(&doc), routes);
    assert!(routes.len() >= 16, "{routes:?}");

    let mut ids = BTreeSet::new();
    for route in &server.routes {
        let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_string()),
            "{op}"
        );
        assert!(op["responses"]["200"].is_object(), "{op}");
        assert_eq!(
            op["responses"]["405"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error",
            "{op}"
        );
        // A method the route does not take: the documented JSON 405, with `Allow`.
        let r = server
            .client
            .delete(server.url(route.path))
            .bearer_auth(&server.reader)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "DELETE {}", route.path);
        let allow = r.headers()["allow"].to_str().unwrap().to_string();
        assert!(
            allow.split(',').any(|m| m == route.method.as_str()),
            "DELETE {}: Allow: {allow}",
            route.path
        );
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .starts_with("method DELETE is not allowed on "),
            "DELETE {}: {e}",
            route.path
        );
        let security = match route.access {
            Access::Public => serde_json::json!([]),
            Access::Viewer => serde_json::json!([{"viewerToken": []}]),
            Access::Pipeline => serde_json::json!([{"pipelineToken": []}]),
            Access::Hook => serde_json::json!([]),
        };
        assert_eq!(op["security"], security, "{} {}", route.method, route.path);
        // Each documented GET is answered as documented (not by a fallback).
        if route.method == Method::GET {
            let r = server
                .client
                .get(server.url(route.path))
                .bearer_auth(&server.reader)
                .send()
                .await
                .unwrap();
            if route.path.contains('{') {
                // A path with a parameter, asked for as written: the route answers that it has
                // no such thing (JSON naming the parameter), not the fallback.
                assert_eq!(r.status(), 404, "GET {}", route.path);
                let e: Value = r.json().await.unwrap();
                assert_eq!(e["field"], "id", "GET {}: {e}", route.path);
            } else {
                assert_eq!(r.status(), 200, "GET {}", route.path);
            }
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_examples_of_the_document_are_written_as_they_are() {
    let server = start(ViewerAuth::None).await;
    let doc = document(&server).await;
    for kind in Kind::ALL {
        let body = &doc["paths"][kind.path()]["post"]["requestBody"]["content"]["application/json"];
        let example = &body["example"];
        let schema = &body["schema"];
        let properties = schema["properties"].as_object().unwrap();
        for key in example.as_object().unwrap().keys() {
            assert!(
                properties.contains_key(key),
                "{key} of the {} example is not in its schema",
                kind.name()
            );
        }
        for required in schema["required"].as_array().unwrap() {
            assert!(
                example.get(required.as_str().unwrap()).is_some(),
                "{required} missing in the example"
            );
        }
        let r = server
            .post(kind.path(), &server.writer, None, example)
            .await;
        let status = r.status();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{}: {answer}", kind.name());
        assert_eq!(answer["kind"], kind.name());
    }
    server.stop().await;
}

#[tokio::test]
async fn a_dashboard_without_writes_documents_no_write_operations() {
    let tracker =
        spektate_core::Tracker::builder(std::sync::Arc::new(spektate_core::MemoryStore::new()))
            .build();
    let service = Service::new(Dashboard::new(tracker));
    let doc = service.openapi();
    let routes: BTreeSet<(String, String)> = service
        .routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(operations(&doc), routes);
    assert!(routes.iter().all(|(m, _)| m == "GET"), "{routes:?}");
}
