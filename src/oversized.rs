//! Pages found too large to keep, remembered by key (the idea of
//! pingora's `predictor.rs`: remember what is uncacheable).
//!
//! Whether a page without a `Content-Length` fits `max_object_size` is
//! known only once that much of it has been read, and what was read stays
//! in memory until its visitor takes it. Reading that prefix again for
//! every request would let clients that do not read hold `max_object_size`
//! each; so the first request that finds a page too large marks it, and
//! later requests for it stream the app's answer from its first byte.
//!
//! A mark goes when the page is seen to fit again: an answer whose
//! `Content-Length` fits (it is read and kept as usual), or a streamed
//! answer that ended within `max_object_size` ([`Watch`]). Marks are keys
//! only, at most [`MAX_MARKS`] of them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::key::Key;

/// Keys remembered at most; past it, an arbitrary one is forgotten (that
/// page is read up to `max_object_size` once more).
pub const MAX_MARKS: usize = 65_536;

#[derive(Default)]
pub struct Oversized {
    keys: Mutex<HashSet<Key, foldhash::fast::RandomState>>,
}

impl Oversized {
    /// Remembers that `key`'s page did not fit.
    pub fn mark(&self, key: Key) {
        let mut keys = self.keys.lock().expect("oversized marks lock poisoned");
        if keys.len() >= MAX_MARKS && !keys.contains(&key) {
            if let Some(any) = keys.iter().next().copied() {
                keys.remove(&any);
            }
        }
        keys.insert(key);
    }

    /// True when `key`'s page was last found too large.
    pub fn is_marked(&self, key: &Key) -> bool {
        self.keys
            .lock()
            .expect("oversized marks lock poisoned")
            .contains(key)
    }

    /// Forgets `key`: its page fits again.
    pub fn forget(&self, key: &Key) {
        self.keys
            .lock()
            .expect("oversized marks lock poisoned")
            .remove(key);
    }

    pub fn len(&self) -> usize {
        self.keys
            .lock()
            .expect("oversized marks lock poisoned")
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counts the bytes of a marked page streamed to its visitor; a page that
/// ended within `max_object_size` is forgotten, so the next request reads
/// it to keep it.
pub struct Watch {
    marks: Arc<Oversized>,
    key: Key,
    seen: u64,
    max: u64,
}

impl Watch {
    pub fn new(marks: Arc<Oversized>, key: Key, max: u64) -> Watch {
        Watch {
            marks,
            key,
            seen: 0,
            max,
        }
    }

    /// `n` more bytes went by.
    pub fn data(&mut self, n: usize) {
        self.seen = self.seen.saturating_add(n as u64);
    }

    /// The body ended whole.
    pub fn end(&self) {
        if self.seen <= self.max {
            self.marks.forget(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        Key([n; 32])
    }

    #[test]
    fn a_mark_is_kept_until_forgotten() {
        let marks = Oversized::default();
        marks.mark(key(1));
        assert!(marks.is_marked(&key(1)));
        assert!(!marks.is_marked(&key(2)));
        marks.forget(&key(1));
        assert!(!marks.is_marked(&key(1)));
    }

    #[test]
    fn a_streamed_page_that_fits_is_forgotten_and_a_large_one_is_not() {
        let marks = Arc::new(Oversized::default());
        marks.mark(key(1));
        let mut large = Watch::new(Arc::clone(&marks), key(1), 10);
        large.data(6);
        large.data(6);
        large.end();
        assert!(marks.is_marked(&key(1)));
        let mut small = Watch::new(Arc::clone(&marks), key(1), 10);
        small.data(10);
        small.end();
        assert!(!marks.is_marked(&key(1)));
    }

    #[test]
    fn marks_are_bounded() {
        let marks = Oversized::default();
        for i in 0..MAX_MARKS + 10 {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            marks.mark(Key(k));
        }
        assert_eq!(marks.len(), MAX_MARKS);
    }
}
