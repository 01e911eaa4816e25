//! Atomic publish of a file: write to a temp file in the destination's own
//! directory, write everything, fsync, rename into place, fsync the
//! directory.
//!
//! Why each step: the temp file lives in the same directory so the rename
//! cannot cross file systems (it is then atomic: readers see the old file or
//! the new one, never a mix); the data fsync comes before the rename so a
//! crash cannot leave a renamed file whose blocks never reached the disk;
//! the directory fsync makes the rename itself durable. On any error the
//! temp file is removed, so a full disk leaves nothing behind.
//!
//! This module never decides what goes in a file nor where (see `layout`),
//! and never touches the index.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every temporary file starts with this; whatever carries it at start is a
/// leftover of an interrupted write and is removed.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// A temp file, written and flushed, waiting to be renamed into place.
/// Dropping it without `publish` removes the file.
#[derive(Debug)]
pub(crate) struct Staged {
    temp: TempName,
    dir: PathBuf,
    /// Open for reading too: a published snapshot may keep it (`held`).
    file: File,
}

/// The temp file's name, removed on drop unless it was published.
#[derive(Debug)]
struct TempName {
    path: PathBuf,
    published: bool,
}

/// Writes `parts`, in order, to a new temp file in `dir` and fsyncs it.
pub(crate) fn stage(dir: &Path, parts: &[&[u8]]) -> io::Result<Staged> {
    let (file, path) = create_temp(dir)?;
    // From here on the guard owns the temp file: any early return removes it.
    let mut staged = Staged {
        temp: TempName {
            path,
            published: false,
        },
        dir: dir.to_path_buf(),
        file,
    };
    write_parts(&mut staged.file, parts)?;
    Ok(staged)
}

impl Staged {
    /// Renames the temp file to `dest` (in the same directory) and fsyncs the
    /// directory. An error from that fsync comes after the rename: the new
    /// file is in place but may not survive a crash, and the caller decides
    /// what to do with it (a snapshot's is removed by `put`).
    ///
    /// Returns the file, still open (read and write), now named `dest`.
    pub(crate) fn publish(mut self, dest: &Path) -> io::Result<File> {
        std::fs::rename(&self.temp.path, dest)?;
        self.temp.published = true;
        sync_dir(&self.dir)?;
        Ok(self.file)
    }
}

impl Drop for TempName {
    fn drop(&mut self) {
        if !self.published {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove temp file");
            }
        }
    }
}

/// Stage and publish in one go (small files such as the marker files).
pub(crate) fn write_atomic(dir: &Path, dest: &Path, parts: &[&[u8]]) -> io::Result<()> {
    stage(dir, parts)?.publish(dest).map(drop)
}

/// Appends `bytes` to `file` at `offset` (its current length) and fsyncs
/// it: once this returns they survive a crash. On an error the file is cut
/// back to `offset` where possible; what may remain past it is an
/// unacknowledged tail, which readers of an append-only file must expect
/// (see `soft_log`). Used for files that grow by small records, where
/// rewriting the whole file for each one would cost in proportion to it.
pub(crate) fn append_at(file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let written = fail_point::check(0, bytes.len())
        .and_then(|()| file.write_all_at(bytes, offset))
        .and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(offset);
    }
    written
}

/// Fsyncs a directory, making renames and unlinks in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The start of this process's temp file names: its pid and the time it
/// first needed one. The rebuild after a crash runs while this process
/// writes, and removes every temp file but these (another run's are
/// leftovers, even one that had the same pid, as a container's pid 1).
pub(crate) fn own_temp_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{TEMP_PREFIX}{}-{started:x}-", std::process::id())
    })
}

/// Creates a fresh temp file. Names are unique within the process
/// ([`own_temp_prefix`] and a counter); `create_new` guards against
/// anything left over anyway.
fn create_temp(dir: &Path) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}{n}", own_temp_prefix()));
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        match options.open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn write_parts(file: &mut File, parts: &[&[u8]]) -> io::Result<()> {
    let mut written = 0usize;
    for part in parts {
        fail_point::check(written, part.len())?;
        file.write_all(part)?;
        written += part.len();
    }
    // sync_data covers the length too, which is all a reader needs.
    file.sync_data()
}

/// Test-only fault injection: make the next writes on this thread fail once
/// more than N bytes would have been written, as a full disk does.
#[cfg(test)]
pub(crate) mod fail_point {
    use std::cell::Cell;
    use std::io;

    thread_local! {
        static FAIL_AFTER: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// Arms (or with `None` disarms) the failure for this thread.
    pub(crate) fn fail_after(limit: Option<usize>) {
        FAIL_AFTER.with(|c| c.set(limit));
    }

    pub(super) fn check(written: usize, len: usize) -> io::Result<()> {
        match FAIL_AFTER.with(Cell::get) {
            Some(limit) if written + len > limit => Err(io::Error::from_raw_os_error(libc::ENOSPC)),
            _ => Ok(()),
        }
    }
}

#[cfg(not(test))]
mod fail_point {
    #[inline(always)]
    pub(super) fn check(_written: usize, _len: usize) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn publish_replaces_atomically_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("f");
        write_atomic(dir.path(), &dest, &[b"old"]).expect("first");
        write_atomic(dir.path(), &dest, &[b"new ", b"content"]).expect("second");
        assert_eq!(std::fs::read(&dest).expect("read"), b"new content");
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn failed_write_removes_the_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        fail_point::fail_after(Some(4));
        let err = stage(dir.path(), &[b"abc", b"defgh"]).expect_err("must fail");
        fail_point::fail_after(None);
        assert!(super::super::layout::is_disk_full(&err));
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn failed_rename_removes_the_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A non-empty directory in the way makes rename fail.
        let dest = dir.path().join("d");
        std::fs::create_dir(&dest).expect("mkdir");
        std::fs::write(dest.join("x"), b"x").expect("w");
        let staged = stage(dir.path(), &[b"abc"]).expect("stage");
        assert!(staged.publish(&dest).is_err());
        assert_eq!(names(dir.path()), ["d"]);
    }

    #[test]
    fn dropped_stage_removes_the_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(stage(dir.path(), &[b"abc"]).expect("stage"));
        assert!(names(dir.path()).is_empty());
    }
}
