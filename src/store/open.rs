//! Opening the store: make sure `cache.dir` is ours and usable, read the
//! persisted generation, rebuild the index from the files' headers, start
//! the reaper, and evict down to `max_size` if the limit shrank.
//!
//! Opening never reads a body and never keeps a file it cannot vouch for.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::index::Index;
use super::memory::HotSet;
use super::reaper::Reaper;
use super::{layout, scan, Shared, Store, StoreError, StoreSettings, STRIPES};

impl Store {
    /// Opens (creating if needed) the store in `settings.dir` and rebuilds
    /// the index from the files' headers.
    pub fn open(settings: StoreSettings) -> Result<Store, StoreError> {
        let started = Instant::now();
        let dir = settings.dir;
        let dir_error = |source| StoreError::Dir { dir: dir.clone(), source };
        std::fs::create_dir_all(&dir).map_err(dir_error)?;
        layout::check_format(&dir).map_err(dir_error)?;
        let generation = layout::read_generation(&dir).map_err(dir_error)?;
        let scan = scan::scan(&dir, generation).map_err(dir_error)?;
        eprintln!("TIMING scan {:?}", started.elapsed());

        // No recency survives a restart; the oldest taken go first.
        let mut entries = scan.entries;
        entries.sort_unstable_by_key(|e| e.taken_ms);
        let mut index = Index::with_capacity(entries.len());
        let mut clock = 1;
        for entry in entries {
            index.insert(entry, clock);
            clock += 1;
        }

        eprintln!("TIMING index {:?}", started.elapsed());
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            max_size: settings.max_size,
            index: RwLock::new(index),
            hot: HotSet::new(settings.memory),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            clock: AtomicU64::new(clock),
            generation: AtomicU64::new(generation),
            bump: Mutex::new(()),
            fanout_ready: (0..256).map(|_| AtomicBool::new(false)).collect(),
        });
        let reaper_shared = shared.clone();
        let reaper = Reaper::spawn(move |key| {
            reaper_shared.unlink_if_absent(key);
        })
            .map_err(dir_error)?;
        let store = Store { shared, reaper };
        let evicted = store.evict_to_fit();
        tracing::info!(
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
