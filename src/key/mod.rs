//! What identifies a page: the origin-form check of a preload target, its
//! canonical form and the versioned cache key (SPEC §3).
//!
//! This module owns the rules that turn the text of a request target into a
//! [`Key`]: which targets are refused before any upstream contact (400, 414),
//! how equivalent spellings collapse into one canonical target, and how that
//! target and the route's `vary` values are hashed (`digest.rs`; [`resolve`]
//! gives a request's [`Target`]). It also owns the seed's parameter-joining rule
//! that `preloadd url` and the Django helper share (`join.rs`).
//!
//! It never does I/O and never hands out a decoded target: the canonical form
//! keeps reserved characters encoded, and the upstream is fetched at exactly
//! that text. Decoding here serves only to refuse what an app that decodes
//! `%2F` (or decodes twice) would read as a different path.

use std::borrow::Cow;

use crate::config::Glob;

pub use self::cache::KeyCache;
pub use self::digest::{Key, KeyMap};
pub use join::{join_params, preload_url};
pub use target::{resolve, Target};

mod cache;
mod digest;
mod join;
#[cfg(test)]
mod proptests;
mod target;
#[cfg(test)]
mod tests;

/// Longest request target accepted (SPEC §3); longer gets 414.
pub const MAX_TARGET: usize = 8192;

/// Why a target is refused before any upstream contact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// 400, with a short reason for the body.
    #[error("{0}")]
    Invalid(&'static str),
    /// 414.
    #[error("request target too long")]
    TooLong,
}

/// The query rules of `[preload]`.
#[derive(Debug, Clone, Copy)]
pub struct QueryRules<'a> {
    pub sort_query: bool,
    pub ignore_query: &'a [Glob],
}

impl<'a> QueryRules<'a> {
    /// No query rule: the spelling as given. For what has no query
    /// (a prefix) or where the rules cannot matter (`preloadd url` judges
    /// only whether a target is accepted).
    pub const NONE: QueryRules<'static> = QueryRules {
        sort_query: false,
        ignore_query: &[],
    };

    /// The rules of the configured `[preload]` table: the one place they
    /// are read from the config.
    pub fn of(preload: &'a crate::config::Preload) -> QueryRules<'a> {
        QueryRules {
            sort_query: preload.sort_query,
            ignore_query: &preload.ignore_query,
        }
    }
}

/// Validates an upstream target (path and optional query, as received, after
/// the preload prefix is stripped) and returns its canonical form.
///
/// The checks run by category in SPEC order (length, origin form, raw bytes,
/// percent escapes, dot-segments, then the fully decoded path); within one
/// scan the first fault by position gives the reason. Encoding lengthens, so
/// the canonical form is checked against the length limit too.
pub fn canonical_target(raw: &str, rules: QueryRules<'_>) -> Result<String, TargetError> {
    if raw.len() > MAX_TARGET {
        return Err(TargetError::TooLong);
    }
    let (path, query) = match raw.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (raw, None),
    };
    check_origin_form(path).map_err(TargetError::Invalid)?;
    check_raw_bytes(raw, path.len()).map_err(TargetError::Invalid)?;

    let mut out = String::with_capacity(raw.len());
    normalize_into(path, false, &mut out).map_err(TargetError::Invalid)?;
    let query = match query.filter(|q| !q.is_empty()) {
        Some(query) => {
            let mut normalized = String::with_capacity(query.len());
            normalize_into(query, true, &mut normalized).map_err(TargetError::Invalid)?;
            Some(normalized)
        }
        None => None,
    };
    check_path(&out).map_err(TargetError::Invalid)?;
    if let Some(query) = query {
        push_query(&query, rules, &mut out);
    }
    if out.len() > MAX_TARGET {
        return Err(TargetError::TooLong);
    }
    Ok(out)
}

/// Origin form: one leading "/", and no `scheme://` hiding in the path, which
/// a careless app could turn into an absolute URL (an open redirect).
fn check_origin_form(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("target must start with \"/\"");
    }
    if path.starts_with("//") {
        return Err("target must start with a single \"/\"");
    }
    if path.contains("://") {
        return Err("scheme in path");
    }
    Ok(())
}

/// Bytes that have no business in a target as received. Everything after
/// this is ASCII, so the rest of the module may push bytes as chars.
fn check_raw_bytes(raw: &str, path_len: usize) -> Result<(), &'static str> {
    // Some servers and browsers read "\" as "/" in a path (`/\evil.com`).
    if raw.as_bytes()[..path_len].contains(&b'\\') {
        return Err("backslash in path");
    }
    for &b in raw.as_bytes() {
        match b {
            0x00..=0x1F | 0x7F => return Err("control character in target"),
            0x80..=0xFF => return Err("non-ASCII byte in target"),
            b' ' => return Err("space in target"),
            // Clients never send one; a target that has it was forged.
            b'#' => return Err("fragment in target"),
            _ => {}
        }
    }
    Ok(())
}

/// Raw bytes `http` refuses in a request target (RFC 3986) that a webhook url
/// or `preloadd url` may hold (`\` too, in the query): encoded, same value.
fn must_encode(b: u8, in_query: bool) -> bool {
    matches!(b, b'\\' | b'<' | b'>') || b == if in_query { b'"' } else { b'`' }
}

/// Appends `part` with its percent-encoding normalized: escapes of unreserved
/// characters decoded, all other escapes upper-cased. Reserved characters stay
/// encoded because `/` and `%2F`, `&` and `%26` mean different things.
fn normalize_into(part: &str, in_query: bool, out: &mut String) -> Result<(), &'static str> {
    let bytes = part.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'%' {
            if must_encode(b, in_query) {
                push_escape(out, b);
            } else {
                out.push(char::from(b));
            }
            i += 1;
            continue;
        }
        let Some(v) = escape_at(&bytes[i..]) else {
            return Err("malformed percent escape");
        };
        if is_control(v) {
            return Err("percent-encoded control character");
        }
        if is_unreserved(v) {
            out.push(char::from(v));
        } else {
            push_escape(out, v);
        }
        i += 3;
    }
    Ok(())
}

/// Dot-segments and backslashes, in the normalized path and in what an app
/// reads after decoding it as often as it likes (`%252F` is `/` to an app
/// that decodes twice).
fn check_path(path: &str) -> Result<(), &'static str> {
    if has_dot_segment(path.as_bytes()) {
        return Err("dot-segment in path");
    }
    if !path.contains('%') {
        return Ok(());
    }
    let decoded = decode_fully(path);
    if decoded.contains(&b'\\') {
        return Err("backslash in decoded path");
    }
    if decoded.iter().any(|&b| is_control(b)) {
        return Err("percent-encoded control character");
    }
    if has_dot_segment(&decoded) {
        return Err("dot-segment in decoded path");
    }
    // `/%2F%2Fevil.com` decodes to a protocol-relative URL.
    if decoded.starts_with(b"//") {
        return Err("decoded path starts with \"//\"");
    }
    Ok(())
}

fn has_dot_segment(path: &[u8]) -> bool {
    path.split(|&b| b == b'/')
        .any(|segment| segment == b"." || segment == b"..")
}

/// Percent-decodes `s` until no escape is left, in one pass: after each byte
/// the tail is decoded while it forms an escape, so `%25` followed by `2F`
/// becomes `/`. Escapes never overlap (a hex digit is never `%`), so this
/// reaches the same result as decoding again and again until nothing
/// changes, without a pass per layer (which `%2525…` would make quadratic).
pub(crate) fn decode_fully(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s.as_bytes() {
        out.push(b);
        while let Some(v) = out
            .len()
            .checked_sub(3)
            .and_then(|at| escape_at(&out[at..]))
        {
            out.truncate(out.len() - 3);
            out.push(v);
        }
    }
    out
}

/// Appends the normalized query: empty pieces, empty values and ignored names
/// dropped, then sorted by name when asked, with `?` before it unless nothing
/// is left. Normalization never produces `&`, `=` or `?` (they are reserved),
/// so splitting the normalized text splits exactly where the received one
/// would.
fn push_query(normalized: &str, rules: QueryRules<'_>, out: &mut String) {
    let mut params: Vec<&str> = normalized
        .split('&')
        .filter(|param| keep_param(param, rules.ignore_query))
        .collect();
    if rules.sort_query {
        // `sort_by_key` is stable: repeated names keep their received order,
        // which apps reading lists (`?tag=a&tag=b`) depend on.
        params.sort_by_key(|param| param_name(param));
    }
    for (i, param) in params.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(param);
    }
}

/// Whether a normalized parameter stays in the canonical target.
///
/// `b=` is dropped (an empty form field says nothing), but a bare `b` is kept:
/// a name without `=` is a presence flag (`?print`, `?amp`) whose presence is
/// its meaning. It is kept as received, not rewritten to `b=`, which would
/// then be dropped and break idempotence.
fn keep_param(param: &str, ignore: &[Glob]) -> bool {
    if param.is_empty() || param.split_once('=').is_some_and(|(_, v)| v.is_empty()) {
        return false;
    }
    if ignore.is_empty() {
        return true;
    }
    let name = decode_once(param_name(param));
    !ignore.iter().any(|glob| glob.matches(&name))
}

fn param_name(param: &str) -> &str {
    param.split_once('=').map_or(param, |(name, _)| name)
}

/// A normalized query name as the app reads it: one percent-decoding, `+`
/// left alone (the canonical target keeps `+` too).
fn decode_once(name: &str) -> Cow<'_, str> {
    if !name.contains('%') {
        return Cow::Borrowed(name);
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match escape_at(&bytes[i..]) {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The byte encoded by a valid escape at the start of `bytes`.
fn escape_at(bytes: &[u8]) -> Option<u8> {
    match *bytes {
        [b'%', h, l, ..] => Some(hex_value(h)? << 4 | hex_value(l)?),
        _ => None,
    }
}

fn push_escape(out: &mut String, b: u8) {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(UPPER[usize::from(b >> 4)]));
    out.push(char::from(UPPER[usize::from(b & 0x0F)]));
}

/// The value of one hex digit, either case: the one decoder of `%XX`
/// escapes (targets here, form bodies in `invalidate::fields`) and of key
/// names ([`Key::from_hex`]).
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7F
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}
