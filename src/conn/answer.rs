//! The app's answer to a request the connection loop passed through
//! (`conn::pass`): its head read with `httparse` and rewritten for the
//! visitor the way `proxy::forward` and hyper together rewrite it, and
//! where its body ends.
//!
//! What goes to the visitor: the app's status line as HTTP/1.1, every field
//! but the hop-by-hop ones (and those `Connection` names) and the cache's
//! tags header, a `Date` when the app sent none, and the framing: the
//! app's `Content-Length`, or chunked (the app's chunks as they came, or a
//! body the app ends by closing, chunked here).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::headers::{self, SplitList};

/// Fields an app's answer head may have, as hyper's client allows.
const MAX_FIELDS: usize = 100;
/// The longest chunk-size line or trailer section kept while waiting for
/// its end.
const MAX_LINE: usize = 4096;

/// How the body after the app's head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 204, 304).
    None,
    Length(u64),
    /// The app's chunks, relayed as they are.
    Chunked,
    /// Until the app closes the connection: chunked for the visitor.
    Close,
}

/// The app's answer head, ready for the visitor.
#[derive(Debug)]
pub struct Answer {
    /// Bytes of the app's head, the blank line included.
    pub len: usize,
    pub framing: Framing,
    /// The app's connection can take another request after this body.
    pub reusable: bool,
}

/// What the bytes read from the app so far hold.
#[derive(Debug)]
pub enum Parsed {
    Partial,
    /// A 1xx interim answer of this many bytes, dropped (as hyper's
    /// client drops them); the answer follows.
    Interim(usize),
    Answer(Answer),
    /// Not an answer this daemon relays (the reason, for the log).
    Bad(&'static str),
}

/// How the visitor's request shapes the answer.
pub struct Asked<'a> {
    /// A HEAD request: whatever the app says, no body follows.
    pub head_only: bool,
    /// The visitor asked to close after the answer.
    pub close: bool,
    /// The cache's tags header, lowercase, never relayed.
    pub tags_header: &'a str,
}

/// Parses the app's answer head at the start of `buf`, and writes the head
/// the visitor gets into `head`.
pub fn parse(buf: &[u8], asked: &Asked<'_>, date: &mut DateLine, head: &mut Vec<u8>) -> Parsed {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut res = httparse::Response::new(&mut fields);
    let len = match res.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() <= crate::server::MAX_HEAD => {
            return Parsed::Partial
        }
        Ok(httparse::Status::Partial) => return Parsed::Bad("answer head too large"),
        Err(_) => return Parsed::Bad("answer head is not HTTP"),
    };
    let (Some(code), Some(version)) = (res.code, res.version) else {
        return Parsed::Bad("answer head is not HTTP");
    };
    match code {
        101 => return Parsed::Bad("the app switched protocols unasked"),
        100..=199 => return Parsed::Interim(len),
        _ => {}
    }
    let fields = &*res.headers;
    let mut close_asked_by_app = version == 0;
    let mut named: Vec<&[u8]> = Vec::new();
    let mut chunked = None;
    let mut length = None;
    let mut has_date = false;
    for field in fields {
        let name = field.name;
        // By length first: most names are of none of these four.
        if !matches!(name.len(), 4 | 10 | 14 | 17) {
            continue;
        }
        if name.eq_ignore_ascii_case("connection") {
            for token in SplitList::of(field.value).map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close_asked_by_app = true;
                } else if !token.is_empty() {
                    named.push(token);
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // The last coding of the last field decides (RFC 9112 §6.3).
            let last = SplitList::of(field.value)
                .map(<[u8]>::trim_ascii)
                .filter(|t| !t.is_empty())
                .last();
            chunked = Some(last.is_some_and(|t| t.eq_ignore_ascii_case(b"chunked")));
        } else if name.eq_ignore_ascii_case("content-length") {
            let Some(n) = super::head::digits(field.value.trim_ascii()) else {
                return Parsed::Bad("bad Content-Length");
            };
            if length.is_some_and(|before| before != n) {
                return Parsed::Bad("two Content-Length values");
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("date") {
            has_date = true;
        }
    }
    let framing = match (chunked, length) {
        // Refused whatever the method, as `proxy::forward` refuses it.
        (Some(_), Some(_)) => return Parsed::Bad(headers::AMBIGUOUS_LENGTH),
        _ if asked.head_only || code == 204 || code == 304 => Framing::None,
        (Some(true), None) => Framing::Chunked,
        (Some(false), None) | (None, None) => Framing::Close,
        (None, Some(n)) => Framing::Length(n),
    };

    head.clear();
    head.reserve(len + 64);
    head.extend_from_slice(b"HTTP/1.1 ");
    // httparse reads exactly three digits.
    let digits = [code / 100, code / 10 % 10, code % 10].map(|d| b'0' + d as u8);
    head.extend_from_slice(&digits);
    head.push(b' ');
    head.extend_from_slice(res.reason.unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for field in fields {
        let name = field.name;
        if headers::is_hop_by_hop(name)
            || name.eq_ignore_ascii_case(asked.tags_header)
            || named
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        {
            continue;
        }
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(field.value);
        head.extend_from_slice(b"\r\n");
    }
    if !has_date {
        head.extend_from_slice(date.line());
    }
    if matches!(framing, Framing::Chunked | Framing::Close) {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if asked.close {
        head.extend_from_slice(b"connection: close\r\n");
    }
    head.extend_from_slice(b"\r\n");
    Parsed::Answer(Answer {
        len,
        framing,
        reusable: !close_asked_by_app && framing != Framing::Close,
    })
}

/// `Date: …\r\n` of the current second, formatted once per second.
pub struct DateLine {
    second: u64,
    line: [u8; 37],
}

impl Default for DateLine {
    fn default() -> DateLine {
        DateLine {
            second: u64::MAX,
            line: [0; 37],
        }
    }
}

impl DateLine {
    pub fn line(&mut self) -> &[u8] {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            let text = httpdate::fmt_http_date(now);
            let line = format!("date: {text}\r\n");
            if line.len() == self.line.len() {
                self.line.copy_from_slice(line.as_bytes());
                self.second = second;
            }
        }
        &self.line
    }
}

/// Where a chunked body ends, found as its bytes arrive.
#[derive(Debug, Default)]
pub struct Chunks {
    state: State,
    /// Bytes of trailer fields so far.
    trailers: usize,
}

#[derive(Debug, Default, Clone, Copy)]
enum State {
    #[default]
    Size,
    /// Bytes of chunk data still to come.
    Data(u64),
    /// The CRLF after a chunk's data: how much of it was seen.
    DataEnd(usize),
    Trailers,
    Done,
}

impl Chunks {
    /// Of `buf` (what came after the bytes taken before), how many bytes
    /// belong to the body; a line cut off at the end is not taken, and is
    /// given again with what comes next. `Err`: not chunked as it should be.
    pub fn take(&mut self, buf: &[u8]) -> Result<usize, &'static str> {
        const BAD: &str = "bad chunked body";
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            match self.state {
                State::Done => return Ok(at),
                State::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        at += n;
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::Data(size)
                        };
                    }
                    Ok(httparse::Status::Partial) if rest.len() <= MAX_LINE => return Ok(at),
                    _ => return Err(BAD),
                },
                State::Data(left) => {
                    let n = left.min(rest.len() as u64);
                    at += n as usize;
                    if n < left {
                        self.state = State::Data(left - n);
                        return Ok(at);
                    }
                    self.state = State::DataEnd(0);
                }
                State::DataEnd(seen) => {
                    let Some(&byte) = rest.first() else {
                        return Ok(at);
                    };
                    if byte != b"\r\n"[seen] {
                        return Err(BAD);
                    }
                    at += 1;
                    self.state = if seen == 1 {
                        State::Size
                    } else {
                        State::DataEnd(1)
                    };
                }
                State::Trailers => match rest.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        at += 2;
                        self.state = State::Done;
                    }
                    Some(end) => {
                        self.trailers += end + 2;
                        if self.trailers > MAX_LINE {
                            return Err(BAD);
                        }
                        at += end + 2;
                    }
                    None if rest.len() + self.trailers <= MAX_LINE => return Ok(at),
                    None => return Err(BAD),
                },
            }
        }
    }

    pub fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
