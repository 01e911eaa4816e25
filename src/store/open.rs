//! Opening the store: make sure `cache.dir` is ours and usable, read the
//! persisted generation, rebuild the index from the files' headers, replay
//! the soft marks onto it, start the reaper, and evict down to `max_size`
//! if the limit shrank.
//!
//! Opening never reads a body and never keeps a file it cannot vouch for.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::held::FileBudget;
use super::index::Index;
use super::memory::HotSet;
use super::pending::{Orphan, Pending};
use super::reaper::Reaper;
use super::soft::SoftLog;
use super::space::Space;
use super::{checkpoint, layout, scan, DirLock, Shared, Store, StoreError, StoreSettings, STRIPES};

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
        // read per snapshot. Otherwise (a crash, a first start) the scan.
        let scan = match checkpoint::take(&dir, generation) {
            Some(scan) => scan,
            None => scan::scan(&dir, generation).map_err(dir_error)?,
        };

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
        let current = generation.max(index.max_generation());

        let used = index.bytes();
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            max_size: settings.max_size,
            lock: Mutex::new(lock),
            lost: AtomicBool::new(false),
            marker_seen: AtomicBool::new(marker_seen),
            space: Space::new(settings.max_size, used),
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
        });
        let (unlinker, keeper) = (shared.clone(), shared.clone());
        let reaper = Reaper::spawn(
            move |key, size| unlinker.unlink_quietly(key, size),
            move || keeper.upkeep(),
        )
        .map_err(dir_error)?;
        let store = Store { shared, reaper };
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

/// A store on `dir` for unit tests: 1 GiB, no hot set, no files held.
#[cfg(test)]
pub(crate) fn open_for_tests(dir: &std::path::Path) -> super::Store {
    super::Store::open(super::StoreSettings {
        dir: dir.to_path_buf(),
        max_size: 1 << 30,
        memory: 0,
        open_files: 0,
    })
    .expect("open")
}
