//! Writing a snapshot file: the header (fixed part, meta, variant table)
//! and the bodies after it, as `format` lays them out.

use crate::store::Snapshot;

use super::cursor::{put_bytes, put_count};
use super::error::EncodeError;
use super::format::{
    body_start, to_ms, EntryKind, BODY_ALIGN, FIXED_LEN, MAGIC, MAX_HEADER, VARIANT_LEN, VERSION,
};

/// Encodes everything but the bodies: fixed header, meta and variant table.
/// The file is this followed by the bodies as [`layout`] places them.
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
    let (offsets, file_len) = placed(header_len, table.iter().map(|(_, len)| *len));
    let mut out = Vec::with_capacity(header_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(header_len as u32).to_le_bytes());
    out.extend_from_slice(&file_len.to_le_bytes());
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    // At most one entry per encoding: three.
    out.extend_from_slice(&(table.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&meta);
    for ((kind, len), offset) in table.into_iter().zip(offsets) {
        out.push(kind.byte());
        out.extend_from_slice(&[0; 7]);
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    Ok(out)
}

/// Where each body of these lengths starts after a header of
/// `header_len` bytes, and where the last one ends (the file's length).
fn placed(header_len: usize, lens: impl Iterator<Item = u64>) -> (Vec<u64>, u64) {
    let mut end = header_len as u64;
    let offsets = lens
        .map(|len| {
            let start = body_start(end, len);
            end = start + len;
            start
        })
        .collect();
    (offsets, end)
}

/// The bodies of `snapshot` in file order: identity, then the variants.
fn bodies(snapshot: &Snapshot) -> impl Iterator<Item = &[u8]> {
    std::iter::once(&snapshot.body[..]).chain(snapshot.variants.iter().map(|v| &v.body[..]))
}

/// A whole file as the slices to write in order, and where its bodies lie.
pub struct Layout<'a> {
    /// The header, then each body, any zero padding before it a slice of
    /// its own.
    pub parts: Vec<&'a [u8]>,
    /// Where each body starts: the identity body, then the variants'.
    pub offsets: Vec<u64>,
    /// The length of the file.
    pub len: u64,
}

const ZEROS: [u8; BODY_ALIGN as usize] = [0; BODY_ALIGN as usize];

/// The file of `snapshot` whose header is `header` (from [`encode_header`]).
pub fn layout<'a>(header: &'a [u8], snapshot: &'a Snapshot) -> Layout<'a> {
    let lens = bodies(snapshot).map(|b| b.len() as u64);
    let (offsets, len) = placed(header.len(), lens);
    let mut parts = vec![header];
    let mut end = header.len() as u64;
    for (body, &start) in bodies(snapshot).zip(&offsets) {
        if start > end {
            parts.push(&ZEROS[..(start - end) as usize]);
        }
        parts.push(body);
        end = start + body.len() as u64;
    }
    Layout {
        parts,
        offsets,
        len,
    }
}

/// The length of `snapshot`'s file whose header is `header_len` bytes.
pub fn file_len(header_len: usize, snapshot: &Snapshot) -> u64 {
    placed(header_len, bodies(snapshot).map(|b| b.len() as u64)).1
}

/// The whole file in one buffer.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, EncodeError> {
    let header = encode_header(snapshot)?;
    let layout = layout(&header, snapshot);
    let mut out = Vec::with_capacity(layout.len as usize);
    for part in layout.parts {
        out.extend_from_slice(part);
    }
    Ok(out)
}
