//! What identifies a page: origin-form checks, the canonical target and the
//! versioned cache key. (Stub: being written.)

use http::HeaderName;

use crate::config::Glob;

/// Longest request target accepted (SPEC §3); longer gets 414.
pub const MAX_TARGET: usize = 8192;

/// Why a target is refused before any upstream contact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// 400, with a short reason for the body.
    #[error("{0}")]
    Invalid(&'static str),
    /// 414.
    #[error("request target too long")]
    TooLong,
}

/// The query rules of `[preload]`.
#[derive(Debug, Clone, Copy)]
pub struct QueryRules<'a> {
    pub sort_query: bool,
    pub ignore_query: &'a [Glob],
}

/// Validates an upstream target (path and optional query, as received) and
/// returns its canonical form.
pub fn canonical_target(raw: &str, rules: QueryRules<'_>) -> Result<String, TargetError> {
    let _ = rules;
    Ok(raw.to_string())
}

/// SHA-256 cache key of a canonical target and its route's vary values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// `vary`: for each of the route's vary headers, in config order, its
    /// name and the value received (empty when absent).
    pub fn new(canonical: &str, vary: &[(&HeaderName, &[u8])]) -> Key {
        let _ = (canonical, vary);
        Key([0; 32])
    }

    pub fn to_hex(&self) -> String {
        String::new()
    }

    pub fn from_hex(s: &str) -> Option<Key> {
        let _ = s;
        None
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.to_hex())
    }
}

/// The seed's joining rule (SPEC §3).
pub fn join_params(path: &str, params: &[String]) -> String {
    let _ = params;
    path.to_string()
}
