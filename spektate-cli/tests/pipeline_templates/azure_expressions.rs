//! Azure template expressions: evaluated, `${{ if }}`/`${{ each }}` expanded, steps compiled.

use serde_norway::{Mapping, Value};

use crate::template_values::{interpolate, only_keys, str_at, text, truthy};

/// An Azure Pipelines expression: `'literals'`, names (resolved by `name`), and the functions
/// the template uses: `and`, `ne` (ignoring case) and `succeeded()` (`status`, at run time).
struct AzureExpr<'a> {
    text: &'a str,
    chars: Vec<char>,
    at: usize,
    name: &'a dyn Fn(&str) -> Value,
    status: Option<bool>,
}

pub fn az_eval(text: &str, name: &dyn Fn(&str) -> Value, status: Option<bool>) -> Value {
    let mut e = AzureExpr {
        text,
        chars: text.chars().collect(),
        at: 0,
        name,
        status,
    };
    let v = e.value();
    e.space();
    assert_eq!(
        e.at,
        e.chars.len(),
        "expression `{text}` is not evaluated by this test"
    );
    v
}

impl AzureExpr<'_> {
    fn space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.space();
        let found = self.chars.get(self.at) == Some(&c);
        self.at += usize::from(found);
        found
    }

    fn value(&mut self) -> Value {
        if self.eat('\'') {
            let mut s = String::new();
            loop {
                let c = *self.chars.get(self.at).expect("unclosed quote");
                self.at += 1;
                if c != '\'' {
                    s.push(c);
                } else if self.chars.get(self.at) == Some(&'\'') {
                    self.at += 1;
                    s.push(c);
                } else {
                    return Value::String(s);
                }
            }
        }
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at].iter().collect();
        assert!(
            !word.is_empty(),
            "expression `{}` is not evaluated by this test",
            self.text
        );
        if !self.eat('(') {
            return (self.name)(&word);
        }
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                args.push(self.value());
                if self.eat(')') {
                    break;
                }
                assert!(self.eat(','), "expression `{}`", self.text);
            }
        }
        match (word.as_str(), args.as_slice()) {
            ("and", [_, _, ..]) => Value::Bool(args.iter().all(truthy)),
            ("ne", [a, b]) => Value::Bool(!text(a).eq_ignore_ascii_case(&text(b))),
            ("succeeded", []) => Value::Bool(self.status.expect("succeeded() is for run time")),
            _ => panic!(
                "{word}() with {} arguments in `{}` is not evaluated by this test",
                args.len(),
                self.text
            ),
        }
    }
}

/// The `if` or `each` of a `${{ if ... }}` / `${{ each ... }}` key.
fn directive(key: &str) -> Option<&str> {
    let inner = key.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim();
    let word = inner.split_whitespace().next()?;
    ["if", "each", "else", "elseif"]
        .contains(&word)
        .then_some(inner)
}

/// A template value with its `${{ }}` expressions evaluated: a string that is one expression
/// takes its value (an object too), `${{ if }}` items are inserted when true and
/// `${{ each pair in ... }}` keys repeated for each pair.
fn expand(v: &Value, name: &dyn Fn(&str) -> Value) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if let Some(inner) = t.strip_prefix("${{").and_then(|t| t.strip_suffix("}}"))
                && !inner.contains("${{")
            {
                return az_eval(inner.trim(), name, None);
            }
            Value::String(interpolate(s, |e| text(&az_eval(e, name, None))))
        }
        Value::Sequence(items) => {
            let mut out = Vec::new();
            for item in items {
                let cond = item.as_mapping().filter(|m| m.len() == 1).and_then(|m| {
                    let (k, body) = m.iter().next()?;
                    Some((directive(k.as_str()?)?.strip_prefix("if ")?, body))
                });
                match cond {
                    Some((cond, body)) => {
                        if truthy(&az_eval(cond, name, None)) {
                            let body = expand(body, name);
                            out.extend(body.as_sequence().expect("a list under if").clone());
                        }
                    }
                    None => out.push(expand(item, name)),
                }
            }
            Value::Sequence(out)
        }
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, body) in m {
                let key = text(k);
                let Some(d) = directive(&key) else {
                    out.insert(expand(k, name), expand(body, name));
                    continue;
                };
                let each: Vec<&str> = d.split_whitespace().collect();
                let ["each", var, "in", collection] = each.as_slice() else {
                    panic!("{key} is not expanded by this test");
                };
                let pairs = az_eval(collection, name, None);
                for (pk, pv) in pairs.as_mapping().expect("each over an object") {
                    let inner =
                        |n: &str| match n.strip_prefix(var).and_then(|r| r.strip_prefix('.')) {
                            Some("key") => pk.clone(),
                            Some("value") => pv.clone(),
                            Some(other) => panic!("{var}.{other}"),
                            None => name(n),
                        };
                    let expanded = expand(body, &inner);
                    out.extend(expanded.as_mapping().expect("each gives keys").clone());
                }
            }
            Value::Mapping(out)
        }
        other => other.clone(),
    }
}

/// The template's steps for these parameters, as Azure compiles them.
pub fn compile(template: &Value, given: &[(&str, Value)]) -> Vec<Value> {
    only_keys(template, &["parameters", "steps"]);
    let mut params = Mapping::new();
    for p in template["parameters"].as_sequence().expect("parameters") {
        let name = str_at(p, "name").unwrap();
        let value = given
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(&p["default"], |(_, v)| v);
        match str_at(p, "type").unwrap() {
            "string" => assert!(value.is_string(), "{name}: a string"),
            "object" => {}
            other => panic!("{name}: type {other} is not checked by this test"),
        }
        params.insert(name.into(), value.clone());
    }
    for (k, _) in given {
        assert!(params.contains_key(*k), "the template has no parameter {k}");
    }
    let name = |n: &str| match n.strip_prefix("parameters.") {
        Some(p) => params
            .get(p)
            .unwrap_or_else(|| panic!("no parameter {p}"))
            .clone(),
        None => panic!("${{{{ {n} }}}} is not evaluated by this test"),
    };
    let steps = expand(&template["steps"], &name);
    steps.as_sequence().expect("steps").clone()
}
