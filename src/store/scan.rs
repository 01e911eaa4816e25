//! The start-up walk of `cache.dir`: find every snapshot file, read only its
//! header, and hand the index what it needs. Cleans as it goes: temp-file
//! leftovers, files that do not decode, files whose size differs from what
//! their header declares (torn), files under the wrong name, and files of a
//! generation below the persisted minimum are removed.
//!
//! A read-only walk (`scan_read_only`) removes nothing and lists only
//! what the cleaning walk would keep.
//!
//! A file the process cannot open or read *now* (out of descriptors or
//! memory) is not a bad file: it is never removed, and the walk of its
//! directory fails instead, to be made again (`rebuild` retries it).
//!
//! Fan-out directories are shared among a few threads: the work is one
//! open, fstat, read and close per file, mostly waiting on the kernel.
//! The walk assumes the store is the only writer of `cache.dir` and never
//! reads a body.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::key::Key;

use super::entry::{NewEntry, MAX_FILE};
use super::layout;
use super::snapshot::{self, FIXED_LEN};
use super::write::{own_temp_prefix, TEMP_PREFIX};

/// Bytes read at once from each file: enough for nearly every header.
const FIRST_READ: usize = 4096;

/// What one worker found. Tags are interned per worker into one flat list
/// rather than kept as strings per file: per-file allocations made on a
/// worker thread and freed after it ends would stay behind as free memory
/// in that thread's allocator arena, costing resident memory per snapshot.
#[derive(Debug, Default)]
pub(crate) struct Part {
    pub entries: Vec<Loaded>,
    names: Vec<Box<str>>,
    ids: Vec<u32>,
    by_name: HashMap<Box<str>, u32>,
}

/// One file's index data; its tags are a range of its part's `ids`.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub entry: NewEntry,
    tags: (u32, u32),
}

impl Part {
    /// The tag names of `loaded`, an entry of this part.
    pub(crate) fn tags<'a>(&'a self, loaded: &Loaded) -> impl Iterator<Item = &'a str> + 'a {
        let (start, len) = (loaded.tags.0 as usize, loaded.tags.1 as usize);
        let ids = self.ids.get(start..start + len).unwrap_or_default();
        ids.iter()
            .map(|&id| self.names.get(id as usize).map_or("", |n| &**n))
    }

    pub(crate) fn push(&mut self, entry: NewEntry, tags: Vec<String>) {
        let start = self.ids.len() as u32;
        for tag in tags {
            let next = self.by_name.len() as u32;
            let id = *self.by_name.entry(tag.into_boxed_str()).or_insert(next);
            self.ids.push(id);
        }
        let tags = (start, self.ids.len() as u32 - start);
        self.entries.push(Loaded { entry, tags });
    }

    /// Moves the interned names into `names`, in id order.
    pub(crate) fn finish(&mut self) {
        let mut names: Vec<Box<str>> = vec![Box::from(""); self.by_name.len()];
        for (name, id) in std::mem::take(&mut self.by_name) {
            names[id as usize] = name;
        }
        self.names = names;
    }
}

#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub parts: Vec<Part>,
    /// Files removed as unreadable, torn, misplaced or too old.
    pub removed: usize,
    /// Keys whose drop the file system refused before the last shutdown
    /// (from the checkpoint: see `pending`); their files are unlinked
    /// before the store is used.
    pub dropped: Vec<Key>,
}

/// Walks `root` as `scan_each` does, but removes nothing: what the scan would
/// remove is left alone and not listed (`survey`, a look at a cache dir
/// no daemon holds).
pub(crate) fn scan_read_only(root: &Path, min_generation: u64) -> io::Result<Scan> {
    walk(root, min_generation, Tidy::Leave)
}

/// Whether the walk removes the files it does not keep.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tidy {
    Clean,
    Leave,
}

fn walk(root: &Path, min_generation: u64, tidy: Tidy) -> io::Result<Scan> {
    let (dirs, removed) = top(root, tidy)?;
    let results = workers(&dirs, |dir, part| {
        scan_dir(dir, min_generation, tidy, part).map(|(n, _)| n)
    });
    let mut all = Scan {
        parts: Vec::with_capacity(results.len()),
        removed,
        dropped: Vec::new(),
    };
    for result in results {
        let (mut part, removed) = result?;
        part.finish();
        all.parts.push(part);
        all.removed += removed;
    }
    Ok(all)
}

/// What the walk of `scan_each` gives its caller, and asks it.
pub(crate) trait Sink: Sync {
    /// Whether fan-out directory `dir` is still to be read (a walk made
    /// again after a failure skips those it has handed over).
    fn wanted(&self, dir: &Path) -> bool;
    /// Before fan-out directory number `n` (in name order): false stops
    /// the walk.
    fn before(&self, n: usize) -> bool;
    /// The snapshots of fan-out directory `dir`, and the bytes of the files
    /// the walk removed there.
    fn take(&self, dir: &Path, part: Part, removed_bytes: u64);
}

/// Walks `root`, keeping files of generation `min_generation` or above
/// and removing the others (see the module doc), handing
/// each fan-out directory's snapshots to `sink` as soon as it is read (the
/// rebuild after a crash, while the daemon serves). Returns how many files
/// it removed.
pub(crate) fn scan_each(root: &Path, min_generation: u64, sink: &dyn Sink) -> io::Result<usize> {
    let (mut dirs, removed) = top(root, Tidy::Clean)?;
    dirs.sort();
    let numbered: Vec<(usize, std::path::PathBuf)> = dirs.into_iter().enumerate().collect();
    let results = workers(&numbered, |(n, dir), part| {
        if !sink.wanted(dir) {
            return Ok(0);
        }
        if !sink.before(*n) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "stopped"));
        }
        let (removed, bytes) = scan_dir(dir, min_generation, Tidy::Clean, part)?;
        let mut whole = std::mem::take(part);
        whole.finish();
        sink.take(dir, whole, bytes);
        Ok(removed)
    });
    let mut total = removed;
    for result in results {
        total += result?.1;
    }
    Ok(total)
}

/// The fan-out directories of `root`, and how many temp files it removed
/// there.
fn top(root: &Path, tidy: Tidy) -> io::Result<(Vec<std::path::PathBuf>, usize)> {
    let mut dirs = Vec::new();
    let mut removed = 0;
    for item in std::fs::read_dir(root)? {
        let item = item?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(own_temp_prefix()) {
            // A write of this process, in progress (see `own_temp_prefix`).
        } else if name.starts_with(TEMP_PREFIX) {
            if tidy == Tidy::Clean {
                remove_temp(&item.path());
            }
            removed += 1;
        } else if layout::is_fanout_name(&name) && item.file_type()?.is_dir() {
            dirs.push(item.path());
        }
    }
    Ok((dirs, removed))
}

/// Runs `each` over `items` on a few threads, each with its part; returns
/// each thread's part and the sum of what `each` returned.
fn workers<T: Sync>(
    items: &[T],
    each: impl Fn(&T, &mut Part) -> io::Result<usize> + Sync,
) -> Vec<io::Result<(Part, usize)>> {
    // Twice the CPUs (at least 4): with a cold page cache the threads mostly
    // wait on the disk, and more requests in flight keep it busy.
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get() * 2)
        .clamp(4, 16)
        .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut part = Part::default();
                    let mut removed = 0;
                    while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                        removed += each(item, &mut part)?;
                    }
                    Ok((part, removed))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(io::Error::other("scan thread panicked")))
            })
            .collect()
    })
}

/// Scans one fan-out directory into `part`; returns how many files it
/// removed, and their bytes.
fn scan_dir(
    dir: &Path,
    min_generation: u64,
    tidy: Tidy,
    part: &mut Part,
) -> io::Result<(usize, u64)> {
    let mut buf = Vec::with_capacity(FIRST_READ);
    let buf = &mut buf;
    let mut removed = 0;
    let mut bytes = 0;
    let size_of = |item: &std::fs::DirEntry| item.metadata().map_or(0, |m| m.len());
    let fanout = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let path = item.path();
        let name = item.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(own_temp_prefix()) {
            // A write of this process, in progress (see `own_temp_prefix`).
            continue;
        }
        if name.starts_with(TEMP_PREFIX) {
            if tidy == Tidy::Clean {
                bytes += size_of(&item);
                remove_temp(&path);
            }
            removed += 1;
            continue;
        }
        let Some(key) = layout::parse_hex(&name) else {
            tracing::debug!(path = %path.display(), "not a snapshot file name; left alone");
            continue;
        };
        if !name.starts_with(fanout.as_str()) {
            if tidy == Tidy::Clean {
                bytes += size_of(&item);
                remove(&path, "snapshot file in the wrong fan-out directory");
            }
            removed += 1;
            continue;
        }
        match read_head(&path, &key, buf) {
            Err(Unread::NotNow(e)) => {
                return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            }
            Ok((entry, _)) if entry.generation < min_generation => {
                tracing::debug!(path = %path.display(), "dropped by a generation bump");
                if tidy == Tidy::Clean {
                    bytes += entry.size;
                    let _ = std::fs::remove_file(&path);
                }
                removed += 1;
            }
            Ok((entry, tags)) => part.push(entry, tags),
            Err(Unread::Bad(reason)) => {
                match tidy {
                    Tidy::Clean => {
                        bytes += size_of(&item);
                        remove(&path, &reason)
                    }
                    Tidy::Leave => {
                        tracing::debug!(path = %path.display(), reason, "not a readable snapshot; not listed")
                    }
                }
                removed += 1;
            }
        }
    }
    Ok((removed, bytes))
}

/// Why a file's header was not read.
#[derive(Debug)]
enum Unread {
    /// The file is not a snapshot this build can serve: it is discarded.
    Bad(String),
    /// The process cannot open or read it now (out of descriptors or
    /// memory): the file is left as it is.
    NotNow(io::Error),
}

impl<T: Into<String>> From<T> for Unread {
    fn from(reason: T) -> Unread {
        Unread::Bad(reason.into())
    }
}

/// An I/O error of `doing` a file: [`Unread::NotNow`] when it says nothing
/// of the file.
fn unread(doing: &str, e: io::Error) -> Unread {
    let not_now = matches!(
        e.raw_os_error(),
        Some(
            libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS | libc::EAGAIN | libc::EINTR
        )
    );
    if not_now {
        Unread::NotNow(e)
    } else {
        Unread::Bad(format!("cannot {doing}: {e}"))
    }
}

/// Reads and checks one file's header; a `Bad` error is why it is
/// discarded.
fn read_head(path: &Path, key: &Key, buf: &mut Vec<u8>) -> Result<(NewEntry, Vec<String>), Unread> {
    let mut file = File::open(path).map_err(|e| unread("open", e))?;
    let size = file.metadata().map_err(|e| unread("stat", e))?.len();
    if size > MAX_FILE {
        return Err(format!("{size} bytes: larger than any snapshot").into());
    }
    let first = usize::try_from(size).unwrap_or(usize::MAX).min(FIRST_READ);
    buf.clear();
    buf.resize(first, 0);
    file.read_exact(buf).map_err(|e| unread("read", e))?;
    let header_len =
        snapshot::header_len(&buf[..first.min(FIXED_LEN)]).map_err(|e| e.to_string())?;
    if header_len > buf.len() {
        if header_len as u64 > size {
            return Err(format!("torn: {size} bytes, header alone is {header_len}").into());
        }
        let had = buf.len();
        buf.resize(header_len, 0);
        file.read_exact(&mut buf[had..])
            .map_err(|e| unread("read", e))?;
    }
    let summary = snapshot::decode_summary(&buf[..header_len]).map_err(|e| e.to_string())?;
    if summary.total_len != size {
        return Err(format!("torn: {size} bytes, header says {}", summary.total_len).into());
    }
    if summary.key != *key {
        return Err("the key inside differs from the file name".into());
    }
    let entry = NewEntry {
        key: summary.key,
        target: summary.target.into_boxed_str(),
        size,
        taken_ms: summary.taken_ms,
        expires_ms: summary.expires_ms,
        generation: summary.generation,
    };
    Ok((entry, summary.tags))
}

fn remove(path: &Path, reason: &str) {
    tracing::warn!(path = %path.display(), reason, "removing file from cache dir");
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove");
    }
}

/// A temp file left by an interrupted write: expected after a crash.
fn remove_temp(path: &Path) {
    tracing::info!(path = %path.display(), "removing temp file left by an interrupted write");
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove");
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
