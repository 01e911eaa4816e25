//! What a node keeps of the cluster on disk, under
//! `cache.dir/.preloadd-cluster/`: the outbox (invalidations accepted here
//! that Redis has not taken yet, one file each, named by a sequence so
//! that they are sent in the order they were accepted) and the id of the
//! last stream entry applied (`applied`, with the stream's name: a node
//! moved to another stream starts afresh).
//!
//! Every file is written the way snapshots are: a temp file in the same
//! directory, fsynced, renamed into place, the directory fsynced. So an
//! outbox entry, once the reply said `pending`, survives a kill -9, and
//! `applied` is the old id or the new one, never a torn mix. All of it
//! blocks: callers run it on the blocking pool.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::entry::Id;
use crate::invalidate::selector::Selector;

/// The directory under `cache.dir`.
pub const DIR: &str = ".preloadd-cluster";
const OUTBOX: &str = "outbox";
const APPLIED: &str = "applied";
const TEMP: &str = ".tmp-";
const SUFFIX: &str = ".json";

/// The outbox: entries waiting for Redis, oldest first.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    queue: VecDeque<(u64, Selector)>,
    next: u64,
}

impl Outbox {
    /// Opens (making it when missing) the outbox under `cache_dir`, reading
    /// what a previous run left. A file that does not read is renamed
    /// aside (`.bad-…`) with a warning: it cannot be sent, and must not
    /// stop what follows it.
    pub fn open(cache_dir: &Path) -> io::Result<Outbox> {
        let dir = cache_dir.join(DIR).join(OUTBOX);
        fs::create_dir_all(&dir)?;
        let mut found = Vec::new();
        for item in fs::read_dir(&dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP) {
                fs::remove_file(item.path())?;
                continue;
            }
            let Some(seq) = name
                .strip_suffix(SUFFIX)
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            match fs::read(item.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Selector>(&b).ok())
            {
                Some(selector) => found.push((seq, selector)),
                None => {
                    tracing::warn!(file = %item.path().display(), "cluster outbox entry unreadable; set aside, not sent");
                    fs::rename(item.path(), dir.join(format!(".bad-{name}")))?;
                }
            }
        }
        found.sort_by_key(|(seq, _)| *seq);
        let next = found.last().map_or(1, |(seq, _)| seq + 1);
        Ok(Outbox {
            dir,
            queue: found.into(),
            next,
        })
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The oldest entry waiting.
    pub fn front(&self) -> Option<&(u64, Selector)> {
        self.queue.front()
    }

    /// Adds `selector` at the back, durably: once this returns it survives
    /// a crash.
    pub fn push(&mut self, selector: &Selector) -> io::Result<()> {
        let seq = self.next;
        let json = serde_json::to_vec(selector).expect("a selector serializes");
        write_atomic(&self.dir, &format!("{seq:020}{SUFFIX}"), &json)?;
        self.next += 1;
        self.queue.push_back((seq, selector.clone()));
        Ok(())
    }

    /// Removes the oldest entry, sent. Its file is unlinked durably, so a
    /// restart does not send it twice (twice would do no harm: applying an
    /// invalidation again drops nothing more).
    pub fn pop(&mut self, seq: u64) -> io::Result<()> {
        if self.queue.front().map(|(s, _)| *s) != Some(seq) {
            return Ok(());
        }
        match fs::remove_file(self.dir.join(format!("{seq:020}{SUFFIX}"))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        sync_dir(&self.dir)?;
        self.queue.pop_front();
        Ok(())
    }
}

/// The last entry id applied from `stream`, if this cache dir followed it.
pub fn read_applied(cache_dir: &Path, stream: &str) -> Option<Id> {
    let text = fs::read_to_string(cache_dir.join(DIR).join(APPLIED)).ok()?;
    let (name, id) = text.trim_end().rsplit_once('\n')?;
    (name == stream).then(|| Id::parse(id)).flatten()
}

/// Records `id` as the last entry applied from `stream`.
pub fn write_applied(cache_dir: &Path, stream: &str, id: Id) -> io::Result<()> {
    let dir = cache_dir.join(DIR);
    fs::create_dir_all(&dir)?;
    write_atomic(&dir, APPLIED, format!("{stream}\n{id}\n").as_bytes())
}

/// Temp file, fsync, rename, directory fsync (`store::write`'s discipline).
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temp = dir.join(format!("{TEMP}{name}-{}", std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, dir.join(name))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(t: &str) -> Selector {
        Selector {
            tags: vec![t.into()],
            ..Selector::default()
        }
    }

    #[test]
    fn the_outbox_keeps_its_order_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        for t in ["a", "b", "c"] {
            outbox.push(&tag(t)).unwrap();
        }
        let first = outbox.front().unwrap().0;
        outbox.pop(first).unwrap();
        drop(outbox);
        let mut outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.len(), 2);
        assert_eq!(outbox.front().unwrap().1, tag("b"));
        outbox.push(&tag("d")).unwrap();
        let order: Vec<_> = outbox
            .queue
            .iter()
            .map(|(_, s)| s.tags[0].clone())
            .collect();
        assert_eq!(order, ["b", "c", "d"]);
    }

    #[test]
    fn an_unreadable_outbox_file_is_set_aside_and_temp_leftovers_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        outbox.push(&tag("a")).unwrap();
        let boxdir = dir.path().join(DIR).join(OUTBOX);
        fs::write(boxdir.join(format!("{:020}{SUFFIX}", 7)), b"{not json").unwrap();
        fs::write(boxdir.join(".tmp-x"), b"half").unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox.next, 2);
        assert!(!boxdir.join(".tmp-x").exists());
        assert!(boxdir.join(format!(".bad-{:020}{SUFFIX}", 7)).exists());
    }

    #[test]
    fn the_applied_id_belongs_to_its_stream() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_applied(dir.path(), "s"), None);
        let id = Id { ms: 17, seq: 3 };
        write_applied(dir.path(), "s", id).unwrap();
        assert_eq!(read_applied(dir.path(), "s"), Some(id));
        assert_eq!(read_applied(dir.path(), "other"), None);
    }
}
