//! A slab of index entries: fixed-size chunks addressed by a `u32` slot,
//! slots reused after removal. Growth allocates one more chunk and never
//! copies what exists (a doubling `Vec` would briefly need twice the memory
//! and often keep half of it unused).
//!
//! It stores entries and nothing else: no keys map, no order, no files.

use super::entry::IndexEntry;

/// Entries per chunk.
pub(crate) const CHUNK: usize = 1024;

/// Entries in fixed-size chunks, slots reused after removal.
#[derive(Debug, Default)]
pub(crate) struct Slab {
    pub(crate) chunks: Vec<Vec<Option<IndexEntry>>>,
    pub(crate) free: Vec<u32>,
}

impl Slab {
    pub(crate) fn insert_with(&mut self, make: impl FnOnce(u32) -> IndexEntry) -> u32 {
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

    pub(crate) fn get(&self, slot: u32) -> Option<&IndexEntry> {
        let (c, i) = split(slot);
        self.chunks.get(c)?.get(i)?.as_ref()
    }

    pub(crate) fn take(&mut self, slot: u32) -> Option<IndexEntry> {
        let (c, i) = split(slot);
        let entry = self.chunks.get_mut(c)?.get_mut(i)?.take()?;
        self.free.push(slot);
        Some(entry)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &IndexEntry)> {
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
