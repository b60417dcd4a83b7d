//! Which OIDC ID tokens may write which partitions: rules of issuer, audience and claims.
//!
//! A rule reads, as a flag (`--oidc-rule`) or as one object of a rules file:
//!
//! ```text
//! issuer=https://token.actions.githubusercontent.com,audience=https://spektate.fabrikam.com,repository=fabrikam/*,partitions=fabrikam
//! ```
//!
//! ```json
//! {"rules": [{"issuer": "https://token.actions.githubusercontent.com",
//!             "audience": "https://spektate.fabrikam.com",
//!             "repository": "fabrikam/*", "ref": "refs/heads/main",
//!             "partitions": ["fabrikam"]}]}
//! ```
//!
//! - `issuer` (the `iss` claim, exactly) and `audience` (one of the `aud` values, exactly) are
//!   required; an issuer is `https://`, or `http://` on a loopback address (a local issuer).
//! - `partitions` (`;` between several in a flag, a list in a file; or `partition=` repeated)
//!   are what a matching token may write. OIDC tokens only ever write.
//! - Claim conditions, each a pattern where `*` stands for any run of characters: `repository`,
//!   `repository_owner`, `repository_id`, `repository_owner_id`, `ref`, `environment`,
//!   `workflow_ref`, `job_workflow_ref`, `event_name` (GitHub Actions' claims), `sub`, `project`
//!   (Azure Pipelines: the project of a `sub` like `sc://org/project/connection` or
//!   `p://org/project/pipeline`), and `claim.NAME` for any other string claim. Every condition
//!   of a rule must hold. `repository`, `repository_owner`, `project` and `environment` are
//!   compared ignoring ASCII case, as GitHub and Azure DevOps compare those names.
//! - A rule names who may write: at least one of `repository`, `repository_owner`,
//!   `repository_id`, `repository_owner_id`, `sub` or `project`, not starting with `*`. GitHub's
//!   issuer signs tokens for every repository on GitHub, so a rule without one would let any
//!   of them in.

use std::fmt;

use serde_json::{Map, Value};

use crate::Error;

/// The claims a rule may name directly, besides `claim.NAME`.
const CLAIMS: &[&str] = &[
    "repository",
    "repository_owner",
    "repository_id",
    "repository_owner_id",
    "ref",
    "environment",
    "workflow_ref",
    "job_workflow_ref",
    "event_name",
    "sub",
    "project",
];

/// The conditions that say whose pipelines a rule lets in.
const IDENTITY: &[&str] = &[
    "repository",
    "repository_owner",
    "repository_id",
    "repository_owner_id",
    "sub",
    "project",
];

/// Names compared ignoring ASCII case.
const CASELESS: &[&str] = &["repository", "repository_owner", "project", "environment"];

/// One condition on a claim: its name (`repository`, `claim.actor` as `actor`) and pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The claim (`project` is read from `sub`).
    pub claim: String,
    /// The pattern; `*` is any run of characters.
    pub pattern: String,
}

impl Condition {
    fn holds(&self, claims: &Map<String, Value>) -> bool {
        let value = if self.claim == "project" {
            claims
                .get("sub")
                .and_then(Value::as_str)
                .and_then(azure_project)
                .map(str::to_string)
        } else {
            match claims.get(&self.claim) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::Bool(b)) => Some(b.to_string()),
                _ => None,
            }
        };
        let Some(value) = value else {
            return false;
        };
        if CASELESS.contains(&self.claim.as_str()) {
            glob(
                &self.pattern.to_ascii_lowercase(),
                &value.to_ascii_lowercase(),
            )
        } else {
            glob(&self.pattern, &value)
        }
    }
}

/// The project of an Azure Pipelines subject: `sc://org/project/connection` or
/// `p://org/project/pipeline`.
pub(crate) fn azure_project(sub: &str) -> Option<&str> {
    let rest = sub
        .strip_prefix("sc://")
        .or_else(|| sub.strip_prefix("p://"))?;
    let mut parts = rest.splitn(3, '/');
    let _org = parts.next()?;
    let project = parts.next()?;
    (!project.is_empty() && parts.next().is_some()).then_some(project)
}

/// Whether `value` matches `pattern`, where `*` is any run of characters (none included).
pub(crate) fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// One rule: tokens of `issuer` for `audience` whose claims meet every condition may write
/// `partitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcRule {
    /// The `iss` claim, exactly.
    pub issuer: String,
    /// One of the `aud` values, exactly.
    pub audience: String,
    /// What a matching token may write.
    pub partitions: Vec<String>,
    /// What its claims must be.
    pub conditions: Vec<Condition>,
}

impl fmt::Display for OidcRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "issuer={},audience={}", self.issuer, self.audience)?;
        for c in &self.conditions {
            let key = if CLAIMS.contains(&c.claim.as_str()) {
                c.claim.clone()
            } else {
                format!("claim.{}", c.claim)
            };
            write!(f, ",{key}={}", c.pattern)?;
        }
        write!(f, ",partitions={}", self.partitions.join(";"))
    }
}

/// A rule being read, key by key.
#[derive(Default)]
struct Builder {
    issuer: Option<String>,
    audience: Option<String>,
    partitions: Vec<String>,
    conditions: Vec<Condition>,
}

fn invalid(reason: impl fmt::Display) -> Error {
    Error::invalid("OIDC rule", reason)
}

impl Builder {
    fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let key = key.trim();
        let value = value.trim();
        if value.is_empty() {
            return Err(invalid(format!("{key} is empty")));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid(format!("{key} holds a control character")));
        }
        match key {
            "issuer" => once(&mut self.issuer, key, value),
            "audience" => once(&mut self.audience, key, value),
            "partition" => {
                self.partitions.push(value.to_string());
                Ok(())
            }
            "partitions" => {
                for p in value.split(';') {
                    let p = p.trim();
                    if p.is_empty() {
                        return Err(invalid("partitions holds an empty partition"));
                    }
                    self.partitions.push(p.to_string());
                }
                Ok(())
            }
            "subject" => self.condition("sub", value),
            _ if CLAIMS.contains(&key) => self.condition(key, value),
            _ => match key.strip_prefix("claim.") {
                Some(name) if !name.is_empty() => self.condition(name, value),
                _ => Err(invalid(format!(
                    "'{key}' is not one of issuer, audience, partitions, {}, claim.NAME",
                    CLAIMS.join(", ")
                ))),
            },
        }
    }

    fn condition(&mut self, claim: &str, pattern: &str) -> Result<(), Error> {
        if self.conditions.iter().any(|c| c.claim == claim) {
            return Err(invalid(format!("{claim} is given twice")));
        }
        self.conditions.push(Condition {
            claim: claim.to_string(),
            pattern: pattern.to_string(),
        });
        Ok(())
    }

    fn build(self) -> Result<OidcRule, Error> {
        let issuer = self
            .issuer
            .ok_or_else(|| invalid("issuer is required (the iss claim of the tokens)"))?;
        check_issuer(&issuer)?;
        let audience = self
            .audience
            .ok_or_else(|| invalid("audience is required (the aud the tokens are made for)"))?;
        if self.partitions.is_empty() {
            return Err(invalid(
                "partitions is required (what the tokens may write)",
            ));
        }
        let named = self
            .conditions
            .iter()
            .any(|c| IDENTITY.contains(&c.claim.as_str()) && !c.pattern.starts_with('*'));
        if !named {
            return Err(invalid(format!(
                "the rule for {issuer} names no one: give repository, repository_owner, \
                 repository_id, repository_owner_id, sub or project, not starting with *; \
                 an issuer such as GitHub's signs tokens for every repository"
            )));
        }
        let mut partitions = self.partitions;
        partitions.dedup();
        Ok(OidcRule {
            issuer,
            audience,
            partitions,
            conditions: self.conditions,
        })
    }
}

fn once(slot: &mut Option<String>, key: &str, value: &str) -> Result<(), Error> {
    if slot.replace(value.to_string()).is_some() {
        return Err(invalid(format!("{key} is given twice")));
    }
    Ok(())
}

/// An issuer is an `https://` URL, or `http://` on a loopback address; no query or fragment.
fn check_issuer(issuer: &str) -> Result<(), Error> {
    let lower = issuer.to_ascii_lowercase();
    let host_and_path = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        let host = if rest.starts_with('[') {
            rest.split(']').next().map_or("", |h| &h[1..])
        } else {
            host
        };
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return Err(invalid(format!(
                "issuer {issuer} is not https:// (plain http:// only on a loopback address)"
            )));
        }
        rest
    } else {
        return Err(invalid(format!("issuer {issuer} is not an https:// URL")));
    };
    if host_and_path.is_empty()
        || host_and_path.starts_with('/')
        || issuer.contains(['?', '#', '@', ' '])
    {
        return Err(invalid(format!(
            "issuer {issuer} is not a URL of a host, without user info, query or fragment"
        )));
    }
    Ok(())
}

impl OidcRule {
    /// Parses a rule flag: `key=value` pairs between commas.
    pub fn parse(flag: &str) -> Result<OidcRule, Error> {
        let mut b = Builder::default();
        for pair in flag.split(',').filter(|p| !p.trim().is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| invalid(format!("'{}' is not key=value", pair.trim())))?;
            b.set(key, value)?;
        }
        b.build()
    }

    /// Reads a rule from one object of a rules file: the keys of the flag; `partitions` a list.
    fn from_json(value: &Value) -> Result<OidcRule, Error> {
        let object = value
            .as_object()
            .ok_or_else(|| invalid("a rule is not a JSON object"))?;
        let mut b = Builder::default();
        for (key, value) in object {
            match value {
                Value::String(s) => b.set(key, s)?,
                Value::Array(items) if key == "partitions" => {
                    for item in items {
                        let p = item
                            .as_str()
                            .ok_or_else(|| invalid("partitions holds a value that is not text"))?;
                        b.set("partition", p)?;
                    }
                }
                _ => {
                    return Err(invalid(format!(
                        "{key} is not text{}",
                        if key == "partitions" {
                            " or a list of text"
                        } else {
                            ""
                        }
                    )));
                }
            }
        }
        b.build()
    }

    /// Whether the token's `aud` (text or list) holds this rule's audience.
    pub fn accepts_audience(&self, claims: &Map<String, Value>) -> bool {
        match claims.get("aud") {
            Some(Value::String(s)) => *s == self.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        }
    }

    /// Whether verified claims of this rule's issuer meet its audience and every condition.
    pub fn matches(&self, claims: &Map<String, Value>) -> bool {
        claims.get("iss").and_then(Value::as_str) == Some(self.issuer.as_str())
            && self.accepts_audience(claims)
            && self.conditions.iter().all(|c| c.holds(claims))
    }
}

/// The rules a server checks ID tokens against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcRules {
    /// The rules, in the order given.
    pub rules: Vec<OidcRule>,
}

impl OidcRules {
    /// Reads a rules file: `{"rules": [{...}, ...]}`.
    pub fn load(path: &std::path::Path) -> Result<OidcRules, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(
                "OIDC rules file",
                format!("{} cannot be read: {e}", path.display()),
            )
        })?;
        Self::from_json_text(&text).map_err(|e| match e {
            Error::Invalid { reason, .. } => {
                Error::invalid("OIDC rules file", format!("{}: {reason}", path.display()))
            }
            other => other,
        })
    }

    /// Parses the text of a rules file.
    pub fn from_json_text(text: &str) -> Result<OidcRules, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| invalid(format!("not a JSON rules file: {e}")))?;
        let list = value
            .get("rules")
            .and_then(Value::as_array)
            .filter(|_| value.as_object().is_some_and(|o| o.len() == 1))
            .ok_or_else(|| invalid("a rules file is {\"rules\": [...]} and nothing else"))?;
        let rules = list
            .iter()
            .enumerate()
            .map(|(i, r)| {
                OidcRule::from_json(r).map_err(|e| match e {
                    Error::Invalid { reason, .. } => invalid(format!("rule {}: {reason}", i + 1)),
                    other => other,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OidcRules { rules })
    }

    /// Adds rules.
    pub fn extend(&mut self, more: impl IntoIterator<Item = OidcRule>) {
        self.rules.extend(more);
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The issuers named, each once, in order.
    pub fn issuers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rules {
            if !out.contains(&r.issuer) {
                out.push(r.issuer.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const GH: &str = "https://token.actions.githubusercontent.com";

    #[test]
    fn a_flag_reads_as_a_rule_and_prints_back() {
        let flag = format!(
            "issuer={GH},audience=https://spektate.fabrikam.com,repository=fabrikam/*,ref=refs/heads/main,partitions=fabrikam;contoso"
        );
        let rule = OidcRule::parse(&flag).unwrap();
        assert_eq!(rule.issuer, GH);
        assert_eq!(rule.partitions, ["fabrikam", "contoso"]);
        assert_eq!(rule.to_string(), flag);
        assert_eq!(OidcRule::parse(&rule.to_string()).unwrap(), rule);
    }

    #[test]
    fn github_claims_match_by_repository_ref_and_audience() {
        let rule = OidcRule::parse(&format!(
            "issuer={GH},audience=spektate,repository=Fabrikam/*,ref=refs/heads/main,partition=fabrikam"
        ))
        .unwrap();
        let good = json!({"iss": GH, "aud": "spektate", "repository": "fabrikam/frontend",
            "repository_owner": "fabrikam", "ref": "refs/heads/main", "sub": "repo:fabrikam/frontend:ref:refs/heads/main"});
        assert!(rule.matches(&claims(good.clone())));
        let mut other_repo = good.clone();
        other_repo["repository"] = json!("contoso/frontend");
        assert!(!rule.matches(&claims(other_repo)));
        let mut other_ref = good.clone();
        other_ref["ref"] = json!("refs/heads/feature");
        assert!(!rule.matches(&claims(other_ref)));
        let mut other_aud = good.clone();
        other_aud["aud"] = json!(["x", "y"]);
        assert!(!rule.matches(&claims(other_aud)));
        let mut listed_aud = good.clone();
        listed_aud["aud"] = json!(["x", "spektate"]);
        assert!(rule.matches(&claims(listed_aud)));
        let mut no_ref = good;
        no_ref.as_object_mut().unwrap().remove("ref");
        assert!(
            !rule.matches(&claims(no_ref)),
            "a missing claim never matches"
        );
    }

    #[test]
    fn azure_pipelines_claims_match_by_project_from_the_subject() {
        let iss = "https://vstoken.dev.azure.com/2b5a3d4e-0000-4000-8000-000000000001";
        let rule = OidcRule::parse(&format!(
            "issuer={iss},audience=api://AzureADTokenExchange,project=hello-bedrock,partitions=hello-bedrock"
        ))
        .unwrap();
        for sub in [
            "sc://fabrikam/Hello-Bedrock/spektate",
            "p://fabrikam/hello-bedrock/frontend-ci",
        ] {
            let c = json!({"iss": iss, "aud": "api://AzureADTokenExchange", "sub": sub});
            assert!(rule.matches(&claims(c)), "{sub}");
        }
        for sub in [
            "sc://fabrikam/other/spektate",
            "fabrikam/hello-bedrock/x",
            "sc://fabrikam/hello-bedrock",
        ] {
            let c = json!({"iss": iss, "aud": "api://AzureADTokenExchange", "sub": sub});
            assert!(!rule.matches(&claims(c)), "{sub}");
        }
    }

    #[test]
    fn rules_that_name_no_one_or_trust_plain_http_are_refused() {
        for (flag, why) in [
            (
                format!("issuer={GH},audience=a,partitions=p"),
                "names no one",
            ),
            (
                format!("issuer={GH},audience=a,ref=refs/heads/main,partitions=p"),
                "names no one",
            ),
            (
                format!("issuer={GH},audience=a,repository=*/frontend,partitions=p"),
                "names no one",
            ),
            (
                "issuer=http://issuer.example.com,audience=a,repository=f/x,partitions=p".into(),
                "not https",
            ),
            (
                format!("issuer={GH},repository=f/x,partitions=p"),
                "audience is required",
            ),
            (
                format!("issuer={GH},audience=a,repository=f/x"),
                "partitions is required",
            ),
            (
                format!("issuer={GH},audience=a,repo=f/x,partitions=p"),
                "'repo' is not one of",
            ),
            (
                format!("issuer={GH}?x=1,audience=a,repository=f/x,partitions=p"),
                "without user info",
            ),
        ] {
            let e = OidcRule::parse(&flag).unwrap_err().to_string();
            assert!(e.contains(why), "{flag}: {e}");
        }
        assert!(
            OidcRule::parse("issuer=http://127.0.0.1:8080,audience=a,sub=x,partitions=p").is_ok()
        );
    }

    #[test]
    fn a_rules_file_reads_as_the_flags_do() {
        let text = json!({"rules": [
            {"issuer": GH, "audience": "spektate", "repository_owner": "fabrikam", "partitions": ["fabrikam", "contoso"]},
            {"issuer": GH, "audience": "spektate", "claim.repository_visibility": "private", "repository": "contoso/*", "partitions": ["contoso"]}
        ]})
        .to_string();
        let rules = OidcRules::from_json_text(&text).unwrap();
        assert_eq!(rules.rules.len(), 2);
        assert_eq!(rules.rules[1].conditions[0].claim, "repository_visibility");
        assert_eq!(rules.issuers(), [GH]);
        let e = OidcRules::from_json_text(&json!({"rules": [{"issuer": GH}]}).to_string())
            .unwrap_err()
            .to_string();
        assert!(e.contains("rule 1: audience is required"), "{e}");
        assert!(OidcRules::from_json_text("[]").is_err());
    }

    #[test]
    fn stars_match_any_run_of_characters() {
        assert!(glob("fabrikam/*", "fabrikam/frontend"));
        assert!(glob("refs/heads/release/*", "refs/heads/release/1.2"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "a-b-b-c"));
        assert!(!glob("fabrikam/*", "fabrikam2/frontend"));
        assert!(!glob("fabrikam/frontend", "fabrikam/frontend2"));
        assert!(!glob("a*c", "a-b"));
    }
}
