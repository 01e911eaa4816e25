//! Two bounds kept on disk for the start after a crash, which serves before
//! it has read every file's header (`rebuild`): a generation no snapshot on
//! disk is above, and a size the snapshot files do not add up to. Both live
//! in `cache.dir/.preloadd-ceiling` ("G B"), rewritten atomically.
//!
//! The generation: new snapshots, soft marks and the rebuild's rules must be
//! of a generation above every old file's. Each start persists a ceiling
//! `GENERATION_MARGIN` above the generation it starts at, and a higher one
//! whenever the generation gets within half the margin of it; a start after
//! a crash begins at the ceiling the crashed run left.
//!
//! The size: the files the rebuild has not read are counted as this bound
//! minus what it has read (`space`), not as all of `max_size`, so a cache
//! far from full keeps new pages during the rebuild without evicting old
//! ones. A write's reservation that takes the bytes counted past the bound
//! persists a higher one first (`size_step` above, within `max_size`), so
//! the files never add up to more than the persisted bound; the start and
//! the end of a rebuild lower it to what is there. A bound that cannot be
//! persisted fails the write (its page is passed on): a disk that refuses
//! a small rename refuses the snapshot too.

use std::io;
use std::path::Path;

use super::{layout, lock, write, Shared};

/// How far above the generation a run starts at its ceiling is set.
pub(super) const GENERATION_MARGIN: u64 = 1 << 16;

/// The bounds as persisted (0: none persisted yet).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Ceilings {
    pub generation: u64,
    pub bytes: u64,
}

/// Reads the bounds a run left; `None` for each one missing or unreadable.
pub(super) fn read(root: &Path) -> (Option<u64>, Option<u64>) {
    let Ok(text) = std::fs::read_to_string(root.join(layout::CEILING_FILE)) else {
        return (None, None);
    };
    let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().ok());
    (numbers.next().flatten(), numbers.next().flatten())
}

/// How much above the bytes counted the size bound is set at a time.
fn size_step(max: u64) -> u64 {
    (max / 16).clamp(1 << 20, 1 << 30)
}

impl Shared {
    /// Persists a higher generation ceiling before `next` gets near the one
    /// persisted. Called under `bump`.
    pub(super) fn keep_below_ceiling(&self, next: u64) {
        let mut ceilings = lock(&self.ceilings);
        if next.saturating_add(GENERATION_MARGIN / 2) <= ceilings.generation {
            return;
        }
        let wanted = Ceilings {
            generation: next.saturating_add(GENERATION_MARGIN),
            ..*ceilings
        };
        match self.persist(wanted) {
            Ok(()) => *ceilings = wanted,
            Err(e) => tracing::warn!(error = %e, "cannot persist the generation ceiling"),
        }
    }

    /// True when the bytes counted are within the persisted size bound, so
    /// that [`Shared::keep_within_bound`] would write nothing.
    pub(super) fn within_bound(&self) -> bool {
        self.space.counted() <= lock(&self.ceilings).bytes
    }

    /// After a reservation: the bytes counted are within the persisted
    /// size bound once this returns `Ok`.
    pub(super) fn keep_within_bound(&self) -> io::Result<()> {
        let counted = self.space.counted();
        let mut ceilings = lock(&self.ceilings);
        if counted <= ceilings.bytes {
            return Ok(());
        }
        let wanted = Ceilings {
            bytes: counted
                .saturating_add(size_step(self.max_size))
                .min(self.max_size.max(counted)),
            ..*ceilings
        };
        self.persist(wanted)?;
        *ceilings = wanted;
        Ok(())
    }

    /// Sets the size bound to what is counted now (plus a step): at open
    /// with a whole index, and when a rebuild ends.
    pub(super) fn reset_bound(&self) {
        let counted = self.space.counted();
        let mut ceilings = lock(&self.ceilings);
        let wanted = Ceilings {
            bytes: counted
                .saturating_add(size_step(self.max_size))
                .min(self.max_size.max(counted)),
            ..*ceilings
        };
        if let Err(e) = self.persist(wanted) {
            tracing::warn!(error = %e, "cannot persist the size bound");
            return;
        }
        *ceilings = wanted;
    }

    fn persist(&self, ceilings: Ceilings) -> io::Result<()> {
        let text = format!("{} {}\n", ceilings.generation, ceilings.bytes);
        let path = self.dir.join(layout::CEILING_FILE);
        write::write_atomic(&self.dir, &path, &[text.as_bytes()])
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::sample;
    use super::super::{Store, StoreSettings};
    use super::*;

    #[test]
    fn the_size_bound_stays_above_what_is_on_disk_and_within_max_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let max = 64 << 20;
        let store = Store::open_whole(StoreSettings {
            dir: dir.path().to_path_buf(),
            max_size: max,
            memory: 0,
            open_files: 0,
        })
        .expect("open");
        let bound = |dir: &Path| read(dir).1.expect("a size bound");
        assert!(bound(dir.path()) <= max);
        for n in 0..20 {
            let mut s = sample(n, b"");
            s.body = bytes::Bytes::from(vec![b'x'; 300 << 10]);
            store.put(s).expect("put");
            assert!(bound(dir.path()) >= store.bytes(), "never below the files");
        }
        assert!(store.bytes() > size_step(max), "crossed a step");
        assert!(bound(dir.path()) <= max);
        let (generation, _) = read(dir.path());
        assert!(generation.expect("a generation ceiling") > store.generation());
    }
}
