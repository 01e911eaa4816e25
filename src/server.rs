//! Listeners: accept with a bound on open connections, serve HTTP/1.1 with
//! hyper, and drain within `shutdown_timeout` when told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::cluster;
use crate::config::Config;
use crate::conn;
use crate::error::Error;
use crate::invalidate;
use crate::listener::Listener;
use crate::shutdown::Shutdown;
use crate::state::App;

/// A daemon whose store is open and whose sockets are bound, ready to serve.
pub struct Daemon {
    pub app: Arc<App>,
    listeners: Vec<Bound>,
}

impl Daemon {
    /// Opens the store (rebuilding its index from disk) and binds every
    /// listener. Nothing is accepted until [`Daemon::serve`].
    pub async fn start(config: Config) -> Result<Daemon, Error> {
        let listen = config.server.listen.clone();
        let admin = config.server.admin_listen;
        // Opening rebuilds the index from disk; the catch-up applies what
        // fell due while the daemon was down. Both before any request.
        let clock = Arc::new(Clock::from_env().map_err(Error::Runtime)?);
        Clock::follow_test_signal(&clock)?;
        let app = tokio::task::spawn_blocking(move || {
            let mut app = App::new(config, clock)?;
            invalidate::runner::catch_up(&app, app.clock.utc());
            app.cluster = cluster::open(&app.config())?;
            Ok::<_, Error>(app)
        })
        .await
        .map_err(|e| Error::Runtime(format!("opening the store: {e}")))??;
        let app = Arc::new(app);
        // What the other nodes invalidated while this one was down.
        cluster::follow::catch_up(&app).await;
        let listeners = bind(&listen, admin).await?;
        Ok(Daemon { app, listeners })
    }

    /// The bound address of the first listener of `kind`.
    pub fn addr(&self, kind: Listener) -> Option<SocketAddr> {
        self.addrs(kind).next()
    }

    /// The bound addresses of every listener of `kind`, in config order.
    pub fn addrs(&self, kind: Listener) -> impl Iterator<Item = SocketAddr> + '_ {
        self.listeners
            .iter()
            .filter(move |b| b.kind == kind)
            .map(|b| b.addr)
    }

    /// Serves until `shutdown`, then drains within `shutdown_timeout`.
    /// The schedules run alongside.
    pub async fn serve(self, shutdown: Shutdown) {
        let schedules = tokio::spawn(invalidate::runner::run(
            Arc::clone(&self.app),
            self.app.clock.utc(),
            shutdown.clone(),
        ));
        let sweeper = tokio::spawn(invalidate::runner::sweep(
            Arc::clone(&self.app),
            shutdown.clone(),
        ));
        let following = cluster::follow::spawn(&self.app);
        let sampler = tokio::spawn(crate::status::handler::sample(
            Arc::clone(&self.app),
            shutdown.clone(),
        ));
        let app = Arc::clone(&self.app);
        accept_all(self.app, self.listeners, shutdown).await;
        // Snapshots answered but still being written are written before
        // the checkpoint closes the store (bounded like the drain).
        let drain_timeout = app.config().server.shutdown_timeout;
        if tokio::time::timeout(drain_timeout, app.flights.idle())
            .await
            .is_err()
        {
            tracing::warn!("shutdown_timeout reached with snapshot fetches or writes under way");
        }
        schedules.abort();
        sweeper.abort();
        following
            .into_iter()
            .flatten()
            .for_each(|task| task.abort());
        sampler.abort();
        // The next start reads one file instead of every snapshot's header.
        match tokio::task::spawn_blocking(move || app.store.checkpoint()).await {
            Ok(Ok(count)) => tracing::info!(snapshots = count, "index checkpoint written"),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "no index checkpoint; the next start scans")
            }
            Err(err) => tracing::warn!(error = %err, "no index checkpoint; the next start scans"),
        }
    }
}

/// The largest request head accepted; a larger one gets 431 (SPEC §3).
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Header fields accepted; more get 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// The listen queue's length (the kernel caps it at `net.core.somaxconn`).
/// Rust's default, 128, overflows when a herd of fresh connections arrives
/// at once: the kernel then drops SYNs, and the clients retry after a
/// second. nginx asks for 511, Varnish for 1024.
const BACKLOG: u32 = 1024;

/// A bound listening socket and what it serves.
pub struct Bound {
    pub listener: TcpListener,
    pub kind: Listener,
    pub addr: SocketAddr,
}

/// Binds every listen address of the config (main listeners, then admin).
pub async fn bind(main: &[SocketAddr], admin: Option<SocketAddr>) -> std::io::Result<Vec<Bound>> {
    let mut bound = Vec::new();
    let all = main
        .iter()
        .map(|a| (*a, Listener::Main))
        .chain(admin.map(|a| (a, Listener::Admin)));
    for (addr, kind) in all {
        let listener = listen(addr)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        let addr = listener.local_addr()?;
        bound.push(Bound {
            listener,
            kind,
            addr,
        });
    }
    Ok(bound)
}

/// A listening socket on `addr` (`SO_REUSEADDR`, as `TcpListener::bind`
/// sets it) with a listen queue of [`BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Runs the accept loop of every listener until shutdown, then drains.
async fn accept_all(app: Arc<App>, listeners: Vec<Bound>, shutdown: Shutdown) {
    let mut tasks = Vec::new();
    for bound in listeners {
        tasks.push(tokio::spawn(accept_loop(
            Arc::clone(&app),
            bound,
            shutdown.clone(),
        )));
    }
    for task in tasks {
        let _ = task.await;
    }
}

async fn accept_loop(app: Arc<App>, bound: Bound, mut shutdown: Shutdown) {
    let config = app.config();
    let max = config.server.max_connections.max(1);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.server.header_timeout)
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEAD)
        // Bodies go out by writev from the snapshot's bytes instead of being
        // copied into hyper's buffer first.
        .writev(true);
    let settings = Arc::new(conn::Settings {
        builder,
        header_timeout: config.server.header_timeout,
    });
    drop(config);
    let slots = Arc::new(Semaphore::new(max));
    let Bound { listener, kind, .. } = bound;

    loop {
        // Beyond max_connections, stop accepting: new connections wait in
        // the kernel's backlog until one closes.
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => permit.expect("connection semaphore is never closed"),
            _ = shutdown.wait() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors (EMFILE/ENFILE) or a connection that
                // died in the backlog: pause briefly, keep serving.
                tracing::warn!(error = %err, "accept failed; pausing");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let settings = Arc::clone(&settings);
        let conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            conn::serve(app, stream, peer, kind, settings, conn_shutdown).await;
            drop(permit);
        });
    }
    drop(listener);
    // Read now, not at the start: a reload may have changed it.
    let drain_timeout = app.config().server.shutdown_timeout;
    // Every open connection holds a slot: all slots back means drained.
    let drained = tokio::time::timeout(drain_timeout, slots.acquire_many(max as u32)).await;
    if drained.is_err() {
        tracing::warn!("shutdown_timeout reached with connections still open");
    }
}
