//! Test support: a real upstream, the real daemon, a raw HTTP client.
pub mod body;
pub mod client;
pub mod daemon;
pub mod fs;
pub mod raw_upstream;
pub mod upstream;
pub mod webhook;

pub use body::{gunzip, sized_body, unbrotli};
pub use client::{get, request, send_raw, Conn, Reply};
pub use daemon::{config_text, Daemon};
pub use raw_upstream::RawUpstream;
pub use upstream::Upstream;

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
