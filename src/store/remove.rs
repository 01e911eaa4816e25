//! Dropping snapshots: by key (invalidation by URL, tag or prefix resolves
//! to keys first), and everything at once by a generation bump.
//!
//! Order, and why: an entry leaves the index first (from then on no reader
//! can find it), then its file is unlinked under the key's stripe lock
//! unless a newer put took the key meanwhile, then the directory is fsynced;
//! only then does the call return `Ok`, so neither a kill -9 nor a power cut
//! after it brings the snapshot back. Entries leave the index in batches
//! (short holds of the write lock, see `batch`), so lookups go on between
//! them; every one has left before the call returns, which is what the
//! reply to an invalidation waits for. A generation bump is persisted before
//! anything else and its files are unlinked in the background: the
//! persisted number already keeps them from coming back at start.
//!
//! When the file system refuses (read-only, full, failing), the entries are
//! out of the index all the same, and the call answers
//! `StoreError::NotDurable`; what is left to do is retried (`pending`).

use std::io;
use std::sync::atomic::Ordering;

use crate::key::Key;

use super::pending::Orphan;
use super::{layout, lock, read_lock, write_lock, Shared, Store, StoreError};

impl Store {
    /// Drops a snapshot; its file is unlinked before this returns `Ok`, so
    /// a restart cannot bring it back. True if there was one.
    pub fn remove(&self, key: &Key) -> Result<bool, StoreError> {
        self.remove_many(std::slice::from_ref(key)).map(|n| n == 1)
    }

    /// Drops these snapshots (see `remove`); returns how many there were.
    /// `Err(NotDurable)` when this drop, or one refused before it, is not
    /// durable yet: the snapshots are out of the index either way.
    pub fn remove_many(&self, keys: &[Key]) -> Result<usize, StoreError> {
        let sh = &*self.shared;
        // Earlier refused drops first: a retry of one of them finds nothing
        // left in the index, and must still not be told it is done before
        // it is.
        let earlier = sh.settle(0);
        let mut gone = Vec::with_capacity(keys.len());
        sh.in_batches(keys, |index, key| {
            gone.push(index.remove(key).map(|e| (e.size(), e.generation)))
        });
        let mut found = Vec::new();
        let mut leftovers = Vec::new();
        for (key, gone) in keys.iter().zip(gone) {
            sh.hot.remove(key);
            match gone {
                Some((size, generation)) => found.push((*key, Orphan::dropped(size, generation))),
                // A file without an entry is dropped too (a bump's leftover,
                // whose bytes are the reaper's to release).
                None => leftovers.push((*key, Orphan::dropped(0, u64::MAX))),
            }
        }
        let mut count = found.len();
        let mut error = sh.unlink_dropped(found).error;
        if !leftovers.is_empty() {
            let unlinked = sh.unlink_dropped(leftovers);
            count += unlinked.removed;
            error = error.or(unlinked.error);
        }
        match (error, earlier) {
            (None, Ok(())) => Ok(count),
            (Some(e), _) => Err(StoreError::NotDurable {
                count,
                reason: e.to_string(),
            }),
            (None, Err(_)) => sh.settle(count).map(|()| count),
        }
    }

    /// Drops every snapshot of a generation below `generation` (new
    /// snapshots carry it or a later one). The number is persisted before
    /// this returns, and the snapshots are invisible from then on; their
    /// files are removed in the background, or at the next start. A
    /// `generation` not above the current minimum changes nothing.
    ///
    /// When the number cannot be persisted, the files are unlinked before
    /// this returns instead (a full disk takes unlinks); when that fails
    /// too, the snapshots are gone from the index all the same and the
    /// answer is `NotDurable`.
    pub fn set_min_generation(&self, generation: u64) -> Result<(), StoreError> {
        let sh = &*self.shared;
        let earlier = sh.settle(0);
        let _bump = lock(&sh.bump);
        if generation <= sh.min_generation.load(Ordering::Acquire) {
            return earlier;
        }
        let persisted = layout::write_generation(&sh.dir, generation);
        match &persisted {
            Ok(()) => sh.covered_by(generation),
            Err(e) => {
                tracing::warn!(error = %e, "cannot persist the store generation; removing files now")
            }
        }
        let mut index = write_lock(&sh.index);
        sh.min_generation.store(generation, Ordering::Release);
        sh.generation.fetch_max(generation, Ordering::AcqRel);
        let old: Vec<(Key, u64)> = if index.max_generation() < generation {
            // Everything goes: swap the index out whole, no walk under the
            // lock. Its keys are collected (and it is freed) outside.
            let old = index.take_entries();
            drop(index);
            sh.hot.clear();
            if persisted.is_ok() {
                self.reaper.unlink(old.into_sized_keys());
                tracing::info!(
                    generation,
                    "store generation bumped; every snapshot dropped"
                );
                return earlier.or_else(|_| sh.settle(0));
            }
            old.into_sized_keys().collect()
        } else {
            let old = index.remove_below(generation);
            drop(index);
            sh.hot.clear();
            old
        };
        tracing::info!(
            generation,
            "store generation bumped; older snapshots dropped"
        );
        let Err(not_persisted) = persisted else {
            self.reaper.unlink(old.into_iter());
            return earlier.or_else(|_| sh.settle(0));
        };
        let count = old.len();
        let files = old
            .into_iter()
            .map(|(key, size)| (key, Orphan::dropped(size, generation - 1)));
        let unlinked = sh.unlink_dropped(files);
        if let Some(e) = unlinked.error {
            // Persisting the number later covers every file still there.
            sh.generation_not_persisted(generation, &not_persisted);
            return Err(StoreError::NotDurable {
                count,
                reason: e.to_string(),
            });
        }
        earlier.or_else(|_| sh.settle(count))
    }

    /// `set_min_generation(generation() + 1)`: drop everything.
    pub fn drop_all(&self) -> Result<u64, StoreError> {
        let next = self.generation() + 1;
        self.set_min_generation(next)?;
        Ok(next)
    }
}

impl Shared {
    /// Unlinks the file of `key` unless the index holds the key (a newer
    /// put took it). `Ok(true)` if a file was removed, `Ok(false)` if there
    /// was none to remove (gone already, or replaced by the newer put's).
    pub(super) fn unlink_if_absent(&self, key: &Key) -> io::Result<bool> {
        let _stripe = self.stripe(key);
        if read_lock(&self.index).get(key).is_some() {
            return Ok(false);
        }
        let path = layout::snapshot_path(&self.dir, key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "cannot remove snapshot file");
                Err(e)
            }
        }
    }
}
