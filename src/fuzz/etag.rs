//! Entity-tags and `If-None-Match` / `If-Modified-Since`
//! (`conditional::{parse_etag, not_modified}`, RFC 9110 §8.8.3, §13.1):
//! never a panic; a tag parses exactly when it is one, and back to its
//! bytes; for lists written from known members, a 304 exactly when the
//! rules of `not_modified`'s doc give one.

use std::time::{Duration, UNIX_EPOCH};

use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

use super::run;
use crate::conditional::{not_modified, parse_etag, EntityTag};

/// Opaque tags, small so that they meet; `,` is allowed inside quotes.
const OPAQUE: &[&str] = &["a", "b", "a,b", "", "W/", "é", "x!#"];
/// Members that are not tags (none opens a quote it does not close).
const JUNK: &[&str] = &[
    "a", "W/a", "W/", "\"a\" x", "x\"", "**", "w/\"a\"", "W/ \"a\"",
];
const OWS: &[&str] = &["", "", " ", "\t", " ,", ", ,"];

#[derive(Debug, Clone)]
enum Member {
    Any,
    Tag(bool, &'static str),
    Junk(&'static str),
}

fn member() -> impl Strategy<Value = Member> {
    prop_oneof![
        1 => Just(Member::Any),
        5 => (any::<bool>(), prop::sample::select(OPAQUE)).prop_map(|(w, o)| Member::Tag(w, o)),
        2 => prop::sample::select(JUNK).prop_map(Member::Junk),
    ]
}

fn tag_text(weak: bool, opaque: &str) -> String {
    format!("{}\"{opaque}\"", if weak { "W/" } else { "" })
}

fn date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// The current ETag: a tag, or (`None`) a malformed one.
type Current = Option<(bool, &'static str)>;

/// 304 per `not_modified`'s doc.
fn model(
    lines: &[Vec<(Member, &str)>],
    current: Current,
    since: Option<u64>,
    modified: Option<u64>,
) -> bool {
    if !lines.is_empty() {
        return lines.iter().flatten().any(|(m, _)| match m {
            Member::Any => true,
            Member::Tag(_, opaque) => current.is_some_and(|(_, c)| c == *opaque),
            Member::Junk(_) => false,
        });
    }
    matches!((since, modified), (Some(s), Some(m)) if s >= m)
}

#[test]
fn if_none_match() {
    let line = prop::collection::vec((member(), prop::sample::select(OWS)), 0..4);
    let current = prop::option::of((any::<bool>(), prop::sample::select(OPAQUE)));
    let secs = || prop::option::of(1_000_000_000u64..1_000_000_003);
    let input = (prop::collection::vec(line, 0..3), current, secs(), secs());
    run(
        "if_none_match",
        2000,
        input,
        |(lines, current, since, modified)| {
            let mut req = HeaderMap::new();
            for line in &lines {
                let text: Vec<String> = line
                    .iter()
                    .map(|(m, ows)| match m {
                        Member::Any => format!("{ows}*"),
                        Member::Tag(weak, opaque) => format!("{ows}{}", tag_text(*weak, opaque)),
                        Member::Junk(junk) => format!("{ows}{junk}"),
                    })
                    .collect();
                let text = text.join(",");
                req.append(
                    IF_NONE_MATCH,
                    HeaderValue::from_bytes(text.as_bytes()).expect("field-value bytes"),
                );
            }
            if let Some(s) = since {
                req.insert(
                    IF_MODIFIED_SINCE,
                    HeaderValue::from_str(&date(s)).expect("a date"),
                );
            }
            let etag = current.map_or("\"unquoted".to_string(), |(w, o)| tag_text(w, o));
            let etag = HeaderValue::from_bytes(etag.as_bytes()).expect("field-value bytes");
            let modified_v =
                HeaderValue::from_str(&modified.map_or("not a date".to_string(), date))
                    .expect("ASCII");
            let expected = model(&lines, current, since, modified);
            prop_assert_eq!(
                not_modified(&req, &etag, &modified_v),
                expected,
                "{:?}",
                req
            );
            Ok(())
        },
    );
}

fn etagc() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0x21u8), 0x23u8..=0x7E, 0x80u8..=0xFF]
}

#[test]
fn entity_tags() {
    let tag = (any::<bool>(), prop::collection::vec(etagc(), 0..12));
    let byte = prop_oneof![
        etagc(),
        Just(b'"'),
        Just(b' '),
        Just(b'W'),
        Just(b'/'),
        any::<u8>()
    ];
    let raw = prop::collection::vec(byte, 0..16);
    run("entity_tags", 2000, (tag, raw), |((weak, opaque), raw)| {
        let text = [if weak { &b"W/\""[..] } else { b"\"" }, &opaque, b"\""].concat();
        prop_assert_eq!(
            parse_etag(&text),
            Some(EntityTag {
                weak,
                opaque: &opaque
            })
        );
        if let Some(t) = parse_etag(&raw) {
            let back = [if t.weak { &b"W/\""[..] } else { b"\"" }, t.opaque, b"\""].concat();
            prop_assert_eq!(back, raw.clone(), "parsed, but not back to its bytes");
            prop_assert!(t.opaque.iter().all(|&b| b != b'"' && b > 0x20 && b != 0x7F));
        }
        // A list of any bytes: no panic, whatever the answer.
        if let Ok(value) = HeaderValue::from_bytes(&raw) {
            let mut req = HeaderMap::new();
            req.insert(IF_NONE_MATCH, value.clone());
            let _ = not_modified(&req, &value, &value);
        }
        Ok(())
    });
}
