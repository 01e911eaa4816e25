//! Reload: SIGHUP, or a change of the config file (`watch.rs`), re-reads the
//! file through the one loader (`config::load`: the same checks as at
//! start, `token_file` read again, `$PRELOADD_TOKEN` winning as it did) and
//! swaps the new config in whole (`App::set_config`).
//!
//! Nothing is torn down: a request or fetch under way keeps the config it
//! loaded (an `Arc`), the next one loads the new one, and no connection is
//! closed. Keys the daemon built something from at start (the listeners,
//! the store) keep their running value and are logged as needing a
//! restart (`keys.rs`). A file with problems changes nothing: each problem
//! is logged at error level as `FILE:LINE:COL: key ...`, the running
//! config stays.
//!
//! This module never reads a request and never touches the store.

mod keys;
mod watch;

use std::sync::{Arc, Mutex};

use crate::config::{self, Config, ConfigError};
use crate::shutdown::{Hangups, Shutdown};
use crate::state::App;

pub use keys::Changes;

/// What set a reload off, for its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Hangup,
    FileChanged,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Hangup => "SIGHUP",
            Trigger::FileChanged => "file changed",
        }
    }
}

/// How a reload ended: the label of the reload counter in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// The file was valid and is in force (possibly unchanged).
    Ok,
    /// The file could not be read or had problems; the running config stays.
    Error,
}

impl Reloaded {
    pub const ALL: [Reloaded; 2] = [Reloaded::Ok, Reloaded::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Reloaded::Ok => "ok",
            Reloaded::Error => "error",
        }
    }

    pub fn of(result: &Result<Changes, ConfigError>) -> Reloaded {
        match result {
            Ok(_) => Reloaded::Ok,
            Err(_) => Reloaded::Error,
        }
    }
}

/// One reload at a time: two that overlap (SIGHUP while the watcher
/// fires) could otherwise swap in the older reading last.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Re-reads the running config's file and, when it is valid, puts it in
/// force. Blocking (it reads files): call it off the runtime's workers.
pub fn reload(app: &App) -> Result<Changes, ConfigError> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let running = app.config_owned();
    let mut new = config::load(&running.source)?;
    let changes = keys::compare(&running, &new);
    keys::keep_running(&running, &mut new);
    fits_the_running_store(&running, &new)?;
    if new.upstream.max_fetches != running.upstream.max_fetches {
        app.fetcher.resize(new.upstream.max_fetches);
    }
    app.connect_timeout.set(new.upstream.connect_timeout);
    app.set_config(new);
    Ok(changes)
}

/// `max_object_size` is checked against the file's own `max_size` by the
/// loader; the store keeps the size it was opened with until a restart,
/// and a page larger than that could never be written.
fn fits_the_running_store(running: &Config, new: &Config) -> Result<(), ConfigError> {
    let (max, limit) = (new.cache.max_object_size, running.cache.max_size);
    if max <= limit {
        return Ok(());
    }
    Err(ConfigError::Invalid(vec![format!(
        "{}: key `cache.max_object_size`: {max} bytes is more than the running \
         `cache.max_size` ({limit} bytes), which changes only with a restart",
        running.source.display()
    )]))
}

/// [`reload`] on the blocking pool, then its log line.
pub async fn reload_logged(app: &Arc<App>, trigger: Trigger) -> Reloaded {
    // The service manager shows "reloading" until READY=1 again, whether
    // the file was applied or refused.
    crate::systemd::reloading();
    let worker = Arc::clone(app);
    let result = match tokio::task::spawn_blocking(move || reload(&worker)).await {
        Ok(result) => result,
        Err(err) => Err(ConfigError::Invalid(vec![format!("reload failed: {err}")])),
    };
    log(trigger, &result);
    crate::systemd::ready();
    let reloaded = Reloaded::of(&result);
    app.metrics.reloaded(match reloaded {
        Reloaded::Ok => crate::metrics::ReloadResult::Ok,
        Reloaded::Error => crate::metrics::ReloadResult::Error,
    });
    reloaded
}

/// One line per reload; for a refused file, first one error line per
/// problem, each naming file, line and column.
fn log(trigger: Trigger, result: &Result<Changes, ConfigError>) {
    let trigger = trigger.as_str();
    match result {
        Ok(changes) => {
            let changed = listed(&changes.applied);
            if changes.need_restart.is_empty() {
                tracing::info!(trigger, changed = %changed, "config reloaded");
            } else {
                tracing::warn!(
                    trigger,
                    changed = %changed,
                    needs_restart = %listed(&changes.need_restart),
                    "config reloaded; a changed key needs a restart and keeps its running value until then"
                );
            }
        }
        Err(err) => {
            let text = err.to_string();
            for problem in text.lines() {
                tracing::error!(trigger, "config not reloaded: {problem}");
            }
            tracing::error!(
                trigger,
                problems = text.lines().count(),
                "config not reloaded: the running config is kept"
            );
        }
    }
}

fn listed(keys: &[&str]) -> String {
    if keys.is_empty() {
        "nothing".to_string()
    } else {
        keys.join(", ")
    }
}

/// Reloads on every SIGHUP (one caught during the start is handled now)
/// and on every change of the file, until shutdown.
pub fn start(app: &Arc<App>, mut hangups: Hangups, shutdown: Shutdown) {
    let on_hangup = Arc::clone(app);
    let mut stop = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hangups.recv() => {}
                _ = stop.wait() => return,
            }
            reload_logged(&on_hangup, Trigger::Hangup).await;
        }
    });
    watch::start(app, shutdown);
}

#[cfg(test)]
mod tests;
