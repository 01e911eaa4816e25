//! Writing a snapshot file: the header (fixed part, meta, variant table)
//! and the bodies after it, as `format` lays them out.

use crate::store::Snapshot;

use super::cursor::{put_bytes, put_count};
use super::error::EncodeError;
use super::format::{to_ms, EntryKind, FIXED_LEN, MAGIC, MAX_HEADER, VARIANT_LEN, VERSION};

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
