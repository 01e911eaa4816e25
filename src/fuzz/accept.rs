//! `Accept-Encoding` (`compress::choose`, RFC 9110 §12.5.3): never a
//! panic, never a coding that is not available, and for a header written
//! from known entries, the choice the rules of `choose`'s doc give.

use http::header::ACCEPT_ENCODING;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

use super::run;
use crate::compress::choose;
use crate::store::Encoding;

/// Spellings of codings; the last ones are not tokens.
const CODINGS: &[&str] = &[
    "gzip", "GZIP", "x-gzip", "X-Gzip", "br", "BR", "identity", "Identity", "*", "deflate", "zstd",
    "compress", "", "g zip", "g@zip", "b/r",
];
/// Weights as written, with their value in thousandths (`None`: malformed).
const WEIGHTS: &[(&str, Option<u16>)] = &[
    ("q=1", Some(1000)),
    ("q=1.", Some(1000)),
    ("q=1.000", Some(1000)),
    ("Q=0.5", Some(500)),
    ("q=0.500", Some(500)),
    ("q=0", Some(0)),
    ("q=0.", Some(0)),
    ("q=0.001", Some(1)),
    ("q=0.999", Some(999)),
    ("q=1.001", None),
    ("q=2", None),
    ("q=.5", None),
    ("q=0.5000", None),
    ("q = 0.5", None),
    ("q=-1", None),
    ("level=1", None),
    ("q=", None),
    ("q=0.5x", None),
];
const OWS: &[&str] = &["", "", " ", "\t", "  "];

/// One list element as written: coding, weight (index into [`WEIGHTS`]),
/// a second parameter, and the whitespace around its parts.
type Element = (&'static str, Option<(usize, u16)>, bool, [&'static str; 3]);

fn element() -> impl Strategy<Value = Element> {
    let weight = prop_oneof![
        (0..WEIGHTS.len()).prop_map(|i| (i, 0)),
        (0u16..=1000).prop_map(|t| (usize::MAX, t)),
    ];
    let ows = [
        prop::sample::select(OWS),
        prop::sample::select(OWS),
        prop::sample::select(OWS),
    ];
    (
        prop::sample::select(CODINGS),
        prop::option::of(weight),
        prop::bool::weighted(0.05),
        ows,
    )
}

/// The weight's text and value; `usize::MAX` marks a generated weight.
fn weight_of(index: usize, thousandths: u16) -> (String, Option<u16>) {
    if index == usize::MAX {
        let text = format!("q={}.{:03}", thousandths / 1000, thousandths % 1000);
        return (text, Some(thousandths));
    }
    let (text, value) = WEIGHTS[index];
    (text.to_string(), value)
}

/// The header: its elements over one field line or more.
fn header(lines: &[String]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        let value = HeaderValue::from_bytes(line.as_bytes()).expect("field-value bytes");
        headers.append(ACCEPT_ENCODING, value);
    }
    headers
}

fn render(elements: &[Element]) -> String {
    let mut parts = Vec::new();
    for (coding, weight, extra, [a, b, c]) in elements {
        let mut s = format!("{a}{coding}");
        if let Some((i, t)) = weight {
            s.push_str(&format!("{b};{c}{}", weight_of(*i, *t).0));
        }
        if *extra {
            s.push_str(";x=1");
        }
        s.push_str(a);
        parts.push(s);
    }
    parts.join(",")
}

/// The reference: what `choose`'s doc says, from the entries themselves.
fn model(elements: &[Element], available: &[Encoding]) -> Option<Encoding> {
    let token = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let (mut star, mut identity, mut gzip, mut br) = (None, None, None, None);
    for (coding, weight, extra, _) in elements {
        let q = match weight {
            None => Some(1000),
            Some((i, t)) => weight_of(*i, *t).1,
        };
        let (Some(q), true, false) = (q, token(coding), *extra) else {
            continue;
        };
        let slot = match coding.to_ascii_lowercase().as_str() {
            "*" => &mut star,
            "identity" => &mut identity,
            "gzip" | "x-gzip" => &mut gzip,
            "br" => &mut br,
            _ => continue,
        };
        slot.get_or_insert(q);
    }
    let weight = |e: Encoding, own: Option<u16>| {
        if available.contains(&e) {
            own.or(star).unwrap_or(0)
        } else {
            0
        }
    };
    let (wb, wg) = (weight(Encoding::Brotli, br), weight(Encoding::Gzip, gzip));
    let best = match (wb, wg) {
        (0, 0) => return None,
        _ if wb >= wg => (Encoding::Brotli, wb),
        _ => (Encoding::Gzip, wg),
    };
    match identity {
        Some(iq) if iq > best.1 => None,
        _ => Some(best.0),
    }
}

fn available() -> impl Strategy<Value = Vec<Encoding>> {
    prop::sample::subsequence(&[Encoding::Gzip, Encoding::Brotli][..], 0..=2).prop_shuffle()
}

#[test]
fn accept_encoding() {
    let input = (
        prop::collection::vec(element(), 0..6),
        0usize..4,
        available(),
    );
    run(
        "accept_encoding",
        2000,
        input,
        |(elements, split, available)| {
            // Lines joined with ", " are one list.
            let split = split.min(elements.len());
            let lines = [render(&elements[..split]), render(&elements[split..])];
            let headers = header(&lines[usize::from(split == 0)..]);
            let expected = model(&elements, &available);
            prop_assert_eq!(choose(&headers, &available), expected, "{:?}", lines);
            prop_assert_eq!(choose(&HeaderMap::new(), &available), None);
            Ok(())
        },
    );
}

#[test]
fn accept_encoding_bytes() {
    let byte = prop_oneof![
        0x20u8..0x7F,
        Just(b'\t'),
        0x80u8..=0xFF,
        Just(b','),
        Just(b';'),
        Just(b'"')
    ];
    let line = prop_oneof![
        prop::collection::vec(byte, 0..40),
        "[a-z*;=,. 0-9\"\\\\]{0,40}".prop_map(String::into_bytes),
    ];
    let lines = prop::collection::vec(line, 1..3);
    run(
        "accept_encoding_bytes",
        2000,
        (lines, available()),
        |(lines, available)| {
            let mut headers = HeaderMap::new();
            for line in &lines {
                headers.append(
                    ACCEPT_ENCODING,
                    HeaderValue::from_bytes(line).expect("field-value bytes"),
                );
            }
            let chosen = choose(&headers, &available);
            prop_assert!(chosen.is_none_or(|e| available.contains(&e)));
            Ok(())
        },
    );
}
