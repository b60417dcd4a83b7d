//! Spektate's Argo CD sync source: which commit each Argo CD application applied in each
//! cluster, read from Argo CD's REST API.
//!
//! [`ArgoCd`] implements [`SyncSource`]: one `GET /api/v1/applications` answers for every
//! application of the instance (the token's projects), whatever their number. Per application
//! it reads the destination cluster (`spec.destination.name`, else `server`), its git sources
//! (`spec.source`, or `spec.sources` for a multi-source application; Helm chart repositories
//! are left out), the sync status and revision(s) (`status.sync`), the health, the last
//! operation (`status.operationState`: phase, finish time, the revision it synced) and the
//! history of successful syncs (`status.history`).
//!
//! The newest commit an application applied is its `status.sync.revision` while it is
//! `Synced`; otherwise the revision of its newest history entry (the last successful sync),
//! else that of its last operation when it succeeded. The last operation's phase goes with the
//! revision it synced or tried (`syncResult`, else `operation.sync`): a failed sync of another
//! revision is that revision's failure ([`Applied::attempted`]), not the running one's. An
//! application whose source is the HLD repository (Argo CD renders Helm or Kustomize straight
//! from it) applies HLD commits: the tracker then shows a deployment synced and complete there
//! without a manifest pipeline.
//!
//! # Request budget
//!
//! One request per refresh; trackers that refresh at the same moment over one [`ArgoCd`] (a
//! server with several partitions) share it. Argo CD sends no `ETag` today: when its answer carries one (a
//! caching proxy in front, a later version), the next request revalidates with
//! `If-None-Match` and a `304` costs no body; otherwise the list's `metadata.resourceVersion`
//! (which moves whenever any application changes) is compared before anything else is parsed,
//! and the last answer is handed back as it was. `tests/argocd.rs` reads 1,000 applications
//! in one request, and nothing more when nothing changed.
//!
//! # Trust
//!
//! The token (`Authorization: Bearer`) goes only to the configured URL: redirects are not
//! followed, and nothing in an answer names a host to contact. Certificates are checked unless
//! [`ArgoCdBuilder::insecure`] says otherwise. The answer's size is capped
//! ([`DEFAULT_MAX_BODY_BYTES`]), an application that cannot be read is skipped (and counted
//! in a notice), names and words are bounded, and only hexadecimal revisions count as commits.
//!
//! ```no_run
//! # async fn demo() -> spektate_core::Result<()> {
//! use std::sync::Arc;
//! use spektate_core::http::Secret;
//! use spektate_core::{Filter, MemoryStore, Tracker};
//! use spektate_argocd::ArgoCd;
//!
//! let argocd = ArgoCd::builder("https://argocd.fabrikam.com")
//!     .token(Secret::new(std::env::var("SPEKTATE_ARGOCD_TOKEN").unwrap_or_default()))
//!     .build()?;
//! let store = Arc::new(MemoryStore::new());
//! let tracker = Tracker::builder(store)
//!     .partition("fabrikam")
//!     .sync_source(Arc::new(argocd))
//!     .build();
//! for d in tracker.deployments(&Filter::default()).await? {
//!     let live: Vec<&str> = d.live_in.iter().map(|l| l.cluster.as_str()).collect();
//!     println!("{} {:?} live in {}", d.status.as_str(), d.service(), live.join(", "));
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod applications;
mod payloads;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use spektate_core::http::{Auth, Connection, HttpClient, Request};
use spektate_core::model::url::api_base;
use spektate_core::warnings::{Notice, Reason, Subject, notice};
use spektate_core::{Applied, Error, Result, SyncSource};

pub use applications::{MAX_NAME_CHARS, is_commit};
/// The credential and retry policy types the builder takes.
pub use spektate_core::http::{Policy, Secret};

/// The default cap on the list's size: 64 MiB, room for a few thousand applications with
/// their resources and history.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

/// The most applications read from one answer; the rest are left out with a notice.
pub const MAX_APPLICATIONS: usize = 100_000;

/// Redirect statuses: answered as errors, never followed.
const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// An Argo CD API server with its credentials. Cheap to clone; clones share the client and
/// the last answer.
#[derive(Clone)]
pub struct ArgoCd {
    inner: Arc<Inner>,
}

struct Inner {
    http: HttpClient,
    /// The API server's URL, without a trailing `/`.
    base: String,
    list_url: String,
    name: String,
    last: Mutex<Last>,
    /// Held while a list request is out: trackers refreshing at the same time (a server with
    /// several partitions) share one request.
    in_flight: tokio::sync::Mutex<()>,
    /// Lists read so far; a caller that waited for another's request takes its answer.
    lists: AtomicU64,
    requests: AtomicU64,
    not_modified: AtomicU64,
    unchanged: AtomicU64,
}

/// The last answer read, and how to tell whether the next one differs.
#[derive(Default)]
struct Last {
    etag: Option<String>,
    resource_version: Option<String>,
    applied: Option<Arc<Vec<Applied>>>,
}

impl fmt::Debug for ArgoCd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArgoCd")
            .field("url", &self.inner.base)
            .field("http", &self.inner.http)
            .finish()
    }
}

/// Requests an [`ArgoCd`] sent, for watching the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Requests sent (retries not counted).
    pub requests: u64,
    /// Answered `304 Not Modified`.
    pub not_modified: u64,
    /// Answered in full with the resource version of the last answer, so not read again.
    pub unchanged: u64,
}

/// Builds an [`ArgoCd`].
#[derive(Debug, Clone)]
pub struct ArgoCdBuilder {
    url: String,
    token: Option<Secret>,
    insecure: bool,
    projects: Vec<String>,
    policy: Policy,
}

impl ArgoCd {
    /// A builder for the Argo CD API server at `url` (`https://argocd.example.com`, or with
    /// the path Argo CD is served under, `https://example.com/argocd`).
    pub fn builder(url: impl Into<String>) -> ArgoCdBuilder {
        ArgoCdBuilder {
            url: url.into(),
            token: None,
            insecure: false,
            projects: Vec::new(),
            policy: Policy {
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                ..Policy::default()
            },
        }
    }

    /// The API server's URL.
    pub fn url(&self) -> &str {
        &self.inner.base
    }

    /// The requests sent so far.
    pub fn stats(&self) -> RequestStats {
        RequestStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            not_modified: self.inner.not_modified.load(Ordering::Relaxed),
            unchanged: self.inner.unchanged.load(Ordering::Relaxed),
        }
    }
}

impl ArgoCdBuilder {
    /// The bearer token (an Argo CD account's or project role's API token). Without one,
    /// only an Argo CD that lets anonymous users read applications answers.
    pub fn token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// [`Self::token`] when there is one.
    pub fn maybe_token(mut self, token: Option<Secret>) -> Self {
        self.token = token;
        self
    }

    /// Accept the server's certificate even when no trusted root signed it (a self-signed
    /// Argo CD). Off unless asked for.
    pub fn insecure(mut self, yes: bool) -> Self {
        self.insecure = yes;
        self
    }

    /// Only the applications of this project (repeat for several): Argo CD filters them
    /// (`?projects=`), so a large shared instance answers with less.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        let p = project.into().trim().to_string();
        if !p.is_empty() {
            self.projects.push(p);
        }
        self
    }

    /// Timeouts, retries and the body cap.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The client; the URL must be `http(s)://HOST[:PORT][/PATH]`, without credentials, a
    /// query or a fragment.
    pub fn build(self) -> Result<ArgoCd> {
        let base = check_url(&self.url)?;
        let host = base
            .split_once("://")
            .map_or(base.as_str(), |(_, rest)| rest)
            .to_string();
        let name = format!("argocd {host}");
        let auth = match self.token {
            Some(t) if !t.expose().trim().is_empty() => {
                Auth::Bearer(Secret::new(t.expose().trim()))
            }
            _ => Auth::None,
        };
        let connection = Connection {
            accept_invalid_certs: self.insecure,
            follow_redirects: false,
        };
        let http = HttpClient::with_connection(&name, auth, self.policy, connection)?;
        let mut list_url = format!("{base}/api/v1/applications");
        let projects: BTreeSet<&str> = self.projects.iter().map(String::as_str).collect();
        for (i, p) in projects.iter().enumerate() {
            list_url.push(if i == 0 { '?' } else { '&' });
            list_url.push_str("projects=");
            list_url.push_str(&spektate_core::url_encode::query_value(p));
        }
        Ok(ArgoCd {
            inner: Arc::new(Inner {
                http,
                base,
                list_url,
                name,
                last: Mutex::new(Last::default()),
                in_flight: tokio::sync::Mutex::new(()),
                lists: AtomicU64::new(0),
                requests: AtomicU64::new(0),
                not_modified: AtomicU64::new(0),
                unchanged: AtomicU64::new(0),
            }),
        })
    }
}

/// The API server's URL, checked: `http` or `https`, a host, no credentials, query or
/// fragment; without a trailing `/`.
fn check_url(url: &str) -> Result<String> {
    api_base("Argo CD URL", url, "SPEKTATE_ARGOCD_TOKEN")
}

impl ArgoCd {
    /// Reads the list, or tells that it did not change.
    async fn list(&self) -> Result<Arc<Vec<Applied>>> {
        let inner = &*self.inner;
        let seen = inner.lists.load(Ordering::Acquire);
        let _turn = inner.in_flight.lock().await;
        if inner.lists.load(Ordering::Acquire) != seen {
            let last = inner.last.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(applied) = &last.applied {
                return Ok(applied.clone());
            }
        }
        let got = self.fetch().await;
        if got.is_ok() {
            inner.lists.fetch_add(1, Ordering::Release);
        }
        got
    }

    /// One list request, compared with the last answer.
    async fn fetch(&self) -> Result<Arc<Vec<Applied>>> {
        let inner = &*self.inner;
        let (etag, version, cached) = {
            let last = inner.last.lock().unwrap_or_else(|p| p.into_inner());
            (
                last.etag.clone(),
                last.resource_version.clone(),
                last.applied.clone(),
            )
        };
        let mut req = Request::get(&inner.list_url, "list applications", "")
            .header("accept", "application/json")
            .pass(&REDIRECTS);
        if let (Some(etag), Some(_)) = (&etag, &cached) {
            req = req.optional_header("if-none-match", etag).pass(&[304]);
        }
        inner.requests.fetch_add(1, Ordering::Relaxed);
        let resp = inner.http.send(req).await?;
        let err = |message: String| Error::provider(&inner.name, "list applications", "", message);
        if resp.status == 304 {
            inner.not_modified.fetch_add(1, Ordering::Relaxed);
            return cached.ok_or_else(|| err("HTTP 304 to a request that had no ETag".into()));
        }
        if REDIRECTS.contains(&resp.status) {
            return Err(err(format!(
                "HTTP {} redirects elsewhere, and the token goes only to the URL given: give the \
                 address of the Argo CD API server itself",
                resp.status
            )));
        }
        let new_etag = resp.header("etag").map(str::to_string);
        let list: payloads::ApplicationList = serde_json::from_slice(&resp.body)
            .map_err(|e| err(format!("malformed response body: {e}")))?;
        let new_version = list.metadata.and_then(|m| m.resource_version);
        if let (Some(v), Some(cached)) = (&new_version, &cached)
            && version.as_ref() == Some(v)
        {
            inner.unchanged.fetch_add(1, Ordering::Relaxed);
            let mut last = inner.last.lock().unwrap_or_else(|p| p.into_inner());
            last.etag = new_etag;
            return Ok(cached.clone());
        }
        let items = list.items.unwrap_or_default();
        let mut applied = Vec::new();
        let mut unreadable: Option<(usize, String)> = None;
        for raw in items.iter().take(MAX_APPLICATIONS) {
            match serde_json::from_str::<payloads::Application>(raw.get()) {
                Ok(app) => applied.extend(applications::applied(&app)),
                Err(e) => {
                    let slot = unreadable.get_or_insert_with(|| (0, e.to_string()));
                    slot.0 += 1;
                }
            }
        }
        if let Some((count, first)) = unreadable {
            notice(Notice {
                subject: Subject::Applications,
                count,
                reason: Reason::new(
                    &inner.name,
                    &format!("applications that could not be read were left out ({first})"),
                ),
            });
        }
        if items.len() > MAX_APPLICATIONS {
            notice(Notice {
                subject: Subject::Applications,
                count: items.len() - MAX_APPLICATIONS,
                reason: Reason::new(
                    &inner.name,
                    &format!("only the first {MAX_APPLICATIONS} applications are read"),
                ),
            });
        }
        let applied = match cached {
            Some(c) if *c == applied => c,
            _ => Arc::new(applied),
        };
        let mut last = inner.last.lock().unwrap_or_else(|p| p.into_inner());
        *last = Last {
            etag: new_etag,
            resource_version: new_version,
            applied: Some(applied.clone()),
        };
        Ok(applied)
    }
}

#[async_trait]
impl SyncSource for ArgoCd {
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    async fn applied(&self) -> Result<Arc<Vec<Applied>>> {
        self.list().await
    }

    async fn check(&self) -> Result<Option<String>> {
        let applied = self.list().await?;
        let apps: BTreeSet<&str> = applied.iter().map(|a| a.application.as_str()).collect();
        let clusters: BTreeSet<&str> = applied.iter().map(|a| a.cluster()).collect();
        Ok(Some(if apps.is_empty() {
            "no application with a git source is readable: check the token's project roles"
                .to_string()
        } else {
            format!(
                "{} applications with a git source in {} clusters",
                apps.len(),
                clusters.len()
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_echo_credentials() {
        for (url, base) in [
            ("https://argocd.fabrikam.com", "https://argocd.fabrikam.com"),
            (
                "https://argocd.fabrikam.com/",
                "https://argocd.fabrikam.com",
            ),
            (
                "HTTPS://fabrikam.com/argocd/",
                "https://fabrikam.com/argocd",
            ),
            (
                "http://argocd-server.argocd:8080",
                "http://argocd-server.argocd:8080",
            ),
        ] {
            assert_eq!(check_url(url).unwrap(), base, "{url}");
        }
        for bad in [
            "argocd.fabrikam.com",
            "ftp://argocd.fabrikam.com",
            "https://",
            "https://argocd.fabrikam.com/?x=1",
            "https://argocd.fabrikam.com/#top",
            "https://argo cd.fabrikam.com",
        ] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.contains("Argo CD URL"), "{bad}: {e}");
        }
        let e = check_url("https://admin:hunter2@argocd.fabrikam.com")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SPEKTATE_ARGOCD_TOKEN") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn projects_narrow_the_list_and_the_token_never_prints() {
        let argo = ArgoCd::builder("https://argocd.fabrikam.com")
            .token(Secret::new("argo-secret"))
            .project("fabrikam")
            .project("a b")
            .project(" ")
            .build()
            .unwrap();
        assert_eq!(
            argo.inner.list_url,
            "https://argocd.fabrikam.com/api/v1/applications?projects=a%20b&projects=fabrikam"
        );
        assert_eq!(argo.name(), "argocd argocd.fabrikam.com");
        assert!(!format!("{argo:?}").contains("argo-secret"));
    }

    #[test]
    fn only_hexadecimal_revisions_are_commits() {
        assert!(is_commit("a1b2c3d"));
        assert!(is_commit(&"f".repeat(64)));
        for no in [
            "a1b2c3",
            "1.2.3",
            "v1.2.3-abcdef0",
            "HEAD",
            &"f".repeat(65),
            "",
        ] {
            assert!(!is_commit(no), "{no}");
        }
    }
}
