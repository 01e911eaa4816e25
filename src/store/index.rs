//! The in-memory index: which snapshots exist, how big they are, when they
//! were taken and expire, their generation, target and tags, and their
//! place in the LRU order. Rebuilt from file headers at start (`scan`).
//!
//! Layout, chosen for memory (hundreds of thousands of entries): entries sit
//! in a chunked slab addressed by a `u32` slot; the key map, the tag table
//! and the LRU queue hold slots, not 32-byte keys; two tags fit inline.
//! Per entry, at 100,000 entries with a 40-byte target and one shared tag:
//! 96 bytes of slab, ~49 of key map (36-byte buckets at a 76% load), 48 of
//! target on the heap, ~27 of LRU queue, ~7 of tag membership and 4 of
//! target order (packed at start; up to 8 as later splits leave blocks
//! half full): ~231 bytes (`approx_bytes` computes it from the real
//! capacities; the process grew by ~240 per entry before the target
//! order, allocator overhead included).
//!
//! The target order (`order`) sorts slots by target, so that urls and
//! prefixes resolve by binary search and range scan; it keeps no second
//! copy of any target.
//!
//! The index never touches files and never takes a lock: `Store` holds it
//! behind one `RwLock` and does every file operation outside it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::key::{Key, KeyMap};

use super::evict::{Lru, Ticks};
use super::order::{self, TargetOrder};
use super::slab::{Slab, CHUNK};
use super::tags::{TagId, TagTable};

/// Largest file the index can account for (sizes are kept in 32 bits).
pub(crate) const MAX_FILE: u64 = u32::MAX as u64;
/// `expires_s` of an entry that never expires.
const NEVER: u32 = u32::MAX;
/// An unused inline tag place.
const NO_TAG: TagId = TagId::MAX;

/// One snapshot as the index knows it: 96 bytes. Times are whole unix
/// seconds, rounded down (so a filter on them errs towards dropping, never
/// towards keeping); the file keeps the exact ones.
#[derive(Debug)]
pub(crate) struct Entry {
    pub key: Key,
    pub target: Box<str>,
    /// The first two tags inline (`NO_TAG` when absent); more, rare, sit in
    /// `Index::more_tags`. Saves a heap list per entry.
    tags: [TagId; 2],
    /// Tick of the put (or load) that made this entry; tells one version of
    /// a key from the next (hot set, LRU garbage).
    pub serial: u64,
    last_used: AtomicU64,
    pub generation: u64,
    /// Size of the file.
    size: u32,
    taken_s: u32,
    expires_s: u32,
    /// When the entry was soft-invalidated; 0 when fresh.
    stale_since_s: AtomicU32,
}

impl Entry {
    /// Records a use; callable under the read lock.
    pub(crate) fn touch(&self, tick: u64) {
        self.last_used.fetch_max(tick, Ordering::Relaxed);
    }

    pub(crate) fn size(&self) -> u64 {
        u64::from(self.size)
    }

    pub(crate) fn taken_ms(&self) -> u64 {
        u64::from(self.taken_s) * 1000
    }

    pub(crate) fn expires_ms(&self) -> Option<u64> {
        Some(self.expires_s)
            .filter(|&s| s != NEVER)
            .map(|s| u64::from(s) * 1000)
    }

    pub(crate) fn stale_since_ms(&self) -> Option<u64> {
        let s = self.stale_since_s.load(Ordering::Relaxed);
        Some(s).filter(|&s| s != 0).map(|s| u64::from(s) * 1000)
    }

    /// Marks the entry stale at `ms` unless it already is since then or
    /// earlier (the earliest mark wins: `grace` counts from it, and marks
    /// replayed at start come in no particular order). Callable under the
    /// read lock.
    pub(crate) fn mark_stale(&self, ms: u64) {
        let s = secs(ms).max(1);
        let _ = self
            .stale_since_s
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                (old == 0 || s < old).then_some(s)
            });
    }

    fn ticks(&self) -> Ticks {
        Ticks {
            serial: self.serial,
            last_used: self.last_used.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
impl Entry {
    /// An entry with nothing but a key and a target.
    pub(crate) fn for_test(key: Key, target: &str) -> Entry {
        Entry {
            key,
            target: target.into(),
            tags: [NO_TAG; 2],
            serial: 0,
            last_used: AtomicU64::new(0),
            generation: 0,
            size: 0,
            taken_s: 0,
            expires_s: NEVER,
            stale_since_s: AtomicU32::new(0),
        }
    }
}

/// Unix ms to whole seconds, rounded down, saturating below `NEVER`.
fn secs(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(NEVER - 1).min(NEVER - 1)
}

/// What is needed to index a snapshot (its tags come separately, as names
/// to intern, so that no per-entry list of strings is ever built).
#[derive(Debug, Clone)]
pub(crate) struct NewEntry {
    pub key: Key,
    pub target: Box<str>,
    /// At most `MAX_FILE`.
    pub size: u64,
    pub taken_ms: u64,
    pub expires_ms: Option<u64>,
    pub generation: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    map: KeyMap<u32>,
    slab: Slab,
    tags: TagTable,
    /// Tags of entries with more than two, beyond the first two, by slot.
    more_tags: HashMap<u32, Box<[TagId]>>,
    lru: Lru,
    /// Slots by target, for urls and prefixes.
    order: TargetOrder,
    bytes: u64,
    /// Highest generation ever inserted (never lowered), so a generation
    /// bump above it can drop the whole index without walking it.
    max_generation: u64,
}

impl Index {
    pub(crate) fn with_capacity(n: usize) -> Index {
        Index {
            map: KeyMap::with_capacity_and_hasher(n, Default::default()),
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
        let size = new.size.min(MAX_FILE);
        let mut ids: Vec<TagId> = Vec::new();
        // A set, not `ids.contains`: this runs under the index lock that
        // HITs need, and a page may have up to `max_tags` tags.
        let mut seen: HashSet<TagId> = HashSet::new();
        let slot = self.slab.insert_with(|slot| {
            for tag in tags {
                let id = self.tags.add(tag, slot);
                if seen.insert(id) {
                    ids.push(id);
                }
            }
            Entry {
                key: new.key,
                target: new.target,
                tags: [
                    ids.first().copied().unwrap_or(NO_TAG),
                    ids.get(1).copied().unwrap_or(NO_TAG),
                ],
                serial,
                last_used: AtomicU64::new(serial),
                generation: new.generation,
                size: size as u32,
                taken_s: secs(new.taken_ms),
                expires_s: new.expires_ms.map_or(NEVER, secs),
                stale_since_s: AtomicU32::new(0),
            }
        });
        if ids.len() > 2 {
            self.more_tags.insert(slot, ids[2..].into());
        }
        self.map.insert(new.key, slot);
        self.order.insert(&self.slab, slot);
        self.lru.push(serial, slot);
        self.bytes += size;
        self.max_generation = self.max_generation.max(new.generation);
    }

    pub(crate) fn remove(&mut self, key: &Key) -> Option<Entry> {
        let slot = self.map.remove(key)?;
        // Before the take: the order finds the slot by its target.
        self.order.remove(&self.slab, slot);
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
        self.order.remove(&self.slab, slot);
        let entry = self.slab.take(slot)?;
        self.map.remove(&entry.key);
        self.forget(slot, &entry);
        Some(entry)
    }

    fn forget(&mut self, slot: u32, entry: &Entry) {
        let more = if entry.tags[1] != NO_TAG {
            self.more_tags.remove(&slot)
        } else {
            None
        };
        for tag in entry.tags.iter().chain(more.iter().flatten()) {
            self.tags.remove(*tag, slot);
        }
        self.lru.forget();
        self.bytes -= entry.size();
    }

    /// The tag ids of the entry in `slot`.
    fn tag_ids<'a>(&'a self, slot: u32, entry: &'a Entry) -> impl Iterator<Item = TagId> + 'a {
        let more = if entry.tags[1] != NO_TAG {
            self.more_tags.get(&slot)
        } else {
            None
        };
        entry
            .tags
            .iter()
            .chain(more.into_iter().flatten())
            .copied()
            .filter(|&t| t != NO_TAG)
    }

    /// Removes every entry of a generation below `generation`; returns
    /// their keys and sizes.
    pub(crate) fn remove_below(&mut self, generation: u64) -> Vec<(Key, u64)> {
        let old: Vec<(Key, u64)> = self
            .iter()
            .filter(|e| e.generation < generation)
            .map(|e| (e.key, e.size()))
            .collect();
        for (key, _) in &old {
            self.remove(key);
        }
        old
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.slab.iter().map(|(_, e)| e)
    }

    /// Every entry with its tag names.
    pub(crate) fn iter_tagged(&self) -> impl Iterator<Item = (&Entry, Vec<&str>)> {
        self.slab.iter().map(|(slot, e)| {
            (
                e,
                self.tag_ids(slot, e).map(|id| self.tags.name(id)).collect(),
            )
        })
    }

    /// Every key with its file's size, consuming the index.
    pub(crate) fn into_sized_keys(self) -> impl Iterator<Item = (Key, u64)> {
        let slab = self.slab;
        self.map
            .into_values()
            .filter_map(move |slot| slab.get(slot).map(|e| (e.key, e.size())))
    }

    /// Packs the target order tight, once the index is built (at open).
    pub(crate) fn compact_order(&mut self) {
        self.order.compact();
    }

    /// Entries in target order (with their slots, which break ties), from
    /// the first for which `before(target, slot)` is false. `before` must
    /// hold for a leading run of that order only: "sorts below `from`", or
    /// "sorts up to where the last batch stopped".
    pub(crate) fn ordered_from<'a>(
        &'a self,
        before: impl Fn(&str, u32) -> bool + 'a,
    ) -> impl Iterator<Item = (u32, &'a Entry)> + 'a {
        let slab = &self.slab;
        self.order
            .from(move |s| before(order::target(slab, s), s))
            .filter_map(move |s| Some((s, slab.get(s)?)))
    }

    pub(crate) fn keys_with_tag(&self, tag: &str) -> Vec<Key> {
        self.tags
            .members(tag)
            .filter_map(|slot| self.slab.get(slot))
            .map(|e| e.key)
            .collect()
    }

    /// Approximate heap bytes held, from real capacities (allocator
    /// rounding estimated at 16 bytes).
    pub(crate) fn approx_bytes(&self) -> usize {
        let round = |n: usize| if n == 0 { 0 } else { (n + 8).div_ceil(16) * 16 };
        let map = self.map.capacity() * 8 / 7 * (std::mem::size_of::<(Key, u32)>() + 1);
        let slab = self.slab.chunks.len() * CHUNK * std::mem::size_of::<Option<Entry>>()
            + self.slab.free.capacity() * 4;
        let targets: usize = self.iter().map(|e| round(e.target.len())).sum();
        let more = self
            .more_tags
            .values()
            .map(|t| 40 + round(t.len() * 4))
            .sum::<usize>();
        // BTreeMap leaf: 11 u64 keys, 11 u32 values, 16 bytes of header,
        // filled to a little over half when keys arrive in order.
        let lru = self.lru.len() * 160 / 6;
        let members: usize = self
            .slab
            .iter()
            .map(|(s, e)| self.tag_ids(s, e).count())
            .sum();
        let tags = members * 8 + self.tags.len() * 160;
        map + slab + targets + more + lru + tags + self.order.approx_bytes()
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
