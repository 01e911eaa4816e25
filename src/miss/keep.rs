//! The leader's fetch and the keep decision: what the app answered, read
//! whole or streamed on, its tags, the snapshot built from it and the room
//! it will take. What is decided here is answered at once; the write is
//! [`super::land`]'s.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::body::Body;
use crate::compress;
use crate::conditional;
use crate::config::{Config, OnWriteError};
use crate::fetch::{self, FetchRequest, FetchSettings, Fetched, FetchedBody};
use crate::headers::{self, X_PRELOAD_CACHE, X_PRELOAD_REASON};
use crate::key::Target;
use crate::outcome::{Passed, Shared};
use crate::pass;
use crate::policy::{self, KeepRules, PassReason};
use crate::respond::{prepared, Own};
use crate::state::App;
use crate::store::{Meta, Snapshot, StoreError};
use crate::tags;

use super::land::{self, Landing};
use super::Led;

/// Fetch and decide; `took` is set to the time the fetch itself took. The
/// keep decision is made from the head where it can be, so that a response
/// that will not be kept is never read into memory. A kept page comes with
/// its [`Landing`], the write still to do, unless it was written already
/// (`on_write_error = "fail"`, or a disk that refused the last write).
pub(super) async fn decide(
    app: &Arc<App>,
    target: &Target,
    took: &mut Duration,
) -> (Led, Option<Landing>) {
    let config = app.config_owned();
    let target = &*target.under(&config);
    // Invalidations recorded from now on overtake this fetch.
    let since = app.invalidations.seq();
    let rules = KeepRules {
        statuses: &config.cache.statuses,
        strip_set_cookie: config.cache.strip_set_cookie,
    };
    let oversized = app.oversized.is_marked(&target.key);
    let pass = |parts: &http::response::Parts| {
        policy::pass_reason(parts.status, &parts.headers, rules).or_else(|| {
            // Found too large before, and still of unknown length: streamed
            // from its first byte rather than read up to the limit again.
            (oversized && fetch::content_length(&parts.headers).is_none())
                .then_some(PassReason::TooLarge)
        })
    };
    let request = FetchRequest {
        target: &target.canonical,
        vary: &target.vary,
    };
    let started = Instant::now();
    let fetched = app
        .fetcher
        .fetch(request, &FetchSettings::of(&config), pass)
        .await;
    *took = started.elapsed();
    let Fetched { parts, body } = match fetched {
        Ok(fetched) => fetched,
        Err(err) => {
            fetch::log_failure(&config.upstream.url, &target.canonical, &err);
            return (Led::Shared(Shared::Failed(err.answer())), None);
        }
    };
    let body = match body {
        FetchedBody::Complete(body) => body,
        FetchedBody::TooLarge(read, rest) => {
            app.oversized.mark(target.key);
            let body = Body::Prefixed(read, rest);
            let res = pass::response(
                parts.status,
                parts.headers,
                body,
                PassReason::TooLarge,
                true,
                &config.preload.tags_header,
            );
            return (Led::Streamed(PassReason::TooLarge, res), None);
        }
        FetchedBody::Unread(reason, rest) => {
            let body = pass::streamed(app, target, &parts, rest);
            let tags_header = &config.preload.tags_header;
            let res = pass::response(parts.status, parts.headers, body, reason, true, tags_header);
            return (Led::Streamed(reason, res), None);
        }
    };
    if oversized {
        // It came with a length that fits: kept as usual from now on.
        app.oversized.forget(&target.key);
    }
    let route_tags = target.route.map_or(&[][..], |i| &config.routes[i].tags[..]);
    let (tags_header, max_tags) = (&config.preload.tags_header, config.preload.max_tags);
    let tags = match tags::page_tags(route_tags, &parts.headers, tags_header, max_tags) {
        Ok(tags) => tags,
        Err(reason) => {
            let passed = Passed::shared(parts.status, parts.headers, body, reason);
            return (Led::Shared(passed), None);
        }
    };
    warn_on_foreign_vary(app, &config, target, &parts.headers);
    let taken = app.clock.now();
    let snapshot = build_snapshot(&config, target, &parts, tags, body.clone(), taken);
    let variants = config.cache.compress
        && body.len() >= compress::MIN_SIZE
        && compress::compressible(&parts.headers);
    let pass_on = |reason| Passed::shared(parts.status, parts.headers, body, reason);
    let behind = Arc::clone(&app.writes_behind).try_acquire_owned();
    let write_first = config.cache.on_write_error == OnWriteError::Fail
        || app.store.writes_failing()
        || behind.is_err();
    if write_first {
        // The visitor is promised an error if it cannot be written, or the
        // disk refuses writes now (the page is then passed on as such), or
        // enough answered pages wait for their writes: answered once
        // written.
        let written = land::write_now(app, snapshot, since, variants).await;
        let shared = match written {
            Ok(kept) => Shared::Kept {
                snapshot: kept,
                since,
            },
            Err(err) => match not_kept(app, &config, target, err) {
                Ok(reason) => pass_on(reason),
                Err(own) => Shared::Failed(own),
            },
        };
        return (Led::Shared(shared), None);
    }
    let overtaken = {
        let meta = &snapshot.meta;
        app.invalidations
            .admit(since, &meta.target, &meta.tags)
            .is_none()
    };
    if overtaken {
        tracing::debug!(target = %target.canonical, "an invalidation overtook the fetch; not kept");
        return (Led::Shared(pass_on(PassReason::Invalidated)), None);
    }
    // The room is part of the keep decision: a page answered as kept has it.
    let room = match land::take_room(app, &snapshot).await {
        Ok(room) => room,
        Err(err) => {
            let shared = match not_kept(app, &config, target, err) {
                Ok(reason) => pass_on(reason),
                Err(own) => Shared::Failed(own),
            };
            return (Led::Shared(shared), None);
        }
    };
    // Answered from memory, identity only: the variants come with the
    // write. Its answers already vary on Accept-Encoding when they will.
    let early = Arc::new(snapshot.clone());
    if variants {
        let _ = early.head.set(prepared::heads_varying(&early, true));
    }
    let kept = Shared::Kept {
        snapshot: early,
        since,
    };
    let landing = Landing {
        snapshot,
        since,
        room,
        variants,
        _behind: behind.ok(),
    };
    (Led::Shared(kept), Some(landing))
}

/// Why a snapshot that could not be kept is passed on, or the error its
/// visitors get (`on_write_error = "fail"`); a write error is counted.
fn not_kept(
    app: &App,
    config: &Config,
    target: &Target,
    err: StoreError,
) -> Result<PassReason, Own> {
    match err {
        StoreError::Refused | StoreError::Outdated => {
            tracing::debug!(target = %target.canonical, "an invalidation overtook the fetch; not kept");
            Ok(PassReason::Invalidated)
        }
        StoreError::TooLarge { .. } => Ok(PassReason::TooLarge),
        err => {
            tracing::warn!(target = %target.canonical, error = %err, "snapshot not written");
            app.metrics.write_error();
            match config.cache.on_write_error {
                OnWriteError::Serve => Ok(PassReason::WriteError),
                OnWriteError::Fail => Err(Own::NotWritten),
            }
        }
    }
}

/// Response headers never kept in a snapshot: per-connection, per-visitor,
/// recomputed on every response, or the daemon's own. The app's `Date` is
/// kept: a cache passes on the origin's (RFC 9111 §4), and `Age` says how
/// old the copy is.
fn kept_header(name: &HeaderName, tags_header: &HeaderName) -> bool {
    !(name == header::SET_COOKIE
        || name == header::CONTENT_LENGTH
        || name == header::AGE
        || name == header::ETAG
        || name == header::LAST_MODIFIED
        || name == X_PRELOAD_CACHE
        || name == X_PRELOAD_REASON
        || name == tags_header)
}

fn build_snapshot(
    config: &Config,
    target: &Target,
    parts: &http::response::Parts,
    tags: Vec<String>,
    body: Bytes,
    taken: SystemTime,
) -> Snapshot {
    let (status, headers) = (parts.status, &parts.headers);
    let route = target.route.map(|i| &config.routes[i]);
    let tags_header = &config.preload.tags_header;
    let mut end_to_end = headers.clone();
    headers::strip_hop_by_hop(&mut end_to_end, false);
    let kept: Vec<(HeaderName, HeaderValue)> = end_to_end
        .iter()
        .filter(|(name, _)| kept_header(name, tags_header))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();

    let etag = headers
        .get(header::ETAG)
        .cloned()
        .unwrap_or_else(|| conditional::derived_etag(&body));
    let last_modified = headers
        .get(header::LAST_MODIFIED)
        .cloned()
        .unwrap_or_else(|| headers::http_date(taken));
    let age = headers
        .get(header::AGE)
        .and_then(headers::delta_seconds)
        .unwrap_or(0);
    Snapshot {
        key: target.key,
        meta: Meta {
            status: status.as_u16(),
            headers: kept,
            tags,
            target: target.canonical.clone(),
            taken,
            expires: route.and_then(|r| r.ttl).map(|ttl| taken + ttl),
            generation: 0,
            age,
            etag,
            last_modified,
        },
        body,
        variants: Vec::new(),
        head: Default::default(),
        wire: Default::default(),
        file: None,
    }
}

/// Logs once per route and header when the app varies on a header the
/// route does not: the page is kept for everyone, which may be wrong.
fn warn_on_foreign_vary(app: &App, config: &Config, target: &Target, headers: &HeaderMap) {
    let route_vary = target.route.map_or(&[][..], |i| &config.routes[i].vary[..]);
    for name in policy::vary_names(headers) {
        if name == header::ACCEPT_ENCODING || route_vary.contains(&name) {
            continue;
        }
        let route = target.route.unwrap_or(usize::MAX);
        if app.first_vary_warning(route, &name) {
            tracing::warn!(
                target = %target.canonical,
                header = %name,
                "the app varies on a header the route does not list in `vary`; the page is kept for every visitor"
            );
        }
    }
}
