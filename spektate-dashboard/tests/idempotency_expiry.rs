//! Idempotency keys are kept 24 hours each (README): a retry within a day of a key's first
//! use gets the first answer and writes nothing; past a day the key is forgotten and the same
//! key writes again, while keys first used later are still kept.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spektate_core::Tracker;
use spektate_core::ingest::Kind;
use spektate_dashboard::tokens::{Scope, TokenFile, Tokens};
use spektate_dashboard::{Dashboard, IDEMPOTENCY_KEEP_FOR, IDEMPOTENCY_KEYS, Service, example};
use support::{Counting, PARTITION, Serving, serve};

/// README: "Keys are kept in the server's memory (10,000 keys, 24 hours each)".
const DAY: Duration = Duration::from_secs(24 * 3600);

#[test]
fn keys_are_kept_24_hours_each_and_10000_at_most() {
    assert_eq!(IDEMPOTENCY_KEEP_FOR, DAY);
    assert_eq!(IDEMPOTENCY_KEYS, 10_000);
}

/// A clock the test moves forward by hand.
#[derive(Clone)]
struct Clock {
    start: Instant,
    seconds: Arc<AtomicU64>,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
            seconds: Arc::new(AtomicU64::new(0)),
        }
    }

    fn now(&self) -> Instant {
        self.start + Duration::from_secs(self.seconds.load(Ordering::SeqCst))
    }

    /// Sets the time to `at` after the start.
    fn set(&self, at: Duration) {
        self.seconds.store(at.as_secs(), Ordering::SeqCst);
    }
}

struct Server {
    base: String,
    writer: String,
    store: Arc<Counting>,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

impl Server {
    /// POSTs a cluster sync to `cluster` with `key`: its status, whether it was a replay, and
    /// its body.
    async fn sync(&self, key: &str, cluster: &str) -> (u16, bool, Value) {
        let mut body = example(Kind::Sync);
        body["cluster"] = json!(cluster);
        let r = self
            .client
            .post(format!("{}{}", self.base, Kind::Sync.path()))
            .bearer_auth(&self.writer)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        let replayed = match r.headers().get("idempotent-replayed") {
            None => false,
            Some(v) => {
                assert_eq!(v, "true");
                true
            }
        };
        (code, replayed, r.json().await.unwrap())
    }
}

async fn start(clock: &Clock) -> Server {
    let mut file = TokenFile::default();
    let writer = file
        .create("ci", &[Scope::Write], &[PARTITION.into()])
        .unwrap();
    let store = Arc::new(Counting::default());
    let tracker = Tracker::builder(store.clone()).partition(PARTITION).build();
    let ticking = clock.clone();
    let service = Service::new(Dashboard::new(tracker))
        .accept_writes(Tokens::fixed(file))
        .idempotency_clock(move || ticking.now());
    let Serving { base, stop, served } = serve(service).await;
    Server {
        base,
        writer: writer.expose().to_string(),
        store,
        client: reqwest::Client::new(),
        stop,
        served,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_younger_than_24_hours_replays_and_an_older_one_writes_again() {
    let clock = Clock::new();
    let server = start(&clock).await;
    let second = Duration::from_secs(1);

    let (code, replayed, first) = server.sync("sync-east", "east-us").await;
    assert_eq!((code, replayed), (200, false), "{first}");
    assert_eq!(server.store.writes(), 1);

    // Half a day on, another key is used for the first time.
    clock.set(DAY / 2);
    let (code, replayed, west) = server.sync("sync-west", "west-eu").await;
    assert_eq!((code, replayed), (200, false), "{west}");
    assert_eq!(server.store.writes(), 2);

    // A second short of a day after its first use the key is kept: the first answer, no
    // write, and another body under it is still refused.
    clock.set(DAY - second);
    assert_eq!(
        server.sync("sync-east", "east-us").await,
        (200, true, first.clone())
    );
    let (code, _, refused) = server.sync("sync-east", "north-eu").await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(server.store.writes(), 2, "a kept key wrote");

    // A day after: forgotten, so the same key and body write again, and that answer is
    // kept anew.
    clock.set(DAY + second);
    let (code, replayed, again) = server.sync("sync-east", "east-us").await;
    assert_eq!((code, replayed), (200, false), "{again}");
    assert_eq!(again, first);
    assert_eq!(
        server.store.writes(),
        3,
        "an expired key did not write again"
    );
    assert_eq!(
        server.sync("sync-east", "east-us").await,
        (200, true, first.clone())
    );
    assert_eq!(server.store.writes(), 3);

    // The key first used half a day in is younger than a day: still kept, whole.
    assert_eq!(server.sync("sync-west", "west-eu").await, (200, true, west));
    let (code, _, refused) = server.sync("sync-west", "north-eu").await;
    assert_eq!(code, 422, "{refused}");

    // And it goes in its turn, a day after its own first use.
    clock.set(DAY / 2 + DAY + second);
    let (code, replayed, _) = server.sync("sync-west", "north-eu").await;
    assert_eq!((code, replayed), (200, false));
    assert_eq!(server.store.writes(), 4);

    let _ = server.stop.send(());
    server.served.await.unwrap();
}
