//! Network-facing value newtypes of `preload.toml`, validated inside their
//! deserializers like those of `units.rs`: listen addresses, the upstream
//! URL, the upstream Host, and header names.
//!
//! Nothing here resolves a name or opens a socket: a config check must not
//! depend on the network.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use http::uri::{Authority, Scheme};
use http::{HeaderName, Uri};
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use super::units::deserialize_via_from_str;

const ADDR_HINT: &str = "write an IP address and a port, like \"127.0.0.1:8080\" or \"[::1]:8080\" (host names are not resolved)";

/// One socket address of `listen` / `admin_listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        t.parse()
            .map(ListenAddr)
            .map_err(|_| match port_out_of_range(t) {
                Some(port) => {
                    format!("invalid address {s:?}: port {port} is out of range (0 to 65535)")
                }
                None => format!("invalid address {s:?}: {ADDR_HINT}"),
            })
    }
}

/// The port of an `IP:PORT` that is right but for a port past 65535 (the
/// hint about how to write an address would mislead there).
fn port_out_of_range(s: &str) -> Option<&str> {
    let (ip, port) = s.rsplit_once(':')?;
    let ip_ok = ip.parse::<std::net::Ipv4Addr>().is_ok()
        || ip
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .is_some_and(|i| i.parse::<std::net::Ipv6Addr>().is_ok());
    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    (ip_ok && digits && port.parse::<u16>().is_err()).then_some(port)
}
deserialize_via_from_str!(ListenAddr, "an address string, like \"127.0.0.1:8080\"");

/// `[server] listen`: one address string or a non-empty list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddrs(pub Vec<SocketAddr>);

impl<'de> Deserialize<'de> for ListenAddrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListenVisitor;
        impl<'de> Visitor<'de> for ListenVisitor {
            type Value = ListenAddrs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address string like \"127.0.0.1:8080\", or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListenAddrs, E> {
                let addr: ListenAddr = v.parse().map_err(E::custom)?;
                Ok(ListenAddrs(vec![addr.0]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListenAddrs, A::Error> {
                // Each element deserializes on its own, so a bad one is
                // reported at its own position in the list.
                let mut addrs = Vec::new();
                while let Some(ListenAddr(a)) = seq.next_element()? {
                    addrs.push(a);
                }
                if addrs.is_empty() {
                    return Err(de::Error::custom(
                        "an empty list: the daemon needs at least one address to listen on",
                    ));
                }
                Ok(ListenAddrs(addrs))
            }
        }
        d.deserialize_any(ListenVisitor)
    }
}

/// `[server] admin_listen`: an address, or `""` for no admin listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminListen(pub Option<SocketAddr>);

impl FromStr for AdminListen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Ok(AdminListen(None));
        }
        s.parse::<ListenAddr>()
            .map(|a| AdminListen(Some(a.0)))
            .map_err(|e| format!("{e}, or \"\" to disable the admin listener"))
    }
}
deserialize_via_from_str!(
    AdminListen,
    "an address string like \"127.0.0.1:8081\", or \"\""
);

/// `[upstream] url`: `http://host[:port]`, kept as `scheme://authority`
/// (`http::Uri` shows it with path "/").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl(pub Uri);

impl FromStr for UpstreamUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let uri: Uri = s.trim().parse().map_err(|e| {
            format!("invalid URL {s:?}: {e}; write it like \"http://127.0.0.1:8000\"")
        })?;
        match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP => {}
            Some(scheme) if *scheme == Scheme::HTTPS => {
                return Err(format!("{s:?}: https upstreams are not supported yet (the daemon has no TLS client); use http:// to an address on a trusted network"));
            }
            Some(_) => return Err(format!("{s:?}: the upstream URL must start with http://")),
            None => {
                return Err(format!(
                    "{s:?} has no scheme; write it like \"http://{}\"",
                    s.trim()
                ))
            }
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{s:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "{s:?}: user names and passwords are not supported in the upstream URL"
            ));
        }
        if authority.host().is_empty() {
            return Err(format!("{s:?} has no host"));
        }
        // The upstream path is the request's own target; a base path would
        // silently rewrite every URL, so only "/" (or nothing) is accepted.
        if uri.path() != "/" || uri.query().is_some() {
            return Err(format!("{s:?}: the upstream URL must not have a path or query; preloadd forwards each request's own path (write \"http://{authority}\")"));
        }
        Ok(UpstreamUrl(uri))
    }
}
deserialize_via_from_str!(UpstreamUrl, "a URL string, like \"http://127.0.0.1:8000\"");

/// `[upstream] host`: a `host[:port]` sent as the Host header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostHeader(pub String);

impl FromStr for HostHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid host {s:?}: write a host name with an optional port, like \"www.example.org\" or \"localhost:8000\"")
        };
        let authority: Authority = s.parse().map_err(|_| bad())?;
        if authority.host().is_empty() || authority.as_str().contains('@') {
            return Err(bad());
        }
        Ok(HostHeader(authority.as_str().to_string()))
    }
}
deserialize_via_from_str!(HostHeader, "a host string, like \"www.example.org\"");

/// A header name (`vary`, `tags_header`), lower-cased as HTTP/1.1 compares
/// them case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderNameValue(pub HeaderName);

impl FromStr for HeaderNameValue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        HeaderName::from_bytes(s.as_bytes())
            .map(HeaderNameValue)
            .map_err(|_| format!("invalid header name {s:?}: use letters, digits and \"-\", like \"Accept-Language\""))
    }
}
deserialize_via_from_str!(
    HeaderNameValue,
    "a header name string, like \"Accept-Language\""
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_is_one_address_or_a_list() {
        #[derive(serde::Deserialize)]
        struct T {
            listen: ListenAddrs,
        }
        let one: T = toml::from_str("listen = \"127.0.0.1:8080\"").expect("one");
        assert_eq!(one.listen.0, vec!["127.0.0.1:8080".parse().expect("addr")]);
        let two: T = toml::from_str("listen = [\"0.0.0.0:80\", \"[::1]:8080\"]").expect("list");
        assert_eq!(two.listen.0.len(), 2);
        let e = toml::from_str::<T>("listen = [\"0.0.0.0:80\", \"localhost:80\"]")
            .err()
            .expect("host names refused");
        assert_eq!(e.span(), Some(24..38), "the bad element's own position");
        assert!(e.message().contains("host names are not resolved"), "{e}");
        let e = toml::from_str::<T>("listen = []")
            .err()
            .expect("empty refused");
        assert!(e.message().contains("at least one address"), "{e}");
        assert!(toml::from_str::<T>("listen = 8080").is_err());
    }

    #[test]
    fn a_port_past_65535_is_named() {
        for bad in [
            "127.0.0.1:99999",
            "[::1]:65536",
            "0.0.0.0:100000000000000000000",
        ] {
            let e = bad.parse::<ListenAddr>().unwrap_err();
            assert!(e.contains("is out of range (0 to 65535)"), "{bad}: {e}");
        }
        for other in ["localhost:99999", "127.0.0.1:", "127.0.0.1:-1", "1.2.3:80"] {
            let e = other.parse::<ListenAddr>().unwrap_err();
            assert!(e.contains("host names are not resolved"), "{other}: {e}");
        }
        let e = "127.0.0.1:99999".parse::<AdminListen>().unwrap_err();
        assert!(
            e.contains("out of range") && e.contains("or \"\" to disable"),
            "{e}"
        );
    }

    #[test]
    fn admin_listen_empty_disables() {
        assert_eq!("".parse::<AdminListen>(), Ok(AdminListen(None)));
        let a: AdminListen = "127.0.0.1:8081".parse().expect("addr");
        assert_eq!(a.0.map(|a| a.port()), Some(8081));
        let e = "8081".parse::<AdminListen>().unwrap_err();
        assert!(e.contains("or \"\" to disable"), "{e}");
    }

    #[test]
    fn upstream_url_is_http_scheme_and_authority() {
        for ok in [
            "http://127.0.0.1:8000",
            "http://127.0.0.1:8000/",
            "http://app.internal",
            "http://[::1]:8000",
        ] {
            let u: UpstreamUrl = ok.parse().expect(ok);
            assert_eq!(u.0.path(), "/");
        }
        let u: UpstreamUrl = "http://127.0.0.1:8000/".parse().expect("url");
        assert_eq!(u.0.authority().map(|a| a.as_str()), Some("127.0.0.1:8000"));
    }

    #[test]
    fn bad_upstream_urls_say_why() {
        let e = |s: &str| s.parse::<UpstreamUrl>().unwrap_err();
        assert!(e("https://app").contains("https upstreams are not supported yet"));
        assert!(e("127.0.0.1:8000").contains("has no scheme"));
        assert!(e("ftp://app").contains("must start with http://"));
        assert!(e("http://app/base").contains("must not have a path"));
        assert!(e("http://app/?q=1").contains("must not have a path"));
        assert!(e("http://u:p@app").contains("user names"));
        assert!(e("http://").contains("invalid URL"));
        assert!(e("not a url").contains("invalid URL"));
    }

    #[test]
    fn host_is_an_authority() {
        assert_eq!(
            "www.example.org".parse::<HostHeader>().map(|h| h.0),
            Ok("www.example.org".into())
        );
        assert!("localhost:8000".parse::<HostHeader>().is_ok());
        for bad in ["", "a b", "u@h", "http://h/"] {
            assert!(bad.parse::<HostHeader>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_names_are_lower_cased_and_checked() {
        let h: HeaderNameValue = "X-Preload-Tags".parse().expect("name");
        assert_eq!(h.0.as_str(), "x-preload-tags");
        for bad in ["", "a b", "a:b", "é"] {
            assert!(bad.parse::<HeaderNameValue>().is_err(), "{bad:?}");
        }
    }
}
