//! A preload request with no usable snapshot: one fetch per key (leader /
//! follower), the keep decision, and the snapshot built from what the app
//! answered, with its precompressed variants ([`crate::compress`]).
//!
//! The leader's fetch runs in a task of its own, so that a visitor who goes
//! away does not cancel the fetch the others wait for.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{request, Response, StatusCode};

use crate::body::Body;
use crate::compress;
use crate::conditional;
use crate::config::{Config, OnWriteError};
use crate::fetch::{FetchError, FetchRequest, FetchSettings, Fetched, FetchedBody};
use crate::flight::Role;
use crate::headers::{self, X_PRELOAD_CACHE, X_PRELOAD_REASON};
use crate::policy::{self, KeepRules, PassReason};
use crate::serve::{self, CacheStatus, Target};
use crate::state::App;
use crate::store::{Meta, Snapshot, StoreError};
use crate::tags;

/// What one fetch produced, shared by the leader with its followers.
#[derive(Clone)]
pub enum Outcome {
    /// Kept: every waiter gets MISS.
    Kept(Arc<Snapshot>),
    /// Fetched but not kept: every waiter gets PASS with this body.
    Passed(Arc<Passed>),
    /// Too large to keep or share: the leader streamed it; each follower
    /// fetches for itself.
    TooLarge,
    /// No usable answer from the app (502 / 504), or the snapshot could not
    /// be written with `on_write_error = "fail"` (503). The text is what
    /// visitors see: fixed, never an error's detail (that goes to the log).
    Failed(StatusCode, &'static str),
}

/// A response passed on without being kept.
pub struct Passed {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub reason: PassReason,
}

/// Answers a preload request that found no usable snapshot (a stale one
/// within `grace` is served by the caller while a refetch runs).
pub async fn fetch(app: &Arc<App>, target: Target, req: &request::Parts) -> Response<Body> {
    loop {
        match app.flights.join(target.key) {
            Role::Leader(leader) => {
                // The previous flight may have stored the page between our
                // store lookup and the join.
                let now = SystemTime::now();
                if let Some(found) = app
                    .store
                    .lookup(&target.key)
                    .filter(|f| serve::is_fresh(f, now))
                {
                    drop(leader);
                    return serve::snapshot_response(&found.snapshot, CacheStatus::Hit, req, now);
                }
                let task_app = Arc::clone(app);
                let task_target = target.clone();
                let task = tokio::spawn(async move {
                    let (outcome, own) = fetch_and_keep(&task_app, &task_target).await;
                    leader.finish(outcome.clone());
                    (outcome, own)
                });
                return match task.await {
                    Ok((_, Some(own))) => own,
                    Ok((outcome, None)) => respond(outcome, req, true),
                    Err(err) => {
                        tracing::error!(target = %target.canonical, error = %err, "snapshot fetch task failed");
                        serve::plain(StatusCode::BAD_GATEWAY, "snapshot fetch failed")
                    }
                };
            }
            Role::Follower(follower) => match follower.outcome().await {
                Some(Outcome::TooLarge) => return pass_through_large(app, &target).await,
                Some(outcome) => return respond(outcome, req, false),
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
            let (outcome, _) = fetch_and_keep(&app, &target).await;
            leader.finish(outcome);
        });
    }
}

/// The leader's work: fetch, decide, write. The second value is the
/// leader's own response when it cannot be shared (a streamed large page).
pub async fn fetch_and_keep(app: &Arc<App>, target: &Target) -> (Outcome, Option<Response<Body>>) {
    let config = app.config_owned();
    // Invalidations recorded from now on overtake this fetch.
    let since = app.invalidations.seq();
    let fetched = match fetch_once(app, &config, target).await {
        Ok(fetched) => fetched,
        Err(err) => {
            log_fetch_error(&config, target, &err);
            return (Outcome::Failed(err.status(), err.visitor_text()), None);
        }
    };
    let Fetched { parts, body } = fetched;
    let body = match body {
        FetchedBody::Complete(body) => body,
        FetchedBody::TooLarge(read, rest) => {
            let res = pass_response(
                parts.status,
                parts.headers,
                Body::Prefixed(read, rest),
                PassReason::TooLarge,
                true,
            );
            return (Outcome::TooLarge, Some(res));
        }
    };
    let rules = KeepRules {
        statuses: &config.cache.statuses,
        strip_set_cookie: config.cache.strip_set_cookie,
    };
    if let Some(reason) = policy::pass_reason(parts.status, &parts.headers, rules) {
        return (passed(parts.status, parts.headers, body, reason), None);
    }
    let route_tags = target.route.map_or(&[][..], |i| &config.routes[i].tags[..]);
    let (tags_header, max_tags) = (&config.preload.tags_header, config.preload.max_tags);
    let tags = match tags::page_tags(route_tags, &parts.headers, tags_header, max_tags) {
        Ok(tags) => tags,
        Err(reason) => return (passed(parts.status, parts.headers, body, reason), None),
    };
    warn_on_foreign_vary(app, &config, target, &parts.headers);
    let mut snapshot = build_snapshot(&config, target, &parts, tags, body.clone());
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
    match written {
        Ok(kept) => (Outcome::Kept(kept), None),
        Err(StoreError::Refused | StoreError::Outdated) => {
            tracing::debug!(target = %target.canonical, "an invalidation overtook the fetch; not kept");
            (
                passed(parts.status, parts.headers, body, PassReason::Invalidated),
                None,
            )
        }
        Err(StoreError::TooLarge { .. }) => (
            passed(parts.status, parts.headers, body, PassReason::TooLarge),
            None,
        ),
        Err(err) => {
            tracing::warn!(target = %target.canonical, error = %err, "snapshot not written");
            match config.cache.on_write_error {
                OnWriteError::Serve => (
                    passed(parts.status, parts.headers, body, PassReason::WriteError),
                    None,
                ),
                OnWriteError::Fail => (
                    Outcome::Failed(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "snapshot could not be written",
                    ),
                    None,
                ),
            }
        }
    }
}

async fn fetch_once(app: &App, config: &Config, target: &Target) -> Result<Fetched, FetchError> {
    let settings = FetchSettings {
        upstream: &config.upstream.url,
        host: &config.upstream.host,
        fetch_timeout: config.upstream.fetch_timeout,
        max_object_size: config.cache.max_object_size,
    };
    let request = FetchRequest {
        target: &target.canonical,
        vary: &target.vary,
    };
    app.fetcher.fetch(request, &settings).await
}

/// The detail of a failed fetch, for the operator: which page, which app,
/// and the whole error chain.
fn log_fetch_error(config: &Config, target: &Target, err: &FetchError) {
    tracing::warn!(
        target = %target.canonical,
        upstream = %config.upstream.url,
        error = %err,
        "snapshot fetch failed"
    );
}

fn passed(status: StatusCode, headers: HeaderMap, body: Bytes, reason: PassReason) -> Outcome {
    Outcome::Passed(Arc::new(Passed {
        status,
        headers,
        body,
        reason,
    }))
}

/// A follower's answer for a page too large to share: its own anonymous
/// fetch, streamed.
async fn pass_through_large(app: &App, target: &Target) -> Response<Body> {
    match fetch_and_keep_uncoordinated(app, target).await {
        Ok(res) => res,
        Err(err) => {
            log_fetch_error(&app.config(), target, &err);
            serve::plain(err.status(), err.visitor_text())
        }
    }
}

async fn fetch_and_keep_uncoordinated(
    app: &App,
    target: &Target,
) -> Result<Response<Body>, FetchError> {
    let config = app.config_owned();
    let Fetched { parts, body } = fetch_once(app, &config, target).await?;
    let body = match body {
        FetchedBody::Complete(bytes) => Body::full(bytes),
        FetchedBody::TooLarge(read, rest) => Body::Prefixed(read, rest),
    };
    Ok(pass_response(
        parts.status,
        parts.headers,
        body,
        PassReason::TooLarge,
        true,
    ))
}

fn respond(outcome: Outcome, req: &request::Parts, leader: bool) -> Response<Body> {
    match outcome {
        Outcome::Kept(snap) => {
            serve::snapshot_response(&snap, CacheStatus::Miss, req, SystemTime::now())
        }
        Outcome::Passed(p) => pass_response(
            p.status,
            p.headers.clone(),
            Body::full(p.body.clone()),
            p.reason,
            leader,
        ),
        Outcome::Failed(status, text) => serve::plain(status, text),
        // A follower never calls respond with TooLarge; a leader never gets it without its own response.
        Outcome::TooLarge => serve::plain(StatusCode::BAD_GATEWAY, "page too large to share"),
    }
}

/// A fetched response passed on, marked PASS with its reason. Only the
/// visitor whose request led the fetch receives the app's Set-Cookie: a
/// cookie is never handed to several visitors.
fn pass_response(
    status: StatusCode,
    mut headers: HeaderMap,
    body: Body,
    reason: PassReason,
    leader: bool,
) -> Response<Body> {
    headers::strip_hop_by_hop(&mut headers, false);
    if !leader {
        headers.remove(header::SET_COOKIE);
    }
    if !matches!(body, Body::Prefixed(..)) {
        headers.remove(header::CONTENT_LENGTH);
    }
    headers.insert(X_PRELOAD_CACHE, HeaderValue::from_static("PASS"));
    headers.insert(X_PRELOAD_REASON, HeaderValue::from_static(reason.as_str()));
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
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
) -> Snapshot {
    let (status, headers) = (parts.status, &parts.headers);
    let taken = SystemTime::now();
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
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
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
