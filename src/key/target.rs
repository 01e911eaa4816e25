//! A preload request resolved: the canonical target, its route, and the
//! key it is kept under (the route's `vary` headers with the visitor's
//! values take part). Every path that turns a target into a key comes
//! here: visitors, rewarm, and later `explain`.

use std::borrow::Cow;

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
    let route = route_index(config, &canonical);
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

/// The index of the first route matching the path of `canonical`.
fn route_index(config: &Config, canonical: &str) -> Option<usize> {
    let path = canonical.split('?').next().unwrap_or("/");
    config.routes.iter().position(|r| r.matcher.matches(path))
}

impl Target {
    /// This target with its route in `config`: a fetch runs on one config
    /// throughout, and a reload between the resolve and the fetch may have
    /// moved or removed routes. The key and the `vary` values stay those
    /// resolved, under which the visitor and the flight wait.
    pub fn under(&self, config: &Config) -> Cow<'_, Target> {
        let route = route_index(config, &self.canonical);
        if route == self.route {
            Cow::Borrowed(self)
        } else {
            Cow::Owned(Target {
                route,
                ..self.clone()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(routes: &str) -> Config {
        let text = format!("[upstream]\nurl = \"http://127.0.0.1:8000\"\n{routes}");
        crate::config::from_str(Path::new("preload.toml"), &text, None).expect("loads")
    }

    #[test]
    fn a_target_finds_its_route_again_in_a_reloaded_config() {
        let two = config("[[route]]\nmatch = \"/a/*\"\n[[route]]\nmatch = \"/b/*\"\n");
        let target = resolve(&two, &HeaderMap::new(), "/b/1").unwrap();
        assert_eq!(target.route, Some(1));
        assert!(matches!(target.under(&two), Cow::Borrowed(_)));
        let one = config("[[route]]\nmatch = \"/b/*\"\n");
        let moved = target.under(&one);
        assert_eq!(moved.route, Some(0));
        assert_eq!(moved.key, target.key, "the key it is waited for under");
        assert_eq!(target.under(&config("")).route, None);
    }
}
