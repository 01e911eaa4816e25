//! The format of the soft-mark log, `cache.dir/.preloadd-soft`: the record
//! that keeps a soft invalidation across a restart (see `soft` for how it is
//! used and why it has this shape).
//!
//! The file is an 8-byte magic followed by records, each
//! `len: u32 | body | check: 8 bytes`, little-endian, where `check` is the
//! first 8 bytes of SHA-256 over `len` and `body`, and `body` is
//! `kind: u8 | epoch: u64 | since_ms: u64`, then for `KEYS` a `count: u32`
//! and `count` 32-byte keys. A record says "snapshots of a generation below
//! `epoch` (all of them, or those of these keys) are stale since
//! `since_ms`".
//!
//! The file is born whole (temp file + rename, with the magic) and then only
//! appended to, one fsynced write per invalidation. So the only damage a
//! crash can leave is at the end: a record cut short, or the unflushed tail
//! of one (zeros, garbage) that was never acknowledged. Reading stops there
//! quietly ([`Tail::Torn`]). A record that fails its check with valid data
//! after it is not a crash but damage, and the reader says so
//! ([`Tail::Corrupt`]): the caller must then assume the worst, since the
//! lost record may have been acknowledged.
//!
//! This module only encodes and decodes bytes; it never touches the index.

use sha2::{Digest, Sha256};

use crate::key::Key;

/// The log's file name in `cache.dir`.
pub(crate) const FILE: &str = ".preloadd-soft";
/// First bytes of every log.
pub(crate) const MAGIC: &[u8; 8] = b"PRLDSOF1";

const ALL: u8 = 1;
const KEYS: u8 = 2;
/// Keys in one record at most: a larger set is written as several records
/// (in one write), so that a record stays small enough to bound.
pub(crate) const KEYS_PER_RECORD: usize = 1 << 20;
/// `kind`, `epoch`, `since_ms`.
const FIXED: usize = 1 + 8 + 8;
const MAX_BODY: usize = FIXED + 4 + 32 * KEYS_PER_RECORD;
pub(crate) const CHECK: usize = 8;

/// One soft invalidation, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Every snapshot of a generation below `epoch` is stale since
    /// `since_ms` (a soft invalidation of everything: one small record
    /// whatever the size of the cache).
    All { epoch: u64, since_ms: u64 },
    /// The snapshots of these keys, if of a generation below `epoch`, are
    /// stale since `since_ms`.
    Keys {
        epoch: u64,
        since_ms: u64,
        keys: Vec<Key>,
    },
}

impl Mark {
    pub(crate) fn epoch(&self) -> u64 {
        match self {
            Mark::All { epoch, .. } | Mark::Keys { epoch, .. } => *epoch,
        }
    }
}

/// Appends the records of `mark` to `out` (a `Keys` mark of more than
/// `KEYS_PER_RECORD` keys becomes several records; one of no keys, none).
pub(crate) fn encode(mark: &Mark, out: &mut Vec<u8>) {
    match mark {
        Mark::All { epoch, since_ms } => record(out, ALL, *epoch, *since_ms, None),
        Mark::Keys {
            epoch,
            since_ms,
            keys,
        } => {
            for chunk in keys.chunks(KEYS_PER_RECORD) {
                record(out, KEYS, *epoch, *since_ms, Some(chunk));
            }
        }
    }
}

fn record(out: &mut Vec<u8>, kind: u8, epoch: u64, since_ms: u64, keys: Option<&[Key]>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&since_ms.to_le_bytes());
    if let Some(keys) = keys {
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for key in keys {
            out.extend_from_slice(&key.0);
        }
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let check = checksum(&out[start..]);
    out.extend_from_slice(&check);
}

pub(crate) fn checksum(len_and_body: &[u8]) -> [u8; CHECK] {
    let digest = Sha256::digest(len_and_body);
    let mut check = [0; CHECK];
    check.copy_from_slice(&digest[..CHECK]);
    check
}

/// How a log ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Every byte belonged to a good record.
    Clean,
    /// The last record was cut short or never fully reached the disk: an
    /// append interrupted by a crash, never acknowledged.
    Torn,
    /// Damage that a crash does not explain (a bad magic, a bad record
    /// followed by more data): records may have been lost.
    Corrupt,
}

#[derive(Debug)]
pub(crate) struct Decoded {
    /// The good records, in file order.
    pub marks: Vec<Mark>,
    pub tail: Tail,
}

/// Reads a whole log. Never fails: what cannot be read is reported in
/// `tail`.
pub(crate) fn decode(buf: &[u8]) -> Decoded {
    let (marks, tail) = decode_records(buf, MAGIC, MAX_BODY, parse_body);
    Decoded { marks, tail }
}

/// The records of a log in this framing (`magic`, then per record its
/// `u32` length, the body and its checksum), each read by `parse`, and how
/// the log ended. Also the framing of the rebuild's rules (`filter_log`).
pub(crate) fn decode_records<T>(
    buf: &[u8],
    magic: &[u8],
    max_body: usize,
    parse: impl Fn(&[u8]) -> Option<T>,
) -> (Vec<T>, Tail) {
    let mut records = Vec::new();
    if buf.get(..magic.len()) != Some(magic) {
        return (records, Tail::Corrupt);
    }
    let mut at = magic.len();
    let tail = loop {
        let rest = &buf[at..];
        if rest.is_empty() {
            break Tail::Clean;
        }
        let Some(len) = rest.get(..4).map(|b| {
            let mut l = [0; 4];
            l.copy_from_slice(b);
            u32::from_le_bytes(l) as usize
        }) else {
            break Tail::Torn;
        };
        if len > max_body {
            break damaged(rest, false);
        }
        let end = 4 + len + CHECK;
        let Some(whole) = rest.get(..end) else {
            break Tail::Torn;
        };
        let (len_and_body, check) = whole.split_at(4 + len);
        match parse(&len_and_body[4..]) {
            Some(record) if checksum(len_and_body)[..] == *check => records.push(record),
            _ => break damaged(rest, end == rest.len()),
        }
        at += end;
    };
    (records, tail)
}

/// A record at the start of `rest` failed. The end of the log after a
/// crash (`last`: it is the final record; or nothing but zeros follow,
/// which is how an unflushed append can read back) is a torn tail.
pub(crate) fn damaged(rest: &[u8], last: bool) -> Tail {
    if last || rest.iter().all(|&b| b == 0) {
        Tail::Torn
    } else {
        Tail::Corrupt
    }
}

fn parse_body(body: &[u8]) -> Option<Mark> {
    let (&kind, rest) = body.split_first()?;
    let u64_at = |at: usize| {
        let mut b = [0; 8];
        b.copy_from_slice(rest.get(at..at + 8)?);
        Some(u64::from_le_bytes(b))
    };
    let epoch = u64_at(0)?;
    let since_ms = u64_at(8)?;
    let rest = &rest[16..];
    match kind {
        ALL if rest.is_empty() => Some(Mark::All { epoch, since_ms }),
        KEYS => {
            let mut count = [0; 4];
            count.copy_from_slice(rest.get(..4)?);
            let count = u32::from_le_bytes(count) as usize;
            let raw = &rest[4..];
            if raw.len() != count.checked_mul(32)? {
                return None;
            }
            let keys = raw
                .chunks_exact(32)
                .map(|k| {
                    let mut key = [0; 32];
                    key.copy_from_slice(k);
                    Key(key)
                })
                .collect();
            Some(Mark::Keys {
                epoch,
                since_ms,
                keys,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(marks: &[Mark]) -> Vec<u8> {
        let mut buf = MAGIC.to_vec();
        for m in marks {
            encode(m, &mut buf);
        }
        buf
    }

    fn sample() -> Vec<Mark> {
        vec![
            Mark::All {
                epoch: 3,
                since_ms: 1_800_000_000_123,
            },
            Mark::Keys {
                epoch: 4,
                since_ms: 1_800_000_001_000,
                keys: vec![Key([1; 32]), Key([2; 32])],
            },
            Mark::Keys {
                epoch: 5,
                since_ms: 7,
                keys: vec![Key([3; 32])],
            },
        ]
    }

    #[test]
    fn marks_round_trip() {
        let marks = sample();
        let got = decode(&log(&marks));
        assert_eq!(got.tail, Tail::Clean);
        assert_eq!(got.marks, marks);
        let empty = decode(MAGIC);
        assert_eq!((empty.marks.len(), empty.tail), (0, Tail::Clean));
    }

    #[test]
    fn a_large_key_set_is_split_into_records_and_read_back_whole() {
        let keys: Vec<Key> = (0..KEYS_PER_RECORD + 2)
            .map(|i| {
                let mut k = [0; 32];
                k[..8].copy_from_slice(&(i as u64).to_le_bytes());
                Key(k)
            })
            .collect();
        let mark = Mark::Keys {
            epoch: 9,
            since_ms: 1,
            keys: keys.clone(),
        };
        let got = decode(&log(&[mark]));
        assert_eq!(got.tail, Tail::Clean);
        assert_eq!(got.marks.len(), 2, "two records");
        let read: Vec<Key> = got
            .marks
            .into_iter()
            .flat_map(|m| match m {
                Mark::Keys { keys, .. } => keys,
                Mark::All { .. } => Vec::new(),
            })
            .collect();
        assert_eq!(read, keys);
    }

    #[test]
    fn a_record_cut_anywhere_is_a_torn_tail_and_the_rest_is_kept() {
        let marks = sample();
        let whole = log(&marks);
        let first_two = log(&marks[..2]).len();
        for cut in first_two + 1..whole.len() {
            let got = decode(&whole[..cut]);
            assert_eq!(got.tail, Tail::Torn, "cut at {cut}");
            assert_eq!(got.marks, marks[..2], "cut at {cut}");
        }
    }

    #[test]
    fn an_unflushed_last_record_is_a_torn_tail() {
        let marks = sample();
        let mut buf = log(&marks[..1]);
        let good = buf.len();
        // The length reached the disk, the rest did not (reads as zeros);
        // or the whole record is zeros; or garbage of the right length.
        encode(&marks[1], &mut buf);
        buf[good + 4..].fill(0);
        assert_eq!(decode(&buf).tail, Tail::Torn);
        buf[good..].fill(0);
        assert_eq!(decode(&buf).tail, Tail::Torn);
        buf.extend_from_slice(&[0; 100]);
        assert_eq!(decode(&buf).tail, Tail::Torn);
        let mut garbage = log(&marks[..2]);
        let last = garbage.len() - 1;
        garbage[last] ^= 0xff;
        let got = decode(&garbage);
        assert_eq!((got.tail, got.marks.len()), (Tail::Torn, 1));
    }

    #[test]
    fn damage_before_good_records_is_corruption() {
        let marks = sample();
        let mut buf = log(&marks);
        buf[MAGIC.len() + 6] ^= 0x01; // inside the first record's epoch
        let got = decode(&buf);
        assert_eq!(got.tail, Tail::Corrupt);
        assert!(got.marks.is_empty());
        let mut huge = log(&marks[..1]);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(b"more data that is not zeros");
        assert_eq!(decode(&huge).tail, Tail::Corrupt);
        assert_eq!(decode(b"PRLDXXX1").tail, Tail::Corrupt);
        assert_eq!(decode(b"").tail, Tail::Corrupt);
    }

    #[test]
    fn a_body_that_does_not_add_up_is_refused() {
        let mut buf = MAGIC.to_vec();
        // A KEYS record whose count claims more keys than it holds, with a
        // good checksum: well framed, but not a mark.
        let mut body = vec![KEYS];
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(&[7; 32]);
        let mut rec = (body.len() as u32).to_le_bytes().to_vec();
        rec.extend_from_slice(&body);
        let check = checksum(&rec);
        rec.extend_from_slice(&check);
        buf.extend_from_slice(&rec);
        encode(&sample()[0], &mut buf);
        assert_eq!(decode(&buf).tail, Tail::Corrupt);
    }
}
