//! Admin endpoints under `/_preloadd/` and the invalidation webhook's
//! front door: authorization first, then the endpoint.
//!
//! On the admin listener a token is needed only when one is configured; on
//! the main listener always, and with none configured the answer is 403.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use crate::body::Body;
use crate::router::Listener;
use crate::serve::plain;
use crate::state::App;

/// Path prefix of the admin endpoints.
pub const PREFIX: &str = "/_preloadd/";

pub async fn handle(app: &Arc<App>, req: Request<Incoming>, listener: Listener) -> Response<Body> {
    let token = app.config().invalidate.token.clone();
    match (listener, token.as_deref()) {
        (Listener::Main, None) => {
            return plain(
                StatusCode::FORBIDDEN,
                "no token configured: set [invalidate] token (or token_file, or PRELOADD_TOKEN) or use the admin listener",
            )
        }
        (_, Some(token)) if !authorized(req.headers(), token) => {
            let mut res = plain(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return res;
        }
        _ => {}
    }
    match req.uri().path() {
        "/_preloadd/health" => health(app, req.method()),
        _ => plain(StatusCode::NOT_FOUND, "no such admin endpoint"),
    }
}

/// `Authorization: Bearer TOKEN`, compared in constant time.
pub fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    given.ct_eq(token.as_bytes()).into()
}

fn health(app: &App, method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed("GET, HEAD");
    }
    let body = serde_json::json!({
        "status": "ok",
        "snapshots": app.store.len(),
        "bytes": app.store.bytes(),
    });
    json(StatusCode::OK, &body)
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut res = Response::new(Body::full(format!("{value}\n")));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut res = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(authorized(&h, "s3cret"));
        assert!(!authorized(&h, "s3cre"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic s3cret"));
        assert!(!authorized(&h, "s3cret"));
    }
}
