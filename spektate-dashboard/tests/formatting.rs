//! The page and `spektate get` say "took 3m 12s" and "5 minutes ago" the same way.
//!
//! The API sends `durationSecs` and `lastUpdated` unformatted, so the page has its own
//! `duration` and `ago` (assets/app.js) next to `spektate_core::render::{duration, ago}`.
//! Both are held to one table of cases: the Rust functions directly, the page's functions,
//! cut out of app.js, under `node` (skipped with a note when node is missing, unless `CI` is
//! set). The page also reads the `sort` and `order` words of its URL as the server does.

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use spektate_core::render::{ago, duration};
use spektate_dashboard::{DeploymentQuery, SortColumn};

/// Seconds of a run, and what both say.
const DURATIONS: &[(i64, &str)] = &[
    (-5, "0s"),
    (0, "0s"),
    (9, "9s"),
    (59, "59s"),
    (60, "1m 0s"),
    (61, "1m 1s"),
    (192, "3m 12s"),
    (3599, "59m 59s"),
    (3600, "1h 0m"),
    (3720, "1h 2m"),
    (86_399, "23h 59m"),
    (86_400, "24h 0m"),
    (360_061, "100h 1m"),
];

/// Seconds since the last update, and what both say.
const AGES: &[(i64, &str)] = &[
    (-30, "just now"),
    (0, "just now"),
    (9, "just now"),
    (10, "10 seconds ago"),
    (59, "59 seconds ago"),
    (60, "1 minute ago"),
    (119, "1 minute ago"),
    (120, "2 minutes ago"),
    (3599, "59 minutes ago"),
    (3600, "1 hour ago"),
    (7199, "1 hour ago"),
    (7200, "2 hours ago"),
    (86_399, "23 hours ago"),
    (86_400, "1 day ago"),
    (172_800, "2 days ago"),
    (31_536_000, "365 days ago"),
];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-03-04T05:06:07Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn the_terminal_table_formats_the_cases() {
    for (secs, want) in DURATIONS {
        assert_eq!(duration(*secs), *want, "duration({secs})");
    }
    for (secs, want) in AGES {
        assert_eq!(
            ago(now() - Duration::seconds(*secs), now()),
            *want,
            "ago({secs} s)"
        );
    }
}

/// `function NAME(...) { ... }` of app.js: from its first line to the closing brace at the
/// same indentation.
fn js_function(script: &str, name: &str) -> String {
    let start = script
        .find(&format!("function {name}("))
        .unwrap_or_else(|| panic!("app.js has no function {name}"));
    let line_start = script[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent = &script[line_start..start];
    let end_marker = format!("\n{indent}}}\n");
    let end = start
        + script[start..]
            .find(&end_marker)
            .unwrap_or_else(|| panic!("function {name} has no closing brace"))
        + end_marker.len();
    script[start..end].to_string()
}

/// Runs `program` under node and parses what it writes as JSON; `None` when node is missing
/// and `CI` is not set.
fn node_json(program: &str) -> Option<serde_json::Value> {
    let out = match Command::new("node").arg("-e").arg(program).output() {
        Ok(out) => out,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: node is not available ({e}); the page's functions were not run");
            return None;
        }
        Err(e) => panic!("node is needed to run the page's functions: {e}"),
    };
    assert!(
        out.status.success(),
        "node failed: {}\n{program}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The page's name of a column the server sorts by: its header's `data-sort`.
fn page_column(column: SortColumn) -> &'static str {
    match column {
        SortColumn::Service => "service",
        SortColumn::Ring => "ring",
        SortColumn::Author => "author",
        SortColumn::MergedBy => "mergedBy",
        SortColumn::LastUpdated => "lastUpdated",
    }
}

/// A query string of one `name=value`, the value percent-encoded as a URL carries it.
fn pair(name: &str, value: &str) -> String {
    let value: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{name}={value}")
}

#[test]
fn the_page_reads_sort_and_order_words_as_the_server_does() {
    let script = include_str!("../assets/app.js");
    let page = include_str!("../assets/index.html");
    for column in ["service", "ring", "author", "mergedBy", "lastUpdated"] {
        assert!(
            page.contains(&format!(r#"<th scope="col" data-sort="{column}">"#)),
            "the page has no column {column}"
        );
    }
    let sorts = [
        "service",
        "Service",
        "SERVICE",
        r#"service"]"#,
        r#"service"] button, x[y=""#,
        "ring",
        "env",
        "author",
        "mergedBy",
        "merged-by",
        "merged_by",
        "MERGEDBY",
        "lastUpdated",
        "last-updated",
        "updated",
        "Updated",
        "colour",
        "serv\u{130}ce",
        "\u{17f}ervice",
        "\u{212a}",
        "",
    ];
    let orders = [
        "asc",
        "ASC",
        "desc",
        "DESC",
        "Desc",
        "descending",
        "Ascending",
        "up",
        "",
    ];
    let program = format!(
        "'use strict';\n{column}\n{order}\n\
         process.stdout.write(JSON.stringify({{ sort: {sorts}.map(sortColumn), order: {orders}.map(sortOrder) }}));\n",
        column = js_function(script, "sortColumn"),
        order = js_function(script, "sortOrder"),
        sorts = serde_json::to_string(&sorts).unwrap(),
        orders = serde_json::to_string(&orders).unwrap(),
    );
    let Some(got) = node_json(&program) else {
        return;
    };
    for (i, word) in sorts.iter().enumerate() {
        // The server's column, or none: no sort (an empty word) or a refused one.
        let server = DeploymentQuery::parse(Some(&pair("sort", word)))
            .ok()
            .and_then(|q| q.sort)
            .map(|s| page_column(s.column));
        assert_eq!(got["sort"][i].as_str(), server, "sort={word:?}");
    }
    for (i, word) in orders.iter().enumerate() {
        let raw = format!("sort=service&{}", pair("order", word));
        let server = DeploymentQuery::parse(Some(&raw)).ok().map(|q| {
            if q.sort.unwrap().descending {
                "desc"
            } else {
                "asc"
            }
        });
        assert_eq!(got["order"][i].as_str(), server, "order={word:?}");
    }
}

#[test]
fn the_page_formats_the_same_cases_the_same_way() {
    let script = include_str!("../assets/app.js");
    let (ago_js, duration_js) = (js_function(script, "ago"), js_function(script, "duration"));
    let now_ms = now().timestamp_millis();
    let ages: Vec<String> = AGES
        .iter()
        .map(|(s, _)| (now() - Duration::seconds(*s)).to_rfc3339())
        .collect();
    let durations: Vec<i64> = DURATIONS.iter().map(|(s, _)| *s).collect();
    let program = format!(
        "'use strict';\n\
         let clockSkew = 0;\n\
         Date.now = () => {now_ms};\n\
         {ago_js}\n{duration_js}\n\
         const ages = {ages};\n\
         const durations = {durations};\n\
         process.stdout.write(JSON.stringify({{ ago: ages.map(ago), duration: durations.map(duration) }}));\n",
        ages = serde_json::to_string(&ages).unwrap(),
        durations = serde_json::to_string(&durations).unwrap(),
    );
    let Some(got) = node_json(&program) else {
        return;
    };
    for (i, (secs, want)) in DURATIONS.iter().enumerate() {
        assert_eq!(got["duration"][i], *want, "page duration({secs})");
    }
    for (i, (secs, want)) in AGES.iter().enumerate() {
        assert_eq!(got["ago"][i], *want, "page ago({secs} s)");
    }
}
