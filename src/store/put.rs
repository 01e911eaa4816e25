//! The write path: encode, stage the file (the slow part, no lock held),
//! then under the key's stripe lock rename it into place and index it; then
//! evict down to `max_size`.
//!
//! A failed write leaves no file and no index entry behind. A snapshot is
//! visible only once its file is in place: the rename comes before the
//! index update, so a reader never finds an entry without its file.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use crate::key::Key;

use super::index::{NewEntry, MAX_FILE};
use super::{layout, read_lock, snapshot, write, write_lock, Meta, Snapshot, Store, StoreError};

impl Store {
    /// Keeps `snapshot` (replacing any of the same key, atomically) and
    /// returns it as now visible. Its times are rounded to the millisecond
    /// and its generation set to the current one.
    pub fn put(&self, snapshot: Snapshot) -> Result<Arc<Snapshot>, StoreError> {
        self.put_if(snapshot, || Some(()))
    }

    /// `put`, with a gate: once the file is staged and just before it is
    /// made visible, `admit` is asked; `None` discards the snapshot
    /// (`StoreError::Refused`), `Some(guard)` is held until the snapshot is
    /// in the index. Invalidation uses it so that a fetch overtaken by an
    /// invalidation is never published (see `invalidate::log`).
    pub fn put_if<G>(
        &self,
        mut snapshot: Snapshot,
        admit: impl FnOnce() -> Option<G>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let sh = &*self.shared;
        round_times(&mut snapshot.meta);
        snapshot.meta.generation = self.generation();
        let header = snapshot::encode_header(&snapshot).map_err(StoreError::Encode)?;
        let size = header.len() as u64 + snapshot.bodies_len();
        let max = sh.max_size.min(MAX_FILE);
        if size > max {
            return Err(StoreError::TooLarge { size, max });
        }
        let key = snapshot.key;
        let dir = layout::fanout_dir(&sh.dir, &key);
        let ready = &sh.fanout_ready[layout::fanout_index(&key)];
        if !ready.load(Ordering::Relaxed) {
            std::fs::create_dir_all(&dir).map_err(StoreError::Write)?;
            ready.store(true, Ordering::Relaxed);
        }
        let parts: Vec<&[u8]> = std::iter::once(&header[..])
            .chain(snapshot::bodies(&snapshot))
            .collect();
        // Where each body lands in the file, for a held file (`held`).
        let offsets: Vec<u64> = parts
            .iter()
            .scan(0u64, |at, part| {
                let start = *at;
                *at += part.len() as u64;
                Some(start)
            })
            .skip(1)
            .collect();
        let staged = write::stage(&dir, &parts).map_err(StoreError::Write)?;
        let entry = NewEntry {
            key,
            target: snapshot.meta.target.as_str().into(),
            size,
            taken_ms: snapshot::to_ms(snapshot.meta.taken),
            expires_ms: snapshot.meta.expires.map(snapshot::to_ms),
            generation: snapshot.meta.generation,
        };

        let snapshot = {
            let Some(_admitted) = admit() else {
                drop(staged);
                return Err(StoreError::Refused);
            };
            if sh.closed.load(Ordering::Acquire) {
                return Err(StoreError::Write(std::io::Error::other(
                    "the store is closed for shutdown",
                )));
            }
            let _stripe = sh.stripe(&key);
            let path = layout::snapshot_path(&sh.dir, &key);
            let file = match staged.publish(&path) {
                Ok(file) => file,
                Err(e) => {
                    // Whether the rename or the directory fsync failed, make
                    // the index and the disk agree: neither has the key any
                    // more.
                    let _ = std::fs::remove_file(&path);
                    write_lock(&sh.index).remove(&key);
                    sh.hot.remove(&key);
                    return Err(StoreError::Write(e));
                }
            };
            snapshot.file = sh.files.hold(file, snapshot.body.len(), offsets);
            let snapshot = Arc::new(snapshot);
            let mut index = write_lock(&sh.index);
            if sh.closed.load(Ordering::Acquire) {
                // Closed between the check above and now: the checkpoint
                // does not list it, so it must not stay on disk.
                drop(index);
                let _ = std::fs::remove_file(&path);
                return Err(StoreError::Write(std::io::Error::other(
                    "the store is closed for shutdown",
                )));
            }
            if entry.generation < sh.min_generation.load(Ordering::Acquire) {
                // A bump dropped everything while this was being written;
                // the bump's reaper may have run already, so remove it here.
                drop(index);
                let _ = std::fs::remove_file(&path);
                return Err(StoreError::Outdated);
            }
            let serial = sh.tick();
            index.insert(entry, snapshot.meta.tags.iter().map(String::as_str), serial);
            drop(index);
            sh.hot.insert(serial, snapshot.clone());
            snapshot
        };
        self.evict_to_fit();
        Ok(snapshot)
    }

    /// Evicts least recently used snapshots until the total is within
    /// `max_size`. Files are unlinked after the index lock is released, each
    /// under its stripe lock unless the key came back meanwhile.
    fn evict_to_fit(&self) {
        for key in self.pick_victims() {
            self.shared.hot.remove(&key);
            self.shared.unlink_if_absent(&key);
        }
    }

    /// Drops least recently used entries from the index until the total is
    /// within `max_size`; returns their keys, for the caller to unlink.
    pub(super) fn pick_victims(&self) -> Vec<Key> {
        let sh = &*self.shared;
        if read_lock(&sh.index).bytes() <= sh.max_size {
            return Vec::new();
        }
        let mut index = write_lock(&sh.index);
        let victims: Vec<Key> = std::iter::from_fn(|| {
            if index.bytes() > sh.max_size {
                index.pop_lru()
            } else {
                None
            }
        })
        .map(|e| e.key)
        .collect();
        drop(index);
        sh.evictions
            .fetch_add(victims.len() as u64, Ordering::Relaxed);
        victims
    }
}

/// Rounds the times to what the file keeps, so that what `put` returns is
/// what a later `get` reads.
fn round_times(meta: &mut Meta) {
    meta.taken = to_the_ms(meta.taken);
    meta.expires = meta.expires.map(to_the_ms);
}

fn to_the_ms(t: SystemTime) -> SystemTime {
    snapshot::from_ms(snapshot::to_ms(t)).unwrap_or(t)
}
