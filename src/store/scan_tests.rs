//! Tests of the start-up walk: what it removes and what it leaves.

use super::*;

/// Out of descriptors or memory says nothing of the file: it is kept
/// for another pass. Any other error discards it.
#[test]
fn only_errors_of_the_file_itself_discard_it() {
    for errno in [libc::EMFILE, libc::ENFILE, libc::ENOMEM, libc::EAGAIN] {
        let e = io::Error::from_raw_os_error(errno);
        assert!(matches!(unread("open", e), Unread::NotNow(_)), "{errno}");
    }
    for errno in [libc::EIO, libc::EACCES, libc::EISDIR] {
        let e = io::Error::from_raw_os_error(errno);
        assert!(matches!(unread("read", e), Unread::Bad(r) if r.starts_with("cannot read")));
    }
}

/// The rebuild after a crash scans while this process writes: its own
/// temp files are writes in progress, another run's are leftovers.
#[test]
fn only_another_runs_temp_files_are_removed() {
    let root = tempfile::tempdir().expect("tempdir");
    let fanout = root.path().join("ab");
    std::fs::create_dir(&fanout).expect("fan-out dir");
    let ours = format!("{}7", own_temp_prefix());
    for dir in [root.path(), fanout.as_path()] {
        std::fs::write(dir.join(&ours), b"in progress").expect("write");
        std::fs::write(dir.join(".tmp-1-2-3"), b"left over").expect("write");
    }
    let (dirs, removed) = top(root.path(), Tidy::Clean).expect("top");
    assert_eq!((dirs, removed), (vec![fanout.clone()], 1));
    let (removed, _) = scan_dir(&fanout, 0, Tidy::Clean, &mut Part::default()).expect("scan");
    assert_eq!(removed, 1);
    for dir in [root.path(), fanout.as_path()] {
        assert!(dir.join(&ours).exists(), "{}", dir.display());
        assert!(!dir.join(".tmp-1-2-3").exists(), "{}", dir.display());
    }
}
