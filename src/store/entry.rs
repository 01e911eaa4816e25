//! One snapshot as the index knows it (`IndexEntry`, 96 bytes) and what it
//! takes to make one (`NewEntry`).
//!
//! It sits below the index, the slab that stores entries and the target
//! order that reads their targets, and names none of them: each of the
//! three can name an entry without a circle among them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::key::Key;

use super::evict::Ticks;
use super::tags::TagId;

/// Largest file the index can account for (sizes are kept in 32 bits).
pub(crate) const MAX_FILE: u64 = u32::MAX as u64;
/// `expires_s` of an entry that never expires.
const NEVER: u32 = u32::MAX;
/// An unused inline tag place.
pub(crate) const NO_TAG: TagId = TagId::MAX;

/// One snapshot as the index knows it: 96 bytes. Times are whole unix
/// seconds, rounded down (so a filter on them errs towards dropping, never
/// towards keeping); the file keeps the exact ones.
#[derive(Debug)]
pub(crate) struct IndexEntry {
    pub key: Key,
    pub target: Box<str>,
    /// The first two tags inline (`NO_TAG` when absent); more, rare, sit in
    /// `Index::more_tags`. Saves a heap list per entry.
    tags: [TagId; 2],
    /// Tick of the put (or load) that made this entry; tells one version of
    /// a key from the next (hot set, LRU garbage).
    pub serial: u64,
    last_used: AtomicU64,
    pub generation: u64,
    /// Size of the file.
    size: u32,
    taken_s: u32,
    expires_s: u32,
    /// When the entry was soft-invalidated; 0 when fresh.
    stale_since_s: AtomicU32,
}

impl IndexEntry {
    /// The entry for `new`, with the first two of its interned `tags`
    /// inline and `serial` as both its serial and its last use.
    pub(crate) fn new(new: NewEntry, tags: &[TagId], serial: u64) -> IndexEntry {
        IndexEntry {
            key: new.key,
            target: new.target,
            tags: [
                tags.first().copied().unwrap_or(NO_TAG),
                tags.get(1).copied().unwrap_or(NO_TAG),
            ],
            serial,
            last_used: AtomicU64::new(serial),
            generation: new.generation,
            size: new.size.min(MAX_FILE) as u32,
            taken_s: secs(new.taken_ms),
            expires_s: new.expires_ms.map_or(NEVER, secs),
            stale_since_s: AtomicU32::new(0),
        }
    }

    /// The two inline tag places (`NO_TAG` when unused).
    pub(crate) fn inline_tags(&self) -> &[TagId; 2] {
        &self.tags
    }

    /// Records a use; callable under the read lock.
    pub(crate) fn touch(&self, tick: u64) {
        self.last_used.fetch_max(tick, Ordering::Relaxed);
    }

    pub(crate) fn size(&self) -> u64 {
        u64::from(self.size)
    }

    pub(crate) fn taken_ms(&self) -> u64 {
        u64::from(self.taken_s) * 1000
    }

    pub(crate) fn expires_ms(&self) -> Option<u64> {
        Some(self.expires_s)
            .filter(|&s| s != NEVER)
            .map(|s| u64::from(s) * 1000)
    }

    pub(crate) fn stale_since_ms(&self) -> Option<u64> {
        let s = self.stale_since_s.load(Ordering::Relaxed);
        Some(s).filter(|&s| s != 0).map(|s| u64::from(s) * 1000)
    }

    /// Marks the entry stale at `ms` unless it already is since then or
    /// earlier (the earliest mark wins: `grace` counts from it, and marks
    /// replayed at start come in no particular order). Callable under the
    /// read lock.
    pub(crate) fn mark_stale(&self, ms: u64) {
        let s = secs(ms).max(1);
        let _ = self
            .stale_since_s
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                (old == 0 || s < old).then_some(s)
            });
    }

    pub(crate) fn ticks(&self) -> Ticks {
        Ticks {
            serial: self.serial,
            last_used: self.last_used.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
impl IndexEntry {
    /// An entry with nothing but a key and a target.
    pub(crate) fn for_test(key: Key, target: &str) -> IndexEntry {
        IndexEntry {
            key,
            target: target.into(),
            tags: [NO_TAG; 2],
            serial: 0,
            last_used: AtomicU64::new(0),
            generation: 0,
            size: 0,
            taken_s: 0,
            expires_s: NEVER,
            stale_since_s: AtomicU32::new(0),
        }
    }
}

/// Unix ms to whole seconds, rounded down, saturating below `NEVER`.
fn secs(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(NEVER - 1).min(NEVER - 1)
}

/// What is needed to index a snapshot (its tags come separately, as names
/// to intern, so that no per-entry list of strings is ever built).
#[derive(Debug, Clone)]
pub(crate) struct NewEntry {
    pub key: Key,
    pub target: Box<str>,
    /// At most `MAX_FILE`.
    pub size: u64,
    pub taken_ms: u64,
    pub expires_ms: Option<u64>,
    pub generation: u64,
}
