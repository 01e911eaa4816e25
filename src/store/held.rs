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
//!
//! `sendfile` of a page the kernel has evicted reads it from the disk, and
//! the runtime worker that called it waits for the read, and with it every
//! connection the worker serves. So a body goes from its file only while
//! its pages are in the page cache ([`HeldFile::body`]); otherwise it is
//! written from memory, where it is anyway. The kernel is asked
//! (`cachestat(2)`, Linux 6.5, [`super::page_cache`]) at most once a second
//! per body: a body served all the time keeps its pages in use, and one
//! not served for a while is asked about again at its next HIT.
//!
//! Written from memory, a body's file is read by no one, so its pages
//! would stay out of the cache for good, and a large body would cost the
//! CPU of a copy from memory on every HIT from then on (at 200 KiB about
//! half as much again as by `sendfile`: docs/benchmarks.md). A body still
//! asked for at the next check, a second or more after its pages were
//! found out, is read back: the kernel is told it will be needed
//! (`posix_fadvise` `WILLNEED`, which starts the read and does not wait
//! for it), and the check after that finds it cached unless the kernel
//! needs the memory more.

use std::fmt;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use super::page_cache;
use super::snapshot::to_ms;

/// Bodies from this size up are worth a held file and go by `sendfile`.
/// Measured with the bench harness's `limit-sendfile` against
/// `limit-writev`, and preloadd at 20 KiB with this at 16 and at 32 KiB:
/// see docs/benchmarks.md.
pub const KEEP_OPEN_MIN: usize = 16 * 1024;

/// How long the page cache's answer for a held body is trusted.
const RECHECK_MS: u64 = 1000;

/// A snapshot's file, open for reading, and where each body lies in it:
/// `offsets[0]` is the identity body, `offsets[i + 1]` is `variants[i]`
/// (the order of `Snapshot::head`).
pub struct HeldFile {
    file: File,
    offsets: Box<[u64]>,
    /// Per body: when the page cache was last asked about its pages (unix
    /// ms, shifted left by one) and whether it held them all then (the low
    /// bit); 0: never asked.
    asked: Box<[AtomicU64]>,
    _slot: Slot,
}

impl HeldFile {
    /// Where representation `i` starts in the file (0 is identity).
    pub fn offset(&self, i: usize) -> Option<u64> {
        self.offsets.get(i).copied()
    }

    /// `bytes`, representation `i` from its byte `skip` on, as a body to
    /// send from this file; or `bytes` back, to be written from memory,
    /// when they are too short to be worth it or the pages of that body are
    /// not all in the page cache (asked at most once per [`RECHECK_MS`] of
    /// `now`: a page that is not would be read from the disk by `sendfile`,
    /// on a runtime worker).
    pub fn body(
        self: &Arc<Self>,
        i: usize,
        bytes: Bytes,
        skip: u64,
        now: SystemTime,
    ) -> Result<FileBody, Bytes> {
        match self.sendable(i, bytes.len(), skip, now) {
            Some(offset) => Ok(FileBody {
                bytes,
                file: Arc::clone(self),
                offset,
            }),
            None => Err(bytes),
        }
    }

    /// [`HeldFile::body`] for a body of `len` bytes, without the bytes:
    /// where in the file it goes from, or `None` (from memory).
    pub fn sendable(&self, i: usize, len: usize, skip: u64, now: SystemTime) -> Option<u64> {
        let start = self.offset(i).filter(|_| len >= KEEP_OPEN_MIN)?;
        self.in_page_cache(i, to_ms(now)).then_some(start + skip)
    }

    /// Whether body `i`'s pages were all in the page cache at `now_ms`, or
    /// at the last ask within [`RECHECK_MS`] of it.
    fn in_page_cache(&self, i: usize, now_ms: u64) -> bool {
        let Some(asked) = self.asked.get(i) else {
            return false;
        };
        let last = asked.load(Ordering::Relaxed);
        // Either way: a wall clock set back is no reason to trust an old
        // answer for longer.
        if last != 0 && now_ms.abs_diff(last >> 1) < RECHECK_MS {
            return last & 1 == 1;
        }
        let (off, len) = self.span(i);
        let cached = page_cache::all_cached(&self.file, off, len);
        if !cached && last != 0 && last & 1 == 0 {
            // Found out at the last check too, and still asked for.
            page_cache::read_back(&self.file, off, len);
        }
        asked.store((now_ms.max(1) << 1) | u64::from(cached), Ordering::Relaxed);
        cached
    }

    /// Where body `i` lies in the file: up to the next body (bodies are in
    /// file order), the last one to the end (length 0).
    fn span(&self, i: usize) -> (u64, u64) {
        let start = self.offsets.get(i).copied().unwrap_or(0);
        let len = self
            .offsets
            .get(i + 1)
            .filter(|next| **next > start)
            .map_or(0, |next| next - start);
        (start, len)
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
            asked: offsets.iter().map(|_| AtomicU64::new(0)).collect(),
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
#[path = "held_tests.rs"]
mod tests;
