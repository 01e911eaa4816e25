//! `preloadd run`: load the config, open the store, serve until SIGTERM
//! (a second SIGTERM or SIGINT during the drain exits at once: `shutdown`),
//! reloading the config on SIGHUP or a change of the file (`reload`).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::listener::Listener;
use crate::reload;
use crate::server::Daemon;
use crate::shutdown;
use crate::systemd;

pub fn run(config_path: &Path) -> Result<(), Error> {
    let begun = std::time::Instant::now();
    let config = super::preflight::load(config_path)?;
    super::runtime()?.block_on(async {
        let hangups = shutdown::Hangups::new()?;
        let daemon = Daemon::start(config).await?;
        // Before the start line: a supervisor that waits for it may stop
        // the daemon at once, and must get the drain.
        let (trigger, stop) = shutdown::channel();
        shutdown::stop_on_signals(trigger)?;
        reload::start(&daemon.app, hangups, stop.clone());
        log_start(config_path, &daemon, begun);
        systemd::ready();
        systemd::stopping_on(stop.clone());
        systemd::watchdog();
        daemon.serve(stop).await;
        Ok(())
    })
}

/// The one line that says what this daemon is: which build, which files,
/// how much it found, where it talks. Paths are absolute, so that the
/// default `./preload-cache` reads as the directory it is; the token is
/// only said to be set, never shown. Both sockets are bound by now.
fn log_start(config_path: &Path, daemon: &Daemon, begun: std::time::Instant) {
    let config = daemon.app.config();
    let http_list = |kind| {
        let addrs: Vec<String> = daemon.addrs(kind).map(|a| format!("http://{a}")).collect();
        if addrs.is_empty() {
            "off".to_string()
        } else {
            addrs.join(",")
        }
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %absolute(config_path).display(),
        cache_dir = %absolute(&config.cache.dir).display(),
        snapshots = daemon.app.store.len(),
        upstream = %config.upstream.url.to_string().trim_end_matches('/'),
        listen = %http_list(Listener::Main),
        admin = %http_list(Listener::Admin),
        token = if config.invalidate.token.is_some() { "set" } else { "not set" },
        workers = tokio::runtime::Handle::current().metrics().num_workers(),
        start_ms = begun.elapsed().as_millis() as u64,
        "preloadd started"
    );
}

/// `path` resolved (symlinks too) when it exists, else made absolute.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}
