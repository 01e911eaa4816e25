//! What of a file is in the page cache, by `cachestat(2)` (Linux 6.5):
//! asked before a body goes to a socket by `sendfile`, which would wait for
//! the disk on a runtime worker for pages that are not (`store::held`).
//! Also, for tests, taking a file out of the cache and looking by
//! `mincore`, which any kernel has.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// Cleared when the kernel cannot say what of a file is cached (no
/// `cachestat` before Linux 6.5, a seccomp filter, a file system without
/// it): then every file counts as cached, and bodies go by `sendfile`
/// unasked, as they did before.
static CACHESTAT: AtomicBool = AtomicBool::new(true);

/// True unless the kernel says some page of `file` from byte `off` on
/// (`len` bytes; 0: to the end of the file) is not in the page cache.
pub fn all_cached(file: &File, off: u64, len: u64) -> bool {
    if !CACHESTAT.load(Ordering::Relaxed) {
        return true;
    }
    match cached_pages(file, off, len) {
        Some((cached, pages)) => cached >= pages,
        None => {
            CACHESTAT.store(false, Ordering::Relaxed);
            true
        }
    }
}

/// Tells the kernel that `len` bytes of `file` from `off` on (0: to the
/// end) will be read soon: it starts reading what is not cached and does
/// not wait for the disk (`posix_fadvise` `WILLNEED`). Advice: nothing to
/// report when the kernel does not take it.
pub fn read_back(file: &File, off: u64, len: u64) {
    let (Ok(off), Ok(len)) = (libc::off_t::try_from(off), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: fadvise on an open fd; it reads no memory of ours.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), off, len, libc::POSIX_FADV_WILLNEED) };
}

/// `cachestat(2)`'s range and answer (include/uapi/linux/mman.h).
#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Its number, the same on these architectures since Linux 6.5 (the
/// `libc` crate does not name it yet); elsewhere the kernel is not asked.
const SYS_CACHESTAT: Option<libc::c_long> = if cfg!(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)) {
    Some(451)
} else {
    None
};

/// (pages in the page cache, pages) of `file` from byte `off` on (`len`
/// bytes; 0: to the end of the file), or None when the kernel will not
/// say.
pub fn cached_pages(file: &File, off: u64, len: u64) -> Option<(u64, u64)> {
    let number = SYS_CACHESTAT?;
    let end = match len {
        0 => file.metadata().ok()?.len(),
        len => off.checked_add(len)?,
    };
    // SAFETY: sysconf takes no pointers.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .ok()
        .filter(|p| *p > 0)?;
    let pages = end.div_ceil(page).saturating_sub(off / page);
    let range = CachestatRange { off, len };
    let mut stat = Cachestat::default();
    // SAFETY: the fd is open; the kernel reads `range` and writes `stat`,
    // both of the layout it defines, and keeps neither pointer.
    let rc = unsafe {
        libc::syscall(
            number,
            file.as_raw_fd(),
            &range as *const CachestatRange,
            &mut stat as *mut Cachestat,
            0,
        )
    };
    (rc == 0).then_some((stat.nr_cache, pages))
}

#[cfg(test)]
pub(crate) use self::for_tests::{evict, on_tmpfs, resident_pages};

#[cfg(test)]
mod for_tests {
    use std::ffi::CString;
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    /// True when `path` is on tmpfs, where the page cache is the file and
    /// nothing can leave it.
    pub(crate) fn on_tmpfs(path: &Path) -> bool {
        let c_path = CString::new(path.as_os_str().as_bytes()).expect("path");
        // SAFETY: statfs of a NUL-terminated path into a zeroed struct.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statfs(c_path.as_ptr(), &mut fs) }, 0);
        fs.f_type == libc::TMPFS_MAGIC
    }

    /// Asks the kernel to drop `file`'s pages (clean ones: fsync first) and
    /// says whether none of its first `len` bytes' pages is left. Dropping is
    /// advice: a kernel may keep some.
    pub(crate) fn evict(file: &File, len: usize) -> bool {
        // SAFETY: fadvise on an open fd.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0);
        resident_pages(file, len) == 0
    }

    /// How many of the first `len` bytes' pages of `file` are in the page
    /// cache, by `mincore` over a mapping of them.
    pub(crate) fn resident_pages(file: &File, len: usize) -> usize {
        // SAFETY: sysconf takes no pointers.
        let page =
            usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("page size");
        let pages = len.div_ceil(page);
        // SAFETY: a shared read-only mapping of an open file, unmapped below;
        // mincore writes one byte per page into a vector of that many.
        unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(map, libc::MAP_FAILED, "mmap");
            let mut flags = vec![0u8; pages];
            let rc = libc::mincore(map, len, flags.as_mut_ptr());
            libc::munmap(map, len);
            assert_eq!(rc, 0, "mincore");
            flags.iter().filter(|f| *f & 1 == 1).count()
        }
    }
}
