//! The access log (`[server] access_log = true`): one line per request,
//! under the tracing target `preloadd::access`, so that a filter can send
//! it elsewhere or leave it out (docs/operations.md, "Access log").
//!
//! It reads only what the final response says (its status, its body's
//! length when known, `X-Preload-Cache`, `X-Preload-Reason`): the line is
//! the same whichever module answered. Nothing is done per request when
//! the log is off.

use std::net::SocketAddr;
use std::time::Instant;

use http::{Method, Request, Response};
use http_body::Body as _;

use crate::body::Body;
use crate::headers::{X_PRELOAD_CACHE, X_PRELOAD_REASON};

/// The tracing target of the access log's lines.
pub const TARGET: &str = "preloadd::access";

/// What is known of a request when it arrives.
pub struct Begun {
    started: Instant,
    client: SocketAddr,
    method: Method,
    target: String,
}

impl Begun {
    pub fn of<B>(req: &Request<B>, client: SocketAddr) -> Begun {
        Begun {
            started: Instant::now(),
            client,
            method: req.method().clone(),
            target: req
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_string(),
        }
    }

    /// Writes the request's line, now that its response head is ready.
    pub fn log(self, res: &Response<Body>) {
        let header = |name| {
            res.headers()
                .get(name)
                .and_then(|v: &http::HeaderValue| v.to_str().ok())
                .unwrap_or("-")
        };
        let bytes = res.body().size_hint().exact();
        tracing::info!(
            target: TARGET,
            client = %self.client.ip(),
            method = %self.method,
            target = %self.target,
            status = res.status().as_u16(),
            bytes = %bytes.map_or_else(|| "-".to_string(), |b| b.to_string()),
            cache = %header(X_PRELOAD_CACHE),
            reason = %header(X_PRELOAD_REASON),
            ms = millis(self.started),
        );
    }
}

/// Milliseconds since `started`, to the microsecond.
pub fn millis(started: Instant) -> f64 {
    started.elapsed().as_micros() as f64 / 1000.0
}
