//! Applying a [`Selector`] to the store: record it in the log, resolve it to
//! keys (by tag through the tag index, by target or prefix through one walk
//! of the index), then drop or soften them. Dropping everything is a
//! generation bump: persisted first, files removed in the background;
//! softening everything is one record in the store's soft-mark log. Either
//! way the store has made it durable before this returns.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use crate::key::Key;
use crate::store::{Store, StoreError};

use super::log::Log;
use super::selector::Selector;

/// What an invalidation did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Snapshots dropped or softened.
    pub count: usize,
    /// Targets of the dropped snapshots, when asked for (rewarm).
    pub targets: Vec<String>,
}

/// Drops (or softens) what `selector` names. With `taken_before`, only
/// snapshots taken before that instant (a schedule's catch-up at start).
/// `now` is the daemon's wall clock (a soft mark's time).
pub fn apply(
    store: &Store,
    log: &Log,
    selector: &Selector,
    taken_before: Option<SystemTime>,
    want_targets: bool,
    now: SystemTime,
) -> Result<Applied, StoreError> {
    log.record(Arc::new(selector.clone()));

    if selector.all && taken_before.is_none() {
        if selector.soft {
            // One record for everything, not one per snapshot.
            let count = store.mark_all_stale(now)?;
            return Ok(Applied {
                count,
                targets: Vec::new(),
            });
        }
        let targets = if want_targets {
            all_targets(store)
        } else {
            Vec::new()
        };
        let count = store.len();
        store.drop_all()?;
        return Ok(Applied { count, targets });
    }

    let (keys, targets) = resolve(store, selector, taken_before);
    let count = if selector.soft {
        store.mark_stale(&keys, now)?
    } else {
        store.remove_many(&keys)?
    };
    let targets = if want_targets && !selector.soft {
        targets
    } else {
        Vec::new()
    };
    Ok(Applied { count, targets })
}

/// The keys `selector` names, with their targets.
fn resolve(
    store: &Store,
    selector: &Selector,
    taken_before: Option<SystemTime>,
) -> (Vec<Key>, Vec<String>) {
    let tagged: HashSet<Key> = selector
        .tags
        .iter()
        .flat_map(|t| store.keys_with_tag(t))
        .collect();
    let walk_needed = selector.all
        || !selector.urls.is_empty()
        || !selector.prefixes.is_empty()
        || taken_before.is_some();
    if !walk_needed {
        // Tags alone: in proportion to the tags' sizes, not the cache's.
        let keys: Vec<Key> = tagged.into_iter().collect();
        let targets = store.targets_of(&keys);
        return (keys, targets);
    }
    let mut targets = Vec::new();
    let keys = store.keys_where(|e| {
        let old_enough = taken_before.is_none_or(|t| e.taken < t);
        let named = selector.all
            || tagged.contains(e.key)
            || selector.urls.iter().any(|u| u == e.target)
            || {
                let path = e.target.split('?').next().unwrap_or(e.target);
                selector
                    .prefixes
                    .iter()
                    .any(|p| path.starts_with(p.as_str()))
            };
        let hit = old_enough && named;
        if hit {
            targets.push(e.target.to_string());
        }
        hit
    });
    (keys, targets)
}

fn all_targets(store: &Store) -> Vec<String> {
    let mut targets = Vec::new();
    store.keys_where(|e| {
        targets.push(e.target.to_string());
        false
    });
    targets
}
