//! A template's YAML as both runners read it: scalars, truthiness, known keys, `${{ }}` spans.

use serde_norway::Value;

pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        other => !text(other).is_empty(),
    }
}

pub fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).map(|s| {
        s.as_str()
            .unwrap_or_else(|| panic!("{key} is not a string: {s:?}"))
    })
}

/// Fails on a key (of a step, its inputs, the template) the runners here give no meaning to.
pub fn only_keys(map: &Value, allowed: &[&str]) {
    for key in map.as_mapping().expect("a mapping").keys() {
        let key = text(key);
        assert!(
            allowed.contains(&key.as_str()),
            "key {key} is not run by this test: {map:?}"
        );
    }
}

/// Replaces each `${{ expr }}` in `text` by `eval(expr)`.
pub fn interpolate(text: &str, eval: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed ${{{{ in {text}"));
        out.push_str(&rest[..start]);
        out.push_str(&eval(rest[start + 3..start + end].trim()));
        rest = &rest[start + end + 2..];
    }
    out + rest
}
