//! The process's descriptor limit, and the share of it the store may hold
//! open for sendfile.

/// Raises the soft limit on open files to the hard limit (as nginx's
/// `worker_rlimit_nofile` would) and returns the soft limit now in force.
/// A daemon holding 10,000 connections needs more than the 1,024 many
/// systems start a process with.
pub fn raise_open_files() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above; raising the soft limit up to the hard one is
        // always allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur
}

/// Snapshot files the store may keep open for sendfile: a quarter of the
/// descriptor limit, at most 65,536. The rest stays for connections, the
/// upstream pool and the store's own work.
pub fn held_files(open_files: u64) -> usize {
    usize::try_from(open_files / 4)
        .unwrap_or(usize::MAX)
        .min(65_536)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_of_the_limit_capped() {
        assert_eq!(held_files(1024), 256);
        assert_eq!(held_files(20_000), 5_000);
        assert_eq!(held_files(u64::MAX), 65_536);
    }

    #[test]
    fn raising_never_lowers() {
        let first = raise_open_files();
        assert!(raise_open_files() >= first);
        assert!(first > 0);
    }
}
