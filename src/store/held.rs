//! Snapshot files kept open beside their decoded bodies, so that a large
//! body can go to a socket by `sendfile(2)` from the page cache instead of
//! being copied from memory (see `crate::sendfile`).
//!
//! A file is kept open only for a snapshot whose identity body is at least
//! [`KEEP_OPEN_MIN`] bytes (below that, one `writev` from memory is
//! cheaper than a second system call), and only while the descriptor budget
//! allows: every held file takes a slot and gives it back when the last
//! copy of its snapshot is dropped (out of the hot set and out of every
//! response). Without a slot the snapshot is served from memory, as before.
//!
//! The descriptor is the one the bytes were written through or read
//! through, so it names the very inode whose content equals the body in
//! memory; a snapshot file never changes once published (a new snapshot of
//! the key is a new inode renamed over it), and an unlinked file stays
//! readable through the descriptor until it is closed.

use std::fmt;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

/// Identity bodies from this size up are worth a held file. Measured with
/// the bench harness's `limit-sendfile` against `limit-writev`: see
/// docs/benchmarks.md.
pub const KEEP_OPEN_MIN: usize = 32 * 1024;

/// A snapshot's file, open for reading, and where each body lies in it:
/// `offsets[0]` is the identity body, `offsets[i + 1]` is `variants[i]`
/// (the order of `Snapshot::head`).
pub struct HeldFile {
    file: File,
    offsets: Box<[u64]>,
    _slot: Slot,
}

impl HeldFile {
    /// Where representation `i` starts in the file (0 is identity).
    pub fn offset(&self, i: usize) -> Option<u64> {
        self.offsets.get(i).copied()
    }
}

/// Body bytes that also lie in a held snapshot file, from `offset` on:
/// what a response needs to send them from the file (`crate::sendfile`).
#[derive(Debug, Clone)]
pub struct FileBody {
    pub bytes: Bytes,
    pub file: Arc<HeldFile>,
    pub offset: u64,
}

impl AsRawFd for HeldFile {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl fmt::Debug for HeldFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldFile")
            .field("fd", &self.file.as_raw_fd())
            .field("offsets", &self.offsets)
            .finish()
    }
}

/// How many snapshot files may be held open at once.
pub(crate) struct FileBudget {
    limit: usize,
    open: AtomicUsize,
}

/// One held descriptor's share of the budget, given back on drop.
struct Slot(Arc<FileBudget>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl FileBudget {
    pub(crate) fn new(limit: usize) -> Arc<FileBudget> {
        Arc::new(FileBudget {
            limit,
            open: AtomicUsize::new(0),
        })
    }

    /// Keeps `file` open for a snapshot whose identity body is
    /// `identity_len` bytes, if it is large enough and a slot is free;
    /// otherwise the file is closed here.
    pub(crate) fn hold(
        self: &Arc<Self>,
        file: File,
        identity_len: usize,
        offsets: Vec<u64>,
    ) -> Option<Arc<HeldFile>> {
        if identity_len < KEEP_OPEN_MIN {
            return None;
        }
        let taken = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.limit).then_some(n + 1)
            });
        taken.ok()?;
        Some(Arc::new(HeldFile {
            file,
            offsets: offsets.into_boxed_slice(),
            _slot: Slot(Arc::clone(self)),
        }))
    }

    /// Descriptors held now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> File {
        tempfile::tempfile().expect("tempfile")
    }

    #[test]
    fn small_bodies_are_not_held() {
        let budget = FileBudget::new(10);
        assert!(budget.hold(file(), KEEP_OPEN_MIN - 1, vec![0]).is_none());
        assert_eq!(budget.open(), 0);
    }

    #[test]
    fn the_budget_bounds_open_files_and_slots_come_back() {
        let budget = FileBudget::new(2);
        let a = budget.hold(file(), KEEP_OPEN_MIN, vec![100]).expect("a");
        let b = budget.hold(file(), KEEP_OPEN_MIN, vec![100, 900]);
        assert!(b.is_some());
        assert!(budget.hold(file(), KEEP_OPEN_MIN, vec![100]).is_none());
        assert_eq!(budget.open(), 2);
        assert_eq!(a.offset(0), Some(100));
        assert_eq!(a.offset(1), None);
        drop(a);
        assert_eq!(budget.open(), 1);
        assert!(budget.hold(file(), KEEP_OPEN_MIN, vec![0]).is_some());
    }
}
