//! A request head as the connection loop reads it: where it ends, and how
//! its body is framed, so that the loop knows which bytes belong to it
//! before anything else reads them. It parses with `httparse`, the parser
//! hyper uses, under the same limits, so a head it reads is one hyper
//! reads the same way; anything it does not take as plainly framed goes
//! to hyper whole ([`Framing::Hyper`]), which answers it as before.

use std::mem::MaybeUninit;

use crate::server::{MAX_HEAD, MAX_HEADERS};

/// Header slots for one parse (uninitialized: filling them costs nothing).
pub type Slots<'b> = [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS];

pub fn slots<'b>() -> Slots<'b> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// What the bytes read so far hold.
#[derive(Debug)]
pub enum Parsed<'b> {
    /// Part of a head: read more.
    Partial,
    /// Not a head this loop takes: a parse error, too many fields or too
    /// long. hyper reads the connection from here on, and answers it (400,
    /// 431) the way it always has.
    Hyper,
    Head(Head<'b>),
}

/// A complete request head.
#[derive(Debug)]
pub struct Head<'b> {
    /// Bytes of the head, the blank line included.
    pub len: usize,
    pub method: &'b str,
    pub target: &'b str,
    /// HTTP/1.1 (else 1.0).
    pub http11: bool,
    pub fields: &'b [httparse::Header<'b>],
    pub framing: Framing,
}

/// A head the loop may answer or forward itself ([`Head::plain_read`]).
pub struct Plain<'b> {
    pub method: http::Method,
    /// The target up to its query.
    pub path: &'b str,
}

impl<'b> Head<'b> {
    /// GET or HEAD over HTTP/1.1, without a body, to an origin-form target
    /// (as hyper's `Uri` would give it back whole): the requests the loop
    /// may answer (`hit`) or forward (`pass`) itself.
    pub fn plain_read(&self) -> Option<Plain<'b>> {
        if self.framing != Framing::None || !self.http11 {
            return None;
        }
        let method = match self.method {
            "GET" => http::Method::GET,
            "HEAD" => http::Method::HEAD,
            _ => return None,
        };
        let target = self.target;
        let bytes = target.as_bytes();
        if bytes.first() != Some(&b'/') || bytes.get(1) == Some(&b'/') {
            return None;
        }
        // One scan to the path's end (`memchr2`: many bytes at a time, no
        // set-up for a short target); the query, if any, has no fragment.
        let path_end = match memchr::memchr2(b'?', b'#', bytes) {
            None => bytes.len(),
            Some(at) if bytes[at] == b'?' && memchr::memchr(b'#', &bytes[at..]).is_none() => at,
            Some(_) => return None,
        };
        // A split at an ASCII byte is a char boundary.
        let path = target.get(..path_end)?;
        Some(Plain { method, path })
    }

    /// The route's view of this head, as if with its one `Host` (the
    /// caller counts them).
    pub fn asked<'a>(&'a self, plain: &'a Plain<'_>) -> crate::router::Asked<'a> {
        crate::router::Asked {
            method: &plain.method,
            hosts: 1,
            http11: true,
            target: self.target,
            path: plain.path,
        }
    }
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: the next request starts right after the head.
    None,
    /// A `Content-Length` body of this many bytes.
    Length(u64),
    /// Chunked, an upgrade, or framing in doubt (two lengths, a bad one):
    /// hyper reads the connection from here on and decides.
    Hyper,
}

/// Parses the head at the start of `buf`.
pub fn parse<'b>(buf: &'b [u8], slots: &'b mut Slots<'b>) -> Parsed<'b> {
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => {
            let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version)
            else {
                return Parsed::Hyper;
            };
            let fields: &'b [httparse::Header<'b>] = req.headers;
            Parsed::Head(Head {
                len,
                method,
                target,
                http11: version == 1,
                framing: framing(method, fields),
                fields,
            })
        }
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => Parsed::Partial,
        _ => Parsed::Hyper,
    }
}

fn framing(method: &str, fields: &[httparse::Header<'_>]) -> Framing {
    if method == "CONNECT" {
        return Framing::Hyper;
    }
    let mut length = None;
    for field in fields {
        let name = field.name;
        if name.eq_ignore_ascii_case("transfer-encoding") || name.eq_ignore_ascii_case("upgrade") {
            return Framing::Hyper;
        }
        if name.eq_ignore_ascii_case("content-length") {
            match (length, digits(field.value)) {
                (None, Some(n)) => length = Some(n),
                _ => return Framing::Hyper,
            }
        }
    }
    match length {
        None | Some(0) => Framing::None,
        Some(n) => Framing::Length(n),
    }
}

/// A decimal length of 1 to 18 digits, nothing else.
pub(super) fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing_of(raw: &str) -> Option<(usize, Framing)> {
        let mut slots = slots();
        match parse(raw.as_bytes(), &mut slots) {
            Parsed::Head(head) if head.framing == Framing::Hyper => Some((0, Framing::Hyper)),
            Parsed::Head(head) => Some((head.len, head.framing)),
            Parsed::Partial => None,
            Parsed::Hyper => Some((0, Framing::Hyper)),
        }
    }

    #[test]
    fn a_head_ends_at_its_blank_line_and_says_how_its_body_is_framed() {
        let get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(framing_of(get), Some((get.len(), Framing::None)));
        let next = format!("{get}GET /b HTTP/1.1\r\n");
        assert_eq!(framing_of(&next), Some((get.len(), Framing::None)));
        let post = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n";
        assert_eq!(framing_of(post), Some((post.len(), Framing::Length(12))));
        let empty = "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(framing_of(empty), Some((empty.len(), Framing::None)));
        assert_eq!(framing_of("GET / HTTP/1.1\r\nHost: a\r\n"), None);
    }

    #[test]
    fn framing_in_any_doubt_is_left_to_hyper() {
        for raw in [
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET /\x01 HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(framing_of(raw), Some((0, Framing::Hyper)), "{raw:?}");
        }
    }

    #[test]
    fn too_many_fields_or_too_long_a_head_is_hyper_s() {
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(framing_of(&raw), Some((0, Framing::Hyper)));
        let long = format!("GET / HTTP/1.1\r\nX-Long: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(framing_of(&long), Some((0, Framing::Hyper)));
        assert_eq!(
            framing_of(&format!("{long}\r\n")),
            Some((0, Framing::Hyper))
        );
    }

    #[test]
    fn the_request_line_and_fields_are_read_as_sent() {
        let mut slots = slots();
        let raw = b"GET /p?q HTTP/1.0\r\nHOST: a\r\nAccept-Encoding: br\r\n\r\n";
        let Parsed::Head(head) = parse(raw, &mut slots) else {
            panic!("a head");
        };
        assert_eq!(
            (head.method, head.target, head.http11),
            ("GET", "/p?q", false)
        );
        let names: Vec<_> = head.fields.iter().map(|f| (f.name, f.value)).collect();
        assert_eq!(
            names,
            [("HOST", &b"a"[..]), ("Accept-Encoding", &b"br"[..])]
        );
    }

    #[test]
    fn a_plain_read_is_split_at_its_query_and_has_no_fragment() {
        let plain = |raw: &str| {
            let mut slots = slots();
            let Parsed::Head(head) = parse(raw.as_bytes(), &mut slots) else {
                panic!("a head: {raw:?}");
            };
            head.plain_read().map(|p| (p.method, p.path.to_owned()))
        };
        let get = |target: &str| plain(&format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert_eq!(get("/a/b"), Some((http::Method::GET, "/a/b".into())));
        assert_eq!(get("/a?b=1?c"), Some((http::Method::GET, "/a".into())));
        assert_eq!(get("/?"), Some((http::Method::GET, "/".into())));
        for target in ["/a#f", "/a?b#f", "/a#f?b", "//a", "a", "*"] {
            assert_eq!(get(target), None, "{target:?}");
        }
        let head = plain("HEAD /a?q HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(head, Some((http::Method::HEAD, "/a".into())));
        for raw in [
            "GET /a HTTP/1.0\r\nHost: a\r\n\r\n",
            "POST /a HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /a HTTP/1.1\r\nContent-Length: 1\r\n\r\n",
        ] {
            assert_eq!(plain(raw), None, "{raw:?}");
        }
    }
}
