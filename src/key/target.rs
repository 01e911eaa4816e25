//! A preload request resolved: the canonical target, its route, and the
//! key it is kept under (the route's `vary` headers with the visitor's
//! values take part). Every path that turns a target into a key comes
//! here: visitors, rewarm, and later `explain`.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::{canonical_target, Key, QueryRules, TargetError};
use crate::config::Config;
use crate::headers::joined_value;

/// What to fetch and under which key.
#[derive(Debug, Clone)]
pub struct Target {
    pub canonical: String,
    pub key: Key,
    /// Index of the matching `[[route]]`, if any.
    pub route: Option<usize>,
    /// The route's vary headers with the visitor's values, forwarded on fetch.
    pub vary: Vec<(HeaderName, HeaderValue)>,
}

/// Validates and canonicalizes `raw` (the upstream target) and computes its
/// key. Errors become 400 / 414 before anything reaches the app.
pub fn resolve(config: &Config, headers: &HeaderMap, raw: &str) -> Result<Target, TargetError> {
    let rules = QueryRules::of(&config.preload);
    let canonical = canonical_target(raw, rules)?;
    let path = canonical.split('?').next().unwrap_or("/");
    let route = config.routes.iter().position(|r| r.matcher.matches(path));
    let mut vary = Vec::new();
    let mut key_parts: Vec<(&HeaderName, Vec<u8>)> = Vec::new();
    for name in route.map_or(&[][..], |i| &config.routes[i].vary[..]) {
        let value = joined_value(headers, name);
        key_parts.push((
            name,
            value
                .as_ref()
                .map_or_else(Vec::new, |v| v.as_bytes().to_vec()),
        ));
        if let Some(value) = value {
            vary.push((name.clone(), value));
        }
    }
    let key_refs: Vec<(&HeaderName, &[u8])> =
        key_parts.iter().map(|(n, v)| (*n, v.as_slice())).collect();
    let key = Key::new(&canonical, &key_refs);
    Ok(Target {
        canonical,
        key,
        route,
        vary,
    })
}
