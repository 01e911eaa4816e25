//! Reading the little-endian records of the store's own files (the index
//! checkpoint, the rebuild's rules): each read takes bytes from the front
//! and says `None` when there are not enough, so a short or damaged file
//! is an error, never a panic.

pub(super) struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, at: 0 }
    }

    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    /// True when every byte was read.
    pub(super) fn at_end(&self) -> bool {
        self.at == self.buf.len()
    }

    /// A string written as its `u32` length and its UTF-8 bytes.
    pub(super) fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Reader;

    #[test]
    fn short_input_is_none_and_takes_nothing_more() {
        let mut r = Reader::new(&[3, 0, 0, 0, b'a', b'b', b'c', 1, 2]);
        assert_eq!(r.str(), Some("abc"));
        assert_eq!(r.u32(), None, "two bytes left");
        assert_eq!(r.take(2), Some(&[1u8, 2][..]));
        assert_eq!(r.u64(), None);
        assert!(r.at_end());
    }
}
