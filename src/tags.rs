//! The tags a fetched page is kept under (SPEC §6): its route's `tags`,
//! then the names the app lists in `[preload] tags_header`, in that order,
//! each once.
//!
//! Tags are opaque UTF-8 names, separated by spaces, tabs or commas. A page
//! whose tags cannot all be kept is not kept at all (PASS), never kept under
//! fewer tags: a purge by the missing name would leave it served as HIT.
//! - A name that is not UTF-8 gives `bad-tags`: no purge can name it (a JSON
//!   string is Unicode; a form value that does not decode to UTF-8 is a 400).
//!   Matching raw bytes would keep such a page unpurgeable by tag, and
//!   replacing the bad bytes would make `caf\xE9` and `caf\xE8` one tag that
//!   no purge by `café` reaches.
//! - More than `max_tags` names, or a header over [`MAX_HEADER_BYTES`],
//!   gives `too-many-tags`: each name costs time under the index lock that
//!   HITs need, and memory for the page's life.
//!
//! It reads headers only; it never touches the store.

use std::collections::HashSet;

use http::{HeaderMap, HeaderName};

use crate::policy::PassReason;

/// The most bytes the tags header may hold (all its field lines together).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The characters that separate names in the tags header.
pub const SEPARATORS: [char; 3] = [' ', '\t', ','];

/// The page's tags, or why the page cannot be kept under them.
pub fn page_tags(
    route: &[String],
    headers: &HeaderMap,
    tags_header: &HeaderName,
    max_tags: usize,
) -> Result<Vec<String>, PassReason> {
    let lines = headers.get_all(tags_header);
    // Checked before splitting, so a huge header costs one pass over its
    // lengths, not the hashing of every name in it.
    let bytes: usize = lines.iter().map(|v| v.len()).sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(PassReason::TooManyTags);
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut tags: Vec<&str> = Vec::new();
    let mut add = |tag| {
        if seen.insert(tag) {
            tags.push(tag);
        }
        tags.len() <= max_tags
    };
    for tag in route {
        if !add(tag) {
            return Err(PassReason::TooManyTags);
        }
    }
    for line in lines {
        let text = std::str::from_utf8(line.as_bytes()).map_err(|_| PassReason::BadTags)?;
        for tag in text.split(SEPARATORS).filter(|t| !t.is_empty()) {
            if !add(tag) {
                return Err(PassReason::TooManyTags);
            }
        }
    }
    Ok(tags.into_iter().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const TAGS: HeaderName = HeaderName::from_static("x-preload-tags");

    fn headers(lines: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append(
                &TAGS,
                HeaderValue::from_bytes(line).expect("a header value"),
            );
        }
        h
    }

    fn tags(route: &[&str], lines: &[&[u8]], max: usize) -> Result<Vec<String>, PassReason> {
        let route: Vec<String> = route.iter().map(|t| t.to_string()).collect();
        page_tags(&route, &headers(lines), &TAGS, max)
    }

    #[test]
    fn route_tags_then_header_names_each_once() {
        let got = tags(
            &["events.Event", "x"],
            &[b"page-ascii, caf\xC3\xA9", b"a\tb,,x  events.Event\t"],
            1000,
        );
        assert_eq!(
            got.unwrap(),
            ["events.Event", "x", "page-ascii", "café", "a", "b"]
        );
        assert_eq!(tags(&[], &[], 1000).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_name_that_is_not_utf8_refuses_the_page() {
        assert_eq!(
            tags(&[], &[b"page", b"caf\xE9"], 1000),
            Err(PassReason::BadTags)
        );
    }

    #[test]
    fn more_than_max_tags_refuses_the_page() {
        assert_eq!(tags(&["r"], &[b"a b"], 3).unwrap().len(), 3);
        assert_eq!(tags(&["r"], &[b"a b a r"], 3).unwrap().len(), 3);
        assert_eq!(tags(&["r"], &[b"a b c"], 3), Err(PassReason::TooManyTags));
        assert_eq!(tags(&["r", "s"], &[], 1), Err(PassReason::TooManyTags));
    }

    #[test]
    fn a_header_over_64_kib_refuses_the_page() {
        let name = vec![b'n'; 40 * 1024];
        assert_eq!(tags(&[], &[&name[..]], 1000).unwrap().len(), 1);
        assert_eq!(
            tags(&[], &[&name[..], &name[..]], 1000),
            Err(PassReason::TooManyTags)
        );
    }
}
