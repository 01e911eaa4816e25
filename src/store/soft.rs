//! Soft invalidation, kept across restarts: once a soft invalidation is
//! acknowledged, a restart (clean or kill -9) brings its pages back STALE
//! (within `grace`, counted from the original mark) or MISS, never HIT
//! (SPEC §6).
//!
//! What is kept: an append-only log, `cache.dir/.preloadd-soft`
//! (`soft_log`), of marks "snapshots of a generation below E (all of them,
//! or those of these keys) are stale since T". Each soft invalidation
//! raises the store generation to E first, so that every snapshot it marks
//! is below E and every snapshot taken after it (the refetch) is not: the
//! record never needs rewriting when a page is refetched, and it tells the
//! two apart exactly. The generation is in every snapshot's header and in
//! the index checkpoint, so the same replay serves both restart paths. At
//! start the log is replayed onto the rebuilt index, then rewritten.
//!
//! Why this shape, and not a flag in each snapshot's header: rewriting
//! headers costs a file write per page (a soft invalidation of everything
//! over a million snapshots would rewrite a million files), while the log
//! costs one small record for `all` (`Mark::All`, whatever the cache's
//! size) and 32 bytes a key otherwise, with one fsync per invalidation.
//!
//! Order, and why: under the log's lock, the generation is raised, the
//! record appended and fsynced, and only then are the entries marked in
//! memory and the call returns, so the caller's reply follows a durable
//! record. A key already marked in memory (as early or earlier) is not
//! recorded again: an in-memory mark is only ever made after its record is
//! durable, and the lock makes a second caller wait for the first one's
//! fsync. When the record cannot be written (a full disk, a read-only file
//! system), the pages are dropped instead, which needs no space and is as
//! durable: after a restart they are MISS, which the contract allows.
//!
//! Compaction: the log is rewritten (temp file + rename) from the index at
//! every start and whenever it has grown past twice its size at the last
//! rewrite: it then holds the `All` marks that still decide some snapshot,
//! and a key mark for every other snapshot marked stale. A mark whose
//! snapshots were refetched or dropped is gone.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::key::Key;

use super::index::Index;
use super::soft_log::{self, Mark, Tail};
use super::{lock, read_lock, snapshot, write, Shared, Store, StoreError, LOCK_BATCH};

/// The log is rewritten once it has grown past twice its size at the last
/// rewrite plus this much.
const REWRITE_SLACK: u64 = 1 << 20;

/// The soft-mark log as the store holds it (behind `Shared::soft`).
#[derive(Debug, Default)]
pub(crate) struct SoftLog {
    /// The log, open for appending at `len`. `None`: there is none yet, or
    /// it must be rewritten before the next append (a failed append, a
    /// torn tail found at start).
    pub(super) file: Option<File>,
    pub(super) len: u64,
    /// Its size right after the last rewrite.
    pub(super) base: u64,
    /// The `All` marks it holds (few: pruned at each rewrite).
    pub(super) alls: Vec<AllMark>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct AllMark {
    pub(super) epoch: u64,
    pub(super) since_ms: u64,
}

impl Store {
    /// Soft invalidation: marks these snapshots stale since `when` (an
    /// earlier mark is kept); `lookup` reports it. Returns how many exist.
    /// The mark is durable when this returns `Ok` (see the module doc); if
    /// it cannot be made so, the snapshots are dropped instead, and
    /// `NotDurable` says when even that could not be made durable.
    pub fn mark_stale(&self, keys: &[Key], when: SystemTime) -> Result<usize, StoreError> {
        let sh = &*self.shared;
        let since_ms = snapshot::to_ms(when);
        let mut log = lock(&sh.soft);
        let mut count = 0;
        let mut unmarked = Vec::new();
        // In batches, as everything given many keys (`LOCK_BATCH`).
        for batch in keys.chunks(LOCK_BATCH) {
            let index = read_lock(&sh.index);
            for entry in batch.iter().filter_map(|k| index.get(k)) {
                count += 1;
                if entry.stale_since_ms().is_none_or(|s| s > since_ms) {
                    unmarked.push(entry.key);
                }
            }
        }
        if unmarked.is_empty() {
            drop(log);
            return sh.settle(count).map(|()| count);
        }
        let epoch = sh.next_generation();
        let mark = Mark::Keys {
            epoch,
            since_ms,
            keys: unmarked,
        };
        if let Err(e) = sh.record(&mut log, &mark) {
            drop(log);
            tracing::warn!(error = %e, "cannot persist a soft invalidation; dropping its pages instead");
            return self.remove_many(keys).map(|_| count);
        }
        if let Mark::Keys { keys, .. } = &mark {
            for batch in keys.chunks(LOCK_BATCH) {
                let index = read_lock(&sh.index);
                for entry in batch.iter().filter_map(|k| index.get(k)) {
                    if entry.generation < epoch {
                        entry.mark_stale(since_ms);
                    }
                }
            }
        }
        sh.rewrite_if_grown(&mut log);
        drop(log);
        sh.settle(count).map(|()| count)
    }

    /// Soft invalidation of everything: one record, whatever the number of
    /// snapshots. Returns how many there are. As `mark_stale`, durable when
    /// this returns, else everything is dropped instead.
    pub fn mark_all_stale(&self, when: SystemTime) -> Result<usize, StoreError> {
        let sh = &*self.shared;
        let since_ms = snapshot::to_ms(when);
        let mut log = lock(&sh.soft);
        let epoch = sh.next_generation();
        if let Err(e) = sh.record(&mut log, &Mark::All { epoch, since_ms }) {
            drop(log);
            tracing::warn!(error = %e, "cannot persist a soft invalidation; dropping every snapshot instead");
            let count = self.len();
            self.drop_all()?;
            return Ok(count);
        }
        log.alls.push(AllMark { epoch, since_ms });
        if let Some(rebuild) = &mut super::write_lock(&sh.index).rebuild {
            rebuild.soft_alls.push((epoch, since_ms));
        }
        let count = {
            let index = read_lock(&sh.index);
            for entry in index.iter().filter(|e| e.generation < epoch) {
                entry.mark_stale(since_ms);
            }
            index.len()
        };
        sh.rewrite_if_grown(&mut log);
        drop(log);
        sh.settle(count).map(|()| count)
    }

    /// At open, once the index is rebuilt: replays the log onto it, raises
    /// the generation above every mark's, and rewrites the log. A log that
    /// cannot be read, or is damaged in a way a crash does not explain, may
    /// have lost acknowledged marks: every snapshot is then marked stale.
    pub(super) fn restore_soft_marks(&self) {
        let sh = &*self.shared;
        let mut log = lock(&sh.soft);
        let decoded = match std::fs::read(sh.dir.join(soft_log::FILE)) {
            Ok(buf) => soft_log::decode(&buf),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if sh.rebuilding.load(Ordering::Acquire) {
                    // Appended to during the rebuild, which cannot rewrite.
                    if let Err(e) = log.rewrite_verbatim(&sh.dir, &[]) {
                        tracing::warn!(error = %e, "cannot write the soft-mark log");
                    }
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the soft-mark log");
                soft_log::Decoded {
                    marks: Vec::new(),
                    tail: Tail::Corrupt,
                }
            }
        };
        let mut marks = decoded.marks;
        let top = marks.iter().map(Mark::epoch).max().unwrap_or(0);
        sh.generation.fetch_max(top, Ordering::AcqRel);
        match decoded.tail {
            Tail::Clean => {}
            Tail::Torn => tracing::info!(
                "the soft-mark log ends in a record cut short by a crash; it was never acknowledged"
            ),
            Tail::Corrupt => {
                tracing::warn!(
                    "the soft-mark log is damaged; every snapshot is marked stale, as a soft invalidation may be lost"
                );
                marks.push(Mark::All {
                    epoch: sh.next_generation(),
                    since_ms: snapshot::to_ms(SystemTime::now()),
                });
            }
        }
        if sh.rebuilding.load(Ordering::Acquire) {
            // Files not indexed yet get the marks as they are loaded.
            sh.keep_marks_for_rebuild(&marks);
            if let Err(e) = log.rewrite_verbatim(&sh.dir, &marks) {
                tracing::warn!(error = %e, "cannot rewrite the soft-mark log; soft invalidations drop their pages until the rebuild ends");
            }
            return;
        }
        log.alls = replay(&read_lock(&sh.index), marks);
        if let Err(e) = sh.rewrite(&mut log) {
            tracing::warn!(error = %e, "cannot rewrite the soft-mark log; retried at the next soft invalidation");
        }
    }
}

/// Marks the entries of `index` stale as `marks` say; returns the `All`
/// marks, by epoch.
pub(super) fn replay(index: &Index, marks: Vec<Mark>) -> Vec<AllMark> {
    let mut alls = Vec::new();
    for mark in marks {
        match mark {
            Mark::All { epoch, since_ms } => alls.push(AllMark { epoch, since_ms }),
            Mark::Keys {
                epoch,
                since_ms,
                keys,
            } => {
                for entry in keys.iter().filter_map(|k| index.get(k)) {
                    if entry.generation < epoch {
                        entry.mark_stale(since_ms);
                    }
                }
            }
        }
    }
    let stairs = Stairs::new(alls);
    for entry in index.iter() {
        if let Some(i) = stairs.decides(entry.generation) {
            entry.mark_stale(stairs.marks[i].since_ms);
        }
    }
    stairs.marks
}

impl Shared {
    /// Appends `mark` to the log and fsyncs it (rewriting the log first if
    /// it must be).
    fn record(&self, log: &mut SoftLog, mark: &Mark) -> io::Result<()> {
        if log.file.is_none() && self.rebuilding.load(Ordering::Acquire) {
            // A rewrite needs the whole index: the mark is not recorded,
            // and its pages are dropped instead.
            return Err(io::Error::other("the soft-mark log waits for the rebuild"));
        }
        if log.file.is_none() {
            self.rewrite(log)?;
        }
        let Some(file) = &log.file else {
            return Err(io::Error::other("the soft-mark log is not open"));
        };
        let mut buf = Vec::new();
        soft_log::encode(mark, &mut buf);
        match write::append_at(file, log.len, &buf) {
            Ok(()) => {
                log.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // What part of it reached the file is never acknowledged;
                // the next record starts from a rewritten log.
                log.file = None;
                Err(e)
            }
        }
    }

    fn rewrite_if_grown(&self, log: &mut SoftLog) {
        if self.rebuilding.load(Ordering::Acquire) {
            return;
        }
        if log.len > log.base.saturating_mul(2).saturating_add(REWRITE_SLACK) {
            if let Err(e) = self.rewrite(log) {
                tracing::warn!(error = %e, "cannot compact the soft-mark log; appending on");
                // Not again at every append: when it has doubled again.
                log.base = log.len;
            }
        }
    }

    /// Rewrites the log from the index: the `All` marks that still decide
    /// a snapshot, then a key mark for each other snapshot marked stale.
    /// The old log stays in use unless the new one is in place.
    pub(super) fn rewrite(&self, log: &mut SoftLog) -> io::Result<()> {
        if self.rebuilding.load(Ordering::Acquire) {
            return Err(io::Error::other("not before the index is rebuilt"));
        }
        // The key marks name every snapshot marked so far, all below it.
        let epoch = self.next_generation();
        let stairs = Stairs::new(log.alls.clone());
        let mut used = vec![false; stairs.marks.len()];
        let mut keyed: BTreeMap<u64, Vec<Key>> = BTreeMap::new();
        {
            let index = read_lock(&self.index);
            for entry in index.iter() {
                let all = stairs.decides(entry.generation).map(|i| {
                    used[i] = true;
                    stairs.marks[i].since_ms
                });
                let Some(stale) = entry.stale_since_ms() else {
                    continue;
                };
                // The index keeps whole seconds: the kept `All` mark gives
                // this entry the same mark again, or an earlier one.
                if all.is_none_or(|since| since / 1000 * 1000 > stale) {
                    keyed.entry(stale).or_default().push(entry.key);
                }
            }
        }
        let alls: Vec<AllMark> = stairs
            .marks
            .iter()
            .zip(&used)
            .filter_map(|(m, &used)| used.then_some(*m))
            .collect();
        let mut buf = soft_log::MAGIC.to_vec();
        for a in &alls {
            let mark = Mark::All {
                epoch: a.epoch,
                since_ms: a.since_ms,
            };
            soft_log::encode(&mark, &mut buf);
        }
        for (since_ms, keys) in keyed {
            let mark = Mark::Keys {
                epoch,
                since_ms,
                keys,
            };
            soft_log::encode(&mark, &mut buf);
        }
        let staged = write::stage(&self.dir, &[&buf])?;
        // From the rename on, the name may be the new file's: the old one
        // must not be appended to any more, whatever happens next.
        log.file = None;
        let file = staged.publish(&self.dir.join(soft_log::FILE))?;
        log.file = Some(file);
        log.len = buf.len() as u64;
        log.base = log.len;
        log.alls = alls;
        Ok(())
    }
}

/// The `All` marks by epoch, with, for each, which of it and those after
/// it has the earliest time: a snapshot of generation `g` is stale since
/// the earliest time among the marks of an epoch above `g`.
struct Stairs {
    marks: Vec<AllMark>,
    /// `earliest[i]`: the index of the earliest mark among `marks[i..]`.
    earliest: Vec<usize>,
}

impl Stairs {
    fn new(mut marks: Vec<AllMark>) -> Stairs {
        marks.sort_by_key(|m| m.epoch);
        let mut earliest = vec![0; marks.len()];
        let mut best: Option<usize> = None;
        for i in (0..marks.len()).rev() {
            if best.is_none_or(|b| marks[i].since_ms <= marks[b].since_ms) {
                best = Some(i);
            }
            earliest[i] = best.unwrap_or(i);
        }
        Stairs { marks, earliest }
    }

    /// The mark that decides a snapshot of `generation`, if any covers it.
    fn decides(&self, generation: u64) -> Option<usize> {
        let first_above = self.marks.partition_point(|m| m.epoch <= generation);
        self.earliest.get(first_above).copied()
    }
}

#[cfg(test)]
#[path = "soft_tests.rs"]
mod tests;
