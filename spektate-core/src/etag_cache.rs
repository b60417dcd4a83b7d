//! Stored ETags and bodies, so a provider's refresh revalidates with `If-None-Match` and an
//! unchanged object costs a 304 with no body (which GitHub does not count against its rate
//! limit). Shared by the providers whose APIs send ETags (GitHub, GitLab).
//!
//! Kept in memory, and, once [`EtagCache::persist_in`] names an answers cache that keeps
//! pages, in its file too, so another process revalidates what this one fetched. There a page
//! is keyed by a SHA-256 of the URL and the [`Identity`] of the credential that fetched it, so
//! a page is only ever served to a request made with the same credential; read lazily, one
//! URL at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::cache::{AnswersCache, StoredPage};

/// Who a page was fetched as: a SHA-256 of the service's address and the credential (a token,
/// an app's id, or none), never the credential itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Identity([u8; 32]);

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(..)")
    }
}

impl Identity {
    /// The identity of `parts` (e.g. the API's URL, the kind of credential and the
    /// credential), each length-prefixed so two lists never hash alike.
    pub fn of(parts: &[&str]) -> Identity {
        let mut h = Sha256::new();
        h.update(b"spektate etag identity v1");
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p.as_bytes());
        }
        Identity(h.finalize().into())
    }

    /// The key a page of `url` fetched as this identity is kept under, in hex.
    fn key(&self, url: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(url.as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where pages outlive the process.
struct Persisted {
    cache: Arc<dyn AnswersCache>,
    identity: Identity,
}

/// A cached response: its validator and body.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The `ETag` header as the service sent it (`W/"..."` included).
    pub etag: String,
    /// The body it validates.
    pub body: Arc<Vec<u8>>,
    /// The next page of a list, from the answer's `Link` header.
    pub next: Option<String>,
}

/// ETags and bodies by URL, least recently used evicted past `capacity`.
pub struct EtagCache {
    capacity: usize,
    state: Mutex<State>,
    persisted: OnceLock<Persisted>,
}

impl std::fmt::Debug for EtagCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtagCache")
            .field("capacity", &self.capacity)
            .field(
                "persisted",
                &self.persisted.get().map(|p| p.cache.describe()),
            )
            .finish()
    }
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, (Cached, u64)>,
    tick: u64,
}

impl EtagCache {
    /// A cache of at most `capacity` responses; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        EtagCache {
            capacity,
            state: Mutex::new(State::default()),
            persisted: OnceLock::new(),
        }
    }

    /// Keeps pages in `cache` too (when it keeps pages), as fetched by `identity`, so another
    /// process revalidates them; the first cache given stays. Nothing is kept when the
    /// in-memory capacity is 0.
    pub fn persist_in(&self, cache: Arc<dyn AnswersCache>, identity: Identity) {
        if self.capacity > 0 && cache.pages().is_some() {
            let _ = self.persisted.set(Persisted { cache, identity });
        }
    }

    /// The cached response of `url`: from memory, else from the persisting cache (then kept
    /// in memory). A cache that cannot be read is logged and counts as holding nothing.
    pub async fn lookup(&self, url: &str) -> Option<Cached> {
        if let Some(c) = self.get(url) {
            return Some(c);
        }
        let p = self.persisted.get()?;
        let (cache, key) = (p.cache.clone(), p.identity.key(url));
        let read =
            tokio::task::spawn_blocking(move || cache.pages().map(|pages| pages.page(&key))).await;
        let page = match read {
            Ok(Some(Ok(page))) => page?,
            Ok(None) => return None,
            Ok(Some(Err(e))) => return self.unusable("read", &e),
            Err(e) => return self.unusable("read", &e),
        };
        let cached = Cached {
            etag: page.etag,
            body: Arc::new(page.body),
            next: page.next,
        };
        self.put(url, cached.clone());
        Some(cached)
    }

    /// Stores the response of `url` in memory and in the persisting cache.
    pub async fn keep(&self, url: &str, cached: Cached) {
        self.put(url, cached.clone());
        let Some(p) = self.persisted.get() else {
            return;
        };
        let (cache, key) = (p.cache.clone(), p.identity.key(url));
        let page = StoredPage {
            etag: cached.etag,
            body: cached.body.to_vec(),
            next: cached.next,
        };
        let written = tokio::task::spawn_blocking(move || {
            cache.pages().map(|pages| pages.put_page(&key, &page))
        })
        .await;
        match written {
            Ok(Some(Err(e))) => {
                self.unusable("write", &e);
            }
            Err(e) => {
                self.unusable("write", &e);
            }
            Ok(_) => {}
        }
    }

    /// Forgets `url` (it is gone), in memory and in the persisting cache.
    pub async fn forget(&self, url: &str) {
        self.remove(url);
        let Some(p) = self.persisted.get() else {
            return;
        };
        let (cache, key) = (p.cache.clone(), p.identity.key(url));
        let removed =
            tokio::task::spawn_blocking(move || cache.pages().map(|pages| pages.remove_page(&key)))
                .await;
        if let Ok(Some(Err(e))) = removed {
            self.unusable("drop", &e);
        }
    }

    fn unusable(&self, what: &str, why: &dyn std::fmt::Display) -> Option<Cached> {
        if let Some(p) = self.persisted.get() {
            tracing::warn!(
                "{}: {what} a page: {why}; the page is fetched instead",
                p.cache.describe()
            );
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached response of `url`, marked as recently used.
    pub fn get(&self, url: &str) -> Option<Cached> {
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        let (cached, used) = state.entries.get_mut(url)?;
        *used = tick;
        Some(cached.clone())
    }

    /// Stores the response of `url`, evicting the least recently used past capacity.
    pub fn put(&self, url: &str, cached: Cached) {
        if self.capacity == 0 {
            return;
        }
        let mut state = self.lock();
        state.tick += 1;
        let tick = state.tick;
        state.entries.insert(url.to_string(), (cached, tick));
        if state.entries.len() > self.capacity {
            // Evict the oldest tenth at once, so eviction stays rare as the cache churns.
            let excess = state.entries.len() - self.capacity + self.capacity / 10;
            let mut ages: Vec<(u64, String)> = state
                .entries
                .iter()
                .map(|(k, (_, used))| (*used, k.clone()))
                .collect();
            ages.sort_unstable();
            for (_, key) in ages.into_iter().take(excess) {
                state.entries.remove(&key);
            }
        }
    }

    /// Whether a response of `url` is stored, without marking it used.
    pub fn contains(&self, url: &str) -> bool {
        self.lock().entries.contains_key(url)
    }

    /// Forgets `url` (it is gone).
    pub fn remove(&self, url: &str) {
        self.lock().entries.remove(url);
    }

    /// How many responses are cached.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no response is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(etag: &str, body: &str) -> Cached {
        Cached {
            etag: etag.to_string(),
            body: Arc::new(body.as_bytes().to_vec()),
            next: None,
        }
    }

    #[test]
    fn keeps_what_was_put_and_evicts_the_least_recently_used() {
        let cache = EtagCache::new(10);
        for i in 0..10 {
            cache.put(&format!("/runs/{i}"), cached(&format!("W/\"{i}\""), "{}"));
        }
        assert_eq!(cache.get("/runs/0").unwrap().etag, "W/\"0\"");
        cache.put("/runs/10", cached("W/\"10\"", "{}"));
        assert!(cache.get("/runs/0").is_some(), "recently used entries stay");
        assert!(cache.contains("/runs/10"));
        assert!(
            cache.get("/runs/1").is_none(),
            "the least recently used goes first"
        );
        assert!(cache.len() <= 10);
        cache.remove("/runs/0");
        assert!(cache.get("/runs/0").is_none());
    }

    #[test]
    fn identities_differ_by_credential_and_never_hold_it() {
        let a = Identity::of(&["https://api.github.com", "token", "ghp_aaaa"]);
        let b = Identity::of(&["https://api.github.com", "token", "ghp_bbbb"]);
        assert_ne!(a, b);
        assert_ne!(a.key("/x"), b.key("/x"));
        assert_ne!(a.key("/x"), a.key("/y"));
        assert_eq!(a.key("/x"), a.key("/x"));
        assert_eq!(a.key("/x").len(), 64);
        assert!(!format!("{a:?}").contains("ghp_"));
        assert_ne!(
            Identity::of(&["ab", "c"]),
            Identity::of(&["a", "bc"]),
            "parts are length-prefixed"
        );
    }

    #[test]
    fn a_zero_capacity_cache_keeps_nothing() {
        let cache = EtagCache::new(0);
        cache.put("/x", cached("\"a\"", "1"));
        assert!(cache.get("/x").is_none());
    }
}
