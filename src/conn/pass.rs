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

use http::Method;
use tokio::net::TcpStream;

use super::answer::{self, DateLine};
use super::carry::{read_answer, relay, Unanswered};
use super::head::Head;
use super::hit::write_all;
use crate::body::Body;
use crate::config::Config;
use crate::fetch::pool::Held;
use crate::headers;
use crate::listener::Listener;
use crate::proxy::IpText;
use crate::respond::Own;
use crate::router;
use crate::state::App;

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
    pub(super) answer: Vec<u8>,
    pub(super) date: DateLine,
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
    config: &Config,
    head: &Head<'_>,
    listener: Listener,
    peer: SocketAddr,
    buffer: &mut Vec<u8>,
) -> Option<Pass> {
    let plain = head.plain_read()?;
    let target = head.target;
    if router::is_observed(config.server.access_log)
        || config.upstream.url.scheme_str() != Some("http")
    {
        return None;
    }
    if !router::is_proxied(&head.asked(&plain), config, listener) {
        return None;
    }

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
        head_only: plain.method == Method::HEAD,
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
pub(super) enum Failed {
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
