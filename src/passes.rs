//! The last PASS of each recently passed key, for `explain`: "why is this
//! page never cached?" answered with the reason and the time, by the
//! daemon that decided it.
//!
//! Bounded: at most [`CAPACITY`] keys, the least recently recorded going
//! first, so a flood of uncacheable URLs costs a fixed amount of memory.
//! A key that is kept again loses its record: what is left describes the
//! last fetch that was not kept, since the page was last kept. In memory
//! only; a restart forgets it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::key::{Key, KeyMap};
use crate::outcome::{Outcome, Shared};
use crate::policy::PassReason;

/// Keys remembered at most.
pub const CAPACITY: usize = 10_000;

/// One key's last PASS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastPass {
    pub reason: PassReason,
    pub at: SystemTime,
}

/// The map; one short lock per record, taken only on fetches.
#[derive(Debug)]
pub struct Passes {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: KeyMap<(LastPass, u64)>,
    /// Keys by recording, with the tick of that recording; a pair whose
    /// tick is no longer the key's is skipped (recorded again since).
    order: VecDeque<(Key, u64)>,
    tick: u64,
}

impl Default for Passes {
    fn default() -> Passes {
        Passes::with_capacity(CAPACITY)
    }
}

impl Passes {
    pub fn with_capacity(capacity: usize) -> Passes {
        Passes {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    /// Records that `key` was passed on for `reason` at `at`.
    pub fn record(&self, key: Key, reason: PassReason, at: SystemTime) {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.map.insert(key, (LastPass { reason, at }, tick));
        inner.order.push_back((key, tick));
        while inner.map.len() > self.capacity {
            let Some((old, t)) = inner.order.pop_front() else {
                break;
            };
            if inner
                .map
                .get(&old)
                .is_some_and(|&(_, current)| current == t)
            {
                inner.map.remove(&old);
            }
        }
        // Pairs of keys recorded again pile up behind; dropped once they
        // outnumber the live ones.
        if inner.order.len() > 2 * self.capacity {
            let Inner { map, order, .. } = &mut *inner;
            order.retain(|(k, t)| map.get(k).is_some_and(|&(_, current)| current == *t));
        }
    }

    /// Forgets `key`: it was kept.
    pub fn forget(&self, key: &Key) {
        let mut inner = self.lock();
        if !inner.map.is_empty() {
            inner.map.remove(key);
        }
    }

    /// Records what a fetch of `key` came to: a PASS, or a keep (which
    /// forgets it). A failed fetch changes nothing.
    pub fn after_fetch(&self, key: Key, outcome: &Outcome, at: SystemTime) {
        match outcome {
            Outcome::Unshared(reason) => self.record(key, *reason, at),
            Outcome::Shared(Shared::Passed(p)) => self.record(key, p.reason, at),
            Outcome::Shared(Shared::Kept { .. }) => self.forget(&key),
            Outcome::Shared(Shared::Failed(_)) => {}
        }
    }

    /// The last PASS of `key`, if it is remembered.
    pub fn get(&self, key: &Key) -> Option<LastPass> {
        self.lock().map.get(key).map(|&(last, _)| last)
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic under this lock leaves a consistent map (each change is one
    // call), so poisoning is ignored.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::respond::Own;

    fn key(n: u32) -> Key {
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&n.to_be_bytes());
        Key(k)
    }

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn the_last_pass_of_a_key_is_kept_until_it_is_kept() {
        let p = Passes::default();
        assert_eq!(p.get(&key(1)), None);
        p.record(key(1), PassReason::NoStore, at(1));
        p.record(key(1), PassReason::SetCookie, at(2));
        assert_eq!(
            p.get(&key(1)),
            Some(LastPass {
                reason: PassReason::SetCookie,
                at: at(2)
            })
        );
        p.after_fetch(
            key(1),
            &Outcome::Shared(Shared::Failed(Own::UpstreamTimeout)),
            at(3),
        );
        assert_eq!(
            p.get(&key(1)).map(|l| l.at),
            Some(at(2)),
            "a failure is no PASS"
        );
        p.after_fetch(key(1), &Outcome::Unshared(PassReason::Private), at(4));
        assert_eq!(p.get(&key(1)).map(|l| l.reason), Some(PassReason::Private));
        p.forget(&key(1));
        assert_eq!(p.get(&key(1)), None);
    }

    #[test]
    fn the_map_is_bounded_and_the_least_recently_recorded_go_first() {
        let p = Passes::with_capacity(3);
        for n in 0..3 {
            p.record(key(n), PassReason::NoStore, at(u64::from(n)));
        }
        // Recorded again: now the most recent.
        p.record(key(0), PassReason::Status, at(10));
        p.record(key(3), PassReason::NoStore, at(11));
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(&key(1)), None, "the oldest went");
        assert!(p.get(&key(0)).is_some() && p.get(&key(2)).is_some());
        // The same key over and over: the queue does not grow without end.
        for s in 0..1000 {
            p.record(key(2), PassReason::NoStore, at(s));
        }
        assert_eq!(p.len(), 3);
        assert!(p.lock().order.len() <= 6);
        for n in 100..200 {
            p.record(key(n), PassReason::NoStore, at(1));
        }
        assert_eq!(p.len(), 3);
        assert!(p.get(&key(199)).is_some());
    }
}
