//! Every response the daemon writes itself, at the bottom of the request
//! path: a kept snapshot as a response ([`snapshot`], with the headers
//! [`prepared`] once per snapshot), and each status the daemon answers on
//! its own ([`Own`]: the one table of statuses and of the fixed texts a
//! visitor reads). Nothing here decides anything; the modules above pick
//! what to answer and this module says it.
//!
//! The texts never name internals (paths, addresses, error chains): those
//! go to the log where the decision is made.

pub mod own;
pub mod prepared;
pub mod snapshot;

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::body::Body;
use crate::key::TargetError;

pub use self::own::Own;
pub use self::snapshot::{snapshot_response, CacheStatus};

impl Own {
    /// The answer as a response: the text as `text/plain`, plus the header
    /// the status calls for (`Allow`, `WWW-Authenticate`).
    pub fn response(&self) -> Response<Body> {
        let (status, text) = self.status_and_text();
        let mut res = plain(status, &text);
        let extra: &[(header::HeaderName, &'static str)] = match self {
            Own::PreloadMethod => &[(header::ALLOW, "GET, HEAD")],
            Own::MethodNotAllowed(allow) => {
                let value = HeaderValue::from_static(allow);
                res.headers_mut().insert(header::ALLOW, value);
                &[]
            }
            Own::Unauthorized => &[(header::WWW_AUTHENTICATE, "Bearer")],
            Own::UnauthorizedReadOnly => &[
                (header::WWW_AUTHENTICATE, "Bearer"),
                (
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"preloadd\", charset=\"UTF-8\"",
                ),
            ],
            _ => &[],
        };
        for (name, value) in extra {
            res.headers_mut()
                .append(name, HeaderValue::from_static(value));
        }
        res
    }
}

impl From<&TargetError> for Own {
    /// 400 or 414 for a target refused before any upstream contact.
    fn from(err: &TargetError) -> Own {
        match err {
            TargetError::TooLong => Own::TargetTooLong,
            TargetError::Invalid(reason) => Own::BadTarget(reason),
        }
    }
}

/// A short plain-text body with its status.
fn plain(status: StatusCode, message: &str) -> Response<Body> {
    let mut res = Response::new(Body::full(format!("{message}\n")));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// A JSON answer of an admin endpoint.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut res = Response::new(Body::full(format!("{value}\n")));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_an_error_status_with_a_text() {
        let all = [
            Own::BadTarget("x"),
            Own::BadProxyTarget,
            Own::TwoHosts,
            Own::NoHost,
            Own::UnreadableBody,
            Own::BadInvalidation("field `urls`".into()),
            Own::BadQuery("limit: not a number".into()),
            Own::Unauthorized,
            Own::UnauthorizedReadOnly,
            Own::NoToken,
            Own::NotAdmin,
            Own::NoSuchEndpoint,
            Own::PreloadMethod,
            Own::MethodNotAllowed("POST"),
            Own::InvalidationTooLarge,
            Own::TargetTooLong,
            Own::InvalidationFailed,
            Own::AdminFailed,
            Own::Connect,
            Own::UpstreamUnavailable,
            Own::BadUpstreamResponse,
            Own::FetchFailed,
            Own::NotWritten,
            Own::NotDurable,
            Own::UpstreamTimeout,
            Own::NotCached,
        ];
        for own in &all {
            let res = own.response();
            assert!(res.status().as_u16() >= 400, "{own:?}");
            assert!(!own.text().is_empty(), "{own:?}");
            assert!(!own.text().contains('\n'), "{own:?}");
        }
    }

    #[test]
    fn the_status_brings_its_header() {
        let allow = Own::PreloadMethod.response();
        assert_eq!(allow.headers()[header::ALLOW], "GET, HEAD");
        let admin = Own::MethodNotAllowed("POST").response();
        assert_eq!(admin.headers()[header::ALLOW], "POST");
        let auth = Own::Unauthorized.response();
        assert_eq!(auth.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let browser = Own::UnauthorizedReadOnly.response();
        let challenges: Vec<_> = browser
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .collect();
        assert_eq!(
            challenges,
            ["Bearer", "Basic realm=\"preloadd\", charset=\"UTF-8\""]
        );
        assert!(Own::NotCached
            .response()
            .headers()
            .get(header::ALLOW)
            .is_none());
    }

    #[test]
    fn a_refused_target_is_400_or_414() {
        let long = Own::from(&TargetError::TooLong);
        assert_eq!(long.status(), StatusCode::URI_TOO_LONG);
        let bad = Own::from(&TargetError::Invalid("dot-segment"));
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(bad.text(), "bad request target: dot-segment");
    }
}
