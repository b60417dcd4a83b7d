//! Stored ETags and bodies, so a provider's refresh revalidates with `If-None-Match` and an
//! unchanged object costs a 304 with no body (which GitHub does not count against its rate
//! limit). Shared by the providers whose APIs send ETags (GitHub, GitLab).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
#[derive(Debug)]
pub struct EtagCache {
    capacity: usize,
    state: Mutex<State>,
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
        }
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
    fn a_zero_capacity_cache_keeps_nothing() {
        let cache = EtagCache::new(0);
        cache.put("/x", cached("\"a\"", "1"));
        assert!(cache.get("/x").is_none());
    }
}
