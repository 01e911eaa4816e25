//! Conditional and range requests against a kept snapshot (SPEC §4).
//!
//! Owns the reading of a visitor's `If-None-Match`, `If-Modified-Since`,
//! `Range` and `If-Range` against a snapshot's `ETag`, `Last-Modified` and
//! body length, and the ETag derived for a body that came without one. It only
//! answers questions: it never builds a response, never touches the body or
//! the store, and never allocates on the hit path. Anything malformed resolves
//! to the full response, never to a 304 or a 206.

use std::time::SystemTime;

use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, RANGE};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

/// An entity-tag as RFC 9110 §8.8.3 writes it: optional `W/`, then a quoted
/// opaque tag whose bytes (obs-text included) are kept byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTag<'a> {
    pub weak: bool,
    /// The tag without its quotes.
    pub opaque: &'a [u8],
}

/// Parses one entity-tag; anything else, surrounding whitespace included,
/// is `None`.
pub fn parse_etag(v: &[u8]) -> Option<EntityTag<'_>> {
    let (weak, quoted) = match v.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let opaque = quoted.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    opaque
        .iter()
        .all(|&b| is_etagc(b))
        .then_some(EntityTag { weak, opaque })
}

/// etagc = %x21 / %x23-7E / obs-text: any visible byte but `"`.
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80
}

/// True when the request's preconditions say the client's copy is current,
/// so the answer is 304.
///
/// `If-None-Match`, when present, decides alone (RFC 9110 §13.1.3 makes
/// `If-Modified-Since` ignored then): weak comparison of each listed tag with
/// `etag`; `*` matches, a malformed member or a malformed `etag` never does.
/// Otherwise `If-Modified-Since` at or after `last_modified` means 304; a date
/// that does not parse, on either side, means the full response.
pub fn not_modified(req: &HeaderMap, etag: &HeaderValue, last_modified: &HeaderValue) -> bool {
    if req.contains_key(IF_NONE_MATCH) {
        let current = parse_etag(etag.as_bytes());
        return req
            .get_all(IF_NONE_MATCH)
            .iter()
            .flat_map(|line| TagList {
                rest: line.as_bytes(),
            })
            .any(|member| match member {
                Member::Any => true,
                Member::Tag(tag) => current.is_some_and(|c| c.opaque == tag.opaque),
                Member::Malformed => false,
            });
    }
    match (
        req.get(IF_MODIFIED_SINCE).and_then(http_date),
        http_date(last_modified),
    ) {
        (Some(since), Some(modified)) => since >= modified,
        _ => false,
    }
}

/// What to send for a request's `Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200 with the whole body: no usable range was asked for.
    Full,
    /// 206 with the bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Reads one `bytes` range of a body of `len` bytes (RFC 9110 §14).
///
/// Several ranges, another unit, a malformed header or a failed `If-Range`
/// give `Full`: ignoring `Range` is always allowed. `If-Range` holds only for
/// a strong tag strongly equal to `etag`, or an HTTP-date equal to
/// `last_modified`. A range starting at or past the end is `Unsatisfiable`;
/// an end past the body is clamped to it. A suffix range of an empty body is
/// satisfiable but selects nothing, so it gets the (empty) full body.
pub fn range(
    req: &HeaderMap,
    len: u64,
    etag: &HeaderValue,
    last_modified: &HeaderValue,
) -> RangeAnswer {
    let Some(spec) = single(req, &RANGE) else {
        return RangeAnswer::Full;
    };
    let answer = byte_range(spec.as_bytes(), len);
    if answer != RangeAnswer::Full
        && req.contains_key(IF_RANGE)
        && !if_range_holds(req, etag, last_modified)
    {
        return RangeAnswer::Full;
    }
    answer
}

/// A strong ETag for a body the app sent without one: the first 128 bits of
/// its SHA-256 in hex, which is plenty to tell versions of one page apart.
pub fn derived_etag(body: &[u8]) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(body);
    let mut tag = [b'"'; 34];
    for (i, byte) in digest.iter().take(16).enumerate() {
        tag[1 + 2 * i] = HEX[usize::from(byte >> 4)];
        tag[2 + 2 * i] = HEX[usize::from(byte & 0x0f)];
    }
    HeaderValue::from_bytes(&tag).expect("quotes and hex digits are valid header bytes")
}

/// The field's value when it has exactly one line; a repeated singleton
/// field is malformed.
fn single<'h>(req: &'h HeaderMap, name: &HeaderName) -> Option<&'h HeaderValue> {
    let mut lines = req.get_all(name).iter();
    let first = lines.next()?;
    lines.next().is_none().then_some(first)
}

fn http_date(v: &HeaderValue) -> Option<SystemTime> {
    httpdate::parse_http_date(v.to_str().ok()?).ok()
}

fn if_range_holds(req: &HeaderMap, etag: &HeaderValue, last_modified: &HeaderValue) -> bool {
    let Some(condition) = single(req, &IF_RANGE) else {
        return false;
    };
    if let Some(tag) = parse_etag(condition.as_bytes()) {
        let current = parse_etag(etag.as_bytes());
        return !tag.weak && current.is_some_and(|c| !c.weak && c.opaque == tag.opaque);
    }
    match (http_date(condition), http_date(last_modified)) {
        (Some(date), Some(modified)) => date == modified,
        _ => false,
    }
}

/// Parses `bytes=<one range-spec>` against a body of `len` bytes.
fn byte_range(header: &[u8], len: u64) -> RangeAnswer {
    let Some(eq) = header.iter().position(|&b| b == b'=') else {
        return RangeAnswer::Full;
    };
    let (unit, set) = (&header[..eq], &header[eq + 1..]);
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return RangeAnswer::Full;
    }
    // Empty list elements are tolerated (RFC 9110 §5.6.1.2).
    let mut specs = set
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeAnswer::Full;
    };
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    if first.is_empty() {
        return match number(last) {
            None => RangeAnswer::Full,
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if len == 0 => RangeAnswer::Full,
            Some(suffix) => RangeAnswer::Partial {
                start: len.saturating_sub(suffix),
                end: len - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return RangeAnswer::Full;
    };
    let end = match number(last) {
        _ if last.is_empty() => u64::MAX,
        Some(end) if end >= start => end,
        // Not digits, or last-pos before first-pos: an invalid range-spec.
        _ => return RangeAnswer::Full,
    };
    if start >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Partial {
        start,
        end: end.min(len - 1),
    }
}

/// 1*DIGIT; a value past `u64::MAX` saturates, which is past any body.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// One member of an `If-None-Match` list.
#[derive(Debug, PartialEq, Eq)]
enum Member<'a> {
    Any,
    Tag(EntityTag<'a>),
    Malformed,
}

/// The members of one `If-None-Match` field line. Tags may hold commas, so
/// the line is split by reading each quoted tag to its closing quote, not at
/// commas; a member followed by anything but a comma is malformed, and
/// reading resumes after the next comma.
struct TagList<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TagList<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        let start = self
            .rest
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b','))?;
        let s = &self.rest[start..];
        let open = if s.starts_with(b"W/\"") {
            3
        } else if s.starts_with(b"\"") {
            1
        } else {
            0
        };
        let end = if open > 0 {
            // etagc excludes `"`, so the first quote closes the tag; none
            // means the tag is cut off and the line is used up.
            s[open..]
                .iter()
                .position(|&b| b == b'"')
                .map_or(s.len(), |i| open + i + 1)
        } else {
            s.iter().position(|&b| b == b',').unwrap_or(s.len())
        };
        let (token, after) = s.split_at(end);
        let after = after.trim_ascii();
        let clean = matches!(after.first(), None | Some(b','));
        self.rest = match after.iter().position(|&b| b == b',') {
            Some(comma) => &after[comma..],
            None => &[],
        };
        Some(match (clean, token.trim_ascii()) {
            (false, _) => Member::Malformed,
            (true, b"*") => Member::Any,
            (true, token) => parse_etag(token).map_or(Member::Malformed, Member::Tag),
        })
    }
}

#[cfg(test)]
#[path = "conditional_tests.rs"]
mod tests;
