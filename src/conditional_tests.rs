//! Unit tests of `conditional.rs`.
use super::*;
use proptest::prelude::*;

const LAST_MODIFIED: &str = "Tue, 03 Mar 2026 10:00:00 GMT";

fn value(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).expect("test header value")
}

/// A request whose field lines for `name` are `lines` split at `\n`.
fn req(name: HeaderName, lines: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines.split(|&b| b == b'\n') {
        map.append(name.clone(), value(line));
    }
    map
}

fn not_modified_for(req: &HeaderMap, etag: &[u8], last_modified: &str) -> bool {
    not_modified(req, &value(etag), &value(last_modified.as_bytes()))
}

/// Each case: `If-None-Match` lines, the snapshot's ETag, and whether 304.
fn check_inm(cases: &[(&[u8], &[u8], bool)]) {
    for &(lines, etag, expected) in cases {
        let got = not_modified_for(&req(IF_NONE_MATCH, lines), etag, LAST_MODIFIED);
        let lines = String::from_utf8_lossy(lines);
        assert_eq!(
            got,
            expected,
            "{lines} against {}",
            String::from_utf8_lossy(etag)
        );
    }
}

/// Each case: `Range`, body length, `If-Range` (or ""), the snapshot's
/// ETag, and the answer written `200`, `416` or `start-end`.
fn check_range(cases: &[(&str, u64, &str, &str, &str)]) {
    for &(range, len, if_range, etag, expected) in cases {
        let mut h = req(RANGE, range.as_bytes());
        if !if_range.is_empty() {
            h.append(IF_RANGE, value(if_range.as_bytes()));
        }
        let answer = self::range(
            &h,
            len,
            &value(etag.as_bytes()),
            &value(LAST_MODIFIED.as_bytes()),
        );
        let got = match answer {
            RangeAnswer::Full => "200".to_owned(),
            RangeAnswer::Unsatisfiable => "416".to_owned(),
            RangeAnswer::Partial { start, end } => format!("{start}-{end}"),
        };
        assert_eq!(
            got, expected,
            "{range} of {len}, If-Range {if_range}, ETag {etag}"
        );
    }
}

#[test]
fn etags_parse_as_rfc_9110_writes_them() {
    let parsed = |v: &'static [u8]| parse_etag(v).map(|t| (t.weak, t.opaque));
    assert_eq!(parsed(b"\"x\""), Some((false, &b"x"[..])));
    assert_eq!(parsed(b"W/\"x\""), Some((true, &b"x"[..])));
    assert_eq!(parsed(b"\"\""), Some((false, &b""[..])));
    assert_eq!(parsed(b"\"caf\xe9\""), Some((false, &b"caf\xe9"[..])));
    let bad: [&[u8]; 8] = [
        b"\"abc",
        b"abc",
        b"w/\"x\"",
        b"\"a\"b\"",
        b"\"a b\"",
        b" \"x\"",
        b"\"",
        b"",
    ];
    for v in bad {
        assert_eq!(parse_etag(v), None, "{}", String::from_utf8_lossy(v));
    }
}

#[test]
fn if_none_match_compares_weakly_over_lists_and_lines() {
    check_inm(&[
        (b"\"x\"", b"\"x\"", true),
        (b"W/\"x\"", b"\"x\"", true),
        (b"\"x\"", b"W/\"x\"", true),
        (b"\"y\"", b"\"x\"", false),
        (b"*", b"\"x\"", true),
        (b"\"a\" ,\t\"b\",  W/\"x\" ", b"\"x\"", true),
        (b"\"a\", \"b\"\n\"x\"", b"\"x\"", true),
        (b",, \"x\",", b"\"x\"", true),
        (b"\"a,b\"", b"\"a,b\"", true),
        (b"\"a,b\"", b"\"a\"", false),
    ]);
}

#[test]
fn obs_text_etags_match_byte_for_byte() {
    check_inm(&[
        (b"\"a\", \"caf\xc3\xa9\"", b"\"caf\xc3\xa9\"", true),
        (b"\"caf\xc3\xa9\"", b"\"caf\xe9\"", false),
    ]);
}

#[test]
fn malformed_tags_never_match() {
    check_inm(&[
        (b"\"abc", b"\"abc\"", false),
        (b"abc", b"\"abc\"", false),
        (b"\"abc\"x", b"\"abc\"", false),
        (b"\"abc\" \"def\"", b"\"def\"", false),
        (b"junk, \"abc\"", b"\"abc\"", true),
        (b"\"abc\"", b"abc", false),
    ]);
}

#[test]
fn if_none_match_makes_if_modified_since_ignored() {
    for inm in [&b"\"other\""[..], b"\"abc"] {
        let mut h = req(IF_NONE_MATCH, inm);
        h.append(IF_MODIFIED_SINCE, value(LAST_MODIFIED.as_bytes()));
        assert!(!not_modified_for(&h, b"\"e\"", LAST_MODIFIED));
    }
}

#[test]
fn if_modified_since_at_or_after_last_modified_is_not_modified() {
    for (since, expected) in [
        (LAST_MODIFIED, true),
        ("Tue, 03 Mar 2026 10:00:01 GMT", true),
        ("Tuesday, 03-Mar-26 10:00:00 GMT", true),
        ("Tue, 03 Mar 2026 09:59:59 GMT", false),
        ("yesterday", false),
    ] {
        let h = req(IF_MODIFIED_SINCE, since.as_bytes());
        assert_eq!(
            not_modified_for(&h, b"\"e\"", LAST_MODIFIED),
            expected,
            "{since}"
        );
    }
    let h = req(IF_MODIFIED_SINCE, LAST_MODIFIED.as_bytes());
    assert!(!not_modified_for(&h, b"\"e\"", "garbage"));
    assert!(!not_modified_for(
        &HeaderMap::new(),
        b"\"e\"",
        LAST_MODIFIED
    ));
}

#[test]
fn one_bytes_range_is_partial_and_clamped() {
    check_range(&[
        ("bytes=0-0", 10, "", "\"e\"", "0-0"),
        ("bytes=-1", 10, "", "\"e\"", "9-9"),
        ("bytes=5-", 10, "", "\"e\"", "5-9"),
        ("bytes=2-99", 10, "", "\"e\"", "2-9"),
        ("bytes=-500", 10, "", "\"e\"", "0-9"),
        ("Bytes= 3-4 ,", 10, "", "\"e\"", "3-4"),
        ("bytes=0-99999999999999999999999", 10, "", "\"e\"", "0-9"),
    ]);
}

#[test]
fn unusable_ranges_get_the_full_body() {
    for range in [
        "bytes=0-1,3-4",
        "items=0-1",
        "bytes=",
        "bytes=5-2",
        "bytes=a-1",
        "bytes=1-b",
        "bytes=--1",
        "0-1",
        "bytes=1",
        "bytes=0-1\nbytes=0-1",
    ] {
        check_range(&[(range, 10, "", "\"e\"", "200")]);
    }
    let etag = value(b"\"e\"");
    assert_eq!(
        range(&HeaderMap::new(), 10, &etag, &etag),
        RangeAnswer::Full
    );
}

#[test]
fn ranges_past_the_end_are_unsatisfiable() {
    check_range(&[
        ("bytes=10-", 10, "", "\"e\"", "416"),
        ("bytes=99999999999999999999-", 10, "", "\"e\"", "416"),
        ("bytes=-0", 10, "", "\"e\"", "416"),
        ("bytes=0-0", 0, "", "\"e\"", "416"),
        // A suffix of an empty body is satisfiable but selects nothing.
        ("bytes=-5", 0, "", "\"e\"", "200"),
    ]);
}

#[test]
fn if_range_needs_a_strong_match_or_the_exact_date() {
    check_range(&[
        ("bytes=0-1", 10, "\"e\"", "\"e\"", "0-1"),
        ("bytes=0-1", 10, LAST_MODIFIED, "\"e\"", "0-1"),
        ("bytes=0-1", 10, "\"f\"", "\"e\"", "200"),
        ("bytes=0-1", 10, "W/\"e\"", "\"e\"", "200"),
        ("bytes=0-1", 10, "\"e\"", "W/\"e\"", "200"),
        (
            "bytes=0-1",
            10,
            "Tue, 03 Mar 2026 09:59:59 GMT",
            "\"e\"",
            "200",
        ),
        ("bytes=0-1", 10, "\"e", "\"e\"", "200"),
        ("bytes=10-", 10, "\"f\"", "\"e\"", "200"),
    ]);
}

#[test]
fn derived_etag_is_a_strong_hash_prefix() {
    // SHA-256("") = e3b0c44298fc1c149afbf4c8996fb924...
    assert_eq!(derived_etag(b""), "\"e3b0c44298fc1c149afbf4c8996fb924\"");
    let tag = derived_etag(b"<html>");
    let parsed = parse_etag(tag.as_bytes()).map(|t| (t.weak, t.opaque.len()));
    assert_eq!(parsed, Some((false, 32)));
    assert_ne!(tag, derived_etag(b"<html> "));
}

proptest! {
    #[test]
    fn range_answers_stay_inside_the_body(
        spec in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            "[bB]ytes=[-0-9, ]{0,24}".prop_map(String::into_bytes),
        ],
        if_range in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        len in prop_oneof![0u64..20, any::<u64>()],
    ) {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&spec) {
            h.insert(RANGE, v);
        }
        if let Some(Ok(v)) = if_range.map(|b| HeaderValue::from_bytes(&b)) {
            h.insert(IF_RANGE, v);
        }
        let etag = value(b"\"e\"");
        if let RangeAnswer::Partial { start, end } = range(&h, len, &etag, &etag) {
            prop_assert!(start <= end && end < len);
        }
    }

    #[test]
    fn etag_and_list_parsing_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_etag(&bytes);
        if let Ok(v) = HeaderValue::from_bytes(&bytes) {
            let mut h = req(IF_NONE_MATCH, v.as_bytes());
            h.append(IF_MODIFIED_SINCE, v.clone());
            let _ = not_modified(&h, &v, &v);
        }
    }
}
