//! Reading a snapshot file: whole (`decode`), or only the header's summary
//! that the index needs (`decode_summary`), as `format` lays it out.
//!
//! Decoding never panics and never trusts a length it has not checked
//! against the bytes it holds: every field goes through `cursor`.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::key::Key;
use crate::store::{Encoding, Meta, Snapshot, Variant};

use super::cursor::Reader;
use super::error::DecodeError;
use super::format::{
    from_ms, EntryKind, VariantEntry, BODY_ALIGN, FIXED_LEN, MAGIC, MAX_HEADER, VARIANT_LEN,
    VERSION,
};

/// A file's summary: what the index needs, decoded from the header alone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Summary {
    pub key: Key,
    pub generation: u64,
    pub taken_ms: u64,
    pub expires_ms: Option<u64>,
    pub target: String,
    pub tags: Vec<String>,
    pub total_len: u64,
    pub entries: Vec<VariantEntry>,
}

/// From the first `FIXED_LEN` bytes, how many bytes the header takes.
pub(crate) fn header_len(prefix: &[u8]) -> Result<usize, DecodeError> {
    Ok(fixed(prefix)?.header_len)
}

/// Decodes a file's summary from its header alone; `header` holds at
/// least the first `header_len` bytes of the file. The caller compares
/// `total_len` with the file's size.
pub(crate) fn decode_summary(header: &[u8]) -> Result<Summary, DecodeError> {
    Ok(parse(header, false)?.0)
}

/// Decodes a whole file. The bodies share `file`'s buffer.
pub fn decode(file: Bytes) -> Result<Snapshot, DecodeError> {
    let (summary, rest) = parse(&file, true)?;
    let actual = file.len() as u64;
    if summary.total_len != actual {
        return Err(DecodeError::Torn {
            declared: summary.total_len,
            actual,
        });
    }
    let rest = rest.ok_or(DecodeError::Invalid("meta"))?;
    // parse() checked that the first entry is the identity, that no
    // encoding repeats, and that each lies inside total_len.
    let slice = |e: &VariantEntry| file.slice(e.offset as usize..(e.offset + e.len) as usize);
    let (first, rest_entries) = summary
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
        tags: summary.tags,
        target: summary.target,
        taken: from_ms(summary.taken_ms).ok_or(DecodeError::Invalid("taken"))?,
        expires: match summary.expires_ms {
            Some(ms) => Some(from_ms(ms).ok_or(DecodeError::Invalid("expires"))?),
            None => None,
        },
        generation: summary.generation,
        age: rest.age,
        etag: rest.etag,
        last_modified: rest.last_modified,
    };
    Ok(Snapshot {
        key: summary.key,
        meta,
        body,
        variants,
        head: Default::default(),
        wire: Default::default(),
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

fn parse(buf: &[u8], full: bool) -> Result<(Summary, Option<Rest>), DecodeError> {
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
    let mut entries: Vec<VariantEntry> = Vec::with_capacity(f.variant_count.min(3));
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
        // Each body starts where the one before ends or after padding
        // (`format`), whose bytes a whole read checks (a gap past the end
        // of `buf` is a torn file, refused by the caller).
        let gap = offset.checked_sub(end).filter(|gap| *gap < BODY_ALIGN);
        if (i == 0) != (kind == EntryKind::Identity) || repeated || gap.is_none() {
            return Err(DecodeError::Invalid("variant table"));
        }
        let padding = buf.get(end as usize..offset as usize).filter(|_| full);
        if padding.is_some_and(|gap| gap.iter().any(|b| *b != 0)) {
            return Err(DecodeError::Invalid("padding"));
        }
        end = offset
            .checked_add(len)
            .ok_or(DecodeError::Invalid("variant length"))?;
        entries.push(VariantEntry { kind, offset, len });
    }
    if end != f.total_len {
        return Err(DecodeError::Invalid("variants do not end the file"));
    }
    let summary = Summary {
        key: Key(key),
        generation,
        taken_ms,
        expires_ms,
        target,
        tags,
        total_len: f.total_len,
        entries,
    };
    Ok((summary, rest))
}
