//! One handle every task holds to learn that the daemon is stopping, and the
//! signals that stop it (mini-redis's `shutdown.rs`).

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
}

/// Takes SIGHUP away from its default action (end the process), which would
/// stop the daemon without its drain and its index checkpoint. Operators and
/// tools (logrotate, `systemctl reload`, a closed terminal) send it expecting
/// a reload; until reload exists, each one is logged with what to do
/// instead. Call it before anything slow at start, so a SIGHUP during the
/// index scan is not fatal either.
pub fn hangup_logged() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::warn!(
                    "SIGHUP received: configuration reload is not supported yet; \
                     restart the daemon to apply a changed config (it keeps running as it is)"
                );
            }
        });
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
