//! The target order: every index slot, sorted by its entry's target (ties,
//! the vary variants of one target, by slot), so that an invalidation by
//! url is a binary search and one by prefix a range scan, never a walk of
//! the whole index per url (issue 15.3).
//!
//! Why this shape: a `BTreeMap` keyed by target would hold every target a
//! second time (the entry keeps it) plus ~50 bytes of tree per entry. Here
//! the order holds slots only, 4 bytes each, and compares them through the
//! slab, which owns the targets: ~6 bytes per entry at the usual fill. The
//! slots sit in sorted blocks of at most `BLOCK`, so an insert or a removal
//! moves at most one block's worth of slots (2 KiB), whatever the size of
//! the cache, and finding a slot costs two binary searches.
//!
//! Invariant, kept by the index: the order holds exactly the slots the slab
//! holds an entry in, each once. A slot is inserted once its entry is in the
//! slab and removed before its entry leaves it (the comparisons read the
//! targets of the slots they meet).

use std::cmp::Ordering;

use super::slab::Slab;

/// Slots per block at most; a full block is split in two halves.
const BLOCK: usize = 512;
/// A block left with fewer slots than this is merged into a neighbour
/// that has room, so that mass removals do not leave many near-empty
/// blocks (each one a `BLOCK`-sized allocation).
const MERGE_BELOW: usize = BLOCK / 4;

#[derive(Debug, Default)]
pub(crate) struct TargetOrder {
    /// Non-empty blocks, each sorted, each wholly before the next.
    blocks: Vec<Vec<u32>>,
}

impl TargetOrder {
    /// Puts `slot`, whose entry is in `slab`, at its place.
    pub(crate) fn insert(&mut self, slab: &Slab, slot: u32) {
        let probe = (target(slab, slot), slot);
        let Some((mut b, mut i)) = self.locate(slab, probe) else {
            let mut block = Vec::with_capacity(BLOCK);
            block.push(slot);
            self.blocks.push(block);
            return;
        };
        if self.blocks[b].len() >= BLOCK && (i == 0 || i == BLOCK) {
            // At an end of a full block (targets arriving in order, as at
            // a start): a new block, so that full ones stay full.
            let mut block = Vec::with_capacity(BLOCK);
            block.push(slot);
            self.blocks.insert(if i == 0 { b } else { b + 1 }, block);
            return;
        }
        if self.blocks[b].len() >= BLOCK {
            let mut upper = Vec::with_capacity(BLOCK);
            upper.extend(self.blocks[b].drain(BLOCK / 2..));
            self.blocks.insert(b + 1, upper);
            if i > BLOCK / 2 {
                b += 1;
                i -= BLOCK / 2;
            }
        }
        self.blocks[b].insert(i, slot);
    }

    /// Takes `slot`, whose entry is still in `slab`, out. False if it was
    /// not there (the index never asks that).
    pub(crate) fn remove(&mut self, slab: &Slab, slot: u32) -> bool {
        let probe = (target(slab, slot), slot);
        let Some((b, i)) = self.locate(slab, probe) else {
            return false;
        };
        if self.blocks[b].get(i) != Some(&slot) {
            return false;
        }
        self.blocks[b].remove(i);
        let len = self.blocks[b].len();
        if len == 0 {
            self.blocks.remove(b);
        } else if len < MERGE_BELOW {
            self.merge(b);
        }
        true
    }

    /// Merges block `b` into a neighbour when the two fit in one block.
    fn merge(&mut self, b: usize) {
        let len = self.blocks[b].len();
        if self
            .blocks
            .get(b + 1)
            .is_some_and(|n| n.len() + len <= BLOCK)
        {
            let next = self.blocks.remove(b + 1);
            self.blocks[b].extend(next);
        } else if b > 0 && self.blocks[b - 1].len() + len <= BLOCK {
            let this = self.blocks.remove(b);
            self.blocks[b - 1].extend(this);
        }
    }

    /// The slots in order, from the first that `before` does not hold for
    /// on. `before` must hold for a leading run of the order and for
    /// nothing after it (e.g. "its target sorts below `from`"); finding the
    /// start costs two binary searches.
    pub(crate) fn from<'a>(
        &'a self,
        before: impl Fn(u32) -> bool,
    ) -> impl Iterator<Item = u32> + 'a {
        let b = self
            .blocks
            .partition_point(|block| block.last().is_some_and(|&s| before(s)));
        let i = self
            .blocks
            .get(b)
            .map_or(0, |block| block.partition_point(|&s| before(s)));
        self.blocks[b..]
            .iter()
            .enumerate()
            .flat_map(move |(n, block)| block[if n == 0 { i } else { 0 }..].iter().copied())
    }

    /// Packs the slots into full blocks (after the index is built at open,
    /// when inserts in a scan's order left many half full): 4 bytes a slot.
    pub(crate) fn compact(&mut self) {
        let slots: Vec<u32> = self.blocks.drain(..).flatten().collect();
        self.blocks = slots
            .chunks(BLOCK)
            .map(|chunk| {
                let mut block = Vec::with_capacity(BLOCK);
                block.extend_from_slice(chunk);
                block
            })
            .collect();
    }

    /// Number of slots held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    /// Heap bytes held, from real capacities.
    pub(crate) fn approx_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Vec<u32>>()
            + self.blocks.iter().map(|b| b.capacity() * 4).sum::<usize>()
    }

    /// Where `probe` is or would go: the block (the first whose last slot
    /// is not below it, else the last) and the place in it. `None` when
    /// the order is empty.
    fn locate(&self, slab: &Slab, probe: (&str, u32)) -> Option<(usize, usize)> {
        let below = |s: u32| cmp(slab, s, probe) == Ordering::Less;
        let last = self.blocks.len().checked_sub(1)?;
        let b = self
            .blocks
            .partition_point(|block| block.last().is_some_and(|&s| below(s)))
            .min(last);
        Some((b, self.blocks[b].partition_point(|&s| below(s))))
    }
}

/// The target of the entry in `slot` ("" for an empty slot, which the
/// invariant rules out).
pub(crate) fn target(slab: &Slab, slot: u32) -> &str {
    slab.get(slot).map_or("", |e| &e.target)
}

/// How `slot` sorts against `probe`: by target, then by slot.
fn cmp(slab: &Slab, slot: u32, probe: (&str, u32)) -> Ordering {
    (target(slab, slot), slot).cmp(&probe)
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
