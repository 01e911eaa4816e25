//! Admin endpoints under `/_preloadd/` and the invalidation webhook's
//! front door: authorization first, then the endpoint (health here; the
//! snapshot listing in [`crate::listing`], explain in [`crate::explain`]).
//!
//! On the admin listener a token is needed only when one is configured; on
//! the main listener always, and with none configured the answer is 403.
//! The token goes as `Authorization: Bearer TOKEN`. A browser cannot send
//! that, so the read-only GETs (health, the listing, explain, metrics, the
//! status page) also take it as the password of HTTP Basic auth, with any
//! user name; the webhook takes the bearer token only.

use std::sync::Arc;

use base64::Engine as _;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use crate::body::Body;
use crate::explain;
use crate::invalidate::handlers;
use crate::listener::Listener;
use crate::listing;
use crate::respond::{json, Own};
use crate::state::App;

pub async fn handle(app: &Arc<App>, req: Request<Incoming>, listener: Listener) -> Response<Body> {
    let (token, webhook) = {
        let config = app.config();
        let webhook = req.uri().path() == config.invalidate.path;
        (config.invalidate.token.clone(), webhook)
    };
    let read_only = !webhook && (req.method() == Method::GET || req.method() == Method::HEAD);
    match (listener, token.as_deref()) {
        (Listener::Main, None) => return Own::NoToken.response(),
        (_, Some(token)) if !authorized(req.headers(), token, read_only) => {
            return if read_only {
                Own::UnauthorizedReadOnly.response()
            } else {
                Own::Unauthorized.response()
            };
        }
        _ => {}
    }
    if webhook {
        return handlers::webhook(app, req).await;
    }
    let path = req.uri().path();
    match path {
        "/_preloadd/" => crate::status::handler::handle(app, req.method()),
        "/_preloadd/health" => health(app, req.method()),
        "/_preloadd/metrics" => metrics(app, &req),
        "/_preloadd/snapshots" => listing::handle(app, req.method(), req.uri().query()).await,
        "/_preloadd/explain" => explain::handle(app, &req).await,
        _ => Own::NoSuchEndpoint.response(),
    }
}

/// `Authorization: Bearer TOKEN`, or for a read-only request also
/// `Basic` with the token as the password (RFC 7617, any user name); the
/// scheme in any case (RFC 9110 §11.1), the token compared in constant time.
pub fn authorized(headers: &HeaderMap, token: &str, read_only: bool) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let value = value.as_bytes();
    if let Some(given) = credentials(value, b"Bearer ") {
        return given.ct_eq(token.as_bytes()).into();
    }
    if !read_only {
        return false;
    }
    let Some(encoded) = credentials(value, b"Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    // user-id ":" password; the user id cannot hold a colon.
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    decoded[colon + 1..].ct_eq(token.as_bytes()).into()
}

/// What follows `scheme` (matched in any case) and the spaces after it
/// (one or more part the scheme from the credentials, RFC 9110 §11.4).
fn credentials<'a>(value: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
    let (given, rest) = value.split_at_checked(scheme.len())?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| rest.trim_ascii())
}

fn health(app: &App, method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return Own::MethodNotAllowed("GET, HEAD").response();
    }
    let mut body = serde_json::json!({
        "status": "ok",
        "snapshots": app.store.len(),
        "bytes": app.store.bytes(),
        "rebuilding": app.store.is_rebuilding(),
    });
    if app.store.is_rebuilding() {
        // After a crash the index is rebuilt while serving: the figures
        // above count what it has read so far.
        body["rebuild_files"] = serde_json::json!(app.store.rebuild_scanned());
    }
    if let Some(node) = &app.cluster {
        body["cluster"] = serde_json::json!(node.status());
    }
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
    let now = crate::metrics::Now {
        writes_behind: app.writes_behind_now(),
        upstream_idle: app.upstreams.idle_count(),
        upstream_held: app.upstreams.held_count(),
    };
    let mut res = Response::new(Body::full(app.metrics.encode(
        &app.store,
        now,
        app.cluster_figures(),
        openmetrics,
    )));
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

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        for read_only in [false, true] {
            assert!(!authorized(&HeaderMap::new(), "s3cret", read_only));
            assert!(authorized(&with("Bearer s3cret"), "s3cret", read_only));
            assert!(authorized(&with("bearer   s3cret"), "s3cret", read_only));
            assert!(!authorized(&with("Bearer s3cre"), "s3cret", read_only));
            assert!(!authorized(&with("Bearer s3crets"), "s3cret", read_only));
            assert!(!authorized(&with("Basic s3cret"), "s3cret", read_only));
        }
    }

    #[test]
    fn basic_auth_takes_the_token_as_password_on_read_only_requests() {
        let basic = |user_pass: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(user_pass);
            with(&format!("Basic {encoded}"))
        };
        assert!(authorized(&basic("anyone:s3cret"), "s3cret", true));
        assert!(authorized(&basic(":s3cret"), "s3cret", true));
        assert!(authorized(&basic("ops:pa:ss"), "pa:ss", true));
        assert!(!authorized(&basic("anyone:s3cret"), "s3cret", false));
        assert!(!authorized(&basic("anyone:wrong"), "s3cret", true));
        assert!(!authorized(&basic("s3cret"), "s3cret", true));
        assert!(!authorized(&with("Basic !!not-base64"), "s3cret", true));
    }
}
