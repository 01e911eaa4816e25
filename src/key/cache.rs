//! A bounded cache from a raw preload target, with the visitor's values
//! of its route's `vary` headers, to its resolved [`Target`]: a HIT on a
//! target seen before neither canonicalizes it nor hashes it again
//! (measured: docs/benchmarks.md, "Hits, second round").
//!
//! What the key depends on besides the request (the query rules, the
//! routes and their `vary` lists) is all in the config, and a reload
//! swaps the config whole: so an entry is used only under the very
//! config it was resolved under. It holds a `Weak` of that config, which
//! keeps the allocation (not the config) alive, so a later config can
//! never sit at the same address while the entry exists. The values of
//! the route's `vary` headers are compared on every use, field lines
//! joined as the key joins them.
//!
//! Bounded by construction: a fixed array of [`SLOTS`] slots, each behind
//! its own lock, a target going to one slot by a randomly seeded hash; a
//! newer target takes the slot. Errors are not cached, nor targets longer
//! than [`MAX_CACHED`] bytes.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{resolve, Key, Target, TargetError};
use crate::config::Config;
use crate::headers::joined_value;

/// Slots of the cache (a power of two).
pub const SLOTS: usize = 4096;
/// Longest raw target cached.
pub const MAX_CACHED: usize = 512;

pub struct KeyCache {
    slots: Box<[Mutex<Option<Entry>>]>,
    seed: foldhash::fast::RandomState,
}

struct Entry {
    /// The config the target was resolved under.
    config: Weak<Config>,
    raw: Box<str>,
    target: Arc<Target>,
}

impl Default for KeyCache {
    fn default() -> KeyCache {
        KeyCache {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            seed: foldhash::fast::RandomState::default(),
        }
    }
}

impl KeyCache {
    /// [`resolve`] of `raw` under `config` with the request's `headers`,
    /// from the cache when it was resolved before under this config with
    /// the same values of the route's vary headers.
    pub fn resolve(
        &self,
        config: &Arc<Config>,
        headers: &HeaderMap,
        raw: &str,
    ) -> Result<Arc<Target>, TargetError> {
        if raw.len() > MAX_CACHED {
            return resolve(config, headers, raw).map(Arc::new);
        }
        let slot = &self.slots[self.seed.hash_one(raw) as usize & (SLOTS - 1)];
        if let Some(entry) = lock(slot).as_ref() {
            if entry.raw.as_ref() == raw
                && Weak::as_ptr(&entry.config) == Arc::as_ptr(config)
                && same_vary(config, &entry.target, headers)
            {
                return Ok(Arc::clone(&entry.target));
            }
        }
        let target = Arc::new(resolve(config, headers, raw)?);
        *lock(slot) = Some(Entry {
            config: Arc::downgrade(config),
            raw: raw.into(),
            target: Arc::clone(&target),
        });
        Ok(target)
    }

    /// The key of `raw` when it was resolved before under this config
    /// with the same values of the route's vary headers (`joined` gives the
    /// request's value of a field, its lines joined), else `None`: nothing
    /// is resolved here, and the entry is only read (a copy of the key, no
    /// count of its target taken).
    pub fn cached(
        &self,
        config: &Arc<Config>,
        raw: &str,
        joined: impl Fn(&HeaderName) -> Option<HeaderValue>,
    ) -> Option<Key> {
        if raw.len() > MAX_CACHED {
            return None;
        }
        let slot = &self.slots[self.seed.hash_one(raw) as usize & (SLOTS - 1)];
        let slot = lock(slot);
        let entry = slot.as_ref()?;
        (entry.raw.as_ref() == raw
            && Weak::as_ptr(&entry.config) == Arc::as_ptr(config)
            && same_vary_of(config, &entry.target, joined))
        .then_some(entry.target.key)
    }

    /// Targets held now (tests, and what a reader of the code may ask).
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| lock(s).is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// True when `headers` give each vary header of the target's route the
/// value (or the absence) the target was resolved with.
fn same_vary(config: &Config, target: &Target, headers: &HeaderMap) -> bool {
    same_vary_of(config, target, |name| joined_value(headers, name))
}

fn same_vary_of(
    config: &Config,
    target: &Target,
    joined: impl Fn(&HeaderName) -> Option<HeaderValue>,
) -> bool {
    let names = target.route.map_or(&[][..], |i| &config.routes[i].vary[..]);
    let mut kept = target.vary.iter().peekable();
    for name in names {
        let seen = joined(name);
        // `target.vary` lists the present ones, in the route's order.
        let had = kept.next_if(|(n, _)| n == name).map(|(_, v)| v);
        if seen.as_ref() != had {
            return false;
        }
    }
    kept.next().is_none()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
