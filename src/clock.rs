//! The daemon's wall clock. Everything that reads the time of day (a
//! snapshot's age and expiry, grace, soft marks, the schedules and their
//! catch-up at start, the sweep) asks the one `Clock` in `App` rather than
//! `SystemTime::now()`, so that a test can drive the time of day instead of
//! sleeping through it on a loaded machine.
//!
//! In production it is the system clock: `now` is one relaxed atomic load
//! (the pin, zero) in front of `SystemTime::now()`.
//!
//! TEST ONLY, not an operator setting (and not in docs/configuration.md):
//! with `PRELOADD_TEST_CLOCK=FILE` in its environment, the daemon's wall
//! clock is pinned at the instant FILE holds (milliseconds since the Unix
//! epoch) and moves only when the test writes another instant to FILE and
//! sends SIGUSR2; the daemon then logs `test clock set ms=N`. Timeouts and
//! other durations (`Instant`, tokio timers) run on the real clock as ever.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// The environment variable that pins the clock (tests only).
pub const TEST_CLOCK_ENV: &str = "PRELOADD_TEST_CLOCK";

pub struct Clock {
    /// 0: the system clock. Otherwise the pinned instant, in ms since the
    /// Unix epoch.
    pinned_ms: AtomicU64,
    /// Sent the pin each time it moves: whoever waits for an instant of
    /// the wall clock re-reads it.
    moved: watch::Sender<u64>,
    /// Where the pin is read from (the test clock only).
    file: Option<PathBuf>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock {
            pinned_ms: AtomicU64::new(0),
            moved: watch::Sender::new(0),
            file: None,
        }
    }

    /// The system clock, or the test clock `PRELOADD_TEST_CLOCK` names.
    pub fn from_env() -> Result<Clock, String> {
        let Some(file) = std::env::var_os(TEST_CLOCK_ENV) else {
            return Ok(Clock::system());
        };
        let clock = Clock {
            file: Some(PathBuf::from(file)),
            ..Clock::system()
        };
        clock.reload()?;
        Ok(clock)
    }

    /// The time of day now.
    #[inline]
    pub fn now(&self) -> SystemTime {
        match self.pinned_ms.load(Ordering::Relaxed) {
            0 => SystemTime::now(),
            ms => UNIX_EPOCH + Duration::from_millis(ms),
        }
    }

    pub fn utc(&self) -> DateTime<Utc> {
        DateTime::from(self.now())
    }

    /// Re-reads the test clock's file and moves the pin there; returns the
    /// pin. The system clock has no file: nothing moves.
    pub fn reload(&self) -> Result<u64, String> {
        let Some(file) = &self.file else {
            return Ok(0);
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("{TEST_CLOCK_ENV}: {}: {e}", file.display()))?;
        let ms: u64 = text
            .trim()
            .parse()
            .ok()
            .filter(|&ms| ms > 0)
            .ok_or_else(|| {
                format!(
                    "{TEST_CLOCK_ENV}: {}: not ms since the epoch",
                    file.display()
                )
            })?;
        self.pinned_ms.store(ms, Ordering::Relaxed);
        self.moved.send_replace(ms);
        Ok(ms)
    }

    /// Waits until the wall clock reads `when` or later: by a timer on the
    /// system clock, or until the test moves the pin past it.
    pub async fn sleep_until(&self, when: SystemTime) {
        let mut moved = self.moved.subscribe();
        loop {
            let left = match when.duration_since(self.now()) {
                Ok(left) if !left.is_zero() => left,
                _ => return,
            };
            tokio::select! {
                _ = tokio::time::sleep(left) => {
                    if self.file.is_none() {
                        return;
                    }
                }
                _ = moved.changed() => {}
            }
        }
    }

    /// Resolves when the test clock moves; never on the system clock (for
    /// periodic work that looks at the time of day, such as the sweep).
    pub async fn moved(&self) {
        let mut moved = self.moved.subscribe();
        if self.file.is_none() || moved.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// With the test clock: follows SIGUSR2 (re-reads the file) from now
    /// on. Call it before the start line, so no test signals too early.
    pub fn follow_test_signal(clock: &Arc<Clock>) -> std::io::Result<()> {
        if clock.file.is_none() {
            return Ok(());
        }
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut usr2 = signal(SignalKind::user_defined2())?;
            let clock = Arc::clone(clock);
            tokio::spawn(async move {
                while usr2.recv().await.is_some() {
                    match clock.reload() {
                        Ok(ms) => tracing::info!(ms, "test clock set ms={ms}"),
                        Err(err) => tracing::error!(error = %err, "test clock not moved"),
                    }
                }
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_the_system_time() {
        let clock = Clock::system();
        let before = SystemTime::now();
        let now = clock.now();
        assert!(now >= before && now <= SystemTime::now());
        assert_eq!(clock.reload(), Ok(0));
    }

    #[tokio::test]
    async fn a_pinned_clock_moves_only_when_its_file_does_and_wakes_a_waiter() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("clock");
        std::fs::write(&file, "1000000").expect("write");
        let clock = Arc::new(Clock {
            file: Some(file.clone()),
            ..Clock::system()
        });
        assert_eq!(clock.reload(), Ok(1_000_000));
        let at = UNIX_EPOCH + Duration::from_millis(1_000_000);
        assert_eq!(clock.now(), at);
        let waiter = {
            let clock = Arc::clone(&clock);
            tokio::spawn(async move { clock.sleep_until(at + Duration::from_secs(3600)).await })
        };
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "an hour of wall clock has not passed"
        );
        std::fs::write(&file, "4600000").expect("write");
        clock.reload().expect("reload");
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken by the move")
            .expect("waiter");
        std::fs::write(&file, "soon").expect("write");
        assert!(clock.reload().is_err());
        assert_eq!(
            clock.now(),
            at + Duration::from_secs(3600),
            "a bad file moves nothing"
        );
    }
}
