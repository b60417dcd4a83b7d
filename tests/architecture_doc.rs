//! docs/ARCHITECTURE.md names code as `path.rs::item` (`join.rs::correlate`,
//! `spektate-core/src/http.rs::HttpClient::attempt`): each path must be a source file of the
//! workspace (a short path the end of exactly one), and each item must be defined in it, so
//! the document cannot name a function, type or constant that was renamed or removed.

use std::path::{Path, PathBuf};

/// The workspace's Rust sources, relative to its root, outside `target/` and `node_modules/`.
fn sources(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out
}

/// The `path.rs::item` names between backticks in `text`.
fn named(text: &str) -> Vec<(String, Vec<String>)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| {
            let (path, items) = code.split_once(".rs::")?;
            let ok = |s: &str, extra: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c))
            };
            let items: Vec<String> = items.split("::").map(str::to_string).collect();
            (ok(path, "/-.") && items.iter().all(|i| ok(i, "")))
                .then(|| (format!("{path}.rs"), items))
        })
        .collect()
}

/// Whether `source` defines `item` (a function, type, trait, constant, static, module,
/// macro, field or enum variant).
fn defines(source: &str, item: &str) -> bool {
    let words = [
        "fn",
        "struct",
        "enum",
        "trait",
        "type",
        "const",
        "static",
        "mod",
        "macro_rules!",
    ];
    source.lines().any(|line| {
        let line = line.trim_start();
        let line = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub(super) "))
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        let line = line.strip_prefix("async ").unwrap_or(line);
        let defined = words.iter().any(|w| {
            line.strip_prefix(w)
                .and_then(|rest| rest.strip_prefix(' '))
                .is_some_and(|rest| {
                    rest.strip_prefix(item).is_some_and(|after| {
                        !after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                    })
                })
        });
        // A field (`name: Type`) or a variant (`Name,` / `Name(..)` / `Name {`).
        let member = line.strip_prefix(item).is_some_and(|after| {
            after.starts_with(':') && !after.starts_with("::")
                || after.starts_with(',')
                || after.starts_with('(')
                || after.starts_with(" {")
        });
        defined || member
    })
}

/// Whether `source` implements something for the type `name` (its methods live there).
fn implements(source: &str, name: &str) -> bool {
    source.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("impl")
            && line
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| word == name)
    })
}

#[test]
fn every_item_the_architecture_document_names_is_defined_where_it_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let files = sources(root);
    let names = named(&doc);
    assert!(
        names.len() > 100,
        "the document names {} items",
        names.len()
    );
    let mut wrong = Vec::new();
    for (path, items) in names {
        let hits: Vec<&PathBuf> = files
            .iter()
            .filter(|f| {
                let f = f.to_string_lossy();
                f == path.as_str() || f.ends_with(&format!("/{path}"))
            })
            .collect();
        // A short path is read in its section's crate: one of the files it may be must hold
        // every item.
        let holds = |file: &&PathBuf| {
            let source = std::fs::read_to_string(root.join(file)).unwrap();
            let (last, types) = items.split_last().unwrap();
            defines(&source, last)
                && types
                    .iter()
                    .all(|t| defines(&source, t) || implements(&source, t))
        };
        if hits.is_empty() {
            wrong.push(format!("{path}: no such file"));
        } else if !hits.iter().any(holds) {
            wrong.push(format!("{path}::{}: not in {hits:?}", items.join("::")));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/ARCHITECTURE.md names:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_finds_what_a_document_names_wrongly() {
    let source = "pub struct Filter {\n    pub top: usize,\n}\nimpl Filter {\n    pub fn apply(&self) {}\n}\npub enum Kind {\n    Build,\n}\n";
    assert!(defines(source, "Filter") && defines(source, "apply") && defines(source, "top"));
    assert!(defines(source, "Build"));
    assert!(!defines(source, "rank") && !defines(source, "app") && !defines(source, "Filt"));
    assert!(implements(source, "Filter") && !implements(source, "Kind"));
    assert_eq!(
        named("see `join.rs::is_lost` and `a b.rs::x`, `spektate-core/src/http.rs::Secret::new`"),
        [
            ("join.rs".to_string(), vec!["is_lost".to_string()]),
            (
                "spektate-core/src/http.rs".to_string(),
                vec!["Secret".to_string(), "new".to_string()]
            ),
        ]
    );
}
