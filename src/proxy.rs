//! Pass-through: every request that is not a preload request goes to the
//! app as it came, streamed both ways, with hop-by-hop headers removed and
//! `X-Forwarded-*` set. This is the path through hyper; a plain GET or
//! HEAD is forwarded the same way by the connection loop (`conn::pass`). WebSocket (and any HTTP/1.1) upgrades are spliced
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

use std::net::{IpAddr, SocketAddr};

use http::header::{self, Entry, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::body::Body;
use crate::fetch::pool::{Held, SendError};
use crate::headers::{self, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};
use crate::respond::Own;
use crate::state::App;

/// Forwards `req` to the app and streams its answer back, on the app
/// connection `held` keeps for the visitor's connection (`fetch::pool`).
pub async fn forward(
    app: &App,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    held: &Held,
) -> Response<Body> {
    let upgrade = headers::is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();

    // Origin-form, as the visitor's target came (`*` for `OPTIONS *`): the
    // app's connection says where it goes.
    let target = std::mem::take(&mut parts.uri)
        .into_parts()
        .path_and_query
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let asterisk = target.as_str() == "*" && parts.method == Method::OPTIONS;
    if !target.as_str().starts_with('/') && !asterisk {
        return Own::BadProxyTarget.response();
    }
    parts.uri = Uri::from(target.clone());
    // Owned: held across the exchange with the app.
    let config = app.config_owned();
    let upstream = &config.upstream.url;
    headers::strip_hop_by_hop(&mut parts.headers, upgrade);
    set_forwarded(&mut parts.headers, peer);
    if let Entry::Vacant(host) = parts.headers.entry(header::HOST) {
        // An HTTP/1.0 visitor may send none; the app's host then.
        if let Some(value) = upstream
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            host.insert(value);
        }
    }
    parts.version = http::Version::HTTP_11;

    let upstream_req = Request::from_parts(parts, Body::Incoming(body));
    let (mut res, conn) = match app.upstreams.send(held, upstream, upstream_req).await {
        Ok(answered) => answered,
        Err(err) => {
            let answer = match err {
                SendError::Connect(_) => Own::UpstreamUnavailable,
                SendError::Exchange(_) => Own::BadUpstreamResponse,
            };
            tracing::warn!(
                target = %target,
                upstream = %upstream,
                error = %err,
                "pass-through failed"
            );
            return answer.response();
        }
    };

    if res.status() == StatusCode::SWITCHING_PROTOCOLS {
        // The app's connection is the spliced one's now: not kept.
        drop(conn);
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
    // Free for the visitor's next request once this answer has been read
    // (hyper closes it if the answer is not read to its end).
    held.keep(conn);

    if headers::ambiguous_length(res.headers()) {
        tracing::warn!(
            target = %target,
            upstream = %upstream,
            error = headers::AMBIGUOUS_LENGTH,
            "pass-through failed"
        );
        return Own::BadUpstreamResponse.response();
    }
    let (mut parts, body) = res.into_parts();
    // `Connection: close` / `keep-alive` from the app go with the other
    // hop-by-hop headers: the client's connection is the client's. The
    // tags header is the app's note to the cache (as it is on a PASS).
    headers::strip_hop_by_hop(&mut parts.headers, false);
    parts.headers.remove(&config.preload.tags_header);
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
    // Room for the three at once: the map hyper parsed is sized to the
    // request's own headers.
    headers.reserve(3);
    let mut buf = IpText::new();
    let ip = buf.of(peer.ip());
    match headers.entry(X_FORWARDED_FOR) {
        Entry::Occupied(mut prior) => {
            let joined = match prior.get().to_str() {
                Ok(text) => {
                    let mut v = Vec::with_capacity(text.len() + 2 + ip.len());
                    v.extend_from_slice(text.as_bytes());
                    v.extend_from_slice(b", ");
                    v.extend_from_slice(ip);
                    HeaderValue::from_maybe_shared(bytes::Bytes::from(v))
                }
                // Not visible ASCII: replaced by the peer alone.
                Err(_) => HeaderValue::from_bytes(ip),
            };
            if let Ok(value) = joined {
                prior.insert(value);
            }
        }
        Entry::Vacant(slot) => {
            if let Ok(value) = HeaderValue::from_bytes(ip) {
                slot.insert(value);
            }
        }
    }
    headers
        .entry(X_FORWARDED_PROTO)
        .or_insert(HeaderValue::from_static("http"));
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.entry(X_FORWARDED_HOST).or_insert(host);
    }
}

/// An address's text without the formatting machinery (IPv4 by hand,
/// IPv6 through `Display` into a stack buffer).
pub(crate) struct IpText {
    /// An IPv6 address's text is 45 bytes at most.
    buf: [u8; 48],
}

impl IpText {
    pub(crate) fn new() -> IpText {
        IpText { buf: [0; 48] }
    }

    pub(crate) fn of(&mut self, ip: IpAddr) -> &[u8] {
        match ip {
            IpAddr::V4(v4) => {
                let mut len = 0;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.buf[len] = b'.';
                        len += 1;
                    }
                    if octet >= 100 {
                        self.buf[len] = b'0' + octet / 100;
                        len += 1;
                    }
                    if octet >= 10 {
                        self.buf[len] = b'0' + octet / 10 % 10;
                        len += 1;
                    }
                    self.buf[len] = b'0' + octet % 10;
                    len += 1;
                }
                &self.buf[..len]
            }
            IpAddr::V6(v6) => {
                use std::io::Write;
                let mut cursor = std::io::Cursor::new(&mut self.buf[..]);
                let _ = write!(cursor, "{v6}");
                let len = cursor.position() as usize;
                &self.buf[..len]
            }
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
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.20.30.40",
            "255.255.255.255",
            "192.168.0.100",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(IpText::new().of(ip), ip.to_string().as_bytes());
        }
        for ip in [
            "::1",
            "::ffff:1.2.3.4",
            "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(IpText::new().of(ip), ip.to_string().as_bytes());
        }
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
