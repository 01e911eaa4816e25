//! The read path: index (read lock, one atomic to record the use), then the
//! hot set, then the file.
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

use super::{layout, read_lock, snapshot, time, write_lock, Found, Snapshot, Store};

impl Store {
    /// The snapshot of `key`, if there is one.
    pub fn get(&self, key: &Key) -> Option<Arc<Snapshot>> {
        self.lookup(key).map(|found| found.snapshot)
    }

    /// The snapshot of `key` and whether it was soft-invalidated.
    pub fn lookup(&self, key: &Key) -> Option<Found> {
        let sh = &*self.shared;
        let (serial, stale_since) = {
            let index = read_lock(&sh.index);
            let entry = index.get(key)?;
            entry.touch(sh.tick());
            (entry.serial, entry.stale_since_ms())
        };
        let snapshot = match sh.hot.get(key, serial) {
            Some(snapshot) => snapshot,
            None => self.load(key, serial)?,
        };
        Some(Found {
            snapshot,
            stale_since: stale_since.map(time),
        })
    }

    /// Reads and decodes the file of `key`, indexed under `serial`.
    fn load(&self, key: &Key, serial: u64) -> Option<Arc<Snapshot>> {
        let sh = &*self.shared;
        let path = layout::snapshot_path(&sh.dir, key);
        let reason = match read(&path) {
            Ok((file, bytes)) => match snapshot::decode(bytes.clone()) {
                Ok(mut snapshot) if snapshot.key == *key => {
                    if let Some(offsets) = body_offsets(&bytes, &snapshot) {
                        snapshot.file = sh.files.hold(file, snapshot.body.len(), offsets);
                    }
                    let snapshot = Arc::new(snapshot);
                    // Worth caching only if still current; a stale insert
                    // would be ignored anyway (serials must match).
                    if read_lock(&sh.index)
                        .get(key)
                        .is_some_and(|e| e.serial == serial)
                    {
                        sh.hot.insert(serial, snapshot.clone());
                    }
                    return Some(snapshot);
                }
                Ok(_) => "the key inside differs".to_string(),
                Err(e) => e.to_string(),
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
fn read(path: &Path) -> io::Result<(File, Bytes)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok((file, Bytes::from(bytes)))
}

/// Where each body of `snapshot` (decoded from `file`, whose slices its
/// bodies are) starts in the file: identity first, then the variants.
/// `None` if a body does not lie inside `file` (then no file is held).
fn body_offsets(file: &Bytes, snapshot: &Snapshot) -> Option<Vec<u64>> {
    let base = file.as_ptr() as usize;
    std::iter::once(&snapshot.body)
        .chain(snapshot.variants.iter().map(|v| &v.body))
        .map(|body| {
            let start = (body.as_ptr() as usize).checked_sub(base)?;
            (start + body.len() <= file.len()).then_some(start as u64)
        })
        .collect()
}
