//! A cache dir emptied underneath the daemon (`rm -rf cache.dir/*`, a
//! volume remounted empty): noticed within a second, and the store carries
//! on keeping pages, with an index that says what is actually there.
//!
//! How it is noticed: once a second (the reaper's upkeep) the store looks
//! for its format marker and checks that the lock file is still the one it
//! holds. Both go with an emptied dir. A snapshot file removed alone is
//! noticed when it is next read from disk (`lookup`: a miss, and the index
//! forgets it); a page served from the hot set is not read from disk and
//! stays a HIT until then, as the store is the cache dir's only writer by
//! contract (SPEC §5) and does not stat a file per hit.
//!
//! What is done then, in order: the directory is made again if it is gone;
//! the lock is taken again on a new lock file (a daemon that started on the
//! dir in between holds it instead: this one then stops keeping pages, says
//! so, and tries again each second, since two daemons' indexes of one dir
//! would disagree); the format marker and the persisted generation are
//! written again; the fan-out directories are made again as pages are
//! written; every indexed snapshot whose file is gone leaves the index and
//! the hot set (so health counts what is there, and a page whose file is
//! gone is a MISS); and the soft-mark log is rewritten from the index, since
//! appends to the removed file would reach no name.

use std::io;
use std::sync::atomic::Ordering;

use crate::key::Key;

use super::lock::DirLock;
use super::{layout, lock, read_lock, write_lock, Shared, StoreError};

impl Shared {
    /// The reaper's upkeep: retry refused drops, notice an emptied dir.
    pub(crate) fn upkeep(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let _ = self.settle(0);
        self.check_dir();
    }

    /// Notices an emptied cache dir and recovers from it (module doc).
    pub(crate) fn check_dir(&self) {
        let marker = self.dir.join(layout::FORMAT_FILE);
        let marker_there = marker.exists();
        let lock_ours = lock(&self.lock).is_current(&self.dir);
        if self.lost.load(Ordering::Acquire) {
            self.take_lock_again();
            return;
        }
        if lock_ours && (marker_there || !self.marker_seen.load(Ordering::Acquire)) {
            if !marker_there {
                // Never written (a full disk at start): try again, cheaply.
                self.write_markers();
            }
            return;
        }
        tracing::warn!(
            dir = %self.dir.display(),
            "the cache dir was emptied underneath the daemon; taking its lock again and forgetting snapshots whose files are gone"
        );
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot make the cache dir again");
            return;
        }
        if !lock_ours && !self.take_lock_again() {
            return;
        }
        self.write_markers();
        for ready in self.fanout_ready.iter() {
            ready.store(false, Ordering::Relaxed);
        }
        let forgotten = self.forget_vanished();
        let mut soft = lock(&self.soft);
        if let Err(e) = self.rewrite(&mut soft) {
            tracing::warn!(error = %e, "cannot write the soft-mark log again; retried at the next soft invalidation");
        }
        drop(soft);
        tracing::info!(
            forgotten,
            snapshots = read_lock(&self.index).len(),
            "cache dir recovered"
        );
    }

    /// Takes the lock on a new lock file; false (and the store closed to
    /// writes) while another daemon holds it.
    fn take_lock_again(&self) -> bool {
        match DirLock::take(&self.dir) {
            Ok(taken) => {
                *lock(&self.lock) = taken;
                if self.lost.swap(false, Ordering::AcqRel) {
                    tracing::warn!(dir = %self.dir.display(), "the cache dir's lock is ours again; keeping pages again");
                }
                true
            }
            Err(StoreError::Locked { dir, holder }) => {
                if !self.lost.swap(true, Ordering::AcqRel) {
                    tracing::error!(
                        "{}; it started after the dir was emptied under this one, which keeps no pages until that one exits",
                        super::lock::describe(&dir, holder)
                    );
                }
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the cache dir's lock again; retrying");
                false
            }
        }
    }

    /// Writes the format marker and the persisted generation if missing.
    fn write_markers(&self) {
        match layout::check_format(&self.dir) {
            Ok(()) if self.dir.join(layout::FORMAT_FILE).exists() => {
                self.marker_seen.store(true, Ordering::Release);
            }
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e, "cannot write the store marker again"),
        }
        let generation = self.min_generation.load(Ordering::Acquire);
        let path = self.dir.join(layout::GENERATION_FILE);
        if generation > 0 && !path.exists() {
            if let Err(e) = layout::write_generation(&self.dir, generation) {
                self.generation_not_persisted(generation, &e);
            }
        }
    }

    /// Drops from the index (and the hot set) every snapshot whose file is
    /// gone; returns how many. One stat a snapshot, outside the index lock.
    fn forget_vanished(&self) -> usize {
        let entries: Vec<(Key, u64)> = read_lock(&self.index)
            .iter()
            .map(|e| (e.key, e.serial))
            .collect();
        let mut forgotten = 0;
        for (key, serial) in entries {
            let path = layout::snapshot_path(&self.dir, &key);
            match std::fs::symlink_metadata(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                _ => continue,
            }
            if self.forget_if(&key, serial) {
                forgotten += 1;
            }
        }
        forgotten
    }

    /// Drops the entry of `key` if it is still the one indexed under
    /// `serial`, its file being gone already; true if it did.
    pub(crate) fn forget_if(&self, key: &Key, serial: u64) -> bool {
        let _stripe = self.stripe(key);
        let mut index = write_lock(&self.index);
        if index.get(key).is_none_or(|e| e.serial != serial) {
            return false;
        }
        let size = index.remove(key).map_or(0, |e| e.size());
        drop(index);
        self.hot.remove(key);
        self.space.release(size);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::Bytes;

    use super::super::lock::LOCK_FILE;
    use super::super::snapshot::tests::sample;
    use super::super::{Store, StoreError, StoreSettings};
    use super::layout;
    use crate::key::Key;

    fn open(dir: &Path) -> Store {
        Store::open_whole(StoreSettings {
            dir: dir.to_path_buf(),
            max_size: 1 << 30,
            memory: 1 << 20,
            open_files: 0,
        })
        .expect("open")
    }

    fn put(store: &Store, n: u8) -> Result<(), StoreError> {
        let mut s = sample(n, b"");
        s.key = Key([n; 32]);
        s.meta.target = format!("/page/{n}");
        s.body = Bytes::from(format!("body {n}"));
        store.put(s).map(drop)
    }

    fn empty(dir: &Path) {
        for item in std::fs::read_dir(dir).expect("read_dir").flatten() {
            if item.path().is_dir() {
                std::fs::remove_dir_all(item.path()).expect("rm -rf");
            } else {
                std::fs::remove_file(item.path()).expect("rm");
            }
        }
    }

    #[test]
    fn an_emptied_dir_is_noticed_and_used_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        put(&store, 1).expect("put");
        put(&store, 2).expect("put");
        store.drop_all().expect("a generation to persist");
        put(&store, 3).expect("put");
        empty(dir.path());
        put(&store, 4).expect("a put makes its directory again");
        store.shared.check_dir();
        assert_eq!(store.len(), 1, "only the page written since is there");
        assert!(
            store.get(&Key([3; 32])).is_none(),
            "its file is gone: a miss"
        );
        assert!(store.get(&Key([4; 32])).is_some());
        for marker in [layout::FORMAT_FILE, layout::GENERATION_FILE, LOCK_FILE] {
            assert!(dir.path().join(marker).exists(), "{marker} written again");
        }
        drop(store);
        let store = open(dir.path());
        assert_eq!(store.len(), 1, "and it survives a restart");
    }

    #[test]
    fn a_daemon_that_took_the_emptied_dir_keeps_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        put(&store, 1).expect("put");
        empty(dir.path());
        // Another daemon starts on the dir before this one notices.
        let other = super::DirLock::take(dir.path()).expect("the new lock file is free");
        store.shared.check_dir();
        assert!(
            matches!(put(&store, 2), Err(StoreError::Lost)),
            "no writes now"
        );
        drop(other);
        store.shared.check_dir();
        put(&store, 3).expect("the lock is ours again once the other is gone");
    }
}
