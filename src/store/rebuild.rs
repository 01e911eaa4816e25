//! The start after a crash: the store opens at once with an empty index,
//! and the index is rebuilt from the files' headers in the background while
//! the daemon serves (a clean shutdown's checkpoint makes this unneeded).
//!
//! What holds during the rebuild, and how:
//!
//! - A lookup of a key not indexed yet reads that one file (`lazy`), with
//!   the scan's checks (a file that fails them is removed, never served),
//!   and indexes it: old pages are HITs from the first second.
//! - The index stays the authority: every key it decides meanwhile (put,
//!   dropped, evicted, found absent) is *settled*, and no file of a settled
//!   key is loaded, so the scan cannot bring back what a drop or an
//!   eviction removed, even while its unlink is still queued.
//! - An invalidation records a rule first (`filter`), which every file
//!   loaded later must pass: a page it dropped is never served, whether it
//!   was scanned before or after the reply. Rules are kept on disk until a
//!   rebuild has seen every file, so a crash during the rebuild keeps them.
//!   The soft-mark log is replayed onto every file loaded, as at a start.
//! - `max_size`: the store counts as full until the scan ends (`space`), so
//!   a page kept meanwhile evicts snapshots already indexed, and is not kept
//!   when none can make room. Entries loaded by the scan are the least
//!   recently used (their ticks are below every other), oldest taken first
//!   within each fan-out directory.
//! - No checkpoint is written from an incomplete index: a clean shutdown
//!   during the rebuild leaves none, and the next start rebuilds again.
//!
//! - A directory the scan cannot read now (out of descriptors or memory,
//!   an I/O error) fails the pass, not the rebuild: the scan is made again
//!   for the directories not read yet, after a pause that doubles from
//!   250 ms to 30 s, until it has them all (or the store closes).
//!
//! When the scan has seen every file, the soft-mark log is rewritten from
//! the whole index, the rules are removed, the real size is counted, and
//! eviction brings the store within `max_size` if it shrank.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::key::{Key, KeyMap};

use super::filter::{Filter, Rule, Verdict};
use super::scan::{self, Part, Sink};
use super::soft::{AllMark, SoftLog};
use super::soft_log::{self, Mark};
use super::{layout, lock, write, write_lock, Shared, Store, StoreError};

/// Test only: a file whose content is a number N; while it exists, the
/// rebuild reads fan-out directories 0..N (in name order) and waits before
/// the others. Lets tests act in the middle of a rebuild.
pub const GATE_ENV: &str = "PRELOADD_TEST_REBUILD_GATE";

/// Ticks of entries the rebuild indexes are below this; all others above.
pub(super) const SCAN_TICKS: u64 = 1 << 40;

impl Store {
    /// Starts the background rebuild (the store was opened without a
    /// checkpoint, its index empty).
    pub(super) fn start_rebuild(&self, min_generation: u64) -> std::io::Result<()> {
        let shared = self.shared.clone();
        let gate = std::env::var_os(GATE_ENV).map(PathBuf::from);
        let thread = std::thread::Builder::new()
            .name("preloadd-rebuild".into())
            .spawn(move || rebuild(&shared, min_generation, gate))?;
        *lock(&self.rebuild) = Some(thread);
        Ok(())
    }

    /// Whether the index is still being rebuilt after a crash (it then
    /// lists only part of what is on disk).
    pub fn is_rebuilding(&self) -> bool {
        self.shared.rebuilding.load(Ordering::Acquire)
    }

    /// Snapshot files the rebuild has read so far.
    pub fn rebuild_scanned(&self) -> u64 {
        self.shared.scanned.load(Ordering::Relaxed)
    }

    /// Waits until the rebuild is over (at once when there is none).
    pub fn wait_rebuilt(&self) {
        let thread = lock(&self.rebuild).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Before an invalidation resolves what it names: during a rebuild,
    /// records `filter` so that files not scanned yet are judged by it too
    /// (see `filter`). Nothing to do otherwise. The rule holds in memory
    /// whatever happens; `NotDurable` says it could not be written down,
    /// so that a crash before the rebuild ends might forget it.
    pub fn filter_rebuild(&self, filter: &Filter) -> Result<(), StoreError> {
        let sh = &*self.shared;
        if !sh.rebuilding.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut rules = lock(&sh.rules);
        if !sh.rebuilding.load(Ordering::Acquire) {
            return Ok(());
        }
        let rule = Rule::new(filter, sh.next_generation());
        let written = rules.append(&sh.dir, &rule);
        if let Some(rebuild) = &mut write_lock(&sh.index).rebuild {
            rebuild.rules.push(rule);
        }
        drop(rules);
        written.map_err(|e| StoreError::NotDurable {
            count: 0,
            reason: e.to_string(),
        })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // A rebuild still running stops between two directories.
        self.shared.closed.store(true, Ordering::Release);
        self.wait_rebuilt();
    }
}

struct Rebuilder<'a> {
    sh: &'a Shared,
    gate: Option<PathBuf>,
    /// The fan-out directories read and indexed, by any pass of the scan.
    taken: Mutex<HashSet<PathBuf>>,
}

impl Sink for Rebuilder<'_> {
    fn wanted(&self, dir: &Path) -> bool {
        !lock(&self.taken).contains(dir)
    }

    fn before(&self, n: usize) -> bool {
        loop {
            if self.sh.closed.load(Ordering::Acquire) {
                return false;
            }
            let Some(gate) = &self.gate else {
                return true;
            };
            match std::fs::read_to_string(gate) {
                Ok(text) if text.trim().parse::<usize>().is_ok_and(|open| n >= open) => {}
                _ => return true,
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn take(&self, dir: &Path, part: Part, removed_bytes: u64) {
        self.sh.space.unscanned_gone(removed_bytes);
        self.sh.load_part(part);
        lock(&self.taken).insert(dir.to_path_buf());
    }
}

/// The first pause before the scan is made again after a failed pass; it
/// doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(30);

fn rebuild(sh: &Shared, min_generation: u64, gate: Option<PathBuf>) {
    let started = Instant::now();
    let sink = Rebuilder {
        sh,
        gate,
        taken: Mutex::default(),
    };
    let mut removed = 0;
    let mut pause = RETRY_FIRST;
    loop {
        match scan::scan_each(&sh.dir, min_generation, &sink) {
            Ok(n) => {
                removed += n;
                break;
            }
            Err(_) if sh.closed.load(Ordering::Acquire) => return,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    retry_ms = pause.as_millis() as u64,
                    "the rebuild of the snapshot index could not read part of the cache dir; pages not indexed yet are read from their files meanwhile"
                );
                if !sh.sleep_unless_closed(pause) {
                    return;
                }
                pause = (pause * 2).min(RETRY_MAX);
            }
        }
    }
    sh.rebuilt();
    tracing::info!(
        snapshots = super::read_lock(&sh.index).len(),
        removed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "snapshot index rebuilt after a crash"
    );
}

impl Shared {
    /// Sleeps for `pause`, waking early when the store closes: false then.
    fn sleep_unless_closed(&self, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        while !self.closed.load(Ordering::Acquire) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        false
    }

    /// Indexes what the rebuild read in one fan-out directory, as the
    /// index's rules say (see `filter`), in short holds of its lock.
    fn load_part(&self, mut part: Part) {
        part.entries.sort_unstable_by_key(|l| l.entry.taken_ms);
        let mut below = Vec::new();
        let mut dropped = Vec::new();
        let mut kept = 0;
        self.in_batches(&part.entries, |index, loaded| {
            let entry = &loaded.entry;
            if entry.generation < self.min_generation.load(Ordering::Acquire) {
                below.push((entry.key, entry.size));
                return;
            }
            let tags: Vec<&str> = part.tags(loaded).collect();
            match index.verdict(entry, &tags) {
                Verdict::Skip => {}
                Verdict::Drop => dropped.push((entry.key, entry.size)),
                Verdict::Keep(stale) => {
                    let serial = self.scan_clock.fetch_add(1, Ordering::Relaxed);
                    index.insert(entry.clone(), tags, serial);
                    if let (Some(ms), Some(e)) = (stale, index.get(&entry.key)) {
                        e.mark_stale(ms);
                    }
                    self.space.scanned(entry.size);
                    kept += 1;
                }
            }
        });
        self.scanned
            .fetch_add(part.entries.len() as u64, Ordering::Relaxed);
        for (key, size) in below {
            // A drop of everything since the start covers it already.
            let _ = std::fs::remove_file(layout::snapshot_path(&self.dir, &key));
            self.space.unscanned_gone(size);
        }
        for (key, size) in dropped {
            self.drop_loaded(&key, size);
        }
        tracing::trace!(kept, "rebuild: a fan-out directory indexed");
    }

    /// Unlinks the file of a snapshot an invalidation of the rebuild
    /// dropped before it was loaded (unless the index took the key since).
    pub(super) fn drop_loaded(&self, key: &Key, size: u64) {
        match self.unlink_if_absent(key) {
            Ok(true) => {
                self.space.unscanned_gone(size);
                if let Some(rebuild) = &mut write_lock(&self.index).rebuild {
                    rebuild.unlinked.insert(layout::fanout_index(key));
                }
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot remove a dropped snapshot's file; the next start drops it again")
            }
        }
    }

    /// At open: the soft-mark log's marks, for the files loaded later.
    pub(super) fn keep_marks_for_rebuild(&self, marks: &[Mark]) {
        let mut keyed: KeyMap<Vec<(u64, u64)>> = KeyMap::default();
        let mut alls = Vec::new();
        for mark in marks {
            match mark {
                Mark::All { epoch, since_ms } => alls.push((*epoch, *since_ms)),
                Mark::Keys {
                    epoch,
                    since_ms,
                    keys,
                } => {
                    for key in keys {
                        keyed.entry(*key).or_default().push((*epoch, *since_ms));
                    }
                }
            }
        }
        if let Some(rebuild) = &mut write_lock(&self.index).rebuild {
            rebuild.soft_keys = keyed;
            rebuild.soft_alls = alls;
        }
    }

    /// The scan has seen every file: the index is whole.
    fn rebuilt(&self) {
        let mut rules = lock(&self.rules);
        let mut soft = lock(&self.soft);
        let state = {
            let mut index = write_lock(&self.index);
            self.rebuilding.store(false, Ordering::Release);
            index.rebuild.take()
        };
        let Some(state) = state else {
            return;
        };
        // The stale marks of every file loaded are in the index now.
        soft.adopt_alls(&state.soft_alls);
        let logged = soft.len > soft_log::MAGIC.len() as u64
            || !soft.alls.is_empty()
            || state.rules.iter().any(Rule::is_soft);
        let rewritten = if logged {
            self.rewrite(&mut soft)
        } else {
            Ok(())
        };
        drop(soft);
        // The rules are spent once the soft marks they made are in the log
        // and the files they dropped are gone for good.
        let spent = rewritten.and_then(|()| {
            state
                .unlinked
                .iter()
                .try_for_each(|&i| write::sync_dir(&layout::fanout_dir_of(&self.dir, i)))
        });
        if let Err(e) = spent.and_then(|()| rules.remove(&self.dir)) {
            tracing::warn!(error = %e, "cannot settle the rebuild's invalidations; the next start applies them again");
        }
        drop(rules);
        self.space.all_scanned();
        let over = self.space.counted().saturating_sub(self.max_size);
        for (key, size) in self.pick_victims(over) {
            self.hot.remove(&key);
            self.unlink_quietly(&key, size);
        }
        self.reset_bound();
    }
}

impl SoftLog {
    /// During a rebuild: the log rewritten as `marks` (what it held), so
    /// that appends follow good records; its `All` marks are kept.
    pub(super) fn rewrite_verbatim(
        &mut self,
        dir: &std::path::Path,
        marks: &[Mark],
    ) -> std::io::Result<()> {
        let mut buf = soft_log::MAGIC.to_vec();
        for mark in marks {
            soft_log::encode(mark, &mut buf);
            if let Mark::All { epoch, since_ms } = *mark {
                self.alls.push(AllMark { epoch, since_ms });
            }
        }
        let staged = write::stage(dir, &[&buf])?;
        self.file = None;
        self.file = Some(staged.publish(&dir.join(soft_log::FILE))?);
        self.len = buf.len() as u64;
        self.base = self.len;
        Ok(())
    }

    /// At the end of a rebuild: the `All` marks it held.
    pub(super) fn adopt_alls(&mut self, alls: &[(u64, u64)]) {
        for &(epoch, since_ms) in alls {
            if !self.alls.iter().any(|a| a.epoch == epoch) {
                self.alls.push(AllMark { epoch, since_ms });
            }
        }
    }
}
