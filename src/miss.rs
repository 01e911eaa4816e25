//! A preload request with no usable snapshot: one fetch per key (leader /
//! follower), the keep decision, and the snapshot built from what the app
//! answered, with its precompressed variants ([`crate::compress`]).
//!
//! The leader's fetch runs in a task of its own, so that a visitor who goes
//! away does not cancel the fetch the others wait for. What is kept, or
//! failed, is shared with every follower. What is not kept is streamed to
//! the leader's visitor alone, and each follower fetches it for itself
//! ([`crate::pass`]): sharing it would mean holding it whole.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{request, Response};
use tracing::Instrument;

use crate::body::Body;
use crate::cached;
use crate::compress;
use crate::conditional;
use crate::config::{Config, OnWriteError};
use crate::fetch::{self, FetchLine, FetchRequest, FetchSettings, Fetched, FetchedBody};
use crate::flight::Role;
use crate::headers::{self, X_PRELOAD_CACHE, X_PRELOAD_REASON};
use crate::key::Target;
use crate::metrics::RequestResult;
use crate::outcome::{Outcome, Passed, Shared};
use crate::pass;
use crate::policy::{self, KeepRules, PassReason};
use crate::respond::{snapshot_response, CacheStatus, Own};
use crate::state::App;
use crate::store::{Meta, Snapshot, StoreError};
use crate::tags;

/// What the leader's fetch came to.
pub enum Led {
    Shared(Shared),
    /// Not kept: the leader's visitor's response, streamed from the app.
    Streamed(PassReason, Response<Body>),
}

impl Led {
    /// What the followers get.
    pub fn outcome(&self) -> Outcome {
        match self {
            Led::Shared(shared) => Outcome::Shared(shared.clone()),
            Led::Streamed(reason, _) => Outcome::Unshared(*reason),
        }
    }

    /// What the fetch came to, for its metrics and its log line.
    fn line<'a>(&self, target: &'a str, took: Duration) -> FetchLine<'a> {
        match self {
            Led::Shared(shared) => shared.fetch_line(target, took),
            Led::Streamed(reason, res) => {
                FetchLine::passed(target, took, res.status(), res.body(), *reason)
            }
        }
    }
}

/// Answers a preload request that found no usable snapshot (a stale one
/// within `grace` is served by the caller while a refetch runs).
pub async fn fetch(app: &Arc<App>, target: Target, req: &request::Parts) -> Response<Body> {
    loop {
        match app.flights.join(target.key) {
            Role::Leader(leader) => {
                // The previous flight may have stored the page between our
                // store lookup and the join.
                let now = app.clock.now();
                if let Some(found) = cached::lookup(app, &target.key)
                    .await
                    .filter(|f| cached::is_fresh(f, now))
                {
                    drop(leader);
                    app.metrics.request(RequestResult::Hit);
                    return snapshot_response(&found.snapshot, CacheStatus::Hit, req, now);
                }
                let task_app = Arc::clone(app);
                let task_target = target.clone();
                let task = tokio::spawn(async move {
                    let led = fetch_and_keep(&task_app, &task_target).await;
                    leader.finish(led.outcome());
                    led
                });
                return match task.await {
                    Ok(Led::Streamed(reason, res)) => {
                        app.metrics.pass(reason);
                        res
                    }
                    Ok(Led::Shared(shared)) => respond(app, shared, req, true, app.clock.now()),
                    Err(err) => {
                        tracing::error!(target = %target.canonical, error = %err, "snapshot fetch task failed");
                        app.metrics.request(RequestResult::Error);
                        Own::FetchFailed.response()
                    }
                };
            }
            Role::Follower(follower) => match follower.outcome().await {
                Some(Outcome::Unshared(reason)) => {
                    app.metrics.coalesced();
                    return pass::fetch_for_one(app, &target, reason).await;
                }
                Some(Outcome::Shared(shared)) => {
                    app.metrics.coalesced();
                    return respond(app, shared, req, false, app.clock.now());
                }
                None => continue,
            },
        }
    }
}

/// Starts one background refetch of a stale snapshot unless one runs.
pub fn refresh_in_background(app: &Arc<App>, target: Target) {
    if let Role::Leader(leader) = app.flights.join(target.key) {
        let app = Arc::clone(app);
        tokio::spawn(async move {
            // No visitor waits: a streamed answer is dropped unread.
            let led = fetch_and_keep(&app, &target).await;
            leader.finish(led.outcome());
        });
    }
}

/// The leader's work ([`decide_and_keep`]) in a span of its own, counted
/// and logged as one line (`fetch::FetchLine`), and a PASS noted for
/// `explain` ([`crate::passes`]).
pub async fn fetch_and_keep(app: &Arc<App>, target: &Target) -> Led {
    let span = tracing::info_span!("fetch", target = %target.canonical);
    let mut took = Duration::ZERO;
    let led = decide_and_keep(app, target, &mut took)
        .instrument(span)
        .await;
    led.line(&target.canonical, took).record(&app.metrics);
    app.passes
        .after_fetch(target.key, &led.outcome(), app.clock.now());
    led
}

/// Fetch, decide, write; `took` is set to the time the fetch itself took.
/// The keep decision is made from the head where it can be, so that a
/// response that will not be kept is never read into memory.
async fn decide_and_keep(app: &Arc<App>, target: &Target, took: &mut Duration) -> Led {
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
            return Led::Shared(Shared::Failed(err.answer()));
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
            );
            return Led::Streamed(PassReason::TooLarge, res);
        }
        FetchedBody::Unread(reason, rest) => {
            let body = pass::streamed(app, target, &parts, rest);
            let res = pass::response(parts.status, parts.headers, body, reason, true);
            return Led::Streamed(reason, res);
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
            return Led::Shared(Passed::shared(parts.status, parts.headers, body, reason))
        }
    };
    warn_on_foreign_vary(app, &config, target, &parts.headers);
    let taken = app.clock.now();
    let mut snapshot = build_snapshot(&config, target, &parts, tags, body.clone(), taken);
    if config.cache.compress
        && body.len() >= compress::MIN_SIZE
        && compress::compressible(&parts.headers)
    {
        // Made here, once, a bounded number at a time.
        snapshot.variants = app.compressor.variants(body.clone()).await;
    }
    // The write fsyncs: keep it off the runtime's worker threads.
    let writer = Arc::clone(app);
    let written = tokio::task::spawn_blocking(move || {
        let (target, tags) = (snapshot.meta.target.clone(), snapshot.meta.tags.clone());
        writer.store.put_if(snapshot, || {
            writer.invalidations.admit(since, &target, &tags)
        })
    })
    .await
    .map_err(|e| StoreError::Write(std::io::Error::other(e.to_string())))
    .and_then(|r| r);
    let pass_on = |reason| Passed::shared(parts.status, parts.headers, body, reason);
    Led::Shared(match written {
        Ok(kept) => Shared::Kept(kept),
        Err(StoreError::Refused | StoreError::Outdated) => {
            tracing::debug!(target = %target.canonical, "an invalidation overtook the fetch; not kept");
            pass_on(PassReason::Invalidated)
        }
        Err(StoreError::TooLarge { .. }) => pass_on(PassReason::TooLarge),
        Err(err) => {
            tracing::warn!(target = %target.canonical, error = %err, "snapshot not written");
            app.metrics.write_error();
            match config.cache.on_write_error {
                OnWriteError::Serve => pass_on(PassReason::WriteError),
                OnWriteError::Fail => Shared::Failed(Own::NotWritten),
            }
        }
    })
}

fn respond(
    app: &App,
    shared: Shared,
    req: &request::Parts,
    leader: bool,
    now: SystemTime,
) -> Response<Body> {
    match shared {
        Shared::Kept(snap) => {
            app.metrics.request(RequestResult::Miss);
            snapshot_response(&snap, CacheStatus::Miss, req, now)
        }
        Shared::Passed(p) => {
            app.metrics.pass(p.reason);
            pass::response(
                p.status,
                p.headers.clone(),
                Body::full(p.body.clone()),
                p.reason,
                leader,
            )
        }
        Shared::Failed(own) => {
            app.metrics.request(RequestResult::Error);
            own.response()
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
