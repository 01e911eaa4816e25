//! One snapshot fetch as a record: counted in the metrics and logged as
//! one line (target `preloadd::fetch`).

use std::time::Duration;

use http::StatusCode;

use crate::body::Body;
use crate::metrics::{FetchOutcome, Metrics};
use crate::policy::PassReason;

/// What one snapshot fetch came to: counted in the metrics and logged as
/// one line (target `preloadd::fetch`; docs/operations.md, "Logging").
pub struct FetchLine<'a> {
    /// Canonical target.
    pub target: &'a str,
    /// The app's status, when it answered.
    pub status: Option<StatusCode>,
    /// The body's length, when known (read whole, or the app's length).
    pub bytes: Option<u64>,
    /// The fetch itself: from asking for a fetch slot until the head, or
    /// the whole body when it was read to be kept.
    pub took: Duration,
    pub outcome: FetchOutcome,
    /// Why it was not kept, when it was passed on.
    pub reason: Option<PassReason>,
}

impl<'a> FetchLine<'a> {
    /// A fetch that came to `outcome`, with nothing more known.
    pub fn new(target: &'a str, took: Duration, outcome: FetchOutcome) -> FetchLine<'a> {
        FetchLine {
            target,
            status: None,
            bytes: None,
            took,
            outcome,
            reason: None,
        }
    }

    /// A fetch whose answer was passed on, with `body`, for `reason`.
    pub fn passed(
        target: &'a str,
        took: Duration,
        status: StatusCode,
        body: &Body,
        reason: PassReason,
    ) -> FetchLine<'a> {
        FetchLine {
            status: Some(status),
            bytes: http_body::Body::size_hint(body).exact(),
            reason: Some(reason),
            ..FetchLine::new(target, took, FetchOutcome::Passed)
        }
    }

    /// Counts it in `metrics` and logs its line.
    pub fn record(&self, metrics: &Metrics) {
        metrics.fetched(self.outcome, self.took);
        let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        tracing::info!(
            target = %self.target,
            status = %dash(self.status.map(|s| s.as_u16().to_string())),
            bytes = %dash(self.bytes.map(|b| b.to_string())),
            ms = self.took.as_micros() as f64 / 1000.0,
            outcome = %self.outcome,
            reason = %self.reason.map_or("-", PassReason::as_str),
            "upstream fetch"
        );
    }
}
