//! Dropping snapshots: by key (invalidation by URL, tag or prefix resolves
//! to keys first), and everything at once by a generation bump.
//!
//! Order, and why: an entry leaves the index first (from then on no reader
//! can find it), then its file is unlinked under the key's stripe lock
//! unless a newer put took the key meanwhile, then the directory is fsynced;
//! only then does the call return, so neither a kill -9 nor a power cut
//! after it brings the snapshot back. Entries leave the index in batches
//! (short holds of the write lock, see `batch`), so lookups go on between
//! them; every one has left before the call returns, which is what the
//! reply to an invalidation waits for. A generation bump is persisted before
//! anything else and its files are unlinked in the background: the
//! persisted number already keeps them from coming back at start.

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::Ordering;

use crate::key::Key;

use super::{layout, lock, read_lock, write, write_lock, Shared, Store, StoreError};

impl Store {
    /// Drops a snapshot; its file is unlinked before this returns, so a
    /// restart cannot bring it back. True if there was one.
    pub fn remove(&self, key: &Key) -> bool {
        self.remove_many(std::slice::from_ref(key)) == 1
    }

    /// Drops these snapshots (see `remove`); returns how many there were.
    pub fn remove_many(&self, keys: &[Key]) -> usize {
        let sh = &*self.shared;
        let mut found = Vec::with_capacity(keys.len());
        sh.in_batches(keys, |index, key| found.push(index.remove(key).is_some()));
        let mut dirs = BTreeSet::new();
        let mut count = 0;
        for (key, found) in keys.iter().zip(found) {
            sh.hot.remove(key);
            // A file without an entry is dropped too (a bump's leftover).
            let unlinked = sh.unlink_if_absent(key);
            if unlinked {
                dirs.insert(layout::fanout_index(key));
            }
            count += usize::from(found || unlinked);
        }
        for key in keys
            .iter()
            .filter(|k| dirs.remove(&layout::fanout_index(k)))
        {
            let dir = layout::fanout_dir(&sh.dir, key);
            if let Err(e) = write::sync_dir(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot fsync after removal");
            }
        }
        count
    }

    /// Drops every snapshot of a generation below `generation` (new
    /// snapshots carry it or a later one). The number is persisted before
    /// this returns, and the snapshots are invisible from then on; their
    /// files are removed in the background, or at the next start. A
    /// `generation` not above the current minimum changes nothing.
    pub fn set_min_generation(&self, generation: u64) -> Result<(), StoreError> {
        let sh = &*self.shared;
        let _bump = lock(&sh.bump);
        if generation <= sh.min_generation.load(Ordering::Acquire) {
            return Ok(());
        }
        // A full disk cannot take even this small file. The drop must still
        // hold across a restart, so the files are then unlinked before
        // returning (slower, but unlinking needs no space).
        let persisted = layout::write_generation(&sh.dir, generation);
        if let Err(e) = &persisted {
            tracing::warn!(error = %e, "cannot persist the store generation; removing files now");
        }
        let mut index = write_lock(&sh.index);
        sh.min_generation.store(generation, Ordering::Release);
        sh.generation.fetch_max(generation, Ordering::AcqRel);
        let old: Vec<Key> = if index.max_generation() < generation {
            // Everything goes: swap the index out whole, no walk under the
            // lock. Its keys are collected (and it is freed) outside.
            let old = std::mem::take(&mut *index);
            drop(index);
            sh.hot.clear();
            if persisted.is_ok() {
                self.reaper.unlink(old.into_keys());
                tracing::info!(
                    generation,
                    "store generation bumped; every snapshot dropped"
                );
                return Ok(());
            }
            old.into_keys().collect()
        } else {
            let old = index.remove_below(generation);
            drop(index);
            sh.hot.clear();
            old
        };
        if persisted.is_ok() {
            self.reaper.unlink(old.into_iter());
        } else {
            self.remove_many(&old);
        }
        tracing::info!(
            generation,
            "store generation bumped; older snapshots dropped"
        );
        Ok(())
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
    /// put took it). True if a file was removed.
    pub(super) fn unlink_if_absent(&self, key: &Key) -> bool {
        let _stripe = self.stripe(key);
        if read_lock(&self.index).get(key).is_some() {
            return false;
        }
        let path = layout::snapshot_path(&self.dir, key);
        match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove snapshot file");
                false
            }
        }
    }
}
