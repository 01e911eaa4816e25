//! Reading a snapshot file only if that needs no disk, so that a runtime
//! worker can do it: the path is resolved from the kernel's caches alone
//! (`openat2` with `RESOLVE_CACHED`) and the bytes come from the page cache
//! alone (`preadv2` with `RWF_NOWAIT`), or the read is not done at all.
//! nginx reads files with thread pools the same way: page cache first.
//!
//! Anything out of the ordinary (not a regular file, any error, part of the
//! file not cached) gives up, and the caller reads the file where blocking
//! is fine (`Store::read_cold`), which also decides what an error means.
//! A kernel, sandbox or file system without these flags is noticed once,
//! and no read is tried this way again. A cold page's read starts the
//! kernel's readahead before it gives up, so the next request for the file
//! usually finds it cached.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

/// Cleared when the kernel says it cannot do these reads: no `openat2`
/// (before Linux 5.6, or a seccomp filter), no `RESOLVE_CACHED` (before
/// 5.12), or a file system without `RWF_NOWAIT`.
static AVAILABLE: AtomicBool = AtomicBool::new(true);

/// Notes the error of a failed call if it says the call is not available.
fn note_unsupported() {
    let code = std::io::Error::last_os_error().raw_os_error();
    if matches!(code, Some(libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP)) {
        AVAILABLE.store(false, Ordering::Relaxed);
    }
}

/// The whole file at `path`, and the file kept open, if neither the open
/// nor the read had to wait for the disk.
pub(super) fn read(path: &Path) -> Option<(File, Bytes)> {
    let file = open_cached(path)?;
    let meta = file.metadata().ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    let len = usize::try_from(meta.len()).ok()?;
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        let filled = bytes.len();
        let spare = bytes.spare_capacity_mut();
        let iov = libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: spare.len().min(len - filled),
        };
        let offset = libc::off_t::try_from(filled).ok()?;
        // SAFETY: the fd is open; `iov` describes the vector's spare
        // capacity, which the kernel only writes.
        let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
        if n < 0 {
            // EAGAIN: not all of it is cached (or the flag is unknown).
            note_unsupported();
            return None;
        }
        // Nothing more (the file is shorter than it said): give up.
        let n = usize::try_from(n).ok().filter(|n| *n > 0)?;
        // SAFETY: the kernel initialized these `n` bytes of the spare
        // capacity (n <= iov_len <= len - filled).
        unsafe { bytes.set_len(filled + n) };
    }
    Some((file, Bytes::from(bytes)))
}

/// Opens `path` for reading if its lookup needs no disk. Non-blocking, so
/// that a FIFO or a device in its place cannot hold the open up; the flag
/// is cleared again for the regular file that is kept (it will be read by
/// `sendfile`).
fn open_cached(path: &Path) -> Option<File> {
    if !AVAILABLE.load(Ordering::Relaxed) {
        return None;
    }
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: open_how is three integers; all zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_CACHED;
    // SAFETY: `c_path` is NUL-terminated and `how` is a live open_how of
    // the size passed; both outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        note_unsupported();
        return None;
    }
    let fd = i32::try_from(fd).ok()?;
    // SAFETY: `fd` was just opened here and nothing else owns it.
    let file = unsafe { File::from_raw_fd(fd) };
    // SAFETY: plain fcntl calls on an fd this function owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return None;
    }
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::page_cache::{evict, on_tmpfs};
    use std::time::Duration;

    #[test]
    fn a_cached_file_is_read_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let body: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        std::fs::write(&path, &body).expect("write");
        let (file, bytes) = read(&path).expect("just written: in the page cache");
        assert!(bytes[..] == body[..]);
        // SAFETY: F_GETFL on an open fd.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0, "kept open blocking");
        assert!(read(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn a_fifo_is_not_waited_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fifo");
        let c_path = CString::new(path.as_os_str().as_bytes()).expect("path");
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read(&path).is_none());
        });
        // A blocking open would wait for a writer that never comes.
        let gave_up = rx.recv_timeout(Duration::from_secs(10));
        assert_eq!(gave_up, Ok(true));
    }

    #[test]
    fn a_file_out_of_the_page_cache_is_left_to_the_blocking_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 64 * 1024]).expect("write");
        let file = File::open(&path).expect("open");
        file.sync_all().expect("fsync");
        if on_tmpfs(&path) {
            eprintln!("skipped: on tmpfs the page cache is the file");
            return;
        }
        // A read with RWF_NOWAIT of a page that is not cached starts the
        // readahead and gives up, unless the device (a fast virtual disk)
        // has finished it by the time the kernel looks again; then the read
        // succeeds without having waited, the more often the busier the
        // machine. So a cold file must give up at least once in many tries,
        // and whatever is read must be the whole file.
        let body = vec![7u8; 64 * 1024];
        let (mut cold, mut read_whole) = (0, 0);
        for _ in 0..500 {
            // Only a file that really left the page cache shows what a
            // cold read does.
            if !evict(&file, body.len()) {
                continue;
            }
            cold += 1;
            match read(&path) {
                None => return,
                Some((_, bytes)) => assert!(bytes[..] == body[..], "a short or wrong body"),
            }
            read_whole += 1;
        }
        if cold == 0 {
            eprintln!("skipped: the kernel kept the file cached through 500 evictions");
            return;
        }
        panic!("{cold} cold reads, {read_whole} of them done without the disk: none gave up");
    }
}
