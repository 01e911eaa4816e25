//! The in-memory index: which snapshots exist, how big they are, when they
//! were taken and expire, their generation, target and tags, and their
//! place in the LRU order. Rebuilt from file headers at start (`scan`).
//!
//! Layout, chosen for memory (hundreds of thousands of entries): entries sit
//! in a chunked slab addressed by a `u32` slot; the key map, the tag table
//! and the LRU queue hold slots, not 32-byte keys. Per entry, at 100,000
//! entries with a 40-byte target and one shared tag: 120 bytes of slab, ~49
//! of key map (36-byte buckets at a 76% load), 48 of target and 32 of tag
//! ids on the heap, ~20 of LRU queue and ~8 of tag membership: ~280 bytes
//! (`approx_bytes` computes it from the real capacities).
//!
//! The index never touches files and never takes a lock: `Store` holds it
//! behind one `RwLock` and does every file operation outside it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::key::Key;

use super::evict::{Lru, Ticks};
use super::tags::{TagId, TagTable};

/// `expires_ms` of an entry that never expires.
const NEVER: u64 = u64::MAX;
/// Slab chunk length: growth allocates one chunk, never a copy of all.
const CHUNK: usize = 1024;

/// One snapshot as the index knows it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub key: Key,
    pub target: Box<str>,
    pub tags: Box<[TagId]>,
    /// Size of the file.
    pub size: u64,
    pub taken_ms: u64,
    expires_ms: u64,
    pub generation: u64,
    /// Tick of the put (or load) that made this entry; tells one version of
    /// a key from the next (hot set, LRU garbage).
    pub serial: u64,
    last_used: AtomicU64,
    /// Unix ms since the entry was soft-invalidated; 0 when fresh.
    stale_since_ms: AtomicU64,
}

impl Entry {
    /// Records a use; callable under the read lock.
    pub(crate) fn touch(&self, tick: u64) {
        self.last_used.fetch_max(tick, Ordering::Relaxed);
    }

    pub(crate) fn expires_ms(&self) -> Option<u64> {
        Some(self.expires_ms).filter(|&ms| ms != NEVER)
    }

    pub(crate) fn stale_since_ms(&self) -> Option<u64> {
        Some(self.stale_since_ms.load(Ordering::Relaxed)).filter(|&ms| ms != 0)
    }

    /// Marks the entry stale at `ms` unless it already is (the earliest mark
    /// wins: `grace` counts from it). Callable under the read lock.
    pub(crate) fn mark_stale(&self, ms: u64) {
        let _ = self.stale_since_ms.compare_exchange(
            0,
            ms.max(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    fn ticks(&self) -> Ticks {
        Ticks {
            serial: self.serial,
            last_used: self.last_used.load(Ordering::Relaxed),
        }
    }
}

/// What is needed to index a snapshot (its tags come separately, as names
/// to intern, so that no per-entry list of strings is ever built).
#[derive(Debug, Clone)]
pub(crate) struct NewEntry {
    pub key: Key,
    pub target: Box<str>,
    pub size: u64,
    pub taken_ms: u64,
    pub expires_ms: Option<u64>,
    pub generation: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    map: HashMap<Key, u32>,
    slab: Slab,
    tags: TagTable,
    lru: Lru,
    bytes: u64,
    /// Highest generation ever inserted (never lowered), so a generation
    /// bump above it can drop the whole index without walking it.
    max_generation: u64,
}

impl Index {
    pub(crate) fn with_capacity(n: usize) -> Index {
        Index {
            map: HashMap::with_capacity(n),
            ..Index::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Total size of the indexed files.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn max_generation(&self) -> u64 {
        self.max_generation
    }

    pub(crate) fn get(&self, key: &Key) -> Option<&Entry> {
        self.map.get(key).and_then(|&slot| self.slab.get(slot))
    }

    /// Indexes a snapshot under a fresh, unique `serial` tick, replacing
    /// any entry of the same key.
    pub(crate) fn insert<'a>(
        &mut self,
        new: NewEntry,
        tags: impl IntoIterator<Item = &'a str>,
        serial: u64,
    ) {
        self.remove(&new.key);
        let table = &mut self.tags;
        let slot = self.slab.insert_with(|slot| Entry {
            key: new.key,
            target: new.target,
            tags: tags.into_iter().map(|t| table.add(t, slot)).collect(),
            size: new.size,
            taken_ms: new.taken_ms,
            expires_ms: new.expires_ms.unwrap_or(NEVER),
            generation: new.generation,
            serial,
            last_used: AtomicU64::new(serial),
            stale_since_ms: AtomicU64::new(0),
        });
        self.map.insert(new.key, slot);
        self.lru.push(serial, slot);
        self.bytes += new.size;
        self.max_generation = self.max_generation.max(new.generation);
    }

    pub(crate) fn remove(&mut self, key: &Key) -> Option<Entry> {
        let slot = self.map.remove(key)?;
        let entry = self.slab.take(slot)?;
        self.forget(slot, &entry);
        Some(entry)
    }

    /// Removes and returns the least recently used entry.
    pub(crate) fn pop_lru(&mut self) -> Option<Entry> {
        if self.lru.needs_rebuild() {
            self.lru.rebuild(
                self.slab
                    .iter()
                    .map(|(slot, e)| (e.ticks().last_used, slot)),
            );
        }
        let slab = &self.slab;
        let slot = self.lru.pop(|slot| slab.get(slot).map(Entry::ticks))?;
        let entry = self.slab.take(slot)?;
        self.map.remove(&entry.key);
        self.forget(slot, &entry);
        Some(entry)
    }

    fn forget(&mut self, slot: u32, entry: &Entry) {
        for &tag in entry.tags.iter() {
            self.tags.remove(tag, slot);
        }
        self.lru.forget();
        self.bytes -= entry.size;
    }

    /// Removes every entry of a generation below `generation`.
    pub(crate) fn remove_below(&mut self, generation: u64) -> Vec<Key> {
        let old: Vec<Key> = self
            .iter()
            .filter(|e| e.generation < generation)
            .map(|e| e.key)
            .collect();
        for key in &old {
            self.remove(key);
        }
        old
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slab.iter().map(|(_, e)| e)
    }

    pub(crate) fn into_keys(self) -> impl Iterator<Item = Key> {
        self.map.into_keys()
    }

    pub(crate) fn keys_with_tag(&self, tag: &str) -> Vec<Key> {
        self.tags
            .members(tag)
            .filter_map(|slot| self.slab.get(slot))
            .map(|e| e.key)
            .collect()
    }

    pub(crate) fn tag_names(&self, entry: &Entry) -> Vec<String> {
        entry
            .tags
            .iter()
            .map(|&id| self.tags.name(id).to_owned())
            .collect()
    }

    /// Approximate heap bytes held, from real capacities (allocator
    /// rounding estimated at 16 bytes).
    pub(crate) fn approx_bytes(&self) -> usize {
        let round = |n: usize| if n == 0 { 0 } else { (n + 8).div_ceil(16) * 16 };
        let map = self.map.capacity() * 8 / 7 * (std::mem::size_of::<(Key, u32)>() + 1);
        let slab = self.slab.chunks.len() * CHUNK * std::mem::size_of::<Option<Entry>>()
            + self.slab.free.capacity() * 4;
        let heap: usize = self
            .iter()
            .map(|e| round(e.target.len()) + round(e.tags.len() * 4))
            .sum();
        // BTreeMap leaf: 11 u64 keys, 11 u32 values, ~16 bytes of header,
        // filled to about two thirds.
        let lru = self.lru.len() * (8 + 4 + 2) * 3 / 2;
        let tags = self.iter().map(|e| e.tags.len()).sum::<usize>() * 8 + self.tags.len() * 160;
        map + slab + heap + lru + tags
    }
}

/// Entries in fixed-size chunks, slots reused after removal.
#[derive(Debug, Default)]
struct Slab {
    chunks: Vec<Vec<Option<Entry>>>,
    free: Vec<u32>,
}

impl Slab {
    fn insert_with(&mut self, make: impl FnOnce(u32) -> Entry) -> u32 {
        if let Some(slot) = self.free.pop() {
            let (c, i) = split(slot);
            self.chunks[c][i] = Some(make(slot));
            return slot;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let c = self.chunks.len() - 1;
        let slot =
            u32::try_from(c * CHUNK + self.chunks[c].len()).expect("fewer than 2^32 entries");
        self.chunks[c].push(Some(make(slot)));
        slot
    }

    fn get(&self, slot: u32) -> Option<&Entry> {
        let (c, i) = split(slot);
        self.chunks.get(c)?.get(i)?.as_ref()
    }

    fn take(&mut self, slot: u32) -> Option<Entry> {
        let (c, i) = split(slot);
        let entry = self.chunks.get_mut(c)?.get_mut(i)?.take()?;
        self.free.push(slot);
        Some(entry)
    }

    fn iter(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk
                .iter()
                .enumerate()
                .filter_map(move |(i, e)| e.as_ref().map(|e| ((c * CHUNK + i) as u32, e)))
        })
    }
}

fn split(slot: u32) -> (usize, usize) {
    (slot as usize / CHUNK, slot as usize % CHUNK)
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
