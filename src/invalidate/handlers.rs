//! The two ways an HTTP request invalidates: the webhook endpoint
//! (`POST {invalidate.path}`, its body read by [`super::webhook`]) and a
//! write through a snapshot route (RFC 9111 §4.4, the rule in
//! [`super::writes`]). Both end in [`super::run`], so the answer goes out
//! only once the dropped pages are gone for good. The token is checked
//! before either is reached ([`crate::admin`] for the webhook; a write
//! through is the app's to authorize).

use std::net::SocketAddr;
use std::sync::Arc;

use http::header;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::webhook::{self, WebhookRules};
use super::writes;
use crate::body::Body;
use crate::error::Error;
use crate::fetch::pool::Held;
use crate::key::QueryRules;
use crate::metrics::InvalidationSource;
use crate::proxy;
use crate::respond::{json, Own};
use crate::state::App;
use crate::store::StoreError;

/// The largest webhook body read.
const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// `POST {invalidate.path}`: parse the body, drop what it names, answer
/// `{"invalidated": N}`.
pub async fn webhook(app: &Arc<App>, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::POST {
        return Own::MethodNotAllowed("POST").response();
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
        Err(err) if err.is::<LengthLimitError>() => return Own::InvalidationTooLarge.response(),
        Err(_) => return Own::UnreadableBody.response(),
    };
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
        Ok(Err(err)) => return Own::BadInvalidation(err.to_string()).response(),
        Err(err) => {
            tracing::error!(error = %err, "parsing an invalidation failed");
            return Own::InvalidationFailed.response();
        }
    };
    let (result, sent) = super::run_shared(app, selector, InvalidationSource::Webhook).await;
    match result {
        Ok(count) => {
            let mut body = serde_json::json!({ "invalidated": count });
            if let Some(sent) = sent {
                body["cluster"] = sent.as_str().into();
            }
            json(StatusCode::OK, &body)
        }
        Err(err @ Error::Store(StoreError::NotDurable { .. })) => {
            tracing::error!(error = %err, "invalidation not durable; answered 503 for the app to retry");
            Own::NotDurable.response()
        }
        Err(err) => {
            tracing::error!(error = %err, "invalidation failed");
            Own::InvalidationFailed.response()
        }
    }
}

/// An unsafe request on a snapshot route: passed through, and when the app
/// accepts it, the snapshots it may have changed are dropped before the
/// answer goes on to the client.
pub async fn write_through(
    app: &Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
    held: &Held,
) -> Response<Body> {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let request_headers = req.headers().clone();
    let res = proxy::forward(app, req, peer, held).await;
    let selector = {
        let config = app.config();
        let rules = QueryRules::of(&config.preload);
        writes::selector(
            &target,
            res.status(),
            &request_headers,
            res.headers(),
            rules,
        )
    };
    if let Some(selector) = selector {
        if let (Err(err), _) =
            super::run_shared(app, selector, InvalidationSource::WriteThrough).await
        {
            tracing::error!(error = %err, target, "invalidation after a write failed");
        }
    }
    res
}
