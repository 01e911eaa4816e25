//! The index checkpoint: at a clean shutdown the index is written to one
//! file, `cache.dir/.preloadd-index`, so that the next start reads that one
//! file instead of the header of every snapshot (about 7 µs of syscalls a
//! file: over a second at 100,000 snapshots on one core).
//!
//! Why it is safe: writing the checkpoint first closes the store to writes
//! (a late background fetch gets a write error), waits for background
//! removals, then writes the file atomically. At start the file is read and
//! removed (and the removal made durable) before anything else happens, so
//! a checkpoint is used at most once and never describes a cache that
//! changed after it was written. After a crash there is no checkpoint and
//! the header scan runs as before. A checkpoint that does not parse, or
//! names another generation, is removed and the scan runs.
//!
//! It also lists the keys of files the file system refused to unlink (see
//! `pending`): they are not in the index, so the next start would not serve
//! them, but their files would stay, unindexed, and a later crash's header
//! scan would bring them back. The next start unlinks them first (and keeps
//! retrying, answering drops `NotDurable`, while it cannot).

use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

use crate::key::Key;

use super::entry::NewEntry;
use super::reader::Reader;
use super::scan::{Part, Scan};
use super::{write, write_lock, Store};

const FILE: &str = ".preloadd-index";
const MAGIC: &[u8; 8] = b"PRLDIDX2";
const END: &[u8; 8] = b"PRLDEND1";
/// `expires` of an entry that never expires.
const NEVER: u64 = u64::MAX;

impl Store {
    /// Closes the store to writes and writes the index checkpoint; returns
    /// how many snapshots it lists. Call once, at shutdown.
    pub fn checkpoint(&self) -> io::Result<usize> {
        let sh = &*self.shared;
        // A last try at drops the file system refused (see `pending`).
        if let Err(e) = sh.settle(0) {
            tracing::error!(
                error = %e,
                files = sh.pending_files(),
                "stopping with drops the cache disk refused: the checkpoint lists them for the next start to remove; if it cannot be written either, their pages may be served again after the next start, until the app's hook retries the invalidation"
            );
        }
        let mut buf = {
            let index = write_lock(&sh.index);
            sh.closed.store(true, Ordering::Release);
            if index.rebuild.is_some() {
                // Never a checkpoint of an incomplete index: the next start
                // rebuilds it again (its invalidations are kept on disk).
                drop(index);
                self.reaper.wait();
                return Err(io::Error::other(
                    "the index was still being rebuilt after a crash",
                ));
            }
            encode(
                sh.min_generation.load(Ordering::Acquire),
                index.iter_tagged().map(|(e, tags)| {
                    (
                        NewEntry {
                            key: e.key,
                            target: e.target.clone(),
                            size: e.size(),
                            taken_ms: e.taken_ms(),
                            expires_ms: e.expires_ms(),
                            generation: e.generation,
                        },
                        tags,
                    )
                }),
            )
        };
        // Removals queued before the close must be done, or their files
        // would outlive the entries the checkpoint no longer lists.
        self.reaper.wait();
        // Taken after the index lock (never under it: the retries take the
        // two the other way round); nothing drops once the store is closed.
        finish(&mut buf, &sh.pending_keys());
        let count = read_count(&buf).unwrap_or(0);
        write::stage(&sh.dir, &[&buf])?.publish(&sh.dir.join(FILE))?;
        Ok(count)
    }
}

/// The checkpoint up to its list of refused drops (see `finish`).
fn encode<'a>(generation: u64, entries: impl Iterator<Item = (NewEntry, Vec<&'a str>)>) -> Vec<u8> {
    let mut buf = Vec::new();
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&generation.to_le_bytes());
    buf.extend_from_slice(&0u64.to_le_bytes());
    let mut count: u64 = 0;
    for (e, tags) in entries {
        buf.extend_from_slice(&e.key.0);
        buf.extend_from_slice(&e.size.to_le_bytes());
        buf.extend_from_slice(&e.taken_ms.to_le_bytes());
        buf.extend_from_slice(&e.expires_ms.unwrap_or(NEVER).to_le_bytes());
        buf.extend_from_slice(&e.generation.to_le_bytes());
        put_str(&mut buf, &e.target);
        buf.extend_from_slice(&(tags.len() as u32).to_le_bytes());
        for tag in tags {
            put_str(&mut buf, tag);
        }
        count += 1;
    }
    buf[16..24].copy_from_slice(&count.to_le_bytes());
    buf
}

/// Ends the checkpoint: the keys of refused drops, then the end mark.
fn finish(buf: &mut Vec<u8>, dropped: &[Key]) {
    buf.extend_from_slice(&(dropped.len() as u64).to_le_bytes());
    for key in dropped {
        buf.extend_from_slice(&key.0);
    }
    buf.extend_from_slice(END);
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn read_count(buf: &[u8]) -> Option<usize> {
    Some(u64::from_le_bytes(buf.get(16..24)?.try_into().ok()?) as usize)
}

/// Reads and removes the checkpoint. `Some` only for a complete checkpoint
/// of `generation`; the file is gone either way.
pub(crate) fn take(dir: &Path, generation: u64) -> Option<Scan> {
    let path = dir.join(FILE);
    let buf = match std::fs::read(&path) {
        Ok(buf) => buf,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the index checkpoint; scanning");
            let _ = std::fs::remove_file(&path);
            return None;
        }
    };
    // Used once: gone (durably) before the store changes anything.
    if let Err(e) = std::fs::remove_file(&path).and_then(|()| write::sync_dir(dir)) {
        tracing::warn!(error = %e, "cannot remove the index checkpoint; scanning");
        return None;
    }
    let scan = decode(&buf, generation);
    if scan.is_none() {
        tracing::warn!("index checkpoint unusable; scanning");
    }
    scan
}

/// Reads the checkpoint without removing it (`survey`, a look at a cache
/// dir no daemon holds): what the next start would take from it.
pub(crate) fn peek(dir: &Path, generation: u64) -> Option<Scan> {
    decode(&std::fs::read(dir.join(FILE)).ok()?, generation)
}

fn decode(buf: &[u8], generation: u64) -> Option<Scan> {
    let mut r = Reader::new(buf);
    if r.take(8)? != MAGIC || r.u64()? != generation {
        return None;
    }
    let count = r.u64()?;
    let mut part = Part::default();
    for _ in 0..count {
        let key = Key(r.take(32)?.try_into().ok()?);
        let size = r.u64()?;
        let taken_ms = r.u64()?;
        let expires_ms = Some(r.u64()?).filter(|&e| e != NEVER);
        let entry_generation = r.u64()?;
        let target = r.str()?;
        let tags = (0..r.u32()?)
            .map(|_| r.str().map(String::from))
            .collect::<Option<Vec<_>>>()?;
        if entry_generation < generation {
            continue;
        }
        let entry = NewEntry {
            key,
            target: target.into(),
            size,
            taken_ms,
            expires_ms,
            generation: entry_generation,
        };
        part.push(entry, tags);
    }
    let dropped = (0..r.u64()?)
        .map(|_| Some(Key(r.take(32)?.try_into().ok()?)))
        .collect::<Option<Vec<Key>>>()?;
    if r.take(8)? != END || !r.at_end() {
        return None;
    }
    part.finish();
    Some(Scan {
        parts: vec![part],
        removed: 0,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::Bytes;

    use super::super::snapshot::tests::sample;
    use super::super::{Store, StoreError};
    use super::FILE;
    use crate::key::Key;

    use crate::store::open_for_tests as open;

    fn put(store: &Store, n: u8, tag: &str) -> Result<(), StoreError> {
        let mut s = sample(n, b"");
        s.key = Key([n; 32]);
        s.meta.target = format!("/page/{n}");
        s.meta.tags = vec![tag.to_string()];
        s.body = Bytes::from(format!("body {n}"));
        store.put(s).map(|_| ())
    }

    #[test]
    fn a_clean_shutdown_restarts_from_the_checkpoint_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        for n in 1..=3 {
            put(&store, n, if n == 1 { "a" } else { "b" }).expect("put");
        }
        assert_eq!(store.checkpoint().expect("checkpoint"), 3);
        assert!(
            put(&store, 9, "a").is_err(),
            "closed to writes after the checkpoint"
        );
        drop(store);
        assert!(dir.path().join(FILE).exists());

        let store = open(dir.path());
        assert!(!dir.path().join(FILE).exists(), "used once, then removed");
        assert_eq!(store.len(), 3);
        assert_eq!(store.keys_with_tag("b").len(), 2, "tags come back");
        let got = store.get(&Key([2; 32])).expect("a listed snapshot reads");
        assert_eq!(&got.body[..], b"body 2");
        assert!(
            store.get(&Key([9; 32])).is_none(),
            "the late write left nothing"
        );
        let files = walk(dir.path());
        assert_eq!(files, 3, "no orphan file from the refused write");
    }

    #[test]
    fn an_unusable_checkpoint_falls_back_to_the_scan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        put(&store, 1, "a").expect("put");
        put(&store, 2, "a").expect("put");
        store.checkpoint().expect("checkpoint");
        drop(store);
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, bytes).expect("write");

        let store = open(dir.path());
        assert!(!path.exists());
        assert_eq!(store.len(), 2, "the scan found them");
    }

    #[test]
    fn a_checkpoint_of_an_older_generation_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        put(&store, 1, "a").expect("put");
        store.checkpoint().expect("checkpoint");
        drop(store);
        // A newer generation on disk than the checkpoint names (a drop of
        // everything the checkpoint did not see): its entries must not count.
        std::fs::write(dir.path().join(".preloadd-generation"), b"5\n").expect("write");
        let store = open(dir.path());
        assert!(!dir.path().join(FILE).exists());
        assert!(store.generation() >= 5);
        assert!(store.is_empty(), "the scan dropped the older generation");
    }

    fn walk(dir: &Path) -> usize {
        let mut n = 0;
        for item in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let path = item.path();
            if path.is_dir() {
                n += walk(&path);
            } else if item.file_name().len() == 64 {
                n += 1;
            }
        }
        n
    }
}
