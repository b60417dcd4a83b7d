//! Batched GraphQL lookups: up to a hundred commits, pull requests or tag objects of one
//! repository, or jobs of any repositories, in one query, each under an alias (`c0`, `p0`,
//! `t0`, `j0`, ...), values passed as variables so nothing is spliced into the query text.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use spektate_core::warnings::{self, Notice, Reason, Subject};
use spektate_core::{Error, RepoRef, Result};

use crate::client::{GitHub, GraphQlResponse};

/// Objects per query (GitHub's node limit allows more; a hundred keeps each query cheap).
pub(crate) const BATCH: usize = 100;

/// What one batch asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Commits by expression (full or abbreviated SHA): author and commit page.
    Commits,
    /// Pull requests by number.
    Pulls,
    /// Annotated tag objects by SHA: target and tagger.
    Tags,
    /// Jobs by their page (`https://HOST/{owner}/{repo}/runs/{job id}`): the check run a job
    /// is, found with `resource(url:)` on the query root, so one query spans repositories.
    Jobs,
}

impl Lookup {
    /// Every kind, in declaration order: [`Self::next`] walked from the first.
    pub(crate) fn all() -> impl Iterator<Item = Lookup> {
        std::iter::successors(Some(Lookup::Commits), |kind| kind.next())
    }

    /// The kind declared after this one. The match is exhaustive, so a new kind cannot be
    /// added without taking its place in [`Self::all`].
    fn next(self) -> Option<Lookup> {
        match self {
            Lookup::Commits => Some(Lookup::Pulls),
            Lookup::Pulls => Some(Lookup::Tags),
            Lookup::Tags => Some(Lookup::Jobs),
            Lookup::Jobs => None,
        }
    }

    fn alias(self) -> char {
        match self {
            Lookup::Commits => 'c',
            Lookup::Pulls => 'p',
            Lookup::Tags => 't',
            Lookup::Jobs => 'j',
        }
    }

    fn variable_type(self) -> &'static str {
        match self {
            Lookup::Commits => "String!",
            Lookup::Pulls => "Int!",
            Lookup::Tags => "GitObjectID!",
            Lookup::Jobs => "URI!",
        }
    }

    fn field(self, var: &str) -> String {
        match self {
            Lookup::Commits => format!("object(expression: ${var}) {{ ...commit }}"),
            Lookup::Pulls => format!("pullRequest(number: ${var}) {{ ...pull }}"),
            Lookup::Tags => format!("object(oid: ${var}) {{ ...tag }}"),
            Lookup::Jobs => format!("resource(url: ${var}) {{ ...job }}"),
        }
    }

    /// Whether the objects are looked up in one repository (else on the query root).
    fn in_repository(self) -> bool {
        self != Lookup::Jobs
    }

    fn fragment(self) -> &'static str {
        match self {
            Lookup::Commits => {
                "fragment commit on GitObject { ... on Commit { oid url committedDate author { name email avatarUrl user { login url avatarUrl } } } }"
            }
            Lookup::Pulls => {
                "fragment pull on PullRequest { number title body url state merged mergedAt closedAt headRefName baseRefName \
                 mergedBy { login url avatarUrl ... on User { name email } } }"
            }
            Lookup::Tags => {
                "fragment tag on GitObject { ... on Tag { oid name tagger { name email date } target { oid __typename } } }"
            }
            Lookup::Jobs => {
                "fragment job on UniformResourceLocatable { ... on CheckRun { databaseId name status conclusion startedAt completedAt url \
                 checkSuite { branch { name } commit { oid } workflowRun { workflow { name } } } } }"
            }
        }
    }

    /// What a warning about these objects calls them; jobs have no subject of their own.
    fn subject(self) -> Option<Subject> {
        match self {
            Lookup::Commits => Some(Subject::Author),
            Lookup::Pulls => Some(Subject::PullRequest),
            Lookup::Tags => Some(Subject::TagObject),
            Lookup::Jobs => None,
        }
    }

    fn operation(self) -> &'static str {
        match self {
            Lookup::Commits => "get commit authors",
            Lookup::Pulls => "get pull requests",
            Lookup::Tags => "get tag objects",
            Lookup::Jobs => "get jobs",
        }
    }
}

/// The query text and variables for `values` of `repo` (`None` for [`Lookup::Jobs`], which
/// are looked up on the query root).
pub(crate) fn query(kind: Lookup, repo: Option<&RepoRef>, values: &[Value]) -> (String, Value) {
    let a = kind.alias();
    let mut decls = Vec::new();
    let mut fields = Vec::with_capacity(values.len());
    let mut vars = Map::new();
    let repo = repo.filter(|_| kind.in_repository());
    if let Some(repo) = repo {
        decls.extend(["$owner: String!".to_string(), "$name: String!".to_string()]);
        vars.insert("owner".into(), json!(repo.owner));
        vars.insert("name".into(), json!(repo.name));
    }
    for (i, v) in values.iter().enumerate() {
        let var = format!("{a}{i}");
        decls.push(format!("${var}: {}", kind.variable_type()));
        fields.push(format!("{var}: {}", kind.field(&var)));
        vars.insert(var, v.clone());
    }
    let fields = fields.join(" ");
    let selection = match repo {
        Some(_) => format!("repository(owner: $owner, name: $name) {{ {fields} }}"),
        None => fields,
    };
    let text = format!(
        "query({}) {{ {selection} }} {}",
        decls.join(", "),
        kind.fragment()
    );
    (text, Value::Object(vars))
}

/// Why a batch did not answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Do not fall back to REST: the answer would be the same (rate limit, bad token,
    /// unreadable repository).
    Final(Error),
    /// GraphQL could not answer; REST may.
    Fallback(String),
}

/// What one batch answered.
#[derive(Debug, Default)]
pub(crate) struct Answered {
    /// The object under each index, `Value::Null` for those that do not exist or failed.
    pub objects: Vec<Value>,
    /// Indices GraphQL refused (`FORBIDDEN`, as for an organization enforcing SAML), with
    /// the error: REST would be refused the same, so they are reported, not asked again.
    pub refused: Vec<(usize, String)>,
    /// Indices whose field failed otherwise, with the error: REST may answer them.
    pub failed: Vec<(usize, String)>,
}

/// Runs one batch. An error on one alias's path fails that object only (the GraphQL spec
/// nulls just the field); the others keep their answers.
pub(crate) async fn batch(
    gh: &GitHub,
    kind: Lookup,
    repo: Option<&RepoRef>,
    values: &[Value],
) -> std::result::Result<Answered, Failure> {
    let (text, vars) = query(kind, repo, values);
    let object = match repo {
        Some(repo) => format!("{} ({} objects)", repo.key(), values.len()),
        None => format!("{} objects", values.len()),
    };
    // A GitHub App's token is per owner: the repository's, or that of the job pages (one
    // owner per batch, see `jobs::batch`).
    let owner = match repo {
        Some(r) => Some((r.owner.clone(), r.name.clone())),
        None => values.first().and_then(Value::as_str).and_then(page_owner),
    };
    let answer = match gh
        .graphql(&text, vars, kind.operation(), &object, owner)
        .await
    {
        Ok(a) => a,
        Err(e) => return Err(classify_http(e)),
    };
    read(gh, kind, repo, values.len(), answer, &object)
}

/// The (owner, name) of a page URL `https://HOST/{owner}/{name}/...`.
pub(crate) fn page_owner(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://")?.1;
    let mut parts = rest.split('/').skip(1).filter(|s| !s.is_empty());
    Some((parts.next()?.to_string(), parts.next()?.to_string()))
}

fn classify_http(e: Error) -> Failure {
    let message = match &e {
        // The cause alone: the provider and objects are said by whoever reports it.
        Error::Provider { message, .. } => message.clone(),
        other => other.to_string(),
    };
    match &e {
        Error::Provider { auth: true, .. } => Failure::Final(e),
        _ if message.to_ascii_lowercase().contains("rate limit") => Failure::Final(e),
        _ => Failure::Fallback(message),
    }
}

/// The index of the alias an error's `path` runs through (`["repository", "p7", ...]`, or
/// `["j3", ...]` on the query root), if it is one of the `n` asked.
fn alias_index(kind: Lookup, n: usize, path: &[Value]) -> Option<usize> {
    let mut path = path.iter().map(Value::as_str);
    if kind.in_repository() && path.next()?? != "repository" {
        return None;
    }
    let alias = path.next()??;
    let i: usize = alias.strip_prefix(kind.alias())?.parse().ok()?;
    (i < n && alias == format!("{}{i}", kind.alias())).then_some(i)
}

pub(crate) fn read(
    gh: &GitHub,
    kind: Lookup,
    repo: Option<&RepoRef>,
    n: usize,
    answer: GraphQlResponse,
    object: &str,
) -> std::result::Result<Answered, Failure> {
    let final_err =
        |m: String| Failure::Final(Error::provider(gh.label(), kind.operation(), object, m));
    let mut out = Answered::default();
    // An error on no alias of a batch that still has data: the aliases left null may be its.
    let mut unplaced = None;
    for e in &answer.errors {
        let kind_word = e.kind.as_deref().unwrap_or_default();
        let on_repo = e.path.len() == 1 && e.path[0] == "repository";
        let alias = alias_index(kind, n, &e.path);
        let why = || format!("GraphQL error {kind_word}: {}", e.message);
        match (kind_word, alias) {
            ("RATE_LIMITED", _) => {
                return Err(final_err(format!("GraphQL rate limit: {}", e.message)));
            }
            ("NOT_FOUND", _) if on_repo => {
                return Err(final_err(format!(
                    "repository {} was not found, or the token cannot read it",
                    repo.map(RepoRef::key).unwrap_or_default()
                )));
            }
            // An alias that names nothing (an unknown pull request number) is just missing.
            ("NOT_FOUND", _) => {}
            ("FORBIDDEN", Some(i)) => out.refused.push((i, e.message.clone())),
            (_, Some(i)) => out.failed.push((i, why())),
            (_, None) => {
                unplaced.get_or_insert_with(why);
            }
        }
    }
    let scope = if kind.in_repository() {
        answer.data.as_ref().and_then(|d| d.get("repository"))
    } else {
        answer.data.as_ref()
    };
    let Some(Value::Object(found)) = scope else {
        let why = unplaced
            .or_else(|| out.failed.first().map(|(_, why)| why.clone()))
            .unwrap_or_else(|| "GraphQL answered without data".to_string());
        return Err(Failure::Fallback(why));
    };
    let a = kind.alias();
    out.objects = (0..n)
        .map(|i| {
            found
                .get(&format!("{a}{i}"))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect();
    for (i, _) in out.refused.iter().chain(&out.failed) {
        out.objects[*i] = Value::Null;
    }
    if let Some(why) = unplaced {
        let placed: std::collections::HashSet<usize> = out
            .refused
            .iter()
            .chain(&out.failed)
            .map(|(i, _)| *i)
            .collect();
        for (i, obj) in out.objects.iter().enumerate() {
            if obj.is_null() && !placed.contains(&i) {
                out.failed.push((i, why.clone()));
            }
        }
    }
    out.refused.sort_unstable();
    out.refused.dedup_by_key(|(i, _)| *i);
    out.failed.sort_unstable();
    out.failed.dedup_by_key(|(i, _)| *i);
    out.failed
        .retain(|(i, _)| out.refused.binary_search_by_key(i, |(r, _)| *r).is_err());
    Ok(out)
}

/// Reports `count` objects of `kind` as `why`: one [`Notice`] where the kind has a subject.
fn report(gh: &GitHub, kind: Lookup, count: usize, why: &str) {
    match kind.subject() {
        Some(subject) => warnings::notice(Notice {
            subject,
            count,
            reason: Reason::new(&gh.label(), why),
        }),
        None => tracing::warn!("{}: {count} {}: {why}", gh.label(), kind.operation()),
    }
}

/// Reports `errors` (index and error) grouped by error, each group as `say(error)`.
fn report_each(
    gh: &GitHub,
    kind: Lookup,
    errors: &[(usize, String)],
    say: impl Fn(&str) -> String,
) {
    let mut groups: Vec<(&str, usize)> = Vec::new();
    for (_, e) in errors {
        match groups.iter_mut().find(|(g, _)| g == e) {
            Some((_, count)) => *count += 1,
            None => groups.push((e, 1)),
        }
    }
    for (e, count) in groups {
        report(gh, kind, count, &say(e));
    }
}

/// Splits `items` into batches of [`BATCH`] and runs each; the objects found, by item.
/// The items of a batch that GraphQL could not answer, and those whose field alone failed,
/// come back in `fallback` for REST, reported as a [`Notice`] (one request per object
/// follows); items GraphQL refused are reported and left out.
pub(crate) async fn lookup_all<K: Clone + Eq + std::hash::Hash>(
    gh: &GitHub,
    kind: Lookup,
    repo: Option<&RepoRef>,
    items: &[(K, Value)],
) -> Result<(HashMap<K, Value>, Vec<K>)> {
    let mut found = HashMap::new();
    let mut fallback = Vec::new();
    let chunks: Vec<&[(K, Value)]> = items.chunks(BATCH).collect();
    let runs = chunks.iter().map(|chunk| {
        let values: Vec<Value> = chunk.iter().map(|(_, v)| v.clone()).collect();
        async move { batch(gh, kind, repo, &values).await }
    });
    let rest_why = |why: &str| format!("GraphQL failed ({why}); asked one at a time over REST");
    for (chunk, got) in chunks.iter().zip(futures::future::join_all(runs).await) {
        match got {
            Ok(answered) => {
                for ((key, _), obj) in chunk.iter().zip(answered.objects) {
                    if !obj.is_null() {
                        found.insert(key.clone(), obj);
                    }
                }
                report_each(gh, kind, &answered.refused, |e| {
                    format!("GraphQL refused access ({e})")
                });
                report_each(gh, kind, &answered.failed, rest_why);
                fallback.extend(answered.failed.iter().map(|(i, _)| chunk[*i].0.clone()));
            }
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Fallback(why)) => {
                report(gh, kind, chunk.len(), &rest_why(&why));
                fallback.extend(chunk.iter().map(|(k, _)| k.clone()));
            }
        }
    }
    Ok((found, fallback))
}

/// Looks ids (commits, tag objects) of `repo` up: in GraphQL batches when there are several,
/// then over REST, one request each, for a single id and for whatever GraphQL could not
/// answer. `from_graphql` reads a GraphQL object; `rest` fetches one id (`None`: not found).
pub(crate) async fn batch_then_rest<T, F, Fut>(
    gh: &GitHub,
    kind: Lookup,
    repo: &RepoRef,
    ids: &[String],
    from_graphql: fn(&Value) -> Option<T>,
    rest: F,
) -> Result<HashMap<String, T>>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let mut out = HashMap::new();
    let mut singles = ids.to_vec();
    if gh.has_graphql() && ids.len() > 1 {
        let items: Vec<(String, Value)> = ids
            .iter()
            .map(|id| (id.clone(), json!(id.trim())))
            .collect();
        let (found, fallback) = lookup_all(gh, kind, Some(repo), &items).await?;
        for (id, obj) in found {
            if let Some(v) = from_graphql(&obj) {
                out.insert(id, v);
            }
        }
        singles = fallback;
    }
    let fetches = singles
        .iter()
        .map(|id| async { (id.clone(), rest(id.clone()).await) });
    for (id, got) in futures::future::join_all(fetches).await {
        if let Some(v) = got? {
            out.insert(id, v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spektate_core::http::{Policy, Secret};
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[test]
    fn every_kind_is_walked_once_in_order_with_an_alias_of_its_own() {
        let all: Vec<Lookup> = Lookup::all().collect();
        assert_eq!(
            all,
            [Lookup::Commits, Lookup::Pulls, Lookup::Tags, Lookup::Jobs]
        );
        let aliases: std::collections::HashSet<char> = all.iter().map(|k| k.alias()).collect();
        assert_eq!(aliases.len(), all.len());
    }

    #[tokio::test]
    async fn a_fallback_to_rest_is_one_notice_with_the_number_of_objects() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/graphql"))
            .respond_with(ResponseTemplate::new(502))
            .mount(&server)
            .await;
        let commit = std::fs::read_to_string(format!(
            "{}/tests/fixtures/author-response.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        Mock::given(method("GET"))
            .and(path_regex(
                "^/api/v3/repos/fabrikam/frontend/commits/[0-9a-f]+$",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_string(commit))
            .mount(&server)
            .await;
        let gh = GitHub::builder()
            .api_url(format!("{}/api/v3", server.uri()))
            .graphql_url(format!("{}/api/graphql", server.uri()))
            .token(Secret::new("t"))
            .policy(Policy {
                max_retries: 0,
                ..Policy::default()
            })
            .build()
            .unwrap();
        let repo = RepoRef::parse(&format!("{}/fabrikam/frontend", server.uri())).unwrap();
        let shas: Vec<String> = (0..250).map(|i| format!("{i:040x}")).collect();

        let (found, notices) =
            warnings::collect_notices(crate::commits::authors(&gh, &repo, &shas)).await;
        assert_eq!(found.unwrap().len(), 250, "REST answered for every commit");
        let lines: Vec<String> = notices.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [format!(
                "{}: author of 250 commits: GraphQL failed (HTTP 502); asked one at a time over REST",
                gh.label()
            )]
        );
    }

    #[test]
    fn values_travel_as_variables_under_aliases() {
        let repo = RepoRef::parse("https://github.com/fabrikam/hld").unwrap();
        let (text, vars) = query(Lookup::Pulls, Some(&repo), &[json!(7), json!(8)]);
        assert!(
            text.starts_with("query($owner: String!, $name: String!, $p0: Int!, $p1: Int!)"),
            "{text}"
        );
        assert!(
            text.contains("p0: pullRequest(number: $p0) { ...pull }"),
            "{text}"
        );
        assert!(text.contains("p1: pullRequest(number: $p1)"), "{text}");
        assert_eq!(
            vars,
            json!({"owner": "fabrikam", "name": "hld", "p0": 7, "p1": 8})
        );
        let (text, vars) = query(Lookup::Commits, Some(&repo), &[json!("abc\" } evil")]);
        assert!(!text.contains("evil"), "values never enter the query text");
        assert_eq!(vars["c0"], "abc\" } evil");
        let page = "https://github.com/fabrikam/hld/runs/1115488431";
        let (text, vars) = query(Lookup::Jobs, Some(&repo), &[json!(page)]);
        assert!(
            text.starts_with("query($j0: URI!) { j0: resource(url: $j0) { ...job } }"),
            "jobs are looked up on the query root: {text}"
        );
        assert_eq!(vars, json!({"j0": page}));
    }
}
