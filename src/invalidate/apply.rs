//! Applying a [`Selector`] to the store: record it in the log, resolve it to
//! keys (by tag through the tag index, by url and prefix through the
//! store's target order: each costs in proportion to what it names, never
//! a walk of the whole index), then drop or soften them (the store does
//! that in batches, so lookups never wait long behind a large one). Dropping everything is a
//! generation bump: persisted first, files removed in the background;
//! softening everything is one record in the store's soft-mark log. Either
//! way the store has made it durable before this returns.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use crate::key::Key;
use crate::store::{EntryView, Filter, Store, StoreError};

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

/// Pages answered and still being written that an invalidation names,
/// taken out of their flights: `(key, target)` each. Called with the log
/// held (see [`Log::record_then`]).
pub type BeingWritten<'a> = &'a (dyn Fn() -> Vec<(Key, String)> + Sync);

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
    apply_with(store, log, selector, taken_before, want_targets, now, None)
}

/// [`apply`], where `being_written` gives the pages the selector names
/// that were answered and are still being written (`miss`): those not in
/// the index yet will be refused at the publish gate, and count as dropped
/// too.
pub fn apply_with(
    store: &Store,
    log: &Log,
    selector: &Selector,
    taken_before: Option<SystemTime>,
    want_targets: bool,
    now: SystemTime,
    being_written: Option<BeingWritten<'_>>,
) -> Result<Applied, StoreError> {
    let (_, unwritten) = log.record_then(Arc::new(selector.clone()), || {
        let mut named = being_written.map(|f| f()).unwrap_or_default();
        // An indexed one is dropped (and counted) with the rest below.
        named.retain(|(key, _)| !store.contains(key));
        named
    });
    // While the index is rebuilt after a crash it lists part of the disk:
    // the rest is judged by this rule as it is loaded (`store::Filter`).
    // Before resolving, so that nothing loaded meanwhile passes both. A
    // drop of everything needs none: the generation bump covers every file.
    let ruled = match selector.all && taken_before.is_none() && !selector.soft {
        true => Ok(()),
        false => store.filter_rebuild(&filter_of(selector, taken_before, now)),
    };
    let mut applied = apply_recorded(store, selector, taken_before, want_targets, now)?;
    ruled?;
    applied.count += unwritten.len();
    if want_targets && !selector.soft {
        applied
            .targets
            .extend(unwritten.into_iter().map(|(_, target)| target));
    }
    Ok(applied)
}

/// The rebuild's rule for `selector`.
fn filter_of(selector: &Selector, taken_before: Option<SystemTime>, now: SystemTime) -> Filter {
    Filter {
        all: selector.all,
        tags: selector.tags.clone(),
        targets: selector.urls.clone(),
        prefixes: selector.prefixes.clone(),
        taken_before,
        soft: selector.soft.then_some(now),
    }
}

/// [`apply`] once the log has it.
fn apply_recorded(
    store: &Store,
    selector: &Selector,
    taken_before: Option<SystemTime>,
    want_targets: bool,
    now: SystemTime,
) -> Result<Applied, StoreError> {
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

    let want_targets = want_targets && !selector.soft;
    let (keys, targets) = resolve(store, selector, taken_before, want_targets);
    let count = if selector.soft {
        store.mark_stale(&keys, now)?
    } else {
        store.remove_many(&keys)?
    };
    Ok(Applied { count, targets })
}

/// The keys `selector` names, each once, with their targets if wanted.
fn resolve(
    store: &Store,
    selector: &Selector,
    taken_before: Option<SystemTime>,
    want_targets: bool,
) -> (Vec<Key>, Vec<String>) {
    let mut seen: HashSet<Key> = HashSet::new();
    let mut targets = Vec::new();
    let mut pick = |e: &EntryView<'_>| {
        let hit = taken_before.is_none_or(|t| e.taken < t) && seen.insert(*e.key);
        if hit && want_targets {
            targets.push(e.target.to_string());
        }
        hit
    };
    let keys = if selector.all {
        // Everything taken before an instant (a schedule's catch-up): the
        // one case that must look at every snapshot.
        store.keys_where(pick)
    } else {
        let tagged: Vec<Key> = selector
            .tags
            .iter()
            .flat_map(|t| store.keys_with_tag(t))
            .collect();
        let mut keys = store.filter_keys(&tagged, &mut pick);
        keys.extend(store.keys_of_targets(&selector.urls, &mut pick));
        keys.extend(store.keys_under(&selector.prefixes, &mut pick));
        keys
    };
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
