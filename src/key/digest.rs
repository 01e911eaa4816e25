//! The cache key: SHA-256 of a canonical target and its route's vary
//! values, versioned, and its one spelling in hex (file names, admin
//! output).

use std::fmt;

use http::HeaderName;
use sha2::{Digest, Sha256};

use super::hex_value;

/// SHA-256 cache key of a canonical target and its route's vary values.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key(pub [u8; 32]);

/// A map from snapshot keys, with a fast hash (foldhash) seeded at random
/// per map. Keys are SHA-256 outputs: a visitor can steer one only by
/// grinding SHA-256, and cannot see the seed, so the std SipHash buys
/// nothing here but cost on every lookup (two per HIT).
pub type KeyMap<V> = std::collections::HashMap<Key, V, foldhash::fast::RandomState>;

/// A key's first 64 bits are already uniform (SHA-256 output), so they
/// are all a map's hasher is given: one word to mix, where the 32 bytes
/// and their length cost a HIT some 140 instructions per lookup.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_ne_bytes(word));
    }
}

impl Key {
    /// `vary`: for each of the route's vary headers, in config order, its
    /// name and the value received (empty when absent).
    ///
    /// The hashed text is versioned and every field ends in `\n`, so distinct
    /// inputs cannot run together: a canonical target has no control
    /// character, a `HeaderName` is lower-case and has no `:` or `\n`, and a
    /// value is the raw bytes of a received `HeaderValue`, which `http`
    /// guarantees holds no CR or LF. A caller passing other bytes must keep
    /// that promise.
    pub fn new(canonical: &str, vary: &[(&HeaderName, &[u8])]) -> Key {
        let mut hasher = Sha256::new();
        hasher.update(b"preloadd-v1\n");
        hasher.update(canonical.as_bytes());
        hasher.update(b"\n");
        for (name, value) in vary {
            debug_assert!(!value.contains(&b'\n'), "vary value holds a newline");
            hasher.update(name.as_str().as_bytes());
            hasher.update(b":");
            hasher.update(value);
            hasher.update(b"\n");
        }
        Key(hasher.finalize().into())
    }

    /// 64 lower-case hex digits: the key's name on disk and in admin output.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// The inverse of [`Key::to_hex`]. Only lower-case is accepted, so that a
    /// key has exactly one spelling (it names files).
    pub fn from_hex(s: &str) -> Option<Key> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut key = [0u8; 32];
        for (out, pair) in key.iter_mut().zip(bytes.chunks_exact(2)) {
            *out = lower_hex_value(pair[0])? << 4 | lower_hex_value(pair[1])?;
        }
        Some(Key(key))
    }
}

fn lower_hex_value(b: u8) -> Option<u8> {
    hex_value(b).filter(|_| !b.is_ascii_uppercase())
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}
