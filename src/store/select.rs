//! Finding what an invalidation names: exact targets and path prefixes
//! through the target order (a url is a binary search, a prefix a range
//! scan), and given keys filtered, never a walk of the whole index per name.
//!
//! Why in batches: a lookup (a HIT) takes the index read lock, and a writer
//! waiting for the lock (a put, a removal) makes new readers wait behind it.
//! So no call here holds the read lock for more than `BATCH` steps or
//! `HOLD`, however many urls it is given or pages a prefix covers; between
//! batches it lets go and picks up where it stopped, by value (the last
//! target and slot seen), so entries added or removed meanwhile cannot
//! make it skip one that stayed. What was added meanwhile may or may not be seen: it was
//! taken after the invalidation was recorded (see `invalidate::log`).

use std::sync::RwLock;
use std::time::Instant;

use crate::key::Key;

use super::batch::HOLD;
use super::entry::IndexEntry;
use super::index::Index;
use super::{read_lock, time, EntryView, Store, LOCK_BATCH};

/// Steps (a search, an entry looked at) per hold of the read lock.
const BATCH: usize = 2 * LOCK_BATCH;

/// One name to resolve.
#[derive(Clone, Copy)]
enum Range<'a> {
    /// Exactly this target: all of its vary variants.
    Target(&'a str),
    /// Targets whose path starts with this (never matched into the query).
    Prefix(&'a str),
}

impl Range<'_> {
    /// Where the range starts in target order.
    fn start(&self) -> &str {
        match *self {
            Range::Target(t) | Range::Prefix(t) => t,
        }
    }

    /// Whether a target at or after the start is still inside the range.
    /// Every target whose path starts with a prefix also starts with it as
    /// a whole, so the range is contiguous and `matches` picks from it.
    fn holds(&self, target: &str) -> bool {
        match *self {
            Range::Target(t) => target == t,
            Range::Prefix(p) => target.starts_with(p),
        }
    }

    fn matches(&self, target: &str) -> bool {
        match *self {
            Range::Target(t) => target == t,
            Range::Prefix(p) => {
                let path = target.split_once('?').map_or(target, |(path, _)| path);
                path.starts_with(p)
            }
        }
    }
}

impl Store {
    /// Keys of the snapshots whose canonical target is one of `targets`
    /// (every vary variant of it) that `filter` accepts. As `keys_where`,
    /// `filter` runs under the read lock and must not call the store.
    pub fn keys_of_targets(
        &self,
        targets: &[String],
        filter: impl FnMut(&EntryView<'_>) -> bool,
    ) -> Vec<Key> {
        resolve(
            &self.shared.index,
            targets.iter().map(|t| Range::Target(t)),
            filter,
        )
    }

    /// Keys of the snapshots whose target path starts with one of
    /// `prefixes` (compared with the path only, never the query) that
    /// `filter` accepts (see `keys_of_targets`).
    pub fn keys_under(
        &self,
        prefixes: &[String],
        filter: impl FnMut(&EntryView<'_>) -> bool,
    ) -> Vec<Key> {
        resolve(
            &self.shared.index,
            prefixes.iter().map(|p| Range::Prefix(p)),
            filter,
        )
    }

    /// Those of `keys` still indexed that `filter` accepts (see
    /// `keys_of_targets`).
    pub fn filter_keys(
        &self,
        keys: &[Key],
        mut filter: impl FnMut(&EntryView<'_>) -> bool,
    ) -> Vec<Key> {
        let mut kept = Vec::new();
        for batch in keys.chunks(LOCK_BATCH) {
            let index = read_lock(&self.shared.index);
            kept.extend(
                batch
                    .iter()
                    .filter_map(|k| index.get(k))
                    .filter(|e| filter(&view(e)))
                    .map(|e| e.key),
            );
        }
        kept
    }
}

/// The keys of the entries in `ranges` that `filter` accepts, in holds of
/// the read lock of at most `BATCH` steps or `HOLD` (see the module doc).
fn resolve<'a>(
    lock: &RwLock<Index>,
    mut ranges: impl Iterator<Item = Range<'a>>,
    mut filter: impl FnMut(&EntryView<'_>) -> bool,
) -> Vec<Key> {
    let mut keys = Vec::new();
    // A range cut short by the end of a batch, and where it stopped.
    let mut resume: Option<(Range<'a>, Box<str>, u32)> = None;
    loop {
        let index = read_lock(lock);
        let started = Instant::now();
        let mut steps = 0;
        let mut spent = || {
            steps += 1;
            steps >= BATCH || started.elapsed() >= HOLD
        };
        loop {
            let (range, after) = match resume.take() {
                Some((range, target, slot)) => (range, Some((target, slot))),
                None => match ranges.next() {
                    Some(range) => (range, None),
                    None => return keys,
                },
            };
            let mut cut = false;
            for (slot, e) in entries(&index, range, after.as_ref()) {
                if range.matches(&e.target) && filter(&view(e)) {
                    keys.push(e.key);
                }
                if spent() {
                    resume = Some((range, e.target.clone(), slot));
                    cut = true;
                    break;
                }
            }
            // The search itself was a step.
            if cut || spent() {
                break;
            }
        }
    }
}

/// The entries of `range` in target order, from its start or from after
/// `after` (the target and slot where the last batch stopped).
fn entries<'a>(
    index: &'a Index,
    range: Range<'a>,
    after: Option<&'a (Box<str>, u32)>,
) -> impl Iterator<Item = (u32, &'a IndexEntry)> + 'a {
    index
        .ordered_from(move |t, s| match after {
            Some((last, last_slot)) => (t, s) <= (&**last, *last_slot),
            None => t < range.start(),
        })
        .take_while(move |(_, e)| range.holds(&e.target))
}

pub(super) fn view(e: &IndexEntry) -> EntryView<'_> {
    EntryView {
        key: &e.key,
        target: &e.target,
        size: e.size(),
        taken: time(e.taken_ms()),
        expires: e.expires_ms().map(time),
        generation: e.generation,
        stale_since: e.stale_since_ms().map(time),
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
