//! Target canonicalization (`key::canonical_target`, SPEC §3): never a
//! panic; the canonical form is a fixpoint, stays in origin form (also as
//! an app that decodes it any number of times reads it), joins the
//! upstream's URL without changing its authority, and every spelling of
//! it that differs only in percent-encoding canonicalizes back to it.

use proptest::prelude::*;

use super::{mutated, pieces, run};
use crate::config::Glob;
use crate::fetch::upstream_uri;
use crate::key::{canonical_target, QueryRules, TargetError, MAX_TARGET};

/// The tokens targets are made of, the tricky ones several times over.
const PIECES: &[&str] = &[
    "/",
    "/",
    "/",
    "/",
    ".",
    ".",
    "..",
    "a",
    "b",
    "Z",
    "0",
    "~",
    "-",
    "_",
    "+",
    "?",
    "?",
    "&",
    "&",
    "=",
    "=",
    "%",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%25",
    "%252e",
    "%252F",
    "%5c",
    "%5C",
    "%00",
    "%0a",
    "%1F",
    "%7f",
    "%7F",
    "%20",
    "%41",
    "%7e",
    "%26",
    "%3D",
    "%3f",
    "%3A",
    "%c3%a9",
    "%C0%AE",
    "%E2",
    "%g",
    "%4",
    "\\",
    "#",
    " ",
    "\t",
    "\r\n",
    "\0",
    "é",
    "\u{7f}",
    ":",
    "://",
    "http:",
    "//",
    "@",
    ";",
    "*",
    "[",
    "]",
    "utm_",
    "utm_source",
    "fbclid",
    "x",
];

/// Fewer outright faults, so that more inputs reach the query rules.
const MILD: &[&str] = &[
    "/", "a", "b", "c", "?", "&", "&", "=", "=", ".", "%2e", "%2F", "%25", "%41", "%7e", "%26",
    "+", "\\", "2", "F", "utm_", "x", "%5F",
];

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => pieces(PIECES, 32).prop_map(|t| format!("/{t}")),
        3 => pieces(MILD, 32).prop_map(|t| format!("/{t}")),
        1 => pieces(PIECES, 32),
        1 => any::<String>(),
        1 => mutated(pieces(MILD, 24).prop_map(|t| format!("/{t}").into_bytes()))
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        // Around the length limit.
        1 => (MAX_TARGET - 4..MAX_TARGET + 4, pieces(MILD, 8))
            .prop_map(|(n, t)| format!("/{t}{}", "a".repeat(n)).chars().take(n).collect()),
    ]
}

/// Query rules with any of a few ignore globs.
fn rules() -> impl Strategy<Value = (bool, Vec<&'static str>)> {
    let globs = prop::sample::subsequence(&["utm_*", "a*", "*", "x", "?", "é", "/"][..], 0..3);
    (any::<bool>(), globs)
}

/// One layer of percent-decoding (the slow way: this is the reference).
fn decode_once(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (
            s[i],
            s.get(i + 1).and_then(|&b| hex(b)),
            s.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// What the daemon promises of a canonical target (SPEC §3).
fn check_clean(out: &str, ignored: &[Glob]) -> Result<(), TestCaseError> {
    let bytes = out.as_bytes();
    prop_assert!(out.starts_with('/') && !out.starts_with("//"));
    prop_assert!(
        bytes.iter().all(|b| (0x21..0x7F).contains(b)),
        "raw byte outside visible ASCII"
    );
    prop_assert!(!out.contains(['\\', '#']));
    for (i, _) in out.match_indices('%') {
        let esc = &bytes[i + 1..(i + 3).min(bytes.len())];
        prop_assert!(
            esc.len() == 2
                && esc
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()),
            "escape not upper-case hex"
        );
        let v = decode_once(&bytes[i..i + 3])[0];
        prop_assert!(v >= 0x20 && v != 0x7F, "encoded control character");
        prop_assert!(!is_unreserved(v), "unreserved character left encoded");
    }
    let (path, query) = out
        .split_once('?')
        .map_or((out, None), |(p, q)| (p, Some(q)));
    prop_assert!(!path.contains("://"), "scheme in path");
    // Decoded as often as an app likes, the path stays a plain path.
    let mut layer = path.as_bytes().to_vec();
    loop {
        let dot = layer.split(|&b| b == b'/').any(|s| s == b"." || s == b"..");
        prop_assert!(!dot, "dot-segment in {:?}", String::from_utf8_lossy(&layer));
        prop_assert!(!layer.contains(&b'\\') && !layer.starts_with(b"//"));
        prop_assert!(!layer.iter().any(|&b| b < 0x20 || b == 0x7F));
        let next = decode_once(&layer);
        if next == layer {
            break;
        }
        layer = next;
    }
    if let Some(query) = query {
        prop_assert!(!query.is_empty(), "empty query kept");
        for param in query.split('&') {
            let empty_value = param.split_once('=').is_some_and(|(_, v)| v.is_empty());
            prop_assert!(!param.is_empty() && !empty_value, "empty parameter kept");
            let name = param.split_once('=').map_or(param, |(n, _)| n);
            let name = String::from_utf8_lossy(&decode_once(name.as_bytes())).into_owned();
            prop_assert!(
                !ignored.iter().any(|g| g.matches(&name)),
                "ignored name {name:?} kept"
            );
        }
    }
    Ok(())
}

/// `out` spelled differently: some unreserved characters percent-encoded
/// and the hex digits of some escapes in lower case, which must
/// canonicalize back to `out`.
fn respelled(out: &str, choices: &[bool]) -> String {
    let mut s = String::with_capacity(out.len() * 2);
    let mut choice = choices.iter().copied().cycle();
    let mut in_escape = 0;
    for b in out.bytes() {
        if b == b'%' {
            in_escape = 2;
            s.push('%');
        } else if in_escape > 0 {
            in_escape -= 1;
            let lower = choice.next().unwrap_or(false);
            s.push(char::from(if lower { b.to_ascii_lowercase() } else { b }));
        } else if is_unreserved(b) && choice.next().unwrap_or(false) {
            s.push_str(&format!("%{b:02x}"));
        } else {
            s.push(char::from(b));
        }
    }
    s
}

fn check(raw: &str, sort: bool, globs: &[&str], choices: &[bool]) -> Result<(), TestCaseError> {
    let globs: Vec<Glob> = globs
        .iter()
        .map(|g| g.parse().expect("valid glob"))
        .collect();
    let rules = QueryRules {
        sort_query: sort,
        ignore_query: &globs,
    };
    let result = canonical_target(raw, rules);
    if raw.len() > MAX_TARGET {
        prop_assert_eq!(result, Err(TargetError::TooLong));
        return Ok(());
    }
    let Ok(out) = result else { return Ok(()) };
    prop_assert!(out.len() <= MAX_TARGET, "canonical form over the limit");
    prop_assert_eq!(
        canonical_target(&out, rules),
        Ok(out.clone()),
        "not a fixpoint"
    );
    check_clean(&out, &globs)?;
    let upstream: http::Uri = "http://app.internal:8000".parse().expect("valid URI");
    let uri = upstream_uri(&upstream, &out).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(uri.authority(), upstream.authority(), "authority changed");
    prop_assert_eq!(uri.path_and_query().map(|p| p.as_str()), Some(out.as_str()));
    let other = respelled(&out, choices);
    if other.len() <= MAX_TARGET {
        prop_assert_eq!(
            canonical_target(&other, rules),
            Ok(out.clone()),
            "respelled {:?}",
            other
        );
    }
    Ok(())
}

#[test]
fn canonicalization() {
    let input = (
        target(),
        rules(),
        prop::collection::vec(any::<bool>(), 1..8),
    );
    run(
        "canonicalization",
        1500,
        input,
        |(raw, (sort, globs), choices)| check(&raw, sort, &globs, &choices),
    );
}
