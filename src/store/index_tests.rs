//! Tests of the in-memory index: bookkeeping, tags, LRU order, memory.

use super::*;

fn key(n: u32) -> Key {
    let mut k = [0u8; 32];
    k[..4].copy_from_slice(&n.to_be_bytes());
    k[31] = 0x5a;
    Key(k)
}

fn entry(n: u32, size: u64) -> NewEntry {
    NewEntry {
        key: key(n),
        target: format!("/events/{n:08}/some/longer/path/for/size").into(),
        size,
        taken_ms: 1_000 + u64::from(n),
        expires_ms: None,
        generation: 1,
    }
}

fn add(idx: &mut Index, n: u32, size: u64, tags: &[&str], serial: u64) {
    idx.insert(entry(n, size), tags.iter().copied(), serial);
}

#[test]
fn insert_get_remove_keep_bytes() {
    let mut idx = Index::default();
    add(&mut idx, 1, 100, &["a"], 1);
    add(&mut idx, 2, 50, &[], 2);
    assert_eq!((idx.len(), idx.bytes()), (2, 150));
    assert_eq!(idx.get(&key(1)).map(IndexEntry::size), Some(100));
    assert_eq!(idx.get(&key(1)).and_then(IndexEntry::expires_ms), None);
    // Replacing keeps one entry and its new size.
    add(&mut idx, 1, 10, &["b"], 3);
    assert_eq!((idx.len(), idx.bytes()), (2, 60));
    assert_eq!(idx.get(&key(1)).map(|e| e.serial), Some(3));
    assert!(idx.keys_with_tag("a").is_empty());
    assert_eq!(idx.keys_with_tag("b"), [key(1)]);
    assert!(idx.remove(&key(1)).is_some());
    assert!(idx.remove(&key(1)).is_none());
    assert_eq!((idx.len(), idx.bytes()), (1, 50));
    assert!(idx.keys_with_tag("b").is_empty());
}

#[test]
fn tags_map_to_keys_and_names() {
    let mut idx = Index::default();
    add(&mut idx, 1, 1, &["events", "home"], 1);
    add(&mut idx, 2, 1, &["events"], 2);
    let mut keys = idx.keys_with_tag("events");
    keys.sort();
    assert_eq!(keys, [key(1), key(2)]);
    assert_eq!(tags_of(&idx, 1), ["events", "home"]);
    idx.remove(&key(2));
    assert_eq!(idx.keys_with_tag("events"), [key(1)]);
}

fn tags_of(idx: &Index, n: u32) -> Vec<String> {
    let (_, tags) = idx
        .iter_tagged()
        .find(|(e, _)| e.key == key(n))
        .expect("present");
    tags.into_iter().map(str::to_owned).collect()
}

#[test]
fn more_than_two_tags_and_duplicates() {
    let mut idx = Index::default();
    add(&mut idx, 1, 1, &["a", "b", "a", "c", "d"], 1);
    add(&mut idx, 2, 1, &["d"], 2);
    assert_eq!(tags_of(&idx, 1), ["a", "b", "c", "d"]);
    assert_eq!(idx.keys_with_tag("c"), [key(1)]);
    idx.remove(&key(1));
    assert!(idx.keys_with_tag("a").is_empty() && idx.keys_with_tag("c").is_empty());
    assert_eq!(idx.keys_with_tag("d"), [key(2)]);
    assert!(idx.more_tags.is_empty());
    assert_eq!(idx.tags.len(), 1);
}

#[test]
fn pop_lru_follows_touches() {
    let mut idx = Index::default();
    for n in 0..5 {
        add(&mut idx, n, 1, &[], u64::from(n) + 1);
    }
    idx.get(&key(0)).expect("present").touch(10);
    idx.get(&key(1)).expect("present").touch(11);
    let order: Vec<Key> = std::iter::from_fn(|| idx.pop_lru().map(|e| e.key)).collect();
    assert_eq!(order, [key(2), key(3), key(4), key(0), key(1)]);
    assert_eq!((idx.len(), idx.bytes()), (0, 0));
}

#[test]
fn remove_below_drops_old_generations() {
    let mut idx = Index::default();
    add(&mut idx, 1, 1, &["t"], 1);
    let mut newer = entry(2, 1);
    newer.generation = 5;
    idx.insert(newer, ["t"], 2);
    assert_eq!(idx.max_generation(), 5);
    assert_eq!(idx.remove_below(5), [(key(1), 1)]);
    assert_eq!(idx.keys_with_tag("t"), [key(2)]);
}

#[test]
fn slots_are_reused() {
    let mut idx = Index::default();
    for round in 0..3u64 {
        for n in 0..2000 {
            add(&mut idx, n, 1, &[], round * 10_000 + u64::from(n) + 1);
        }
        for n in 0..2000 {
            idx.remove(&key(n));
        }
    }
    assert_eq!(idx.slab.chunks.len(), 2);
    assert_eq!(idx.len(), 0);
}

#[test]
fn memory_per_entry_is_small_at_100k() {
    assert_eq!(std::mem::size_of::<Option<IndexEntry>>(), 96);
    let n = 100_000u32;
    let mut idx = Index::default();
    for i in 0..n {
        add(&mut idx, i, 1000, &["events.Event"], u64::from(i) + 1);
    }
    let per = idx.approx_bytes() / n as usize;
    assert!(per <= 300, "{per} bytes per entry");
}

#[test]
fn the_target_order_follows_inserts_replacements_removals_and_evictions() {
    let mut idx = Index::default();
    let target = |n: u32| format!("/t/{}", n % 97);
    let mut serial = 0;
    // Scrambled keys, slots reused, targets shared (as vary variants do).
    for round in 0..4u32 {
        for i in 0..3_000u32 {
            let n = (i * 7_919 + round * 13) % 2_500;
            serial += 1;
            let mut e = entry(n, 1);
            e.target = target(n + round).into();
            idx.insert(e, [], serial);
        }
        for i in 0..700u32 {
            idx.remove(&key((i * 31 + round) % 2_500));
        }
        for _ in 0..100 {
            idx.pop_lru();
        }
        let order: Vec<(String, u32)> = idx
            .ordered_from(|_, _| false)
            .map(|(slot, e)| (e.target.to_string(), slot))
            .collect();
        assert_eq!(order.len(), idx.len(), "round {round}");
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "round {round}: sorted"
        );
        let from = idx
            .ordered_from(|t, _| t < "/t/5")
            .next()
            .map(|(_, e)| e.target.clone());
        assert_eq!(from.as_deref(), Some("/t/5"));
    }
}
