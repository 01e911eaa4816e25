//! The read path: index (read lock, one atomic to record the use), then the
//! hot set, then the file.
//!
//! The first two never block, the file may: [`Store::lookup_hot`] answers
//! from memory and says when only the file can. An async caller then tries
//! [`Store::read_cached`], which reads the file only from the kernel's
//! caches, and else reads it with [`Store::read_cold`] where blocking is
//! fine, off the runtime's workers. [`Store::lookup`] does it all, for
//! callers that may block.
//!
//! A file that is gone or does not decode as the snapshot of the key asked
//! for is dropped from the index and the lookup is a miss: never a wrong
//! body. An I/O error that says nothing about the file (out of descriptors,
//! say) is a miss that keeps the snapshot.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::key::Key;

use super::{layout, nowait, read_lock, snapshot, time, write_lock, Found, Snapshot, Store};

/// What memory alone says about a key (see [`Store::lookup_hot`]).
#[derive(Debug)]
pub enum Lookup {
    /// No snapshot is kept for it.
    Absent,
    /// Kept and in the hot set.
    Hot(Found),
    /// Kept, but only its file holds it: [`Store::read_cold`] reads it.
    Cold(Cold),
    /// Not indexed yet: the index is being rebuilt after a crash, and a
    /// file of the key may be on disk; [`Store::read_unindexed`] reads it.
    Unindexed(Unindexed),
}

/// A key the rebuilding index has not decided (see [`Lookup::Unindexed`]).
#[derive(Debug, Clone)]
pub struct Unindexed {
    pub(super) key: Key,
}

/// A kept snapshot that is not in memory: which entry to read.
#[derive(Debug, Clone)]
pub struct Cold {
    key: Key,
    /// The index entry's serial when it was looked up: what is read must
    /// still be that entry to be cached or dropped as broken.
    serial: u64,
    stale_since_ms: Option<u64>,
}

impl Store {
    /// The snapshot of `key`, if there is one.
    pub fn get(&self, key: &Key) -> Option<Arc<Snapshot>> {
        self.lookup(key).map(|found| found.snapshot)
    }

    /// The snapshot of `key` and whether it was soft-invalidated. May read
    /// its file: async code calls [`Store::lookup_hot`] instead.
    pub fn lookup(&self, key: &Key) -> Option<Found> {
        match self.lookup_hot(key) {
            Lookup::Absent => None,
            Lookup::Hot(found) => Some(found),
            Lookup::Cold(cold) => self.read_cold(&cold),
            Lookup::Unindexed(unindexed) => self.read_unindexed(&unindexed),
        }
    }

    /// True when the index holds a snapshot of `key` (not counted as a
    /// use). Never blocks on the disk.
    pub fn contains(&self, key: &Key) -> bool {
        read_lock(&self.shared.index).get(key).is_some()
    }

    /// What the index and the hot set say about `key`, without any file
    /// I/O and without allocating: the one store call fit for a runtime
    /// worker. Records the use, as `lookup` does.
    pub fn lookup_hot(&self, key: &Key) -> Lookup {
        let sh = &*self.shared;
        let (serial, stale_since_ms) = {
            let index = read_lock(&sh.index);
            let Some(entry) = index.get(key) else {
                if index.maybe_unread(key) {
                    return Lookup::Unindexed(Unindexed { key: *key });
                }
                return Lookup::Absent;
            };
            entry.touch(sh.tick());
            (entry.serial, entry.stale_since_ms())
        };
        match sh.hot.get(key, serial) {
            Some(snapshot) => Lookup::Hot(Found {
                snapshot,
                stale_since: stale_since_ms.map(time),
            }),
            None => Lookup::Cold(Cold {
                key: *key,
                serial,
                stale_since_ms,
            }),
        }
    }

    /// Reads the file of a snapshot [`Store::lookup_hot`] found cold (and
    /// keeps it in the hot set if there is room). Blocks on the disk: call
    /// it where blocking is fine. `None` when the file is gone or broken
    /// (then the entry is dropped) or cannot be read now.
    pub fn read_cold(&self, cold: &Cold) -> Option<Found> {
        let snapshot = self.load(&cold.key, cold.serial)?;
        Some(Found {
            snapshot,
            stale_since: cold.stale_since_ms.map(time),
        })
    }

    /// [`Store::read_cold`] if the file can be read without waiting for
    /// the disk (see `nowait`): fit for a runtime worker. `None` says
    /// nothing about the file; `read_cold` then reads it and decides.
    pub fn read_cached(&self, cold: &Cold) -> Option<Found> {
        let path = layout::snapshot_path(&self.shared.dir, &cold.key);
        let (file, bytes) = nowait::read(&path)?;
        let snapshot = self.accept(&cold.key, cold.serial, file, bytes).ok()?;
        Some(Found {
            snapshot,
            stale_since: cold.stale_since_ms.map(time),
        })
    }

    /// Reads and decodes the file of `key`, indexed under `serial`.
    fn load(&self, key: &Key, serial: u64) -> Option<Arc<Snapshot>> {
        let path = layout::snapshot_path(&self.shared.dir, key);
        let reason = match read(&path) {
            Ok((file, bytes)) => match self.accept(key, serial, file, bytes) {
                Ok(snapshot) => return Some(snapshot),
                Err(reason) => reason,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => "file is gone".to_string(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read snapshot");
                return None;
            }
        };
        tracing::warn!(path = %path.display(), reason, "dropping unreadable snapshot");
        self.drop_broken(key, serial);
        None
    }

    /// The snapshot of `key` decoded from `bytes`, the content of `file`
    /// (kept open for sendfile if worth it), and put in the hot set if its
    /// entry is still the one indexed under `serial`; else why the bytes
    /// are not that snapshot.
    fn accept(
        &self,
        key: &Key,
        serial: u64,
        file: File,
        bytes: Bytes,
    ) -> Result<Arc<Snapshot>, String> {
        let sh = &*self.shared;
        let mut snapshot = snapshot::decode(bytes.clone()).map_err(|e| e.to_string())?;
        if snapshot.key != *key {
            return Err("the key inside differs".to_string());
        }
        if let Some(offsets) = body_offsets(&bytes, &snapshot) {
            snapshot.file = sh.files.hold(file, snapshot.body.len(), offsets);
        }
        let snapshot = Arc::new(snapshot);
        // Worth caching only if still current; a stale insert would be
        // ignored anyway (serials must match).
        if read_lock(&sh.index)
            .get(key)
            .is_some_and(|e| e.serial == serial)
        {
            sh.hot.insert(serial, snapshot.clone());
        }
        Ok(snapshot)
    }

    /// Drops the entry of `key` if it is still the one that failed to load,
    /// and its file with it.
    fn drop_broken(&self, key: &Key, serial: u64) {
        let sh = &*self.shared;
        let _stripe = sh.stripe(key);
        let mut index = write_lock(&sh.index);
        if index.get(key).is_some_and(|e| e.serial == serial) {
            let size = index.remove(key).map_or(0, |e| e.size());
            drop(index);
            sh.hot.remove(key);
            match std::fs::remove_file(layout::snapshot_path(&sh.dir, key)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    tracing::warn!(error = %e, "cannot remove an unreadable snapshot file");
                }
                _ => sh.space.release(size),
            }
        }
    }
}

/// Reads a whole snapshot file, keeping it open.
pub(super) fn read(path: &Path) -> io::Result<(File, Bytes)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok((file, Bytes::from(bytes)))
}

/// Where each body of `snapshot` (decoded from `file`, whose slices its
/// bodies are) starts in the file: identity first, then the variants.
/// `None` if a body does not lie inside `file` (then no file is held).
pub(super) fn body_offsets(file: &Bytes, snapshot: &Snapshot) -> Option<Vec<u64>> {
    let base = file.as_ptr() as usize;
    std::iter::once(&snapshot.body)
        .chain(snapshot.variants.iter().map(|v| &v.body))
        .map(|body| {
            let start = (body.as_ptr() as usize).checked_sub(base)?;
            (start + body.len() <= file.len()).then_some(start as u64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::sample;
    use super::super::StoreSettings;
    use super::*;

    fn open(dir: &Path, memory: u64) -> Store {
        Store::open_whole(StoreSettings {
            dir: dir.to_path_buf(),
            max_size: 1 << 30,
            memory,
            open_files: 64,
        })
        .expect("open")
    }

    #[test]
    fn lookup_hot_answers_from_memory_and_never_opens_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), 1 << 20);
        let kept = sample(1, b"kept in memory");
        let key = kept.key;
        store.put(kept).expect("put");
        assert!(matches!(store.lookup_hot(&Key([9; 32])), Lookup::Absent));
        match store.lookup_hot(&key) {
            Lookup::Hot(found) => assert_eq!(&found.snapshot.body[..], b"kept in memory"),
            other => panic!("expected a hot snapshot, got {other:?}"),
        }
        // A file removed underneath is not noticed from memory.
        std::fs::remove_file(layout::snapshot_path(dir.path(), &key)).expect("remove");
        assert!(matches!(store.lookup_hot(&key), Lookup::Hot(_)));
    }

    #[test]
    fn without_memory_a_snapshot_is_cold_until_its_file_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), 0);
        let (on_disk, gone) = (sample(1, b"on disk"), sample(2, b"gone"));
        let (key, gone_key) = (on_disk.key, gone.key);
        store.put(on_disk).expect("put");
        store.put(gone).expect("put");
        std::fs::remove_file(layout::snapshot_path(dir.path(), &gone_key)).expect("remove");

        let Lookup::Cold(cold) = store.lookup_hot(&key) else {
            panic!("memory = 0 holds nothing");
        };
        let found = store.read_cold(&cold).expect("read from its file");
        assert_eq!(&found.snapshot.body[..], b"on disk");
        let cached = store
            .read_cached(&cold)
            .expect("just read: in the page cache");
        assert_eq!(&cached.snapshot.body[..], b"on disk");
        // The file is gone: memory cannot tell, the blocking read can, and
        // drops it; the read that cannot wait only gives up.
        let Lookup::Cold(cold) = store.lookup_hot(&gone_key) else {
            panic!("still indexed until read");
        };
        assert!(store.read_cached(&cold).is_none());
        assert!(matches!(store.lookup_hot(&gone_key), Lookup::Cold(_)));
        assert!(store.read_cold(&cold).is_none());
        assert!(matches!(store.lookup_hot(&gone_key), Lookup::Absent));
        assert_eq!(store.len(), 1);
    }
}
