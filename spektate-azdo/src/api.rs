//! What every Azure DevOps call shares: the HTTP client with a PAT, pinned API versions,
//! date parsing, and the sign-in page that stands in for a 401.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use spektate_core::http::{Auth, HttpClient, Policy, Request, Response, Secret};
use spektate_core::model::url::api_base;
use spektate_core::url_encode::query_value;
use spektate_core::{Error, Result};

/// The public Azure DevOps service.
pub const DEFAULT_URL: &str = "https://dev.azure.com";

/// API versions, pinned per endpoint. 6.0 is the newest that Azure DevOps Server 2020 also
/// serves, so one build talks to the cloud and to on-premises collections alike.
pub(crate) mod versions {
    /// Builds - List and Timeline - Get.
    pub const BUILDS: &str = "6.0";
    /// Releases - List (vsrm).
    pub const RELEASES: &str = "6.0";
    /// Git commits, commitsbatch, pull requests and refs.
    pub const GIT: &str = "6.0";
    /// Annotated Tags - Get (a preview API on every version).
    pub const ANNOTATED_TAGS: &str = "6.0-preview.1";
    /// Projects - Get, used to check credentials.
    pub const PROJECTS: &str = "6.0";
}

/// An organisation or collection URL without a trailing slash, checked to be http(s) with
/// no user info ([`api_base`]): the PAT goes in `SPEKTATE_AZDO_TOKEN`, never in a URL that
/// names the provider in errors and metrics.
pub(crate) fn org_url(field: &str, url: &str) -> Result<String> {
    api_base(field, url, "SPEKTATE_AZDO_TOKEN")
}

/// The HTTP client of one Azure DevOps organisation: PAT as basic auth with an empty user.
pub(crate) fn client(provider: &str, token: Option<&Secret>, policy: Policy) -> Result<HttpClient> {
    let auth = match token {
        Some(t) if !t.expose().trim().is_empty() => Auth::Basic {
            user: String::new(),
            secret: t.clone(),
        },
        _ => Auth::None,
    };
    Ok(HttpClient::with_policy(provider, auth, policy)?
        .default_header("accept", "application/json"))
}

/// Sends `req`, turning the sign-in page Azure DevOps serves for a bad PAT (HTTP 203, or
/// an HTML page after a redirect) into the same error as a 401.
pub(crate) async fn send(
    http: &HttpClient,
    req: Request,
    operation: &str,
    object: &str,
) -> Result<Response> {
    let resp = http.send(req).await?;
    let html = resp
        .header("content-type")
        .is_some_and(|c| c.contains("text/html"));
    if resp.status == 203 || ((200..300).contains(&resp.status) && html) {
        return Err(Error::Provider {
            provider: http.provider().to_string(),
            operation: operation.to_string(),
            object: object.to_string(),
            message: format!(
                "the token was rejected (HTTP {}, a sign-in page came back)",
                resp.status
            ),
            auth: true,
        });
    }
    Ok(resp)
}

/// GETs `url` and parses the JSON body.
pub(crate) async fn get_json<T: DeserializeOwned>(
    http: &HttpClient,
    url: &str,
    operation: &str,
    object: &str,
) -> Result<T> {
    send(
        http,
        Request::get(url, operation, object),
        operation,
        object,
    )
    .await?
    .json()
}

/// GETs a list and follows `x-ms-continuationtoken` (sent back as `continuationToken`
/// after `first`) until there is none or `enough` items are kept; more than `max_pages` pages
/// is an error. Each value is handed to `keep` as it is parsed ([`each_value`]) and only what
/// `keep` makes of it is kept, so a page is never held as a tree.
pub(crate) async fn pages<T>(
    http: &HttpClient,
    first: &str,
    max_pages: usize,
    operation: &str,
    object: &str,
    enough: usize,
    mut keep: impl FnMut(Value) -> Option<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut next = first.to_string();
    for _ in 0..max_pages {
        let resp = send(
            http,
            Request::get(&next, operation, object),
            operation,
            object,
        )
        .await?;
        each_value(&resp.body, http, operation, object, |value| {
            out.extend(keep(value));
            out.len() < enough
        })?;
        if out.len() >= enough {
            return Ok(out);
        }
        match continuation_token(&resp) {
            Some(token) if out.len() < enough => {
                next = format!("{first}&continuationToken={}", query_value(token));
            }
            _ => return Ok(out),
        }
    }
    Err(Error::provider(
        http.provider(),
        operation,
        object,
        format!("more than {max_pages} pages"),
    ))
}

/// The continuation token of a list page, `None` when it is the last.
fn continuation_token(resp: &Response) -> Option<&str> {
    resp.header("x-ms-continuationtoken")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A time as Azure DevOps writes it: RFC 3339, or without a zone (then UTC). The
/// `0001-01-01T00:00:00` placeholder of an unset time is `None`.
pub fn parse_time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let s = value?.as_str()?.trim();
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })?;
    (t.timestamp() > 0).then_some(t)
}

/// The items of a list answer (`{"value": [...]}`, or a bare array), at most `cap` of them;
/// the rest are checked for syntax and dropped unread ([`each_value`]).
pub(crate) fn list_values(
    body: &[u8],
    cap: usize,
    http: &HttpClient,
    operation: &str,
    object: &str,
) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    if cap > 0 {
        each_value(body, http, operation, object, |v| {
            out.push(v);
            out.len() < cap
        })?;
    }
    Ok(out)
}

/// Hands each item of a list answer (`{"value": [...]}`, or a bare array) to `each` as it
/// is parsed, one at a time, while `each` asks for more; the items after are checked for
/// syntax and dropped unread.
pub(crate) fn each_value(
    body: &[u8],
    http: &HttpClient,
    operation: &str,
    object: &str,
    each: impl FnMut(Value) -> bool,
) -> Result<()> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde::Deserializer::deserialize_any(&mut de, ListAnswer(each))
        .and_then(|()| de.end())
        .map_err(|e| {
            Error::provider(
                http.provider(),
                operation,
                object,
                format!("malformed response body: {e}"),
            )
        })
}

/// A list answer: an object whose `value` is the list, or the list itself.
struct ListAnswer<F>(F);

impl<'de, F: FnMut(Value) -> bool> serde::de::Visitor<'de> for ListAnswer<F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object with a `value` list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        mut self,
        seq: A,
    ) -> std::result::Result<(), A::Error> {
        items(seq, &mut self.0)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        mut self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        let mut listed = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "value" && !listed {
                map.next_value_seed(Items(&mut self.0))?;
                listed = true;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        if listed {
            Ok(())
        } else {
            Err(serde::de::Error::custom("no `value` list"))
        }
    }
}

/// The list of a [`ListAnswer`].
struct Items<'f, F>(&'f mut F);

impl<'de, F: FnMut(Value) -> bool> serde::de::DeserializeSeed<'de> for Items<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Value) -> bool> serde::de::Visitor<'de> for Items<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a `value` list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> std::result::Result<(), A::Error> {
        items(seq, self.0)
    }
}

/// Each item of `seq` to `each` while it asks for more, the rest skipped.
fn items<'de, A: serde::de::SeqAccess<'de>>(
    mut seq: A,
    each: &mut impl FnMut(Value) -> bool,
) -> std::result::Result<(), A::Error> {
    let mut more = true;
    while more {
        match seq.next_element::<Value>()? {
            Some(v) => more = each(v),
            None => return Ok(()),
        }
    }
    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_with_and_without_zone_and_the_unset_placeholder() {
        let t = parse_time(Some(&json!("2019-10-30T20:58:57.432351Z"))).unwrap();
        assert_eq!(t.to_rfc3339(), "2019-10-30T20:58:57.432351+00:00");
        let naive = parse_time(Some(&json!("2019-10-31T19:17:58"))).unwrap();
        assert_eq!(naive.to_rfc3339(), "2019-10-31T19:17:58+00:00");
        assert_eq!(parse_time(Some(&json!("0001-01-01T00:00:00"))), None);
        assert_eq!(parse_time(Some(&json!("yesterday"))), None);
        assert_eq!(parse_time(None), None);
    }

    #[test]
    fn a_list_answer_is_read_an_item_at_a_time_and_only_as_far_as_wanted() {
        let http = HttpClient::new("azure-devops dev.azure.com/fabrikam", Auth::None).unwrap();
        let list = |body: &str, cap| list_values(body.as_bytes(), cap, &http, "list", "x");
        let items: Vec<String> = (0..250).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
        let page = format!(
            r#"{{"count":250,"value":[{}],"more":{{"a":[1]}}}}"#,
            items.join(",")
        );
        let kept = list(&page, 5).unwrap();
        assert_eq!(kept, (0..5).map(|i| json!({"id": i})).collect::<Vec<_>>());
        assert_eq!(
            list("[1, 2, 3]", 10).unwrap(),
            [json!(1), json!(2), json!(3)]
        );
        assert!(list(r#"{"value": []}"#, 10).unwrap().is_empty());
        // `each` sees only what it asks for.
        let mut seen = 0;
        each_value(page.as_bytes(), &http, "list", "x", |_| {
            seen += 1;
            seen < 7
        })
        .unwrap();
        assert_eq!(seen, 7);
        // What is skipped is still checked, and a page that is no list says so.
        for (bad, says) in [
            (r#"{"value": [1, 2, {"#, "malformed response body"),
            (r#"{"value": [1]} trailing"#, "malformed response body"),
            (r#"{"count": 0}"#, "no `value` list"),
            (r#"{"value": {"id": 1}}"#, "malformed response body"),
            (r#""sign in""#, "a JSON object with a `value` list"),
        ] {
            let e = list(bad, 1).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("list x"), "{bad}: {e}");
        }
    }

    #[test]
    fn org_urls_are_checked() {
        assert_eq!(
            org_url("--azdo-url", " https://dev.azure.com/fabrikam/ ").unwrap(),
            "https://dev.azure.com/fabrikam"
        );
        let e = org_url("--azdo-url", "dev.azure.com/fabrikam")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--azdo-url") && e.contains("'dev.azure.com/fabrikam'"),
            "{e}"
        );
        // A PAT in the URL would name the provider in every error and metric: refused,
        // and not echoed.
        let e = org_url("--azdo-url", "https://me:pat123@tfs.fabrikam.com/tfs")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'https://tfs.fabrikam.com/tfs'")
                && e.contains("SPEKTATE_AZDO_TOKEN")
                && !e.contains("pat123"),
            "{e}"
        );
    }
}
