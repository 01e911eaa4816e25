//! Tests of the snapshot format: round trips, torn files, and decoding
//! arbitrary bytes without panicking.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use proptest::prelude::*;

use super::format::VARIANT_LEN;
use super::*;
use crate::key::Key;
use crate::store::{Encoding, Meta, Snapshot, Variant};

pub(crate) fn sample(key: u8, body: &'static [u8]) -> Snapshot {
    Snapshot {
        key: Key([key; 32]),
        meta: Meta {
            status: 200,
            headers: vec![
                (
                    HeaderName::from_static("content-type"),
                    HeaderValue::from_static("text/html"),
                ),
                (
                    HeaderName::from_static("x-obs"),
                    HeaderValue::from_bytes(b"caf\xe9 \xff").expect("obs-text is valid"),
                ),
            ],
            tags: vec!["events.Event".into(), "home".into()],
            target: "/events/?page=2".into(),
            taken: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            expires: Some(UNIX_EPOCH + Duration::from_millis(1_700_003_600_123)),
            generation: 3,
            age: 12,
            etag: HeaderValue::from_static("\"abc\""),
            last_modified: HeaderValue::from_static("Tue, 14 Nov 2023 22:13:20 GMT"),
        },
        body: Bytes::from_static(body),
        variants: Vec::new(),
        head: Default::default(),
        wire: Default::default(),
        file: None,
    }
}

fn assert_same(a: &Snapshot, b: &Snapshot) {
    assert_eq!(a.key, b.key);
    assert_eq!(a.meta, b.meta);
    assert_eq!(a.body, b.body);
    assert_eq!(a.variants, b.variants);
}

#[test]
fn round_trip_keeps_every_field() {
    let s = sample(1, b"<html>hello</html>");
    let file = encode(&s).expect("encode");
    assert_same(&decode(Bytes::from(file)).expect("decode"), &s);
}

#[test]
fn body_sits_at_the_declared_offset() {
    let s = sample(1, b"BODY");
    let file = encode(&s).expect("encode");
    let head_len = header_len(&file[..FIXED_LEN]).expect("header_len");
    let summary = decode_summary(&file[..head_len]).expect("summary");
    assert_eq!(summary.entries.len(), 1);
    let v = summary.entries[0];
    assert_eq!(v.kind, EntryKind::Identity);
    assert_eq!((v.offset as usize, v.len), (head_len, 4));
    assert_eq!(&file[head_len..], b"BODY");
    assert_eq!(summary.total_len, file.len() as u64);
    assert_eq!(summary.target, "/events/?page=2");
    assert_eq!(summary.tags, ["events.Event", "home"]);
    assert_eq!(summary.generation, 3);
    assert_eq!(summary.expires_ms, Some(1_700_003_600_123));
}

#[test]
fn no_expiry_and_empty_body_round_trip() {
    let mut s = sample(2, b"");
    s.meta.expires = None;
    s.meta.tags.clear();
    s.meta.headers.clear();
    let file = encode(&s).expect("encode");
    assert_same(&decode(Bytes::from(file)).expect("decode"), &s);
}

#[test]
fn torn_and_extended_files_are_rejected() {
    let file = encode(&sample(1, b"0123456789")).expect("encode");
    let short = Bytes::copy_from_slice(&file[..file.len() - 1]);
    assert!(matches!(decode(short), Err(DecodeError::Torn { .. })));
    let mut long = file.clone();
    long.push(0);
    assert!(matches!(
        decode(Bytes::from(long)),
        Err(DecodeError::Torn { .. })
    ));
    let cut = Bytes::copy_from_slice(&file[..40]);
    assert_eq!(decode(cut).err(), Some(DecodeError::Truncated));
}

#[test]
fn other_versions_and_garbage_are_rejected() {
    let mut file = encode(&sample(1, b"x")).expect("encode");
    file[8] = 2;
    assert_eq!(
        decode(Bytes::from(file)).err(),
        Some(DecodeError::Version(2))
    );
    assert_eq!(
        decode(Bytes::from_static(b"hello")).err(),
        Some(DecodeError::Magic)
    );
    assert_eq!(decode(Bytes::new()).err(), Some(DecodeError::Magic));
}

#[test]
fn a_hand_built_two_entry_file_is_readable() {
    // The table as another writer would lay it out: identity then gzip.
    let s = sample(1, b"plain");
    let one = encode_header(&s).expect("encode");
    let meta_len = one.len() - FIXED_LEN - VARIANT_LEN;
    let header_len = one.len() + VARIANT_LEN;
    let mut file = one[..FIXED_LEN + meta_len].to_vec();
    file[12..16].copy_from_slice(&(header_len as u32).to_le_bytes());
    file[16..24].copy_from_slice(&((header_len + 5 + 3) as u64).to_le_bytes());
    file[28..30].copy_from_slice(&2u16.to_le_bytes());
    for (enc, off, len) in [(0u8, header_len, 5u64), (1, header_len + 5, 3)] {
        file.push(enc);
        file.extend_from_slice(&[0; 7]);
        file.extend_from_slice(&(off as u64).to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
    }
    file.extend_from_slice(b"plainGZ!");
    let summary = decode_summary(&file).expect("summary");
    assert_eq!(summary.entries[1].kind, EntryKind::Gzip);
    let back = decode(Bytes::from(file)).expect("decode");
    assert_eq!(back.body, "plain");
    assert_eq!(
        back.variants,
        [Variant {
            encoding: Encoding::Gzip,
            body: Bytes::from_static(b"GZ!"),
        }]
    );
}

fn with_variants(mut s: Snapshot) -> Snapshot {
    s.variants = vec![
        Variant {
            encoding: Encoding::Gzip,
            body: Bytes::from_static(b"gzip-bytes"),
        },
        Variant {
            encoding: Encoding::Brotli,
            body: Bytes::from_static(b"br"),
        },
    ];
    s
}

#[test]
fn variants_round_trip_after_the_identity_body() {
    let s = with_variants(sample(1, b"<html>identity</html>"));
    let file = encode(&s).expect("encode");
    let summary = decode_summary(&file[..header_len(&file).expect("len")]).expect("summary");
    let kinds: Vec<_> = summary.entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EntryKind::Identity, EntryKind::Gzip, EntryKind::Br]);
    assert_eq!(summary.total_len, file.len() as u64);
    assert!(file.ends_with(b"<html>identity</html>gzip-bytesbr"));
    let file = Bytes::from(file);
    let back = decode(file.clone()).expect("decode");
    assert_same(&back, &s);
    // The bodies are views of the file buffer, not copies.
    let range = file.as_ptr() as usize..file.as_ptr() as usize + file.len();
    assert!(range.contains(&(back.variants[1].body.as_ptr() as usize)));
}

#[test]
fn a_repeated_encoding_is_refused_both_ways() {
    let mut s = with_variants(sample(1, b"x"));
    s.variants[1].encoding = Encoding::Gzip;
    assert_eq!(encode(&s).err(), Some(EncodeError::DuplicateVariant));

    // Turn the br entry of a good file into a second gzip entry.
    let good = encode(&with_variants(sample(1, b"x"))).expect("encode");
    let table = header_len(&good).expect("len") - VARIANT_LEN;
    let mut bad = good.clone();
    bad[table] = 1;
    assert_eq!(
        decode(Bytes::from(bad)).err(),
        Some(DecodeError::Invalid("variant table"))
    );
    let mut bad = good;
    bad[table] = 0;
    assert_eq!(
        decode(Bytes::from(bad)).err(),
        Some(DecodeError::Invalid("variant table"))
    );
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    let byte = prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff];
    proptest::collection::vec(byte, 0..40)
        .prop_map(|v| HeaderValue::from_bytes(&v).expect("strategy makes valid values"))
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let header = ("[a-z][a-z0-9-]{0,15}", header_value()).prop_map(|(n, v)| {
        (
            HeaderName::from_bytes(n.as_bytes()).expect("strategy makes valid names"),
            v,
        )
    });
    (
        any::<[u8; 32]>(),
        100u16..1000,
        proptest::collection::vec(header, 0..6),
        proptest::collection::vec(".{0,12}", 0..4),
        "/.{0,60}",
        (
            any::<u32>(),
            proptest::option::of(any::<u32>()),
            any::<u64>(),
            any::<u64>(),
        ),
        (header_value(), header_value()),
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(any::<u8>(), 0..100),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
        any::<bool>(),
    )
        .prop_map(
            |(key, status, headers, tags, target, times, (etag, lm), body, gz, br, br_first)| {
                let (taken, expires, generation, age) = times;
                let at =
                    |s: u32| SystemTime::UNIX_EPOCH + Duration::from_millis(u64::from(s) * 997);
                // No variant, gzip, or gzip and br in either order.
                let mut variants = Vec::new();
                if !gz.is_empty() || br.is_some() {
                    variants.push(Variant {
                        encoding: Encoding::Gzip,
                        body: Bytes::from(gz),
                    });
                }
                if let Some(br) = br {
                    variants.push(Variant {
                        encoding: Encoding::Brotli,
                        body: Bytes::from(br),
                    });
                    if br_first {
                        variants.reverse();
                    }
                }
                Snapshot {
                    key: Key(key),
                    meta: Meta {
                        status,
                        headers,
                        tags,
                        target,
                        taken: at(taken),
                        expires: expires.map(at),
                        generation,
                        age,
                        etag,
                        last_modified: lm,
                    },
                    body: Bytes::from(body),
                    variants,
                    head: Default::default(),
                    wire: Default::default(),
                    file: None,
                }
            },
        )
}

proptest! {
    #[test]
    fn any_snapshot_round_trips(s in snapshot()) {
        let file = encode(&s).expect("encode");
        let back = decode(Bytes::from(file.clone())).expect("decode");
        prop_assert_eq!(&back.key, &s.key);
        prop_assert_eq!(&back.meta, &s.meta);
        prop_assert_eq!(&back.body, &s.body);
        prop_assert_eq!(&back.variants, &s.variants);
        let summary = decode_summary(&file[..header_len(&file).expect("len")]).expect("summary");
        prop_assert_eq!(summary.target, s.meta.target);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(Bytes::from(bytes.clone()));
        let _ = decode_summary(&bytes);
        let _ = header_len(&bytes);
    }

    #[test]
    fn truncated_snapshots_are_rejected(s in snapshot(), cut in any::<prop::sample::Index>()) {
        let file = encode(&s).expect("encode");
        let n = cut.index(file.len());
        prop_assert!(decode(Bytes::copy_from_slice(&file[..n])).is_err());
    }

    #[test]
    fn corrupted_snapshots_never_panic(
        s in snapshot(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut file = encode(&s).expect("encode");
        for (i, b) in flips {
            let i = i.index(file.len());
            file[i] = b;
        }
        let _ = decode_summary(&file);
        let _ = decode(Bytes::from(file));
    }
}
