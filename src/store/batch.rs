//! Bulk changes of the index in short holds of its lock, so that a lookup
//! (a HIT) never waits long behind an invalidation of any size (issue
//! 15.3).
//!
//! Why more than chunking: the index lock is a `std` `RwLock`, which lets
//! no reader in while a writer waits and wakes waiting readers on unlock
//! without handing them the lock. A writer that releases it and asks again
//! at once gets it back before the woken readers run, batch after batch,
//! and they wait for the whole change. So a bulk writer pauses `GAP`
//! between holds, and bulk writers take turns (`Shared::bulk`) so that two
//! invalidations at once do not fill each other's pauses: the lock is free
//! for lookups at least `GAP` after every hold of at most `HOLD`.
//! Read-lock batches (resolving names, soft marks) need no pause: readers
//! do not wait for readers, only a writer queued behind a long read would.

use std::time::{Duration, Instant};

use super::index::Index;
use super::{lock, write_lock, Shared};

/// Items a call given many (`remove_many`, `mark_stale`, `select`) handles
/// per hold of the index lock at most.
pub(super) const LOCK_BATCH: usize = 512;
/// Longest a bulk change holds the index write lock at a time (and a
/// resolution the read lock: a writer queued behind it holds up lookups).
pub(super) const HOLD: Duration = Duration::from_micros(500);
/// Pause between two holds of a bulk change, for the lookups that waited
/// to get in (a woken thread needs a moment to run).
const GAP: Duration = Duration::from_micros(200);

impl Shared {
    /// Applies `step` to each of `items` under the index write lock, in
    /// holds of at most `HOLD` or `LOCK_BATCH` items, paused between (see
    /// the module doc). Every item is done when this returns.
    pub(super) fn in_batches<T>(&self, items: &[T], mut step: impl FnMut(&mut Index, &T)) {
        let mut rest = items;
        while !rest.is_empty() {
            let _turn = lock(&self.bulk);
            let mut index = write_lock(&self.index);
            let started = Instant::now();
            let mut done = 0;
            for item in rest.iter().take(LOCK_BATCH) {
                step(&mut index, item);
                done += 1;
                if started.elapsed() >= HOLD {
                    break;
                }
            }
            drop(index);
            rest = &rest[done..];
            if !rest.is_empty() {
                std::thread::sleep(GAP);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::store::{read_lock, Store, StoreSettings};

    /// Three bulk changes at once, ~700 holds each: a reader asking all
    /// along gets in within a few holds each time, never only once they
    /// are all done (which writers queueing for the lock, or one taking it
    /// straight back, would make it).
    #[test]
    fn readers_get_in_between_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            Store::open_whole(StoreSettings {
                dir: dir.path().to_path_buf(),
                max_size: 1 << 30,
                memory: 0,
                open_files: 0,
            })
            .expect("open"),
        );
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut reads, mut worst) = (0u32, Duration::ZERO);
                while !done.load(Ordering::Relaxed) {
                    let asked = Instant::now();
                    drop(read_lock(&store.shared.index));
                    worst = worst.max(asked.elapsed());
                    reads += 1;
                    std::thread::sleep(Duration::from_micros(50));
                }
                (reads, worst)
            })
        };
        let started = Instant::now();
        let writers: Vec<_> = (0..3)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    // Each step outlasts `HOLD`: one item per hold.
                    let items = vec![(); 700];
                    store
                        .shared
                        .in_batches(&items, |_, _| std::thread::sleep(HOLD));
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        let took = started.elapsed();
        done.store(true, Ordering::Relaxed);
        let (reads, worst) = reader.join().expect("reader");
        assert!(took >= HOLD * 2_100);
        assert!(
            worst < took / 20,
            "a reader waited {worst:?} of the {took:?} changes ({reads} reads)"
        );
    }
}
