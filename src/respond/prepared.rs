//! The headers a snapshot's responses start with, built once per snapshot
//! ([`heads`]) and kept in `Snapshot::head`: one map per representation (the identity
//! body and each precompressed variant), so that the hit path only picks
//! one by `Accept-Encoding` and copies it.
//!
//! A variant's map differs from the identity's in `Content-Encoding`,
//! `Content-Length` and `ETag` (the identity tag with `-br` / `-gz`, so
//! that a validator names one representation); with variants every map
//! carries `Vary: Accept-Encoding`.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;

use crate::compress;
use crate::headers::{self, X_PRELOAD_CACHE};
use crate::store::{Encoding, Snapshot};

/// Which of `snap.variants` the request's `Accept-Encoding` picks, if any.
/// Allocates nothing.
pub fn chosen_variant(snap: &Snapshot, headers: &HeaderMap) -> Option<usize> {
    chosen_variant_of(snap, || {
        headers::list_items(headers, &header::ACCEPT_ENCODING)
    })
}

/// [`chosen_variant`] from the elements of the request's `Accept-Encoding`
/// lines (asked for only when there are variants).
pub fn chosen_variant_of<'a, I>(snap: &Snapshot, entries: impl FnOnce() -> I) -> Option<usize>
where
    I: Iterator<Item = &'a [u8]>,
{
    if snap.variants.is_empty() {
        return None;
    }
    let mut available = [Encoding::Gzip; 2];
    let mut n = 0;
    for (slot, v) in available.iter_mut().zip(&snap.variants) {
        *slot = v.encoding;
        n += 1;
    }
    let encoding = compress::choose_of(entries(), &available[..n])?;
    snap.variants.iter().position(|v| v.encoding == encoding)
}

/// The headers every response from this snapshot starts with, one map per
/// representation (`[0]` identity, `[i + 1]` for `variants[i]`): the kept
/// end-to-end headers, Date, ETag, Last-Modified and the body's length. With
/// variants, each map also carries `Vary: Accept-Encoding`, and a variant's
/// its `Content-Encoding` and an ETag of its own.
///
/// The maps are a HIT's headers: `X-Preload-Cache: HIT`, `Accept-Ranges`
/// and an `Age` whose value the response replaces. A copy of a map has
/// room for no more fields, so a HIT only replaces values in place.
pub fn heads(snap: &Snapshot) -> Vec<HeaderMap> {
    heads_varying(snap, !snap.variants.is_empty())
}

/// [`heads`], with `Vary: Accept-Encoding` when `varies` even before the
/// variants exist: the answers a MISS gives before its variants are made
/// (`miss`) say that the page will vary on it, as its HITs will.
pub fn heads_varying(snap: &Snapshot, varies: bool) -> Vec<HeaderMap> {
    let meta = &snap.meta;
    let mut identity = HeaderMap::with_capacity(meta.headers.len() + 9);
    for (name, value) in &meta.headers {
        identity.append(name.clone(), value.clone());
    }
    // The app's Date when it sent one (kept with the headers), else the
    // time the snapshot was taken: fixed per snapshot, never the time of
    // the hit. A response with a Date is one hyper adds none to.
    if !identity.contains_key(header::DATE) {
        identity.insert(header::DATE, headers::http_date(meta.taken));
    }
    identity.insert(X_PRELOAD_CACHE, HeaderValue::from_static("HIT"));
    identity.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    identity.insert(header::AGE, HeaderValue::from_static("0"));
    identity.insert(header::ETAG, meta.etag.clone());
    identity.insert(header::LAST_MODIFIED, meta.last_modified.clone());
    identity.insert(header::CONTENT_LENGTH, HeaderValue::from(snap.body.len()));
    if varies && !varies_on_encoding(&identity) {
        identity.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    let mut heads = Vec::with_capacity(1 + snap.variants.len());
    for v in &snap.variants {
        let mut h = identity.clone();
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(v.encoding.token()),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(v.body.len()));
        h.insert(header::ETAG, encoded_etag(&meta.etag, v.encoding));
        heads.push(h);
    }
    heads.insert(0, identity);
    heads
}

/// The heads of [`heads`] as the bytes a HIT starts with: the status line
/// and every field but `Age`, each line ended, the blank line not yet
/// (the connection loop adds `Age` and the end, `crate::conn`). Lowercase
/// names, as hyper writes them.
pub fn wire(snap: &Snapshot, heads: &[HeaderMap]) -> Vec<Bytes> {
    let status = StatusCode::from_u16(snap.meta.status).unwrap_or(StatusCode::OK);
    heads
        .iter()
        .map(|head| {
            let mut out = Vec::with_capacity(512);
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(status.as_str().as_bytes());
            out.push(b' ');
            out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes());
            out.extend_from_slice(b"\r\n");
            for (name, value) in head {
                if name == header::AGE {
                    continue;
                }
                out.extend_from_slice(name.as_str().as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Bytes::from(out)
        })
        .collect()
}

/// True when the app's `Vary` already covers `Accept-Encoding` (or `*`).
fn varies_on_encoding(headers: &HeaderMap) -> bool {
    headers::list_items(headers, &header::VARY)
        .any(|name| name == b"*" || name.eq_ignore_ascii_case(b"accept-encoding"))
}

/// The identity ETag with `-br` / `-gz` before its closing quote (a `W/`
/// prefix kept), so that each representation has a tag of its own.
pub fn encoded_etag(etag: &HeaderValue, encoding: Encoding) -> HeaderValue {
    let suffix: &[u8] = match encoding {
        Encoding::Gzip => b"-gz",
        Encoding::Brotli => b"-br",
    };
    let bytes = etag.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + suffix.len());
    match bytes.split_last() {
        Some((b'"', inner)) if !inner.is_empty() => {
            out.extend_from_slice(inner);
            out.extend_from_slice(suffix);
            out.push(b'"');
        }
        // Malformed (it never matches anyway): still distinct.
        _ => {
            out.extend_from_slice(bytes);
            out.extend_from_slice(suffix);
        }
    }
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| etag.clone())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use bytes::Bytes;

    use super::*;
    use crate::key::Key;
    use crate::store::Meta;

    fn snapshot(headers: Vec<(header::HeaderName, HeaderValue)>, taken: SystemTime) -> Snapshot {
        Snapshot {
            key: Key::new("/p", &[]),
            meta: Meta {
                status: 200,
                headers,
                tags: Vec::new(),
                target: "/p".into(),
                taken,
                expires: None,
                generation: 0,
                age: 0,
                etag: HeaderValue::from_static("\"t\""),
                last_modified: HeaderValue::from_static("Tue, 15 Nov 1994 08:12:31 GMT"),
            },
            body: Bytes::from_static(b"body"),
            variants: Vec::new(),
            head: Default::default(),
            wire: Default::default(),
            file: None,
        }
    }

    #[test]
    fn the_wire_head_is_the_status_line_and_every_field_but_age() {
        let snap = snapshot(
            vec![(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
            SystemTime::now(),
        );
        let heads = heads(&snap);
        let wire = wire(&snap, &heads);
        let text = std::str::from_utf8(&wire[0]).expect("ASCII");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n") && !text.ends_with("\r\n\r\n"),
            "{text}"
        );
        for line in [
            "content-type: text/html",
            "etag: \"t\"",
            "content-length: 4",
        ] {
            assert!(
                text.contains(&format!("\r\n{line}\r\n")),
                "{line} in {text}"
            );
        }
        assert!(!text.contains("age:"), "{text}");
        // The status line, then every field of the map but Age.
        let lines = text.matches("\r\n").count();
        assert_eq!(lines - 1, heads[0].len() - 1);
    }

    #[test]
    fn the_apps_date_is_the_snapshots_date() {
        let date = HeaderValue::from_static("Mon, 30 Nov 2026 10:00:00 GMT");
        let snap = snapshot(vec![(header::DATE, date.clone())], SystemTime::now());
        let heads = heads(&snap);
        let dates: Vec<_> = heads[0].get_all(header::DATE).iter().collect();
        assert_eq!(dates, [&date]);
    }

    #[test]
    fn without_the_apps_date_it_is_the_time_taken() {
        // 1_700_000_000.750 s: the fraction is dropped, not rounded.
        let taken = UNIX_EPOCH + Duration::from_millis(1_700_000_000_750);
        let heads = heads(&snapshot(Vec::new(), taken));
        assert_eq!(
            heads[0].get(header::DATE).unwrap(),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
    }

    fn tag(etag: &'static str, encoding: Encoding) -> HeaderValue {
        encoded_etag(&HeaderValue::from_static(etag), encoding)
    }

    #[test]
    fn encoded_etags_insert_the_suffix_before_the_closing_quote() {
        assert_eq!(tag("\"abc\"", Encoding::Brotli), "\"abc-br\"");
        assert_eq!(tag("W/\"abc\"", Encoding::Gzip), "W/\"abc-gz\"");
        assert_eq!(tag("\"\"", Encoding::Gzip), "\"-gz\"");
        assert_eq!(tag("unquoted", Encoding::Gzip), "unquoted-gz");
    }

    #[test]
    fn vary_is_covered_by_accept_encoding_or_star() {
        let mut h = HeaderMap::new();
        assert!(!varies_on_encoding(&h));
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        assert!(!varies_on_encoding(&h));
        h.append(header::VARY, HeaderValue::from_static("x, ACCEPT-ENCODING"));
        assert!(varies_on_encoding(&h));
        let mut star = HeaderMap::new();
        star.append(header::VARY, HeaderValue::from_static("*"));
        assert!(varies_on_encoding(&star));
    }
}
