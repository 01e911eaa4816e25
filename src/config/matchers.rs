//! What request paths and query parameter names are compared with:
//! `[[route]] match` and `[preload] ignore_query`. Both validate inside their
//! deserializers (see `units.rs`). Matching runs on every request: it
//! allocates only for a glob or name that is not ASCII.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer};

use super::units::deserialize_via_from_str;

/// Characters that never belong in a configured path: the path is compared
/// with request paths as received, so these could never match.
pub(crate) fn path_problem(p: &str) -> Option<&'static str> {
    if !p.starts_with('/') {
        Some("must start with \"/\"")
    } else if p.contains(['?', '#']) {
        Some("must be a path only, without \"?\" or \"#\"")
    } else if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("must not contain spaces or control characters")
    } else {
        None
    }
}

/// A route matcher: an exact path, or a prefix ending in "*".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    Exact(String),
    /// The prefix without its "*" ("/events/*" is `Prefix("/events/")`).
    Prefix(String),
}

impl RouteMatch {
    pub fn matches(&self, path: &str) -> bool {
        match self {
            RouteMatch::Exact(p) => p == path,
            RouteMatch::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

impl FromStr for RouteMatch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (path, prefix) = match s.strip_suffix('*') {
            Some(p) => (p, true),
            None => (s, false),
        };
        if let Some(why) = path_problem(path) {
            return Err(format!("route match {s:?} {why}"));
        }
        if path.contains('*') {
            return Err(format!(
                "route match {s:?}: \"*\" is only allowed at the end (a prefix)"
            ));
        }
        let path = path.to_string();
        Ok(if prefix {
            RouteMatch::Prefix(path)
        } else {
            RouteMatch::Exact(path)
        })
    }
}
deserialize_via_from_str!(
    RouteMatch,
    "a path string, like \"/about/\" or \"/events/*\""
);

impl fmt::Display for RouteMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteMatch::Exact(p) => f.write_str(p),
            RouteMatch::Prefix(p) => write!(f, "{p}*"),
        }
    }
}

/// A query-parameter name glob: `*` matches any run of characters
/// (also none), `?` exactly one; everything else matches itself, case
/// included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(pub String);

impl Glob {
    pub fn matches(&self, name: &str) -> bool {
        // Parameter names are nearly always ASCII: compare bytes then, and
        // characters (so that `?` is one character) otherwise.
        if self.0.is_ascii() && name.is_ascii() {
            return wildcard(self.0.as_bytes(), name.as_bytes(), b'*', b'?');
        }
        let pattern: Vec<char> = self.0.chars().collect();
        let name: Vec<char> = name.chars().collect();
        wildcard(&pattern, &name, '*', '?')
    }
}

/// Wildcard matching without recursion: on a mismatch, the last `*` seen
/// takes one more item and matching resumes after it. At worst pattern
/// length times name length steps, never exponential.
fn wildcard<T: Copy + PartialEq>(pattern: &[T], name: &[T], star: T, one: T) -> bool {
    let (mut p, mut n) = (0, 0);
    // The last star's position in the pattern and the name position it
    // swallows up to.
    let mut last_star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(&c) if c == star => {
                last_star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == one || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match last_star {
                Some((sp, sn)) => {
                    last_star = Some((sp, sn + 1));
                    p = sp + 1;
                    n = sn + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == star)
}

impl FromStr for Glob {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty parameter name pattern".to_string());
        }
        if s.contains(['&', '=']) || s.chars().any(char::is_control) {
            return Err(format!(
                "parameter name pattern {s:?} must not contain \"&\", \"=\" or control characters"
            ));
        }
        Ok(Glob(s.to_string()))
    }
}
deserialize_via_from_str!(Glob, "a parameter name pattern string, like \"utm_*\"");

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_match_is_exact_or_prefix() {
        let exact: RouteMatch = "/about/".parse().expect("exact");
        assert_eq!(exact, RouteMatch::Exact("/about/".into()));
        assert!(exact.matches("/about/"));
        assert!(!exact.matches("/about/team"));
        let prefix: RouteMatch = "/events/*".parse().expect("prefix");
        assert_eq!(prefix, RouteMatch::Prefix("/events/".into()));
        assert!(prefix.matches("/events/"));
        assert!(prefix.matches("/events/2024/"));
        assert!(!prefix.matches("/events"));
        assert_eq!(prefix.to_string(), "/events/*");
        assert!("/*"
            .parse::<RouteMatch>()
            .expect("all")
            .matches("/anything"));
    }

    #[test]
    fn bad_route_matches_are_refused() {
        for bad in ["events/*", "", "*", "/a*b", "/a/*/b*", "/a?x=1", "/a b"] {
            assert!(bad.parse::<RouteMatch>().is_err(), "{bad}");
        }
    }

    #[test]
    fn glob_matches_star_and_question_mark() {
        let g = |p: &str| Glob(p.to_string());
        assert!(g("utm_*").matches("utm_source"));
        assert!(g("utm_*").matches("utm_"));
        assert!(!g("utm_*").matches("utm"));
        assert!(!g("utm_*").matches("xutm_source"));
        assert!(g("*").matches(""));
        assert!(g("*").matches("anything"));
        assert!(g("fbclid").matches("fbclid"));
        assert!(!g("fbclid").matches("fbclid2"));
        assert!(!g("fbclid").matches("FBCLID"));
        assert!(g("?").matches("a"));
        assert!(!g("?").matches(""));
        assert!(!g("?").matches("ab"));
        assert!(g("a?c").matches("abc"));
        assert!(g("*_id").matches("session_id"));
        assert!(g("a*b*c").matches("aXXbYYbZc"));
        assert!(!g("a*b*c").matches("aXXbYY"));
        assert!(g("*a*a*a*b").matches("aaaaaaaaaaaaaaaaaaab"));
        assert!(!g("*a*a*a*b").matches("aaaaaaaaaaaaaaaaaaaa"));
        assert!(g("é?").matches("éü"));
        assert!(g("**x").matches("x"));
    }

    #[test]
    fn bad_globs_are_refused() {
        for bad in ["", "a=b", "a&b"] {
            assert!(bad.parse::<Glob>().is_err(), "{bad:?}");
        }
    }
}
