//! Pass-through: every request that is not a preload request goes to the
//! app as it came, streamed both ways, with hop-by-hop headers removed and
//! `X-Forwarded-*` set. WebSocket (and any HTTP/1.1) upgrades are spliced
//! through once the app answers 101.
//!
//! The client hears HTTP/1.1 whatever the app speaks: hyper answers in the
//! response's version, and an HTTP/1.0 answer would close a connection that
//! nginx's upstream keep-alive counts on. A body the app ends by closing
//! its connection goes out chunked. An answer with both `Content-Length` and
//! `Transfer-Encoding` is refused (502) rather than relayed with a length
//! that is not its body's. When the app fails, the visitor gets a short
//! fixed text; the detail goes to the log.
//!
//! The proxy never keeps anything; it only drops snapshots when an unsafe
//! method succeeds on a snapshot route (that is the invalidation module's
//! business, called from the router).

use std::net::SocketAddr;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::body::Body;
use crate::fetch::{self, upstream_uri};
use crate::headers::{self, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};
use crate::respond::Own;
use crate::state::App;

/// Forwards `req` to the app and streams its answer back.
pub async fn forward(app: &App, mut req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let upgrade = headers::is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();

    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let config = app.config();
    parts.uri = match upstream_uri(&config.upstream.url, target) {
        Ok(uri) => uri,
        Err(_) => return Own::BadProxyTarget.response(),
    };
    drop(config);
    // Kept for the log line of a failure.
    let uri = parts.uri.clone();
    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    set_forwarded(&mut parts.headers, peer);
    parts.version = http::Version::HTTP_11;

    let upstream_req = Request::from_parts(parts, Body::Incoming(body));
    let mut res = match app.client.request(upstream_req).await {
        Ok(res) => res,
        Err(err) => {
            let answer = if err.is_connect() {
                Own::UpstreamUnavailable
            } else {
                Own::BadUpstreamResponse
            };
            tracing::warn!(
                target = %uri.path_and_query().map_or("/", |pq| pq.as_str()),
                upstream = %app.config().upstream.url,
                error = %fetch::source_chain(&err),
                "pass-through failed"
            );
            return answer.response();
        }
    };

    if res.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut res);
            tokio::spawn(async move {
                let (Ok(client), Ok(upstream)) = (client_upgrade.await, upstream_upgrade.await)
                else {
                    tracing::debug!("upgrade abandoned by one side");
                    return;
                };
                let mut client = TokioIo::new(client);
                let mut upstream = TokioIo::new(upstream);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
        let (mut parts, _) = res.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers, true);
        parts.version = http::Version::HTTP_11;
        return Response::from_parts(parts, Body::Empty);
    }

    if headers::ambiguous_length(res.headers()) {
        tracing::warn!(
            target = %uri.path_and_query().map_or("/", |pq| pq.as_str()),
            upstream = %app.config().upstream.url,
            error = headers::AMBIGUOUS_LENGTH,
            "pass-through failed"
        );
        return Own::BadUpstreamResponse.response();
    }
    let (mut parts, body) = res.into_parts();
    // `Connection: close` / `keep-alive` from the app go with the other
    // hop-by-hop headers: the client's connection is the client's.
    headers::strip_hop_by_hop(&mut parts.headers, false);
    // hyper keeps the client's connection for an HTTP/1.1 answer and
    // chunks a body of unknown length; an HTTP/1.0 client still gets 1.0
    // (hyper lowers the version for it).
    parts.version = http::Version::HTTP_11;
    Response::from_parts(parts, Body::Incoming(body))
}

/// Appends the peer to `X-Forwarded-For`; sets `X-Forwarded-Proto` and
/// `X-Forwarded-Host` unless a front proxy already did (behind nginx they
/// carry what the visitor used, which the app wants to see).
fn set_forwarded(headers: &mut http::HeaderMap, peer: SocketAddr) {
    let ip = peer.ip().to_string();
    let forwarded_for = match headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {ip}"),
        None => ip,
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        headers.insert(X_FORWARDED_FOR, value);
    }
    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !headers.contains_key(X_FORWARDED_HOST) {
        if let Some(host) = headers.get(header::HOST).cloned() {
            headers.insert(X_FORWARDED_HOST, host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_appends_the_peer() {
        let mut h = http::HeaderMap::new();
        h.insert(X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.1"));
        h.insert(header::HOST, HeaderValue::from_static("example.org"));
        set_forwarded(&mut h, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(h.get(X_FORWARDED_FOR).unwrap(), "10.0.0.1, 127.0.0.1");
        assert_eq!(h.get(X_FORWARDED_PROTO).unwrap(), "http");
        assert_eq!(h.get(X_FORWARDED_HOST).unwrap(), "example.org");
    }

    #[test]
    fn a_front_proxys_proto_is_kept() {
        let mut h = http::HeaderMap::new();
        h.insert(X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        set_forwarded(&mut h, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(h.get(X_FORWARDED_PROTO).unwrap(), "https");
        assert_eq!(h.get(X_FORWARDED_FOR).unwrap(), "127.0.0.1");
    }
}
