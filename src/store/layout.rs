//! Where things live under `cache.dir`: the fan-out layout of snapshot files
//! and the two small marker files (store format and minimum generation).
//! Temp files are named by `write`, which makes them.
//!
//! Files are named only by key, in hex: `cache.dir/ab/ab01…` (two hex
//! characters of fan-out, then all 64). No URL text ever reaches a path. This
//! module never opens a snapshot file; it only names them and reads or
//! writes the marker files.

use std::io;
use std::path::{Path, PathBuf};

use crate::key::Key;

use super::snapshot::VERSION;
use super::write;

/// Marker file holding the store format (so a future format can refuse or
/// migrate an old directory instead of misreading it).
pub(crate) const FORMAT_FILE: &str = ".preloadd-store";

/// The persisted minimum generation (see `Store::set_min_generation`).
pub(crate) const GENERATION_FILE: &str = ".preloadd-generation";

/// A generation no snapshot on disk is above, and a size the snapshot
/// files do not exceed (see `ceilings`).
pub(crate) const CEILING_FILE: &str = ".preloadd-ceiling";

const FORMAT_PREFIX: &str = "preloadd-store format ";

/// A key's file name: its 64 lower-case hex digits (`Key::to_hex`; the
/// layout test pins the spelling, so the files cannot move if that changes).
pub(crate) fn hex(key: &Key) -> String {
    key.to_hex()
}

/// Parses a 64-character lower-case hex file name back into a key.
pub(crate) fn parse_hex(name: &str) -> Option<Key> {
    Key::from_hex(name)
}

/// Index of the fan-out directory of a key (its first byte).
pub(crate) fn fanout_index(key: &Key) -> usize {
    usize::from(key.0[0])
}

/// `cache.dir/ab`.
pub(crate) fn fanout_dir(root: &Path, key: &Key) -> PathBuf {
    let mut name = hex(key);
    name.truncate(2);
    root.join(name)
}

/// The fan-out directory of index `i` (see `fanout_index`).
pub(crate) fn fanout_dir_of(root: &Path, i: usize) -> PathBuf {
    root.join(format!("{:02x}", i & 0xff))
}

/// `cache.dir/ab/ab01…`.
pub(crate) fn snapshot_path(root: &Path, key: &Key) -> PathBuf {
    let name = hex(key);
    root.join(&name[..2]).join(name)
}

/// Is this directory name a fan-out directory (two lower-case hex digits)?
pub(crate) fn is_fanout_name(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks the format marker, writing it when missing. A marker naming
/// another format is refused: this build would misread those files.
pub(crate) fn check_format(root: &Path) -> io::Result<()> {
    if read_format(root)? {
        return Ok(());
    }
    let text = format!("{FORMAT_PREFIX}{VERSION}\n");
    match write::write_atomic(root, &root.join(FORMAT_FILE), &[text.as_bytes()]) {
        // A full disk must not stop the daemon from serving what it
        // has (SPEC §5); the marker is written at a later start.
        Err(e) if is_disk_full(&e) => {
            tracing::warn!(dir = %root.display(), "disk full: store marker not written");
            Ok(())
        }
        other => other,
    }
}

/// Reads the format marker without writing anything: `true` when it names
/// this build's format, `false` when there is none yet, an error when it
/// names another format or cannot be read.
pub(crate) fn read_format(root: &Path) -> io::Result<bool> {
    match std::fs::read_to_string(root.join(FORMAT_FILE)) {
        Ok(text) => {
            let found = text.trim_end();
            match found.strip_prefix(FORMAT_PREFIX) {
                Some(v) if v == VERSION.to_string() => Ok(true),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{FORMAT_FILE} says {found:?}; this build reads format {VERSION}"),
                )),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads the persisted minimum generation (0 when never set). A file that
/// does not parse is an error rather than 0: reading it as 0 would bring
/// back every snapshot dropped by earlier generation bumps.
pub(crate) fn read_generation(root: &Path) -> io::Result<u64> {
    let path = root.join(GENERATION_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{GENERATION_FILE} does not hold a generation number"),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Persists the minimum generation: temp file, fsync, rename, fsync of the
/// directory, so that once this returns a restart sees the new value.
pub(crate) fn write_generation(root: &Path, generation: u64) -> io::Result<()> {
    let text = format!("{generation}\n");
    write::write_atomic(root, &root.join(GENERATION_FILE), &[text.as_bytes()])
}

/// ENOSPC or EDQUOT: the disk (or the quota) is full.
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_other_names() {
        let mut raw = [0u8; 32];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37);
        }
        let key = Key(raw);
        let name = hex(&key);
        // The spelling on disk, pinned: a change here moves every file.
        assert_eq!(
            name,
            "00254a6f94b9de03284d7297bce1062b50759abfe4092e53789dc2e70c31567b"
        );
        assert_eq!(parse_hex(&name), Some(key));
        assert_eq!(parse_hex(&name.to_uppercase()), None);
        assert_eq!(parse_hex(&name[..63]), None);
        assert_eq!(parse_hex(".tmp-1"), None);
    }

    #[test]
    fn path_is_fanned_out_by_first_byte() {
        let key = Key([0xab; 32]);
        let path = snapshot_path(Path::new("/c"), &key);
        assert_eq!(path, Path::new("/c/ab").join("ab".repeat(32)));
        assert_eq!(fanout_dir(Path::new("/c"), &key), Path::new("/c/ab"));
        assert!(is_fanout_name("ab") && !is_fanout_name("AB") && !is_fanout_name("abc"));
    }

    #[test]
    fn format_marker_is_written_then_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        check_format(dir.path()).expect("first");
        check_format(dir.path()).expect("second");
        std::fs::write(dir.path().join(FORMAT_FILE), "preloadd-store format 99\n").expect("w");
        assert!(check_format(dir.path()).is_err());
    }

    #[test]
    fn generation_defaults_to_zero_and_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_generation(dir.path()).expect("read"), 0);
        write_generation(dir.path(), 7).expect("write");
        assert_eq!(read_generation(dir.path()).expect("read"), 7);
        std::fs::write(dir.path().join(GENERATION_FILE), "x").expect("w");
        assert!(read_generation(dir.path()).is_err());
    }
}
