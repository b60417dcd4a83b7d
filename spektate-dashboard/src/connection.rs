//! One client connection: served over HTTP/1.1 with a deadline for each request header,
//! closed when idle too long, and closed early when a new client needs its place.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::serve::Limits;

/// While the server stops, a connection idle this long is closed whatever the idle timeout.
const IDLE_WHILE_STOPPING: Duration = Duration::from_secs(1);

/// The open connections, oldest first.
#[derive(Default)]
pub(crate) struct Open {
    next: AtomicU64,
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Open {
    /// Registers a connection just accepted; it counts as open until the returned value is
    /// dropped.
    pub(crate) fn add(self: &Arc<Self>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        self.lock().insert(id, conn.clone());
        Registered {
            open: self.clone(),
            id,
            conn,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the oldest connection that is not handling a request (waiting for a request
    /// header, or kept alive between requests), unless one picked earlier is still closing.
    pub(crate) fn evict_oldest_idle(&self) {
        let conns = self.lock();
        if conns.values().any(|c| c.evicted.load(Ordering::Acquire)) {
            return;
        }
        let Some(conn) = conns.values().find(|c| {
            c.handling.load(Ordering::Acquire) == 0 && !c.evicted.load(Ordering::Acquire)
        }) else {
            return;
        };
        conn.evicted.store(true, Ordering::Release);
        conn.evict.notify_one();
    }
}

/// A connection in [`Open`]; removed when dropped.
pub(crate) struct Registered {
    open: Arc<Open>,
    id: u64,
    conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.open.lock().remove(&self.id);
    }
}

/// What the server knows of one connection while it is open.
struct Conn {
    /// When it was accepted.
    since: Instant,
    /// When bytes last moved either way, in milliseconds after `since`.
    last_io_ms: AtomicU64,
    /// Requests being handled (0 or 1 with HTTP/1.1).
    handling: AtomicUsize,
    /// Set when it is picked to make room.
    evicted: AtomicBool,
    evict: Notify,
}

impl Conn {
    fn new() -> Self {
        Conn {
            since: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    fn touch(&self) {
        let ms = self.since.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
        self.last_io_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When it counts as idle if nothing happens before; a connection handling a request
    /// is never idle (the dashboard's own slowness is not the client's).
    fn idle_at(&self, idle: Duration) -> Instant {
        if self.handling.load(Ordering::Acquire) > 0 {
            return Instant::now() + idle;
        }
        self.since + Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed)) + idle
    }
}

/// Counts a request as being handled while alive; its end restarts the idle clock.
struct Handling(Arc<Conn>);

impl Handling {
    fn enter(conn: &Arc<Conn>) -> Self {
        conn.handling.fetch_add(1, Ordering::AcqRel);
        Handling(conn.clone())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.touch();
        self.0.handling.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that notes when bytes move.
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The answer to a request not answered within `deadline`: 503, send again later.
fn too_slow(deadline: Duration) -> axum::response::Response {
    tracing::warn!("a request was not answered within {deadline:?}");
    let mut r = crate::api::json(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({
            "error": format!(
                "the server could not answer within {} s (the store or a provider is slow or \
                 down); send the request again",
                deadline.as_secs_f64()
            ),
            "kind": "StoreError",
        }),
    );
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    r
}

/// Serves `stream` until the client leaves, a limit closes it, it is evicted to make room,
/// or (after `stop` turns true) its requests in flight are answered. Holds `slot` till then.
pub(crate) async fn serve(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    registered: Registered,
    mut stop: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    let _slot = slot;
    let conn = registered.conn.clone();
    let _registered = registered;
    let io = TokioIo::new(Watched {
        stream,
        conn: conn.clone(),
    });
    let handler = conn.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let handling = Handling::enter(&handler);
        let call = router.clone().oneshot(request);
        let deadline = limits.request_timeout;
        async move {
            let response = match tokio::time::timeout(deadline, call).await {
                Ok(response) => response,
                Err(_) => Ok(too_slow(deadline)),
            };
            drop(handling);
            response
        }
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        let idle = if stopping {
            limits.idle_timeout.min(IDLE_WHILE_STOPPING)
        } else {
            limits.idle_timeout
        };
        tokio::select! {
            done = connection.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!("connection closed: {e}");
                }
                return;
            }
            () = conn.evict.notified() => {
                if conn.handling.load(Ordering::Acquire) > 0 {
                    // A request arrived meanwhile: answer it; the server picks another.
                    conn.evicted.store(false, Ordering::Release);
                    continue;
                }
                tracing::debug!("closing an idle connection to make room for a new one");
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(conn.idle_at(idle)) => {
                if conn.idle_at(idle) <= Instant::now() {
                    tracing::debug!("closing a connection idle for {idle:?}");
                    return;
                }
            }
        }
    }
}
