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

use crate::key::{Key, KeyMap};

use super::entry::{IndexEntry, NewEntry, MAX_FILE, NO_TAG};
use super::evict::Lru;
use super::filter::{Rebuild, Verdict};
use super::order::{self, TargetOrder};
use super::slab::{Slab, CHUNK};
use super::tags::{TagId, TagTable};

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
    /// Set while the index is rebuilt after a crash (`rebuild`): which keys
    /// it decided since, and the invalidations files loaded later must pass.
    pub(crate) rebuild: Option<Box<Rebuild>>,
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

    pub(crate) fn get(&self, key: &Key) -> Option<&IndexEntry> {
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
        let (key, generation) = (new.key, new.generation);
        self.unindex(&key);
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
            IndexEntry::new(new, &ids, serial)
        });
        if ids.len() > 2 {
            self.more_tags.insert(slot, ids[2..].into());
        }
        self.map.insert(key, slot);
        self.order.insert(&self.slab, slot);
        self.lru.push(serial, slot);
        self.bytes += size;
        self.max_generation = self.max_generation.max(generation);
    }

    /// Removes the entry of `key`; during a rebuild the key is settled
    /// (no file of it is loaded any more), whether it was indexed or not.
    pub(crate) fn remove(&mut self, key: &Key) -> Option<IndexEntry> {
        self.settle(key);
        self.unindex(key)
    }

    /// During a rebuild: the index decides `key` from now on.
    pub(crate) fn settle(&mut self, key: &Key) {
        if let Some(rebuild) = &mut self.rebuild {
            rebuild.settled.insert(*key);
        }
    }

    /// During a rebuild, what becomes of a file of `new` found on disk
    /// (`Skip` when the index holds or decided its key, or is whole).
    pub(crate) fn verdict(&self, new: &NewEntry, tags: &[&str]) -> Verdict {
        match &self.rebuild {
            Some(rebuild) if !self.map.contains_key(&new.key) => rebuild.judge(new, tags),
            _ => Verdict::Skip,
        }
    }

    /// Whether a file of `key` not indexed may still be on disk, unread
    /// (a rebuild is on and has not decided the key).
    pub(crate) fn maybe_unread(&self, key: &Key) -> bool {
        self.rebuild
            .as_ref()
            .is_some_and(|r| !r.settled.contains(key))
    }

    /// Every entry, taken out (a drop of everything); a rebuild's state
    /// stays.
    pub(crate) fn take_entries(&mut self) -> Index {
        let rebuild = self.rebuild.take();
        let old = std::mem::take(self);
        self.rebuild = rebuild;
        old
    }

    fn unindex(&mut self, key: &Key) -> Option<IndexEntry> {
        let slot = self.map.remove(key)?;
        // Before the take: the order finds the slot by its target.
        self.order.remove(&self.slab, slot);
        let entry = self.slab.take(slot)?;
        self.forget(slot, &entry);
        Some(entry)
    }

    /// Removes and returns the least recently used entry.
    pub(crate) fn pop_lru(&mut self) -> Option<IndexEntry> {
        if self.lru.needs_rebuild() {
            self.lru.rebuild(
                self.slab
                    .iter()
                    .map(|(slot, e)| (e.ticks().last_used, slot)),
            );
        }
        let slab = &self.slab;
        let slot = self.lru.pop(|slot| slab.get(slot).map(IndexEntry::ticks))?;
        self.order.remove(&self.slab, slot);
        let entry = self.slab.take(slot)?;
        self.map.remove(&entry.key);
        self.settle(&entry.key);
        self.forget(slot, &entry);
        Some(entry)
    }

    fn forget(&mut self, slot: u32, entry: &IndexEntry) {
        let more = if entry.inline_tags()[1] != NO_TAG {
            self.more_tags.remove(&slot)
        } else {
            None
        };
        for tag in entry.inline_tags().iter().chain(more.iter().flatten()) {
            self.tags.remove(*tag, slot);
        }
        self.lru.forget();
        self.bytes -= entry.size();
    }

    /// The tag ids of the entry in `slot`.
    fn tag_ids<'a>(&'a self, slot: u32, entry: &'a IndexEntry) -> impl Iterator<Item = TagId> + 'a {
        let more = if entry.inline_tags()[1] != NO_TAG {
            self.more_tags.get(&slot)
        } else {
            None
        };
        entry
            .inline_tags()
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

    pub(crate) fn iter(&self) -> impl Iterator<Item = &IndexEntry> {
        self.slab.iter().map(|(_, e)| e)
    }

    /// Every entry with its tag names.
    pub(crate) fn iter_tagged(&self) -> impl Iterator<Item = (&IndexEntry, Vec<&str>)> {
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
    ) -> impl Iterator<Item = (u32, &'a IndexEntry)> + 'a {
        let slab = &self.slab;
        self.order
            .from(move |s| before(order::target(slab, s), s))
            .filter_map(move |s| Some((s, slab.get(s)?)))
    }

    /// The slot and entry of `key` (listings read its tags by the slot).
    pub(crate) fn get_slot(&self, key: &Key) -> Option<(u32, &IndexEntry)> {
        let slot = *self.map.get(key)?;
        Some((slot, self.slab.get(slot)?))
    }

    /// The tag names of the entry in `slot`.
    pub(crate) fn tag_names<'a>(&'a self, slot: u32, entry: &'a IndexEntry) -> Vec<&'a str> {
        self.tag_ids(slot, entry)
            .map(|id| self.tags.name(id))
            .collect()
    }

    /// The entries carrying `tag`, with their slots, in no order.
    pub(crate) fn tagged<'a>(
        &'a self,
        tag: &str,
    ) -> impl Iterator<Item = (u32, &'a IndexEntry)> + 'a {
        let slab = &self.slab;
        self.tags
            .members(tag)
            .filter_map(move |slot| Some((slot, slab.get(slot)?)))
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
        let slab = self.slab.chunks.len() * CHUNK * std::mem::size_of::<Option<IndexEntry>>()
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
