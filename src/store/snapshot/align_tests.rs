//! Tests of the body alignment: large bodies start on a 4096-byte boundary
//! (sendfile sends whole pages), small ones right after what precedes them,
//! and files without the padding (as older builds wrote them) still read.

use bytes::Bytes;

use super::format::{ALIGN_MIN, BODY_ALIGN, FIXED_LEN, VARIANT_LEN};
use super::tests::sample;
use super::*;
use crate::store::{Encoding, Snapshot, Variant};

const LARGE: usize = ALIGN_MIN as usize;

fn large(byte: u8) -> Bytes {
    Bytes::from(vec![byte; LARGE])
}

fn entries(file: &[u8]) -> Vec<VariantEntry> {
    let head = &file[..header_len(&file[..FIXED_LEN]).expect("header_len")];
    decode_summary(head).expect("summary").entries
}

#[test]
fn a_large_body_starts_on_a_page_boundary_and_a_small_one_right_after() {
    let mut s = sample(1, b"");
    s.body = large(b'a');
    s.variants = vec![
        Variant {
            encoding: Encoding::Gzip,
            body: Bytes::from_static(b"small gzip"),
        },
        Variant {
            encoding: Encoding::Brotli,
            body: large(b'b'),
        },
    ];
    let file = encode(&s).expect("encode");
    let e = entries(&file);
    assert_eq!(e[0].offset % BODY_ALIGN, 0, "identity at {}", e[0].offset);
    assert_eq!(
        e[1].offset,
        e[0].offset + e[0].len,
        "small gzip right after"
    );
    assert_eq!(e[2].offset % BODY_ALIGN, 0, "br at {}", e[2].offset);
    let header = header_len(&file).expect("len") as u64;
    assert!(e[0].offset > header && e[0].offset - header < BODY_ALIGN);
    // The padding is zeros, the layout agrees with the file, and it reads back.
    assert!(file[header as usize..e[0].offset as usize]
        .iter()
        .all(|b| *b == 0));
    let head = encode_header(&s).expect("header");
    let layout = layout(&head, &s);
    assert_eq!(layout.len, file.len() as u64);
    assert_eq!(
        layout.offsets,
        e.iter().map(|e| e.offset).collect::<Vec<_>>()
    );
    assert_eq!(file_len(head.len(), &s), file.len() as u64);
    let back = decode(Bytes::from(file)).expect("decode");
    assert_eq!(back.body, s.body);
    assert_eq!(back.variants, s.variants);
}

#[test]
fn a_body_below_the_threshold_is_not_padded() {
    let mut s = sample(1, b"");
    s.body = Bytes::from(vec![b'x'; LARGE - 1]);
    let file = encode(&s).expect("encode");
    assert_eq!(
        entries(&file)[0].offset,
        header_len(&file).expect("len") as u64
    );
    assert_eq!(file.len(), header_len(&file).expect("len") + LARGE - 1);
}

/// `s` written the way builds before the padding wrote it: bodies
/// back to back after the header.
fn unpadded(s: &Snapshot) -> Vec<u8> {
    let padded = encode(s).expect("encode");
    let header = header_len(&padded).expect("len");
    let mut file = padded[..header].to_vec();
    let table = header - VARIANT_LEN;
    let len = s.body.len() as u64;
    file[16..24].copy_from_slice(&(header as u64 + len).to_le_bytes());
    file[table + 8..table + 16].copy_from_slice(&(header as u64).to_le_bytes());
    file.extend_from_slice(&s.body);
    file
}

#[test]
fn a_large_body_written_without_padding_still_reads() {
    let mut s = sample(1, b"");
    s.body = large(b'z');
    let back = decode(Bytes::from(unpadded(&s))).expect("an unpadded file reads");
    assert_eq!(back.body, s.body);
}

#[test]
fn padding_that_is_not_zeros_or_a_page_long_is_refused() {
    let mut s = sample(1, b"");
    s.body = large(b'a');
    let file = encode(&s).expect("encode");
    let header = header_len(&file).expect("len");
    let mut dirty = file.clone();
    dirty[header] = 1;
    assert_eq!(
        decode(Bytes::from(dirty)).err(),
        Some(DecodeError::Invalid("padding"))
    );

    // A whole page of padding more: the offset and lengths moved together,
    // so only the gap rule can refuse it.
    let offset = entries(&file)[0].offset;
    let mut long = file[..offset as usize].to_vec();
    long.extend_from_slice(&[0; BODY_ALIGN as usize]);
    long.extend_from_slice(&file[offset as usize..]);
    let table = header - VARIANT_LEN;
    long[16..24].copy_from_slice(&(file.len() as u64 + BODY_ALIGN).to_le_bytes());
    long[table + 8..table + 16].copy_from_slice(&(offset + BODY_ALIGN).to_le_bytes());
    assert_eq!(
        decode(Bytes::from(long)).err(),
        Some(DecodeError::Invalid("variant table"))
    );
}
