//! The GraphQL documents the provider sends: each declares exactly the variables it uses and
//! is sent with exactly those. With `SPEKTATE_SPECS_OUT=DIR` the documents are also written
//! to `DIR/github-graphql-documents.json`, which `tests/specs/run.sh` validates against
//! GitHub's published schema (`@octokit/graphql-schema`).

use std::collections::BTreeSet;

use spektate_github::graphql_documents::{graphql_documents, graphql_documents_json};

/// The `$name`s in `text`.
fn variables_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices('$') {
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        out.insert(name);
    }
    out
}

#[test]
fn every_document_declares_what_it_uses_and_sends_what_it_declares_and_is_written_when_asked() {
    let docs = graphql_documents();
    let names: Vec<&str> = docs.iter().map(|d| d.name).collect();
    assert_eq!(names, ["commits", "pulls", "tags", "jobs", "history"]);
    for d in &docs {
        let (head, body) = d
            .query
            .split_once(") {")
            .unwrap_or_else(|| panic!("{}: no variable declarations: {}", d.name, d.query));
        let declared = variables_in(head);
        let used = variables_in(body);
        assert!(!declared.is_empty(), "{}: {}", d.name, d.query);
        assert_eq!(declared, used, "{}: {}", d.name, d.query);
        let sent: BTreeSet<String> = d
            .variables
            .as_object()
            .unwrap_or_else(|| panic!("{}: variables are not an object", d.name))
            .keys()
            .cloned()
            .collect();
        assert_eq!(sent, declared, "{}: {}", d.name, d.query);
    }
    let jobs = &docs[3];
    assert!(
        !jobs.query.contains("repository("),
        "jobs are looked up on the query root: {}",
        jobs.query
    );
    if let Some(dir) = std::env::var_os("SPEKTATE_SPECS_OUT") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("github-graphql-documents.json");
        let text = serde_json::to_string_pretty(&graphql_documents_json()).unwrap();
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}
