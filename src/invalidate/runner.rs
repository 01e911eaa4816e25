//! The schedule task: sleeps until the next `daily` / `[[schedule]]`
//! firing, applies what fires, and repeats until shutdown; and the catch-up
//! at start, which applies what fell due while the daemon was down.

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

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
        ) {
            Ok(applied) if applied.count > 0 => {
                tracing::info!(plan = %plan.name, fired = %fired, count = applied.count, "applied at start: fell due while down")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(plan = %plan.name, error = %err, "catch-up failed"),
        }
    }
}

/// Runs the schedules until shutdown.
pub async fn run(app: Arc<App>, mut shutdown: Shutdown) {
    let mut after = Utc::now();
    loop {
        let config = app.config();
        let plans = schedule::plans(&config);
        let tz = config.invalidate.timezone;
        drop(config);
        let Some((when, due)) = schedule::next_due(&plans, tz, after) else {
            shutdown.wait().await;
            return;
        };
        let wait = (when - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
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
    match super::run(app, plan.selector.clone()).await {
        Ok(count) => tracing::info!(plan = %plan.name, count, "schedule fired"),
        Err(err) => tracing::warn!(plan = %plan.name, error = %err, "schedule failed"),
    }
}
