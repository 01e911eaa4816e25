//! What one line of a warm list (or one `<loc>` of a sitemap) names: the
//! preload URL to request from the daemon (SPEC §8).
//!
//! A line is a preload URL (`/_preload/...`, requested as written), an
//! upstream target (`/events/`, the prefix is added) or an absolute
//! `http(s)://` URL, whose host is ignored and whose path and query are
//! read as one of the first two. The target is checked with the daemon's
//! own rules ([`key::canonical_target`]), so a page the daemon would
//! refuse is reported here with its reason instead of costing a request;
//! it is still sent as written, since the daemon canonicalizes it itself.

use http::uri::{PathAndQuery, Uri};

use crate::key::{self, QueryRules};

/// One line, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Blank, or a comment (`#`, which no target starts with).
    Skip,
    /// The preload URL to request (origin-form, under the prefix).
    Page(String),
    /// Not a page the daemon would warm, and why.
    Bad(String),
}

/// Classifies `line` for the daemon whose preload prefix is `prefix`
/// (without its trailing "/").
pub fn classify(line: &str, prefix: &str, rules: QueryRules<'_>) -> Line {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Line::Skip;
    }
    let origin = match absolute_path(line) {
        Some(Ok(path)) => path,
        Some(Err(why)) => return Line::Bad(why),
        None => line.to_string(),
    };
    let (target, url) = match under_prefix(&origin, prefix) {
        Some(target) => (target.to_string(), origin.clone()),
        None => (origin.clone(), format!("{prefix}{origin}")),
    };
    if let Err(why) = key::canonical_target(&target, rules) {
        return Line::Bad(why.to_string());
    }
    if url.len() > key::MAX_TARGET {
        return Line::Bad(key::TargetError::TooLong.to_string());
    }
    // What the daemon accepts is a valid request target; this guards the
    // request builder all the same.
    match url.parse::<PathAndQuery>() {
        Ok(_) => Line::Page(url),
        Err(_) => Line::Bad("not a valid request target".into()),
    }
}

/// The path and query of an absolute URL; `None` when `line` is not one.
pub(super) fn absolute_path(line: &str) -> Option<Result<String, String>> {
    let (scheme, _) = line.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Some(Err(format!("not an http or https URL: {scheme}://")));
    }
    // A fragment is never sent.
    let line = line.split_once('#').map_or(line, |(url, _)| url);
    let uri = match line.parse::<Uri>() {
        Ok(uri) if uri.authority().is_some() => uri,
        _ => return Some(Err("not a valid URL".into())),
    };
    let path = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    // `http://host?q` has the path "/" and the query q.
    Some(Ok(match path.starts_with('/') {
        true => path.to_string(),
        false => format!("/{path}"),
    }))
}

/// The upstream target of a preload URL, when `path` is one.
fn under_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    rest.starts_with('/').then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: QueryRules<'static> = QueryRules {
        sort_query: true,
        ignore_query: &[],
    };

    fn page(line: &str) -> String {
        match classify(line, "/_preload", RULES) {
            Line::Page(url) => url,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn bad(line: &str) -> String {
        match classify(line, "/_preload", RULES) {
            Line::Bad(why) => why,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn a_preload_url_is_requested_as_written() {
        assert_eq!(
            page("/_preload/events/?b=2&a=1"),
            "/_preload/events/?b=2&a=1"
        );
        assert_eq!(page("  /_preload/  "), "/_preload/");
    }

    #[test]
    fn an_upstream_target_gets_the_prefix() {
        assert_eq!(page("/events/?page=2"), "/_preload/events/?page=2");
        assert_eq!(page("/"), "/_preload/");
        // Only "prefix/" starts a preload URL.
        assert_eq!(page("/_preloaded/x"), "/_preload/_preloaded/x");
    }

    #[test]
    fn an_absolute_url_gives_its_path_and_query() {
        assert_eq!(
            page("https://www.example.org/events/?page=2#top"),
            "/_preload/events/?page=2"
        );
        assert_eq!(page("HTTP://www.example.org"), "/_preload/");
        assert_eq!(page("http://www.example.org?q=1"), "/_preload/?q=1");
        assert_eq!(page("http://a.example:8080/_preload/x"), "/_preload/x");
    }

    #[test]
    fn blank_lines_and_comments_are_skipped() {
        for line in ["", "   ", "\t", "# a comment", "  # indented"] {
            assert_eq!(classify(line, "/_preload", RULES), Line::Skip, "{line:?}");
        }
    }

    #[test]
    fn what_the_daemon_refuses_is_bad_with_its_reason() {
        assert_eq!(bad("events/"), "target must start with \"/\"");
        assert_eq!(
            bad("//evil.example/"),
            "target must start with a single \"/\""
        );
        assert_eq!(
            bad("/_preload//evil.example/"),
            "target must start with a single \"/\""
        );
        assert!(bad("/a/../b").contains("dot-segment"), "{}", bad("/a/../b"));
        assert!(bad("ftp://example.org/").contains("not an http"));
        assert_eq!(bad("http:///nohost"), "not a valid URL");
        assert_eq!(
            bad(&format!("/{}", "a".repeat(key::MAX_TARGET))),
            "request target too long"
        );
    }

    #[test]
    fn a_custom_prefix_is_honoured() {
        let rules = RULES;
        assert_eq!(classify("/p/x", "/p", rules), Line::Page("/p/x".into()));
        assert_eq!(
            classify("/_preload/x", "/p", rules),
            Line::Page("/p/_preload/x".into())
        );
    }
}
