//! The recent-invalidations log and the publish gate: how a fetch that
//! started before an invalidation is kept from being stored as fresh.
//!
//! Every invalidation is recorded here (under the lock) before it touches
//! the store. A fetch notes [`Log::seq`] when it starts; when its snapshot
//! is ready, the store asks [`Log::admit`] right before making it visible
//! and holds the returned guard until it is in the index. So either the
//! invalidation was recorded first, and `admit` refuses the snapshot, or the
//! snapshot was indexed first, and the invalidation finds and drops it.
//! There is no order in which a dropped page is served as HIT after the
//! invalidation's reply.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::selector::Selector;

/// How long entries are kept; a fetch older than this (it would have timed
/// out long before with sane settings) is refused when anything was
/// invalidated since, rather than checked.
const RETAIN: Duration = Duration::from_secs(600);
/// At most this many entries; beyond it the oldest go (and fetches older
/// than them are refused, as above).
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct Log {
    inner: Mutex<Entries>,
}

#[derive(Default)]
pub struct Entries {
    /// Sequence number the next invalidation gets.
    next: u64,
    /// Sequence number of `recent[0]`; anything before it was pruned.
    first: u64,
    recent: VecDeque<(Instant, Arc<Selector>)>,
}

impl Log {
    /// The sequence number a fetch starting now records.
    pub fn seq(&self) -> u64 {
        self.lock().next
    }

    /// Records an invalidation; returns its sequence number.
    pub fn record(&self, selector: Arc<Selector>) -> u64 {
        self.record_then(selector, || ()).0
    }

    /// [`Log::record`], then `then` with the log still held: no snapshot is
    /// between the gate and the index meanwhile, so every snapshot `then`
    /// looks at is either indexed already or will be refused.
    pub fn record_then<R>(&self, selector: Arc<Selector>, then: impl FnOnce() -> R) -> (u64, R) {
        let mut e = self.lock();
        let now = Instant::now();
        while e
            .recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > RETAIN)
            || e.recent.len() >= MAX_ENTRIES
        {
            e.recent.pop_front();
            e.first += 1;
        }
        e.recent.push_back((now, selector));
        e.next += 1;
        let seq = e.next - 1;
        (seq, then())
    }

    /// The gate: `Some(guard)` when no invalidation recorded since `since`
    /// names this snapshot; hold the guard until the snapshot is indexed.
    pub fn admit<T: AsRef<str>>(
        &self,
        since: u64,
        target: &str,
        tags: &[T],
    ) -> Option<MutexGuard<'_, Entries>> {
        let e = self.lock();
        if since < e.first {
            // Pruned: cannot tell, so refuse.
            return None;
        }
        let skip = (since - e.first) as usize;
        let overtaken = e
            .recent
            .iter()
            .skip(skip)
            .any(|(_, sel)| sel.matches(target, tags));
        (!overtaken).then_some(e)
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Selector {
        Selector {
            tags: t.iter().map(|s| s.to_string()).collect(),
            ..Selector::default()
        }
    }

    #[test]
    fn a_fetch_is_refused_only_by_later_matching_invalidations() {
        let log = Log::default();
        log.record(Arc::new(tags(&["a"])));
        let since = log.seq();
        assert!(
            log.admit(since, "/x", &["a"]).is_some(),
            "earlier invalidations do not count"
        );
        log.record(Arc::new(tags(&["b"])));
        assert!(
            log.admit(since, "/x", &["a"]).is_some(),
            "a later one that names something else"
        );
        log.record(Arc::new(tags(&["a"])));
        assert!(log.admit(since, "/x", &["a"]).is_none());
        assert!(log.admit(log.seq(), "/x", &["a"]).is_some());
    }

    #[test]
    fn urls_and_all_refuse_too() {
        let log = Log::default();
        let since = log.seq();
        log.record(Arc::new(Selector {
            urls: vec!["/x?a=1".into()],
            ..Selector::default()
        }));
        assert!(log.admit(since, "/x?a=1", &[] as &[&str]).is_none());
        assert!(log.admit(since, "/x", &[] as &[&str]).is_some());
        log.record(Arc::new(Selector {
            all: true,
            ..Selector::default()
        }));
        assert!(log.admit(since, "/y", &[] as &[&str]).is_none());
    }
}
