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
use crate::config::Config;
use crate::headers::SplitList;
use crate::listener::Listener;
use crate::metrics::RequestResult;
use crate::respond::{prepared, snapshot};
use crate::router;
use crate::sendfile;
use crate::state::App;
use crate::store::{HeldFile, Lookup, Snapshot};

/// A HIT's answer, ready to send: parts of its snapshot, held by it.
pub struct Hit {
    snap: Arc<Snapshot>,
    /// The representation answered: 0 the identity body, `i + 1`
    /// `variants[i]` (the order of `Snapshot::wire`).
    representation: usize,
    /// `Age`, `Connection: close` when closing, and the blank line.
    tail: [u8; 64],
    tail_len: usize,
    body: HitBody,
    /// The visitor asked to close after this answer.
    pub close: bool,
}

enum HitBody {
    /// A HEAD's answer.
    None,
    Memory,
    /// From the snapshot's file, at this offset.
    File(u64),
}

/// The answer when the request at the head of the connection is a plain
/// HIT, else `None` (hyper answers it).
pub fn answer(app: &App, config: &Arc<Config>, head: &Head<'_>, listener: Listener) -> Option<Hit> {
    let plain = head.plain_read()?;
    let target = head.target;
    // The route first, as if with its one `Host` (checked below): most
    // requests that are not HITs are not preload requests either.
    if router::is_observed(config.server.access_log) {
        return None;
    }
    let skip = router::preload_skip(&head.asked(&plain), config, listener)?;
    let mut hosts = 0;
    let mut close = false;
    let mut encodings = false;
    for field in head.fields {
        match Field::of(field.name) {
            Field::Host => hosts += 1,
            Field::Connection if field.value.eq_ignore_ascii_case(b"close") => close = true,
            Field::Connection if field.value.eq_ignore_ascii_case(b"keep-alive") => {}
            Field::Connection | Field::NotPlain => return None,
            Field::AcceptEncoding => encodings = true,
            Field::Other => {}
        }
    }
    if hosts != 1 {
        return None;
    }
    let key = app
        .keys
        .cached(config, &target[skip..], |name| joined(head.fields, name))?;
    let grace = config.cache.grace;
    let Lookup::Hot(found) = app.store.lookup_hot(&key) else {
        return None;
    };
    let now = app.clock.now();
    if cached::freshness(&found, now, grace) != Freshness::Fresh {
        return None;
    }
    app.metrics.request(RequestResult::Hit);

    let snap = found.snapshot;
    let heads = snap.head.get_or_init(|| prepared::heads(&snap));
    snap.wire.get_or_init(|| prepared::wire(&snap, heads));
    // No `Accept-Encoding`: the identity body, as `choose_of` would say.
    let chosen = encodings
        .then(|| prepared::chosen_variant_of(&snap, || list(head.fields, "accept-encoding")))
        .flatten()
        .and_then(|i| Some((i + 1, parts(&snap, i + 1)?.1)));
    let (representation, bytes) = match chosen {
        Some(chosen) => chosen,
        None => (0, parts(&snap, 0)?.1),
    };
    let body = if plain.method != Method::GET {
        HitBody::None
    } else {
        let file = snap.file.as_ref();
        match file.and_then(|f| f.sendable(representation, bytes.len(), 0, now)) {
            Some(offset) => HitBody::File(offset),
            None => HitBody::Memory,
        }
    };
    let (tail, tail_len) = tail(snapshot::age(&snap, now), close);
    Some(Hit {
        snap,
        representation,
        tail,
        tail_len,
        body,
        close,
    })
}

/// `Age`, the close when closing, and the blank line: the bytes after a
/// prepared head, and how many.
fn tail(age: u64, close: bool) -> ([u8; 64], usize) {
    const AGE: &[u8] = b"age: ";
    const CLOSE: &[u8] = b"\r\nconnection: close\r\n\r\n";
    const KEEP: &[u8] = b"\r\n\r\n";
    let mut tail = [0; 64];
    tail[..AGE.len()].copy_from_slice(AGE);
    // At most 20 digits: the tail has room for them and the close.
    let digits = age.checked_ilog10().unwrap_or(0) as usize + 1;
    let mut at = AGE.len() + digits;
    let mut n = age;
    for d in tail[AGE.len()..at].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let end: &[u8] = if close { CLOSE } else { KEEP };
    tail[at..at + end.len()].copy_from_slice(end);
    at += end.len();
    (tail, at)
}

/// The prepared head and the body of representation `r` (0 the identity
/// body, `i + 1` `variants[i]`), once `Snapshot::wire` is made.
fn parts(snap: &Snapshot, r: usize) -> Option<(&Bytes, &Bytes)> {
    let head = snap.wire.get()?.get(r)?;
    let body = match r.checked_sub(1) {
        None => &snap.body,
        Some(i) => &snap.variants.get(i)?.body,
    };
    Some((head, body))
}

/// What a request field is to a plain HIT, told by its name's length
/// first (one comparison per field).
enum Field {
    Host,
    Connection,
    AcceptEncoding,
    /// Validators, ranges and expectations: not a plain HIT.
    NotPlain,
    Other,
}

impl Field {
    fn of(name: &str) -> Field {
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        match name.len() {
            4 if is("host") => Field::Host,
            10 if is("connection") => Field::Connection,
            15 if is("accept-encoding") => Field::AcceptEncoding,
            13 if is("if-none-match") => Field::NotPlain,
            17 if is("if-modified-since") => Field::NotPlain,
            5 if is("range") => Field::NotPlain,
            8 if is("if-range") => Field::NotPlain,
            6 if is("expect") => Field::NotPlain,
            _ => Field::Other,
        }
    }
}

impl Hit {
    /// Sends the answer whole.
    pub async fn send(&self, stream: &TcpStream) -> io::Result<()> {
        let Some((head, body)) = parts(&self.snap, self.representation) else {
            // Made before the `Hit` was (`answer`).
            return Err(io::ErrorKind::InvalidData.into());
        };
        let tail = &self.tail[..self.tail_len];
        match (&self.body, &self.snap.file) {
            (HitBody::None, _) => {
                write_all(stream, &mut [IoSlice::new(head), IoSlice::new(tail)], 0).await
            }
            (HitBody::File(offset), Some(file)) => {
                // The head held back to share the body's first segment.
                let mut bufs = [IoSlice::new(head), IoSlice::new(tail)];
                write_all(stream, &mut bufs, libc::MSG_MORE).await?;
                send_file(stream, file, *offset, body).await
            }
            (HitBody::Memory | HitBody::File(_), _) => {
                let mut bufs = [IoSlice::new(head), IoSlice::new(tail), IoSlice::new(body)];
                write_all(stream, &mut bufs, 0).await
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

/// Sends `bytes` from `file` at `offset`; should `sendfile` fail or stop,
/// the rest goes from memory (the same bytes, see `crate::sendfile`).
async fn send_file(
    stream: &TcpStream,
    file: &HeldFile,
    offset: u64,
    bytes: &[u8],
) -> io::Result<()> {
    let len = bytes.len();
    let mut sent = 0;
    while sent < len {
        let at = offset + sent as u64;
        let n = poll_fn(|cx| sendfile::send_file(stream, cx, file, at, len - sent)).await;
        match n {
            Ok(n) if n > 0 => sent += n,
            _ => {
                let rest = &mut [IoSlice::new(&bytes[sent..])];
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

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn the_tail_gives_the_age_in_digits_and_the_close_when_asked() {
        let text = |age, close| {
            let (bytes, len) = tail(age, close);
            String::from_utf8(bytes[..len].to_vec()).expect("ascii")
        };
        assert_eq!(text(0, false), "age: 0\r\n\r\n");
        assert_eq!(text(9, false), "age: 9\r\n\r\n");
        assert_eq!(text(10, true), "age: 10\r\nconnection: close\r\n\r\n");
        assert_eq!(text(86_400, false), "age: 86400\r\n\r\n");
        let most = format!("age: {}\r\nconnection: close\r\n\r\n", u64::MAX);
        assert_eq!(text(u64::MAX, true), most);
    }
}
