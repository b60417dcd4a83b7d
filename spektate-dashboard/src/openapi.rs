//! The OpenAPI 3 document of the server's API, served at `/api/openapi.json`. The request
//! schemas of the write API come from the fields the server parses
//! ([`spektate_core::ingest::Kind::fields`]); the rest is written here, and a test checks the
//! document against the router's routes and posts its examples to a server.

use serde_json::{Map, Value, json};
use spektate_core::ingest::{FieldType, Kind};

use crate::auth::ViewerAuth;
use crate::write::{MAX_BODY_BYTES, error_example};

/// A request body that each kind's example shows; the examples follow one journey, so
/// posting them in order links them up.
pub fn example(kind: Kind) -> Value {
    match kind {
        Kind::Image => json!({
            "p1": "1042", "imageTag": "frontend-1042", "commitId": "a1b2c3d4e5f6",
            "service": "fabrikam/frontend", "repository": "https://github.com/fabrikam/frontend"
        }),
        Kind::Metadata => json!({
            "p2": "1043", "imageTag": "frontend-1042", "hldCommitId": "b2c3d4e5f6a1", "env": "dev",
            "service": "fabrikam/frontend", "pr": "41", "repository": "https://github.com/fabrikam/hld"
        }),
        Kind::Manifest => json!({"p3": "1044", "hldCommitId": "b2c3d4e5f6a1", "pr": "41"}),
        Kind::ManifestCommit => json!({
            "p3": "1044", "manifestCommitId": "c3d4e5f6a1b2",
            "repository": "https://github.com/fabrikam/manifests"
        }),
        Kind::Run => json!({
            "id": "1044", "status": "completed", "result": "succeeded", "attempt": 1,
            "url": "https://github.com/fabrikam/hld/actions/runs/1044"
        }),
        Kind::Sync => json!({"cluster": "east-us", "commit": "c3d4e5f6a1b2"}),
    }
}

fn summary(kind: Kind) -> &'static str {
    match kind {
        Kind::Image => "p1 built an image (spektate record --p1)",
        Kind::Metadata => "p2 wrote the image tag into the HLD for a ring (spektate record --p2)",
        Kind::Manifest => {
            "p3 renders manifests from an HLD commit (spektate record --p3 --hld-commit-id)"
        }
        Kind::ManifestCommit => {
            "p3 pushed its manifest commit (spektate record --p3 --manifest-commit-id)"
        }
        Kind::Run => "A pipeline reports its own run (spektate record run)",
        Kind::Sync => "A cluster reports the manifest commit it runs (spektate record sync)",
    }
}

/// The JSON schema of a kind's request body.
fn request_schema(kind: Kind) -> Value {
    let mut properties = Map::new();
    for f in kind.fields() {
        let about = format!(
            "{} Flag {}; also accepted as `{}`.",
            f.about,
            f.flag,
            f.flag_name()
        );
        let schema = match f.ty {
            FieldType::Text => json!({"type": "string", "description": about}),
            FieldType::Count => json!({"type": "integer", "minimum": 1, "description": about}),
            FieldType::Time => {
                json!({"type": "string", "format": "date-time", "description": about})
            }
        };
        properties.insert(f.name.to_string(), schema);
    }
    let required: Vec<&str> = kind
        .fields()
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn write_operation(kind: Kind, oidc: bool) -> Value {
    let first = kind.fields()[0];
    let security = if oidc {
        json!([{"pipelineToken": []}, {"oidcToken": []}])
    } else {
        json!([{"pipelineToken": []}])
    };
    json!({
        "post": {
            "tags": ["write"],
            "operationId": format!("record-{}", kind.name()),
            "summary": summary(kind),
            "description": "Applies the linking rules as `spektate record` does. Nothing is written unless the token, the body and every field pass.",
            "security": security,
            "parameters": [
                {"$ref": "#/components/parameters/partition"},
                {"$ref": "#/components/parameters/idempotencyKey"}
            ],
            "requestBody": {
                "required": true,
                "content": {"application/json": {
                    "schema": request_schema(kind),
                    "example": example(kind)
                }}
            },
            "responses": {
                "200": {
                    "description": "Written (or, with a replayed Idempotency-Key, written before: header Idempotent-Replayed: true).",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Written"}}}
                },
                "400": {
                    "description": "A field is missing or cannot be accepted; `field` and `value` name it.",
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Error"},
                        "example": error_example(first.name, "is empty; a value is required", json!(""))
                    }}
                },
                "401": error_response("No token, or one the server does not know; an ID token that is expired, for another audience, of an issuer no rule names, or whose signature does not verify."),
                "403": error_response("The token may not write this partition; an ID token whose claims match no rule for it."),
                "404": error_response("The server does not serve the partition (`field` is `partition`), or the rule found no record to update (a manifest commit of an unknown p3)."),
                "408": error_response("The body did not arrive in time."),
                "413": error_response(&format!("The body is larger than {MAX_BODY_BYTES} bytes.")),
                "422": error_response("The Idempotency-Key was used before for another request."),
                "503": error_response("The store could not be written, or an ID token's issuer keys fetched, just now; retry after Retry-After.")
            }
        }
    })
}

fn get_operation(tag: &str, id: &str, summary: &str, security: &Value, content: Value) -> Value {
    json!({"get": {
        "tags": [tag], "operationId": id, "summary": summary, "security": security,
        "responses": {"200": {"description": "OK", "content": content}}
    }})
}

fn asset(id: &str, summary: &str, media: &str, security: &Value) -> Value {
    get_operation("page", id, summary, security, json!({media: {}}))
}

/// Adds the JSON 405 to every operation of `doc`: each route answers a method it does not
/// take with one.
pub(crate) fn method_not_allowed(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for op in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|methods| methods.values_mut())
    {
        op["responses"]["405"] = error_response(
            "The path does not take this method; the Allow header lists the methods it takes.",
        );
    }
}

/// The document, for a server whose viewers sign in as `viewers` says, with the write API
/// when `writes`, which takes OIDC ID tokens too when `oidc`.
pub fn document(viewers: &ViewerAuth, writes: bool, oidc: bool) -> Value {
    let viewer_security = match viewers {
        ViewerAuth::None => json!([]),
        ViewerAuth::Token => json!([{"viewerToken": []}]),
        ViewerAuth::Header(_) => json!([{"proxyHeader": []}]),
    };
    let public = json!([]);
    let mut paths = Map::new();
    let mut add = |path: &str, op: Value| {
        paths.insert(path.to_string(), op);
    };
    add(
        "/",
        asset("page", "The dashboard page", "text/html", &viewer_security),
    );
    add(
        "/index.html",
        asset(
            "page-index",
            "The dashboard page",
            "text/html",
            &viewer_security,
        ),
    );
    add(
        "/assets/app.js",
        asset(
            "page-script",
            "The page's script",
            "text/javascript",
            &viewer_security,
        ),
    );
    add(
        "/assets/app.css",
        asset(
            "page-style",
            "The page's style sheet",
            "text/css",
            &viewer_security,
        ),
    );
    add(
        "/assets/favicon.svg",
        asset(
            "page-icon",
            "The page's icon",
            "image/svg+xml",
            &viewer_security,
        ),
    );
    add(
        "/favicon.ico",
        asset(
            "favicon",
            "The page's icon",
            "image/svg+xml",
            &viewer_security,
        ),
    );
    let mut deployments = get_operation(
        "read",
        "list-deployments",
        "Deployments as JSON, filtered as spektate get filters them",
        &viewer_security,
        json!({"application/json": {"schema": {"type": "object", "required": ["partition", "partitions", "total", "deployments"]}}}),
    );
    let params: Vec<Value> = [
        ("service", "Service, shown or stored name; repeat for any of several."),
        ("ring", "Ring (also `env`); repeat for any of several."),
        ("author", "A part of the author's name, e-mail or login, or in double quotes (\"Al\") the whole of one; repeat for any of several."),
        ("imageTag", "Image tag (also `image-tag`)."),
        ("runId", "A p1, p2 or p3 run id (also `build-id`)."),
        ("commit", "A source, HLD or manifest commit, 7+ character prefix."),
        ("deploymentId", "The deployment id."),
        ("kind", "deployment or manual-hld-edit (also `type`); repeat for both."),
        ("status", "complete, in-progress, failed, canceled or incomplete."),
        ("keyword", "A word in any shown field."),
        ("top", "Only the newest N that match."),
        ("includeExpired", "true: also deployments whose runs the CI no longer has (shown from what the store kept, `expired: true`); default false."),
        ("limit", "At most N in the answer (1 to 10000, default 200)."),
        ("sort", "service, ring, author, mergedBy or lastUpdated; default newest first."),
        ("order", "asc (default) or desc, for sort."),
        ("partition", "Which partition, on a server of several (`spektate serve -p a -p b`); default the first."),
    ]
    .into_iter()
    .map(|(name, about)| json!({"name": name, "in": "query", "required": false, "description": about, "schema": {"type": "string"}}))
    .collect();
    deployments["get"]["parameters"] = Value::Array(params);
    for repeatable in ["service", "ring", "author", "kind"] {
        if let Some(p) = deployments["get"]["parameters"]
            .as_array_mut()
            .and_then(|ps| ps.iter_mut().find(|p| p["name"] == repeatable))
        {
            p["schema"] = json!({"type": "array", "items": {"type": "string"}, "maxItems": crate::api::MAX_VALUES});
            p["style"] = json!("form");
            p["explode"] = json!(true);
        }
    }
    deployments["get"]["responses"]["400"] =
        error_response("A parameter is unknown, repeated or does not parse.");
    deployments["get"]["responses"]["403"] =
        error_response("The viewer's read token may not read this partition.");
    deployments["get"]["responses"]["404"] =
        error_response("The server does not serve this partition; the error names it.");
    deployments["get"]["responses"]["503"] = error_response("The deployments are not read yet.");
    add("/api/deployments", deployments);
    for (path, op) in crate::status::operations(&viewer_security) {
        add(path, op);
    }
    for (path, op) in crate::insights::operations(&viewer_security) {
        add(path, op);
    }
    for (path, op) in crate::insights_page::operations(&viewer_security) {
        add(path, op);
    }
    for (path, op) in crate::journey::operations(&viewer_security) {
        add(path, op);
    }
    let mut health = get_operation(
        "probe",
        "health",
        "Liveness, and whether the data is fresh and complete; details only for viewers",
        &public,
        json!({"application/json": {"schema": {"type": "object", "required": ["status", "version"]}}}),
    );
    health["get"]["responses"]["503"] = json!({"description": "No refresh has worked yet."});
    add("/api/health", health);
    let mut ready = get_operation(
        "probe",
        "ready",
        "Readiness: the store answers",
        &public,
        json!({"application/json": {"schema": {"type": "object", "required": ["status"]}}}),
    );
    ready["get"]["responses"]["503"] = json!({"description": "The store does not answer."});
    add("/api/ready", ready);
    add(
        "/api/openapi.json",
        get_operation(
            "probe",
            "openapi",
            "This document",
            &public,
            json!({"application/json": {}}),
        ),
    );
    add(
        "/metrics",
        get_operation(
            "probe",
            "metrics",
            "Metrics in the Prometheus text format",
            &public,
            json!({"text/plain": {}}),
        ),
    );
    if writes {
        for kind in Kind::ALL {
            add(kind.path(), write_operation(kind, oidc));
        }
    }
    let proxy_header = match viewers {
        ViewerAuth::Header(names) => names
            .first()
            .map_or("X-Forwarded-User", |n| n.as_str())
            .to_string(),
        _ => "X-Forwarded-User".to_string(),
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Spektate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Where is my container? The dashboard's read API and the write API pipelines record to."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "pipelineToken": {"type": "http", "scheme": "bearer", "description": "A token with scope write for the partition (spektate token create)."},
                "viewerToken": {"type": "http", "scheme": "bearer", "description": "A token with scope read for the partition (--auth token)."},
                "oidcToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An OIDC ID token of GitHub Actions or Azure Pipelines (RS256 or ES256) whose issuer, audience and claims match a rule of the server (--oidc-rule) for the partition."},
                "proxyHeader": {"type": "apiKey", "in": "header", "name": proxy_header, "description": "Set by the authenticating proxy in front (--auth header)."}
            },
            "parameters": {
                "partition": {"name": "partition", "in": "query", "required": false, "description": "The partition written, one the server serves; default its first --partition-key.", "schema": {"type": "string"}},
                "idempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": false, "description": "1 to 255 visible ASCII characters; a retried request with the same key and body gets the first answer and writes nothing again.", "schema": {"type": "string", "maxLength": 255}}
            },
            "schemas": {
                "Written": {"type": "object", "required": ["id", "partition", "kind"], "properties": {
                    "id": {"type": "string", "description": "The record's row key (deployment id), the run id, or the cluster."},
                    "partition": {"type": "string"},
                    "kind": {"type": "string", "enum": Kind::ALL.map(|k| k.name())}
                }},
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string", "description": "What went wrong, in one sentence."},
                    "kind": {"type": "string", "description": "ConfigError, AuthError, NotFoundError, StoreError or ConflictError."},
                    "field": {"type": "string", "description": "The field, parameter or header refused."},
                    "reason": {"type": "string"},
                    "value": {"description": "The value refused, as sent."}
                }}
            }
        }
    })
}
