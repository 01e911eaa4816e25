//! The dispatcher of preload requests: resolve the target to a key, look
//! it up, and by its freshness answer HIT, STALE (with a refetch in the
//! background), or hand the request to the miss path ([`crate::miss`]).
//! It decides; [`crate::respond`] writes the answer.
//!
//! A snapshot with precompressed variants has one set of headers per
//! representation, and the visitor's `Accept-Encoding` picks which one is
//! sent (`respond::prepared`).

use std::sync::Arc;

use http::header::{self, HeaderMap};
use http::{request, Method, Response};

use crate::body::Body;
use crate::cached::{self, Freshness};
use crate::headers::list_items;
use crate::metrics::RequestResult;
use crate::miss;
use crate::respond::{snapshot_response, CacheStatus, Own};
use crate::state::App;

/// Serves a preload request for the upstream target `raw`.
pub async fn handle(app: &Arc<App>, req: &request::Parts, raw: &str) -> Response<Body> {
    if req.method != Method::GET && req.method != Method::HEAD {
        return Own::PreloadMethod.response();
    }
    let config = app.config();
    // A target seen before under this config is not resolved again.
    let target = match app.keys.resolve(&config, &req.headers, raw) {
        Ok(target) => target,
        Err(err) => return Own::from(&err).response(),
    };
    let grace = config.cache.grace;
    drop(config);

    let now = app.clock.now();
    if let Some(found) = cached::lookup(app, &target.key).await {
        match cached::freshness(&found, now, grace) {
            Freshness::Fresh => {
                app.metrics.request(RequestResult::Hit);
                return snapshot_response(&found.snapshot, CacheStatus::Hit, req, now);
            }
            Freshness::Stale => {
                app.metrics.request(RequestResult::Stale);
                miss::refresh_in_background(app, Arc::unwrap_or_clone(target));
                return snapshot_response(&found.snapshot, CacheStatus::Stale, req, now);
            }
            Freshness::Expired => {}
        }
    }
    if only_if_cached(&req.headers) {
        if let Some(res) = miss::answered(app, &target, req) {
            return res;
        }
        app.metrics.request(RequestResult::Error);
        return Own::NotCached.response();
    }
    miss::fetch(app, Arc::unwrap_or_clone(target), req).await
}

/// True when the visitor's `Cache-Control` says `only-if-cached`. (Its
/// other directives cannot force a refetch, so they are not read.)
fn only_if_cached(headers: &HeaderMap) -> bool {
    list_items(headers, &header::CACHE_CONTROL).any(|d| d.eq_ignore_ascii_case(b"only-if-cached"))
}
