//! Which part of the daemon answers a request: one decision (`route`),
//! in the order the contract gives, and one `match` that hands the request
//! on. The requests the daemon refuses itself come first.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, Method, Request, Response};
use hyper::body::Incoming;
use tracing::level_filters::LevelFilter;
use tracing::Instrument;

use crate::access;
use crate::admin;
use crate::body::Body;
use crate::config::{Config, ADMIN_PREFIX};
use crate::fetch::pool::Held;
use crate::invalidate::{handlers, writes};
use crate::key::MAX_TARGET;
use crate::listener::Listener;
use crate::preload;
use crate::proxy;
use crate::respond::Own;
use crate::state::App;

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// Answered by the daemon itself.
    Refused(Own),
    /// `/_preloadd/*` and the invalidation webhook.
    Admin,
    /// A preload request; the upstream target starts this many bytes into
    /// the request target (after `[preload] prefix`, or 0 on a snapshot
    /// route's own path).
    Preload(usize),
    /// An unsafe method on a snapshot route: passed through, then the
    /// pages it may have changed are dropped.
    WriteThrough,
    /// Everything else, streamed to the app.
    Proxy,
}

pub async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
    listener: Listener,
    held: &Held,
) -> Response<Body> {
    let (route, access_log) = {
        let config = app.config();
        (route(&req, &config, listener), config.server.access_log)
    };
    // The request's span and access line only when they are wanted, and
    // then boxed: the future of every other request stays as small as
    // before (measured: docs/benchmarks.md, "Metrics and logs").
    if is_observed(access_log) {
        return Box::pin(observed(app, req, route, peer, listener, access_log, held)).await;
    }
    answer(app, req, route, peer, listener, held).await
}

/// True when each request gets its access line (`access_log`) or its
/// debug span: such requests are answered by [`observed`], and the
/// connection loop leaves their HITs to it (`conn::hit`).
pub fn is_observed(access_log: bool) -> bool {
    access_log || LevelFilter::current() >= LevelFilter::DEBUG
}

/// [`answer`] in a `request` span (at debug), with its access line.
async fn observed(
    app: Arc<App>,
    req: Request<Incoming>,
    route: Route,
    peer: SocketAddr,
    listener: Listener,
    access_log: bool,
    held: &Held,
) -> Response<Body> {
    let begun = access_log.then(|| access::Begun::of(&req, peer));
    let span = tracing::debug_span!("request", method = %req.method(), target = %req.uri());
    let res = answer(app, req, route, peer, listener, held)
        .instrument(span)
        .await;
    if let Some(begun) = begun {
        begun.log(&res);
    }
    res
}

async fn answer(
    app: Arc<App>,
    req: Request<Incoming>,
    route: Route,
    peer: SocketAddr,
    listener: Listener,
    held: &Held,
) -> Response<Body> {
    // The rare routes' futures boxed: each request's future is as large as
    // the largest it may run, and hyper moves it into place.
    match route {
        Route::Refused(own) => own.response(),
        Route::Admin => Box::pin(admin::handle(&app, req, listener)).await,
        Route::Preload(skip) => {
            let (parts, _) = req.into_parts();
            let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
            preload::handle(&app, &parts, &target[skip..]).await
        }
        Route::WriteThrough => Box::pin(handlers::write_through(&app, req, peer, held)).await,
        Route::Proxy => proxy::forward(&app, req, peer, held).await,
    }
}

fn route<B>(req: &Request<B>, config: &Config, listener: Listener) -> Route {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let hosts = match (hosts.next(), hosts.next()) {
        (None, _) => 0,
        (Some(_), None) => 1,
        (Some(_), Some(_)) => 2,
    };
    let asked = Asked {
        method: req.method(),
        hosts,
        http11: req.version() == http::Version::HTTP_11,
        target: req.uri().path_and_query().map_or("/", |pq| pq.as_str()),
        path: req.uri().path(),
    };
    route_of(&asked, config, listener)
}

/// What [`route_of`] decides on: the request line and its `Host` count.
pub struct Asked<'a> {
    pub method: &'a Method,
    /// `Host` fields (2 stands for two or more).
    pub hosts: usize,
    pub http11: bool,
    /// The request target's path and query.
    pub target: &'a str,
    pub path: &'a str,
}

/// `Some(skip)` when the request is a preload request (the upstream target
/// starts `skip` bytes into the target): the connection loop's HIT answer
/// asks the router as hyper's requests do.
pub fn preload_skip(asked: &Asked<'_>, config: &Config, listener: Listener) -> Option<usize> {
    match route_of(asked, config, listener) {
        Route::Preload(skip) => Some(skip),
        _ => None,
    }
}

/// True when the request is passed through to the app as it came (no
/// preload, admin or write-through route): the connection loop forwards
/// such a request itself when it is plain (`conn::pass`).
pub fn is_proxied(asked: &Asked<'_>, config: &Config, listener: Listener) -> bool {
    matches!(route_of(asked, config, listener), Route::Proxy)
}

fn route_of(req: &Asked<'_>, config: &Config, listener: Listener) -> Route {
    // With two `Host` fields the host is ambiguous, and an HTTP/1.1
    // request must carry one (400 for both, RFC 9112 §3.2); `CONNECT` asks for a tunnel, which a reverse proxy does not open.
    if req.method == Method::CONNECT {
        return Route::Refused(Own::Connect);
    }
    match req.hosts {
        2.. => return Route::Refused(Own::TwoHosts),
        0 if req.http11 => return Route::Refused(Own::NoHost),
        _ => {}
    }
    let target = req.target;
    if target.len() > MAX_TARGET {
        return Route::Refused(Own::TargetTooLong);
    }
    let path = req.path;
    if path.starts_with(ADMIN_PREFIX) || path == config.invalidate.path {
        return Route::Admin;
    }
    if listener == Listener::Admin {
        return Route::Refused(Own::NotAdmin);
    }
    let prefix = config.preload.prefix.as_str();
    if target
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('/'))
    {
        return Route::Preload(prefix.len());
    }
    let snapshot_route = config.route_for(path).is_some_and(|r| r.snapshot);
    let readable = req.method == Method::GET || req.method == Method::HEAD;
    match (snapshot_route, readable) {
        (true, true) => Route::Preload(0),
        (true, false) if !writes::is_safe(req.method) => Route::WriteThrough,
        _ => Route::Proxy,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config() -> Config {
        let text = "[upstream]\nurl = \"http://127.0.0.1:8000\"\n\
                    [[route]]\nmatch = \"/events/*\"\nsnapshot = true\n";
        crate::config::from_str(Path::new("preload.toml"), text, None).expect("config")
    }

    fn route_of(method: Method, target: &str, listener: Listener) -> Route {
        let req = Request::builder()
            .method(method)
            .uri(target)
            .header(header::HOST, "example.org")
            .body(())
            .unwrap();
        route(&req, &config(), listener)
    }

    #[test]
    fn each_request_goes_where_the_contract_says() {
        use Listener::{Admin, Main};
        let get = |t| route_of(Method::GET, t, Main);
        assert_eq!(get("/_preload/a?b=1"), Route::Preload("/_preload".len()));
        assert_eq!(get("/_preloadx/a"), Route::Proxy);
        assert_eq!(get("/events/1"), Route::Preload(0));
        assert_eq!(get("/other"), Route::Proxy);
        assert_eq!(get("/_preloadd/health"), Route::Admin);
        assert_eq!(get("/_invalidate"), Route::Admin);
        assert_eq!(
            route_of(Method::GET, "/other", Admin),
            Route::Refused(Own::NotAdmin)
        );
        assert_eq!(
            route_of(Method::POST, "/events/1", Main),
            Route::WriteThrough
        );
        assert_eq!(route_of(Method::OPTIONS, "/events/1", Main), Route::Proxy);
        assert_eq!(route_of(Method::POST, "/other", Main), Route::Proxy);
        assert_eq!(
            route_of(Method::CONNECT, "/x", Main),
            Route::Refused(Own::Connect)
        );
    }

    #[test]
    fn refusals_come_before_any_route() {
        let long = format!("/_preloadd/{}", "a".repeat(MAX_TARGET));
        assert_eq!(
            route_of(Method::GET, &long, Listener::Main),
            Route::Refused(Own::TargetTooLong)
        );
        let req = Request::builder()
            .uri("/_preload/a")
            .header(header::HOST, "a")
            .header(header::HOST, "b")
            .body(())
            .unwrap();
        assert_eq!(
            route(&req, &config(), Listener::Main),
            Route::Refused(Own::TwoHosts)
        );
    }

    #[test]
    fn an_http_1_1_request_needs_a_host_and_an_http_1_0_one_does_not() {
        let without_host = |version| {
            let req = Request::builder()
                .uri("/_preload/a")
                .version(version)
                .body(())
                .unwrap();
            route(&req, &config(), Listener::Main)
        };
        assert_eq!(
            without_host(http::Version::HTTP_11),
            Route::Refused(Own::NoHost)
        );
        assert_eq!(
            without_host(http::Version::HTTP_10),
            Route::Preload("/_preload".len())
        );
    }
}
