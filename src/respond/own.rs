//! The one table of the statuses the daemon answers on its own, with the
//! fixed text a visitor reads for each. A leaf, so that any module can
//! name an answer; [`super`] turns one into a response.

use std::borrow::Cow;

use http::StatusCode;

/// An answer of the daemon's own, not the app's. (A request head over
/// 64 KiB or 100 fields gets hyper's 431 before any of this runs.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Own {
    /// 400: a preload target that fails validation (the reason says why).
    BadTarget(&'static str),
    /// 400: a pass-through target the upstream URL cannot be joined with.
    BadProxyTarget,
    /// 400: two `Host` fields (RFC 9112 §3.2).
    TwoHosts,
    /// 400: an HTTP/1.1 request without a `Host` field (RFC 9112 §3.2).
    NoHost,
    /// 400: an invalidation body that could not be read.
    UnreadableBody,
    /// 400: an invalidation body that does not parse (the text names the field).
    BadInvalidation(String),
    /// 400: an admin GET's query that does not parse (the text names the
    /// parameter).
    BadQuery(String),
    /// 401, with `WWW-Authenticate: Bearer`.
    Unauthorized,
    /// 401 for a read-only admin GET, which also takes Basic auth: both
    /// challenges, so that a browser asks for the password.
    UnauthorizedReadOnly,
    /// 403: the admin endpoints on the main listener with no token set.
    NoToken,
    /// 404 on the admin listener for a path that is not an admin endpoint.
    NotAdmin,
    /// 404 under `/_preloadd/`.
    NoSuchEndpoint,
    /// 405 for a preload request that is not GET or HEAD.
    PreloadMethod,
    /// 405 on an admin endpoint; the value is `Allow`.
    MethodNotAllowed(&'static str),
    /// 413: an invalidation body over 1 MiB.
    InvalidationTooLarge,
    /// 414: a request target over 8 KiB.
    TargetTooLong,
    /// 500: an invalidation that failed for a reason the log gives.
    InvalidationFailed,
    /// 500: an admin GET that failed for a reason the log gives.
    AdminFailed,
    /// 501: `CONNECT`.
    Connect,
    /// 502: the app could not be reached.
    UpstreamUnavailable,
    /// 502: the app's answer cannot be used.
    BadUpstreamResponse,
    /// 502: the task fetching a snapshot ended without an answer.
    FetchFailed,
    /// 503: the snapshot could not be written, with `on_write_error = "fail"`.
    NotWritten,
    /// 503: the disk refused an invalidation; the app should retry.
    NotDurable,
    /// 504: the app was too slow, or no fetch slot came free in time.
    UpstreamTimeout,
    /// 504: `Cache-Control: only-if-cached` and nothing cached.
    NotCached,
}

impl Own {
    /// The one table: each answer's status and the text a visitor reads.
    pub(super) fn status_and_text(&self) -> (StatusCode, Cow<'static, str>) {
        use StatusCode as S;
        let (status, text): (StatusCode, &'static str) = match self {
            Own::BadTarget(reason) => {
                let text = format!("bad request target: {reason}");
                return (S::BAD_REQUEST, text.into());
            }
            Own::BadInvalidation(text) => return (S::BAD_REQUEST, text.clone().into()),
            Own::BadQuery(text) => return (S::BAD_REQUEST, text.clone().into()),
            Own::BadProxyTarget => (S::BAD_REQUEST, "bad request target"),
            Own::TwoHosts => (S::BAD_REQUEST, "more than one Host field"),
            Own::NoHost => (S::BAD_REQUEST, "missing Host field"),
            Own::UnreadableBody => (S::BAD_REQUEST, "could not read the body"),
            Own::Unauthorized => (S::UNAUTHORIZED, "missing or wrong bearer token"),
            Own::UnauthorizedReadOnly => (
                S::UNAUTHORIZED,
                "missing or wrong token (bearer, or the password of Basic auth)",
            ),
            Own::NoToken => (
                S::FORBIDDEN,
                "no token configured: set [invalidate] token (or token_file, or PRELOADD_TOKEN) or use the admin listener",
            ),
            Own::NotAdmin => (S::NOT_FOUND, "not an admin endpoint"),
            Own::NoSuchEndpoint => (S::NOT_FOUND, "no such admin endpoint"),
            Own::PreloadMethod => (S::METHOD_NOT_ALLOWED, "only GET and HEAD are allowed here"),
            Own::MethodNotAllowed(_) => (S::METHOD_NOT_ALLOWED, "method not allowed"),
            Own::InvalidationTooLarge => (S::PAYLOAD_TOO_LARGE, "invalidation body over 1 MiB"),
            Own::TargetTooLong => (S::URI_TOO_LONG, "request target too long"),
            Own::InvalidationFailed => (
                S::INTERNAL_SERVER_ERROR,
                "invalidation failed; see the daemon's log",
            ),
            Own::AdminFailed => (
                S::INTERNAL_SERVER_ERROR,
                "admin request failed; see the daemon's log",
            ),
            Own::Connect => (S::NOT_IMPLEMENTED, "CONNECT is not supported"),
            Own::UpstreamUnavailable => (S::BAD_GATEWAY, "upstream unavailable"),
            Own::BadUpstreamResponse => (S::BAD_GATEWAY, "bad upstream response"),
            Own::FetchFailed => (S::BAD_GATEWAY, "snapshot fetch failed"),
            Own::NotWritten => (S::SERVICE_UNAVAILABLE, "snapshot could not be written"),
            Own::NotDurable => (
                S::SERVICE_UNAVAILABLE,
                "invalidation not durable: the cache disk refused the change; the pages are no longer served, retry later",
            ),
            Own::UpstreamTimeout => (S::GATEWAY_TIMEOUT, "upstream timeout"),
            Own::NotCached => (S::GATEWAY_TIMEOUT, "not cached (only-if-cached)"),
        };
        (status, text.into())
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_text().0
    }

    /// The visitor's text, without the trailing newline the body has.
    pub fn text(&self) -> Cow<'static, str> {
        self.status_and_text().1
    }
}
