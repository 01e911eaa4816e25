//! A HIT answered from prepared bytes: the status line and fields made
//! once per snapshot (`respond::prepared::wire`), then `Age`, then the
//! body, in one `sendmsg` (a large body from its file by `sendfile`).
//!
//! Only a plain HIT is answered here: a GET or HEAD over HTTP/1.1 on a
//! preload target resolved before (`key::KeyCache`), fresh in memory, with
//! no validator, range or expectation, no `Connection` option but
//! `keep-alive` or `close`, and no access log to write. Any other request
//! is hyper's, and the router's decision is asked the same way for both
//! (`router::preload_skip`), so both answer a HIT with the same status,
//! fields and body (`tests/fast_hits.rs` compares them).

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use tokio::net::TcpStream;

use super::head::Head;
use crate::cached::{self, Freshness};
use crate::headers::SplitList;
use crate::listener::Listener;
use crate::metrics::RequestResult;
use crate::respond::{prepared, snapshot};
use crate::router;
use crate::sendfile;
use crate::state::App;
use crate::store::{FileBody, Lookup};

/// A HIT's answer, ready to send.
pub struct Hit {
    /// Status line and fields, `Age` excepted.
    head: Bytes,
    /// `Age`, `Connection: close` when closing, and the blank line.
    tail: [u8; 64],
    tail_len: usize,
    body: Option<HitBody>,
    /// The visitor asked to close after this answer.
    pub close: bool,
}

enum HitBody {
    Memory(Bytes),
    File(FileBody),
}

/// The answer when the request at the head of the connection is a plain
/// HIT, else `None` (hyper answers it).
pub fn answer(app: &Arc<App>, head: &Head<'_>, listener: Listener) -> Option<Hit> {
    let method = head.plain_read()?;
    let target = head.target;
    // The route first, as if with its one `Host` (checked below): most
    // requests that are not HITs are not preload requests either.
    let config = app.config();
    if router::is_observed(config.server.access_log) {
        return None;
    }
    let skip = router::preload_skip(&head.asked(&method), &config, listener)?;
    let mut hosts = 0;
    let mut close = false;
    for field in head.fields {
        let name = field.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("connection") {
            if field.value.eq_ignore_ascii_case(b"close") {
                close = true;
            } else if !field.value.eq_ignore_ascii_case(b"keep-alive") {
                return None;
            }
        } else if HYPERS.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            return None;
        }
    }
    if hosts != 1 {
        return None;
    }
    let resolved = app
        .keys
        .cached(&config, &target[skip..], |name| joined(head.fields, name))?;
    let grace = config.cache.grace;
    drop(config);
    let Lookup::Hot(found) = app.store.lookup_hot(&resolved.key) else {
        return None;
    };
    let now = app.clock.now();
    if cached::freshness(&found, now, grace) != Freshness::Fresh {
        return None;
    }
    app.metrics.request(RequestResult::Hit);

    let snap = &found.snapshot;
    let heads = snap.head.get_or_init(|| prepared::heads(snap));
    let wire = snap.wire.get_or_init(|| prepared::wire(snap, heads));
    let chosen = prepared::chosen_variant_of(snap, || list(head.fields, "accept-encoding"))
        .and_then(|i| Some((i + 1, wire.get(i + 1)?, &snap.variants.get(i)?.body)));
    let (representation, wire_head, body) = match chosen {
        Some(chosen) => chosen,
        None => (0, wire.first()?, &snap.body),
    };
    let body = (method == Method::GET).then(|| match &snap.file {
        Some(file) => file
            .body(representation, body.clone(), 0, now)
            .map_or_else(HitBody::Memory, HitBody::File),
        None => HitBody::Memory(body.clone()),
    });
    let mut hit = Hit {
        head: wire_head.clone(),
        tail: [0; 64],
        tail_len: 0,
        body,
        close,
    };
    hit.end(snapshot::age(snap, now));
    Some(hit)
}

/// Request fields whose answer is not a plain HIT: validators, ranges and
/// expectations.
const HYPERS: [&str; 5] = [
    "if-none-match",
    "if-modified-since",
    "range",
    "if-range",
    "expect",
];

impl Hit {
    /// Writes `Age`, the close and the blank line into `tail`.
    fn end(&mut self, age: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = age;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let close: &[u8] = if self.close {
            b"connection: close\r\n"
        } else {
            b""
        };
        let parts: [&[u8]; 5] = [b"age: ", &digits[at..], b"\r\n", close, b"\r\n"];
        for part in parts {
            self.tail[self.tail_len..self.tail_len + part.len()].copy_from_slice(part);
            self.tail_len += part.len();
        }
    }

    /// Sends the answer whole.
    pub async fn send(&self, stream: &TcpStream) -> io::Result<()> {
        let tail = &self.tail[..self.tail_len];
        match &self.body {
            None => {
                write_all(
                    stream,
                    &mut [IoSlice::new(&self.head), IoSlice::new(tail)],
                    0,
                )
                .await
            }
            Some(HitBody::Memory(body)) => {
                let mut bufs = [
                    IoSlice::new(&self.head),
                    IoSlice::new(tail),
                    IoSlice::new(body),
                ];
                write_all(stream, &mut bufs, 0).await
            }
            Some(HitBody::File(body)) => {
                // The head held back to share the body's first segment.
                let mut bufs = [IoSlice::new(&self.head), IoSlice::new(tail)];
                write_all(stream, &mut bufs, libc::MSG_MORE).await?;
                send_file(stream, body).await
            }
        }
    }
}

/// Writes every byte of `bufs` by `sendmsg` with `flags`.
pub(super) async fn write_all(
    stream: &TcpStream,
    mut bufs: &mut [IoSlice<'_>],
    flags: libc::c_int,
) -> io::Result<()> {
    while !bufs.is_empty() {
        let sent = poll_fn(|cx| {
            sendfile::poll_send(stream, cx, || sendfile::sendmsg(stream, bufs, flags))
        })
        .await?;
        if sent == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, sent);
    }
    Ok(())
}

/// Sends `body` from its file; should `sendfile` fail or stop, the rest
/// goes from memory (the same bytes, see `crate::sendfile`).
async fn send_file(stream: &TcpStream, body: &FileBody) -> io::Result<()> {
    let len = body.bytes.len();
    let mut sent = 0;
    while sent < len {
        let offset = body.offset + sent as u64;
        let n = poll_fn(|cx| sendfile::send_file(stream, cx, &body.file, offset, len - sent)).await;
        match n {
            Ok(n) if n > 0 => sent += n,
            _ => {
                let rest = &mut [IoSlice::new(&body.bytes[sent..])];
                return write_all(stream, rest, 0).await;
            }
        }
    }
    Ok(())
}

/// The elements of the request's `name` lines, as `headers::list_items`
/// gives them from a `HeaderMap`.
fn list<'a>(fields: &'a [httparse::Header<'a>], name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    fields
        .iter()
        .filter(move |f| f.name.eq_ignore_ascii_case(name))
        .flat_map(|f| SplitList::of(f.value))
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

/// The request's lines of `name` joined by ", ", as
/// `headers::joined_value` joins them from a `HeaderMap`.
fn joined(fields: &[httparse::Header<'_>], name: &HeaderName) -> Option<HeaderValue> {
    let mut lines = fields
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(name.as_str()));
    let mut value = lines.next()?.value.to_vec();
    for line in lines {
        value.extend_from_slice(b", ");
        value.extend_from_slice(line.value);
    }
    HeaderValue::from_bytes(&value).ok()
}
