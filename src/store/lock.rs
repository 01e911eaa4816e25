//! One daemon per cache dir (SPEC §5): an exclusive `flock` on
//! `cache.dir/.preloadd-lock`, taken before anything in the dir is read and
//! held for the life of the store.
//!
//! Two daemons on one dir would each keep an index of the same files, and an
//! invalidation through one would leave the other serving the dropped pages
//! as HITs. `flock` (std's `File::try_lock`) belongs to the open file, so the
//! kernel releases it when the holder exits however it exits: a lock left
//! by a daemon killed with SIGKILL never blocks the next start. The holder
//! writes its pid into the file only so that the refusal can name it; the
//! lock, not the text, decides.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Name of the lock file under `cache.dir`.
pub(crate) const LOCK_FILE: &str = ".preloadd-lock";

/// The held lock; dropping it (or exiting) releases it.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock on `dir` (which exists), or says who holds it.
    pub(crate) fn take(dir: &Path) -> Result<DirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let dir_error = |source| StoreError::Dir {
            dir: dir.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(dir_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    dir: dir.to_path_buf(),
                    holder: holder(&mut file),
                })
            }
            Err(TryLockError::Error(source)) => return Err(dir_error(source)),
        }
        write_pid(&mut file).map_err(dir_error)?;
        Ok(DirLock { _file: file })
    }
}

impl DirLock {
    /// Is the lock file under `dir` still the file this lock is held on? It
    /// is not once someone removed it (`rm -rf cache.dir/*`): a daemon
    /// started then would create a new one and lock that.
    pub(crate) fn is_current(&self, dir: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (
            std::fs::metadata(dir.join(LOCK_FILE)),
            self._file.metadata(),
        ) {
            (Ok(named), Ok(held)) => named.dev() == held.dev() && named.ino() == held.ino(),
            // A transient error says nothing about the file: assume ours.
            (Err(e), _) => e.kind() != io::ErrorKind::NotFound,
            (_, Err(_)) => true,
        }
    }
}

/// Whether a daemon holds the lock of a cache dir, as seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Held, by this pid (as the kernel names it) when it could be read.
    Held(Option<u32>),
    /// Not held: no daemon runs on the dir.
    Free,
    /// Cannot be told (no `/proc/locks`).
    Unknown,
}

/// Whether a daemon holds `dir`'s lock, without taking it: a probe that
/// took it, even shared and for a moment, could make a daemon starting at
/// that moment refuse the dir. The kernel lists every `flock` in
/// `/proc/locks` by device and inode; the lock file's are compared.
pub fn lock_state(dir: &Path) -> LockState {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(dir.join(LOCK_FILE)) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return LockState::Free,
        Err(_) => return LockState::Unknown,
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return LockState::Unknown;
    };
    // e.g. `1: FLOCK  ADVISORY  WRITE 4242 fe:00:10108945 0 EOF`; a waiter's
    // line has `->` after the number, and no lock.
    let dev = meta.dev();
    let file = format!(
        "{:02x}:{:02x}:{}",
        libc::major(dev),
        libc::minor(dev),
        meta.ino()
    );
    for line in locks.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_, "FLOCK", _, "WRITE", pid, id, ..] = fields[..] {
            if id == file {
                return LockState::Held(pid.parse().ok().filter(|&p| p > 0));
            }
        }
    }
    LockState::Free
}

/// The pid the holder wrote, if it wrote one yet (it writes it right after
/// taking the lock, so a start racing that moment may read nothing).
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn write_pid(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())
}

/// Who holds the lock, for the refusal's line.
pub(crate) fn describe(dir: &Path, holder: Option<u32>) -> String {
    let dir: PathBuf = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    match holder {
        Some(pid) => format!(
            "cache dir {} is in use by another preloadd (pid {pid}); one daemon per cache dir",
            dir.display()
        ),
        None => format!(
            "cache dir {} is in use by another preloadd; one daemon per cache dir",
            dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_dir_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::take(dir.path()).unwrap();
        match DirLock::take(dir.path()) {
            Err(StoreError::Locked { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id()))
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        DirLock::take(dir.path()).expect("free again once the holder is gone");
    }

    #[test]
    fn a_removed_lock_file_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::take(dir.path()).unwrap();
        assert!(held.is_current(dir.path()));
        std::fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
        assert!(!held.is_current(dir.path()));
        std::fs::write(dir.path().join(LOCK_FILE), "1\n").unwrap();
        assert!(
            !held.is_current(dir.path()),
            "another file of the same name"
        );
    }

    #[test]
    fn the_lock_is_seen_held_without_taking_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lock_state(dir.path()), LockState::Free, "no lock file");
        let held = DirLock::take(dir.path()).unwrap();
        assert_eq!(
            lock_state(dir.path()),
            LockState::Held(Some(std::process::id()))
        );
        // The probe took nothing: the holder still holds it alone.
        assert!(matches!(
            DirLock::take(dir.path()),
            Err(StoreError::Locked { .. })
        ));
        drop(held);
        assert_eq!(lock_state(dir.path()), LockState::Free, "a left lock file");
    }

    #[test]
    fn a_stale_pid_in_the_file_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "999999\n").unwrap();
        DirLock::take(dir.path()).expect("the text does not decide, the lock does");
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
    }
}
