//! The schedule task: sleeps until the next `daily` / `[[schedule]]`
//! firing, applies what fires, and repeats until shutdown; and the catch-up
//! at start, which applies what fell due while the daemon was down.

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::metrics::InvalidationSource;
use crate::shutdown::Shutdown;
use crate::state::App;

use super::schedule::{self, Plan};

/// At start, before accepting requests: every plan drops (or softens) the
/// snapshots it names that were taken before its last firing. Whatever
/// fired while the daemon was down is thereby applied; snapshots taken
/// since the last firing are kept.
pub fn catch_up(app: &App, now: DateTime<Utc>) {
    let config = app.config();
    let tz = config.invalidate.timezone;
    for plan in schedule::plans(&config) {
        let Some(fired) = schedule::last_fire(&plan.when, tz, now) else {
            continue;
        };
        let fired_at = SystemTime::from(fired);
        match super::apply::apply(
            &app.store,
            &app.invalidations,
            &plan.selector,
            Some(fired_at),
            false,
            SystemTime::from(now),
        ) {
            Ok(applied) if applied.count > 0 => {
                app.metrics
                    .invalidated(InvalidationSource::Schedule, applied.count);
                tracing::info!(plan = %plan.name, fired = %fired, count = applied.count, source = %InvalidationSource::Schedule, selector = %plan.selector, "applied at start: fell due while down")
            }
            Ok(_) => {}
            Err(err) => tracing::error!(plan = %plan.name, error = %err, "catch-up failed"),
        }
    }
}

/// Runs the schedules until shutdown: every firing after `start` (the
/// time of day read before any request is accepted; the catch-up covers
/// what came before).
pub async fn run(app: Arc<App>, start: DateTime<Utc>, mut shutdown: Shutdown) {
    let mut after = start;
    loop {
        let config = app.config();
        let plans = schedule::plans(&config);
        let tz = config.invalidate.timezone;
        drop(config);
        let Some((when, due)) = schedule::next_due(&plans, tz, after) else {
            shutdown.wait().await;
            return;
        };
        tokio::select! {
            _ = app.clock.sleep_until(SystemTime::from(when)) => {}
            _ = shutdown.wait() => return,
        }
        // Timers may fire a hair early by the wall clock; never fire the
        // same instant twice.
        after = when;
        for i in due {
            fire(&app, &plans[i]).await;
        }
    }
}

async fn fire(app: &Arc<App>, plan: &Plan) {
    match super::run(app, plan.selector.clone(), InvalidationSource::Schedule).await {
        Ok(count) => tracing::info!(plan = %plan.name, count, "schedule fired"),
        // Nobody is waiting on a reply: the log says it, loudly.
        Err(err) => tracing::error!(plan = %plan.name, error = %err, "schedule failed"),
    }
}

/// Removes snapshots that expired (route `ttl`) longer than `grace` ago:
/// they can never be served again, so they should not hold disk space
/// until eviction gets to them. Runs every shortest-`ttl` (between 1 s and
/// a minute) while any route has a `ttl`.
pub async fn sweep(app: Arc<App>, mut shutdown: Shutdown) {
    loop {
        let (period, grace) = {
            let config = app.config();
            let shortest = config.routes.iter().filter_map(|r| r.ttl).min();
            (shortest, config.cache.grace)
        };
        let Some(period) = period else {
            // No route expires anything; a reload may add one.
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => continue,
                _ = shutdown.wait() => return,
            }
        };
        let period = period.clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(60),
        );
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = app.clock.moved() => {}
            _ = shutdown.wait() => return,
        }
        let worker = Arc::clone(&app);
        let removed = tokio::task::spawn_blocking(move || {
            let now = worker.clock.now();
            let dead = worker
                .store
                .keys_where(|e| e.expires.is_some_and(|t| t + grace < now));
            // A refusal is logged by the store and retried there.
            worker.store.remove_many(&dead).unwrap_or(0)
        })
        .await
        .unwrap_or(0);
        if removed > 0 {
            super::counted(&app, InvalidationSource::Ttl, "expired past grace", removed);
        }
    }
}
