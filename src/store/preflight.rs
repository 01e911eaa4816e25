//! Whether `cache.dir` would open, asked without opening it: what
//! `preloadd check` tests, and `run` before anything else, so that `check`
//! cannot pass a directory the store would then refuse.
//!
//! The directory is probed the way [`Store::open`](super::Store::open)
//! will use it (create it, read it, write in it), with the permissions of
//! the process that asks: `check` run as another user than the daemon
//! answers for that user. Nothing the probe makes outlives it: a missing
//! directory is created and removed again (only its first missing level,
//! and only while still empty); a probe file in an existing one is removed
//! at once and carries the temp-file prefix, so a start removes it should
//! the probe be cut short. Snapshots are not read (that is the scan's job
//! at start, and a check must stay quick on a large cache).

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

use super::layout;
use super::write::TEMP_PREFIX;

/// `Ok` when the store could open `dir`; otherwise why not, as one sentence
/// naming the path at fault.
pub fn preflight(dir: &Path) -> io::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => usable(dir),
        Ok(_) => Err(problem(
            io::ErrorKind::NotADirectory,
            format!("{} exists and is not a directory", dir.display()),
        )),
        Err(e) if is_missing(&e) => creatable(dir),
        Err(e) => Err(problem(
            e.kind(),
            format!("cannot read {}: {e}", dir.display()),
        )),
    }
}

fn problem(kind: io::ErrorKind, message: String) -> io::Error {
    io::Error::new(kind, message)
}

/// Missing, or behind a file where a directory should be (`ENOTDIR`):
/// either way the nearest existing ancestor decides.
fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// A missing `dir`: its nearest existing ancestor must be a directory in
/// which we may create one.
fn creatable(dir: &Path) -> io::Result<()> {
    let cannot = |kind: io::ErrorKind, why: String| {
        problem(kind, format!("cannot create {}: {why}", dir.display()))
    };
    let mut first_missing = dir;
    for ancestor in dir.ancestors().skip(1) {
        // "cache" has the parent "": the working directory.
        let shown = if ancestor.as_os_str().is_empty() {
            Path::new(".")
        } else {
            ancestor
        };
        match std::fs::metadata(shown) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                let why = format!("{} is not a directory", shown.display());
                return Err(cannot(io::ErrorKind::NotADirectory, why));
            }
            Err(e) if is_missing(&e) => first_missing = ancestor,
            Err(e) => return Err(cannot(e.kind(), e.to_string())),
        }
    }
    // The level that decides is the first one to create: every level below
    // it would be made inside a directory the daemon made itself.
    match std::fs::create_dir(first_missing) {
        Ok(()) => {
            // Only removes it while empty: never what someone else put in.
            let _ = std::fs::remove_dir(first_missing);
            Ok(())
        }
        // Made meanwhile by someone else (a daemon starting): the store's
        // own open has the last word.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(cannot(e.kind(), e.to_string())),
    }
}

/// An existing directory: readable, holding this build's store format (or
/// none yet) and a readable generation, and writable.
fn usable(dir: &Path) -> io::Result<()> {
    let at = |e: io::Error| problem(e.kind(), format!("{}: {e}", dir.display()));
    std::fs::read_dir(dir)
        .map_err(|e| problem(e.kind(), format!("cannot read {}: {e}", dir.display())))?;
    layout::read_format(dir).map_err(at)?;
    layout::read_generation(dir).map_err(at)?;
    let probe = dir.join(format!("{TEMP_PREFIX}check-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| problem(e.kind(), format!("cannot write in {}: {e}", dir.display())))?;
    std::fs::remove_file(&probe)
        .map_err(|e| problem(e.kind(), format!("cannot remove {}: {e}", probe.display())))
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
