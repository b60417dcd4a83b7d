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

/// Bytes of responses an [`EtagCache::new`] keeps in memory at most.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

/// ETags and bodies by URL, least recently used evicted past `capacity` responses or
/// `max_bytes` of them.
pub struct EtagCache {
    capacity: usize,
    max_bytes: usize,
    state: Mutex<State>,
    persisted: OnceLock<Persisted>,
}

impl std::fmt::Debug for EtagCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtagCache")
            .field("capacity", &self.capacity)
            .field("max_bytes", &self.max_bytes)
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
    /// The [`size`] of the entries, summed.
    bytes: usize,
}

/// What an entry counts against the byte budget: its URL, validator, next page and body.
fn size(url: &str, c: &Cached) -> usize {
    url.len() + c.etag.len() + c.next.as_ref().map_or(0, String::len) + c.body.len()
}

impl EtagCache {
    /// A cache of at most `capacity` responses and [`DEFAULT_MAX_BYTES`]; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self::with_max_bytes(capacity, DEFAULT_MAX_BYTES)
    }

    /// A cache of at most `capacity` responses holding at most `max_bytes` (URLs, ETags and
    /// bodies); a response larger than `max_bytes` alone is not kept. 0 for either keeps none.
    pub fn with_max_bytes(capacity: usize, max_bytes: usize) -> Self {
        EtagCache {
            capacity: if max_bytes == 0 { 0 } else { capacity },
            max_bytes,
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

    /// Stores the response of `url` in memory and in the persisting cache. One too large to
    /// keep is kept in neither, and an older answer of `url` is forgotten.
    pub async fn keep(&self, url: &str, cached: Cached) {
        if !self.put(url, cached.clone()) {
            if self.capacity > 0 {
                self.forget(url).await;
            }
            return;
        }
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

    /// Stores the response of `url`, evicting the least recently used past capacity or the
    /// byte budget; whether it was stored (not when larger than the budget alone, which
    /// forgets an older answer of `url`).
    pub fn put(&self, url: &str, cached: Cached) -> bool {
        if self.capacity == 0 {
            return false;
        }
        let added = size(url, &cached);
        let mut state = self.lock();
        if let Some((old, _)) = state.entries.remove(url) {
            state.bytes -= size(url, &old);
        }
        if added > self.max_bytes {
            return false;
        }
        state.tick += 1;
        let tick = state.tick;
        state.entries.insert(url.to_string(), (cached, tick));
        state.bytes += added;
        if state.entries.len() > self.capacity || state.bytes > self.max_bytes {
            // Evict down to nine tenths at once, so eviction stays rare as the cache churns.
            let keep_entries = if state.entries.len() > self.capacity {
                self.capacity - self.capacity / 10
            } else {
                self.capacity
            };
            let keep_bytes = if state.bytes > self.max_bytes {
                self.max_bytes - self.max_bytes / 10
            } else {
                self.max_bytes
            };
            let mut ages: Vec<(u64, String)> = state
                .entries
                .iter()
                .map(|(k, (_, used))| (*used, k.clone()))
                .collect();
            ages.sort_unstable();
            for (_, key) in ages {
                if key == url || (state.entries.len() <= keep_entries && state.bytes <= keep_bytes)
                {
                    break;
                }
                if let Some((old, _)) = state.entries.remove(&key) {
                    state.bytes -= size(&key, &old);
                }
            }
        }
        true
    }

    /// Whether a response of `url` is stored, without marking it used.
    pub fn contains(&self, url: &str) -> bool {
        self.lock().entries.contains_key(url)
    }

    /// Forgets `url` (it is gone).
    pub fn remove(&self, url: &str) {
        let mut state = self.lock();
        if let Some((old, _)) = state.entries.remove(url) {
            state.bytes -= size(url, &old);
        }
    }

    /// How many bytes the cached responses hold (URLs, ETags and bodies).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
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
    fn the_byte_budget_holds_and_evicts_the_least_recently_used() {
        let body = "x".repeat(1000);
        let cache = EtagCache::with_max_bytes(100, 10_000);
        for i in 0..30 {
            assert!(cache.put(&format!("/commits/{i}"), cached("\"e\"", &body)));
            assert!(cache.bytes() <= 10_000, "{} bytes", cache.bytes());
        }
        assert!(cache.len() < 10, "{} entries", cache.len());
        assert!(cache.contains("/commits/29"), "the newest stays");
        assert!(!cache.contains("/commits/0"), "the oldest goes first");
        let kept: usize = (0..30)
            .filter_map(|i| cache.get(&format!("/commits/{i}")))
            .map(|c| c.body.len())
            .sum();
        assert!(kept <= cache.bytes());

        // Replacing an entry counts its new size only.
        let before = cache.bytes();
        assert!(cache.put("/commits/29", cached("\"e\"", &body)));
        assert_eq!(cache.bytes(), before);

        // A body larger than the whole budget is not kept, and replaces nothing.
        assert!(!cache.put("/commits/29", cached("\"f\"", &"y".repeat(20_000))));
        assert!(
            !cache.contains("/commits/29"),
            "the older answer is forgotten"
        );
        assert!(cache.bytes() <= before);
        cache.remove("/commits/28");
        assert!(cache.bytes() < before);
        for i in 0..30 {
            cache.remove(&format!("/commits/{i}"));
        }
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }

    #[tokio::test]
    async fn a_body_over_the_budget_is_not_persisted() {
        let cache = EtagCache::with_max_bytes(10, 100);
        cache.keep("/big", cached("\"a\"", &"z".repeat(200))).await;
        assert!(cache.is_empty());
        cache.keep("/small", cached("\"a\"", "{}")).await;
        assert!(cache.contains("/small"));
    }

    #[test]
    fn a_zero_capacity_cache_keeps_nothing() {
        let cache = EtagCache::new(0);
        cache.put("/x", cached("\"a\"", "1"));
        assert!(cache.get("/x").is_none());
    }
}
