//! The bodies the test apps send and the decoders that check what the
//! daemon made of them, in one place so every area compares against the
//! same bytes.

use std::io::Read;

/// The body `size=N` asks for (of [`super::Upstream`] and
/// [`super::RawUpstream`]): N bytes of `a..z` repeated.
pub fn sized_body(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

pub fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}
