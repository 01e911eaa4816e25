//! Paging through the index: order, filters, and a cursor that holds while
//! entries come and go between pages.

use super::*;
use crate::store::entry::NewEntry;

fn key(n: u32) -> Key {
    let mut k = [0u8; 32];
    // Keys in the opposite order of `n`, so that key order is not slot
    // (insertion) order within one target.
    k[..4].copy_from_slice(&(u32::MAX - n).to_be_bytes());
    Key(k)
}

fn add(idx: &mut Index, n: u32, target: &str, tags: &[&str]) {
    let entry = NewEntry {
        key: key(n),
        target: target.into(),
        size: 100 + u64::from(n),
        taken_ms: 1_000_000,
        expires_ms: None,
        generation: 1,
    };
    idx.insert(entry, tags.iter().copied(), u64::from(n));
}

/// Pages of `limit` through `query` until the last: the rows' targets and
/// keys in the order given. `between` runs after each page.
fn all_pages(
    idx: &mut Index,
    mut query: ListQuery,
    mut between: impl FnMut(&mut Index, usize),
) -> Vec<(String, Key)> {
    let mut seen = Vec::new();
    for page_no in 0.. {
        assert!(page_no < 1000, "paging does not end");
        let page = idx.page(&query);
        assert!(page.rows.len() <= query.limit.max(1));
        seen.extend(page.rows.iter().map(|r| (r.target.clone(), r.key)));
        between(idx, page_no);
        match page.next {
            Some(next) => {
                // As a client sends it back.
                query.after = Some(Cursor::decode(&next.encode()).expect("cursor round trip"));
            }
            None => break,
        }
    }
    seen
}

fn sample() -> Index {
    let mut idx = Index::default();
    // Inserted out of order; /b has three vary variants.
    add(&mut idx, 1, "/c", &["x"]);
    add(&mut idx, 2, "/b", &["x", "y"]);
    add(&mut idx, 3, "/a/1", &["y"]);
    add(&mut idx, 4, "/b", &["x"]);
    add(&mut idx, 5, "/a/2?q=1", &[]);
    add(&mut idx, 6, "/b", &["y"]);
    add(&mut idx, 7, "/ab", &["x"]);
    idx
}

fn query(limit: usize) -> ListQuery {
    ListQuery {
        limit,
        ..ListQuery::default()
    }
}

fn sorted(mut v: Vec<(String, Key)>) -> Vec<(String, Key)> {
    v.sort();
    v
}

#[test]
fn every_page_size_lists_every_row_once_in_target_then_key_order() {
    let mut idx = sample();
    let whole = idx.page(&query(MAX_LIMIT));
    assert!(whole.next.is_none());
    let whole: Vec<(String, Key)> = whole
        .rows
        .iter()
        .map(|r| (r.target.clone(), r.key))
        .collect();
    assert_eq!(whole.len(), 7);
    assert_eq!(whole, sorted(whole.clone()), "ordered by target, then key");
    for limit in 1..=8 {
        assert_eq!(
            all_pages(&mut idx, query(limit), |_, _| {}),
            whole,
            "limit {limit}"
        );
    }
}

#[test]
fn rows_carry_what_the_index_knows() {
    let idx = sample();
    let page = idx.page(&query(1));
    let row = &page.rows[0];
    assert_eq!(row.target, "/a/1");
    assert_eq!(row.size, 103);
    assert_eq!(row.tags, ["y"]);
    assert_eq!(page.next.as_ref().map(|c| c.key), Some(key(3)));
}

#[test]
fn prefix_and_tag_narrow_the_listing() {
    let mut idx = sample();
    let targets = |rows: Vec<(String, Key)>| rows.into_iter().map(|r| r.0).collect::<Vec<_>>();
    let under_a = ListQuery {
        prefix: Some("/a/".into()),
        ..query(1)
    };
    assert_eq!(
        targets(all_pages(&mut idx, under_a, |_, _| {})),
        ["/a/1", "/a/2?q=1"]
    );
    // A prefix is matched against the path, as for invalidation.
    let a = ListQuery {
        prefix: Some("/a".into()),
        ..query(2)
    };
    assert_eq!(
        targets(all_pages(&mut idx, a, |_, _| {})),
        ["/a/1", "/a/2?q=1", "/ab"]
    );
    let x = ListQuery {
        tag: Some("x".into()),
        ..query(1)
    };
    assert_eq!(
        targets(all_pages(&mut idx, x, |_, _| {})),
        ["/ab", "/b", "/b", "/c"]
    );
    let y_under_b = ListQuery {
        tag: Some("y".into()),
        prefix: Some("/b".into()),
        ..query(1)
    };
    assert_eq!(
        targets(all_pages(&mut idx, y_under_b, |_, _| {})),
        ["/b", "/b"]
    );
    let none = ListQuery {
        tag: Some("nope".into()),
        ..query(5)
    };
    assert_eq!(idx.page(&none).rows, []);
}

#[test]
fn rows_that_stay_are_listed_once_while_others_come_and_go() {
    for (tag, limit) in [
        (None, 1),
        (None, 2),
        (None, 3),
        (Some("x"), 1),
        (Some("x"), 2),
    ] {
        let mut idx = sample();
        let q = ListQuery {
            tag: tag.map(String::from),
            ..query(limit)
        };
        let seen = all_pages(&mut idx, q, |idx, page| match page {
            // The row the cursor names goes; one before and one after it
            // come (and another after goes).
            0 => {
                idx.remove(&key(3));
                idx.remove(&key(2));
                add(idx, 8, "/", &["x"]);
                add(idx, 9, "/bb", &["x"]);
            }
            1 => {
                idx.remove(&key(1));
            }
            _ => {}
        });
        let mut unique = seen.clone();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "a row listed twice: {seen:?}");
        let stayed: &[u32] = if tag.is_some() { &[4, 7] } else { &[4, 6, 7] };
        for &stayed in stayed {
            assert!(
                seen.iter().any(|(_, k)| *k == key(stayed)),
                "{stayed} skipped with {tag:?} / {limit}: {seen:?}"
            );
        }
        assert!(
            !seen.iter().any(|(t, _)| t == "/"),
            "added before the cursor"
        );
    }
}

#[test]
fn a_cut_cursor_whose_row_went_may_repeat_but_never_skips() {
    let long = format!("/{}", "l".repeat(2 * CURSOR_TARGET));
    let mut idx = Index::default();
    add(&mut idx, 1, &format!("{long}1"), &[]);
    add(&mut idx, 2, &format!("{long}2"), &[]);
    add(&mut idx, 3, "/z", &[]);
    let first = idx.page(&query(1));
    let cursor = first.next.expect("more pages");
    assert_eq!(cursor.target.len(), CURSOR_TARGET, "cut");
    // The row still there: the next page is exact.
    let exact = ListQuery {
        after: Some(cursor.clone()),
        ..query(5)
    };
    assert_eq!(idx.page(&exact).rows.len(), 2);
    idx.remove(&key(1));
    let after_drop = idx.page(&exact);
    let keys: Vec<Key> = after_drop.rows.iter().map(|r| r.key).collect();
    assert_eq!(keys, [key(2), key(3)]);
}

#[test]
fn a_cursor_is_the_key_then_the_target() {
    let c = Cursor {
        key: key(1),
        target: "/a?b=1&c=%20".into(),
    };
    let text = c.encode();
    assert_eq!(&text[64..], "/a?b=1&c=%20");
    assert_eq!(Cursor::decode(&text), Some(c));
    for bad in ["", "zz", &"0".repeat(64), &format!("{}x", "0".repeat(64))] {
        assert_eq!(Cursor::decode(bad), None, "{bad}");
    }
}

#[test]
fn a_group_of_variants_larger_than_a_page_is_paged_too() {
    let mut idx = Index::default();
    for n in 0..25 {
        add(&mut idx, n, "/same", &["t"]);
    }
    add(&mut idx, 99, "/next", &[]);
    for q in [
        query(4),
        ListQuery {
            tag: Some("t".into()),
            ..query(4)
        },
    ] {
        let seen = all_pages(&mut idx, q.clone(), |_, _| {});
        let expected = if q.tag.is_some() { 25 } else { 26 };
        assert_eq!(seen.len(), expected);
        assert_eq!(seen, sorted(seen.clone()));
    }
    assert_eq!(idx.count_of_target("/same"), 25);
    assert_eq!(idx.count_of_target("/nothing"), 0);
}
