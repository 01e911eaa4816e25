//! Preload responses that are not kept (PASS): passed on with their reason,
//! and streamed from the app to their visitor with back-pressure, never
//! held whole (SPEC §4).
//!
//! A response decided from its head (a PASS reason, a `Content-Length` over
//! `max_object_size`) is never read by the daemon; one found too large
//! while reading goes on as the prefix read so far, then the rest. Such a
//! response reaches one visitor only: the followers of its flight each
//! fetch the page for themselves ([`fetch_for_one`]), since sharing one
//! stream would hold it in memory for the slowest of them.

use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use hyper::body::Incoming;

use crate::body::Body;
use crate::fetch::{self, FetchLine, FetchRequest, FetchSettings, Fetched, FetchedBody};
use crate::headers::{self, X_PRELOAD_CACHE, X_PRELOAD_REASON};
use crate::key::Target;
use crate::metrics::RequestResult;
use crate::oversized::Watch;
use crate::policy::{self, KeepRules, PassReason};
use crate::state::App;

/// A follower's answer when its leader's response was not shared: its own
/// anonymous fetch, never read for keeping, streamed. Its reason is the
/// one its own answer gives, else the leader's.
pub async fn fetch_for_one(app: &App, target: &Target, leader: PassReason) -> Response<Body> {
    let config = app.config_owned();
    let rules = KeepRules {
        statuses: &config.cache.statuses,
        strip_set_cookie: config.cache.strip_set_cookie,
    };
    let request = FetchRequest {
        target: &target.canonical,
        vary: &target.vary,
    };
    let settings = FetchSettings::of(&config);
    let pass = |parts: &http::response::Parts| {
        Some(policy::pass_reason(parts.status, &parts.headers, rules).unwrap_or(leader))
    };
    let started = Instant::now();
    let fetched = app.fetcher.fetch(request, &settings, pass).await;
    let took = started.elapsed();
    match fetched {
        Ok(Fetched { parts, body }) => {
            let (reason, body) = match body {
                FetchedBody::Unread(reason, rest) => (reason, streamed(app, target, &parts, rest)),
                // `pass` always answers, so the body is never read; were it
                // read, it would still be passed on whole.
                FetchedBody::TooLarge(read, rest) => (leader, Body::Prefixed(read, rest)),
                FetchedBody::Complete(bytes) => (leader, Body::full(bytes)),
            };
            FetchLine::passed(&target.canonical, took, parts.status, &body, reason)
                .record(&app.metrics);
            app.metrics.pass(reason);
            app.passes.record(target.key, reason, app.clock.now());
            let tags_header = &config.preload.tags_header;
            response(parts.status, parts.headers, body, reason, true, tags_header)
        }
        Err(err) => {
            fetch::log_failure(&config.upstream.url, &target.canonical, &err);
            FetchLine::new(&target.canonical, took, err.outcome()).record(&app.metrics);
            app.metrics.request(RequestResult::Error);
            err.answer().response()
        }
    }
}

/// The unread body of a response passed on. A page once found too large
/// that comes again without a length is counted as it goes by: if it ends
/// within `max_object_size`, the next request reads it to keep it.
pub fn streamed(app: &App, target: &Target, parts: &http::response::Parts, rest: Incoming) -> Body {
    if fetch::content_length(&parts.headers).is_none() && app.oversized.is_marked(&target.key) {
        let max = app.config().cache.max_object_size;
        Body::Watched(
            rest,
            Watch::new(Arc::clone(&app.oversized), target.key, max),
        )
    } else {
        Body::Incoming(rest)
    }
}

/// A fetched response passed on, marked PASS with its reason, without the
/// app's tags header (`tags_header`: a note to the cache, not to visitors).
/// Only the visitor whose request led the fetch receives the app's
/// Set-Cookie: a cookie is never handed to several visitors.
pub fn response(
    status: StatusCode,
    mut headers: HeaderMap,
    body: Body,
    reason: PassReason,
    leader: bool,
    tags_header: &HeaderName,
) -> Response<Body> {
    headers::strip_hop_by_hop(&mut headers, false);
    headers.remove(tags_header);
    if !leader {
        headers.remove(header::SET_COOKIE);
    }
    // A body streamed from the app keeps the app's length (hyper frames by
    // it); one in memory is framed by hyper from its size.
    if matches!(body, Body::Full(_) | Body::Empty) {
        headers.remove(header::CONTENT_LENGTH);
    }
    headers.insert(X_PRELOAD_CACHE, HeaderValue::from_static("PASS"));
    headers.insert(X_PRELOAD_REASON, HeaderValue::from_static(reason.as_str()));
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}
