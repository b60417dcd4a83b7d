//! Every parser of a provider's answers (Azure DevOps, GitHub, GitLab, Azure Table entities,
//! pages and kept answers, an OpenTelemetry collector's answers, the `Retry-After` header,
//! repository URLs) never panics, whatever comes back.
//!
//! The fuzz targets in `fuzz/` search for such inputs for hours on nightly; this smoke test
//! runs the same feeds (`fuzz/fuzz_targets/common.rs`) on stable in a few seconds: a few
//! thousand deterministic pseudo-random mutations of the seed corpus (captured answers, or
//! answers in the shape the services document) per parser — flipped bytes, truncations,
//! values replaced by huge numbers, wrong types, deep nesting and long strings, splices, and
//! plain noise.

#[path = "../fuzz/fuzz_targets/common.rs"]
mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use serde_json::{Value, json};

/// Mutated inputs fed to each parser (each value of a target's first byte).
const PER_PARSER: usize = 2_000;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A committed seed of a fuzz target (`fuzz/corpus/<target>/seed-*`), its JSON parsed once.
struct Seed {
    /// The first byte: which parser.
    pick: u8,
    body: Vec<u8>,
    /// Bytes before the JSON (GraphQL's kind and size), and the JSON when it parses.
    head: usize,
    json: Option<Value>,
}

fn seeds(target: &str) -> Vec<Seed> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"))
        })
        .collect();
    files.sort();
    let out: Vec<Seed> = files
        .iter()
        .map(|p| std::fs::read(p).expect("a seed"))
        .filter_map(|s| {
            let (&pick, body) = s.split_first()?;
            let head = body
                .iter()
                .position(|&b| b == b'{' || b == b'[')
                .unwrap_or(0);
            Some(Seed {
                pick,
                body: body.to_vec(),
                head,
                json: serde_json::from_slice(&body[head..]).ok(),
            })
        })
        .collect();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Strings parsers have trouble with: dates at and past the ends of the calendar, numbers
/// as text, prefixes the parsers strip, multi-byte and control characters, URL pieces.
const NASTY: &[&str] = &[
    "",
    " ",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59Z",
    "+262143-12-31T23:59:59Z",
    "-262144-01-01T00:00:00Z",
    "2020-02-30T25:61:61Z",
    "1970-01-01T00:00:00.9999999999999Z",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Thu, 01 Jan 1970 00:00:00 -9959",
    "18446744073709551616",
    "-1",
    "1e400",
    "NaN",
    "refs/tags/flux-",
    "refs/tags/",
    "run:",
    "job:0",
    "#",
    "datetime'",
    "W/\"datetime'%E0%A4%A'\"",
    "🦀ß\u{0}\u{7f}\u{fffd}",
    "://",
    "@",
    "git@:",
    "https://@/",
    "ssh://x@y:22",
    "https://h/_git/",
    "https://h/a/_git/b",
    "v3",
    "%20",
    ".git",
    "completed",
    "Stage",
    "tag",
    "Tag",
    "abandoned",
];

/// A value that is not what a parser expects: huge or negative numbers, wrong types, deep
/// nesting, long strings.
fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => json!(u64::MAX),
        1 => json!(i64::MIN),
        2 => json!(f64::MAX),
        3 => json!(-0.5),
        4 => json!(*rng.pick(NASTY)),
        5 => {
            let unit = *rng.pick(&["a", "é", "🦀", "/", "@", "%20", "0"]);
            json!(unit.repeat(1 + rng.below(5_000)))
        }
        6 => {
            // Around serde_json's nesting limit of 128, on both sides.
            let mut v = json!(null);
            for _ in 0..100 + rng.below(60) {
                // Not `json!([v])`: that would serialize `v` again at every level.
                v = if rng.below(2) == 0 {
                    Value::Array(vec![v])
                } else {
                    Value::Object([("value".to_string(), v)].into_iter().collect())
                };
            }
            v
        }
        7 => rng
            .pick(&[
                json!(null),
                json!(true),
                json!([]),
                json!({}),
                json!([1, "x"]),
            ])
            .clone(),
        _ => json!({ "id": rng.next(), "name": *rng.pick(NASTY), "value": [] }),
    }
}

/// Replaces a random node of `v` (walking down at most `depth` levels) with a hostile
/// value, or sets one of an object's fields to a nasty string.
fn mutate_value(node: &mut Value, depth: usize, rng: &mut Rng) {
    if depth > 0 {
        match node {
            Value::Array(a) if !a.is_empty() => {
                let i = rng.below(a.len());
                return mutate_value(&mut a[i], depth - 1, rng);
            }
            Value::Object(o) if !o.is_empty() => {
                let i = rng.below(o.len());
                let child = o.values_mut().nth(i).expect("an index below the length");
                return mutate_value(child, depth - 1, rng);
            }
            _ => {}
        }
    }
    match node {
        Value::Object(o) if !o.is_empty() && rng.below(3) == 0 => {
            let i = rng.below(o.len());
            let key = o.keys().nth(i).cloned().expect("an index below the length");
            o.insert(key, json!(*rng.pick(NASTY)));
        }
        _ => *node = hostile_value(rng),
    }
}

/// One mutated input for parser `pick`: one of its seeds with values replaced at the JSON
/// level, then bytes flipped, cut, spliced with another seed or nasty strings, or noise.
fn mutate(seeds: &[Seed], pick: u8, rng: &mut Rng) -> Vec<u8> {
    let same: Vec<&Seed> = seeds.iter().filter(|s| s.pick == pick).collect();
    let seed = if same.is_empty() {
        rng.pick(seeds)
    } else {
        same[rng.below(same.len())]
    };
    let mut body = match &seed.json {
        Some(v) if rng.below(2) == 0 => {
            let mut v = v.clone();
            for _ in 0..1 + rng.below(4) {
                mutate_value(&mut v, rng.below(8), rng);
            }
            let mut out = seed.body[..seed.head].to_vec();
            out.extend(serde_json::to_vec(&v).expect("a value serializes"));
            out
        }
        _ => seed.body.clone(),
    };
    for _ in 0..rng.below(3) {
        match rng.below(6) {
            0 | 1 => {
                for _ in 0..1 + rng.below(8) {
                    if !body.is_empty() {
                        let i = rng.below(body.len());
                        body[i] ^= 1 << rng.below(8);
                    }
                }
            }
            2 => body.truncate(rng.below(body.len() + 1)),
            3 => {
                let other = &rng.pick(seeds).body;
                let (a, b) = (rng.below(body.len() + 1), rng.below(other.len() + 1));
                body.truncate(a);
                body.extend_from_slice(&other[b..]);
            }
            4 => {
                let at = rng.below(body.len() + 1);
                let nasty = rng.pick(NASTY).as_bytes().to_vec();
                body.splice(at..at, nasty);
            }
            _ => {
                body = (0..rng.below(64))
                    .map(|_| match rng.below(3) {
                        0 => *rng.pick(b"{}[]\",:0123456789.eE-+ntfrue\\/@:#?%"),
                        _ => rng.next() as u8,
                    })
                    .collect();
            }
        }
    }
    let mut input = vec![pick];
    input.extend(body);
    input
}

/// Feeds `parse` every seed, then `PER_PARSER` mutations for each of its `parsers`.
fn never_panics(target: &str, parsers: u8, parse: fn(&[u8])) {
    let seeds = seeds(target);
    let mut rng = Rng(0x5EED_0000 ^ (target.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let feed = |input: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| parse(input))).is_err() {
            let shown: String = String::from_utf8_lossy(input).chars().take(2_000).collect();
            panic!(
                "{target} panicked on input {shown:?} (first byte {:?})",
                input.first()
            );
        }
    };
    feed(&[]);
    for seed in &seeds {
        feed(&[&[seed.pick][..], &seed.body].concat());
    }
    for pick in 0..parsers {
        for _ in 0..PER_PARSER {
            feed(&mutate(&seeds, pick, &mut rng));
        }
    }
}

#[test]
fn azure_devops_answers_never_panic() {
    never_panics("azdo_payloads", common::AZDO_PARSERS, common::azdo_payloads);
}

#[test]
fn github_answers_never_panic() {
    never_panics(
        "github_payloads",
        common::GITHUB_PARSERS,
        common::github_payloads,
    );
}

#[test]
fn gitlab_answers_never_panic() {
    never_panics(
        "gitlab_payloads",
        common::GITLAB_PARSERS,
        common::gitlab_payloads,
    );
}

#[test]
fn table_entities_never_panic() {
    never_panics("table_entity", common::TABLE_PARSERS, common::table_entity);
}

#[test]
fn collector_answers_never_panic() {
    never_panics("otlp_answers", common::OTLP_PARSERS, common::otlp_answers);
}

#[test]
fn retry_after_headers_never_panic() {
    never_panics("http_headers", common::HEADER_PARSERS, common::http_headers);
}

#[test]
fn repository_urls_never_panic() {
    never_panics("repo_url", common::URL_PARSERS, common::repo_url);
}

/// The body of the seed `name` of `target`, without its first byte.
fn seed_body(target: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
        .join(format!("seed-{name}"));
    let seed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    seed[1..].to_vec()
}

/// The seeds of the newer parsers are answers those parsers read in full, so mutations of
/// them reach past the first checks.
#[test]
fn seeds_are_read_as_real_answers() {
    use spektate_azdo::fuzzing as azdo;
    use spektate_core::insights::otlp_proto::decode_partial_success;
    use spektate_gitlab::fuzzing as gitlab;

    let run = gitlab::pipeline(&seed_body("gitlab_payloads", "pipeline-1"))
        .expect("a pipeline")
        .expect("a run");
    assert_eq!(
        run.source_commit.as_deref(),
        Some("de399bc427cec3e0ddf67c8f59f4f0a7fc36893b")
    );
    let (jobs, stages) = gitlab::jobs(&seed_body("gitlab_payloads", "jobs")).expect("jobs");
    let names: Vec<String> = stages
        .expect("stages")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        (jobs, names),
        (4, vec!["build".into(), "hld".into(), "deploy".into()])
    );
    let (tags, syncs) = gitlab::sync_tags(&seed_body("gitlab_payloads", "tags")).expect("tags");
    assert!(
        tags > 0 && syncs.iter().any(|s| s.cluster == "east-us"),
        "{syncs:?}"
    );
    let (prs, authors) =
        gitlab::graphql(&seed_body("gitlab_payloads", "graphql-commits")[1..], 2).expect("data");
    assert_eq!((prs.len(), authors.len()), (0, 1));
    let (prs, _) = gitlab::graphql(
        &seed_body("gitlab_payloads", "graphql-merge-requests")[1..],
        1,
    )
    .expect("data");
    assert!(prs[0].merged && prs[0].merged_by.is_some(), "{prs:?}");
    let (listed, ids) = gitlab::history(&seed_body("gitlab_payloads", "history")).expect("commits");
    assert_eq!((listed, ids.len()), (2, 2));

    let rows = azdo::record_page(&seed_body("table_entity", "stream-page")).expect("a page");
    let p1: Vec<_> = rows.iter().flatten().map(|(_, r)| r.p1.clone()).collect();
    assert_eq!(p1, [Some("7176".to_string()), Some("7177".to_string())]);
    let answers = azdo::answer_page(&seed_body("table_entity", "answers-page")).expect("a page");
    assert_eq!(answers.len(), 3);
    for (key, answer) in answers.into_iter().map(|a| a.expect("a key")) {
        assert_eq!(answer.expect("an answer").key(), key);
    }
    let (_, one) = azdo::answer_entity(&seed_body("table_entity", "answer-entity"))
        .expect("an entity")
        .expect("a key");
    assert_eq!(one.expect("an answer").fact.kind(), "author");
    for (name, kind) in [
        ("fact-author", "author"),
        ("fact-pull-request", "pullRequest"),
        ("fact-build", "build"),
        ("fact-stages", "stages"),
        ("fact-tag-object", "tagObject"),
    ] {
        let body = seed_body("table_entity", name);
        let key = spektate_core::cache::AnswerKey {
            namespace: "n".into(),
            kind: kind.into(),
            id: "1".into(),
        };
        let value = std::str::from_utf8(&body[1..]).expect("text");
        spektate_core::cache::Answer::from_stored(key, value)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    let p = decode_partial_success(&seed_body("otlp_answers", "partial-success")).expect("decoded");
    assert_eq!(p.rejected_spans, 2);
    assert_eq!(p.error_message, "2 spans rejected: timestamp too old");
}
