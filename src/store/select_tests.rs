//! Tests of resolving urls and prefixes through the target order: vary
//! variants, the path-only rule of prefixes, percent-encoded paths, and
//! batches that stop and resume inside a range.

use std::collections::HashSet;

use super::super::entry::NewEntry;
use super::*;

/// An index of `targets`, entry `i` under key `key(i)` (one target may
/// come several times: vary variants).
fn index(targets: &[&str]) -> RwLock<Index> {
    let mut index = Index::default();
    for (i, t) in targets.iter().enumerate() {
        let entry = NewEntry {
            key: key(i),
            target: (*t).into(),
            size: 1,
            taken_ms: 1_000 * i as u64,
            expires_ms: None,
            generation: 1,
        };
        index.insert(entry, [], i as u64 + 1);
    }
    RwLock::new(index)
}

fn key(i: usize) -> Key {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&(i as u64).to_be_bytes());
    Key(k)
}

/// The entry numbers `ranges` resolve to, sorted.
fn found(lock: &RwLock<Index>, ranges: &[Range<'_>]) -> Vec<usize> {
    let keys = resolve(lock, ranges.iter().copied(), |_| true);
    let mut found: Vec<usize> = keys
        .iter()
        .map(|k| u64::from_be_bytes(k.0[..8].try_into().expect("8 bytes")) as usize)
        .collect();
    found.sort_unstable();
    found
}

#[test]
fn a_url_is_its_target_exactly_with_every_variant() {
    let idx = index(&["/a", "/a?x=1", "/a", "/ab", "/a/", "/a", "/"]);
    assert_eq!(found(&idx, &[Range::Target("/a")]), [0, 2, 5]);
    assert_eq!(found(&idx, &[Range::Target("/a?x=1")]), [1]);
    assert_eq!(found(&idx, &[Range::Target("/")]), [6]);
    assert!(found(&idx, &[Range::Target("/a?x=2")]).is_empty());
    assert!(found(&idx, &[Range::Target("/b")]).is_empty());
    assert!(found(&idx, &[Range::Target("")]).is_empty());
}

#[test]
fn a_prefix_matches_the_path_only_never_the_query() {
    let idx = index(&[
        "/events/",              // 0
        "/events/?page=2",       // 1
        "/events/2026/x",        // 2
        "/eventsx",              // 3
        "/event",                // 4
        "/x?next=/events/",      // 5: the prefix only in the query
        "/events",               // 6
        "/events?tab=/events/a", // 7: path "/events"
        "/a?b",                  // 8
        "/a%3Fb",                // 9: an encoded "?" is path
        "/events/",              // 10: a variant of 0
    ]);
    let under = |p| found(&idx, &[Range::Prefix(p)]);
    assert_eq!(under("/events/"), [0, 1, 2, 10]);
    assert_eq!(under("/events"), [0, 1, 2, 3, 6, 7, 10]);
    assert_eq!(under("/event"), [0, 1, 2, 3, 4, 6, 7, 10]);
    assert!(
        under("/events/?").is_empty(),
        "a prefix never reaches into the query"
    );
    assert!(under("/events/?page").is_empty());
    assert!(under("/a?").is_empty());
    assert_eq!(under("/a"), [8, 9]);
    assert_eq!(under("/a%3F"), [9]);
    assert_eq!(under("/").len(), 11);
    assert!(under("/z").is_empty());
}

#[test]
fn percent_encoded_prefixes_compare_as_canonical_text() {
    // Canonical targets keep escapes upper case; `canonical_prefix` makes
    // a prefix the same, so the comparison is of bytes.
    let idx = index(&[
        "/caf%C3%A9/menu",
        "/caf%C3%A9",
        "/cafe/",
        "/caf%C3%A8/",
        "/caf%2Fx",
    ]);
    let under = |p| found(&idx, &[Range::Prefix(p)]);
    assert_eq!(under("/caf%C3%A9"), [0, 1]);
    assert_eq!(under("/caf%C3%A9/"), [0]);
    assert_eq!(under("/caf%C3"), [0, 1, 3]);
    assert_eq!(under("/caf%"), [0, 1, 3, 4]);
    assert_eq!(under("/caf"), [0, 1, 2, 3, 4]);
}

#[test]
fn batches_resume_where_they_stopped() {
    // More than a batch of variants of one target, more than a batch of
    // pages under one prefix, and more than a batch of urls.
    let n = 3 * BATCH + 17;
    let mut targets: Vec<String> = (0..n).map(|i| format!("/p/{i:05}")).collect();
    targets.extend((0..BATCH + 5).map(|_| "/v".to_string()));
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    let idx = index(&refs);

    let all_p: Vec<usize> = (0..n).collect();
    assert_eq!(found(&idx, &[Range::Prefix("/p/")]), all_p);
    let variants: Vec<usize> = (n..n + BATCH + 5).collect();
    assert_eq!(found(&idx, &[Range::Target("/v")]), variants);

    let urls: Vec<Range<'_>> = refs[..n].iter().map(|t| Range::Target(t)).collect();
    assert_eq!(found(&idx, &urls), all_p);

    // Overlapping names are each resolved; deduplication is the caller's.
    let twice = found(&idx, &[Range::Prefix("/p/01"), Range::Prefix("/p/010")]);
    let distinct: HashSet<usize> = twice.iter().copied().collect();
    assert_eq!(distinct.len(), 1000);
    assert_eq!(twice.len(), 1000 + 100);
}

#[test]
fn the_filter_sees_each_entry_with_its_times() {
    let idx = index(&["/a", "/a", "/b"]);
    let keys = resolve(
        &idx,
        [Range::Target("/a"), Range::Target("/b")].into_iter(),
        |e| e.taken >= time(1_000),
    );
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, [key(1), key(2)]);
}
