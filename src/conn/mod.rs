//! A visitor's connection, read by the daemon's own loop: it reads each
//! request head itself (`head`), answers what it can from prepared bytes
//! (`hit`), forwards a plain pass-through to the app as bytes (`pass`),
//! and hands every other request, in order, to hyper on the same
//! connection (`relay`).
//!
//! Why not hyper alone: hyper makes a `HeaderMap` of every request and
//! encodes every response from one, and a HIT's answer is bytes known in
//! advance, as a plain GET to the app is bytes in and bytes out. Why not
//! without hyper: everything else (bodies streamed up, upgrades, the admin
//! endpoints, webhooks, errors) is HTTP that hyper already does right.

pub(crate) mod answer;
mod carry;
mod head;
mod hit;
mod pass;
mod relay;
mod wait;

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpStream;

use crate::body::Body;
use crate::fetch::pool::Held;
use crate::listener::Listener;
use crate::router;
use crate::sendfile::{self, Conn, Spans};
use crate::shutdown::Shutdown;
use crate::state::{App, ConfigCache};
use head::{Framing, Parsed};
use relay::{lock, Handle, Link, Open, Tracked};
use wait::{HeadTimer, Stopping};

/// What every connection of a listener is served with, made once when the
/// listener starts (a reload changes neither: operations.md).
pub struct Settings {
    /// hyper's HTTP/1 server, for the requests the loop hands on.
    pub builder: http1::Builder,
    /// How long a request head may take, idle time before it included.
    pub header_timeout: Duration,
}

/// Serves one visitor connection until it closes, times out or the daemon
/// stops (the request under way is answered first).
pub async fn serve(
    app: Arc<App>,
    stream: TcpStream,
    peer: SocketAddr,
    kind: Listener,
    settings: Arc<Settings>,
    shutdown: Shutdown,
) {
    let stream = Arc::new(stream);
    // Large snapshot bodies of this connection's responses go out from
    // their files (see `sendfile`).
    let spans = Spans::default();
    let shared = Handle::default();
    // The app connections this connection's pass-through requests go out
    // on (`fetch::pool`): hyper's, and the loop's own (`pass`).
    let held = Arc::new(Held::new(&app.upstreams));
    let service = {
        let shared = Arc::clone(&shared);
        let spans = spans.clone();
        let held = Arc::clone(&held);
        let app = Arc::clone(&app);
        service_fn(move |req| {
            let open = Open::new(&shared);
            let app = Arc::clone(&app);
            let spans = spans.clone();
            let held = Arc::clone(&held);
            async move {
                let res = router::handle(app, req, peer, kind, &held).await;
                if let Body::File(Some(file)) = res.body() {
                    spans.offer(file);
                }
                Ok::<_, std::convert::Infallible>(res.map(|body| Tracked { body, _open: open }))
            }
        })
    };
    let mut hyper = None;
    let mut visitor = Visitor {
        app: Arc::clone(&app),
        kind,
        peer,
        stream: Arc::clone(&stream),
        buf: BytesMut::new(),
        eof: false,
        config: app.config_cache(),
        stopping: Stopping::new(shutdown),
        timer: HeadTimer::new(settings.header_timeout),
        scratch: pass::Scratch::default(),
    };
    loop {
        // A unit of the task's budget per request, whoever answers it:
        // the loop's reads and sends take none (they wait only when the
        // socket would block), so a visitor that pipelines requests could
        // otherwise keep the worker from every other connection.
        tokio::task::consume_budget().await;
        // What hyper is handed: the bytes it reads first, the body bytes
        // it reads on from the socket, what stays for the loop, and
        // whether the connection is hyper's for good.
        let (feed, body_left, ahead, through) = match visitor.next_head().await {
            None => return,
            Some(Next::Hit { hit, len }) => {
                visitor.buf.advance(len);
                if hit.send(&stream).await.is_err() || hit.close || visitor.stopping.now() {
                    return;
                }
                continue;
            }
            Some(Next::Pass { pass, len }) => {
                visitor.buf.advance(len);
                let keep = pass.run(&app, &held, &stream, &mut visitor.scratch).await;
                visitor.scratch.request = pass.into_buffer();
                if !keep || visitor.stopping.now() {
                    return;
                }
                continue;
            }
            Some(Next::Head { len, body }) => {
                let mut buf = std::mem::take(&mut visitor.buf);
                let with = (buf.len() - len).min(usize::try_from(body).unwrap_or(usize::MAX));
                let feed = buf.split_to(len + with);
                (feed, body - with as u64, buf, false)
            }
            Some(Next::Hyper) => (std::mem::take(&mut visitor.buf), 0, BytesMut::new(), true),
        };
        let conn = hyper.get_or_insert_with(|| {
            let link = Link {
                conn: Conn::shared(Arc::clone(&stream), spans.clone()),
                shared: Arc::clone(&shared),
            };
            Box::pin(
                settings
                    .builder
                    .serve_connection(link, service.clone())
                    .with_upgrades(),
            )
        });
        {
            let mut shared = lock(&shared);
            shared.through = through;
            shared.give(feed, body_left, ahead);
        }
        match drive(conn.as_mut(), &shared, &mut visitor.stopping).await {
            Driven::Closed => return,
            Driven::Idle => {
                let mut shared = lock(&shared);
                visitor.buf = std::mem::take(&mut shared.ahead);
                visitor.eof |= shared.eof;
            }
        }
        if visitor.stopping.now() {
            return;
        }
    }
}

/// Bytes a read of the visitor's socket asks for, at least and when the
/// buffer grows.
const READ_MIN: usize = 1024;
const READ_SIZE: usize = 8192;

/// The next request, as the loop passes it on.
enum Next {
    /// A HIT, answered by the loop; its head is `len` bytes.
    Hit { hit: hit::Hit, len: usize },
    /// A plain pass-through, forwarded by the loop; its head is `len` bytes.
    Pass { pass: pass::Pass, len: usize },
    /// A head of `len` bytes, then `body` bytes of body.
    Head { len: usize, body: u64 },
    /// hyper reads the connection from here on.
    Hyper,
}

/// The loop's end of the connection.
struct Visitor {
    app: Arc<App>,
    kind: Listener,
    peer: SocketAddr,
    stream: Arc<TcpStream>,
    /// What was read and not yet handed on.
    buf: BytesMut,
    /// The visitor has closed its end: what is in `buf` is all.
    eof: bool,
    /// The configuration each request is read under.
    config: ConfigCache,
    stopping: Stopping,
    /// The header timeout (started for each head).
    timer: HeadTimer,
    /// Buffers of the pass-through requests the loop forwards.
    scratch: pass::Scratch,
}

impl Visitor {
    /// Reads until `buf` starts with a whole head. `None`: close the
    /// connection (the visitor left, the head took longer than
    /// `header_timeout`, the daemon stops, or the socket failed). A head
    /// partly read is dropped with the connection, as hyper does.
    async fn next_head(&mut self) -> Option<Next> {
        let mut armed = false;
        loop {
            let mut slots = head::slots();
            // Between two requests the buffer is empty: nothing to parse.
            let parsed = if self.buf.is_empty() {
                Parsed::Partial
            } else {
                head::parse(&self.buf, &mut slots)
            };
            match parsed {
                Parsed::Head(head) => {
                    let config = self.config.load();
                    if let Some(hit) = hit::answer(&self.app, config, &head, self.kind) {
                        return Some(Next::Hit { hit, len: head.len });
                    }
                    let buffer = &mut self.scratch.request;
                    if let Some(pass) = pass::request(config, &head, self.kind, self.peer, buffer) {
                        return Some(Next::Pass {
                            pass,
                            len: head.len,
                        });
                    }
                    return Some(match head.framing {
                        Framing::None => Next::Head {
                            len: head.len,
                            body: 0,
                        },
                        Framing::Length(body) => Next::Head {
                            len: head.len,
                            body,
                        },
                        Framing::Hyper => Next::Hyper,
                    });
                }
                Parsed::Hyper => return Some(Next::Hyper),
                Parsed::Partial if self.eof => return None,
                Parsed::Partial => {}
            }
            // Room for a head or more; grown (or moved back to the start
            // of its allocation) only when short of that.
            if self.buf.capacity() - self.buf.len() < READ_MIN {
                self.buf.reserve(READ_SIZE);
            }
            match self.read(&mut armed).await {
                Read::Got(n) => {
                    // SAFETY: recv wrote these bytes.
                    unsafe { self.buf.set_len(self.buf.len() + n) };
                }
                Read::End => self.eof = true,
                Read::Over => return None,
            }
        }
    }

    /// One read into `buf`'s spare room, waiting for bytes when there are
    /// none yet: the header timer is started at the first wait for a head
    /// (`armed`), so that idle time counts.
    ///
    /// Bytes are tried for before the socket's readiness is asked: after
    /// a wake-up that is the one readiness check of the request (tokio's
    /// `try_io` knows without a system call when there is nothing).
    async fn read(&mut self, armed: &mut bool) -> Read {
        let Visitor {
            stream,
            buf,
            stopping,
            timer,
            ..
        } = self;
        poll_fn(|cx| loop {
            match sendfile::try_recv(stream, buf.spare_capacity_mut()) {
                Ok(0) => return Poll::Ready(Read::End),
                Ok(n) => return Poll::Ready(Read::Got(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Poll::Ready(Read::Over),
            }
            if !*armed {
                timer.start();
                *armed = true;
            }
            match stream.poll_read_ready(cx) {
                // Readiness came since the try: try again.
                Poll::Ready(Ok(_)) => continue,
                Poll::Ready(Err(_)) => return Poll::Ready(Read::Over),
                Poll::Pending => {}
            }
            // The socket's waker is registered; the stop's and the
            // timer's stay registered from earlier waits.
            if stopping.poll(cx) || timer.expired(cx) {
                return Poll::Ready(Read::Over);
            }
            return Poll::Pending;
        })
        .await
    }
}

/// What a read of the visitor's socket gave.
enum Read {
    /// This many bytes.
    Got(usize),
    /// The visitor closed its end.
    End,
    /// Close the connection: the socket failed, the head took too long, or
    /// the daemon stops.
    Over,
}

/// How a turn of hyper's ended.
enum Driven {
    /// It answered what it was given and waits for more.
    Idle,
    /// The connection is over (closed, failed, or upgraded).
    Closed,
}

/// Runs hyper until it has answered what it was given, or the connection
/// ends. When hyper has the connection for good ([`relay::Shared::through`]),
/// a stop asks it to end after the answer under way; otherwise the loop
/// closes the connection once the answer is out (`serve`).
async fn drive<S>(
    mut conn: Pin<&mut http1::UpgradeableConnection<Link, S>>,
    shared: &Handle,
    stopping: &mut Stopping,
) -> Driven
where
    S: hyper::service::HttpService<Incoming, ResBody = Tracked>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut graceful = false;
    let through = lock(shared).through;
    poll_fn(|cx| {
        if through && !graceful && stopping.poll(cx) {
            graceful = true;
            conn.as_mut().graceful_shutdown();
        }
        if conn.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Driven::Closed);
        }
        if lock(shared).idle() {
            return Poll::Ready(Driven::Idle);
        }
        Poll::Pending
    })
    .await
}
