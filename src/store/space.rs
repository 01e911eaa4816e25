//! The bound on disk use (SPEC §5: the cache never grows past `max_size`),
//! kept at every moment rather than only once each write has settled.
//!
//! Why a reservation: under a burst of concurrent misses every fetch writes
//! its temp file before anything is evicted, so counting only what is
//! indexed lets N writers in flight put N pages past the limit. A write
//! therefore reserves its size here before it creates its temp file,
//! evicting least recently used snapshots (and unlinking their files) first
//! until the reservation fits (`Store::reserve`, in `put`); a write that
//! fails gives its reservation back.
//!
//! What is counted: the bytes of every snapshot file on disk that the store
//! knows of (indexed, or out of the index and not yet unlinked) plus the
//! reservations of writes in progress. Whoever takes an entry out of the
//! index owns its bytes until its file is gone (unlinked, found missing, or
//! replaced by a newer put's rename) and only then releases them, so a file
//! that cannot be unlinked stays counted, as it stays on disk. Not counted:
//! the small marker and log files, and the blocks of an unlinked file that a
//! response still holds open for sendfile (at most `open_files` of them,
//! freed when the response ends).
//!
//! After a drop of everything the files leave in the background (`reaper`),
//! releasing their bytes one by one; a write that needs room meanwhile waits
//! for them rather than going past the limit.
//!
//! While the index is rebuilt after a crash (`rebuild`), the files not yet
//! scanned are unknown: they are counted as `unscanned`, at first the size
//! bound the crashed run persisted (`ceilings`), else all of `max_size`
//! (the bound held before the crash, so they cannot add up to more),
//! lowered by each file the scan indexes (its bytes move to `used`) or
//! removes. The store thus counts as full until the scan has seen
//! everything, and a write during the rebuild that does not fit makes room
//! by evicting snapshots already indexed; when the rebuild ends
//! `unscanned` is 0 and `used` is the real figure.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::lock;

#[derive(Debug)]
pub(crate) struct Space {
    max: u64,
    inner: Mutex<Inner>,
    freed: Condvar,
}

#[derive(Debug)]
struct Inner {
    used: u64,
    /// Bound on the bytes of files the rebuild has not seen yet.
    unscanned: u64,
    /// Counts releases, so that a waiter can tell whether one happened
    /// since it last looked (and never sleeps through it).
    releases: u64,
}

impl Space {
    /// `used`: the bytes of the files found at open.
    pub(crate) fn new(max: u64, used: u64) -> Space {
        Space {
            max,
            inner: Mutex::new(Inner {
                used,
                unscanned: 0,
                releases: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// The space of a store whose files are not scanned yet: they count
    /// as `unscanned` bytes (see the module doc).
    pub(crate) fn unscanned(max: u64, unscanned: u64) -> Space {
        let space = Space::new(max, 0);
        lock(&space.inner).unscanned = unscanned;
        space
    }

    /// The rebuild indexed a file of `size` bytes: counted as known now.
    pub(crate) fn scanned(&self, size: u64) {
        let mut inner = lock(&self.inner);
        inner.unscanned = inner.unscanned.saturating_sub(size);
        inner.used = inner.used.saturating_add(size);
    }

    /// The rebuild removed a file of `size` bytes it had not indexed.
    pub(crate) fn unscanned_gone(&self, size: u64) {
        let mut inner = lock(&self.inner);
        inner.unscanned = inner.unscanned.saturating_sub(size);
        inner.releases += 1;
        drop(inner);
        self.freed.notify_all();
    }

    /// The rebuild has seen every file: nothing unknown is left.
    pub(crate) fn all_scanned(&self) {
        let mut inner = lock(&self.inner);
        inner.unscanned = 0;
        inner.releases += 1;
        drop(inner);
        self.freed.notify_all();
    }

    /// Bytes counted for files not scanned yet (0 once the index is whole).
    pub(crate) fn unknown(&self) -> u64 {
        lock(&self.inner).unscanned
    }

    /// Bytes counted now, unknown ones included.
    pub(crate) fn counted(&self) -> u64 {
        let inner = lock(&self.inner);
        inner.used.saturating_add(inner.unscanned)
    }

    /// Takes `size` bytes if they fit under the limit. Otherwise returns
    /// how many bytes would have to be freed first, and a ticket for
    /// `wait_freed`.
    pub(crate) fn try_reserve(&self, size: u64) -> Result<(), (u64, u64)> {
        let mut inner = lock(&self.inner);
        let counted = inner.used.saturating_add(inner.unscanned);
        match counted.checked_add(size) {
            Some(total) if total <= self.max => {
                inner.used += size;
                Ok(())
            }
            _ => Err((counted.saturating_add(size) - self.max, inner.releases)),
        }
    }

    /// Gives back `size` bytes (a failed write, or a file now gone).
    pub(crate) fn release(&self, size: u64) {
        if size == 0 {
            return;
        }
        let mut inner = lock(&self.inner);
        inner.used = inner.used.saturating_sub(size);
        inner.releases += 1;
        drop(inner);
        self.freed.notify_all();
    }

    /// Waits until something was released since `ticket` was handed out,
    /// or `deadline`. False at the deadline.
    pub(crate) fn wait_freed(&self, ticket: u64, deadline: Instant) -> bool {
        let mut inner = lock(&self.inner);
        while inner.releases == ticket {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            inner = match self.freed.wait_timeout(inner, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Bytes counted now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        lock(&self.inner).used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn reservations_never_pass_the_limit() {
        let space = Space::new(100, 60);
        assert_eq!(space.try_reserve(50), Err((10, 0)));
        space.try_reserve(40).expect("fits exactly");
        assert_eq!(space.used(), 100);
        space.release(30);
        assert_eq!(space.try_reserve(31), Err((1, 1)));
        space.try_reserve(30).expect("fits");
        assert_eq!(
            space.try_reserve(u64::MAX).map_err(|e| e.0),
            Err(u64::MAX - 100)
        );
    }

    #[test]
    fn unscanned_files_count_until_the_scan_has_seen_them() {
        let space = Space::unscanned(100, 100);
        assert!(space.try_reserve(1).is_err(), "full until scanned");
        space.scanned(30);
        assert_eq!(space.counted(), 100);
        space.release(30);
        space.try_reserve(30).expect("room made by a known file");
        space.unscanned_gone(20);
        space.try_reserve(20).expect("room made by a removed file");
        assert!(space.try_reserve(1).is_err());
        space.all_scanned();
        assert_eq!((space.used(), space.unknown()), (50, 0));
    }

    #[test]
    fn a_waiter_wakes_on_a_release_and_not_before() {
        let space = Arc::new(Space::new(10, 10));
        let (_, ticket) = space.try_reserve(5).expect_err("full");
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(!space.wait_freed(ticket, soon), "nothing released");
        let other = space.clone();
        let releaser = std::thread::spawn(move || other.release(5));
        assert!(space.wait_freed(ticket, Instant::now() + Duration::from_secs(10)));
        releaser.join().expect("join");
        space.try_reserve(5).expect("room now");
    }
}
