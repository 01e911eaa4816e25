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
use crate::invalidate::handlers;
use crate::listener::Listener;
use crate::respond::{json, Own};
use crate::state::App;

pub async fn handle(app: &Arc<App>, req: Request<Incoming>, listener: Listener) -> Response<Body> {
    let token = app.config().invalidate.token.clone();
    match (listener, token.as_deref()) {
        (Listener::Main, None) => return Own::NoToken.response(),
        (_, Some(token)) if !authorized(req.headers(), token) => {
            return Own::Unauthorized.response()
        }
        _ => {}
    }
    let path = req.uri().path();
    if path == app.config().invalidate.path {
        return handlers::webhook(app, req).await;
    }
    match path {
        "/_preloadd/health" => health(app, req.method()),
        "/_preloadd/metrics" => metrics(app, &req),
        _ => Own::NoSuchEndpoint.response(),
    }
}

/// `Authorization: Bearer TOKEN`, the scheme in any case (RFC 9110 §11.1),
/// the token compared in constant time.
pub fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some((scheme, given)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().split_at_checked(b"Bearer ".len()))
    else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"Bearer ") {
        return false;
    }
    // One or more spaces part the scheme from the token (RFC 9110 §11.4).
    let given = given.trim_ascii_start();
    given.ct_eq(token.as_bytes()).into()
}

fn health(app: &App, method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return Own::MethodNotAllowed("GET, HEAD").response();
    }
    let body = serde_json::json!({
        "status": "ok",
        "snapshots": app.store.len(),
        "bytes": app.store.bytes(),
    });
    json(StatusCode::OK, &body)
}

/// `GET /_preloadd/metrics`: Prometheus text, or OpenMetrics when the
/// scraper's `Accept` asks for it.
fn metrics<B>(app: &App, req: &Request<B>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Own::MethodNotAllowed("GET, HEAD").response();
    }
    let accept = req.headers().get(header::ACCEPT).map(|v| v.as_bytes());
    let openmetrics = crate::metrics::wants_openmetrics(accept);
    let mut res = Response::new(Body::full(app.metrics.encode(&app.store, openmetrics)));
    let content_type = match openmetrics {
        true => crate::metrics::OPENMETRICS_TEXT,
        false => crate::metrics::PROMETHEUS_TEXT,
    };
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(authorized(&h, "s3cret"));
        assert!(!authorized(&h, "s3cre"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(!authorized(&h, "s3cret"));
    }
}
