//! Test support: a real upstream, the real daemon, a raw HTTP client.
pub mod body;
pub mod client;
pub mod clock;
pub mod daemon;
pub mod django;
/// Snapshot files written straight into a cache dir (shared with the benches).
#[path = "../../benches/support/fill.rs"]
pub mod fill;
pub mod fs;
pub mod metrics;
pub mod nginx;
pub mod raw_upstream;
pub mod redis;
pub mod scripted_app;
pub mod site;
pub mod upstream;
pub mod webhook;

pub use body::{gunzip, sized_body, unbrotli};
pub use client::{get, request, send_raw, send_until_closed, Conn, Reply};
pub use daemon::{config_text, Daemon};
pub use raw_upstream::RawUpstream;
pub use upstream::{dead_app, Upstream};

/// A temp dir holding the config and the cache dir of one test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A sandbox whose daemons run on the test clock (`src/clock.rs`): their
    /// wall clock stands still at the real time of this call, down to the
    /// whole second, and moves only by [`Daemon::advance`] or
    /// [`Sandbox::advance_clock`]. For tests of what happens over time
    /// (grace, TTL, schedules, catch-up), which then wait for nothing.
    ///
    /// A whole second, because the store's index keeps times of day in
    /// seconds: from one, "1400 ms later" is 1400 ms later for the daemon.
    pub fn with_clock() -> Sandbox {
        let sb = Sandbox::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        let second = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.as_secs());
        clock::set(&clock::file_in(sb.dir.path()), second);
        sb
    }

    /// The test clock's time now.
    pub fn clock_now(&self) -> std::time::SystemTime {
        clock::read(&clock::file_in(self.dir.path()))
    }

    /// Moves the test clock forward while no daemon runs (the next one
    /// starts at the new time). With a daemon running, [`Daemon::advance`].
    pub fn advance_clock(&self, by: std::time::Duration) {
        let file = clock::file_in(self.dir.path());
        clock::set(&file, clock::read(&file) + by);
    }

    pub fn cache_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("cache")
    }

    /// Starts the daemon in front of `upstream` with `extra` config.
    pub fn daemon(&self, upstream: &Upstream, extra: &str) -> Daemon {
        self.daemon_cache(upstream, "", extra)
    }

    /// The daemon in front of the app at `url` (e.g. a [`RawUpstream`]).
    pub fn daemon_url(&self, url: &str, extra: &str) -> Daemon {
        Daemon::start(
            self.dir.path(),
            &config_text(url, &self.cache_dir(), "", extra),
        )
    }

    /// Like [`Sandbox::daemon`], with `cache` lines added to `[cache]`.
    pub fn daemon_cache(&self, upstream: &Upstream, cache: &str, extra: &str) -> Daemon {
        let text = config_text(&upstream.url(), &self.cache_dir(), cache, extra);
        Daemon::start(self.dir.path(), &text)
    }
}
