//! A lookup during the rebuild after a crash (`rebuild`) of a key the index
//! has not decided yet: the key names its file, so that one file is read,
//! checked as the scan checks it (it decodes whole, its size is what its
//! header declares, the key inside is the one asked for, its generation is
//! not below the minimum), judged by the rebuild's invalidations (`filter`),
//! indexed and served. A file that fails the checks is removed, never
//! served; one an invalidation dropped is unlinked. Either way the key is
//! settled, as it is when there is no file: it is not looked for again.
//!
//! Blocks on the disk: the async caller runs it on the blocking pool
//! (`cached::lookup`).

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::key::Key;

use super::entry::{NewEntry, MAX_FILE};
use super::filter::Verdict;
use super::lookup::{body_offsets, read, Unindexed};
use super::{layout, snapshot, time, write_lock, Found, Store};

impl Store {
    /// Reads, indexes and returns the snapshot of a key found
    /// [`Lookup::Unindexed`](super::Lookup::Unindexed), if its file is
    /// there and may be served.
    pub fn read_unindexed(&self, unindexed: &Unindexed) -> Option<Found> {
        let sh = &*self.shared;
        let key = &unindexed.key;
        let path = layout::snapshot_path(&sh.dir, key);
        let (file, bytes) = match read(&path) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                write_lock(&sh.index).settle(key);
                return None;
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read snapshot");
                return None;
            }
        };
        let size = bytes.len() as u64;
        let mut snapshot = match snapshot::decode(bytes.clone()) {
            Ok(s) if s.key != *key => {
                self.remove_unindexed(key, size, "the key inside differs from the file name");
                return None;
            }
            Ok(s) if size > MAX_FILE => {
                self.remove_unindexed(key, size, "larger than any snapshot");
                drop(s);
                return None;
            }
            Ok(s) => s,
            Err(e) => {
                self.remove_unindexed(key, size, &e.to_string());
                return None;
            }
        };
        let meta = &snapshot.meta;
        let entry = NewEntry {
            key: *key,
            target: meta.target.as_str().into(),
            size,
            taken_ms: snapshot::to_ms(meta.taken),
            expires_ms: meta.expires.map(snapshot::to_ms),
            generation: meta.generation,
        };
        let tags: Vec<&str> = meta.tags.iter().map(String::as_str).collect();
        let _stripe = sh.stripe(key);
        let mut index = write_lock(&sh.index);
        if entry.generation < sh.min_generation.load(Ordering::Acquire) {
            // A drop of everything covers it: gone, quietly.
            index.settle(key);
            drop(index);
            if std::fs::remove_file(&path).is_ok() {
                sh.space.unscanned_gone(size);
            }
            return None;
        }
        let (serial, stale_since_ms) = match index.verdict(&entry, &tags) {
            Verdict::Skip => {
                // The scan indexed it meanwhile, or the index decided it.
                drop(index);
                drop(_stripe);
                return self.lookup(key);
            }
            Verdict::Drop => {
                index.settle(key);
                drop(index);
                drop(_stripe);
                sh.drop_loaded(key, size);
                return None;
            }
            Verdict::Keep(stale) => {
                let serial = sh.tick();
                index.insert(entry, tags, serial);
                let indexed = index.get(key);
                if let (Some(ms), Some(e)) = (stale, indexed) {
                    e.mark_stale(ms);
                }
                (serial, indexed.and_then(|e| e.stale_since_ms()))
            }
        };
        drop(index);
        drop(_stripe);
        sh.space.scanned(size);
        if let Some(offsets) = body_offsets(&bytes, &snapshot) {
            snapshot.file = sh.files.hold(file, snapshot.body.len(), offsets);
        }
        let snapshot = Arc::new(snapshot);
        sh.hot.insert(serial, snapshot.clone());
        Some(Found {
            snapshot,
            stale_since: stale_since_ms.map(time),
        })
    }

    /// Removes the file of `key`, not a snapshot that may be served, unless
    /// the index took the key meanwhile (a put's new file).
    fn remove_unindexed(&self, key: &Key, size: u64, reason: &str) {
        let sh = &*self.shared;
        let path = layout::snapshot_path(&sh.dir, key);
        let _stripe = sh.stripe(key);
        let mut index = write_lock(&sh.index);
        if index.get(key).is_some() || !index.maybe_unread(key) {
            return;
        }
        index.settle(key);
        drop(index);
        tracing::warn!(path = %path.display(), reason, "removing file from cache dir");
        match std::fs::remove_file(&path) {
            Ok(()) => sh.space.unscanned_gone(size),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove"),
        }
    }
}
