//! Tests of the target order on its own: sorted whatever the insertion
//! order, blocks split and merged, removals by slot among equal targets.

use super::super::entry::IndexEntry;
use super::*;
use crate::key::Key;

/// A slab holding `targets[i]` in slot `i`.
fn slab(targets: &[String]) -> Slab {
    let mut slab = Slab::default();
    for t in targets {
        slab.insert_with(|_| IndexEntry::for_test(Key([0; 32]), t));
    }
    slab
}

fn in_order(order: &TargetOrder, slab: &Slab) -> Vec<(String, u32)> {
    order
        .from(|_| false)
        .map(|s| (target(slab, s).to_string(), s))
        .collect()
}

/// A scrambled walk over `0..n` (n odd multiple of nothing in 7919).
fn scrambled(n: u32) -> impl Iterator<Item = u32> {
    (0..n).map(move |i| (i * 7919) % n)
}

#[test]
fn stays_sorted_through_splits_and_removals() {
    let n = 5_000u32;
    // Many equal targets (vary variants), in no order.
    let targets: Vec<String> = (0..n).map(|i| format!("/p/{}", i % 1_700)).collect();
    let slab = slab(&targets);
    let mut order = TargetOrder::default();
    for s in scrambled(n) {
        order.insert(&slab, s);
    }
    let mut expected: Vec<(String, u32)> =
        (0..n).map(|s| (targets[s as usize].clone(), s)).collect();
    expected.sort();
    assert_eq!(in_order(&order, &slab), expected);
    assert!(order.blocks.len() > n as usize / BLOCK, "it split");
    assert!(
        order.blocks.iter().all(|b| b.capacity() == BLOCK),
        "blocks never grow past BLOCK"
    );
    order.compact();
    assert_eq!(in_order(&order, &slab), expected);
    assert_eq!(
        order.blocks.len(),
        (n as usize).div_ceil(BLOCK),
        "full blocks"
    );
    let headers = order.blocks.capacity() * std::mem::size_of::<Vec<u32>>();
    assert_eq!(
        order.approx_bytes() - headers,
        order.blocks.len() * BLOCK * 4
    );

    // Remove four in five, scrambled: what is left stays sorted, blocks merge.
    for s in scrambled(n).filter(|s| s % 5 != 0) {
        assert!(order.remove(&slab, s), "slot {s}");
    }
    assert!(!order.remove(&slab, 1), "already gone");
    expected.retain(|(_, s)| s % 5 == 0);
    assert_eq!(in_order(&order, &slab), expected);
    assert_eq!(order.len(), n as usize / 5);
    assert!(
        order.blocks.len() <= 2 * order.len() / MERGE_BELOW + 1,
        "{} blocks for {} slots",
        order.blocks.len(),
        order.len()
    );
    for s in (0..n).filter(|s| s % 5 == 0) {
        assert!(order.remove(&slab, s));
    }
    assert!(order.blocks.is_empty());
}

#[test]
fn from_starts_at_the_first_slot_not_before() {
    let targets: Vec<String> = ["/b", "/a", "/c", "/b", "/a?x"].map(String::from).to_vec();
    let slab = slab(&targets);
    let mut order = TargetOrder::default();
    for s in 0..5 {
        order.insert(&slab, s);
    }
    let from = |t: &str| -> Vec<u32> { order.from(|s| target(&slab, s) < t).collect() };
    assert_eq!(from(""), [1, 4, 0, 3, 2]);
    assert_eq!(from("/b"), [0, 3, 2]);
    assert_eq!(from("/a@"), [0, 3, 2]);
    assert!(from("/d").is_empty());
    assert!(TargetOrder::default().from(|_| true).next().is_none());
}
