//! The hot set: recently used snapshots kept decoded in memory, bounded by
//! the total size of their bodies (`cache.memory`; 0 disables it).
//!
//! Replacement is second chance ("clock"), an LRU approximation: a hit only
//! sets a flag under the read lock; the insert that overflows the budget
//! walks the queue from the oldest, sparing (once) what was hit since.
//!
//! Every entry carries the index serial it was read under. The hot set is
//! never the authority: `Store` asks the index first and takes a hot entry
//! only if its serial matches, so a replaced or dropped snapshot can linger
//! here briefly but is never served. This module never touches files.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::key::{Key, KeyMap};

use super::{read_lock, write_lock, Snapshot};

pub(crate) struct HotSet {
    budget: u64,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    map: KeyMap<Hot>,
    /// Insertion order as (key, serial); stale pairs are skipped.
    order: VecDeque<(Key, u64)>,
    bytes: u64,
}

struct Hot {
    snapshot: Arc<Snapshot>,
    serial: u64,
    referenced: AtomicBool,
}

impl HotSet {
    pub(crate) fn new(budget: u64) -> HotSet {
        HotSet {
            budget,
            inner: RwLock::default(),
        }
    }

    /// The snapshot of `key`, if held under this index `serial`.
    pub(crate) fn get(&self, key: &Key, serial: u64) -> Option<Arc<Snapshot>> {
        if self.budget == 0 {
            return None;
        }
        let inner = read_lock(&self.inner);
        let hot = inner.map.get(key).filter(|h| h.serial == serial)?;
        hot.referenced.store(true, Ordering::Relaxed);
        Some(hot.snapshot.clone())
    }

    pub(crate) fn insert(&self, serial: u64, snapshot: Arc<Snapshot>) {
        let size = snapshot.bodies_len();
        if self.budget == 0 || size > self.budget {
            self.remove(&snapshot.key);
            return;
        }
        let key = snapshot.key;
        let mut inner = write_lock(&self.inner);
        let hot = Hot {
            snapshot,
            serial,
            referenced: AtomicBool::new(false),
        };
        if let Some(old) = inner.map.insert(key, hot) {
            inner.bytes -= old.snapshot.bodies_len();
        }
        inner.bytes += size;
        inner.order.push_back((key, serial));
        inner.shrink_to(self.budget);
    }

    pub(crate) fn remove(&self, key: &Key) {
        if self.budget == 0 {
            return;
        }
        let mut inner = write_lock(&self.inner);
        if let Some(old) = inner.map.remove(key) {
            inner.bytes -= old.snapshot.bodies_len();
        }
    }

    pub(crate) fn clear(&self) {
        *write_lock(&self.inner) = Inner::default();
    }

    /// Body bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        read_lock(&self.inner).bytes
    }

    pub(crate) fn len(&self) -> usize {
        read_lock(&self.inner).map.len()
    }
}

impl Inner {
    fn shrink_to(&mut self, budget: u64) {
        while self.bytes > budget {
            let Some((key, serial)) = self.order.pop_front() else {
                break;
            };
            let Some(hot) = self.map.get(&key).filter(|h| h.serial == serial) else {
                continue;
            };
            if hot.referenced.swap(false, Ordering::Relaxed) {
                self.order.push_back((key, serial));
            } else if let Some(old) = self.map.remove(&key) {
                self.bytes -= old.snapshot.bodies_len();
            }
        }
        // Removals and replacements leave stale pairs behind; keep them from
        // piling up when the budget is never reached.
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|h| h.serial == *s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::snapshot::tests::sample;

    fn snap(n: u8, body: &'static [u8]) -> Arc<Snapshot> {
        Arc::new(sample(n, body))
    }

    #[test]
    fn serial_must_match() {
        let hot = HotSet::new(100);
        hot.insert(7, snap(1, b"abc"));
        assert!(hot.get(&Key([1; 32]), 7).is_some());
        assert!(hot.get(&Key([1; 32]), 8).is_none());
        hot.remove(&Key([1; 32]));
        assert!(hot.get(&Key([1; 32]), 7).is_none());
        assert_eq!(hot.bytes(), 0);
    }

    #[test]
    fn bounded_by_body_bytes_sparing_what_was_hit() {
        let hot = HotSet::new(10);
        hot.insert(1, snap(1, b"aaaa"));
        hot.insert(2, snap(2, b"bbbb"));
        assert!(hot.get(&Key([1; 32]), 1).is_some());
        hot.insert(3, snap(3, b"cccc"));
        assert!(hot.bytes() <= 10);
        assert_eq!(hot.len(), 2);
        assert!(hot.get(&Key([1; 32]), 1).is_some(), "hit entry kept");
        assert!(hot.get(&Key([2; 32]), 2).is_none(), "cold entry evicted");
        // Too big for the budget: not kept at all.
        hot.insert(4, snap(4, b"0123456789ab"));
        assert!(hot.get(&Key([4; 32]), 4).is_none());
        assert!(hot.bytes() <= 10);
    }

    #[test]
    fn zero_budget_holds_nothing() {
        let hot = HotSet::new(0);
        hot.insert(1, snap(1, b""));
        hot.insert(2, snap(2, b"a"));
        assert!(hot.get(&Key([1; 32]), 1).is_none());
    }

    #[test]
    fn churn_does_not_grow_the_queue() {
        let hot = HotSet::new(1000);
        for i in 0..1000u64 {
            hot.insert(i, snap(1, b"x"));
        }
        assert!(read_lock(&hot.inner).order.len() <= 2 + 64 + 1);
    }
}
