//! The least-recently-used order, kept so that a hit never takes a write
//! lock to record its use.
//!
//! Design: every index entry carries an atomic `last_used` tick that a hit
//! raises under the index's *read* lock (`fetch_max` of a global counter).
//! This queue maps a tick to a slot and is only touched by writers (put,
//! remove, eviction) under the write lock. It is updated lazily: an entry's
//! element sits at the tick it had when it was queued, which may be older
//! than its `last_used`. When eviction pops the smallest element and finds
//! the entry used since, it re-queues it at its current tick and goes on.
//! An element whose tick equals its entry's `last_used` is the true least
//! recently used entry: every other entry's element is at a larger tick, and
//! a `last_used` is never below its element's tick. Each hit thus costs one
//! atomic op, and eviction pays at most one re-queue per entry used since
//! it was last examined.
//!
//! Elements of removed or replaced entries are not searched for; they stay
//! as garbage, recognised because their tick is older than the serial (the
//! tick of the put) of whatever entry now holds the slot, and the queue is
//! rebuilt when garbage outweighs live elements. Ticks are unique, so two
//! elements never collide.
//!
//! The queue never looks at files, keys or sizes: the index decides when to
//! evict and does the removing.

use std::collections::BTreeMap;

/// What the queue needs to know of the entry in a slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticks {
    /// Tick of the put that created the entry.
    pub serial: u64,
    /// Tick of the last use (at least `serial`).
    pub last_used: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Lru {
    queue: BTreeMap<u64, u32>,
    garbage: usize,
}

impl Lru {
    /// Queues a new entry at its serial.
    pub(crate) fn push(&mut self, tick: u64, slot: u32) {
        self.queue.insert(tick, slot);
    }

    /// Notes that an entry left its slot: its element is garbage now.
    pub(crate) fn forget(&mut self) {
        self.garbage += 1;
    }

    /// Pops the slot of the least recently used entry. `ticks` reads the
    /// entry in a slot (`None` for an empty slot).
    pub(crate) fn pop(&mut self, ticks: impl Fn(u32) -> Option<Ticks>) -> Option<u32> {
        while let Some((tick, slot)) = self.queue.pop_first() {
            match ticks(slot) {
                Some(t) if tick >= t.serial => {
                    if t.last_used > tick {
                        self.queue.insert(t.last_used, slot);
                        continue;
                    }
                    return Some(slot);
                }
                _ => self.garbage = self.garbage.saturating_sub(1),
            }
        }
        None
    }

    /// Worth rebuilding: more garbage than live elements (and enough of it
    /// to pay for the walk).
    pub(crate) fn needs_rebuild(&self) -> bool {
        self.garbage > 1024 && self.garbage * 2 > self.queue.len()
    }

    /// Starts over from the live entries, as `(last_used, slot)`.
    pub(crate) fn rebuild(&mut self, live: impl Iterator<Item = (u64, u32)>) {
        self.queue = live.collect();
        self.garbage = 0;
    }

    /// Elements held, garbage included.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// slot -> (serial, last_used)
    struct Fake {
        slots: RefCell<HashMap<u32, Ticks>>,
        clock: RefCell<u64>,
        lru: Lru,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                slots: RefCell::default(),
                clock: RefCell::new(0),
                lru: Lru::default(),
            }
        }
        fn tick(&self) -> u64 {
            *self.clock.borrow_mut() += 1;
            *self.clock.borrow()
        }
        fn put(&mut self, slot: u32) {
            let t = self.tick();
            if self
                .slots
                .borrow_mut()
                .insert(
                    slot,
                    Ticks {
                        serial: t,
                        last_used: t,
                    },
                )
                .is_some()
            {
                self.lru.forget();
            }
            self.lru.push(t, slot);
        }
        fn touch(&self, slot: u32) {
            let t = self.tick();
            if let Some(e) = self.slots.borrow_mut().get_mut(&slot) {
                e.last_used = t;
            }
        }
        fn remove(&mut self, slot: u32) {
            self.slots.borrow_mut().remove(&slot);
            self.lru.forget();
        }
        fn evict(&mut self) -> Option<u32> {
            let slots = &self.slots;
            let victim = self.lru.pop(|s| slots.borrow().get(&s).copied())?;
            slots.borrow_mut().remove(&victim);
            Some(victim)
        }
    }

    #[test]
    fn evicts_in_order_of_last_use() {
        let mut f = Fake::new();
        for s in 0..4 {
            f.put(s);
        }
        f.touch(0);
        f.touch(2);
        assert_eq!(f.evict(), Some(1));
        assert_eq!(f.evict(), Some(3));
        assert_eq!(f.evict(), Some(0));
        assert_eq!(f.evict(), Some(2));
        assert_eq!(f.evict(), None);
    }

    #[test]
    fn removed_and_replaced_entries_are_skipped() {
        let mut f = Fake::new();
        f.put(0);
        f.put(1);
        f.put(2);
        f.remove(0);
        f.put(1); // replaced in place: its old element is garbage
        f.put(0); // slot reused by a newer entry
        assert_eq!(f.evict(), Some(2));
        assert_eq!(f.evict(), Some(1));
        assert_eq!(f.evict(), Some(0));
        assert_eq!(f.evict(), None);
        assert_eq!(f.lru.len(), 0);
    }

    #[test]
    fn rebuild_drops_garbage() {
        let mut f = Fake::new();
        for s in 0..3000 {
            f.put(s);
        }
        for s in 0..2500 {
            f.remove(s);
        }
        assert!(f.lru.needs_rebuild());
        let live: Vec<(u64, u32)> = f
            .slots
            .borrow()
            .iter()
            .map(|(&s, t)| (t.last_used, s))
            .collect();
        f.lru.rebuild(live.into_iter());
        assert_eq!(f.lru.len(), 500);
        assert_eq!(f.evict(), Some(2500));
    }
}
