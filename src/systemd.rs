//! What the daemon tells its service manager (`Type=notify` in
//! `packaging/systemd/preloadd.service`), through the `sd-notify` crate:
//! ready once it serves, reloading and ready again around a reload,
//! stopping when the drain begins, and a watchdog ping while the runtime
//! runs tasks. Every function does nothing when `$NOTIFY_SOCKET` is unset
//! (a daemon started by hand, or under another supervisor).
//!
//! It never decides anything: callers say when each state begins.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::shutdown::Shutdown;

/// Both listeners are bound and the store is open: `systemctl start`
/// returns, and units ordered after this one start. Also the end of a
/// reload (after [`reloading`]), whatever its outcome.
pub fn ready() {
    send(&[NotifyState::Ready], "READY=1");
}

/// A reload begins; send [`ready`] when it is over, applied or refused.
/// `MONOTONIC_USEC` is what `Type=notify-reload` asks for beside it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now], "RELOADING=1"),
        Err(_) => send(&[NotifyState::Reloading], "RELOADING=1"),
    }
}

/// The drain begins: systemd shows the unit as deactivating and waits for
/// the exit (within `TimeoutStopSec`).
pub fn stopping() {
    send(&[NotifyState::Stopping], "STOPPING=1");
}

/// Sends `STOPPING=1` once `shutdown` is triggered, however it was.
pub fn stopping_on(mut shutdown: Shutdown) {
    tokio::spawn(async move {
        shutdown.wait().await;
        stopping();
    });
}

/// When the service manager asks for a watchdog (`WatchdogSec=` sets
/// `$WATCHDOG_USEC`), pings it at half that interval from a runtime task
/// for as long as the process lives, so a runtime whose workers are all
/// stuck stops pinging and is restarted. Call within the runtime.
pub fn watchdog() {
    let Some(interval) = ping_interval(sd_notify::watchdog_enabled()) else {
        return;
    };
    tracing::debug!(interval_ms = interval.as_millis() as u64, "watchdog pings");
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            send(&[NotifyState::Watchdog], "WATCHDOG=1");
        }
    });
}

/// Half the watchdog timeout, as sd_watchdog_enabled(3) advises; none
/// without a timeout.
fn ping_interval(timeout: Option<Duration>) -> Option<Duration> {
    timeout
        .filter(|t| !t.is_zero())
        .map(|t| (t / 2).max(Duration::from_millis(1)))
}

/// A state the service manager did not receive is logged: a start that
/// systemd then times out on says why in the journal.
fn send(state: &[NotifyState], what: &str) {
    if let Err(err) = sd_notify::notify(state) {
        tracing::warn!(error = %err, "could not tell the service manager {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_timeout() {
        assert_eq!(
            ping_interval(Some(Duration::from_secs(30))),
            Some(Duration::from_secs(15))
        );
        assert_eq!(ping_interval(Some(Duration::ZERO)), None);
        assert_eq!(ping_interval(None), None);
        assert_eq!(
            ping_interval(Some(Duration::from_micros(1))),
            Some(Duration::from_millis(1))
        );
    }
}
