//! A kept snapshot as a response (HIT, STALE, MISS): the headers
//! [`super::prepared`] built once per snapshot, copied with values
//! replaced; 304 when the visitor's copy is current; 206/416 for a range
//! of the identity body; the body from memory or, when large, from the
//! snapshot's held file ([`crate::sendfile`]). This is the hit path: it
//! reads a snapshot already in memory and does nothing that could be done
//! once per snapshot.

use std::sync::LazyLock;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{request, Method, Response, StatusCode};

use super::prepared;
use crate::body::Body;
use crate::conditional::{self, RangeAnswer};
use crate::headers::{MAX_AGE, X_PRELOAD_CACHE};
use crate::store::Snapshot;

/// How a snapshot response was produced (`X-Preload-Cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Stale,
}

impl CacheStatus {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Stale => "STALE",
        })
    }
}

/// A kept snapshot as a response: 200 (or its status), 206/416 for a
/// range on HIT/STALE of the identity body, 304 when the visitor's copy of
/// the chosen representation is current. HEAD gets the headers alone.
pub fn snapshot_response(
    snap: &Snapshot,
    status: CacheStatus,
    req: &request::Parts,
    now: SystemTime,
) -> Response<Body> {
    let meta = &snap.meta;
    // Built once per snapshot, copied per response.
    let heads = snap.head.get_or_init(|| prepared::heads(snap));
    // The representation sent: 0 is identity, i + 1 is variants[i].
    let chosen = prepared::chosen_variant(snap, &req.headers)
        .and_then(|i| Some((i + 1, heads.get(i + 1)?, &snap.variants.get(i)?.body)));
    let encoded = chosen.is_some();
    // prepared::heads always makes the identity's headers first.
    let (representation, head, body) = chosen.unwrap_or((0, &heads[0], &snap.body));
    // The ETag of the representation sent (a variant has its own).
    let etag = head.get(header::ETAG).unwrap_or(&meta.etag);
    // A HIT's headers (prepared::heads): the copy only has values replaced.
    let mut headers = head.clone();
    let from_cache = status != CacheStatus::Miss;
    if from_cache {
        headers.insert(header::AGE, age_value(age(snap, now)));
        if status != CacheStatus::Hit {
            headers.insert(X_PRELOAD_CACHE, status.header());
        }
    } else {
        headers.insert(X_PRELOAD_CACHE, status.header());
        headers.remove(header::ACCEPT_RANGES);
        if meta.age > 0 {
            headers.insert(header::AGE, HeaderValue::from(meta.age.min(MAX_AGE)));
        } else {
            headers.remove(header::AGE);
        }
    }

    let mut code = StatusCode::from_u16(meta.status).unwrap_or(StatusCode::OK);
    let asked = Asked::of(&req.headers);
    if asked.conditional
        && code.is_success()
        && conditional::not_modified(&req.headers, etag, &meta.last_modified)
    {
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::CONTENT_LANGUAGE,
            header::CONTENT_LENGTH,
        ] {
            headers.remove(name);
        }
        return build(StatusCode::NOT_MODIFIED, headers, Body::Empty);
    }
    let len = body.len() as u64;
    let mut body = body.clone();
    let mut skip = 0;
    // Ranges are of the identity body; an encoded answer is always whole.
    if from_cache && !encoded && code == StatusCode::OK && asked.range {
        match conditional::range(&req.headers, len, &meta.etag, &meta.last_modified) {
            RangeAnswer::Full => {}
            RangeAnswer::Partial { start, end } => {
                code = StatusCode::PARTIAL_CONTENT;
                body = body.slice(start as usize..=end as usize);
                skip = start;
                let range = format!("bytes {start}-{end}/{len}");
                headers.insert(header::CONTENT_RANGE, ascii(&range));
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            }
            RangeAnswer::Unsatisfiable => {
                headers.insert(header::CONTENT_RANGE, ascii(&format!("bytes */{len}")));
                headers.remove(header::CONTENT_LENGTH);
                return build(StatusCode::RANGE_NOT_SATISFIABLE, headers, Body::Empty);
            }
        }
    }
    let body = if req.method == Method::HEAD {
        Body::Empty
    } else {
        from_file(snap, representation, body, skip, now)
    };
    build(code, headers, body)
}

/// The `Age` of a snapshot served from the cache at `now`: the app's age
/// when it was taken, plus the time held.
pub fn age(snap: &Snapshot, now: SystemTime) -> u64 {
    let held = now
        .duration_since(snap.meta.taken)
        .unwrap_or_default()
        .as_secs();
    snap.meta.age.saturating_add(held).min(MAX_AGE)
}

/// The body of a response: sent from the snapshot's held file when it is
/// large enough and in the page cache (see [`crate::sendfile`] and
/// `store::held`), else from memory. `skip` is where `bytes` starts within
/// the representation (a range).
fn from_file(
    snap: &Snapshot,
    representation: usize,
    bytes: Bytes,
    skip: u64,
    now: SystemTime,
) -> Body {
    match &snap.file {
        Some(file) => match file.body(representation, bytes, skip, now) {
            Ok(body) => Body::File(Some(body)),
            Err(bytes) => Body::full(bytes),
        },
        None => Body::full(bytes),
    }
}

/// Which conditional and range fields a request has, from one pass over
/// its field names (comparisons of known names, no hashing).
struct Asked {
    /// `If-None-Match` or `If-Modified-Since`.
    conditional: bool,
    range: bool,
}

impl Asked {
    fn of(headers: &HeaderMap) -> Asked {
        let mut asked = Asked {
            conditional: false,
            range: false,
        };
        for name in headers.keys() {
            if name == header::IF_NONE_MATCH || name == header::IF_MODIFIED_SINCE {
                asked.conditional = true;
            } else if name == header::RANGE {
                asked.range = true;
            }
        }
        asked
    }
}

/// Ages below this are answered from [`SMALL_AGES`].
const SMALL: u64 = 600;

/// The `Age` values of the first ten minutes, made once: most HITs carry
/// one of them, and a copy of a static value is a pointer copy.
static SMALL_AGES: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    (0..SMALL)
        .map(|n| HeaderValue::from_static(Box::leak(n.to_string().into_boxed_str())))
        .collect()
});

fn age_value(age: u64) -> HeaderValue {
    match usize::try_from(age).ok().and_then(|i| SMALL_AGES.get(i)) {
        Some(small) => small.clone(),
        None => HeaderValue::from(age),
    }
}

fn ascii(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("digits and ASCII")
}

fn build(status: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_age_is_its_digits_below_and_above_the_small_ones() {
        for age in [0, 1, 59, SMALL - 1, SMALL, 86_400, MAX_AGE] {
            assert_eq!(age_value(age), HeaderValue::from(age), "{age}");
        }
    }

    #[test]
    fn conditional_and_range_fields_are_seen_whatever_else_is_there() {
        let of = |names: &[&'static str]| {
            let mut h = HeaderMap::new();
            for name in names {
                h.append(*name, HeaderValue::from_static("x"));
            }
            let asked = Asked::of(&h);
            (asked.conditional, asked.range)
        };
        assert_eq!(of(&[]), (false, false));
        assert_eq!(of(&["host", "accept", "if-match"]), (false, false));
        assert_eq!(of(&["host", "if-none-match"]), (true, false));
        assert_eq!(of(&["if-modified-since", "accept"]), (true, false));
        assert_eq!(of(&["range"]), (false, true));
        assert_eq!(of(&["Range", "If-None-Match", "host"]), (true, true));
    }
}
