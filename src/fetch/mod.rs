//! The daemon's clients to the app: anonymous snapshot fetches with their
//! timeouts and the `max_fetches` limit, over a keep-alive pool; and the
//! pass-through proxy's connections (`pool`), each visitor connection
//! keeping its own.
//!
//! A fetch reads a body only when its head says it may be kept: a response
//! that will be passed on is handed back unread, to be streamed to its
//! visitor with back-pressure, never held whole in memory.
//!
//! A fetch never forwards a visitor's Cookie or Authorization: it sends only
//! `Host`, `User-Agent`, `X-Preload-Fetch` and the route's `vary` headers.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

use crate::body::Body;
use crate::config::Config;
use crate::connector::{ConnectTimeout, Connector};
use crate::headers::{self, X_PRELOAD_FETCH};
use crate::metrics::FetchOutcome;
use crate::policy::PassReason;
use crate::respond::own::Own;

mod line;
pub mod pool;
mod shelf;

pub use self::line::FetchLine;

/// The pooled HTTP/1.1 client to the app.
pub type HttpClient = Client<Connector, Body>;

const USER_AGENT_VALUE: &str = concat!("preloadd/", env!("CARGO_PKG_VERSION"));

/// A client whose connect timeout stays as given.
pub fn client(connect_timeout: Duration) -> HttpClient {
    client_with(ConnectTimeout::new(connect_timeout))
}

/// Builds the fetcher's client; `connect_timeout` is read at each connect
/// (a reload sets it).
pub fn client_with(connect_timeout: ConnectTimeout) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(Connector::new(connect_timeout))
}

/// Why a fetch produced no response to keep or pass on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    #[error("upstream timed out")]
    Timeout,
    #[error("no fetch slot free within fetch_timeout (all max_fetches busy)")]
    NoSlot,
    #[error("invalid upstream response: {0}")]
    Invalid(String),
}

impl FetchError {
    /// What it counts as in the metrics.
    pub fn outcome(&self) -> FetchOutcome {
        match self {
            FetchError::Timeout | FetchError::NoSlot => FetchOutcome::Timeout,
            FetchError::Unreachable(_) | FetchError::Invalid(_) => FetchOutcome::Error,
        }
    }

    /// What a visitor is told (SPEC §4): 504 for a timeout, 502 for
    /// everything else, with a short fixed text. The detail (the error
    /// chain names addresses and system calls) is for the log only.
    pub fn answer(&self) -> Own {
        match self {
            FetchError::Unreachable(_) => Own::UpstreamUnavailable,
            FetchError::Timeout | FetchError::NoSlot => Own::UpstreamTimeout,
            FetchError::Invalid(_) => Own::BadUpstreamResponse,
        }
    }

    fn from_client(err: hyper_util::client::legacy::Error) -> FetchError {
        if err.is_connect() {
            FetchError::Unreachable(source_chain(&err))
        } else {
            FetchError::Invalid(source_chain(&err))
        }
    }
}

/// An error and its sources as one line, for the log.
pub fn source_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A fetched response: its head and its body, read whole when it may be
/// kept and fits `max_object_size`.
pub struct Fetched {
    pub parts: http::response::Parts,
    pub body: FetchedBody,
}

pub enum FetchedBody {
    /// Read whole: it may be kept.
    Complete(Bytes),
    /// Found larger than `max_object_size` while reading (the app sent no
    /// length): what was read, then the rest unread.
    TooLarge(VecDeque<Bytes>, Incoming),
    /// Not to be kept, as its head says (a PASS reason, or a
    /// `Content-Length` over `max_object_size`): left unread, to stream.
    Unread(PassReason, Incoming),
}

/// What one snapshot fetch asks for.
pub struct FetchRequest<'a> {
    /// Canonical target.
    pub target: &'a str,
    /// The route's vary headers with the values the visitor sent.
    pub vary: &'a [(HeaderName, HeaderValue)],
}

/// Snapshot fetches to the app, at most `max_fetches` at once.
pub struct Fetcher {
    client: HttpClient,
    limit: Arc<Semaphore>,
    /// The `max_fetches` the semaphore is being brought to.
    slots: std::sync::Mutex<usize>,
}

/// Per-fetch settings, read from the current config by the caller so that a
/// reload takes effect on the next fetch.
pub struct FetchSettings<'a> {
    pub upstream: &'a Uri,
    pub host: &'a str,
    pub fetch_timeout: Duration,
    pub max_object_size: u64,
}

impl<'a> FetchSettings<'a> {
    /// The settings in force in `config`.
    pub fn of(config: &'a Config) -> FetchSettings<'a> {
        FetchSettings {
            upstream: &config.upstream.url,
            host: &config.upstream.host,
            fetch_timeout: config.upstream.fetch_timeout,
            max_object_size: config.cache.max_object_size,
        }
    }
}

/// The detail of a failed fetch, for the operator: which page, which app,
/// and the whole error chain.
pub fn log_failure(upstream: &Uri, target: &str, err: &FetchError) {
    tracing::warn!(
        target = %target,
        upstream = %upstream,
        error = %err,
        "snapshot fetch failed"
    );
}

impl Fetcher {
    pub fn new(client: HttpClient, max_fetches: usize) -> Fetcher {
        let slots = max_fetches.max(1);
        Fetcher {
            client,
            limit: Arc::new(Semaphore::new(slots)),
            slots: std::sync::Mutex::new(slots),
        }
    }

    /// Brings the number of fetch slots to `max_fetches` (reload). More
    /// slots are free at once. Fewer: the surplus is taken out of the
    /// semaphore as fetches in flight give theirs back, by a task that
    /// waits in line like a fetch; no fetch is cut short. Resizes add up,
    /// so a second reload before the first has taken effect is exact too.
    pub fn resize(&self, max_fetches: usize) {
        let new = max_fetches.max(1);
        let mut slots = self.slots.lock().expect("fetch slot count poisoned");
        let old = std::mem::replace(&mut *slots, new);
        if new > old {
            self.limit.add_permits(new - old);
        } else if new < old {
            let surplus = u32::try_from(old - new).unwrap_or(u32::MAX);
            let limit = Arc::clone(&self.limit);
            tokio::spawn(async move {
                if let Ok(taken) = limit.acquire_many_owned(surplus).await {
                    taken.forget();
                }
            });
        }
    }

    /// Fetch slots free now (for tests and metrics).
    pub fn free_slots(&self) -> usize {
        self.limit.available_permits()
    }

    /// Fetches `req.target` anonymously. `pass` reads the head and says
    /// why the response must not be kept, if it must not: its body is then
    /// left unread. The whole fetch, the wait for a fetch slot included, is
    /// bounded by `fetch_timeout`; a body handed back unread streams on
    /// past it, as a pass-through body does.
    pub async fn fetch(
        &self,
        req: FetchRequest<'_>,
        settings: &FetchSettings<'_>,
        pass: impl FnOnce(&http::response::Parts) -> Option<PassReason>,
    ) -> Result<Fetched, FetchError> {
        let deadline = Instant::now() + settings.fetch_timeout;
        // tokio's semaphore grants permits in the order they were asked
        // for, so a herd for one slow page cannot starve the others; and a
        // request that waited its whole budget is a 504, not a late MISS.
        let _permit = match timeout_at(deadline, self.limit.acquire()).await {
            Ok(permit) => permit.expect("fetch semaphore is never closed"),
            Err(_) => return Err(FetchError::NoSlot),
        };
        let request = build_request(req, settings)?;
        let fetch = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(FetchError::from_client)?;
            if headers::ambiguous_length(response.headers()) {
                return Err(FetchError::Invalid(headers::AMBIGUOUS_LENGTH.into()));
            }
            let (parts, body) = response.into_parts();
            if let Some(reason) = pass(&parts) {
                return Ok(Fetched {
                    parts,
                    body: FetchedBody::Unread(reason, body),
                });
            }
            let body = read_limited(&parts, body, settings.max_object_size).await?;
            Ok(Fetched { parts, body })
        };
        timeout_at(deadline, fetch)
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }
}

fn build_request(
    req: FetchRequest<'_>,
    settings: &FetchSettings<'_>,
) -> Result<Request<Body>, FetchError> {
    let uri = upstream_uri(settings.upstream, req.target)
        .map_err(|e| FetchError::Invalid(format!("target {}: {e}", req.target)))?;
    let mut request = Request::builder().method(Method::GET).uri(uri);
    let headers = request.headers_mut().expect("builder has no error yet");
    if let Ok(host) = HeaderValue::from_str(settings.host) {
        headers.insert(HOST, host);
    }
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    headers.insert(X_PRELOAD_FETCH, HeaderValue::from_static("1"));
    for (name, value) in req.vary {
        headers.append(name.clone(), value.clone());
    }
    request
        .body(Body::Empty)
        .map_err(|e| FetchError::Invalid(e.to_string()))
}

/// `scheme://authority` of the app joined with an origin-form target.
pub fn upstream_uri(upstream: &Uri, target: &str) -> Result<Uri, http::Error> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = upstream.scheme().cloned();
    parts.authority = upstream.authority().cloned();
    parts.path_and_query = Some(target.parse()?);
    Ok(Uri::from_parts(parts)?)
}

async fn read_limited(
    parts: &http::response::Parts,
    mut body: Incoming,
    max: u64,
) -> Result<FetchedBody, FetchError> {
    if content_length(&parts.headers).is_some_and(|len| len > max) {
        return Ok(FetchedBody::Unread(PassReason::TooLarge, body));
    }
    let mut chunks = VecDeque::new();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| FetchError::Invalid(source_chain(&e)))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        chunks.push_back(data);
        if total > max {
            return Ok(FetchedBody::TooLarge(chunks, body));
        }
    }
    Ok(FetchedBody::Complete(concat(chunks, total)))
}

/// The `Content-Length` the app declared, if any.
pub fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

fn concat(mut chunks: VecDeque<Bytes>, total: u64) -> Bytes {
    if chunks.len() == 1 {
        return chunks.pop_front().unwrap_or_default();
    }
    let mut buf = Vec::with_capacity(total as usize);
    for chunk in chunks {
        buf.extend_from_slice(&chunk);
    }
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    #[tokio::test]
    async fn resize_adds_slots_at_once_and_takes_them_back_as_fetches_end() {
        let client = client(Duration::from_secs(1));
        let fetcher = Fetcher::new(client, 4);
        fetcher.resize(6);
        assert_eq!(fetcher.free_slots(), 6);
        let in_flight = fetcher.limit.acquire_many(5).await.unwrap();
        fetcher.resize(2);
        tokio::task::yield_now().await;
        assert_eq!(fetcher.free_slots(), 0, "5 in flight, 2 allowed: none free");
        fetcher.resize(3);
        drop(in_flight);
        tokio::task::yield_now().await;
        assert_eq!(fetcher.free_slots(), 3);
    }

    #[test]
    fn joins_upstream_and_target() {
        let up: Uri = "http://127.0.0.1:8000".parse().unwrap();
        let uri = upstream_uri(&up, "/a/b?c=1").unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:8000/a/b?c=1");
    }

    #[test]
    fn timeouts_are_504_and_the_rest_502() {
        let status = |e: FetchError| e.answer().status();
        assert_eq!(status(FetchError::Timeout), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(status(FetchError::NoSlot), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(
            status(FetchError::Invalid("x".into())),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status(FetchError::Unreachable("x".into())),
            StatusCode::BAD_GATEWAY
        );
    }

    #[test]
    fn visitors_get_a_fixed_text_without_the_detail() {
        let detail = "client error (Connect): tcp connect error: 127.0.0.1:9";
        let text = |e: FetchError| e.answer().text();
        assert_eq!(
            text(FetchError::Unreachable(detail.into())),
            "upstream unavailable"
        );
        assert_eq!(
            text(FetchError::Invalid(detail.into())),
            "bad upstream response"
        );
        assert_eq!(text(FetchError::Timeout), "upstream timeout");
        assert_eq!(text(FetchError::NoSlot), "upstream timeout");
    }
}
