//! The test clock's file: the daemon's wall clock pinned at the instant it
//! holds, in ms since the Unix epoch (`PRELOADD_TEST_CLOCK`, see
//! `src/clock.rs`). A sandbox made by `Sandbox::with_clock` has one, and
//! every daemon started on a config in that sandbox runs on it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The clock file of the sandbox at `dir`.
pub fn file_in(dir: &Path) -> PathBuf {
    dir.join("test-clock")
}

pub fn read(file: &Path) -> SystemTime {
    let text = std::fs::read_to_string(file).expect("read the test clock");
    UNIX_EPOCH + Duration::from_millis(text.trim().parse().expect("ms in the test clock"))
}

/// Writes `at` (whole ms); returns what was written, for the daemon's log.
pub fn set(file: &Path, at: SystemTime) -> u128 {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    std::fs::write(file, ms.to_string()).expect("write the test clock");
    ms
}
