//! A read-only look at a cache dir no daemon holds (`preloadd ls` and
//! `preloadd explain` with the daemon stopped): the index a start would
//! build, without starting.
//!
//! What "read-only" means here: nothing under the dir is created, written,
//! renamed or removed, and no lock is taken (not even for a moment: a
//! daemon starting then would refuse the dir). So what a start cleans up is
//! left where it is and only left out of the listing: temp leftovers, files
//! that do not decode or are torn, files of a dropped generation, the files
//! of drops the disk refused (listed in the checkpoint). The checkpoint of
//! a clean shutdown is read, not used up; the soft-mark log is replayed in
//! memory. Reading a file may update its access time, as any reader does;
//! modification times and contents stay as they were.
//!
//! A daemon started while the survey reads sees a dir in the same state.
//! A survey made while a daemon runs (it cannot tell) may see a write
//! half-done: it lists what it could read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::key::Key;

use super::index::Index;
use super::listing::{read_encodings, Catalog, ListQuery, Page};
use super::{checkpoint, layout, scan, soft, Encoding, EntryInfo, StoreError};

/// What a cache dir holds, read without changing it.
#[derive(Debug)]
pub struct Survey {
    dir: PathBuf,
    index: Index,
}

impl Survey {
    /// Reads `dir` (see the module doc); one that does not exist holds
    /// nothing. An error when it is of another format or cannot be read.
    pub fn open(dir: &Path, now: SystemTime) -> Result<Survey, StoreError> {
        let dir_error = |source| StoreError::Dir {
            dir: dir.to_path_buf(),
            source,
        };
        let meta = match std::fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Survey {
                    dir: dir.to_path_buf(),
                    index: Index::default(),
                })
            }
            other => other.map_err(dir_error)?,
        };
        if !meta.is_dir() {
            return Err(dir_error(std::io::Error::other("not a directory")));
        }
        layout::read_format(dir).map_err(dir_error)?;
        let generation = layout::read_generation(dir).map_err(dir_error)?;
        let (scan, dropped) = match checkpoint::peek(dir, generation) {
            Some(scan) => {
                let dropped: HashSet<Key> = scan.dropped.iter().copied().collect();
                (scan, dropped)
            }
            None => (
                scan::scan_read_only(dir, generation).map_err(dir_error)?,
                HashSet::new(),
            ),
        };
        let mut index = Index::default();
        let mut serial = 1;
        for part in &scan.parts {
            for loaded in &part.entries {
                if dropped.contains(&loaded.entry.key) {
                    continue;
                }
                index.insert(loaded.entry.clone(), part.tags(loaded), serial);
                serial += 1;
            }
        }
        index.compact_order();
        replay_read_only(dir, &index, now);
        Ok(Survey {
            dir: dir.to_path_buf(),
            index,
        })
    }

    /// Number of snapshots.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.len() == 0
    }

    /// Total size of their files.
    pub fn bytes(&self) -> u64 {
        self.index.bytes()
    }
}

impl Catalog for Survey {
    fn page(&self, query: &ListQuery) -> Page {
        self.index.page(query)
    }

    fn info(&self, key: &Key) -> Option<EntryInfo> {
        self.index.info(key)
    }

    fn count_of_target(&self, target: &str) -> usize {
        self.index.count_of_target(target)
    }

    fn encodings(&self, key: &Key) -> Option<Vec<Encoding>> {
        read_encodings(&self.dir, key)
    }
}

/// Marks `index`, the snapshots of `dir`, stale as the next start would,
/// reading the log and writing nothing (`survey`). A damaged log marks
/// everything stale since `now`, as a start does.
fn replay_read_only(dir: &Path, index: &Index, now: SystemTime) {
    let decoded = match std::fs::read(dir.join(super::soft_log::FILE)) {
        Ok(buf) => super::soft_log::decode(&buf),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(_) => super::soft_log::Decoded {
            marks: Vec::new(),
            tail: super::soft_log::Tail::Corrupt,
        },
    };
    let mut marks = decoded.marks;
    if decoded.tail == super::soft_log::Tail::Corrupt {
        marks.push(super::soft_log::Mark::All {
            epoch: u64::MAX,
            since_ms: super::snapshot::to_ms(now),
        });
    }
    soft::replay(index, marks);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    use bytes::Bytes;

    use super::super::snapshot::tests::sample;
    use super::*;

    use crate::store::open_for_tests as open;

    /// Every file under `dir` with its length, modification time and bytes.
    fn files(dir: &Path) -> BTreeMap<PathBuf, (SystemTime, Vec<u8>)> {
        let mut out = BTreeMap::new();
        for item in std::fs::read_dir(dir).unwrap().flatten() {
            let path = item.path();
            if path.is_dir() {
                out.extend(files(&path));
            } else {
                let mtime = item.metadata().unwrap().modified().unwrap();
                out.insert(path.clone(), (mtime, std::fs::read(&path).unwrap()));
            }
        }
        out
    }

    #[test]
    fn a_survey_lists_what_a_start_would_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        for n in 1..=3u8 {
            let mut s = sample(n, b"");
            s.key = Key([n; 32]);
            s.meta.target = format!("/page/{n}");
            s.meta.tags = vec!["t".into()];
            s.body = Bytes::from(vec![b'x'; 100]);
            store.put(s).unwrap();
        }
        store
            .mark_stale(&[Key([2; 32])], UNIX_EPOCH + Duration::from_secs(1_000_000))
            .unwrap();
        drop(store);
        // What a crash leaves: a temp file, and a torn snapshot.
        let fanout = layout::fanout_dir(dir.path(), &Key([1; 32]));
        std::fs::write(fanout.join(".tmp-leftover"), b"half").unwrap();
        let torn = layout::snapshot_path(dir.path(), &Key([3; 32]));
        let bytes = std::fs::read(&torn).unwrap();
        std::fs::write(&torn, &bytes[..bytes.len() - 1]).unwrap();
        let before = files(dir.path());

        let survey = Survey::open(dir.path(), SystemTime::now()).unwrap();
        assert_eq!(files(dir.path()), before, "nothing changed");
        assert_eq!(survey.len(), 2, "the torn file is not listed");
        let page = survey.page(&ListQuery {
            limit: 10,
            ..ListQuery::default()
        });
        let targets: Vec<&str> = page.rows.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["/page/1", "/page/2"]);
        assert!(page.rows[1].stale_since.is_some(), "the soft mark replayed");
        assert!(page.rows[0].stale_since.is_none());
        assert_eq!(survey.encodings(&Key([1; 32])), Some(vec![]));
        assert_eq!(survey.count_of_target("/page/1"), 1);

        // A start would clean up what the survey left alone.
        drop(open(dir.path()));
        assert!(!fanout.join(".tmp-leftover").exists());
        assert!(!torn.exists());
    }

    #[test]
    fn a_checkpoint_is_read_and_left_for_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut s = sample(7, b"");
        s.key = Key([7; 32]);
        store.put(s).unwrap();
        store.checkpoint().unwrap();
        drop(store);
        let before = files(dir.path());
        let survey = Survey::open(dir.path(), SystemTime::now()).unwrap();
        assert_eq!(survey.len(), 1);
        assert_eq!(files(dir.path()), before);
        let missing = dir.path().join("missing");
        assert!(Survey::open(&missing, SystemTime::now())
            .unwrap()
            .is_empty());
        assert!(!missing.exists(), "not made");
        let file = dir.path().join(".preloadd-store");
        assert!(Survey::open(&file, SystemTime::now()).is_err(), "not a dir");
    }
}
