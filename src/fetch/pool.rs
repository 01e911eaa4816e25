//! The pass-through proxy's connections to the app: hyper's HTTP/1.1
//! client connections, kept alive, without a pool keyed by hash.
//!
//! A visitor connection keeps the app connection its last request went out
//! on ([`Held`]): the next request on it takes that one again, with no
//! look-up, no shared lock and no task spawned to wait for the connection
//! to be free (a visitor's requests come one at a time, so by the next one
//! the app has finished the last answer). When the visitor's connection
//! closes, its app connection goes to the shared idle list, which keeps at
//! most [`KEEP_IDLE`] (the oldest go first) and closes each after
//! [`IDLE_TIMEOUT`] unused; a new visitor connection takes the newest.
//! At most [`KEEP_HELD`] app connections are held that way at once: past
//! it, a visitor connection's app connection goes back to the idle list
//! after each answer, so that thousands of idle keep-alive visitors (a
//! site without a front proxy) never hold thousands of connections to the
//! app. So the app sees the connections of requests in progress, plus at
//! most [`KEEP_HELD`] held and [`KEEP_IDLE`] idle ones.
//!
//! The same bounds hold for the connection loop's own app connections
//! ([`RawConn`]: plain sockets it writes requests to and reads answers
//! from itself, `conn::pass`), which a visitor connection holds beside
//! its hyper one: the held ones count against the same [`KEEP_HELD`],
//! and they have an idle list of their own, of [`KEEP_IDLE`] too.
//!
//! Each hyper app connection is driven by its own task, which notices when
//! the app closes it. A request that goes out on a kept connection the app
//! closed before reading it is sent again, once, on a new one (hyper hands
//! back a request it did not write).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::BytesMut;
use http::uri::Authority;
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tower_service::Service;

use crate::body::{Body, BoxError};
use crate::connector::Connector;

pub use super::shelf::RawConn;
use super::shelf::{Reusable, Shelf};

/// Idle app connections kept beyond those visitor connections hold.
pub const KEEP_IDLE: usize = 32;
/// App connections visitor connections may hold between their requests.
pub const KEEP_HELD: usize = 256;
/// An idle app connection unused this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP/1.1 connection to the app.
pub struct Conn {
    sender: SendRequest<Body>,
    /// `host:port` it was opened to: a reload may point the daemon at
    /// another app.
    authority: Authority,
}

impl Reusable for Conn {
    fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    fn authority(&self) -> &Authority {
        &self.authority
    }
}

/// Why a request got no answer from the app.
#[derive(Debug)]
pub enum SendError {
    /// No connection to the app (refused, unreachable, `connect_timeout`).
    Connect(BoxError),
    /// The app's answer was not HTTP, or the connection broke.
    Exchange(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(err) => write!(f, "connect: {}", super::source_chain(&**err)),
            SendError::Exchange(err) => f.write_str(&super::source_chain(err)),
        }
    }
}

/// The idle app connections and the way to open new ones.
pub struct Pool {
    connector: Connector,
    idle: Shelf<Conn>,
    raw: Shelf<RawConn>,
    /// Set once the task that closes expired idle connections runs.
    sweeping: AtomicBool,
    /// App connections held by visitor connections now ([`Held`]).
    held: AtomicUsize,
}

impl Pool {
    pub fn new(connector: Connector) -> Arc<Pool> {
        Arc::new(Pool {
            connector,
            idle: Shelf::new(),
            raw: Shelf::new(),
            sweeping: AtomicBool::new(false),
            held: AtomicUsize::new(0),
        })
    }

    /// Idle connections kept now (hyper's and the loop's).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().len() + self.raw.lock().len()
    }

    /// Connections held by visitor connections now.
    pub fn held_count(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    fn take(&self, authority: &Authority) -> Option<Conn> {
        self.idle.take(authority)
    }

    /// Keeps `conn` idle, within [`KEEP_IDLE`].
    fn put(self: &Arc<Self>, conn: Conn) {
        if self.idle.put(conn) {
            self.start_sweeping();
        }
    }

    fn put_raw(self: &Arc<Self>, conn: RawConn) {
        if self.raw.put(conn) {
            self.start_sweeping();
        }
    }

    /// Closes the idle connections unused for [`IDLE_TIMEOUT`] at `now`.
    fn sweep(&self, now: Instant) {
        self.idle.sweep(now);
        self.raw.sweep(now);
    }

    fn start_sweeping(self: &Arc<Self>) {
        if self.sweeping.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.sweeping.store(false, Ordering::Relaxed);
            return;
        };
        let pool: Weak<Pool> = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(IDLE_TIMEOUT / 6);
            loop {
                tick.tick().await;
                let Some(pool) = pool.upgrade() else { return };
                pool.sweep(Instant::now());
            }
        });
    }

    /// Opens a connection to the app at `upstream` (its scheme and
    /// authority; the connect timeout is the connector's).
    async fn connect(&self, upstream: &Uri, authority: &Authority) -> Result<Conn, SendError> {
        let io = self.open(upstream).await?;
        let (sender, connection) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|e| SendError::Connect(e.into()))?;
        tokio::spawn(async move {
            if let Err(err) = connection.with_upgrades().await {
                tracing::debug!(error = %super::source_chain(&err), "app connection ended");
            }
        });
        Ok(Conn {
            sender,
            authority: authority.clone(),
        })
    }

    /// A TCP connection to the app at `upstream`.
    async fn open(&self, upstream: &Uri) -> Result<TokioIo<TcpStream>, SendError> {
        let connecting = self.connector.clone().call(upstream.clone());
        connecting.await.map_err(SendError::Connect)
    }

    /// An app connection for the loop's own requests: the one `held`
    /// keeps, an idle one, or (`fresh`, or none kept) a new one. `Ok` with
    /// whether it was used before.
    pub async fn raw(
        &self,
        held: &Held,
        upstream: &Uri,
        fresh: bool,
    ) -> Result<(RawConn, bool), SendError> {
        let Some(authority) = upstream.authority() else {
            return Err(SendError::Connect("the upstream URL has no host".into()));
        };
        if !fresh {
            let kept = held
                .take_raw(authority)
                .or_else(|| self.raw.take(authority));
            if let Some(conn) = kept {
                return Ok((conn, true));
            }
        }
        let io = self.open(upstream).await?;
        let conn = RawConn {
            stream: io.into_inner(),
            buf: BytesMut::new(),
            authority: authority.clone(),
        };
        Ok((conn, false))
    }

    /// Sends `req` (origin-form, with its `Host`) to the app at
    /// `upstream` on the connection `held` keeps, an idle one, or a new
    /// one. The connection is handed back with the answer: give it to
    /// [`Held::keep`] unless the answer ends it (101).
    pub async fn send(
        &self,
        held: &Held,
        upstream: &Uri,
        mut req: Request<Body>,
    ) -> Result<(Response<Incoming>, Conn), SendError> {
        let Some(authority) = upstream.authority() else {
            return Err(SendError::Connect("the upstream URL has no host".into()));
        };
        let mut kept = held.take(authority).or_else(|| self.take(authority));
        loop {
            let reused = kept.is_some();
            let mut conn = match kept.take() {
                Some(conn) => conn,
                // Boxed: a connect is rare, and its future would make
                // every request's as large as itself.
                None => Box::pin(self.connect(upstream, authority)).await?,
            };
            match conn.sender.try_send_request(req).await {
                Ok(res) => return Ok((res, conn)),
                Err(mut err) => match err.take_message() {
                    // Not written: the app closed the kept connection
                    // first. Once more, on a new one.
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(SendError::Exchange(err.into_error())),
                },
            }
        }
    }
}

/// The app connections a visitor connection keeps between its requests
/// (a hyper one and a raw one); they go to the pool's idle lists when the
/// visitor's connection closes.
pub struct Held {
    pool: Arc<Pool>,
    conn: Mutex<Option<Conn>>,
    raw: Mutex<Option<RawConn>>,
}

impl Held {
    pub fn new(pool: &Arc<Pool>) -> Held {
        Held {
            pool: Arc::clone(pool),
            conn: Mutex::new(None),
            raw: Mutex::new(None),
        }
    }

    fn take(&self, authority: &Authority) -> Option<Conn> {
        self.take_from(&self.conn, authority)
    }

    fn take_raw(&self, authority: &Authority) -> Option<RawConn> {
        self.take_from(&self.raw, authority)
    }

    fn take_from<C: Reusable>(&self, slot: &Mutex<Option<C>>, authority: &Authority) -> Option<C> {
        let conn = slot.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        self.pool.held.fetch_sub(1, Ordering::Relaxed);
        conn.usable_for(authority).then_some(conn)
    }

    /// Keeps `conn` for this visitor connection's next request, or, with
    /// [`KEEP_HELD`] held already, gives it to the idle list.
    pub fn keep(&self, conn: Conn) {
        self.keep_in(&self.conn, conn, |pool, conn| pool.put(conn));
    }

    /// [`Held::keep`] for the loop's own app connection.
    pub fn keep_raw(&self, conn: RawConn) {
        self.keep_in(&self.raw, conn, |pool, conn| pool.put_raw(conn));
    }

    fn keep_in<C>(&self, slot: &Mutex<Option<C>>, conn: C, put: impl Fn(&Arc<Pool>, C)) {
        let held = &self.pool.held;
        if held.fetch_add(1, Ordering::Relaxed) >= KEEP_HELD {
            held.fetch_sub(1, Ordering::Relaxed);
            put(&self.pool, conn);
            return;
        }
        let before = slot.lock().unwrap_or_else(|e| e.into_inner()).replace(conn);
        if let Some(before) = before {
            held.fetch_sub(1, Ordering::Relaxed);
            put(&self.pool, before);
        }
    }

    /// App connections held by visitor connections now (for tests).
    #[cfg(test)]
    fn held_count(&self) -> usize {
        self.pool.held.load(Ordering::Relaxed)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let held = &self.pool.held;
        if let Some(conn) = self
            .conn
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            held.fetch_sub(1, Ordering::Relaxed);
            self.pool.put(conn);
        }
        if let Some(conn) = self.raw.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            held.fetch_sub(1, Ordering::Relaxed);
            self.pool.put_raw(conn);
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
