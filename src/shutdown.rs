//! One handle every task holds to learn that the daemon is stopping, and the
//! signals that stop it (mini-redis's `shutdown.rs`): the first SIGTERM or
//! SIGINT drains, a second one during the drain exits at once.

use tokio::sync::watch;

/// Held by tasks that must stop when the daemon stops.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// Held by whoever decides to stop.
pub struct Trigger {
    tx: watch::Sender<bool>,
}

pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger { tx }, Shutdown { rx })
}

impl Trigger {
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

impl Shutdown {
    /// Resolves once shutdown has begun (at once if it already has). A
    /// dropped trigger counts as shutdown.
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|stopping| *stopping).await;
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// True when the stop's channel holds news this handle has not seen:
    /// shutdown has begun, or the trigger was dropped. Cheaper than
    /// polling [`Shutdown::wait`]'s future, and false until then.
    pub fn has_changed(&self) -> bool {
        !matches!(self.rx.has_changed(), Ok(false))
    }
}

/// SIGHUP, taken away from its default action (end the process), which
/// would stop the daemon without its drain and its index checkpoint.
/// Operators and tools (`systemctl reload`, logrotate, a closed terminal)
/// send it to have the config re-read (`reload`). Create it before anything
/// slow at start: a SIGHUP during the index scan is then neither fatal nor
/// lost, but received once the daemon serves.
pub struct Hangups {
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Hangups {
    /// Call within the runtime.
    pub fn new() -> std::io::Result<Hangups> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Hangups {
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Hangups {})
    }

    /// Resolves on the next SIGHUP (several received since the last call
    /// count as one).
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            if self.hup.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}

/// The exit code of a stop cut short by a second SIGTERM or SIGINT. Not 0:
/// requests in flight were cut off and the index checkpoint may be missing,
/// so a supervisor should see a stop that was not clean. Not 2 either, which
/// means a usage or configuration error: this is 1, a runtime failure.
pub const FORCED_EXIT: i32 = 1;

/// SIGTERM and SIGINT, listened for from creation on: a second signal is
/// seen however soon it follows the first.
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Takes SIGTERM and SIGINT away from their default action (end the
    /// process). Call within the runtime.
    pub fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves on the next SIGTERM or SIGINT, with its name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Stops the daemon on signals: the first SIGTERM or SIGINT begins the
/// drain (`trigger`); a second one, while it lasts, ends the process at
/// once with [`FORCED_EXIT`], as an operator pressing Ctrl-C twice expects.
///
/// Exiting then loses nothing that was promised: a snapshot is published by
/// renaming a complete, fsynced temp file (a write cut short leaves only the
/// temp file, which the next start's header scan removes), and an
/// invalidation is durable before its reply. What the drain would have
/// added is the index checkpoint (a start consumes the checkpoint before
/// it serves, so none is ever stale); without one the next start reads
/// every snapshot's header, as after a crash. One line is logged at warn
/// before the exit.
pub fn stop_on_signals(trigger: Trigger) -> std::io::Result<()> {
    let mut signals = Signals::new()?;
    tokio::spawn(async move {
        let first = signals.recv().await;
        tracing::info!(signal = first, "stopping: draining connections");
        trigger.trigger();
        let second = signals.recv().await;
        tracing::warn!(
            signal = second,
            code = FORCED_EXIT,
            "second signal during the drain: exiting now, cutting open connections; \
             without an index checkpoint the next start reads every snapshot's header"
        );
        std::process::exit(FORCED_EXIT);
    });
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    match Signals::new() {
        Ok(mut signals) => {
            signals.recv().await;
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
