//! Listing what the store holds, a page at a time, from the index alone
//! (`GET /_preloadd/snapshots`, `preloadd ls`), and the one thing per row
//! the index does not keep: which encoded variants a file holds, read from
//! its header.
//!
//! Order and paging: rows come ordered by target, then key, and a page
//! ends with a [`Cursor`], the (target, key) of its last row, by value. The
//! next page starts strictly after it, wherever that is now: a snapshot
//! added or dropped between two pages moves nothing else, so every
//! snapshot kept from the first page to the last is listed exactly once
//! (one added or dropped meanwhile may or may not be). Nothing is held
//! between pages.
//!
//! Cost: a page without a tag walks the target order from the cursor (or
//! the prefix) for the rows it returns, plus the rest of the last target's
//! vary variants; a page with a tag looks at every snapshot of that tag
//! once, keeping the `limit` first in a heap. Either way under one hold of
//! the read lock, as `keys_with_tag` does.

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::key::Key;

use super::entry::IndexEntry;
use super::index::Index;
use super::snapshot::{self, EntryKind, FIXED_LEN};
use super::{layout, read_lock, time, Encoding, EntryInfo, Store};

/// Rows in a page when the caller names no limit.
pub const DEFAULT_LIMIT: usize = 100;
/// Most rows in one page.
pub const MAX_LIMIT: usize = 1000;
/// Longest target a cursor carries. A longer one is cut (the cursor must
/// fit in a request target); the next page then finds the full target by
/// the key, or, if that snapshot went meanwhile, starts from the cut
/// target, which may list a row again but never skips one.
const CURSOR_TARGET: usize = 1024;

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Canonical path prefix (as for invalidation: the path only).
    pub prefix: Option<String>,
    pub tag: Option<String>,
    /// Start strictly after this row.
    pub after: Option<Cursor>,
    /// At most this many rows (1 to [`MAX_LIMIT`]).
    pub limit: usize,
}

/// Where a page ended: the target and key of its last row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: Key,
    /// The target, cut to `CURSOR_TARGET` bytes.
    pub target: String,
}

impl Cursor {
    /// The cursor after `row`.
    pub fn after(row: &EntryInfo) -> Cursor {
        let mut end = row.target.len().min(CURSOR_TARGET);
        while !row.target.is_char_boundary(end) {
            end -= 1;
        }
        Cursor {
            key: row.key,
            target: row.target[..end].to_string(),
        }
    }

    /// Its text: the key's 64 hex digits, then the target.
    pub fn encode(&self) -> String {
        format!("{}{}", self.key.to_hex(), self.target)
    }

    /// The inverse of [`Cursor::encode`]; `None` for anything else.
    pub fn decode(text: &str) -> Option<Cursor> {
        let (hex, target) = (text.get(..64)?, text.get(64..)?);
        if !target.starts_with('/') || target.len() > CURSOR_TARGET {
            return None;
        }
        Some(Cursor {
            key: Key::from_hex(hex)?,
            target: target.to_string(),
        })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<EntryInfo>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// What a listing or an explanation needs from a store: the running
/// daemon's [`Store`], or a read-only look at a cache dir no daemon holds
/// ([`super::Survey`]).
pub trait Catalog {
    /// One page of the snapshots `query` names.
    fn page(&self, query: &ListQuery) -> Page;
    /// The snapshot of `key`, as the index knows it.
    fn info(&self, key: &Key) -> Option<EntryInfo>;
    /// How many snapshots are kept for `target` (one per vary value).
    fn count_of_target(&self, target: &str) -> usize;
    /// The encodings kept beside the identity body of `key`, read from its
    /// file's header (`None` when it cannot be read). Blocks on the disk.
    fn encodings(&self, key: &Key) -> Option<Vec<Encoding>>;
}

impl Catalog for Store {
    fn page(&self, query: &ListQuery) -> Page {
        read_lock(&self.shared.index).page(query)
    }

    fn info(&self, key: &Key) -> Option<EntryInfo> {
        read_lock(&self.shared.index).info(key)
    }

    fn count_of_target(&self, target: &str) -> usize {
        self.keys_of_targets(&[target.to_string()], |_| true).len()
    }

    fn encodings(&self, key: &Key) -> Option<Vec<Encoding>> {
        read_encodings(&self.shared.dir, key)
    }
}

impl Index {
    /// The page `query` names (see the module doc).
    pub(crate) fn page(&self, query: &ListQuery) -> Page {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        // Where the last page ended: the full target when the snapshot is
        // still there (the cursor's may be cut), else the cursor's.
        let resume: Option<(&str, Key)> = query.after.as_ref().map(|c| match self.get(&c.key) {
            Some(e) if e.target.starts_with(c.target.as_str()) => (&*e.target, c.key),
            _ => (c.target.as_str(), c.key),
        });
        let after = |e: &IndexEntry| resume.is_none_or(|(t, k)| (&*e.target, e.key) > (t, k));
        let prefix = query.prefix.as_deref().unwrap_or("");
        let in_prefix = |e: &IndexEntry| path(&e.target).starts_with(prefix);
        let mut rows: Vec<(&str, Key, u32)> = Vec::new();
        match query.tag.as_deref() {
            Some(tag) => {
                // The `limit + 1` first, in a max-heap: the extra one says
                // whether there is a next page.
                let mut heap = BinaryHeap::with_capacity(limit + 2);
                for (slot, e) in self.tagged(tag) {
                    if in_prefix(e) && after(e) {
                        heap.push((&*e.target, e.key, slot));
                        if heap.len() > limit + 1 {
                            heap.pop();
                        }
                    }
                }
                rows = heap.into_vec();
            }
            None => {
                let start = match resume {
                    Some((t, _)) if t > prefix => t,
                    _ => prefix,
                };
                for (slot, e) in self.ordered_from(move |t, _| t < start) {
                    if !e.target.starts_with(prefix) {
                        break;
                    }
                    // Past the extra row, and its target's variants all in.
                    if rows.len() > limit && rows.last().is_some_and(|r| r.0 != &*e.target) {
                        break;
                    }
                    if in_prefix(e) && after(e) {
                        rows.push((&*e.target, e.key, slot));
                    }
                }
            }
        }
        rows.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let more = rows.len() > limit;
        rows.truncate(limit);
        let rows: Vec<EntryInfo> = rows
            .iter()
            .filter_map(|&(_, key, _)| self.info(&key))
            .collect();
        let next = if more {
            rows.last().map(Cursor::after)
        } else {
            None
        };
        Page { rows, next }
    }

    /// The snapshot of `key`, copied out.
    pub(crate) fn info(&self, key: &Key) -> Option<EntryInfo> {
        let (slot, e) = self.get_slot(key)?;
        Some(EntryInfo {
            key: e.key,
            target: e.target.to_string(),
            size: e.size(),
            taken: time(e.taken_ms()),
            expires: e.expires_ms().map(time),
            tags: self
                .tag_names(slot, e)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            stale_since: e.stale_since_ms().map(time),
        })
    }

    /// How many entries have exactly `target`.
    pub(crate) fn count_of_target(&self, target: &str) -> usize {
        self.ordered_from(move |t, _| t < target)
            .take_while(|(_, e)| &*e.target == target)
            .count()
    }
}

/// A target's path: what a prefix is compared with.
fn path(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// The encodings in the variant table of `key`'s file, beside identity.
/// Reads the header only; `None` when the file is gone, is not the
/// snapshot of `key`, or does not decode.
pub(crate) fn read_encodings(dir: &Path, key: &Key) -> Option<Vec<Encoding>> {
    let mut file = File::open(layout::snapshot_path(dir, key)).ok()?;
    let mut fixed = [0u8; FIXED_LEN];
    file.read_exact(&mut fixed).ok()?;
    let len = snapshot::header_len(&fixed).ok()?;
    let mut header = fixed.to_vec();
    header.resize(len.max(FIXED_LEN), 0);
    file.read_exact(&mut header[FIXED_LEN..]).ok()?;
    let summary = snapshot::decode_summary(&header).ok()?;
    if summary.key != *key {
        return None;
    }
    Some(
        summary
            .entries
            .iter()
            .filter_map(|e| match e.kind {
                EntryKind::Gzip => Some(Encoding::Gzip),
                EntryKind::Br => Some(Encoding::Brotli),
                EntryKind::Identity => None,
            })
            .collect(),
    )
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
