//! The on-disk snapshot format: encode and decode, nothing else.
//!
//! A file is a fixed header, a meta section, a variant table, then the bodies:
//!
//! ```text
//! fixed header, 32 bytes, integers little-endian:
//!    0  magic "PRLDSNAP"
//!    8  u16 format version (1)
//!   10  u16 flags (0)
//!   12  u32 header_len    = 32 + meta_len + 24 * variant_count = offset of the first body
//!   16  u64 total_len     = length of the whole file (a torn file fails this)
//!   24  u32 meta_len
//!   28  u16 variant_count (>= 1)
//!   30  u16 reserved (0)
//! meta, meta_len bytes ("bytes" = u32 length + raw bytes; "list" = u32 count + items):
//!   [32] key, u16 status, u8 flags (bit 0: has expires), u64 generation,
//!   u64 taken_ms, u64 expires_ms (0 without), u64 age,
//!   bytes target, list of bytes tags, bytes etag, bytes last_modified,
//!   list of (bytes name, bytes value) headers
//! variant table, 24 bytes each:
//!   u8 encoding (0 identity, 1 gzip, 2 br), 7 zero bytes, u64 offset, u64 length
//! bodies: variant 0 is the identity body at header_len; the variants follow
//!   one another in table order and the last one ends the file.
//! ```
//!
//! `encode` writes the identity entry, then one entry per
//! [`Snapshot::variants`] (gzip, br) in their order; a file whose table holds
//! only the identity (every file written before variants existed) decodes
//! with no variants. An encoding listed twice, or identity after entry 0,
//! is refused.
//!
//! So a reader needs only the first `header_len` bytes to index a file, and
//! a body sits contiguous and uncompressed at a known offset (sendfile).
//! Header values are kept byte for byte (obs-text included). Times are unix
//! milliseconds. Decoding never panics and never trusts a length it has not
//! checked against the bytes it holds.
//!
//! This module never touches the file system.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::key::Key;

use super::cursor::{put_bytes, put_count, Reader};
use super::{Encoding, Meta, Snapshot, Variant};

/// The snapshot format this build writes and reads.
pub const VERSION: u16 = 1;
const MAGIC: &[u8; 8] = b"PRLDSNAP";
/// Length of the fixed header.
pub(crate) const FIXED_LEN: usize = 32;
const VARIANT_LEN: usize = 24;
/// Largest header (meta and variant table) accepted either way; it bounds
/// what an index read may allocate for a hostile file.
pub(crate) const MAX_HEADER: usize = 1 << 20;

/// How the body of one variant table entry is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Identity,
    Gzip,
    Br,
}

impl EntryKind {
    fn byte(self) -> u8 {
        match self {
            EntryKind::Identity => 0,
            EntryKind::Gzip => 1,
            EntryKind::Br => 2,
        }
    }

    fn of(encoding: Encoding) -> EntryKind {
        match encoding {
            Encoding::Gzip => EntryKind::Gzip,
            Encoding::Brotli => EntryKind::Br,
        }
    }
}

/// Where one body variant sits in the file (a variant table entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub offset: u64,
    pub len: u64,
}

/// What the index needs from a file, decoded from its header alone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Head {
    pub key: Key,
    pub generation: u64,
    pub taken_ms: u64,
    pub expires_ms: Option<u64>,
    pub target: String,
    pub tags: Vec<String>,
    pub total_len: u64,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a snapshot file")]
    Magic,
    #[error("snapshot format {0} is not supported")]
    Version(u16),
    #[error("snapshot header is truncated")]
    Truncated,
    #[error("snapshot file is {actual} bytes, its header says {declared}")]
    Torn { declared: u64, actual: u64 },
    #[error("snapshot header is invalid: {0}")]
    Invalid(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("snapshot header is over {MAX_HEADER} bytes")]
    HeaderTooLarge,
    #[error("snapshot has two variants in one encoding")]
    DuplicateVariant,
}

/// Unix milliseconds; times before 1970 count as 0.
pub(crate) fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn from_ms(ms: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

/// Encodes everything but the bodies: fixed header, meta and variant table.
/// The file is this followed by `snapshot.body`, then each of
/// `snapshot.variants` bodies in order.
pub fn encode_header(snapshot: &Snapshot) -> Result<Vec<u8>, EncodeError> {
    let m = &snapshot.meta;
    let mut meta = Vec::with_capacity(256 + m.target.len());
    meta.extend_from_slice(&snapshot.key.0);
    meta.extend_from_slice(&m.status.to_le_bytes());
    meta.push(u8::from(m.expires.is_some()));
    meta.extend_from_slice(&m.generation.to_le_bytes());
    meta.extend_from_slice(&to_ms(m.taken).to_le_bytes());
    meta.extend_from_slice(&m.expires.map_or(0, to_ms).to_le_bytes());
    meta.extend_from_slice(&m.age.to_le_bytes());
    put_bytes(&mut meta, m.target.as_bytes())?;
    put_count(&mut meta, m.tags.len())?;
    for tag in &m.tags {
        put_bytes(&mut meta, tag.as_bytes())?;
    }
    put_bytes(&mut meta, m.etag.as_bytes())?;
    put_bytes(&mut meta, m.last_modified.as_bytes())?;
    put_count(&mut meta, m.headers.len())?;
    for (name, value) in &m.headers {
        put_bytes(&mut meta, name.as_str().as_bytes())?;
        put_bytes(&mut meta, value.as_bytes())?;
    }

    let mut table = Vec::with_capacity(1 + snapshot.variants.len());
    table.push((EntryKind::Identity, snapshot.body.len() as u64));
    for v in &snapshot.variants {
        let kind = EntryKind::of(v.encoding);
        if table.iter().any(|(k, _)| *k == kind) {
            return Err(EncodeError::DuplicateVariant);
        }
        table.push((kind, v.body.len() as u64));
    }
    let header_len = FIXED_LEN + meta.len() + VARIANT_LEN * table.len();
    if header_len > MAX_HEADER {
        return Err(EncodeError::HeaderTooLarge);
    }
    let bodies_len: u64 = table.iter().map(|(_, len)| len).sum();
    let mut out = Vec::with_capacity(header_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(header_len as u32).to_le_bytes());
    out.extend_from_slice(&(header_len as u64 + bodies_len).to_le_bytes());
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    // At most one entry per encoding: three.
    out.extend_from_slice(&(table.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&meta);
    let mut offset = header_len as u64;
    for (kind, len) in table {
        out.push(kind.byte());
        out.extend_from_slice(&[0; 7]);
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        offset += len;
    }
    Ok(out)
}

/// The file after its header, in order: the identity body, then the
/// variants' bodies.
pub fn bodies(snapshot: &Snapshot) -> impl Iterator<Item = &[u8]> {
    std::iter::once(&snapshot.body[..]).chain(snapshot.variants.iter().map(|v| &v.body[..]))
}

/// The whole file in one buffer.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, EncodeError> {
    let mut out = encode_header(snapshot)?;
    for body in bodies(snapshot) {
        out.extend_from_slice(body);
    }
    Ok(out)
}

/// From the first `FIXED_LEN` bytes, how many bytes the header takes.
pub(crate) fn header_len(prefix: &[u8]) -> Result<usize, DecodeError> {
    Ok(fixed(prefix)?.header_len)
}

/// Decodes what the index needs from the header alone; `header` holds at
/// least the first `header_len` bytes of the file. The caller compares
/// `total_len` with the file's size.
pub(crate) fn decode_head(header: &[u8]) -> Result<Head, DecodeError> {
    Ok(parse(header, false)?.0)
}

/// Decodes a whole file. The bodies share `file`'s buffer.
pub fn decode(file: Bytes) -> Result<Snapshot, DecodeError> {
    let (head, rest) = parse(&file, true)?;
    let actual = file.len() as u64;
    if head.total_len != actual {
        return Err(DecodeError::Torn {
            declared: head.total_len,
            actual,
        });
    }
    let rest = rest.ok_or(DecodeError::Invalid("meta"))?;
    // parse() checked that the first entry is the identity, that no
    // encoding repeats, and that each lies inside total_len.
    let slice = |e: &Entry| file.slice(e.offset as usize..(e.offset + e.len) as usize);
    let (first, rest_entries) = head
        .entries
        .split_first()
        .ok_or(DecodeError::Invalid("variant table"))?;
    let body = slice(first);
    let mut variants = Vec::with_capacity(rest_entries.len());
    for e in rest_entries {
        let encoding = match e.kind {
            EntryKind::Gzip => Encoding::Gzip,
            EntryKind::Br => Encoding::Brotli,
            EntryKind::Identity => return Err(DecodeError::Invalid("variant table")),
        };
        variants.push(Variant {
            encoding,
            body: slice(e),
        });
    }
    let meta = Meta {
        status: rest.status,
        headers: rest.headers,
        tags: head.tags,
        target: head.target,
        taken: from_ms(head.taken_ms).ok_or(DecodeError::Invalid("taken"))?,
        expires: match head.expires_ms {
            Some(ms) => Some(from_ms(ms).ok_or(DecodeError::Invalid("expires"))?),
            None => None,
        },
        generation: head.generation,
        age: rest.age,
        etag: rest.etag,
        last_modified: rest.last_modified,
    };
    Ok(Snapshot {
        key: head.key,
        meta,
        body,
        variants,
        head: Default::default(),
        file: None,
    })
}

struct Fixed {
    header_len: usize,
    total_len: u64,
    meta_len: usize,
    variant_count: usize,
}

/// The meta fields only a full decode needs.
struct Rest {
    status: u16,
    age: u64,
    etag: HeaderValue,
    last_modified: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn fixed(buf: &[u8]) -> Result<Fixed, DecodeError> {
    let mut r = Reader::new(buf, 0);
    if r.take(8).map_err(|_| DecodeError::Magic)? != MAGIC {
        return Err(DecodeError::Magic);
    }
    let version = r.u16()?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    if r.u16()? != 0 {
        return Err(DecodeError::Invalid("flags"));
    }
    let header_len = r.u32()? as usize;
    let total_len = r.u64()?;
    let meta_len = r.u32()? as usize;
    let variant_count = usize::from(r.u16()?);
    if r.u16()? != 0 {
        return Err(DecodeError::Invalid("reserved"));
    }
    let declared = (FIXED_LEN + variant_count * VARIANT_LEN) as u64 + meta_len as u64;
    if variant_count == 0 || header_len > MAX_HEADER || declared != header_len as u64 {
        return Err(DecodeError::Invalid("lengths"));
    }
    Ok(Fixed {
        header_len,
        total_len,
        meta_len,
        variant_count,
    })
}

fn parse(buf: &[u8], full: bool) -> Result<(Head, Option<Rest>), DecodeError> {
    let f = fixed(buf)?;
    if buf.len() < f.header_len {
        return Err(DecodeError::Truncated);
    }
    let meta_end = FIXED_LEN + f.meta_len;
    let mut r = Reader::new(&buf[..meta_end], FIXED_LEN);
    let mut key = [0u8; 32];
    key.copy_from_slice(r.take(32)?);
    let status = r.u16()?;
    let flags = r.u8()?;
    if flags > 1 {
        return Err(DecodeError::Invalid("meta flags"));
    }
    let generation = r.u64()?;
    let taken_ms = r.u64()?;
    let expires_ms = Some(r.u64()?).filter(|_| flags == 1);
    let age = r.u64()?;
    let target = r.string()?;
    let count = r.count()?;
    let mut tags = Vec::with_capacity(count.min(r.remaining() / 4));
    for _ in 0..count {
        tags.push(r.string()?);
    }

    let rest = if full {
        let etag = r.header_value()?;
        let last_modified = r.header_value()?;
        let count = r.count()?;
        let mut headers = Vec::with_capacity(count.min(r.remaining() / 8));
        for _ in 0..count {
            let name = HeaderName::from_bytes(r.bytes()?)
                .map_err(|_| DecodeError::Invalid("header name"))?;
            headers.push((name, r.header_value()?));
        }
        if r.remaining() != 0 {
            return Err(DecodeError::Invalid("meta length"));
        }
        Some(Rest {
            status,
            age,
            etag,
            last_modified,
            headers,
        })
    } else {
        None
    };

    let mut r = Reader::new(&buf[..f.header_len], meta_end);
    let mut entries: Vec<Entry> = Vec::with_capacity(f.variant_count.min(3));
    let mut end = f.header_len as u64;
    for i in 0..f.variant_count {
        let kind = match r.u8()? {
            0 => EntryKind::Identity,
            1 => EntryKind::Gzip,
            2 => EntryKind::Br,
            _ => return Err(DecodeError::Invalid("variant encoding")),
        };
        if r.take(7)? != [0; 7] {
            return Err(DecodeError::Invalid("variant reserved"));
        }
        let offset = r.u64()?;
        let len = r.u64()?;
        let repeated = entries.iter().any(|e| e.kind == kind);
        if (i == 0) != (kind == EntryKind::Identity) || repeated || offset != end {
            return Err(DecodeError::Invalid("variant table"));
        }
        end = offset
            .checked_add(len)
            .ok_or(DecodeError::Invalid("variant length"))?;
        entries.push(Entry { kind, offset, len });
    }
    if end != f.total_len {
        return Err(DecodeError::Invalid("variants do not end the file"));
    }
    let head = Head {
        key: Key(key),
        generation,
        taken_ms,
        expires_ms,
        target,
        tags,
        total_len: f.total_len,
        entries,
    };
    Ok((head, rest))
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
pub(crate) mod tests;
