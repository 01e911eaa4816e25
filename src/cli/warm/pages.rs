//! The requests of a warm run: each page is a GET of its preload URL on
//! the daemon's main listener, as a visitor's would be, so the daemon
//! fetches, keeps and counts it by its own rules; the answer's
//! `X-Preload-Cache` (and `X-Preload-Reason`) says what happened.
//!
//! `concurrency` workers take the next page from one shared cursor, so a
//! slow page holds up one worker, not a batch. The body of every answer is
//! read to its end (and dropped), so the keep-alive connection is reused
//! and a page counts as warmed only once the daemon has sent all of it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, USER_AGENT};
use http::{Request, StatusCode};
use http_body_util::BodyExt;

use crate::body::Body;
use crate::fetch::HttpClient;
use crate::headers::{X_PRELOAD_CACHE, X_PRELOAD_REASON};

use super::progress::{Outcome, Progress};

const USER_AGENT_VALUE: &str = concat!("preloadd-warm/", env!("CARGO_PKG_VERSION"));

/// Classifies the head of the daemon's answer. A 5xx is a failure
/// whatever else it says (an app's 500 comes back as a PASS).
pub fn outcome(status: StatusCode, headers: &HeaderMap) -> Outcome {
    if status.is_server_error() {
        return Outcome::Failed(format!("HTTP {}", status.as_u16()));
    }
    let header = |name| headers.get(name).map(|v: &http::HeaderValue| v.as_bytes());
    match header(X_PRELOAD_CACHE) {
        Some(b"MISS") => Outcome::Kept,
        Some(b"HIT") => Outcome::Warm,
        Some(b"STALE") => Outcome::Stale,
        Some(b"PASS") => Outcome::Passed(
            header(X_PRELOAD_REASON)
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .unwrap_or_else(|| "no reason given".into()),
        ),
        _ => Outcome::Failed(format!(
            "HTTP {} without X-Preload-Cache: not answered as a preload request",
            status.as_u16()
        )),
    }
}

/// The counts a run ends with.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub kept: usize,
    pub warm: usize,
    pub stale: usize,
    /// Passed pages by reason.
    pub passed: BTreeMap<String, usize>,
    pub failed: usize,
}

impl Tally {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Kept => self.kept += 1,
            Outcome::Warm => self.warm += 1,
            Outcome::Stale => self.stale += 1,
            Outcome::Passed(reason) => *self.passed.entry(reason).or_default() += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.kept += other.kept;
        self.warm += other.warm;
        self.stale += other.stale;
        self.failed += other.failed;
        for (reason, n) in other.passed {
            *self.passed.entry(reason).or_default() += n;
        }
    }

    pub fn passed_total(&self) -> usize {
        self.passed.values().sum()
    }
}

/// The running daemon's main listener.
pub struct Daemon {
    pub client: HttpClient,
    pub addr: SocketAddr,
    /// For one whole request, the body included.
    pub timeout: Duration,
}

impl Daemon {
    /// Requests one preload URL and reads its answer to the end.
    pub async fn get(&self, url: &str) -> Outcome {
        let request = match Request::get(format!("http://{}{url}", self.addr))
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(Body::Empty)
        {
            Ok(request) => request,
            Err(e) => return Outcome::Failed(format!("cannot request it: {e}")),
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("no answer: {}", crate::fetch::source_chain(&e)))?;
            let outcome = outcome(response.status(), response.headers());
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                frame.map_err(|e| format!("the answer broke off: {e}"))?;
            }
            Ok(outcome)
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(why)) => Outcome::Failed(why),
            Err(_) => Outcome::Failed(format!("no answer within {:?}", self.timeout)),
        }
    }
}

/// Requests every page, `concurrency` at a time, and counts the outcomes.
pub async fn warm_all(
    daemon: Arc<Daemon>,
    pages: Arc<Vec<String>>,
    concurrency: usize,
    progress: Arc<Progress>,
) -> Tally {
    let cursor = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, pages.len().max(1)) {
        let (daemon, pages, cursor, progress) = (
            Arc::clone(&daemon),
            Arc::clone(&pages),
            Arc::clone(&cursor),
            Arc::clone(&progress),
        );
        workers.spawn(async move {
            let mut tally = Tally::default();
            while let Some(url) = pages.get(cursor.fetch_add(1, Ordering::Relaxed)) {
                let outcome = daemon.get(url).await;
                progress.done(url, &outcome);
                tally.count(outcome);
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(tally) = workers.join_next().await {
        match tally {
            Ok(tally) => total.merge(tally),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn answer(status: u16, cache: Option<&'static str>, reason: Option<&'static str>) -> Outcome {
        let mut headers = HeaderMap::new();
        if let Some(cache) = cache {
            headers.insert(X_PRELOAD_CACHE, HeaderValue::from_static(cache));
        }
        if let Some(reason) = reason {
            headers.insert(X_PRELOAD_REASON, HeaderValue::from_static(reason));
        }
        outcome(StatusCode::from_u16(status).unwrap(), &headers)
    }

    #[test]
    fn the_cache_header_says_what_happened() {
        assert_eq!(answer(200, Some("MISS"), None), Outcome::Kept);
        assert_eq!(answer(200, Some("HIT"), None), Outcome::Warm);
        assert_eq!(answer(200, Some("STALE"), None), Outcome::Stale);
        assert_eq!(
            answer(200, Some("PASS"), Some("set-cookie")),
            Outcome::Passed("set-cookie".into())
        );
        assert_eq!(
            answer(404, Some("PASS"), Some("status")),
            Outcome::Passed("status".into())
        );
    }

    #[test]
    fn a_5xx_fails_whatever_the_cache_header_says() {
        assert_eq!(
            answer(500, Some("PASS"), Some("status")),
            Outcome::Failed("HTTP 500".into())
        );
        assert_eq!(answer(502, None, None), Outcome::Failed("HTTP 502".into()));
        assert_eq!(
            answer(504, Some("STALE"), None),
            Outcome::Failed("HTTP 504".into())
        );
    }

    #[test]
    fn an_answer_that_is_not_to_a_preload_request_fails() {
        assert!(matches!(answer(200, None, None), Outcome::Failed(_)));
        assert!(matches!(answer(400, None, None), Outcome::Failed(_)));
        assert!(matches!(
            answer(200, Some("BOGUS"), None),
            Outcome::Failed(_)
        ));
    }

    #[test]
    fn tallies_merge() {
        let mut a = Tally::default();
        a.count(Outcome::Kept);
        a.count(Outcome::Passed("status".into()));
        let mut b = Tally::default();
        b.count(Outcome::Passed("status".into()));
        b.count(Outcome::Failed("x".into()));
        b.count(Outcome::Warm);
        a.merge(b);
        assert_eq!((a.kept, a.warm, a.failed, a.passed_total()), (1, 1, 1, 2));
        assert_eq!(a.passed["status"], 2);
    }
}
