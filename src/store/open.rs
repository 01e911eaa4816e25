//! Opening the store: make sure `cache.dir` is ours and usable, read the
//! persisted generation, build the index from a clean shutdown's checkpoint
//! (or, after a crash, start rebuilding it from the files' headers in the
//! background: `rebuild`), replay the soft marks onto it, start the reaper,
//! and evict down to `max_size` if the limit shrank.
//!
//! Opening never reads a body and never keeps a file it cannot vouch for.
//!
//! The generation and size ceilings a start after a crash needs are kept
//! by `ceilings`.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::ceilings::{self, Ceilings, GENERATION_MARGIN};
use super::filter::{Rebuild, RuleLog};
use super::held::FileBudget;
use super::index::Index;
use super::memory::HotSet;
use super::pending::{Orphan, Pending};
use super::reaper::Reaper;
use super::rebuild::SCAN_TICKS;
use super::soft::SoftLog;
use super::space::Space;
use super::write::TEMP_PREFIX;
use super::{checkpoint, layout, DirLock, Shared, Store, StoreError, StoreSettings, STRIPES};

impl Store {
    /// Opens (creating if needed) the store in `settings.dir` and rebuilds
    /// the index from the files' headers.
    pub fn open(settings: StoreSettings) -> Result<Store, StoreError> {
        let started = Instant::now();
        let dir = settings.dir;
        let dir_error = |source| StoreError::Dir {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(dir_error)?;
        // Before anything in the dir is read: another daemon's index of it
        // would not see this one's drops.
        let lock = DirLock::take(&dir)?;
        layout::check_format(&dir).map_err(dir_error)?;
        let marker_seen = dir.join(layout::FORMAT_FILE).exists();
        let generation = layout::read_generation(&dir).map_err(dir_error)?;
        // A clean shutdown left a checkpoint: one read instead of a header
        // read per snapshot. Otherwise (a crash, a first start) the index is
        // rebuilt in the background; so too when a crash during an earlier
        // rebuild left its invalidations, which the files must pass.
        let (rules_log, rules) = RuleLog::open(&dir, generation);
        let mut scan = checkpoint::take(&dir, generation).unwrap_or_default();
        let rebuilding = (scan.parts.is_empty() && needs_scan(&dir)) || !rules.is_empty();
        if rebuilding {
            scan.parts.clear();
        }

        // No recency survives a restart: the oldest taken go first. Each
        // part is sorted newest first, then the parts are merged by popping
        // the oldest of their last elements (no second copy of everything).
        let mut parts = scan.parts;
        let total = parts.iter().map(|p| p.entries.len()).sum();
        for part in &mut parts {
            part.entries
                .sort_unstable_by_key(|l| Reverse(l.entry.taken_ms));
        }
        let mut index = Index::with_capacity(total);
        let mut clock = 1;
        while let Some((_, i)) = parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.entries.last().map(|l| (l.entry.taken_ms, i)))
            .min()
        {
            let part = &mut parts[i];
            let Some(loaded) = part.entries.pop() else {
                break;
            };
            let tags = part.tags(&loaded);
            index.insert(loaded.entry, tags, clock);
            clock += 1;
        }
        drop(parts);
        index.compact_order();
        // New snapshots are of a generation no snapshot on disk is above
        // (soft marks tell snapshots apart by it; see `soft`).
        let mut current = generation.max(index.max_generation());
        let (generation_ceiling, size_bound) = ceilings::read(&dir);
        // What the files not read yet may add up to (see `space`).
        let unscanned = size_bound.unwrap_or(u64::MAX).min(settings.max_size);
        if rebuilding {
            let known = rules.iter().map(|r| r.epoch()).fold(current, u64::max);
            current = match generation_ceiling {
                Some(ceiling) => known.max(ceiling),
                // Files of a build that kept no ceiling: a margin above.
                None => known + GENERATION_MARGIN,
            };
            index.rebuild = Some(Box::new(Rebuild {
                rules,
                ..Rebuild::default()
            }));
            clock = SCAN_TICKS;
        }

        let used = index.bytes();
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            max_size: settings.max_size,
            lock: Mutex::new(lock),
            lost: AtomicBool::new(false),
            marker_seen: AtomicBool::new(marker_seen),
            space: match rebuilding {
                true => Space::unscanned(settings.max_size, unscanned),
                false => Space::new(settings.max_size, used),
            },
            pending: Mutex::new(Pending::default()),
            unsettled: AtomicBool::new(false),
            index: RwLock::new(index),
            hot: HotSet::new(settings.memory),
            files: FileBudget::new(settings.open_files),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            clock: AtomicU64::new(clock),
            generation: AtomicU64::new(current),
            min_generation: AtomicU64::new(generation),
            bump: Mutex::new(()),
            bulk: Mutex::new(()),
            soft: Mutex::new(SoftLog::default()),
            fanout_ready: (0..256).map(|_| AtomicBool::new(false)).collect(),
            evictions: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            rebuilding: AtomicBool::new(rebuilding),
            scanned: AtomicU64::new(0),
            scan_clock: AtomicU64::new(1),
            rules: Mutex::new(rules_log),
            ceilings: Mutex::new(Ceilings {
                generation: 0,
                bytes: if rebuilding { unscanned } else { 0 },
            }),
        });
        let (unlinker, keeper) = (shared.clone(), shared.clone());
        let reaper = Reaper::spawn(
            move |key, size| unlinker.unlink_quietly(key, size),
            move || keeper.upkeep(),
        )
        .map_err(dir_error)?;
        let store = Store {
            shared,
            reaper,
            rebuild: Mutex::new(None),
        };
        // Refused drops of the last run, before anything is served.
        if !scan.dropped.is_empty() {
            let dropped = scan
                .dropped
                .iter()
                .map(|k| (*k, Orphan::dropped(0, u64::MAX)));
            let unlinked = store.shared.unlink_dropped(dropped);
            tracing::info!(
                removed = unlinked.removed,
                "files of drops refused before the last shutdown removed"
            );
        }
        // Before the store is handed out: no lookup may see a snapshot as
        // fresh whose soft mark is on disk.
        store.restore_soft_marks();
        if !rebuilding {
            store.shared.reset_bound();
        }
        {
            let _bump = super::lock(&store.shared.bump);
            store.shared.keep_below_ceiling(store.generation());
        }
        if rebuilding {
            store.start_rebuild(generation).map_err(dir_error)?;
            tracing::info!(
                dir = %dir.display(),
                "no index checkpoint (the daemon did not stop cleanly): serving while the index is rebuilt from the files"
            );
            return Ok(store);
        }
        // Over the limit (it shrank): the victims leave the index now and
        // their files in the background, so start-up does not wait for
        // thousands of unlinks. Should the daemon stop first, the next start
        // finds them again and evicts them again.
        let over = store.bytes().saturating_sub(settings.max_size);
        let victims = store.pick_victims(over);
        let evicted = victims.len();
        store.reaper.unlink(victims.into_iter());
        // The daemon's start line says the count; this is the detail.
        tracing::debug!(
            dir = %dir.display(),
            snapshots = store.len(),
            bytes = store.bytes(),
            generation,
            removed = scan.removed,
            evicted,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "snapshot store opened"
        );
        Ok(store)
    }
}

/// Whether `dir` holds anything a scan would read or clean: a fan-out
/// directory or a temp file (a first start, an emptied dir, hold none).
fn needs_scan(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|items| {
        items.flatten().any(|i| {
            let name = i.file_name();
            let name = name.to_string_lossy();
            layout::is_fanout_name(&name) || name.starts_with(TEMP_PREFIX)
        })
    })
}

#[cfg(test)]
impl Store {
    /// `open`, and the rebuild after a crash (if one is needed) waited for:
    /// unit tests see a whole index at once.
    pub(crate) fn open_whole(settings: StoreSettings) -> Result<Store, StoreError> {
        let store = Store::open(settings)?;
        store.wait_rebuilt();
        Ok(store)
    }
}

/// A store on `dir` for unit tests: 1 GiB, no hot set, no files held.
#[cfg(test)]
pub(crate) fn open_for_tests(dir: &std::path::Path) -> super::Store {
    super::Store::open_whole(super::StoreSettings {
        dir: dir.to_path_buf(),
        max_size: 1 << 30,
        memory: 0,
        open_files: 0,
    })
    .expect("open")
}
