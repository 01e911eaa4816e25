//! Preload requests: resolve the target to a key, then HIT, STALE, or a
//! miss handed to [`crate::miss`]. The HIT path is [`snapshot_response`]:
//! it reads a snapshot that is already in memory and copies headers built
//! once per snapshot ([`crate::heads`]), nothing more. A snapshot with
//! precompressed variants has one set of headers per representation, and
//! the visitor's `Accept-Encoding` picks which one is sent. A snapshot that
//! is not in memory is read from its file on the blocking pool (`lookup`),
//! never on a runtime worker.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{request, Method, Response, StatusCode};

use crate::body::Body;
use crate::conditional::{self, RangeAnswer};
use crate::config::Config;
use crate::headers::{MAX_AGE, X_PRELOAD_CACHE};
use crate::heads;
use crate::key::{self, Key, QueryRules, TargetError};
use crate::miss;
use crate::sendfile::{self, FileBody};
use crate::state::App;
use crate::store::{Found, Lookup, Snapshot};

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

/// A preload request resolved: what to fetch and under which key.
#[derive(Debug, Clone)]
pub struct Target {
    pub canonical: String,
    pub key: Key,
    /// Index of the matching `[[route]]`, if any.
    pub route: Option<usize>,
    /// The route's vary headers with the visitor's values, forwarded on fetch.
    pub vary: Vec<(HeaderName, HeaderValue)>,
}

/// Validates and canonicalizes `raw` (the upstream target) and computes its
/// key. Errors become 400 / 414 before anything reaches the app.
pub fn resolve(config: &Config, headers: &HeaderMap, raw: &str) -> Result<Target, TargetError> {
    let rules = QueryRules::of(&config.preload);
    let canonical = key::canonical_target(raw, rules)?;
    let path = canonical.split('?').next().unwrap_or("/");
    let route = config.routes.iter().position(|r| r.matcher.matches(path));
    let mut vary = Vec::new();
    let mut key_parts: Vec<(&HeaderName, Vec<u8>)> = Vec::new();
    for name in route.map_or(&[][..], |i| &config.routes[i].vary[..]) {
        let value = joined_value(headers, name);
        key_parts.push((
            name,
            value
                .as_ref()
                .map_or_else(Vec::new, |v| v.as_bytes().to_vec()),
        ));
        if let Some(value) = value {
            vary.push((name.clone(), value));
        }
    }
    let key_refs: Vec<(&HeaderName, &[u8])> =
        key_parts.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    let key = Key::new(&canonical, &key_refs);
    Ok(Target {
        canonical,
        key,
        route,
        vary,
    })
}

/// A header's field lines joined with ", " (one value as the app would see it).
pub(crate) fn joined_value(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let mut joined = first.as_bytes().to_vec();
    for v in values {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(v.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// Serves a preload request for the upstream target `raw`.
pub async fn preload(app: &Arc<App>, req: &request::Parts, raw: &str) -> Response<Body> {
    if req.method != Method::GET && req.method != Method::HEAD {
        let mut res = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are allowed here",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let config = app.config();
    let target = match resolve(&config, &req.headers, raw) {
        Ok(target) => target,
        Err(err) => return target_error(&err),
    };
    let grace = config.cache.grace;
    drop(config);

    let now = app.clock.now();
    let found = lookup(app, &target.key).await;
    if let Some(found) = found {
        match freshness(&found, now, grace) {
            Freshness::Fresh => {
                return snapshot_response(&found.snapshot, CacheStatus::Hit, req, now)
            }
            Freshness::Stale => {
                miss::refresh_in_background(app, target);
                return snapshot_response(&found.snapshot, CacheStatus::Stale, req, now);
            }
            // Past grace: as good as missing.
            Freshness::Expired => {}
        }
    }
    if only_if_cached(&req.headers) {
        return plain(StatusCode::GATEWAY_TIMEOUT, "not cached (only-if-cached)");
    }
    miss::fetch(app, target, req).await
}

/// The snapshot of `key`: from the hot set on the spot, as cheap as a
/// lookup in memory can be; else from its file, here if the kernel has it
/// cached, on the blocking pool if the disk is needed, because a read on
/// this worker (slow under memory pressure, or stuck on a sick disk) would
/// stall every connection the worker serves.
pub(crate) async fn lookup(app: &Arc<App>, key: &Key) -> Option<Found> {
    let cold = match app.store.lookup_hot(key) {
        Lookup::Absent => return None,
        Lookup::Hot(found) => return Some(found),
        Lookup::Cold(cold) => cold,
    };
    if let Some(found) = app.store.read_cached(&cold) {
        return Some(found);
    }
    let reader = Arc::clone(app);
    match tokio::task::spawn_blocking(move || reader.store.read_cold(&cold)).await {
        Ok(found) => found,
        Err(err) => {
            tracing::error!(error = %err, "reading a snapshot file failed");
            None
        }
    }
}

enum Freshness {
    Fresh,
    /// Past its expiry but within `grace`: serve STALE while refetching.
    Stale,
    Expired,
}

/// True when a snapshot may be served as HIT.
pub fn is_fresh(found: &Found, now: SystemTime) -> bool {
    matches!(freshness(found, now, Duration::ZERO), Freshness::Fresh)
}

/// `grace` counts from the moment a snapshot expired (route `ttl`) or was
/// soft-invalidated, whichever came first.
fn freshness(found: &Found, now: SystemTime, grace: Duration) -> Freshness {
    let expired = found.snapshot.meta.expires.filter(|e| now >= *e);
    let since = match (expired, found.stale_since) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match since {
        None => Freshness::Fresh,
        Some(since) if now < since + grace => Freshness::Stale,
        Some(_) => Freshness::Expired,
    }
}

/// True when the visitor's `Cache-Control` says `only-if-cached`. (Its
/// other directives cannot force a refetch, so they are not read.)
fn only_if_cached(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("only-if-cached"))
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
    let heads = snap.head.get_or_init(|| heads::prepared(snap));
    // The representation sent: 0 is identity, i + 1 is variants[i].
    let chosen = heads::chosen_variant(snap, &req.headers)
        .and_then(|i| Some((i + 1, heads.get(i + 1)?, &snap.variants.get(i)?.body)));
    let encoded = chosen.is_some();
    // heads::prepared always makes the identity's headers first.
    let (representation, prepared, body) = chosen.unwrap_or((0, &heads[0], &snap.body));
    // The ETag of the representation sent (a variant has its own).
    let etag = prepared.get(header::ETAG).unwrap_or(&meta.etag);
    // A HIT's headers (heads::prepared): the copy only has values replaced.
    let mut headers = prepared.clone();
    let from_cache = status != CacheStatus::Miss;
    if from_cache {
        let held = now.duration_since(meta.taken).unwrap_or_default().as_secs();
        let age = meta.age.saturating_add(held).min(MAX_AGE);
        headers.insert(header::AGE, HeaderValue::from(age));
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
    let conditional = req.headers.contains_key(header::IF_NONE_MATCH)
        || req.headers.contains_key(header::IF_MODIFIED_SINCE);
    if conditional
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
    if from_cache && !encoded && code == StatusCode::OK && req.headers.contains_key(header::RANGE) {
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
        from_file(snap, representation, body, skip)
    };
    build(code, headers, body)
}

/// The body of a response: sent from the snapshot's held file when it is
/// large enough (see [`crate::sendfile`]), else from memory. `skip` is where
/// `bytes` starts within the representation (a range).
fn from_file(snap: &Snapshot, representation: usize, bytes: Bytes, skip: u64) -> Body {
    if bytes.len() >= sendfile::MIN {
        let held = snap.file.as_ref().and_then(|file| {
            let start = file.offset(representation)?;
            Some((file, start))
        });
        if let Some((file, start)) = held {
            return Body::File(Some(FileBody {
                bytes,
                file: Arc::clone(file),
                offset: start + skip,
            }));
        }
    }
    Body::full(bytes)
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

/// A short plain-text answer of the daemon's own.
pub fn plain(status: StatusCode, message: &str) -> Response<Body> {
    let mut res = Response::new(Body::full(format!("{message}\n")));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// 400 or 414 for a target refused before any upstream contact.
pub fn target_error(err: &TargetError) -> Response<Body> {
    match err {
        TargetError::TooLong => plain(StatusCode::URI_TOO_LONG, "request target too long"),
        TargetError::Invalid(reason) => plain(
            StatusCode::BAD_REQUEST,
            &format!("bad request target: {reason}"),
        ),
    }
}
