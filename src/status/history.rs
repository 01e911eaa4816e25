//! The recent past of the request counters: a sample of the cumulative
//! counts every [`EVERY`], kept in a bounded ring. Rates and the hit
//! ratio of an interval are differences of consecutive samples, so the
//! request path pays nothing for them.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use crate::metrics::{Metrics, RequestResult};

/// How often the sampler records the counters.
pub const EVERY: Duration = Duration::from_secs(10);
/// Samples kept: 60 intervals of [`EVERY`], ten minutes.
pub const KEPT: usize = 61;

/// The request results, in `RequestResult::ALL` order.
pub const RESULTS: usize = RequestResult::ALL.len();

/// The cumulative counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// For intervals: a monotonic instant (the wall clock may be moved).
    pub at: Instant,
    /// For labels: the daemon's clock.
    pub wall: SystemTime,
    /// `preloadd_requests_total` by `RequestResult as usize`.
    pub requests: [u64; RESULTS],
}

impl Sample {
    /// The counters now.
    pub fn of(metrics: &Metrics, wall: SystemTime) -> Sample {
        let mut requests = [0; RESULTS];
        for &result in RequestResult::ALL {
            requests[result as usize] = metrics.requests_total(result);
        }
        Sample {
            at: Instant::now(),
            wall,
            requests,
        }
    }
}

/// What happened between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// When it ended (the later sample's wall clock).
    pub end: SystemTime,
    pub seconds: f64,
    /// Requests by `RequestResult as usize`.
    pub requests: [u64; RESULTS],
}

impl Interval {
    pub fn between(earlier: &Sample, later: &Sample) -> Interval {
        let mut requests = [0; RESULTS];
        for (i, r) in requests.iter_mut().enumerate() {
            *r = later.requests[i].saturating_sub(earlier.requests[i]);
        }
        Interval {
            end: later.wall,
            seconds: later.at.saturating_duration_since(earlier.at).as_secs_f64(),
            requests,
        }
    }

    pub fn total(&self) -> u64 {
        self.requests.iter().sum()
    }

    /// Requests per second of `result`; 0 for an empty interval.
    pub fn rate(&self, result: RequestResult) -> f64 {
        if self.seconds <= 0.0 {
            return 0.0;
        }
        self.requests[result as usize] as f64 / self.seconds
    }

    /// HIT and STALE over every answer (as docs/operations.md's PromQL);
    /// `None` when nothing was asked.
    pub fn hit_ratio(&self) -> Option<f64> {
        let total = self.total();
        let hits = self.requests[RequestResult::Hit as usize]
            + self.requests[RequestResult::Stale as usize];
        (total > 0).then(|| hits as f64 / total as f64)
    }
}

/// The last [`KEPT`] samples, oldest first.
#[derive(Debug)]
pub struct History {
    ring: VecDeque<Sample>,
    cap: usize,
}

impl Default for History {
    fn default() -> History {
        History::with_capacity(KEPT)
    }
}

impl History {
    pub fn with_capacity(cap: usize) -> History {
        History {
            ring: VecDeque::with_capacity(cap),
            cap: cap.max(1),
        }
    }

    pub fn push(&mut self, sample: Sample) {
        if self.ring.len() == self.cap {
            self.ring.pop_front();
        }
        self.ring.push_back(sample);
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The intervals between consecutive samples, oldest first, and the
    /// one from the last sample to `now` (a sample not kept) when it is
    /// later than the last.
    pub fn intervals(&self, now: &Sample) -> Vec<Interval> {
        let mut out: Vec<Interval> = self
            .ring
            .iter()
            .zip(self.ring.iter().skip(1))
            .map(|(a, b)| Interval::between(a, b))
            .collect();
        if let Some(last) = self.ring.back() {
            if now.at > last.at {
                out.push(Interval::between(last, now));
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
