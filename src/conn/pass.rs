//! Pass-through forwarded by the connection loop itself: a plain GET or
//! HEAD for the app goes out as bytes on an app connection the loop reads
//! and writes itself (`fetch::pool::RawConn`), and the app's answer comes
//! back the same way, head rewritten (`answer`), body relayed as it
//! arrives. No `HeaderMap`, no hyper on either side, no task between the
//! visitor and the app: what nginx's `proxy_pass` does per request.
//!
//! Plain means: HTTP/1.1, no body, an origin-form target the router passes
//! through (`router::is_proxied`), exactly one `Host`, `Connection` only
//! `keep-alive` or `close`, at most one `X-Forwarded-For` of visible ASCII,
//! no `Expect`, no access log to write. Anything else goes to hyper and
//! `proxy::forward`, and both send the app the same request and the
//! visitor the same answer (`tests/conn_pass.rs` compares them).

use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};

use bytes::Buf;
use http::Method;
use tokio::net::TcpStream;

use super::answer::{self, Answer, Chunks, DateLine, Framing, Parsed};
use super::head::Head;
use super::hit::write_all;
use crate::body::Body;
use crate::fetch::pool::{Held, RawConn};
use crate::headers;
use crate::listener::Listener;
use crate::proxy::IpText;
use crate::respond::Own;
use crate::router;
use crate::sendfile;
use crate::state::App;

/// Read from the app at a time.
const READ: usize = 32 * 1024;
/// The largest head buffer a connection keeps between its requests.
const KEEP_BUFFER: usize = 8 * 1024;

/// `buf` if it is small enough to keep, else a new one.
fn kept(buf: Vec<u8>) -> Vec<u8> {
    if buf.capacity() <= KEEP_BUFFER {
        buf
    } else {
        Vec::new()
    }
}

/// The buffers a connection's pass-through requests write into, kept
/// from one request to the next.
#[derive(Default)]
pub struct Scratch {
    /// A request head for the app.
    pub request: Vec<u8>,
    /// An answer head for the visitor.
    answer: Vec<u8>,
    date: DateLine,
}

/// A request the loop forwards, as it goes to the app.
pub struct Pass {
    head: Vec<u8>,
    /// Where the target is in `head`, for the log.
    target: std::ops::Range<usize>,
    head_only: bool,
    /// The visitor asked to close after this answer.
    pub close: bool,
}

/// The request at the head of the connection, ready for the app, when it
/// is a plain pass-through; else `None` (hyper forwards it).
pub fn request(
    app: &App,
    head: &Head<'_>,
    listener: Listener,
    peer: SocketAddr,
    buffer: &mut Vec<u8>,
) -> Option<Pass> {
    let method = head.plain_read()?;
    let target = head.target;
    let config = app.config();
    if router::is_observed(config.server.access_log)
        || config.upstream.url.scheme_str() != Some("http")
    {
        return None;
    }
    if !router::is_proxied(&head.asked(&method), &config, listener) {
        return None;
    }
    drop(config);

    let mut host = None;
    let mut hosts = 0;
    let mut forwarded_for = None;
    let mut proto = false;
    let mut forwarded_host = false;
    let mut close = false;
    for field in head.fields {
        let name = field.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            host = Some(field.value);
        } else if name.eq_ignore_ascii_case("connection") {
            if field.value.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if !field.value.eq_ignore_ascii_case(b"keep-alive") {
                return None;
            }
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            let visible = field.value.iter().all(|b| matches!(b, b'\t' | b' '..=b'~'));
            if forwarded_for.is_some() || !visible {
                return None;
            }
            forwarded_for = Some(field.value);
        } else if name.eq_ignore_ascii_case("x-forwarded-proto") {
            proto = true;
        } else if name.eq_ignore_ascii_case("x-forwarded-host") {
            forwarded_host = true;
        } else if name.eq_ignore_ascii_case("expect") {
            return None;
        }
    }
    if hosts != 1 {
        return None;
    }

    let mut out = std::mem::take(buffer);
    out.clear();
    out.reserve(head.len + 96);
    let target_at = head.method.len() + 1..head.method.len() + 1 + target.len();
    for part in [head.method, " ", target, " HTTP/1.1\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    for field in head.fields {
        let name = field.name;
        if headers::is_hop_by_hop(name) || name.eq_ignore_ascii_case("x-forwarded-for") {
            continue;
        }
        field_line(&mut out, name.as_bytes(), field.value);
    }
    out.extend_from_slice(b"x-forwarded-for: ");
    if let Some(prior) = forwarded_for {
        out.extend_from_slice(prior);
        out.extend_from_slice(b", ");
    }
    push_ip(&mut out, peer.ip());
    out.extend_from_slice(b"\r\n");
    if !proto {
        out.extend_from_slice(b"x-forwarded-proto: http\r\n");
    }
    if let (false, Some(host)) = (forwarded_host, host) {
        field_line(&mut out, b"x-forwarded-host", host);
    }
    out.extend_from_slice(b"\r\n");
    Some(Pass {
        head: out,
        target: target_at,
        head_only: method == Method::HEAD,
        close,
    })
}

fn field_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    out.extend_from_slice(IpText::new().of(ip));
}

/// Why a pass-through ended without a whole answer relayed.
enum Failed {
    /// Nothing reached the visitor: the daemon answers this.
    Before(Own, String),
    /// The answer was cut off: the visitor's connection must close.
    During,
}

impl Pass {
    /// Forwards the request and relays the answer. True when the visitor's
    /// connection can take its next request.
    pub async fn run(
        &self,
        app: &App,
        held: &Held,
        visitor: &TcpStream,
        scratch: &mut Scratch,
    ) -> bool {
        let config = app.config_owned();
        let asked = answer::Asked {
            head_only: self.head_only,
            close: self.close,
            tags_header: config.preload.tags_header.as_str(),
        };
        let upstream = &config.upstream.url;
        let done = self
            .exchange(app, held, upstream, &asked, visitor, scratch)
            .await;
        scratch.answer = kept(std::mem::take(&mut scratch.answer));
        match done {
            Ok(()) => !self.close,
            Err(Failed::During) => false,
            Err(Failed::Before(own, error)) => {
                tracing::warn!(
                    target = %String::from_utf8_lossy(&self.head[self.target.clone()]),
                    upstream = %upstream,
                    error = %error,
                    "pass-through failed"
                );
                let bytes = own_answer(&own, self.head_only, self.close, &mut scratch.date);
                write_all(visitor, &mut [IoSlice::new(&bytes)], 0)
                    .await
                    .is_ok()
                    && !self.close
            }
        }
    }

    /// The request's buffer, for the next request's head: kept only if
    /// small, so that a connection idle after one large head holds little.
    pub fn into_buffer(self) -> Vec<u8> {
        kept(self.head)
    }

    async fn exchange(
        &self,
        app: &App,
        held: &Held,
        upstream: &http::Uri,
        asked: &answer::Asked<'_>,
        visitor: &TcpStream,
        scratch: &mut Scratch,
    ) -> Result<(), Failed> {
        let mut fresh = false;
        loop {
            let (mut conn, reused) = match app.upstreams.raw(held, upstream, fresh).await {
                Ok(got) => got,
                Err(err) => return Err(Failed::Before(Own::UpstreamUnavailable, err.to_string())),
            };
            conn.buf.clear();
            let sent = write_all(&conn.stream, &mut [IoSlice::new(&self.head)], 0).await;
            let answer = match sent {
                Ok(()) => read_answer(&mut conn, asked, scratch).await,
                Err(err) => Err(Unanswered::Closed(err.to_string())),
            };
            match answer {
                Ok(answer) => return relay(held, conn, answer, &scratch.answer, visitor).await,
                // A kept connection the app closed: once more, on a new one
                // (GET and HEAD may be sent again).
                Err(Unanswered::Closed(_)) if reused => fresh = true,
                Err(Unanswered::Closed(error)) => {
                    return Err(Failed::Before(Own::BadUpstreamResponse, error))
                }
                Err(Unanswered::Bad(reason)) => {
                    return Err(Failed::Before(Own::BadUpstreamResponse, reason.into()))
                }
            }
        }
    }
}

/// Why no answer head came.
enum Unanswered {
    /// The connection ended (or failed) before any byte of an answer.
    Closed(String),
    /// An answer this daemon does not relay, or one cut off in its head.
    Bad(&'static str),
}

/// Reads the app's answer head into `conn.buf`, interim answers dropped.
async fn read_answer(
    conn: &mut RawConn,
    asked: &answer::Asked<'_>,
    scratch: &mut Scratch,
) -> Result<Answer, Unanswered> {
    let mut got_any = false;
    loop {
        if !conn.buf.is_empty() {
            match answer::parse(&conn.buf, asked, &mut scratch.date, &mut scratch.answer) {
                Parsed::Answer(answer) => return Ok(answer),
                Parsed::Interim(len) => {
                    conn.buf.advance(len);
                    continue;
                }
                Parsed::Bad(reason) => return Err(Unanswered::Bad(reason)),
                Parsed::Partial => {}
            }
        }
        match recv(conn).await {
            Ok(0) if !got_any => return Err(Unanswered::Closed("closed before answering".into())),
            Ok(0) => return Err(Unanswered::Bad("answer head cut off")),
            Ok(_) => got_any = true,
            Err(err) if !got_any => return Err(Unanswered::Closed(err.to_string())),
            Err(_) => return Err(Unanswered::Bad("answer head cut off")),
        }
    }
}

/// Reads what the app sent next onto `conn.buf`; 0 at its end.
async fn recv(conn: &mut RawConn) -> std::io::Result<usize> {
    conn.buf.reserve(READ);
    let stream = &conn.stream;
    let buf = &mut conn.buf;
    let n = std::future::poll_fn(|cx| sendfile::poll_recv(stream, cx, buf.spare_capacity_mut()))
        .await?;
    // SAFETY: recv wrote these `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Sends the visitor the answer's head and its body as it comes; the app
/// connection is kept when the body ended where its framing said.
async fn relay(
    held: &Held,
    mut conn: RawConn,
    answer: Answer,
    head: &[u8],
    visitor: &TcpStream,
) -> Result<(), Failed> {
    conn.buf.advance(answer.len);
    let mut head = head;
    let mut reusable = answer.reusable;
    match answer.framing {
        Framing::None => {
            send(visitor, &[head]).await?;
        }
        Framing::Length(len) => {
            let mut left = len;
            loop {
                let n = left.min(conn.buf.len() as u64) as usize;
                send(visitor, &[head, &conn.buf[..n]]).await?;
                head = &[];
                conn.buf.advance(n);
                left -= n as u64;
                if left == 0 {
                    break;
                }
                more(&mut conn).await?;
            }
        }
        Framing::Chunked => {
            let mut chunks = Chunks::default();
            loop {
                let n = chunks.take(&conn.buf).map_err(|_| Failed::During)?;
                send(visitor, &[head, &conn.buf[..n]]).await?;
                head = &[];
                conn.buf.advance(n);
                if chunks.done() {
                    break;
                }
                more(&mut conn).await?;
            }
        }
        Framing::Close => {
            reusable = false;
            loop {
                if !conn.buf.is_empty() {
                    let size = format!("{:x}\r\n", conn.buf.len());
                    send(visitor, &[head, size.as_bytes(), &conn.buf, b"\r\n"]).await?;
                    head = &[];
                    conn.buf.clear();
                }
                if recv(&mut conn).await.map_err(|_| Failed::During)? == 0 {
                    break;
                }
            }
            send(visitor, &[head, b"0\r\n\r\n"]).await?;
        }
    }
    // Bytes past the answer's end: not an app connection to reuse.
    if reusable && conn.buf.is_empty() {
        held.keep_raw(conn);
    }
    Ok(())
}

/// More of the body; its end before the framing's is a cut-off answer.
async fn more(conn: &mut RawConn) -> Result<(), Failed> {
    match recv(conn).await {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(Failed::During),
    }
}

async fn send(visitor: &TcpStream, parts: &[&[u8]]) -> Result<(), Failed> {
    let mut slices = [IoSlice::new(&[]); 4];
    let mut count = 0;
    for part in parts.iter().filter(|p| !p.is_empty()) {
        slices[count] = IoSlice::new(part);
        count += 1;
    }
    if count == 0 {
        return Ok(());
    }
    write_all(visitor, &mut slices[..count], 0)
        .await
        .map_err(|_| Failed::During)
}

/// The daemon's own answer as bytes: its status, fields and text, with
/// the length, `Date`, and `Connection: close` when closing.
fn own_answer(own: &Own, head_only: bool, close: bool, date: &mut DateLine) -> Vec<u8> {
    let res = own.response();
    let body = match res.body() {
        Body::Full(Some(bytes)) => bytes.clone(),
        _ => bytes::Bytes::new(),
    };
    let status = res.status();
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in res.headers() {
        field_line(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(date.line());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&body);
    }
    out
}
