//! The snapshot listing: `GET /_preloadd/snapshots?prefix=&tag=&limit=&cursor=`
//! on the admin listener, and the rows `preloadd ls` prints, from the
//! running daemon or from a cache dir no daemon holds (the same rows
//! either way: both go through [`rows`]).
//!
//! Each row is what the index knows (target, key, size, times, tags,
//! state) plus the encoded variants, read from the file's header: the one
//! read per row, made on the blocking pool. Paging is the store's
//! ([`crate::store::Catalog::page`]): ordered by target then key, and a
//! `next` cursor that the following page starts strictly after.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::body::Body;
use crate::cached::{self, Freshness};
use crate::invalidate::webhook::{decode_form_value, prefix_path};
use crate::respond::{json, Own};
use crate::state::App;
use crate::store::{Catalog, Cursor, Encoding, EntryInfo, ListQuery, DEFAULT_LIMIT, MAX_LIMIT};

/// One snapshot, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Canonical upstream target.
    pub target: String,
    /// The key, 64 hex digits (the file's name).
    pub key: String,
    /// Size of the file, in bytes.
    pub size: u64,
    /// When it was taken (RFC 3339, UTC, whole seconds).
    pub taken: String,
    /// Seconds since it was taken.
    pub age: u64,
    /// When it stops being fresh (route `ttl`), if ever.
    pub expires: Option<String>,
    /// Seconds until then (negative: since then).
    pub expires_in: Option<i64>,
    /// When it was soft-invalidated, if it was.
    pub stale_since: Option<String>,
    pub state: State,
    pub tags: Vec<String>,
    /// The encodings kept beside the identity body (`gzip`, `br`).
    pub variants: Vec<String>,
}

/// Whether a snapshot may be served, as a visitor's request would find it
/// now (`[cache] grace` applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Served as HIT.
    Fresh,
    /// Served as STALE while one refetch runs.
    Stale,
    /// Past grace: the next request fetches it again.
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Fresh => "fresh",
            State::Stale => "stale",
            State::Expired => "expired",
        }
    }
}

impl From<Freshness> for State {
    fn from(f: Freshness) -> State {
        match f {
            Freshness::Fresh => State::Fresh,
            Freshness::Stale => State::Stale,
            Freshness::Expired => State::Expired,
        }
    }
}

/// One page: the answer of `GET /_preloadd/snapshots`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub snapshots: Vec<Row>,
    /// The `cursor` of the next page; `null` on the last one.
    pub next: Option<String>,
    /// Present (true) while the daemon rebuilds its index after a crash:
    /// pages it has not read yet are not listed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

/// `GET /_preloadd/snapshots` (and HEAD).
pub async fn handle(app: &Arc<App>, method: &Method, query: Option<&str>) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return Own::MethodNotAllowed("GET, HEAD").response();
    }
    let (query, grace) = {
        let config = app.config();
        match parse_query(query, &config.preload.prefix) {
            Ok(query) => (query, config.cache.grace),
            Err(text) => return Own::BadQuery(text).response(),
        }
    };
    let now = app.clock.now();
    let reader = Arc::clone(app);
    // The variants are read from the files' headers: off the workers.
    match tokio::task::spawn_blocking(move || rows(&reader.store, &query, now, grace)).await {
        Ok(mut listing) => {
            listing.incomplete = app.store.is_rebuilding();
            json(StatusCode::OK, &serde_json::json!(listing))
        }
        Err(err) => {
            tracing::error!(error = %err, "listing snapshots failed");
            Own::AdminFailed.response()
        }
    }
}

/// The page `query` names, as rows. Reads one header per row: call it
/// where blocking is fine.
pub fn rows(
    catalog: &impl Catalog,
    query: &ListQuery,
    now: SystemTime,
    grace: Duration,
) -> Listing {
    let page = catalog.page(query);
    let snapshots = page
        .rows
        .iter()
        .map(|info| row(info, catalog.encodings(&info.key), now, grace))
        .collect();
    Listing {
        snapshots,
        next: page.next.map(|c| c.encode()),
        incomplete: false,
    }
}

/// One row from what the index knows and the variants read from the file.
pub fn row(
    info: &EntryInfo,
    encodings: Option<Vec<Encoding>>,
    now: SystemTime,
    grace: Duration,
) -> Row {
    let state = cached::freshness_of(info.expires, info.stale_since, now, grace);
    Row {
        target: info.target.clone(),
        key: info.key.to_hex(),
        size: info.size,
        taken: rfc3339(info.taken),
        age: seconds_between(info.taken, now).max(0) as u64,
        expires: info.expires.map(rfc3339),
        expires_in: info.expires.map(|e| seconds_between(now, e)),
        stale_since: info.stale_since.map(rfc3339),
        state: state.into(),
        tags: info.tags.clone(),
        variants: encodings
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.token().to_string())
            .collect(),
    }
}

/// Reads `prefix`, `tag`, `limit` and `cursor`; any other parameter, a
/// limit that is no positive number, or a cursor this daemon did not give
/// is refused with a line naming it. A limit over [`MAX_LIMIT`] is cut to
/// it.
pub fn parse_query(query: Option<&str>, preload_prefix: &str) -> Result<ListQuery, String> {
    let mut list = ListQuery {
        limit: DEFAULT_LIMIT,
        ..ListQuery::default()
    };
    for (name, value) in query_pairs(query)? {
        match name.as_str() {
            "prefix" if !value.is_empty() => {
                let prefix = prefix_path(&value, preload_prefix)
                    .map_err(|e| format!("prefix {value:?}: {e}"))?;
                list.prefix = Some(prefix);
            }
            "tag" if !value.is_empty() => list.tag = Some(value),
            "limit" => {
                let limit: usize = value
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("limit {value:?}: not a whole number above 0"))?;
                list.limit = limit.min(MAX_LIMIT);
            }
            "cursor" if !value.is_empty() => {
                let cursor = Cursor::decode(&value)
                    .ok_or_else(|| "cursor: not a cursor from a listing".to_string())?;
                list.after = Some(cursor);
            }
            "prefix" | "tag" | "cursor" => {}
            other => {
                return Err(format!(
                    "unknown parameter {other:?}: expected prefix, tag, limit or cursor"
                ))
            }
        }
    }
    Ok(list)
}

/// The `name=value` pairs of a query string, form-decoded.
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode =
            |s: &str| decode_form_value(s.as_bytes()).ok_or_else(|| format!("{name}: not UTF-8"));
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

/// `2026-12-01T10:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Whole seconds from `a` to `b` (negative when `b` is earlier).
pub fn seconds_between(a: SystemTime, b: SystemTime) -> i64 {
    match b.duration_since(a) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::key::Key;

    #[test]
    fn the_query_names_prefix_tag_limit_and_cursor() {
        let q = parse_query(
            Some("prefix=/_preload/caf%c3%a9/&tag=a+b&limit=5000"),
            "/_preload",
        )
        .unwrap();
        assert_eq!(q.prefix.as_deref(), Some("/caf%C3%A9/"));
        assert_eq!(q.tag.as_deref(), Some("a b"));
        assert_eq!(q.limit, MAX_LIMIT);
        assert_eq!(parse_query(None, "/_preload").unwrap().limit, DEFAULT_LIMIT);
        let cursor = Cursor {
            key: Key([7; 32]),
            target: "/a?b=1&c=2".into(),
        };
        let text = cursor.encode().replace('&', "%26").replace('?', "%3F");
        let q = parse_query(Some(&format!("cursor={text}&prefix=")), "/_preload").unwrap();
        assert_eq!(q.after, Some(cursor));
        assert_eq!(q.prefix, None, "an empty prefix is none");
        for (bad, names) in [
            ("limit=0", "limit"),
            ("limit=x", "limit"),
            ("cursor=abc", "cursor"),
            ("prefix=events", "prefix"),
            ("tags=a", "\"tags\""),
        ] {
            let err = parse_query(Some(bad), "/_preload").unwrap_err();
            assert!(err.contains(names), "{bad}: {err}");
        }
    }

    #[test]
    fn a_row_says_state_age_and_expiry() {
        let taken = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let now = taken + Duration::from_secs(90);
        let mut info = EntryInfo {
            key: Key([1; 32]),
            target: "/a".into(),
            size: 10,
            taken,
            expires: Some(taken + Duration::from_secs(60)),
            tags: vec!["t".into()],
            stale_since: None,
        };
        let grace = Duration::from_secs(60);
        let r = row(&info, Some(vec![Encoding::Brotli]), now, grace);
        assert_eq!(
            (r.age, r.expires_in, r.state),
            (90, Some(-30), State::Stale)
        );
        assert_eq!(r.taken, "2027-01-15T08:00:00Z");
        assert_eq!(r.variants, ["br"]);
        assert_eq!(row(&info, None, now, Duration::ZERO).state, State::Expired);
        info.expires = None;
        assert_eq!(row(&info, None, now, grace).state, State::Fresh);
        info.stale_since = Some(now);
        assert_eq!(row(&info, None, now, grace).state, State::Stale);
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"state\":\"stale\""), "{text}");
        assert_eq!(serde_json::from_str::<Row>(&text).unwrap(), r);
    }
}
