//! What the cache holds for a key, and whether it may be served: the
//! lookup the dispatcher ([`crate::preload`]) and the miss path (its
//! second look once it leads a flight) share.
//!
//! A snapshot in the hot set is found on the spot, as cheap as a lookup in
//! memory can be; one that is not is read from its file, here if the
//! kernel has it cached, on the blocking pool if the disk is needed,
//! because a read on a runtime worker (slow under memory pressure, or stuck
//! on a sick disk) would stall every connection the worker serves.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::key::Key;
use crate::state::App;
use crate::store::{Found, Lookup, Unindexed};

/// The snapshot of `key`, wherever it is.
pub async fn lookup(app: &Arc<App>, key: &Key) -> Option<Found> {
    let cold = match app.store.lookup_hot(key) {
        Lookup::Absent => return None,
        Lookup::Hot(found) => return Some(found),
        Lookup::Cold(cold) => cold,
        Lookup::Unindexed(unindexed) => return read_unindexed(app, unindexed).await,
    };
    if let Some(found) = app.store.read_cached(&cold) {
        return Some(found);
    }
    let reader = Arc::clone(app);
    match tokio::task::spawn_blocking(move || reader.store.read_cold(&cold)).await {
        Ok(found) => found,
        Err(err) => {
            tracing::error!(error = %err, "reading a snapshot file failed");
            None
        }
    }
}

/// During the rebuild of the index after a crash: the key's file, read on
/// the blocking pool (it may not exist: the key was never kept).
async fn read_unindexed(app: &Arc<App>, unindexed: Unindexed) -> Option<Found> {
    let reader = Arc::clone(app);
    match tokio::task::spawn_blocking(move || reader.store.read_unindexed(&unindexed)).await {
        Ok(found) => found,
        Err(err) => {
            tracing::error!(error = %err, "reading a snapshot file failed");
            None
        }
    }
}

/// Whether a found snapshot may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A HIT.
    Fresh,
    /// Past its expiry but within `grace`: serve STALE while refetching.
    Stale,
    /// Past grace: as good as missing.
    Expired,
}

/// `grace` counts from the moment a snapshot expired (route `ttl`) or was
/// soft-invalidated, whichever came first.
pub fn freshness(found: &Found, now: SystemTime, grace: Duration) -> Freshness {
    freshness_of(found.snapshot.meta.expires, found.stale_since, now, grace)
}

/// [`freshness`] from the two times that decide it (a listing has them
/// from the index, without the snapshot).
pub fn freshness_of(
    expires: Option<SystemTime>,
    stale_since: Option<SystemTime>,
    now: SystemTime,
    grace: Duration,
) -> Freshness {
    let expired = expires.filter(|e| now >= *e);
    let since = match (expired, stale_since) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match since {
        None => Freshness::Fresh,
        Some(since) if now < since + grace => Freshness::Stale,
        Some(_) => Freshness::Expired,
    }
}

/// True when a snapshot may be served as HIT.
pub fn is_fresh(found: &Found, now: SystemTime) -> bool {
    freshness(found, now, Duration::ZERO) == Freshness::Fresh
}
