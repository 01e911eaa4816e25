//! The status page, `GET /_preloadd/` on the admin listener: one HTML
//! document from the metrics ([`crate::metrics`]), the recent past of the
//! request counters ([`history`], sampled every 10 s by
//! [`handler::sample`]) and the last invalidations ([`recent`]); [`page`]
//! writes it and [`handler`] serves it. This module holds the data the
//! shared `App` keeps, so it imports nothing from above it.
//!
//! The request path pays nothing for it: the sampler reads the counters,
//! and an invalidation (rare) pushes one entry under a lock.

pub mod figures;
pub mod handler;
pub mod history;
pub mod page;
pub mod recent;

use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use crate::metrics::InvalidationSource;

use self::history::{History, Sample};
use self::recent::Recent;

/// What the status page remembers beyond the metrics.
#[derive(Debug)]
pub struct Status {
    started: Instant,
    history: Mutex<History>,
    recent: Mutex<Recent>,
}

impl Default for Status {
    fn default() -> Status {
        Status {
            started: Instant::now(),
            history: Mutex::new(History::default()),
            recent: Mutex::new(Recent::default()),
        }
    }
}

impl Status {
    /// An invalidation was applied (`invalidate::counted`).
    pub fn invalidated(
        &self,
        at: SystemTime,
        source: InvalidationSource,
        selector: &str,
        count: usize,
    ) {
        lock(&self.recent).record(at, source, selector, count);
    }

    pub(super) fn record(&self, sample: Sample) {
        lock(&self.history).push(sample);
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
