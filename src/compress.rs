//! Precompressed variants (`[cache] compress`): which kept responses get
//! them, making them, and picking one for a visitor's `Accept-Encoding`.
//!
//! Compression happens once, when a snapshot is taken ([`crate::miss`],
//! through a [`Compressor`], off the runtime's worker threads); the hit
//! path only calls [`choose`], which reads the request's `Accept-Encoding`
//! lines and allocates nothing. The variants are kept in the snapshot file beside the identity
//! body ([`crate::store::snapshot`]) and served by [`crate::respond`] with
//! their own headers and ETag.
//!
//! Memory: each compression holds its encoders' tables and brotli's window
//! while it runs. Two things keep that bounded, whatever the number of
//! misses at once (measured in docs/benchmarks.md, "Memory under a burst
//! of misses"): a fixed number of compressions at once, and a brotli
//! window no larger than the body. Before, every miss compressed at once
//! on its own blocking thread with a 4 MiB window, and the allocator kept
//! what they had held: 300 MB and more with `memory = "2MiB"`.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;

use crate::headers::list_items;
use crate::store::{Encoding, Variant};

/// Bodies shorter than this are not worth a variant (decided by the caller).
pub const MIN_SIZE: usize = 256;

/// gzip compression level.
const GZIP_LEVEL: u32 = 6;
/// brotli quality.
const BROTLI_QUALITY: i32 = 5;
/// brotli's window (log2 of its size) is the body's size rounded up to a
/// power of two within these: a window past the body's end buys nothing
/// and costs its memory (a 4 MiB ring buffer for a 60 KiB page). Not below
/// 17 (128 KiB): under it, quality 5 switches to another hasher that was
/// 3× slower and held more memory here (docs/benchmarks.md). 22 (4 MiB) is
/// the most it ever was, so larger bodies compress as before.
const BROTLI_WINDOWS: std::ops::RangeInclusive<u32> = 17..=22;

/// Makes variants off the runtime's worker threads, a fixed number at once.
pub struct Compressor {
    permits: Arc<Semaphore>,
}

impl Compressor {
    /// At most `at_once` compressions run together (at least one).
    pub fn new(at_once: usize) -> Compressor {
        Compressor {
            permits: Arc::new(Semaphore::new(at_once.max(1))),
        }
    }

    /// One compression per core: compression is CPU-bound, so more at once
    /// would not finish sooner and would hold more memory.
    pub fn per_core() -> Compressor {
        Compressor::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// [`variants`] of `body`, on a blocking thread once a place is free;
    /// none if the compression failed (the page is kept without them).
    pub async fn variants(&self, body: Bytes) -> Vec<Variant> {
        let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
            return Vec::new();
        };
        let made = tokio::task::spawn_blocking(move || {
            let made = variants(&body);
            drop(permit);
            made
        });
        made.await.unwrap_or_else(|err| {
            tracing::error!(error = %err, "compression failed; the page is kept without variants");
            Vec::new()
        })
    }
}

/// True when a response with these headers may be kept precompressed: the
/// app did not encode it itself (no `Content-Encoding`, or `identity`),
/// did not forbid transformations (`Cache-Control: no-transform`, RFC 9111
/// §5.2.2.6), and its type is text that compresses (text/*, JSON,
/// JavaScript, XML, SVG). The body's size is the caller's to check.
pub fn compressible(headers: &HeaderMap) -> bool {
    let encoded = list_items(headers, &header::CONTENT_ENCODING)
        .any(|c| !c.eq_ignore_ascii_case(b"identity"));
    let no_transform = list_items(headers, &header::CACHE_CONTROL)
        .any(|d| d.eq_ignore_ascii_case(b"no-transform"));
    !encoded && !no_transform && headers.get(header::CONTENT_TYPE).is_some_and(text_type)
}

fn text_type(value: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    if kind.is_empty() || sub.is_empty() {
        return false;
    }
    kind == "text"
        || matches!(
            essence.as_str(),
            "application/json" | "application/javascript" | "application/xml" | "image/svg+xml"
        )
        || sub.ends_with("+json")
        || sub.ends_with("+xml")
}

/// The gzip and brotli forms of `body`, each kept only when it is at least
/// 5 % smaller than `body`. CPU-heavy: never call it on the hit path.
pub fn variants(body: &[u8]) -> Vec<Variant> {
    let mut out = Vec::with_capacity(2);
    let made = [
        (Encoding::Gzip, gzip(body)),
        (Encoding::Brotli, brotli(body)),
    ];
    for (encoding, encoded) in made {
        // Writing into a Vec does not fail; if it ever did, no variant.
        let Ok(encoded) = encoded else { continue };
        if worth_keeping(encoded.len(), body.len()) {
            out.push(Variant {
                encoding,
                body: encoded.into(),
            });
        }
    }
    out
}

/// At least 5 % smaller than the identity body.
fn worth_keeping(encoded: usize, identity: usize) -> bool {
    encoded < identity && (encoded as u128) * 20 <= (identity as u128) * 19
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let out = Vec::with_capacity(body.len() / 3);
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(GZIP_LEVEL));
    enc.write_all(body)?;
    enc.finish()
}

fn brotli(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() / 3);
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: brotli_window(body.len()) as i32,
        // The whole size up front, so the encoder sizes its tables to it.
        size_hint: body.len(),
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
    Ok(out)
}

/// log2 of the brotli window for a body of `len` bytes.
fn brotli_window(len: usize) -> u32 {
    let covering = usize::BITS - len.saturating_sub(1).leading_zeros();
    covering.clamp(*BROTLI_WINDOWS.start(), *BROTLI_WINDOWS.end())
}

/// The encoding to serve from `available` for a request's `Accept-Encoding`
/// (all its field lines joined with ", "), or `None` for the identity body.
///
/// RFC 9110 §12.5.3: codings are matched case-insensitively (`x-gzip` is
/// `gzip`), a coding's weight is its own entry's `q` (default 1) or else
/// that of `*`; `q=0` excludes it. The highest weight wins, `br` before
/// `gzip` at equal weight; an `identity` listed with a higher weight than
/// both wins. Malformed entries are ignored. Identity is always the
/// fallback, even when `identity;q=0` excludes it: a body the visitor did
/// not ask for in a coding is better than a 406. Without the header the
/// identity body is served (RFC 9110 allows any coding then, but clients
/// that send none are often tools that would not decode it).
pub fn choose(headers: &HeaderMap, available: &[Encoding]) -> Option<Encoding> {
    choose_of(list_items(headers, &header::ACCEPT_ENCODING), available)
}

/// [`choose`] from the elements of the request's `Accept-Encoding` lines.
pub fn choose_of<'a>(
    entries: impl Iterator<Item = &'a [u8]>,
    available: &[Encoding],
) -> Option<Encoding> {
    let mut star = None;
    let mut identity = None;
    let mut gzip = None;
    let mut br = None;
    for entry in entries {
        let Some((coding, q)) = parse_entry(entry) else {
            continue;
        };
        let slot = if coding == b"*" {
            &mut star
        } else if coding.eq_ignore_ascii_case(b"identity") {
            &mut identity
        } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            &mut gzip
        } else if coding.eq_ignore_ascii_case(b"br") {
            &mut br
        } else {
            continue;
        };
        // The first entry for a coding counts.
        slot.get_or_insert(q);
    }
    let weight = |e: Encoding| -> u16 {
        if !available.contains(&e) {
            return 0;
        }
        let own = match e {
            Encoding::Gzip => gzip,
            Encoding::Brotli => br,
        };
        own.or(star).unwrap_or(0)
    };
    // br first, so that it wins ties.
    let best = [Encoding::Brotli, Encoding::Gzip]
        .into_iter()
        .map(|e| (e, weight(e)))
        .fold(None, |best: Option<(Encoding, u16)>, (e, q)| match best {
            Some((_, bq)) if bq >= q => best,
            _ if q > 0 => Some((e, q)),
            _ => best,
        })?;
    match identity {
        Some(iq) if iq > best.1 => None,
        _ => Some(best.0),
    }
}

/// One Accept-Encoding element: `coding [ OWS ";" OWS "q=" qvalue ]`, with
/// the weight in thousandths. `None` when malformed or empty.
fn parse_entry(entry: &[u8]) -> Option<(&[u8], u16)> {
    let mut parts = entry.split(|b| *b == b';');
    let coding = parts.next()?.trim_ascii();
    let token = |c: &u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c);
    if coding.is_empty() || !coding.iter().all(token) {
        return None;
    }
    let q = match parts.next() {
        None => 1000,
        Some(param) => {
            let param = param.trim_ascii();
            let (name, value) = param.split_at_checked(2)?;
            if !name.eq_ignore_ascii_case(b"q=") {
                return None;
            }
            qvalue(value)?
        }
    };
    if parts.next().is_some() {
        return None;
    }
    Some((coding, q))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|b| *b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &[][..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, d) in frac.iter().enumerate() {
        thousandths += u16::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
#[path = "compress_tests.rs"]
mod tests;
