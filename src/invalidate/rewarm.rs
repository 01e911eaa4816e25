//! Rewarm: refetch the pages an invalidation dropped, in the background and
//! at most `rewarm_concurrency` at a time, so the next visitor gets a HIT.
//!
//! A page is refetched as an anonymous visitor without `vary` headers would
//! ask for it: variants that depend on a visitor's header are warmed again
//! by the first visitor who sends it.

use std::collections::HashSet;
use std::sync::Arc;

use http::HeaderMap;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::flight::Role;
use crate::key;
use crate::miss;
use crate::state::App;

/// Starts refetching `targets` (canonical targets) in a background task.
pub fn start(app: &Arc<App>, targets: Vec<String>) {
    if targets.is_empty() {
        return;
    }
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let limit = Arc::new(Semaphore::new(
            app.config().invalidate.rewarm_concurrency.max(1),
        ));
        let mut seen = HashSet::new();
        let mut tasks = JoinSet::new();
        for target in targets.into_iter().filter(|t| seen.insert(t.clone())) {
            let Ok(permit) = Arc::clone(&limit).acquire_owned().await else {
                break;
            };
            let app = Arc::clone(&app);
            tasks.spawn(async move {
                refetch(&app, &target).await;
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    });
}

async fn refetch(app: &Arc<App>, raw: &str) {
    let target = match key::resolve(&app.config(), &HeaderMap::new(), raw) {
        Ok(target) => target,
        Err(err) => {
            tracing::debug!(target = raw, error = %err, "not rewarmed");
            return;
        }
    };
    // A visitor's request may already be fetching it.
    if let Role::Leader(leader) = app.flights.join(target.key) {
        // Done once the page is written (or not kept): the concurrency
        // bound holds for the writes too.
        miss::fetch_and_keep(app, &target, leader, drop).await;
    }
}
