//! The layout of a snapshot file, byte by byte, and the constants and
//! table types that `encode` and `decode` share.
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
//! bodies: variant 0 is the identity body, the variants follow in table
//!   order and the last one ends the file. Each body starts where the one
//!   before it (or the header) ends, or after fewer than 4096 zero bytes:
//!   a body of 16 KiB or more starts at a multiple of 4096 (files written
//!   before 16 KiB was the bound have it at 32 KiB; either reads the same).
//! ```
//!
//! Why the padding: a large body goes to the socket by `sendfile(2)`
//! straight from the page cache, and a body that starts inside a page
//! makes every TCP segment end short of a full one (one page frag too
//! many), which costs the kernel more than twice as much per response on
//! loopback with BBR (docs/benchmarks.md). Files written before the
//! padding (bodies right after the header) read the same; a build older
//! than it refuses a padded file, which is then fetched again.
//!
//! `encode` writes the identity entry, then one entry per
//! `Snapshot::variants` (gzip, br) in their order; a file whose table holds
//! only the identity (every file written before variants existed) decodes
//! with no variants. An encoding listed twice, or identity after entry 0,
//! is refused.
//!
//! Header values are kept byte for byte (obs-text included). Times are unix
//! milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::{Encoding, KEEP_OPEN_MIN};

/// The snapshot format this build writes and reads.
pub const VERSION: u16 = 1;
pub(super) const MAGIC: &[u8; 8] = b"PRLDSNAP";
/// Length of the fixed header.
pub(crate) const FIXED_LEN: usize = 32;
/// Length of one variant table entry.
pub(super) const VARIANT_LEN: usize = 24;
/// Bodies of at least [`ALIGN_MIN`] bytes start at a multiple of this.
pub(crate) const BODY_ALIGN: u64 = 4096;
/// The smallest body that is aligned: the smallest one sent by sendfile.
pub(crate) const ALIGN_MIN: u64 = KEEP_OPEN_MIN as u64;

/// Where this build puts a body of `len` bytes when the file so far ends
/// at `end`.
pub(crate) fn body_start(end: u64, len: u64) -> u64 {
    if len >= ALIGN_MIN {
        end.next_multiple_of(BODY_ALIGN)
    } else {
        end
    }
}

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
    pub(super) fn byte(self) -> u8 {
        match self {
            EntryKind::Identity => 0,
            EntryKind::Gzip => 1,
            EntryKind::Br => 2,
        }
    }

    pub(super) fn of(encoding: Encoding) -> EntryKind {
        match encoding {
            Encoding::Gzip => EntryKind::Gzip,
            Encoding::Brotli => EntryKind::Br,
        }
    }
}

/// One entry of the variant table: where one body sits in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantEntry {
    pub kind: EntryKind,
    pub offset: u64,
    pub len: u64,
}

/// Unix milliseconds; times before 1970 count as 0.
pub(crate) fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn from_ms(ms: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}
