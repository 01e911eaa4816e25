//! What the store shows of its index: a found snapshot, an entry as a
//! filter sees it, an entry for listings, and the calls that read them.

use std::time::SystemTime;

use crate::key::Key;

use super::{read_lock, select, time, Snapshot, Store};
use std::sync::Arc;

/// A snapshot found by `Store::lookup`.
#[derive(Debug, Clone)]
pub struct Found {
    pub snapshot: Arc<Snapshot>,
    /// When it was soft-invalidated, if it was (see `Store::mark_stale`);
    /// whole seconds, rounded down.
    pub stale_since: Option<SystemTime>,
}

/// One index entry, as `Store::keys_where` shows it to a filter. Times come
/// from the index: whole seconds, rounded down (the snapshot itself keeps
/// milliseconds).
#[derive(Debug, Clone, Copy)]
pub struct EntryView<'a> {
    pub key: &'a Key,
    pub target: &'a str,
    /// Size of the file.
    pub size: u64,
    pub taken: SystemTime,
    pub expires: Option<SystemTime>,
    pub generation: u64,
    pub stale_since: Option<SystemTime>,
}

/// One snapshot, for listings (times in whole seconds, as `EntryView`).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryInfo {
    pub key: Key,
    pub target: String,
    pub size: u64,
    pub taken: SystemTime,
    pub expires: Option<SystemTime>,
    pub tags: Vec<String>,
    pub stale_since: Option<SystemTime>,
}

impl Store {
    /// Keys of the snapshots carrying `tag`; costs in proportion to them.
    pub fn keys_with_tag(&self, tag: &str) -> Vec<Key> {
        read_lock(&self.shared.index).keys_with_tag(tag)
    }

    /// Keys of the snapshots `filter` accepts (e.g. expired, or taken
    /// before a schedule fired). Walks every entry under the read lock, so
    /// `filter` must not call back into the store; to resolve urls,
    /// prefixes or tagged keys, `keys_of_targets`, `keys_under` and
    /// `filter_keys` (select.rs) cost in proportion to what they find.
    pub fn keys_where(&self, mut filter: impl FnMut(&EntryView<'_>) -> bool) -> Vec<Key> {
        let index = read_lock(&self.shared.index);
        index
            .iter()
            .filter(|e| filter(&select::view(e)))
            .map(|e| e.key)
            .collect()
    }

    /// Every snapshot, for listings (copied out; unordered).
    pub fn entries(&self) -> Vec<EntryInfo> {
        let index = read_lock(&self.shared.index);
        index
            .iter_tagged()
            .map(|(e, tags)| EntryInfo {
                key: e.key,
                target: e.target.to_string(),
                size: e.size(),
                taken: time(e.taken_ms()),
                expires: e.expires_ms().map(time),
                tags: tags.into_iter().map(str::to_owned).collect(),
                stale_since: e.stale_since_ms().map(time),
            })
            .collect()
    }
}
