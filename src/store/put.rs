//! The write path: encode, reserve room under `max_size` (evicting least
//! recently used snapshots first, see `space`), stage the file (the slow
//! part, no lock held), then under the key's stripe lock rename it into
//! place and index it.
//!
//! The room can be taken before the write ([`Store::room_for`],
//! [`Store::try_room_for`]): the miss path makes it part of the keep
//! decision, so that a page answered as kept has its room before the
//! answer goes out, and writes it afterwards ([`Store::put_in`]).
//!
//! A failed write leaves no file, no index entry and no reservation behind.
//! A snapshot is visible only once its file is in place: the rename comes
//! before the index update, so a reader never finds an entry without its
//! file.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::key::Key;

use super::entry::{NewEntry, MAX_FILE};
use super::{layout, snapshot, write, write_lock, Meta, Shared, Snapshot, Store, StoreError};

/// How long a write waits for room when writes in progress hold all of
/// `max_size`; past it the page is passed on (`write-error`).
const ROOM_WAIT: Duration = Duration::from_secs(5);

/// Bytes reserved under `max_size` for one write in progress; given back
/// when dropped unless the write succeeded (its file then holds them).
pub struct Room {
    shared: Arc<Shared>,
    size: u64,
}

impl Room {
    /// The bytes it holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The write succeeded: the file now counts for these bytes.
    fn keep(mut self) {
        self.size = 0;
    }

    /// Adds `other`'s bytes to these.
    fn absorb(&mut self, other: Room) {
        self.size += other.size;
        other.keep();
    }

    /// Gives back what is held beyond `size`.
    fn shrink_to(&mut self, size: u64) {
        if size < self.size {
            self.shared.space.release(self.size - size);
            self.size = size;
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.shared.space.release(self.size);
    }
}

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
        snapshot: Snapshot,
        admit: impl FnOnce() -> Option<G>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let room = self.room_for(&snapshot)?;
        self.put_in(room, snapshot, admit)
    }

    /// Room for `snapshot` as it is now (its variants counted), evicting
    /// least recently used snapshots to make it and waiting up to 5 s for
    /// writes in progress to give some back: may block.
    pub fn room_for(&self, snapshot: &Snapshot) -> Result<Room, StoreError> {
        let size = self.size_of(snapshot)?;
        self.reserve(size)
    }

    /// [`Store::room_for`] when the room is free now; `Ok(None)` when it
    /// would take an eviction or a wait (call `room_for` where blocking is
    /// fine). Never blocks.
    pub fn try_room_for(&self, snapshot: &Snapshot) -> Result<Option<Room>, StoreError> {
        let size = self.size_of(snapshot)?;
        let sh = &self.shared;
        let room = sh.space.try_reserve(size).ok().map(|()| Room {
            shared: Arc::clone(sh),
            size,
        });
        // Raising the persisted size bound writes a file: that is for
        // `room_for`.
        Ok(room.filter(|_| sh.within_bound()))
    }

    /// The size of `snapshot`'s file, if the store can take it at all.
    fn size_of(&self, snapshot: &Snapshot) -> Result<u64, StoreError> {
        let sh = &*self.shared;
        let header = snapshot::encode_header(snapshot).map_err(StoreError::Encode)?;
        let size = snapshot::file_len(header.len(), snapshot);
        let max = sh.max_size.min(MAX_FILE);
        if size > max {
            return Err(StoreError::TooLarge { size, max });
        }
        if sh.lost.load(Ordering::Acquire) {
            return Err(StoreError::Lost);
        }
        Ok(size)
    }

    /// True when the last snapshot write failed on the disk (and none has
    /// succeeded since): the miss path then answers after the write again,
    /// so that a full disk passes pages on (`write-error`) as it says.
    pub fn writes_failing(&self) -> bool {
        self.shared.failing.load(Ordering::Relaxed)
    }

    /// [`Store::put_if`] into `room`, taken before (the miss path's keep
    /// decision). Variants made since the room was taken may need more:
    /// when that cannot be had, the snapshot is kept without them rather
    /// than not at all. May block.
    pub fn put_in<G>(
        &self,
        room: Room,
        snapshot: Snapshot,
        admit: impl FnOnce() -> Option<G>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let written = self.write_in(room, snapshot, admit);
        match &written {
            Ok(_) => self.shared.failing.store(false, Ordering::Relaxed),
            Err(StoreError::Write(_)) => self.shared.failing.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
        written
    }

    fn write_in<G>(
        &self,
        mut room: Room,
        mut snapshot: Snapshot,
        admit: impl FnOnce() -> Option<G>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let sh = &*self.shared;
        round_times(&mut snapshot.meta);
        snapshot.meta.generation = self.generation();
        let mut header = snapshot::encode_header(&snapshot).map_err(StoreError::Encode)?;
        let mut size = snapshot::file_len(header.len(), &snapshot);
        if size > room.size {
            let max = sh.max_size.min(MAX_FILE);
            match (size <= max).then(|| self.reserve(size - room.size)) {
                Some(Ok(more)) => room.absorb(more),
                _ if !snapshot.variants.is_empty() => {
                    snapshot.variants.clear();
                    header = snapshot::encode_header(&snapshot).map_err(StoreError::Encode)?;
                    size = snapshot::file_len(header.len(), &snapshot);
                    if size > room.size {
                        return Err(StoreError::NoRoom);
                    }
                }
                Some(Err(err)) => return Err(err),
                None => return Err(StoreError::TooLarge { size, max }),
            }
        }
        room.shrink_to(size);
        if sh.lost.load(Ordering::Acquire) {
            return Err(StoreError::Lost);
        }
        let key = snapshot.key;
        let dir = layout::fanout_dir(&sh.dir, &key);
        let ready = &sh.fanout_ready[layout::fanout_index(&key)];
        // The offsets say where each body lands in the file, for a held
        // file (`held`).
        let snapshot::Layout { parts, offsets, .. } = snapshot::layout(&header, &snapshot);
        let staged = stage(&dir, ready, &parts).map_err(StoreError::Write)?;
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
                    let old = write_lock(&sh.index).remove(&key);
                    sh.hot.remove(&key);
                    sh.space.release(old.map_or(0, |e| e.size()));
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
            // The rename replaced the file of the entry this one replaces.
            let replaced = index.remove(&key).map_or(0, |e| e.size());
            index.insert(entry, snapshot.meta.tags.iter().map(String::as_str), serial);
            drop(index);
            room.keep();
            sh.space.release(replaced);
            sh.hot.insert(serial, snapshot.clone());
            snapshot
        };
        Ok(snapshot)
    }

    /// Reserves `size` bytes under `max_size`, evicting least recently used
    /// snapshots (and unlinking their files) until they fit; waits up to
    /// `ROOM_WAIT` while writes in progress hold the room.
    fn reserve(&self, size: u64) -> Result<Room, StoreError> {
        let sh = &*self.shared;
        let deadline = Instant::now() + ROOM_WAIT;
        loop {
            let (need, ticket) = match sh.space.try_reserve(size) {
                Ok(()) => {
                    let room = Room {
                        shared: Arc::clone(&self.shared),
                        size,
                    };
                    // What a start after a crash counts the files as.
                    sh.keep_within_bound().map_err(StoreError::Write)?;
                    return Ok(room);
                }
                Err(short) => short,
            };
            // A file system refusing unlinks would let eviction empty the
            // index for nothing: evict only once the refused ones are done.
            if sh.unsettled.load(Ordering::Acquire) && sh.pending_files() > 0 {
                let _ = sh.settle(0);
                if sh.pending_files() > 0 {
                    return Err(StoreError::NoRoom);
                }
                continue;
            }
            let victims = self.pick_victims(need);
            if victims.is_empty() {
                // During a rebuild the room is held by files not scanned
                // yet, which no wait frees: not kept (see `rebuild`).
                if sh.space.unknown() > 0 || !sh.space.wait_freed(ticket, deadline) {
                    return Err(StoreError::NoRoom);
                }
                continue;
            }
            for (key, size) in victims {
                sh.hot.remove(&key);
                sh.unlink_quietly(&key, size);
            }
        }
    }

    /// Drops least recently used entries from the index until their files
    /// add up to at least `need` bytes; returns their keys and sizes, for
    /// the caller to unlink (and release).
    pub(super) fn pick_victims(&self, need: u64) -> Vec<(Key, u64)> {
        self.shared.pick_victims(need)
    }
}

impl Shared {
    /// `Store::pick_victims`.
    pub(super) fn pick_victims(&self, need: u64) -> Vec<(Key, u64)> {
        let sh = self;
        if need == 0 {
            return Vec::new();
        }
        let mut index = write_lock(&sh.index);
        let mut freed = 0;
        let victims: Vec<(Key, u64)> = std::iter::from_fn(|| {
            if freed >= need {
                return None;
            }
            let e = index.pop_lru()?;
            freed += e.size();
            Some((e.key, e.size()))
        })
        .collect();
        drop(index);
        sh.evictions
            .fetch_add(victims.len() as u64, Ordering::Relaxed);
        if !victims.is_empty() {
            let count = victims.len();
            tracing::info!(
                count,
                bytes = freed,
                "evicted least recently used snapshots to stay within max_size"
            );
        }
        victims
    }
}

/// Stages `parts` in the fan-out directory `dir`, making it first if it is
/// not known to exist, and again if it went away underneath (a cache dir
/// emptied by hand, see `vanish`).
fn stage(dir: &Path, ready: &AtomicBool, parts: &[&[u8]]) -> io::Result<write::Staged> {
    let make = |dir: &PathBuf| -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        ready.store(true, Ordering::Relaxed);
        Ok(())
    };
    let dir = dir.to_path_buf();
    if !ready.load(Ordering::Relaxed) {
        make(&dir)?;
    }
    match write::stage(&dir, parts) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            ready.store(false, Ordering::Relaxed);
            make(&dir)?;
            write::stage(&dir, parts)
        }
        other => other,
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
