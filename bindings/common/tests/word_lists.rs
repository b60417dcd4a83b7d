//! The words of the library's enums (serde's names, read by `words::words`) against every
//! place outside Rust that spells them: the Python enums (`_enums.py`) and stubs
//! (`_spektate.pyi`), the Node types (the `ts_type`s in bindings/node/src, which napi writes
//! into `index.d.ts`; the built `index.d.ts` too when `SPEKTATE_NODE_TYPES` names it, as
//! bindings/test.sh does), and the dashboard page (`app.js`, `index.html`). Filters take the
//! JSON words, their `spektate get` spellings and `succeeded` on every surface. The insights'
//! words (DORA bands, journey segments, ETA bases, metrics breakdowns) are compared too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use spektate::insights::{Band, Basis, GroupBy, Segment};
use spektate::{
    DeploymentKind, Outcome, RepoHost, RunKind, RunResult, RunStatus, Status, StepState,
};
use spektate_bindings_common::words::{self, word, words};
use spektate_dashboard::{DeploymentQuery, State};

type Words = BTreeSet<String>;

/// A file of the repository, by its path from the root.
fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn set<S: ToString>(items: impl IntoIterator<Item = S>) -> Words {
    items.into_iter().map(|s| s.to_string()).collect()
}

/// Each enum the bindings expose, by its Python class name, with its words in order.
fn enums() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("Status", words::<Status>()),
        ("StepState", words::<StepState>()),
        ("DeploymentKind", words::<DeploymentKind>()),
        ("RunStatus", words::<RunStatus>()),
        ("RunResult", words::<RunResult>()),
        ("RunKind", words::<RunKind>()),
        ("RepoHost", words::<RepoHost>()),
        ("Outcome", words::<Outcome>()),
        ("Band", words::<Band>()),
        ("Segment", words::<Segment>()),
        ("Basis", basis_words()),
        ("GroupBy", group_by_words()),
    ])
}

/// The words of the ETA's bases, which serialize only. The match is exhaustive: a new basis
/// does not compile until it is listed here too.
fn basis_words() -> Vec<&'static str> {
    let all = [Basis::ServiceRing, Basis::Service, Basis::All];
    for b in all {
        match b {
            Basis::ServiceRing | Basis::Service | Basis::All => {}
        }
    }
    all.iter().map(|b| word(b).leak() as &str).collect()
}

/// The words of the metrics' breakdowns, which serialize only; each one `GroupBy::parse`
/// takes back. Exhaustive like [`basis_words`].
fn group_by_words() -> Vec<&'static str> {
    let all = [GroupBy::Service, GroupBy::Ring, GroupBy::Week];
    for g in all {
        match g {
            GroupBy::Service | GroupBy::Ring | GroupBy::Week => {}
        }
        assert_eq!(GroupBy::parse(&word(&g)).unwrap(), g);
    }
    all.iter().map(|g| word(g).leak() as &str).collect()
}

/// `inProgress` → `in-progress`: how `spektate get` spells a JSON word.
fn kebab(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The words a status filter is documented to take.
fn status_filter_words() -> Words {
    let json = words::<Status>();
    let mut all = set(json.iter().chain(&["succeeded"]));
    all.extend(json.iter().map(|w| kebab(w)));
    all
}

/// The words a kind filter is documented to take.
fn kind_filter_words() -> Words {
    let json = words::<DeploymentKind>();
    set(json
        .iter()
        .map(|w| w.to_string())
        .chain(json.iter().map(|w| kebab(w))))
}

/// The row states of the dashboard's API. The match is exhaustive: a new state does not
/// compile until it is listed here too.
fn dashboard_states() -> Words {
    let all = [
        State::InProgress,
        State::Succeeded,
        State::Failed,
        State::Canceled,
        State::WaitingForApproval,
        State::Incomplete,
    ];
    for s in all {
        match s {
            State::InProgress
            | State::Succeeded
            | State::Failed
            | State::Canceled
            | State::WaitingForApproval
            | State::Incomplete => {}
        }
    }
    all.iter().map(word).collect()
}

/// The quoted words of a text: `'a' | 'b'` or `"a", "b"`.
fn quoted(text: &str, quote: char) -> Words {
    text.split(quote)
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The string of `key = "..."` in a line, if it is there.
fn attr<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(&format!("{key} = \""))? + key.len() + 4..];
    rest.split('"').next()
}

/// `image_tag` → `imageTag`.
fn camel(snake: &str) -> String {
    let mut parts = snake.split('_');
    let first = parts.next().unwrap_or_default().to_string();
    parts.fold(first, |acc, p| {
        let mut c = p.chars();
        acc + &c
            .next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    })
}

/// The literal words of each `#[napi(ts_type = "...")]` field in the Node sources, by
/// `Interface.field` as `index.d.ts` names it.
fn node_source_types() -> BTreeMap<String, Words> {
    let mut out = BTreeMap::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/src");
    let files = std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    for file in files.map(|f| f.unwrap().path()) {
        let (mut js_name, mut interface, mut pending) = (None, String::new(), None);
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let line = line.trim();
            if line.starts_with("#[napi(object") {
                js_name = attr(line, "js_name").map(str::to_string);
            } else if let Some(name) = line.strip_prefix("pub struct ") {
                let name = name.split([' ', '{', '(']).next().unwrap_or_default();
                interface = js_name.take().unwrap_or_else(|| name.to_string());
            } else if let Some(ts) = attr(line, "ts_type") {
                pending = Some(quoted(ts, '\''));
            } else if let (Some(field), Some(_)) = (line.strip_prefix("pub "), &pending) {
                let field = field.split(':').next().unwrap_or_default();
                out.insert(
                    format!("{interface}.{}", camel(field)),
                    pending.take().unwrap(),
                );
            }
        }
    }
    out
}

/// The literal words of each interface field of a built `index.d.ts`.
fn node_declared_types(text: &str) -> BTreeMap<String, Words> {
    let mut out = BTreeMap::new();
    let mut interface = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("export interface ") {
            interface = name.split(' ').next().map(str::to_string);
        } else if line.starts_with('}') {
            interface = None;
        } else if let (Some(i), Some((field, ty))) = (&interface, line.trim().split_once(':')) {
            let literals = quoted(ty, '\'');
            if !line.trim_start().starts_with(['*', '/']) && !literals.is_empty() {
                out.insert(format!("{i}.{}", field.trim_end_matches('?')), literals);
            }
        }
    }
    out
}

/// What each enum-typed field of the Node types must list, and the one literal union that is
/// not an enum.
fn node_expected() -> BTreeMap<String, Words> {
    let e = enums();
    let w = |name: &str| set(&e[name]);
    let mut out = BTreeMap::from([
        ("Deployment.status".to_string(), w("Status")),
        ("Deployment.kind".to_string(), w("DeploymentKind")),
        ("Step.state".to_string(), w("StepState")),
        ("Run.kind".to_string(), w("RunKind")),
        ("Repo.provider".to_string(), w("RepoHost")),
        ("ClusterReport.outcome".to_string(), w("Outcome")),
        ("Filter.status".to_string(), status_filter_words()),
        ("Filter.kind".to_string(), kind_filter_words()),
        ("MetricsOptions.status".to_string(), status_filter_words()),
        ("MetricsOptions.kind".to_string(), kind_filter_words()),
        ("MetricsOptions.by".to_string(), w("GroupBy")),
        ("Metrics.by".to_string(), w("GroupBy")),
        ("EtaStep.segment".to_string(), w("Segment")),
        ("EtaStep.basis".to_string(), w("Basis")),
        ("GitHubOptions.ids".to_string(), set(["run", "job", "auto"])),
        // `spektate::gitlab::TokenKind::from_word`'s words.
        (
            "GitLabOptions.tokenKind".to_string(),
            set(["private", "oauth", "job"]),
        ),
    ]);
    for i in ["Run", "Stage", "RunReport", "RunReportInput"] {
        out.insert(format!("{i}.status"), w("RunStatus"));
        out.insert(format!("{i}.result"), w("RunResult"));
    }
    for i in [
        "DeploymentFrequency",
        "LeadTime",
        "ChangeFailureRate",
        "TimeToRestore",
    ] {
        out.insert(format!("{i}.band"), w("Band"));
    }
    out
}

#[test]
fn the_python_enums_have_the_rust_words_in_order() {
    let mut found: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let text = read("bindings/python/python/spektate/_enums.py");
    let mut class = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("class ") {
            class = rest.strip_suffix("(_Word):");
            found.extend(class.map(|c| (c, Vec::new())));
        } else if let (Some(c), Some((_, value))) = (class, line.trim().split_once(" = \"")) {
            found.get_mut(c).unwrap().push(value.trim_end_matches('"'));
        }
    }
    assert_eq!(found, enums());
}

#[test]
fn the_python_stubs_take_the_enums_from_enums_py_and_list_the_filter_words() {
    let text = read("bindings/python/python/spektate/_spektate.pyi");
    let line = |start: &str| {
        let line = text.lines().find(|l| l.starts_with(start));
        line.unwrap_or_else(|| panic!("the stubs have no line {start}..."))
            .to_string()
    };
    let imported = line("from ._enums import ")["from ._enums import ".len()..].to_string();
    assert_eq!(set(imported.split(", ")), set(enums().keys()));
    for name in enums().keys() {
        assert!(
            !text.contains(&format!("class {name}")),
            "the stubs redefine {name}"
        );
    }
    assert_eq!(
        quoted(&line("StatusWord = Literal["), '"'),
        status_filter_words()
    );
    assert_eq!(
        quoted(&line("KindWord = Literal["), '"'),
        kind_filter_words()
    );
    assert_eq!(
        quoted(&line("ByWord = Literal["), '"'),
        set(group_by_words())
    );
}

#[test]
fn the_node_types_list_the_rust_words() {
    assert_eq!(node_source_types(), node_expected());
    if let Ok(path) = std::env::var("SPEKTATE_NODE_TYPES") {
        let built = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(node_declared_types(&built), node_expected(), "{path}");
    }
}

#[test]
fn every_documented_filter_word_is_accepted_and_every_value_has_one() {
    let statuses: BTreeSet<_> = status_filter_words()
        .iter()
        .map(|w| {
            words::status(w)
                .map(|s| word(&s))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assert_eq!(statuses, set(words::<Status>()));
    let kinds: BTreeSet<_> = kind_filter_words()
        .iter()
        .map(|w| {
            words::kind(w)
                .map(|k| word(&k))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assert_eq!(kinds, set(words::<DeploymentKind>()));
}

#[test]
fn the_dashboard_api_takes_the_filter_words_of_the_bindings() {
    for w in status_filter_words() {
        let q = DeploymentQuery::parse(Some(&format!("status={w}"))).unwrap();
        assert_eq!(q.filter.status, Some(words::status(&w).unwrap()), "{w}");
    }
    for w in kind_filter_words() {
        let q = DeploymentQuery::parse(Some(&format!("kind={w}"))).unwrap();
        assert_eq!(q.filter.kind, Some(words::kind(&w).unwrap()), "{w}");
    }
    // Each state a row shows is a status filter too, but for the open approval (incomplete).
    let rejected: Words = dashboard_states()
        .into_iter()
        .filter(|s| words::status(s).is_err())
        .collect();
    assert_eq!(rejected, set(["waitingForApproval"]));
}

/// The keys of the object literal `const NAME = { ... };` in a script.
fn object_keys(script: &str, name: &str) -> Words {
    let start = script
        .find(&format!("const {name} = {{"))
        .unwrap_or_else(|| panic!("the page has no {name}"));
    let body = &script[start..];
    let body = &body[..body.find("};").unwrap()];
    body.lines()
        .skip(1)
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn the_dashboard_page_knows_every_state_step_and_kind() {
    let script = read("spektate-dashboard/assets/app.js");
    assert_eq!(object_keys(&script, "STATES"), dashboard_states());
    assert_eq!(object_keys(&script, "STEPS"), set(words::<StepState>()));
    let compared: Words = script
        .split("d.kind === '")
        .skip(1)
        .filter_map(|s| s.split('\'').next().map(str::to_string))
        .collect();
    assert!(!compared.is_empty(), "the page compares no kind");
    assert!(
        compared.is_subset(&set(words::<DeploymentKind>())),
        "{compared:?}"
    );

    let page = read("spektate-dashboard/assets/index.html");
    // The type filter: one checkbox per kind.
    let offered: Words = page
        .split("name=\"type\" value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next().map(str::to_string))
        .collect();
    assert!(!offered.is_empty(), "the page offers no type checkbox");
    let kinds: BTreeSet<_> = offered
        .iter()
        .map(|v| {
            words::kind(v)
                .map(|k| word(&k))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assert_eq!(kinds, set(words::<DeploymentKind>()), "{offered:?}");
}
