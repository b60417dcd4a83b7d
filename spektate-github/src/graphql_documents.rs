//! Every GraphQL document the provider sends, built by the code that sends it, with variables
//! of the kinds it passes: for the check against GitHub's published schema
//! (`tests/specs/github-graphql.test.mjs`). Not part of the API.

use serde_json::{Value, json};
use spektate_core::RepoRef;

use crate::graphql::{self, Lookup};

/// One GraphQL document as the provider would post it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// What the document asks for (`commits`, `pulls`, `tags`, `jobs`, `history`).
    pub name: &'static str,
    /// The query text.
    pub query: String,
    /// The variables sent with it.
    pub variables: Value,
}

/// The name and two values of the kind the provider passes for `kind`; the match is
/// exhaustive, so a new kind cannot be added without saying what it sends.
fn sample(kind: Lookup) -> (&'static str, [Value; 2]) {
    match kind {
        // Full and abbreviated SHAs, as recorded.
        Lookup::Commits => (
            "commits",
            [
                json!("57cb69b0594e45b5f3e2d5e505b42f5412349f76"),
                json!("7d57f93"),
            ],
        ),
        Lookup::Pulls => ("pulls", [json!(7), json!(12)]),
        Lookup::Tags => (
            "tags",
            [
                json!("1d1ea2bd6d7e2b8e8c0e5a2cbd1d8e07f3c3f0a1"),
                json!("9f2c1e0b7a6d5c4b3a29181716151413121110ff"),
            ],
        ),
        Lookup::Jobs => (
            "jobs",
            [
                json!("https://github.com/fabrikam/frontend/runs/1115488431"),
                json!("https://github.com/fabrikam/frontend/runs/1115488432"),
            ],
        ),
    }
}

/// Every GraphQL document the crate can send: each batched lookup and the default-branch
/// histories, built by the same functions the providers call.
pub fn graphql_documents() -> Vec<Document> {
    let hld = RepoRef::parse("https://github.com/fabrikam/hld").expect("a GitHub URL");
    let manifests = RepoRef::parse("https://github.com/fabrikam/manifests").expect("a GitHub URL");
    // Every batched lookup, each of two objects so aliases are exercised.
    let mut out: Vec<Document> = Lookup::all()
        .map(|kind| {
            let (name, values) = sample(kind);
            let (query, variables) = graphql::query(kind, Some(&hld), &values);
            Document {
                name,
                query,
                variables,
            }
        })
        .collect();
    let (query, variables) = crate::history::query(&[&hld, &manifests]);
    out.push(Document {
        name: "history",
        query,
        variables,
    });
    out
}

/// [`graphql_documents`] as JSON: `[{"name", "query", "variables"}]`.
pub fn graphql_documents_json() -> Value {
    Value::Array(
        graphql_documents()
            .into_iter()
            .map(|d| json!({"name": d.name, "query": d.query, "variables": d.variables}))
            .collect(),
    )
}
