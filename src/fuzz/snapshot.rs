//! The snapshot file reader (`store::snapshot::{decode, decode_summary,
//! header_len}`): never a panic; a file is either read whole or refused.
//! A written snapshot reads back equal; a cut or lengthened file is always
//! refused; a file with changed bytes is refused, or read with its bodies
//! covering the file exactly (the header accounts for every byte), and a
//! change confined to the bodies leaves the header's meaning untouched.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::sample::Index;

use super::run;
use crate::key::Key;
use crate::store::snapshot::{decode, decode_summary, encode, encode_header, header_len};
use crate::store::{Encoding, Meta, Snapshot, Variant};

const NAMES: &[&str] = &[
    "content-type",
    "x-a",
    "vary",
    "link",
    "content-language",
    "x-preload-tags",
];

fn value() -> impl Strategy<Value = HeaderValue> {
    let byte = prop_oneof![0x20u8..0x7F, Just(b'\t'), 0x80u8..=0xFF];
    prop::collection::vec(byte, 0..24)
        .prop_map(|b| HeaderValue::from_bytes(&b).expect("only field-value bytes"))
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let name = prop_oneof![
        prop::sample::select(NAMES).prop_map(HeaderName::from_static),
        "[a-z0-9-]{1,12}".prop_map(|n| HeaderName::from_bytes(n.as_bytes()).expect("a token")),
    ];
    let meta = (
        any::<u16>(),
        prop::collection::vec((name, value()), 0..5),
        prop::collection::vec("\\PC{0,8}", 0..4),
        "/[a-z0-9?=&%]{0,24}",
        (0u64..1 << 44, prop::option::of(0u64..1 << 44)),
        (any::<u64>(), any::<u64>()),
        (value(), value()),
    )
        .prop_map(
            |(
                status,
                headers,
                tags,
                target,
                (taken, expires),
                (generation, age),
                (etag, last_modified),
            )| {
                let at = |ms| UNIX_EPOCH + Duration::from_millis(ms);
                Meta {
                    status,
                    headers,
                    tags,
                    target,
                    taken: at(taken),
                    expires: expires.map(at),
                    generation,
                    age,
                    etag,
                    last_modified,
                }
            },
        );
    let body = prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from);
    let variants = prop::sample::subsequence(&[Encoding::Gzip, Encoding::Brotli][..], 0..=2);
    let variants = (variants, body.clone(), body.clone()).prop_map(|(encodings, a, b)| {
        encodings
            .into_iter()
            .zip([a, b])
            .map(|(encoding, body)| Variant { encoding, body })
            .collect()
    });
    (any::<[u8; 32]>(), meta, body, variants).prop_map(|(key, meta, body, variants)| Snapshot {
        key: Key(key),
        meta,
        body,
        variants,
        head: Default::default(),
        wire: Default::default(),
        file: None,
    })
}

/// What is done to a written file.
#[derive(Debug, Clone)]
enum Change {
    None,
    Cut(Index),
    Lengthen(Vec<u8>),
    /// Bytes changed anywhere: (where, xor).
    Anywhere(Vec<(Index, u8)>),
    /// Bytes changed in the header only, where most of the checks are.
    Header(Vec<(Index, u8)>),
    /// Bytes changed in the bodies only.
    Bodies(Vec<(Index, u8)>),
}

fn change() -> impl Strategy<Value = Change> {
    let edits = || prop::collection::vec((any::<Index>(), 1u8..=255), 1..4);
    prop_oneof![
        1 => Just(Change::None),
        2 => any::<Index>().prop_map(Change::Cut),
        1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(Change::Lengthen),
        2 => edits().prop_map(Change::Anywhere),
        4 => edits().prop_map(Change::Header),
        1 => edits().prop_map(Change::Bodies),
    ]
}

/// A decoded file reads whole: its bodies are the bytes at their table
/// offsets, in order, with only zeros (less than a page of them) between
/// the header and one body or two bodies, the last one ending the file;
/// and the header alone says the same as the whole read.
fn check_whole(file: &[u8], read: &Snapshot) -> Result<(), TestCaseError> {
    let h = header_len(&file[..32.min(file.len())])
        .map_err(|e| TestCaseError::fail(format!("read, but header_len refuses: {e}")))?;
    let head = decode_summary(&file[..h])
        .map_err(|e| TestCaseError::fail(format!("read, but its header is refused: {e}")))?;
    prop_assert_eq!(head.entries.len(), 1 + read.variants.len());
    let bodies = std::iter::once(&read.body).chain(read.variants.iter().map(|v| &v.body));
    let mut at = h;
    for (body, entry) in bodies.zip(&head.entries) {
        let start = entry.offset as usize;
        prop_assert!(start >= at && start - at < 4096, "a gap of a page or more");
        prop_assert!(
            file[at..start].iter().all(|b| *b == 0),
            "padding is not zeros"
        );
        prop_assert_eq!(
            &file[start..start + body.len()],
            &body[..],
            "a body is not its bytes of the file"
        );
        at = start + body.len();
    }
    prop_assert_eq!(at, file.len(), "bodies do not end the file");
    prop_assert_eq!(head.key, read.key);
    prop_assert_eq!(&head.target, &read.meta.target);
    prop_assert_eq!(&head.tags, &read.meta.tags);
    prop_assert_eq!(head.total_len, file.len() as u64);
    Ok(())
}

fn check(s: &Snapshot, change: &Change) -> Result<(), TestCaseError> {
    let written = encode(s).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let h = encode_header(s)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .len();
    let mut file = written.clone();
    let xor = |file: &mut Vec<u8>, edits: &[(Index, u8)], range: std::ops::Range<usize>| {
        for (at, x) in edits {
            if !range.is_empty() {
                file[range.start + at.index(range.len())] ^= x;
            }
        }
    };
    match change {
        Change::None => {}
        Change::Cut(at) => file.truncate(at.index(file.len())),
        Change::Lengthen(more) => file.extend_from_slice(more),
        Change::Anywhere(edits) => xor(&mut file, edits, 0..written.len()),
        Change::Header(edits) => xor(&mut file, edits, 0..h),
        Change::Bodies(edits) => xor(&mut file, edits, h..written.len()),
    }
    let read = decode(Bytes::from(file.clone()));
    match (change, read) {
        (Change::None, Ok(read)) => {
            prop_assert_eq!(read.key, s.key);
            prop_assert_eq!(&read.meta, &s.meta);
            prop_assert_eq!(&read.body, &s.body);
            prop_assert_eq!(&read.variants, &s.variants);
            prop_assert_eq!(header_len(&file[..32]).ok(), Some(h));
            check_whole(&file, &read)?;
        }
        (Change::None, Err(e)) => {
            return Err(TestCaseError::fail(format!(
                "written snapshot refused: {e}"
            )))
        }
        (Change::Cut(_) | Change::Lengthen(_), Ok(_)) => {
            return Err(TestCaseError::fail("a cut or lengthened file was read"))
        }
        (Change::Bodies(_), Ok(read)) => {
            prop_assert_eq!(read.key, s.key);
            prop_assert_eq!(&read.meta, &s.meta);
            check_whole(&file, &read)?;
        }
        (_, Ok(read)) => check_whole(&file, &read)?,
        (_, Err(_)) => {}
    }
    Ok(())
}

#[test]
fn snapshot_reader() {
    run(
        "snapshot_reader",
        800,
        (snapshot(), change()),
        |(s, change)| check(&s, &change),
    );
}

#[test]
fn snapshot_reader_raw_bytes() {
    let prefix = b"PRLDSNAP\x01\x00\x00\x00".to_vec();
    let file = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(move |b| [prefix.clone(), b].concat()),
    ];
    run("snapshot_reader_raw_bytes", 1000, file, |file| {
        let _ = header_len(&file[..32.min(file.len())]);
        let _ = decode_summary(&file);
        match decode(Bytes::from(file.clone())) {
            Ok(read) => check_whole(&file, &read),
            Err(_) => Ok(()),
        }
    });
}
