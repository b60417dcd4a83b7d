//! Who is asking: viewers (`--auth token` or `--auth header`) and pipelines (write tokens).
//! Tokens are never logged; only a token's id and name are.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api::json;
use crate::oidc::{self, Oidc};
use crate::tokens::{Scope, TokenEntry, Tokens};

/// The longest viewer name a proxy header may give.
const MAX_VIEWER_CHARS: usize = 200;

/// How viewers (the page and the read API) are let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewerAuth {
    /// Everyone: only for a server on loopback, or an operator who said so.
    None,
    /// `Authorization: Bearer <token>` with a token that may read the partition.
    Token,
    /// A header set by an authenticating proxy in front (oauth2-proxy, App Service
    /// authentication): the first of these names that is present names the viewer. Only safe
    /// when nothing but the proxy can reach the server.
    Header(Vec<HeaderName>),
}

impl ViewerAuth {
    /// The headers oauth2-proxy sets: `X-Forwarded-User`, then `X-Forwarded-Email`.
    pub fn proxy_headers() -> ViewerAuth {
        ViewerAuth::Header(vec![
            HeaderName::from_static("x-forwarded-user"),
            HeaderName::from_static("x-forwarded-email"),
        ])
    }

    /// Whether viewers must say who they are.
    pub fn is_on(&self) -> bool {
        !matches!(self, ViewerAuth::None)
    }
}

/// Which partitions a viewer named by the proxy header may read: `partition=P,user=PATTERN`
/// (`*` any run of characters; compared ignoring case). With no rule, every viewer the proxy
/// lets in reads every partition; with rules, only what some rule grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerRule {
    /// The partition it opens.
    pub partition: String,
    /// The viewers it opens it to, as the proxy's header names them.
    pub user: String,
}

impl ViewerRule {
    /// Parses `partition=P,user=PATTERN`, or says what is wrong, naming `--viewer-rule`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (mut partition, mut user) = (None, None);
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("partition", v)) if !v.is_empty() => partition = Some(v.to_string()),
                Some(("user", v)) if !v.is_empty() => user = Some(v.to_lowercase()),
                _ => {
                    return Err(format!(
                        "--viewer-rule '{text}': '{part}' is not partition=NAME or user=PATTERN"
                    ));
                }
            }
        }
        match (partition, user) {
            (Some(partition), Some(user)) => Ok(ViewerRule { partition, user }),
            _ => Err(format!(
                "--viewer-rule '{text}' needs both partition=NAME and user=PATTERN"
            )),
        }
    }

    fn admits(&self, viewer: &str) -> bool {
        crate::oidc::glob(&self.user, &viewer.to_lowercase())
    }
}

/// Who is asking, as logs and the page show it: a viewer's name, or a token's id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal(pub String);

impl Principal {
    fn of_token(entry: &TokenEntry) -> Principal {
        Principal(format!("token {} ({})", entry.id, entry.name))
    }
}

/// A refusal: 401 (no or unknown credentials) or 403 (not allowed).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) bearer: bool,
}

impl Refusal {
    fn unauthorized(message: impl Into<String>, bearer: bool) -> Self {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
            bearer,
        }
    }

    fn forbidden(message: impl Into<String>) -> Self {
        Refusal {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
            bearer: true,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = json(
            self.status,
            &serde_json::json!({ "error": self.message, "kind": "AuthError" }),
        );
        if self.bearer && self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The token of a request that may do `scope` on `partition`.
pub(crate) fn token(
    tokens: &Tokens,
    headers: &HeaderMap,
    scope: Scope,
    partition: &str,
) -> Result<TokenEntry, Refusal> {
    let Some(presented) = bearer(headers) else {
        return Err(Refusal::unauthorized(
            format!(
                "a token is required: send Authorization: Bearer <token> (spektate token create --scope {})",
                scope.as_str()
            ),
            true,
        ));
    };
    let entry = tokens
        .verify(presented)
        .map_err(|why| Refusal::unauthorized(why, true))?;
    if !entry.scopes.contains(&scope) {
        return Err(Refusal::forbidden(format!(
            "token {} ({}) may not {}",
            entry.id,
            entry.name,
            scope.as_str()
        )));
    }
    if !entry.partitions.iter().any(|p| p == partition) {
        return Err(Refusal::forbidden(format!(
            "token {} ({}) may not {} partition {}",
            entry.id,
            entry.name,
            scope.as_str(),
            spektate_core::text::shown(partition, 100)
        )));
    }
    Ok(entry)
}

/// A pipeline let in to write: who it is, and whose idempotency keys it uses.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    pub(crate) who: Principal,
    pub(crate) owner: String,
}

/// The pipeline of a request that may write `partition`: a write token of the token file,
/// or, with `oidc`, an ID token its rules let in.
pub(crate) async fn writer(
    tokens: &Tokens,
    oidc: Option<&Oidc>,
    headers: &HeaderMap,
    partition: &str,
) -> Result<Writer, Refusal> {
    if let (Some(oidc), Some(presented)) = (oidc, bearer(headers))
        && !presented.starts_with("spk_")
        && oidc::looks_like_jwt(presented)
    {
        return match oidc.check(presented, partition).await {
            Ok(w) => Ok(Writer {
                who: Principal(w.name),
                owner: w.owner,
            }),
            Err(r) => Err(Refusal {
                status: r.status,
                message: r.message,
                bearer: true,
            }),
        };
    }
    let entry = token(tokens, headers, Scope::Write, partition)?;
    Ok(Writer {
        who: Principal::of_token(&entry),
        owner: entry.id,
    })
}

/// The partitions a viewer may read: every one the server serves, or only those its read
/// token names.
#[derive(Debug, Clone, Default)]
pub(crate) struct Grant {
    /// The token's partitions, with its id and name; none: every partition.
    token: Option<(String, Vec<String>)>,
}

impl Grant {
    /// Whether the viewer may read `partition`.
    pub(crate) fn allows(&self, partition: &str) -> bool {
        self.token
            .as_ref()
            .is_none_or(|(_, partitions)| partitions.iter().any(|p| p == partition))
    }

    /// The refusal of a viewer who may not read `partition`.
    pub(crate) fn refusal(&self, partition: &str) -> Refusal {
        let who = self
            .token
            .as_ref()
            .map_or("the viewer", |(who, _)| who.as_str());
        Refusal::forbidden(format!("{who} may not read partition {partition}"))
    }
}

/// How the server tells viewers apart.
#[derive(Debug)]
pub(crate) struct Viewers {
    pub(crate) auth: ViewerAuth,
    pub(crate) tokens: Arc<Tokens>,
    /// The partitions the server serves.
    pub(crate) partitions: Vec<String>,
    /// What proxy-named viewers may read; none: everything.
    pub(crate) rules: Vec<ViewerRule>,
}

impl Viewers {
    /// The viewer of a request and what it may read, or why it is refused. A read token
    /// must name at least one partition the server serves.
    pub(crate) fn identify(&self, headers: &HeaderMap) -> Result<(Principal, Grant), Refusal> {
        match &self.auth {
            ViewerAuth::None => Ok((Principal(String::new()), Grant::default())),
            ViewerAuth::Token => {
                let entry = self.read_token(headers)?;
                let who = Principal::of_token(&entry);
                let grant = Grant {
                    token: Some((
                        format!("token {} ({})", entry.id, entry.name),
                        entry.partitions,
                    )),
                };
                Ok((who, grant))
            }
            ViewerAuth::Header(names) => names
                .iter()
                .filter_map(|n| headers.get(n))
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .find(|v| !v.is_empty())
                .map(|v| {
                    // Rules match the whole name: one cut short could end like another's.
                    if v.chars().count() > MAX_VIEWER_CHARS {
                        return Err(Refusal::forbidden(format!(
                            "the proxy named a viewer of more than {MAX_VIEWER_CHARS} characters"
                        )));
                    }
                    Ok(Principal(v.to_string()))
                })
                .ok_or_else(|| {
                    let names: Vec<&str> = names.iter().map(HeaderName::as_str).collect();
                    Refusal::unauthorized(
                        format!(
                            "sign in through the proxy in front of this server (no {} header)",
                            names.join(" or ")
                        ),
                        false,
                    )
                })
                .and_then(|who| {
                    let who = who?;
                    let grant = self.header_grant(&who)?;
                    Ok((who, grant))
                }),
        }
    }

    /// What a viewer the proxy named may read under the rules.
    fn header_grant(&self, who: &Principal) -> Result<Grant, Refusal> {
        if self.rules.is_empty() {
            return Ok(Grant::default());
        }
        let mut open: Vec<String> = Vec::new();
        for rule in self.rules.iter().filter(|r| r.admits(&who.0)) {
            if !open.contains(&rule.partition) {
                open.push(rule.partition.clone());
            }
        }
        if !open.iter().any(|p| self.partitions.contains(p)) {
            return Err(Refusal::forbidden(format!(
                "{} may read no partition of this server",
                who.0
            )));
        }
        Ok(Grant {
            token: Some((who.0.clone(), open)),
        })
    }

    /// A read token for at least one of the partitions served.
    fn read_token(&self, headers: &HeaderMap) -> Result<TokenEntry, Refusal> {
        let mut refused = None;
        for partition in &self.partitions {
            match token(&self.tokens, headers, Scope::Read, partition) {
                Ok(entry) => return Ok(entry),
                Err(r)
                    if r.status == StatusCode::FORBIDDEN && r.message.contains(" partition ") =>
                {
                    refused.get_or_insert(r);
                }
                Err(r) => return Err(r),
            }
        }
        Err(match refused {
            Some(first) if self.partitions.len() > 1 => Refusal::forbidden(format!(
                "{} or {}",
                first.message,
                self.partitions[1..].join(" or ")
            )),
            Some(first) => first,
            None => Refusal::forbidden("no partition is served"),
        })
    }
}

/// Lets a viewer through, with its [`Principal`] on the request and the response, and its
/// [`Grant`] on the request.
pub(crate) async fn guard(
    State(viewers): State<Arc<Viewers>>,
    mut request: Request,
    next: Next,
) -> Response {
    match viewers.identify(request.headers()) {
        Ok((who, grant)) => {
            request.extensions_mut().insert(who.clone());
            request.extensions_mut().insert(grant);
            let mut response = next.run(request).await;
            response.extensions_mut().insert(who);
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenFile;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn tokens_are_checked_for_scope_and_partition() {
        let mut file = TokenFile::default();
        let writer = file
            .create("ci", &[Scope::Write], &["fabrikam".into()])
            .unwrap();
        let tokens = Tokens::fixed(file);
        let auth = format!("Bearer {}", writer.expose());
        let ok = token(
            &tokens,
            &headers(&[("authorization", &auth)]),
            Scope::Write,
            "fabrikam",
        )
        .unwrap();
        assert_eq!(ok.name, "ci");
        let other = token(
            &tokens,
            &headers(&[("authorization", &auth)]),
            Scope::Write,
            "contoso",
        )
        .unwrap_err();
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        assert!(
            other.message.ends_with("may not write partition contoso"),
            "{}",
            other.message
        );
        let read = token(
            &tokens,
            &headers(&[("authorization", &auth)]),
            Scope::Read,
            "fabrikam",
        )
        .unwrap_err();
        assert_eq!(read.status, StatusCode::FORBIDDEN);
        let none = token(&tokens, &headers(&[]), Scope::Write, "fabrikam").unwrap_err();
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        let wrong = token(
            &tokens,
            &headers(&[("authorization", "Bearer spk_00000000_x")]),
            Scope::Write,
            "fabrikam",
        )
        .unwrap_err();
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        for r in [other, read, none, wrong] {
            assert!(!r.message.contains(writer.expose()), "{}", r.message);
        }
    }

    #[test]
    fn viewer_rules_open_partitions_to_the_viewers_they_name() {
        let rule = |t: &str| ViewerRule::parse(t).unwrap();
        let viewers = Viewers {
            auth: ViewerAuth::proxy_headers(),
            tokens: Arc::new(Tokens::none()),
            partitions: vec!["fabrikam".into(), "contoso".into()],
            rules: vec![
                rule("partition=contoso,user=*@contoso.com"),
                rule("partition=fabrikam, user=Mona@Fabrikam.com"),
                rule("partition=fabrikam,user=admin@contoso.com"),
            ],
        };
        let grant = |user: &str| {
            viewers
                .identify(&headers(&[("x-forwarded-email", user)]))
                .map(|(_, g)| g)
        };
        let lena = grant("lena@contoso.com").unwrap();
        assert!(lena.allows("contoso") && !lena.allows("fabrikam"));
        let refusal = lena.refusal("fabrikam");
        assert_eq!(refusal.status, StatusCode::FORBIDDEN);
        assert!(
            refusal.message.contains("lena@contoso.com") && refusal.message.contains("fabrikam"),
            "{}",
            refusal.message
        );
        let mona = grant("mona@fabrikam.com").unwrap();
        assert!(mona.allows("fabrikam") && !mona.allows("contoso"));
        let admin = grant("ADMIN@contoso.com").unwrap();
        assert!(admin.allows("fabrikam") && admin.allows("contoso"));
        let stranger = grant("eve@example.com").unwrap_err();
        assert_eq!(stranger.status, StatusCode::FORBIDDEN);
        assert!(
            stranger.message.contains("eve@example.com"),
            "{}",
            stranger.message
        );
        for bad in [
            "partition=contoso",
            "user=*",
            "partition=a,user=b,role=c",
            "contoso",
        ] {
            let e = ViewerRule::parse(bad).unwrap_err();
            assert!(e.contains("--viewer-rule") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn a_proxy_header_names_the_viewer() {
        let viewers = Viewers {
            auth: ViewerAuth::proxy_headers(),
            tokens: Arc::new(Tokens::none()),
            partitions: vec!["p".into()],
            rules: Vec::new(),
        };
        let who = viewers
            .identify(&headers(&[("x-forwarded-email", "mona@example.com")]))
            .unwrap()
            .0;
        assert_eq!(who.0, "mona@example.com");
        let who = viewers
            .identify(&headers(&[
                ("x-forwarded-user", "mona"),
                ("x-forwarded-email", "m@e.com"),
            ]))
            .unwrap()
            .0;
        assert_eq!(who.0, "mona");
        let refused = viewers
            .identify(&headers(&[("x-forwarded-user", "  ")]))
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
}
