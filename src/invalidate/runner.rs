//! The schedule task: sleeps until the next `daily` / `[[schedule]]`
//! firing, applies what fires, and repeats until shutdown, re-armed when a
//! reload swaps the config; and the catch-up at start, which applies what
//! fell due while the daemon was down.

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
///
/// A reload that changes the schedules (or `daily`, or the timezone)
/// re-arms them from the time of day of the swap: a schedule added fires
/// at its next time after it, one removed no longer fires, and nothing is
/// caught up (a reload is no restart: nothing fell due unseen). A firing
/// already due when the swap is seen is made first, by the plans it was
/// due for.
pub async fn run(app: Arc<App>, start: DateTime<Utc>, mut shutdown: Shutdown) {
    let mut swaps = app.config_swaps();
    let mut after = start;
    let mut armed = Armed::of(&app);
    loop {
        let next = schedule::next_due(&armed.plans, armed.tz, after);
        let due_at = next.as_ref().map(|(when, _)| SystemTime::from(*when));
        let sleep = async {
            match due_at {
                Some(at) => app.clock.sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let swapped = tokio::select! {
            _ = sleep => false,
            changed = swaps.changed() => {
                changed.expect("the sender lives in the App this task holds");
                true
            }
            _ = shutdown.wait() => return,
        };
        let now = app.clock.utc();
        if let Some((when, due)) = next.filter(|(when, _)| !swapped || *when <= now) {
            // Timers may fire a hair early by the wall clock; never fire the
            // same instant twice.
            after = when;
            for i in due {
                fire(&app, &armed.plans[i]).await;
            }
        }
        if swapped {
            let new = Armed::of(&app);
            if new.differs(&armed) {
                after = after.max(now);
                tracing::info!(plans = new.plans.len(), "schedules re-armed");
            }
            armed = new;
        }
    }
}

/// The plans of the config in force, and the zone they are read in.
struct Armed {
    plans: Vec<Plan>,
    tz: crate::config::Timezone,
}

impl Armed {
    fn of(app: &App) -> Armed {
        let config = app.config();
        Armed {
            plans: schedule::plans(&config),
            tz: config.invalidate.timezone,
        }
    }

    fn differs(&self, other: &Armed) -> bool {
        format!("{:?} {:?}", self.tz, self.plans) != format!("{:?} {:?}", other.tz, other.plans)
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
    let mut swaps = app.config_swaps();
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
                _ = swaps.changed() => continue,
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
