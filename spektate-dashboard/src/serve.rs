//! Accepting connections within [`Limits`], and stopping gracefully.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::connection::{self, Open};

/// How long a client has to send a request header unless set: 10 seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may move no bytes unless set: 60 seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default [`Limits::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How many connections are open at once unless set: 1024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The shortest timeout kept: 100 ms.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest timeout kept: one day.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);
/// The most connections kept open at once.
const MAX_CONNECTIONS: usize = 1_000_000;
/// How long accepting rests after an error such as "too many open files".
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often a client waiting for a place looks again for a connection to close.
const EVICT_RETRY: Duration = Duration::from_millis(50);

/// What a [`crate::Server`] allows each client, so slow or idle clients cannot use up the
/// process's connections and file descriptors.
///
/// ```
/// use std::time::Duration;
/// let mut limits = spektate_dashboard::Limits::default();
/// limits.header_read_timeout = Duration::from_secs(5);
/// assert_eq!(limits.max_connections, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// A request header must arrive whole within this long after the connection is ready
    /// for it (just opened, or kept alive after the previous response), or the connection is
    /// closed. So it also bounds how long a kept-alive connection waits for its next request.
    pub header_read_timeout: Duration,
    /// A connection that moves no bytes for this long while no request of it is being
    /// handled (a client that stopped reading, or stalled mid-request) is closed.
    pub idle_timeout: Duration,
    /// A request not answered within this long (a store that stalls, say) is answered 503
    /// with `Retry-After`, so no request holds its connection and the server forever.
    pub request_timeout: Duration,
    /// At most this many connections are open at once. A new client over the limit takes
    /// the place of the oldest connection that is not handling a request; if every one is,
    /// it waits until one ends.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// The limits kept within bounds: timeouts from 100 ms to a day, from 1 to a million
    /// connections.
    pub(crate) fn bounded(self) -> Self {
        Limits {
            header_read_timeout: self.header_read_timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT),
            idle_timeout: self.idle_timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT),
            request_timeout: self.request_timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT),
            max_connections: self.max_connections.clamp(1, MAX_CONNECTIONS),
        }
    }
}

/// Whether an accept error concerns only the connection being accepted.
fn only_that_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes; then stops
/// listening, lets the requests in flight be answered and returns when every connection
/// has closed.
pub(crate) async fn run(
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let limits = limits.bounded();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let open = Arc::new(Open::default());
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if only_that_connection(&e) => continue,
            Err(e) => {
                // Out of file descriptors, most likely: make room and try again shortly.
                tracing::warn!("dashboard on {addr} cannot accept a connection: {e}");
                open.evict_oldest_idle();
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let slot = loop {
            if let Ok(slot) = slots.clone().try_acquire_owned() {
                break Some(slot);
            }
            // Full: make room, and look again as connections finish their requests.
            open.evict_oldest_idle();
            tokio::select! {
                () = &mut shutdown => break None,
                slot = slots.clone().acquire_owned() => break slot.ok(),
                () = tokio::time::sleep(EVICT_RETRY) => {}
            }
        };
        let Some(slot) = slot else { break };
        let _ = stream.set_nodelay(true);
        let registered = open.add();
        let (router, stopping) = (router.clone(), stopping.clone());
        tokio::spawn(async move {
            connection::serve(stream, router, limits, registered, stopping, slot).await;
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it closes.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}
