//! Bounds-checked reading and length-prefixed writing of the snapshot
//! format's fields (little-endian integers; byte strings as a u32 length
//! then the bytes). The reader fails instead of reading past its slice, so
//! no input can make decoding panic. It knows nothing of what the fields
//! mean (see `format`).

use http::HeaderValue;

use super::error::{DecodeError, EncodeError};

/// A cursor that fails instead of reading past its slice.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `buf` starting at `pos`.
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { buf, pos }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn count(&mut self) -> Result<usize, DecodeError> {
        Ok(self.u32()? as usize)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.count()?;
        self.take(n)
    }

    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Invalid("utf-8"))
    }

    pub(crate) fn header_value(&mut self) -> Result<HeaderValue, DecodeError> {
        HeaderValue::from_bytes(self.bytes()?).map_err(|_| DecodeError::Invalid("header value"))
    }
}

pub(crate) fn put_count(out: &mut Vec<u8>, n: usize) -> Result<(), EncodeError> {
    let n = u32::try_from(n).map_err(|_| EncodeError::HeaderTooLarge)?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> Result<(), EncodeError> {
    put_count(out, b.len())?;
    out.extend_from_slice(b);
    Ok(())
}
