//! What a snapshot fetch comes to, as data: the types the miss path
//! produces and the shared handle's flights carry to every waiter (the
//! leader's own answer, which may be a stream, is `miss::Led`). A leaf:
//! it names what happened and decides nothing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderMap;
use http::StatusCode;

use crate::fetch::FetchLine;
use crate::metrics::FetchOutcome;
use crate::policy::PassReason;
use crate::respond::own::Own;
use crate::store::Snapshot;

/// What one fetch gives the requests that waited for it.
#[derive(Clone)]
pub enum Outcome {
    /// The same answer for every waiter.
    Shared(Shared),
    /// Not kept, streamed to the leader's visitor alone: each follower
    /// fetches the page for itself. The reason is the leader's.
    Unshared(PassReason),
}

/// A fetch's answer that every waiter gets.
#[derive(Clone)]
pub enum Shared {
    /// Kept: every waiter gets MISS, and a request joining before the
    /// flight ends (the snapshot still being written) gets HIT from it.
    /// `since` is the invalidation log's sequence number when the fetch
    /// started (`invalidate::log`): a joiner first checks that nothing
    /// invalidated since names the page.
    Kept { snapshot: Arc<Snapshot>, since: u64 },
    /// Read whole to be kept, then not kept: every waiter gets PASS with
    /// this body.
    Passed(Arc<Passed>),
    /// No usable answer from the app (502 / 504), or the snapshot could not
    /// be written with `on_write_error = "fail"` (503). Visitors read the
    /// answer's fixed text, never an error's detail (that goes to the log).
    Failed(Own),
}

impl Shared {
    /// What the fetch that gave it came to, for its metrics and log line;
    /// `took` is the fetch's own time.
    pub fn fetch_line<'a>(&self, target: &'a str, took: Duration) -> FetchLine<'a> {
        match self {
            Shared::Kept { snapshot: snap, .. } => FetchLine {
                status: StatusCode::from_u16(snap.meta.status).ok(),
                bytes: Some(snap.body.len() as u64),
                ..FetchLine::new(target, took, FetchOutcome::Kept)
            },
            Shared::Passed(p) => FetchLine {
                status: Some(p.status),
                bytes: Some(p.body.len() as u64),
                reason: Some(p.reason),
                ..FetchLine::new(target, took, FetchOutcome::Passed)
            },
            Shared::Failed(Own::UpstreamTimeout) => {
                FetchLine::new(target, took, FetchOutcome::Timeout)
            }
            Shared::Failed(_) => FetchLine::new(target, took, FetchOutcome::Error),
        }
    }
}

/// A response read whole to be kept, then not kept (an invalidation
/// overtook the fetch, the store could not take it): shared by the
/// visitors who waited for it.
pub struct Passed {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub reason: PassReason,
}

impl Passed {
    pub fn shared(
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        reason: PassReason,
    ) -> Shared {
        Shared::Passed(Arc::new(Passed {
            status,
            headers,
            body,
            reason,
        }))
    }
}
