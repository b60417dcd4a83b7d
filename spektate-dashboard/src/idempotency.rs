//! `Idempotency-Key`: a retried write with the same key gets the first answer and writes
//! nothing again.
//!
//! Scope: a bounded cache in this process's memory ([`CAPACITY`] keys, each kept for
//! [`KEEP_FOR`]), per writer (a token, or an OIDC ID token's issuer and subject) and
//! partition and route. A key is held while its first request
//! runs, so a retry that arrives meanwhile waits for that answer instead of writing too.
//! Only successful answers are kept: a request that failed is tried again by its retry.
//! Beyond the cache (another replica, a restart, an evicted key), the linking rules are
//! idempotent themselves: a step recorded twice finds its own record (derived row keys) and
//! writes the same values, a run report never moves a run backwards, and a cluster keeps its
//! latest report.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Mutex as AsyncMutex;

/// How many keys are kept; the oldest goes first.
pub const CAPACITY: usize = 10_000;
/// How long a key is kept.
pub const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// Whose write a key belongs to: the same key from another token or partition, or for
/// another route, is another write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Scope {
    /// The writer: a token's id, or `oidc <issuer> <subject>`.
    pub(crate) token: String,
    pub(crate) partition: String,
    pub(crate) route: &'static str,
    pub(crate) key: String,
}

/// A kept answer.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    /// The SHA-256 of the request body it answered.
    pub(crate) request: [u8; 32],
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// One key's place: empty while its first request runs (or after it failed).
pub(crate) type Slot = Arc<AsyncMutex<Option<Kept>>>;

/// Where a cache reads the time: [`Instant::now`], or a test's clock.
pub(crate) type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The keys seen lately.
pub(crate) struct Cache {
    inner: Mutex<Inner>,
    clock: Clock,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::with_clock(Arc::new(Instant::now))
    }
}

#[derive(Default)]
struct Inner {
    slots: HashMap<Scope, (Instant, Slot)>,
    order: VecDeque<(Instant, Scope)>,
}

/// Whether a header value can be a key: 1 to 255 visible ASCII characters.
pub(crate) fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The SHA-256 of a request body.
pub(crate) fn fingerprint(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

impl Cache {
    /// An empty cache that ages its keys by `clock`.
    pub(crate) fn with_clock(clock: Clock) -> Self {
        Cache {
            inner: Mutex::default(),
            clock,
        }
    }

    /// The slot of `scope`, made when new. Lock it: the first holder finds it empty and
    /// fills it with its answer; later holders find that answer.
    pub(crate) fn slot(&self, scope: Scope) -> Slot {
        let now = (self.clock)();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.expire(now);
        if let Some((_, slot)) = inner.slots.get(&scope) {
            return slot.clone();
        }
        while inner.slots.len() >= CAPACITY {
            let Some((_, oldest)) = inner.order.pop_front() else {
                break;
            };
            inner.slots.remove(&oldest);
        }
        let slot = Slot::default();
        inner.slots.insert(scope.clone(), (now, slot.clone()));
        inner.order.push_back((now, scope));
        slot
    }

    /// How many keys are kept, those past [`KEEP_FOR`] dropped first.
    pub(crate) fn len(&self) -> usize {
        let now = (self.clock)();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.expire(now);
        inner.slots.len()
    }
}

impl Inner {
    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) < KEEP_FOR {
                break;
            }
            if let Some((_, scope)) = self.order.pop_front() {
                self.slots.remove(&scope);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(key: &str) -> Scope {
        Scope {
            token: "t".into(),
            partition: "p".into(),
            route: "/api/records/image",
            key: key.into(),
        }
    }

    #[tokio::test]
    async fn one_key_is_one_slot_and_the_oldest_key_goes_first() {
        let cache = Cache::default();
        let first = cache.slot(scope("a"));
        *first.lock().await = Some(Kept {
            request: fingerprint(b"{}"),
            status: 200,
            body: b"{\"id\":\"x\"}".to_vec(),
        });
        let again = cache.slot(scope("a"));
        assert_eq!(again.lock().await.as_ref().unwrap().status, 200);
        for i in 0..CAPACITY {
            cache.slot(scope(&format!("k{i}")));
        }
        assert_eq!(cache.len(), CAPACITY);
        assert!(
            cache.slot(scope("a")).lock().await.is_none(),
            "a was evicted"
        );
    }

    #[test]
    fn expired_keys_are_not_counted_without_another_write() {
        let start = Instant::now();
        let now = Arc::new(Mutex::new(start));
        let clock = now.clone();
        let cache = Cache::with_clock(Arc::new(move || *clock.lock().unwrap()));
        cache.slot(scope("a"));
        *now.lock().unwrap() = start + Duration::from_secs(3600);
        cache.slot(scope("b"));
        assert_eq!(cache.len(), 2);
        *now.lock().unwrap() = start + KEEP_FOR;
        assert_eq!(cache.len(), 1, "a is 24 hours old");
        *now.lock().unwrap() = start + KEEP_FOR + Duration::from_secs(3600);
        assert_eq!(cache.len(), 0, "b too");
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(valid_key("3f9a-1c2b_retry.1"));
        for bad in ["", "with space", "é", &"k".repeat(256)] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
