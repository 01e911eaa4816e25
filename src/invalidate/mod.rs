//! Invalidation (SPEC §6): what a webhook, a schedule or `preloadd
//! invalidate` names, when schedules fire, and applying it to the store so
//! that no dropped page is served as HIT once the caller is told it is done.
//!
//! [`selector`] is the one description of "what to drop" that every source
//! produces; [`webhook`] turns a request body into one; [`schedule`]
//! computes firing instants without waiting on a clock (`wallclock` maps
//! its wall-clock times to instants across DST changes); [`log`] is the gate
//! that keeps a fetch which started before an invalidation from being
//! stored as fresh; [`apply`] resolves a selector to snapshots and drops or
//! softens them; [`runner`] fires schedules and catches up at start;
//! [`rewarm`] refetches what was dropped; [`handlers`] are the webhook
//! endpoint and the write-through of unsafe methods ([`writes`] has its
//! rule).

pub mod apply;
mod fields;
pub mod handlers;
pub mod log;
pub mod rewarm;
pub mod runner;
pub mod schedule;
pub mod selector;
mod wallclock;
pub mod webhook;
pub mod writes;

use std::sync::Arc;

use crate::cluster::Sent;
use crate::error::Error;
use crate::key::Key;
use crate::metrics::InvalidationSource;
use crate::outcome::{Outcome, Shared};
use crate::state::App;
use crate::store::StoreError;

use self::selector::Selector;

/// How long a soft invalidation waits for the writes of pages it names
/// (normally milliseconds); past it they are refused, as a drop refuses them.
const SOFT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Applies `selector` (off the runtime's threads: removals fsync), starts a
/// rewarm when configured, and returns how many snapshots it dropped or
/// softened. When this returns, the dropped pages are gone for good.
/// `source` is what the metrics and the log line name it by.
pub async fn run(
    app: &Arc<App>,
    selector: Selector,
    source: InvalidationSource,
) -> Result<usize, Error> {
    let rewarm = app.config().invalidate.rewarm;
    let described = selector.to_string();
    let selector = Arc::new(selector);
    if selector.soft {
        // A soft mark keeps a page to serve STALE: one answered and still
        // being written is let in first, then marked with the rest.
        app.flights
            .landed(|outcome| names(&selector, outcome), SOFT_WAIT)
            .await;
    }
    let worker = Arc::clone(app);
    let named = Arc::clone(&selector);
    let applied = tokio::task::spawn_blocking(move || {
        let being_written = || retire_named(&worker, &named);
        apply::apply_with(
            &worker.store,
            &worker.invalidations,
            &named,
            None,
            rewarm,
            worker.clock.now(),
            Some(&being_written),
        )
    })
    .await
    .map_err(|e| Error::Runtime(format!("invalidation task failed: {e}")))??;
    counted(app, source, &described, applied.count);
    rewarm::start(app, applied.targets);
    Ok(applied.count)
}

/// Ends the flights of the pages answered and still being written
/// (`miss`) that `selector` names, so that the next request (or the
/// rewarm) fetches them anew; their keys and targets.
fn retire_named(app: &App, selector: &Selector) -> Vec<(Key, String)> {
    app.flights
        .retire_answered(|outcome| names(selector, outcome))
        .into_iter()
        .filter_map(|outcome| match outcome {
            Outcome::Shared(Shared::Kept { snapshot, .. }) => {
                Some((snapshot.key, snapshot.meta.target.clone()))
            }
            _ => None,
        })
        .collect()
}

/// True when `outcome` is a page answered and being written that
/// `selector` names.
fn names(selector: &Selector, outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Shared(Shared::Kept { snapshot, .. }) => {
            selector.matches(&snapshot.meta.target, &snapshot.meta.tags)
        }
        _ => false,
    }
}

/// [`run`] for an invalidation this node accepted (the webhook, a write
/// through): once applied here, it goes to the other nodes of a cluster
/// ([`crate::cluster`]), also when the drop was not durable here (the
/// others' may be). The second value is what became of that; `None`
/// without `[cluster]`, where this is [`run`] and nothing more. Schedules
/// and the stream's entries use [`run`]: they do not travel.
pub async fn run_shared(
    app: &Arc<App>,
    selector: Selector,
    source: InvalidationSource,
) -> (Result<usize, Error>, Option<Sent>) {
    let Some(node) = app.cluster.as_ref() else {
        return (run(app, selector, source).await, None);
    };
    let result = run(app, selector.clone(), source).await;
    let sent = match &result {
        Ok(_) | Err(Error::Store(StoreError::NotDurable { .. })) => {
            Some(node.publish(&selector).await)
        }
        Err(_) => None,
    };
    (result, sent)
}

/// Counts an applied invalidation and logs it as one line.
pub fn counted(app: &App, source: InvalidationSource, selector: &str, count: usize) {
    app.metrics.invalidated(source, count);
    app.status
        .invalidated(app.clock.now(), source, selector, count);
    tracing::info!(%source, selector, count, "invalidation applied");
}
