//! Header rules shared by the proxy and the snapshot path: what is
//! hop-by-hop, the daemon's own header names, HTTP-dates, and the one
//! reader of comma-separated lists (quote-aware) every module uses.

use std::time::SystemTime;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Tells clients how a preload request was answered.
pub const X_PRELOAD_CACHE: HeaderName = HeaderName::from_static("x-preload-cache");
/// Why a PASS was not kept.
pub const X_PRELOAD_REASON: HeaderName = HeaderName::from_static("x-preload-reason");
/// Marks the daemon's own snapshot fetches to the app.
pub const X_PRELOAD_FETCH: HeaderName = HeaderName::from_static("x-preload-fetch");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Removes hop-by-hop headers, including those the `Connection` header
/// names. `Upgrade` is removed too unless `keep_upgrade` (a WebSocket
/// handshake carries it, with `Connection: upgrade`, through the proxy).
///
/// One look at every name first: most messages carry none of them, or
/// only `Connection: keep-alive`, and each remove is a hash and a probe.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Bit i: HOP_BY_HOP[i] is present; then Upgrade.
    const UPGRADE_BIT: u16 = 1 << 8;
    let present = headers.keys().fold(0, |bits, name| bits | hop_bit(name));
    // HOP_BY_HOP[0] is Connection: the names it lists, but those removed
    // anyway (keep-alive, upgrade) and `close`, which names no header
    // unless one is called so.
    if present & 1 != 0 {
        let named: Vec<HeaderName> = list_items(headers, &header::CONNECTION)
            .filter(|t| {
                !t.eq_ignore_ascii_case(b"keep-alive") && !t.eq_ignore_ascii_case(b"upgrade")
            })
            .filter_map(|name| HeaderName::from_bytes(name).ok())
            .filter(|name| name != "close" || headers.contains_key(name))
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else if present & UPGRADE_BIT != 0 {
        headers.remove(header::UPGRADE);
    }
}

/// True for a hop-by-hop field name in any case, `Upgrade` included: the
/// names [`strip_hop_by_hop`] removes before it looks at `Connection`.
pub fn is_hop_by_hop(name: &str) -> bool {
    // By length first, as `hop_bit`: most names are of none of these.
    let is = |hop: &str| name.eq_ignore_ascii_case(hop);
    match name.len() {
        2 => is("te"),
        7 => is("trailer") || is("upgrade"),
        10 => is("connection") || is("keep-alive"),
        16 => is("proxy-connection"),
        17 => is("transfer-encoding"),
        18 => is("proxy-authenticate"),
        19 => is("proxy-authorization"),
        _ => false,
    }
}

/// The bit of `name` in [`strip_hop_by_hop`]'s scan: 1 << its index in
/// `HOP_BY_HOP`, 1 << 8 for `Upgrade`, 0 for any other name. By length
/// first: most names are of none of these lengths, or differ at once.
fn hop_bit(name: &HeaderName) -> u16 {
    let name = name.as_str();
    let index = match name.len() {
        2 if name == "te" => 5,
        7 if name == "trailer" => 6,
        7 if name == "upgrade" => 8,
        10 if name == "connection" => 0,
        10 if name == "keep-alive" => 1,
        16 if name == "proxy-connection" => 2,
        17 if name == "transfer-encoding" => 7,
        18 if name == "proxy-authenticate" => 3,
        19 if name == "proxy-authorization" => 4,
        _ => return 0,
    };
    1 << index
}

/// `t` as an IMF-fixdate (RFC 9110 §5.6.7), whole seconds.
pub fn http_date(t: SystemTime) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(t)).expect("an HTTP-date is ASCII")
}

/// True when a message carries both `Transfer-Encoding` and
/// `Content-Length`. The chunked framing wins (RFC 9112 §6.3) and the length
/// is a lie a relay must not pass on: a client trusting it gets a truncated
/// body, and a cache a wrong one. Such an app answer is refused (502).
pub fn ambiguous_length(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING) && headers.contains_key(header::CONTENT_LENGTH)
}

/// The log text for an app answer refused by [`ambiguous_length`].
pub const AMBIGUOUS_LENGTH: &str = "the app sent Content-Length with Transfer-Encoding";

/// The greatest age the daemon states: RFC 9111 §1.2.2 has a cache take
/// 2^31 for a delta-seconds too large to hold, or a sum that overflows.
pub const MAX_AGE: u64 = 2_147_483_648;

/// An `Age` value as delta-seconds (digits only, else `None`), capped at
/// [`MAX_AGE`] however many digits it has.
pub fn delta_seconds(value: &HeaderValue) -> Option<u64> {
    let digits = value.as_bytes().trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let capped = digits.iter().try_fold(0u64, |n, d| {
        let n = n * 10 + u64::from(d - b'0');
        (n <= MAX_AGE).then_some(n)
    });
    Some(capped.unwrap_or(MAX_AGE))
}

/// True when a request asks to switch protocols (a WebSocket handshake).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && list_items(headers, &header::CONNECTION).any(|t| t.eq_ignore_ascii_case(b"upgrade"))
}

/// The trimmed, non-empty members of a comma-separated header over all its
/// field lines. Commas inside a quoted string (`private="a, b"`) do not split.
pub fn list_items<'h>(headers: &'h HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'h [u8]> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|line| SplitList::of(line.as_bytes()))
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

/// Splits one field line (`SplitList::of`) at commas outside quoted strings; a backslash inside
/// quotes escapes the next byte. An unterminated quote runs to the line's end.
pub struct SplitList<'a> {
    rest: &'a [u8],
}

impl<'a> SplitList<'a> {
    pub fn of(line: &'a [u8]) -> SplitList<'a> {
        SplitList { rest: line }
    }
}

impl<'a> Iterator for SplitList<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (mut quoted, mut escaped) = (false, false);
        let end = self.rest.iter().position(|&b| {
            if escaped {
                escaped = false;
            } else if quoted {
                match b {
                    b'\\' => escaped = true,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else if b == b'"' {
                quoted = true;
            } else if b == b',' {
                return true;
            }
            false
        });
        let (item, rest) = match end {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        Some(item)
    }
}

/// A header's field lines joined with ", " (one value as the app would see it).
pub fn joined_value(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let mut joined = first.as_bytes().to_vec();
    for v in values {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(v.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_names_are_known_in_any_case() {
        for hop in HOP_BY_HOP.iter().map(HeaderName::as_str).chain(["upgrade"]) {
            assert!(is_hop_by_hop(hop), "{hop}");
            assert!(is_hop_by_hop(&hop.to_ascii_uppercase()), "{hop}");
            assert_ne!(hop_bit(&HeaderName::from_static(hop)), 0, "{hop}");
        }
        for other in ["host", "tee", "trailers", "x-upgrade", "content-length"] {
            assert!(!is_hop_by_hop(other), "{other}");
        }
    }

    #[test]
    fn an_age_too_large_to_hold_is_two_to_the_31() {
        let age = |v: &'static str| delta_seconds(&HeaderValue::from_static(v));
        assert_eq!(age("100"), Some(100));
        assert_eq!(age(" 7 "), Some(7));
        assert_eq!(age("2147483648"), Some(MAX_AGE));
        assert_eq!(age("2147483649"), Some(MAX_AGE));
        assert_eq!(age("18446744073709551616"), Some(MAX_AGE));
        assert_eq!(age("99999999999999999999999999"), Some(MAX_AGE));
        assert_eq!(age("-1"), None);
        assert_eq!(age("1.5"), None);
        assert_eq!(age(""), None);
    }

    #[test]
    fn a_length_beside_a_transfer_encoding_is_ambiguous() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
        assert!(!ambiguous_length(&h));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        assert!(ambiguous_length(&h));
        h.remove(header::CONTENT_LENGTH);
        assert!(!ambiguous_length(&h));
    }

    #[test]
    fn strips_listed_and_named_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-private"),
        );
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::CONTENT_TYPE));
    }

    #[test]
    fn each_hop_by_hop_name_has_its_bit() {
        for (i, name) in HOP_BY_HOP.iter().enumerate() {
            assert_eq!(hop_bit(name), 1 << i, "{name}");
        }
        assert_eq!(hop_bit(&header::UPGRADE), 1 << 8);
        for other in [
            header::USER_AGENT,
            header::REFERER,
            header::HOST,
            X_FORWARDED_FOR,
        ] {
            assert_eq!(hop_bit(&other), 0, "{other}");
        }
    }

    #[test]
    fn keep_alive_named_by_connection_goes_with_it() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Keep-Alive"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::SERVER, HeaderValue::from_static("nginx"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::SERVER));
    }

    #[test]
    fn keeps_upgrade_for_a_handshake() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade(&h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h.get(header::UPGRADE).unwrap(), "websocket");
        assert_eq!(h.get(header::CONNECTION).unwrap(), "upgrade");
    }
}
