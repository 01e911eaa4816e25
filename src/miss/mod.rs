//! A preload request with no usable snapshot: one fetch per key (leader /
//! follower), the keep decision and the snapshot ([`keep`]), and its write
//! after the answer ([`land`]).
//!
//! The leader's fetch runs in a task of its own, so that a visitor who goes
//! away does not cancel the fetch the others wait for. What is kept, or
//! failed, is shared with every follower. What is not kept is streamed to
//! the leader's visitor alone, and each follower fetches it for itself
//! ([`crate::pass`]): sharing it would mean holding it whole.
//!
//! A kept page is answered from memory as soon as the app's body is in and
//! the keep decision (room under `max_size` included) is made: the leader's
//! visitor and the followers get it at once, and the variants, the fsyncs
//! and the rename come after, while the flight still holds the key. A
//! request arriving meanwhile joins the flight and gets HIT from the same
//! snapshot, unless an invalidation since the fetch began names the page:
//! then it retires the flight and fetches again, and the write is refused
//! at the publish gate (`invalidate::log`). With `on_write_error = "fail"`,
//! or while the disk refuses writes, the answer waits for the write, as the
//! setting promises an error when the snapshot cannot be written.

mod keep;
mod land;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{request, Response};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::body::Body;
use crate::cached;
use crate::fetch::FetchLine;
use crate::flight::{Leader, Role};
use crate::key::Target;
use crate::metrics::RequestResult;
use crate::outcome::{Outcome, Shared};
use crate::pass;
use crate::policy::PassReason;
use crate::respond::{snapshot_response, CacheStatus, Own};
use crate::state::App;
use crate::store::Snapshot;

pub use self::land::HOLD_WRITES_ENV;

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

/// How a request came by a shared answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Came {
    /// It led the fetch.
    Led,
    /// It waited for the fetch.
    Waited,
    /// It joined once the answer was out (the snapshot being written).
    Late,
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
                let (tx, rx) = oneshot::channel();
                let task_app = Arc::clone(app);
                let task_target = target.clone();
                tokio::spawn(async move {
                    let answer = move |led| {
                        // The visitor may have gone: the write goes on.
                        let _ = tx.send(led);
                    };
                    fetch_and_keep(&task_app, &task_target, leader, answer).await;
                });
                return match rx.await {
                    Ok(Led::Streamed(reason, res)) => {
                        app.metrics.pass(reason);
                        res
                    }
                    Ok(Led::Shared(shared)) => respond(app, shared, req, Came::Led),
                    Err(_) => {
                        tracing::error!(target = %target.canonical, "snapshot fetch task failed");
                        app.metrics.request(RequestResult::Error);
                        Own::FetchFailed.response()
                    }
                };
            }
            Role::Follower(follower) => {
                let id = follower.id();
                let came = if follower.late() {
                    Came::Late
                } else {
                    Came::Waited
                };
                match follower.outcome().await {
                    Some(Outcome::Unshared(reason)) => {
                        app.metrics.coalesced();
                        return pass::fetch_for_one(app, &target, reason).await;
                    }
                    Some(Outcome::Shared(Shared::Kept { snapshot, since }))
                        if !usable(app, &snapshot, since) =>
                    {
                        // Purged (or expired) since its fetch began: never
                        // served again; the next join fetches it anew.
                        app.flights.retire(&target.key, id);
                        continue;
                    }
                    Some(Outcome::Shared(shared)) => {
                        if came == Came::Waited {
                            app.metrics.coalesced();
                        }
                        return respond(app, shared, req, came);
                    }
                    None => continue,
                }
            }
        }
    }
}

/// HIT from a page answered and still being written, if there is one and
/// it may still be served: what `only-if-cached` may be given.
pub fn answered(app: &App, target: &Target, req: &request::Parts) -> Option<Response<Body>> {
    let (id, outcome) = app.flights.answered(&target.key)?;
    let Outcome::Shared(Shared::Kept { snapshot, since }) = outcome else {
        return None;
    };
    if !usable(app, &snapshot, since) {
        app.flights.retire(&target.key, id);
        return None;
    }
    Some(respond(
        app,
        Shared::Kept { snapshot, since },
        req,
        Came::Late,
    ))
}

/// True when a flight's kept snapshot may still be served: no invalidation
/// recorded since its fetch began names it, and it has not expired.
fn usable(app: &App, snap: &Snapshot, since: u64) -> bool {
    let meta = &snap.meta;
    let admitted = app
        .invalidations
        .admit(since, &meta.target, &meta.tags)
        .is_some();
    admitted && meta.expires.is_none_or(|at| app.clock.now() < at)
}

/// Starts one background refetch of a stale snapshot unless one runs.
pub fn refresh_in_background(app: &Arc<App>, target: Target) {
    if let Role::Leader(leader) = app.flights.join(target.key) {
        let app = Arc::clone(app);
        tokio::spawn(async move {
            // No visitor waits: a streamed answer is dropped unread.
            fetch_and_keep(&app, &target, leader, drop).await;
        });
    }
}

/// The leader's work ([`keep::decide`]) in a span of its own, counted and
/// logged as one line (`fetch::FetchLine`), a PASS noted for `explain`
/// ([`crate::passes`]); `answer` is given what the fetch came to as soon as
/// it is known, and so are the followers. A kept snapshot is written after
/// that, the flight holding the key until it is; this returns then.
pub async fn fetch_and_keep(
    app: &Arc<App>,
    target: &Target,
    leader: Leader<Outcome>,
    answer: impl FnOnce(Led),
) {
    let span = tracing::info_span!("fetch", target = %target.canonical);
    let mut took = Duration::ZERO;
    let (led, landing) = keep::decide(app, target, &mut took)
        .instrument(span.clone())
        .await;
    led.line(&target.canonical, took).record(&app.metrics);
    app.passes
        .after_fetch(target.key, &led.outcome(), app.clock.now());
    match landing {
        None => {
            leader.finish(led.outcome());
            answer(led);
        }
        Some(landing) => {
            leader.answer(led.outcome());
            answer(led);
            // The visitors just woken write their answers first: on one
            // core, the variants and the write would otherwise take it
            // from them (measured: docs/benchmarks.md, "Herd and misses").
            tokio::task::yield_now().await;
            landing.land(app, leader).instrument(span).await;
        }
    }
}

fn respond(app: &App, shared: Shared, req: &request::Parts, came: Came) -> Response<Body> {
    let now: SystemTime = app.clock.now();
    match shared {
        Shared::Kept { snapshot, .. } if came == Came::Late => {
            app.metrics.request(RequestResult::Hit);
            snapshot_response(&snapshot, CacheStatus::Hit, req, now)
        }
        Shared::Kept { snapshot, .. } => {
            app.metrics.request(RequestResult::Miss);
            snapshot_response(&snapshot, CacheStatus::Miss, req, now)
        }
        Shared::Passed(p) => {
            app.metrics.pass(p.reason);
            pass::response(
                p.status,
                p.headers.clone(),
                Body::full(p.body.clone()),
                p.reason,
                came == Came::Led,
                &app.config().preload.tags_header,
            )
        }
        Shared::Failed(own) => {
            app.metrics.request(RequestResult::Error);
            own.response()
        }
    }
}
