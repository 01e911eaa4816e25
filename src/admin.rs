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

use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::body::Body;
use crate::error::Error;
use crate::invalidate::{self, webhook, webhook::WebhookRules};
use crate::key::QueryRules;
use crate::router::Listener;
use crate::serve::plain;
use crate::state::App;
use crate::store::StoreError;

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
    let path = req.uri().path();
    if path == app.config().invalidate.path {
        return webhook(app, req).await;
    }
    match path {
        "/_preloadd/health" => health(app, req.method()),
        _ => plain(StatusCode::NOT_FOUND, "no such admin endpoint"),
    }
}

/// Largest webhook body accepted; a larger one gets 413.
const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// `POST {invalidate.path}`: parse, apply, reply `{"invalidated": N}` once
/// the dropped pages are gone for good; 503 when the cache's file system
/// refused to make the drop durable (the pages are out of this process's
/// index all the same, and the app's hook retries: see `store::pending`).
async fn webhook(app: &Arc<App>, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::POST {
        return method_not_allowed("POST");
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match Limited::new(req.into_body(), MAX_WEBHOOK_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(err) if err.is::<LengthLimitError>() => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalidation body over 1 MiB",
            )
        }
        Err(_) => return plain(StatusCode::BAD_REQUEST, "could not read the body"),
    };
    // Off the runtime's threads: a body of 20,000 urls takes a while to
    // canonicalize, and four at once would hold up every HIT (issue 15.3).
    let config = app.config_owned();
    let parsed = tokio::task::spawn_blocking(move || {
        let rules = WebhookRules {
            preload_prefix: &config.preload.prefix,
            query: QueryRules::of(&config.preload),
            models: &config.invalidate.models,
        };
        webhook::parse(content_type.as_deref(), &body, &rules)
    })
    .await;
    let selector = match parsed {
        Ok(Ok(selector)) => selector,
        Ok(Err(err)) => return plain(StatusCode::BAD_REQUEST, &err.to_string()),
        Err(err) => {
            tracing::error!(error = %err, "parsing an invalidation failed");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalidation failed; see the daemon's log",
            );
        }
    };
    match invalidate::run(app, selector).await {
        Ok(count) => json(StatusCode::OK, &serde_json::json!({ "invalidated": count })),
        Err(err @ Error::Store(StoreError::NotDurable { .. })) => {
            tracing::error!(error = %err, "invalidation not durable; answered 503 for the app to retry");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "invalidation not durable: the cache disk refused the change; the pages are no longer served, retry later",
            )
        }
        Err(err) => {
            tracing::error!(error = %err, "invalidation failed");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalidation failed; see the daemon's log",
            )
        }
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
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut res = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

#[cfg(test)]
mod tests {
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
