//! Serving the status page and sampling for it: the parts that read the
//! shared `App`.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, Response};

use super::history::{self, Sample};
use super::lock;
use super::page::{self, View};
use crate::body::Body;
use crate::metrics::InvalidationSource;
use crate::policy::PassReason;
use crate::respond::Own;
use crate::shutdown::Shutdown;
use crate::state::App;

/// Samples the request counters every `history::EVERY` until `shutdown`
/// (the first at once).
pub async fn sample(app: Arc<App>, mut shutdown: Shutdown) {
    let mut every = tokio::time::interval(history::EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => app.status.record(Sample::of(&app.metrics, app.clock.now())),
            _ = shutdown.wait() => return,
        }
    }
}

/// `GET /_preloadd/` (or HEAD).
pub fn handle(app: &App, method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return Own::MethodNotAllowed("GET, HEAD").response();
    }
    let html = page::render(&view(app));
    let mut res = Response::new(Body::full(html));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The daemon's figures now.
pub fn view(app: &App) -> View {
    let now = app.clock.now();
    let current = Sample::of(&app.metrics, now);
    let intervals = lock(&app.status.history).intervals(&current);
    let mut passes: Vec<(PassReason, u64)> = PassReason::ALL
        .iter()
        .map(|&r| (r, app.metrics.pass_total(r)))
        .filter(|&(_, n)| n > 0)
        .collect();
    passes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
    passes.truncate(10);
    let fetch = app.metrics.fetch_histogram();
    let config = app.config();
    let (memory_bytes, _) = app.store.hot_set();
    View {
        version: env!("CARGO_PKG_VERSION"),
        node: config.cluster.as_ref().map(|c| c.node.clone()),
        cluster: app.cluster_figures(),
        now,
        uptime: app.status.started.elapsed(),
        totals: current.requests,
        intervals,
        passes,
        snapshots: app.store.len(),
        disk_bytes: app.store.bytes(),
        max_size: config.cache.max_size,
        memory_bytes,
        memory: config.cache.memory,
        fetches: fetch.count,
        fetch_seconds: fetch.sum,
        fetch_buckets: fetch.buckets,
        invalidations: InvalidationSource::ALL
            .iter()
            .map(|&s| (s, app.metrics.invalidations_total(s)))
            .collect(),
        recent: lock(&app.status.recent).newest_first(),
    }
}
