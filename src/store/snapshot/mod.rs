//! The on-disk snapshot format: encode and decode, nothing else.
//!
//! `format` holds the layout, byte by byte, and the constants it names;
//! `encode` writes a file, `decode` reads one whole or, for the index, the
//! summary in its header alone; `cursor` reads and writes single fields
//! without ever reading past its slice; `error` says why either failed.
//!
//! So a reader needs only the first `header_len` bytes to index a file, and
//! a body sits contiguous and uncompressed at a known offset, a large one
//! page-aligned (sendfile).
//! Decoding never panics and never trusts a length it has not checked
//! against the bytes it holds.
//!
//! This module never touches the file system.

mod cursor;
mod decode;
mod encode;
mod error;
mod format;

pub use self::decode::decode;
pub(crate) use self::decode::{decode_summary, header_len};
pub use self::encode::{encode, encode_header, file_len, layout, Layout};
pub use self::error::{DecodeError, EncodeError};
pub(crate) use self::format::{from_ms, to_ms, FIXED_LEN};
pub use self::format::{EntryKind, VariantEntry, VERSION};

#[cfg(test)]
mod align_tests;
#[cfg(test)]
pub(crate) mod tests;
