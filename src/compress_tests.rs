//! Tests of the compress rules: what is compressible, which variants are
//! kept, and how Accept-Encoding picks one.

use std::io::Read;

use http::header::{self, HeaderMap, HeaderValue};

use super::*;
use crate::store::Encoding::{Brotli, Gzip};

fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(name.clone(), HeaderValue::from_static(value));
    }
    h
}

fn typed(content_type: &'static str) -> bool {
    compressible(&headers(&[(header::CONTENT_TYPE, content_type)]))
}

#[test]
fn text_json_js_xml_and_svg_are_compressible() {
    for t in [
        "text/html; charset=utf-8",
        "TEXT/CSS",
        "text/plain",
        "text/javascript",
        "application/json",
        "application/javascript",
        "application/xml",
        "application/ld+json",
        "application/atom+xml",
        "image/svg+xml",
        "Application/JSON ; charset=utf-8",
    ] {
        assert!(typed(t), "{t}");
    }
}

#[test]
fn other_types_and_no_type_are_not() {
    for t in [
        "image/png",
        "application/octet-stream",
        "video/mp4",
        "application/jsonx",
        "",
        "text",
        "/json",
    ] {
        assert!(!typed(t), "{t}");
    }
    assert!(!compressible(&HeaderMap::new()));
}

#[test]
fn an_encoded_body_is_not_compressible() {
    let h = headers(&[
        (header::CONTENT_TYPE, "text/html"),
        (header::CONTENT_ENCODING, "gzip"),
    ]);
    assert!(!compressible(&h));
    let h = headers(&[
        (header::CONTENT_TYPE, "text/html"),
        (header::CONTENT_ENCODING, "Identity"),
    ]);
    assert!(compressible(&h));
}

#[test]
fn no_transform_forbids_compression() {
    let h = headers(&[
        (header::CONTENT_TYPE, "text/html"),
        (header::CACHE_CONTROL, "public, No-Transform"),
    ]);
    assert!(!compressible(&h));
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

#[test]
fn variants_decode_to_the_body() {
    let body = "<p>hello, compressible world</p>\n".repeat(50);
    let v = variants(body.as_bytes());
    let encodings: Vec<_> = v.iter().map(|v| v.encoding).collect();
    assert_eq!(encodings, [Gzip, Brotli]);
    assert_eq!(gunzip(&v[0].body), body.as_bytes());
    assert_eq!(unbrotli(&v[1].body), body.as_bytes());
}

#[test]
fn the_brotli_window_covers_the_body_and_no_more() {
    assert_eq!(brotli_window(0), 17);
    assert_eq!(brotli_window(1024), 17);
    assert_eq!(brotli_window(128 << 10), 17);
    assert_eq!(brotli_window((128 << 10) + 1), 18);
    assert_eq!(brotli_window(4 << 20), 22);
    assert_eq!(brotli_window(16 << 20), 22);
}

#[test]
fn a_body_larger_than_its_window_still_decodes() {
    // Distinct lines, so that the encoder must reach back across windows.
    let body: String = (0..400_000)
        .map(|i| format!("<li>{}</li>\n", i % 70_000))
        .collect();
    assert!(body.len() > 1 << 22);
    let v = variants(body.as_bytes());
    assert_eq!(unbrotli(&v[1].body), body.as_bytes());
}

#[tokio::test]
async fn the_compressor_makes_the_same_variants() {
    let body = bytes::Bytes::from("<p>hello, compressible world</p>\n".repeat(50));
    let made = Compressor::new(1).variants(body.clone()).await;
    assert_eq!(made.len(), 2);
    assert_eq!(unbrotli(&made[1].body), &body[..]);
}

#[test]
fn incompressible_bodies_get_no_variants() {
    // A xorshift stream: no redundancy to find.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let body: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(variants(&body).is_empty());
}

#[test]
fn five_percent_is_the_threshold() {
    assert!(worth_keeping(95, 100));
    assert!(!worth_keeping(96, 100));
    assert!(!worth_keeping(0, 0));
}

/// A request whose `Accept-Encoding` lines are `lines`.
fn accepting(lines: &[&[u8]]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for line in lines {
        h.append(
            header::ACCEPT_ENCODING,
            HeaderValue::from_bytes(line).unwrap(),
        );
    }
    h
}

fn pick(accept: &'static str) -> Option<Encoding> {
    choose(&accepting(&[accept.as_bytes()]), &[Gzip, Brotli])
}

#[test]
fn no_header_or_nothing_available_is_identity() {
    assert_eq!(choose(&HeaderMap::new(), &[Gzip, Brotli]), None);
    assert_eq!(pick(""), None);
    let br = accepting(&[b"br, gzip"]);
    assert_eq!(choose(&br, &[]), None);
    assert_eq!(choose(&br, &[Gzip]), Some(Gzip));
}

#[test]
fn br_wins_at_equal_weight() {
    assert_eq!(pick("gzip, deflate, br"), Some(Brotli));
    assert_eq!(pick("gzip;q=0.5, br;q=0.5"), Some(Brotli));
    assert_eq!(pick("gzip"), Some(Gzip));
    assert_eq!(pick("br"), Some(Brotli));
}

#[test]
fn higher_weight_wins() {
    assert_eq!(pick("br;q=0.5, gzip"), Some(Gzip));
    assert_eq!(pick("br;q=0.501, gzip;q=0.5"), Some(Brotli));
    assert_eq!(pick("gzip;q=1.0, br;q=0.999"), Some(Gzip));
}

#[test]
fn q_zero_excludes() {
    assert_eq!(pick("br;q=0, gzip"), Some(Gzip));
    assert_eq!(pick("br;q=0.000, gzip;q=0"), None);
    assert_eq!(pick("*;q=0"), None);
}

#[test]
fn star_counts_for_codings_not_listed() {
    assert_eq!(pick("*"), Some(Brotli));
    assert_eq!(pick("br;q=0, *"), Some(Gzip));
    assert_eq!(pick("gzip;q=0.2, *;q=0.5"), Some(Brotli));
    assert_eq!(pick("deflate, *;q=0"), None);
}

#[test]
fn identity_excluded_with_nothing_acceptable_is_still_identity() {
    assert_eq!(pick("identity;q=0"), None);
    assert_eq!(pick("identity;q=0, deflate"), None);
    assert_eq!(pick("identity;q=0, gzip"), Some(Gzip));
}

#[test]
fn identity_preferred_explicitly_wins() {
    assert_eq!(pick("identity, gzip;q=0.5"), None);
    assert_eq!(pick("identity;q=0.5, gzip"), Some(Gzip));
    assert_eq!(pick("identity, gzip"), Some(Gzip));
}

#[test]
fn matching_is_case_insensitive() {
    assert_eq!(pick("GZIP"), Some(Gzip));
    assert_eq!(pick("Br;Q=1"), Some(Brotli));
    assert_eq!(pick("x-gzip"), Some(Gzip));
}

#[test]
fn malformed_entries_are_ignored() {
    assert_eq!(pick("br;q=2, gzip"), Some(Gzip));
    assert_eq!(pick("br;q=abc, gzip"), Some(Gzip));
    assert_eq!(pick("br;q=0.1234, gzip;q=0.1"), Some(Gzip));
    assert_eq!(pick("br;level=9, gzip;q=0.1"), Some(Gzip));
    assert_eq!(pick("br;q=1;x=y"), None);
    assert_eq!(pick("b r, gzip ;q=0.3"), Some(Gzip));
    assert_eq!(pick(",,, ;q=1, br"), Some(Brotli));
    assert_eq!(pick("br;q=1.001"), None);
    assert_eq!(pick("br;q=1.000"), Some(Brotli));
    assert_eq!(pick("br;q=0."), None);
    assert_eq!(pick("br;q=."), None);
}

#[test]
fn first_entry_for_a_coding_counts() {
    assert_eq!(pick("br;q=0, br, gzip;q=0.1"), Some(Gzip));
}

#[test]
fn non_utf8_bytes_do_not_break_parsing() {
    let v = accepting(&[b"\xff\xfe, gzip"]);
    assert_eq!(choose(&v, &[Gzip, Brotli]), Some(Gzip));
}

#[test]
fn field_lines_are_read_as_one_list() {
    let two = accepting(&[b"gzip;q=0.5", b"br;q=0.4, gzip;q=0.1"]);
    assert_eq!(choose(&two, &[Gzip, Brotli]), Some(Gzip));
    let quoted = accepting(&[b"x;ext=\"a, br, b\", gzip"]);
    assert_eq!(choose(&quoted, &[Brotli]), None);
}
