//! Drops the file system refused: what a read-only, full or failing cache
//! file system leaves undone, kept in memory and retried until it is done.
//!
//! A drop is durable when the dropped snapshot's file is unlinked and that
//! unlink fsynced in its directory, or (for a generation bump) when the new
//! minimum generation is persisted, which keeps older files from coming back
//! at start. When neither can be done, the snapshot has still left the index
//! and the hot set (this process never serves it again), and the store
//! keeps what is left to do here: the files to unlink, the directories to
//! fsync, the generation to persist. It is retried every second (on the
//! reaper's thread), before every later drop, and at shutdown.
//!
//! What each answer guarantees (SPEC §6):
//!
//! - A drop that returns `Ok` (a webhook's 200) is durable, and so is every
//!   drop refused before it: `Ok` is given only while nothing is left to do.
//!   The app's hook retrying a refused invalidation therefore gets 200 only
//!   once the refused drop too is durable, even though its pages already
//!   left the index and the retry finds nothing of them to count.
//! - A drop that returns `StoreError::NotDurable` (a webhook's 503) promises
//!   nothing beyond this process. If the file system comes back while the
//!   daemon runs, the retries make the drop durable within a second. At a
//!   clean shutdown the index checkpoint lists the files still waiting, and
//!   the next start removes them before it serves anything (`checkpoint`),
//!   so they cannot come back at a later crash's header scan either. If the
//!   daemon crashes first, or the checkpoint cannot be written either (a
//!   read-only disk), nothing on the disk can say what was dropped, since
//!   writing that was exactly what failed: the next start may index those
//!   pages again, until the hook's retry drops them (and gets its 200). No
//!   arrangement of files can do better on a disk that takes no write at
//!   all: a record written before the attempt would itself be refused, and
//!   distrusting every snapshot after every crash would throw the cache
//!   away at each kill -9.
//!
//! Evicted snapshots whose files cannot be unlinked are retried the same
//! way but never make a drop fail: an evicted page coming back after a
//! restart breaks no promise. Their bytes stay counted in `space` until the
//! files are gone.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::atomic::Ordering;

use crate::key::Key;

use super::{layout, lock, write, Shared, StoreError};

#[derive(Debug, Default)]
pub(crate) struct Pending {
    files: HashMap<Key, Orphan>,
    /// Fan-out directories (by index) whose fsync after an unlink failed.
    dirs: BTreeSet<usize>,
    /// A minimum generation that could not be persisted.
    generation: Option<u64>,
    /// Said in the log that drops are failing (said again once they work).
    warned: bool,
}

/// A file out of the index that could not be unlinked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Orphan {
    /// Bytes counted for it in `space`, released once it is gone (0 when
    /// someone else owns them).
    pub size: u64,
    /// Generation of the snapshot (`u64::MAX` when not known).
    pub generation: u64,
    /// Dropped by an invalidation (whose durability depends on it), rather
    /// than evicted.
    pub dropped: bool,
}

impl Orphan {
    /// The file of a snapshot an invalidation dropped.
    pub(crate) fn dropped(size: u64, generation: u64) -> Orphan {
        Orphan {
            size,
            generation,
            dropped: true,
        }
    }

    /// The file of an evicted snapshot.
    pub(crate) fn evicted(size: u64) -> Orphan {
        Orphan {
            size,
            generation: u64::MAX,
            dropped: false,
        }
    }
}

impl Pending {
    /// Is some drop not durable yet?
    fn drops_left(&self) -> bool {
        self.generation.is_some() || !self.dirs.is_empty() || self.files.values().any(|o| o.dropped)
    }

    fn is_empty(&self) -> bool {
        self.generation.is_none() && self.dirs.is_empty() && self.files.is_empty()
    }
}

/// The outcome of unlinking a batch of dropped files.
#[derive(Debug, Default)]
pub(crate) struct Unlinked {
    /// Files removed.
    pub removed: usize,
    /// The first error, if any file or directory refused.
    pub error: Option<io::Error>,
}

impl Shared {
    /// Unlinks the files of these snapshots, already out of the index (each
    /// unless a newer put took its key), fsyncs their directories, releases
    /// their bytes, and keeps whatever failed for the retries.
    pub(crate) fn unlink_dropped(
        &self,
        files: impl IntoIterator<Item = (Key, Orphan)>,
    ) -> Unlinked {
        let mut out = Unlinked::default();
        let mut dirs = BTreeSet::new();
        let mut failed = Vec::new();
        for (key, orphan) in files {
            match self.unlink_if_absent(&key) {
                Ok(removed) => {
                    self.space.release(orphan.size);
                    if removed {
                        out.removed += 1;
                        dirs.insert(layout::fanout_index(&key));
                    }
                }
                Err(e) => {
                    out.error.get_or_insert(e);
                    failed.push((key, orphan));
                }
            }
        }
        let dirs = self.sync_dirs(dirs, &mut out.error);
        if !failed.is_empty() || !dirs.is_empty() {
            let mut pending = lock(&self.pending);
            pending.files.extend(failed);
            pending.dirs.extend(dirs);
            self.note_pending(&mut pending, out.error.as_ref());
        }
        out
    }

    /// Unlinks the file of a snapshot whose drop is durable already (a
    /// persisted generation covers it) or that was evicted, without an
    /// fsync: only the space depends on it. A refusal is kept for retries.
    pub(crate) fn unlink_quietly(&self, key: &Key, size: u64) {
        match self.unlink_if_absent(key) {
            Ok(_) => self.space.release(size),
            Err(e) => {
                let mut pending = lock(&self.pending);
                pending.files.insert(*key, Orphan::evicted(size));
                self.note_pending(&mut pending, Some(&e));
            }
        }
    }

    /// A minimum generation was persisted: refused drops of older
    /// snapshots are durable now (their files cannot come back at start),
    /// and removing the files is only for the space.
    pub(crate) fn covered_by(&self, generation: u64) {
        if !self.unsettled.load(Ordering::Acquire) {
            return;
        }
        let mut pending = lock(&self.pending);
        if pending.generation.is_some_and(|g| g <= generation) {
            pending.generation = None;
        }
        for orphan in pending.files.values_mut() {
            if orphan.generation < generation {
                orphan.dropped = false;
            }
        }
    }

    /// Notes that a minimum generation could not be persisted.
    pub(crate) fn generation_not_persisted(&self, generation: u64, error: &io::Error) {
        let mut pending = lock(&self.pending);
        pending.generation = pending.generation.max(Some(generation));
        self.note_pending(&mut pending, Some(error));
    }

    /// Retries what is left to do; `Ok` when every drop so far is durable,
    /// else the error to answer with (`count` snapshots were dropped by the
    /// caller).
    pub(crate) fn settle(&self, count: usize) -> Result<(), StoreError> {
        if !self.unsettled.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut pending = lock(&self.pending);
        let mut error = None;
        if let Some(generation) = pending.generation {
            match layout::write_generation(&self.dir, generation) {
                Ok(()) => {
                    pending.generation = None;
                    // The persisted number keeps these from coming back;
                    // their files are still removed, for the space.
                    for orphan in pending.files.values_mut() {
                        if orphan.generation < generation {
                            orphan.dropped = false;
                        }
                    }
                    if !pending.drops_left() {
                        tracing::info!(generation, "the store generation is persisted now");
                    }
                }
                Err(e) => error = Some(e),
            }
        }
        let mut dirs = std::mem::take(&mut pending.dirs);
        pending
            .files
            .retain(|key, orphan| match self.unlink_if_absent(key) {
                Ok(removed) => {
                    self.space.release(orphan.size);
                    if removed {
                        dirs.insert(layout::fanout_index(key));
                    }
                    false
                }
                Err(e) => {
                    error.get_or_insert(e);
                    true
                }
            });
        pending.dirs = self.sync_dirs(dirs, &mut error);
        if pending.is_empty() {
            self.unsettled.store(false, Ordering::Release);
            if pending.warned {
                pending.warned = false;
                tracing::info!(
                    "the cache file system takes writes again; every drop is durable now"
                );
            }
        }
        if !pending.drops_left() {
            return Ok(());
        }
        Err(StoreError::NotDurable {
            count,
            reason: error.map_or_else(|| "earlier drops are not durable".into(), |e| e.to_string()),
        })
    }

    /// The keys of the files still waiting (for the checkpoint).
    pub(crate) fn pending_keys(&self) -> Vec<Key> {
        lock(&self.pending).files.keys().copied().collect()
    }

    /// How many dropped or evicted files are still on disk, waiting.
    pub(crate) fn pending_files(&self) -> usize {
        lock(&self.pending).files.len()
    }

    /// Fsyncs these fan-out directories; returns those that failed.
    fn sync_dirs(&self, dirs: BTreeSet<usize>, error: &mut Option<io::Error>) -> BTreeSet<usize> {
        dirs.into_iter()
            .filter(|&i| {
                let dir = layout::fanout_dir_of(&self.dir, i);
                match write::sync_dir(&dir) {
                    Ok(()) => false,
                    // A directory that is gone holds nothing to bring back.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                    Err(e) => {
                        error.get_or_insert(e);
                        true
                    }
                }
            })
            .collect()
    }

    fn note_pending(&self, pending: &mut Pending, error: Option<&io::Error>) {
        self.unsettled.store(true, Ordering::Release);
        if !pending.warned {
            pending.warned = true;
            tracing::error!(
                dir = %self.dir.display(),
                error = %error.map_or_else(String::new, ToString::to_string),
                "the cache file system refuses to remove dropped snapshots; they are no longer served, and removing them is retried every second"
            );
        }
    }
}
