//! Read accessors for the status page (`crate::status`): the values the
//! scrape shows, read from the same handles.

use prometheus_client::registry::Registry;

use crate::policy::PassReason;

use super::{InvalidationSource, Metrics, RequestResult};

impl Metrics {
    /// `preloadd_requests_total{result}` now.
    pub fn requests_total(&self, result: RequestResult) -> u64 {
        self.requests[result as usize].get()
    }

    /// `preloadd_pass_requests_total{reason}` now.
    pub fn pass_total(&self, reason: PassReason) -> u64 {
        PassReason::ALL
            .iter()
            .position(|&r| r == reason)
            .map_or(0, |i| self.passes[i].get())
    }

    /// `preloadd_invalidations_total{source}` now.
    pub fn invalidations_total(&self, source: InvalidationSource) -> u64 {
        self.invalidations[source as usize].get()
    }

    /// The fetch latency histogram as the scrape shows it.
    pub fn fetch_histogram(&self) -> FetchHistogram {
        let mut r = Registry::default();
        r.register("h", "", self.fetch_seconds.clone());
        let mut text = String::new();
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &r);
        let mut h = FetchHistogram::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if let Some(le) = name
                .strip_prefix("h_bucket{le=\"")
                .and_then(|s| s.strip_suffix("\"}"))
            {
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                h.buckets.push((le, value.parse().unwrap_or(0)));
            } else if name == "h_count" {
                h.count = value.parse().unwrap_or(0);
            } else if name == "h_sum" {
                h.sum = value.parse().unwrap_or(0.0);
            }
        }
        h
    }
}

/// `preloadd_upstream_fetch_duration_seconds` at one moment.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FetchHistogram {
    /// (upper bound in seconds, cumulative count), `+Inf` last.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    /// Seconds.
    pub sum: f64,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::FetchOutcome;

    #[test]
    fn the_histogram_reads_as_the_scrape_shows_it() {
        let m = Metrics::new();
        m.fetched(FetchOutcome::Kept, Duration::from_millis(3));
        m.fetched(FetchOutcome::Kept, Duration::from_millis(40));
        let h = m.fetch_histogram();
        assert_eq!(h.count, 2);
        assert!((h.sum - 0.043).abs() < 1e-9, "{h:?}");
        assert_eq!(h.buckets.len(), super::super::FETCH_BUCKETS.len() + 1);
        assert_eq!(h.buckets[0], (0.001, 0));
        assert_eq!(h.buckets[2], (0.005, 1));
        assert_eq!(h.buckets.last(), Some(&(f64::INFINITY, 2)));
        m.request(RequestResult::Hit);
        m.pass(PassReason::NoStore);
        assert_eq!(m.requests_total(RequestResult::Hit), 1);
        assert_eq!(m.requests_total(RequestResult::Pass), 1);
        assert_eq!(m.pass_total(PassReason::NoStore), 1);
    }
}
