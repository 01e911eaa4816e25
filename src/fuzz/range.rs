//! `Range` and `If-Range` (`conditional::range`, RFC 9110 §14): never a
//! panic, a 206 only for bytes inside the body, and for headers written
//! from known parts, the answer the rules of `range`'s doc give.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{IF_RANGE, RANGE};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

use super::run;
use crate::conditional::{parse_etag, range, RangeAnswer};

const UNITS: &[(&str, bool)] = &[
    ("bytes", true),
    ("BYTES", true),
    ("Bytes", true),
    ("items", false),
    ("", false),
    ("byte", false),
    ("bytes ", false),
];
/// Range-specs that are not one.
const JUNK: &[&str] = &[
    "-", "a-1", "1-a", "x", "1", "--1", "1--2", "+1-2", "1 - 2", "0x1-2", "1-2-3",
];
const OWS: &[&str] = &["", "", " ", "\t"];

/// A number as written (leading zeros, or past `u64::MAX`).
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..2000, 0usize..3).prop_map(|(n, z)| format!("{}{n}", "0".repeat(z))),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "[1-9][0-9]{19,24}",
    ]
}

#[derive(Debug, Clone)]
enum Spec {
    FromTo(String, Option<String>),
    Suffix(String),
    Junk(&'static str),
    Empty,
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        4 => (number(), prop::option::of(number())).prop_map(|(a, b)| Spec::FromTo(a, b)),
        2 => number().prop_map(Spec::Suffix),
        1 => prop::sample::select(JUNK).prop_map(Spec::Junk),
        1 => Just(Spec::Empty),
    ]
}

/// The value of a digit string, saturated: the reference for `number`.
fn value(digits: &str) -> u64 {
    digits.parse().unwrap_or(u64::MAX)
}

fn render(unit: &str, specs: &[(Spec, &str)]) -> String {
    let specs: Vec<String> = specs
        .iter()
        .map(|(spec, ows)| match spec {
            Spec::FromTo(a, b) => format!("{ows}{a}-{}{ows}", b.as_deref().unwrap_or("")),
            Spec::Suffix(n) => format!("{ows}-{n}"),
            Spec::Junk(j) => format!("{ows}{j}"),
            Spec::Empty => ows.to_string(),
        })
        .collect();
    format!("{unit}={}", specs.join(","))
}

/// The answer to the `Range` alone.
fn model(unit_ok: bool, specs: &[(Spec, &str)], len: u64) -> RangeAnswer {
    let listed: Vec<&Spec> = specs
        .iter()
        .map(|(s, _)| s)
        .filter(|s| !matches!(s, Spec::Empty))
        .collect();
    if !unit_ok || listed.len() != 1 {
        return RangeAnswer::Full;
    }
    match listed[0] {
        Spec::FromTo(a, b) => {
            let (start, end) = (value(a), b.as_deref().map_or(u64::MAX, value));
            if end < start {
                RangeAnswer::Full
            } else if start >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial {
                    start,
                    end: end.min(len - 1),
                }
            }
        }
        Spec::Suffix(n) if value(n) == 0 => RangeAnswer::Unsatisfiable,
        Spec::Suffix(_) if len == 0 => RangeAnswer::Full,
        Spec::Suffix(n) => RangeAnswer::Partial {
            start: len - value(n).min(len),
            end: len - 1,
        },
        Spec::Junk(_) | Spec::Empty => RangeAnswer::Full,
    }
}

const TAGS: &[&str] = &["\"a\"", "W/\"a\"", "\"b\"", "a", "\"\"", "W/\"\"", "*"];

fn date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// An `If-Range` value: a tag, or a date (as seconds), or junk.
fn condition() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        prop::sample::select(TAGS).prop_map(str::to_owned),
        (1_000_000_000u64..1_000_000_004).prop_map(date),
        Just("yesterday".to_string()),
    ])
}

fn http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s).ok()
}

/// Whether `If-Range` lets the range through, per `range`'s doc.
fn holds(condition: &str, etag: &str, last_modified: &str) -> bool {
    if let Some(tag) = parse_etag(condition.as_bytes()) {
        let current = parse_etag(etag.as_bytes());
        return !tag.weak && current.is_some_and(|c| !c.weak && c.opaque == tag.opaque);
    }
    matches!((http_date(condition), http_date(last_modified)), (Some(a), Some(b)) if a == b)
}

#[test]
fn range_requests() {
    let unit = prop::sample::select(UNITS);
    let specs = prop::collection::vec((spec(), prop::sample::select(OWS)), 0..4);
    let len = prop_oneof![0u64..3, 0u64..3000, Just(u64::MAX)];
    let validators = (
        prop::sample::select(TAGS),
        (1_000_000_000u64..1_000_000_004).prop_map(date),
    );
    let input = (unit, specs, len, 1usize..=2, condition(), validators);
    run(
        "range_requests",
        2000,
        input,
        |((unit, unit_ok), specs, len, lines, cond, (etag, modified))| {
            let text = render(unit, &specs);
            let mut req = HeaderMap::new();
            for _ in 0..lines {
                req.append(RANGE, HeaderValue::from_str(&text).expect("visible ASCII"));
            }
            if let Some(c) = &cond {
                req.insert(IF_RANGE, HeaderValue::from_str(c).expect("visible ASCII"));
            }
            let (etag_v, modified_v) = (
                HeaderValue::from_static(etag),
                HeaderValue::from_str(&modified).expect("a date"),
            );
            let answer = range(&req, len, &etag_v, &modified_v);
            let mut expected = if lines == 1 {
                model(unit_ok, &specs, len)
            } else {
                RangeAnswer::Full
            };
            if expected != RangeAnswer::Full
                && cond.as_deref().is_some_and(|c| !holds(c, etag, &modified))
            {
                expected = RangeAnswer::Full;
            }
            prop_assert_eq!(answer, expected, "Range: {:?}, len {}", text, len);
            Ok(())
        },
    );
}

#[test]
fn range_bytes() {
    let byte = prop_oneof![0x20u8..0x7F, Just(b'\t'), 0x80u8..=0xFF];
    let text = prop_oneof![
        prop::collection::vec(byte, 0..40),
        "(bytes|BYTES)=[0-9, -]{0,30}".prop_map(String::into_bytes),
    ];
    run(
        "range_bytes",
        2000,
        (text, any::<u64>(), 0u64..100),
        |(text, big, small)| {
            let mut req = HeaderMap::new();
            req.insert(
                RANGE,
                HeaderValue::from_bytes(&text).expect("field-value bytes"),
            );
            for len in [0, 1, small, big] {
                let tag = HeaderValue::from_static("\"a\"");
                if let RangeAnswer::Partial { start, end } = range(&req, len, &tag, &tag) {
                    prop_assert!(start <= end && end < len, "{start}-{end} of {len}");
                }
            }
            Ok(())
        },
    );
}
