//! Which part of the daemon answers a request: admin, preload, or
//! pass-through. One match, in the order the contract gives, after the
//! requests the daemon refuses itself.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::admin;
use crate::body::Body;
use crate::invalidate::{self, writes};
use crate::key::{QueryRules, MAX_TARGET};
use crate::proxy;
use crate::serve::{self, plain};
use crate::state::App;

/// The listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Visitors (through nginx or a load balancer).
    Main,
    /// Operators and the app's hooks; token optional.
    Admin,
}

impl Listener {
    pub fn name(self) -> &'static str {
        match self {
            Listener::Main => "main",
            Listener::Admin => "admin",
        }
    }
}

pub async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
    listener: Listener,
) -> Response<Body> {
    if let Some(refused) = refused(&req) {
        return refused;
    }
    let target_len = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    if target_len > MAX_TARGET {
        return plain(StatusCode::URI_TOO_LONG, "request target too long");
    }
    let path = req.uri().path();
    if path.starts_with(admin::PREFIX) || path == app.config().invalidate.path {
        return admin::handle(&app, req, listener).await;
    }
    if listener == Listener::Admin {
        return plain(StatusCode::NOT_FOUND, "not an admin endpoint");
    }

    let config = app.config();
    let raw_target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let under_prefix = raw_target
        .strip_prefix(config.preload.prefix.as_str())
        .filter(|rest| rest.starts_with('/'));
    if under_prefix.is_some() {
        let skip = config.preload.prefix.len();
        drop(config);
        let (parts, _) = req.into_parts();
        let raw_target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        return serve::preload(&app, &parts, &raw_target[skip..]).await;
    }
    let readable = req.method() == Method::GET || req.method() == Method::HEAD;
    let snapshot_route = config.route_for(path).is_some_and(|r| r.snapshot);
    drop(config);
    if readable && snapshot_route {
        let (parts, _) = req.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        return serve::preload(&app, &parts, target).await;
    }
    if snapshot_route && !writes::is_safe(req.method()) {
        return write_through(&app, req, peer).await;
    }
    proxy::forward(&app, req, peer).await
}

/// Requests no one behind the daemon should see: with two `Host` fields
/// the host is ambiguous (400, RFC 9112 §3.2), and `CONNECT` asks for a
/// tunnel, which a reverse proxy does not open (501).
fn refused(req: &Request<Incoming>) -> Option<Response<Body>> {
    if req.method() == Method::CONNECT {
        return Some(plain(
            StatusCode::NOT_IMPLEMENTED,
            "CONNECT is not supported",
        ));
    }
    if req.headers().get_all(header::HOST).iter().nth(1).is_some() {
        return Some(plain(StatusCode::BAD_REQUEST, "more than one Host field"));
    }
    None
}

/// An unsafe request on a snapshot route: passed through, and when the app
/// accepts it, the snapshots it may have changed are dropped before the
/// answer goes on to the client.
async fn write_through(app: &Arc<App>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let request_headers = req.headers().clone();
    let res = proxy::forward(app, req, peer).await;
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
        if let Err(err) = invalidate::run(app, selector).await {
            tracing::error!(error = %err, target, "invalidation after a write failed");
        }
    }
    res
}
