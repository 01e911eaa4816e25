//! The waits of the loop between two requests, cheap enough to set up for
//! every request of a keep-alive connection: the daemon's stop and the
//! header timeout. Both leave their waker registered from one wait to the
//! next (a pending future wakes the waker it was last polled with, and a
//! connection's task has one waker for its life), and are polled again only
//! when they may have news. Polling both afresh for each request cost a
//! HIT some 330 and 290 instructions of its 5,900 (callgrind's inclusive
//! counts, `scripts/hit_instructions.sh`).

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::shutdown::Shutdown;

/// The daemon's stop, polled from the loop's waits. Its waiter is polled
/// on the first wait, and again only once the stop's channel has changed.
pub(super) struct Stopping {
    shutdown: Shutdown,
    wait: Pin<Box<dyn Future<Output = ()> + Send>>,
    polled: bool,
    seen: bool,
}

impl Stopping {
    pub(super) fn new(shutdown: Shutdown) -> Stopping {
        let mut waiting = shutdown.clone();
        Stopping {
            shutdown,
            wait: Box::pin(async move { waiting.wait().await }),
            polled: false,
            seen: false,
        }
    }

    /// True once the daemon stops, without waiting.
    pub(super) fn now(&mut self) -> bool {
        self.seen |= self.shutdown.is_triggered();
        self.seen
    }

    /// True once the daemon stops.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        if self.seen || (self.polled && !self.shutdown.has_changed()) {
            return self.seen;
        }
        self.polled = true;
        self.seen = self.wait.as_mut().poll(cx).is_ready();
        self.seen
    }
}

/// The header timeout: each head's deadline is noted (one clock read),
/// and the timer is moved to it only when it goes off at an earlier
/// head's deadline. Deadlines only grow (the timeout is fixed per
/// listener), so the timer never goes off late.
pub(super) struct HeadTimer {
    sleep: Pin<Box<Sleep>>,
    timeout: Duration,
    /// The deadline of the head being read.
    deadline: Instant,
    /// `sleep` has been polled, and holds the task's waker unless it went
    /// off.
    polled: bool,
}

impl HeadTimer {
    pub(super) fn new(timeout: Duration) -> HeadTimer {
        let now = Instant::now();
        HeadTimer {
            sleep: Box::pin(tokio::time::sleep_until(now)),
            timeout,
            deadline: now,
            polled: false,
        }
    }

    /// From now, the next head has the timeout to arrive.
    pub(super) fn start(&mut self) {
        self.deadline = Instant::now() + self.timeout;
    }

    /// True once the head being read is past its deadline.
    pub(super) fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.polled && !self.sleep.is_elapsed() {
            return false;
        }
        // The first wait, or the timer went off: at this head's deadline,
        // or at an earlier one, when it is moved on and waited for again.
        if self.sleep.deadline() != self.deadline {
            self.sleep.as_mut().reset(self.deadline);
        }
        self.polled = true;
        self.sleep.as_mut().poll(cx).is_ready()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::*;

    /// A waker that counts its wake-ups: the task a wait would wake.
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Wakes>, Waker) {
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        (Arc::clone(&wakes), Waker::from(wakes))
    }

    fn woken(wakes: &Wakes) -> usize {
        wakes.0.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn each_head_has_the_whole_timeout_from_its_own_start() {
        let (wakes, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut timer = HeadTimer::new(Duration::from_secs(10));
        timer.start();
        assert!(!timer.expired(&mut cx));
        tokio::time::advance(Duration::from_secs(4)).await;
        // The next head, due at 14 s; the timer still holds 10 s.
        timer.start();
        assert!(!timer.expired(&mut cx));
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(woken(&wakes), 1, "the timer went off at 10 s");
        assert!(
            !timer.expired(&mut cx),
            "10 s was the first head's deadline"
        );
        tokio::time::advance(Duration::from_millis(2_900)).await;
        assert!(!timer.expired(&mut cx));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(woken(&wakes), 2, "moved on to 14 s, it went off again");
        assert!(timer.expired(&mut cx));
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_does_not_come_times_out_at_its_deadline() {
        let (wakes, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut timer = HeadTimer::new(Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(30)).await;
        timer.start();
        assert!(!timer.expired(&mut cx), "timed from start, not from new");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(woken(&wakes), 1);
        assert!(timer.expired(&mut cx));
    }

    /// A connection's stop after its first wait, and what that wait's
    /// waker counts.
    fn waiting() -> (Arc<Wakes>, Waker, crate::shutdown::Trigger, Stopping) {
        let (wakes, waker) = counting();
        let (trigger, shutdown) = crate::shutdown::channel();
        let mut stopping = Stopping::new(shutdown);
        assert!(!stopping.poll(&mut Context::from_waker(&waker)));
        (wakes, waker, trigger, stopping)
    }

    #[tokio::test]
    async fn a_stop_after_the_first_wait_wakes_the_connection_and_is_seen() {
        let (wakes, waker, trigger, mut stopping) = waiting();
        let mut cx = Context::from_waker(&waker);
        assert!(!stopping.poll(&mut cx));
        trigger.trigger();
        assert_eq!(woken(&wakes), 1);
        assert!(stopping.poll(&mut cx));
        assert!(stopping.now());
    }

    #[tokio::test]
    async fn a_dropped_trigger_counts_as_a_stop() {
        let (wakes, waker, trigger, mut stopping) = waiting();
        drop(trigger);
        assert_eq!(woken(&wakes), 1);
        assert!(stopping.poll(&mut Context::from_waker(&waker)));
    }
}
