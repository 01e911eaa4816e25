//! Store tests of dropping snapshots: by key, by generation bump (also
//! across a restart and on a full disk), through tags and filters, and
//! soft marks.

use std::time::{Duration, SystemTime};

use super::*;

#[test]
fn remove_unlinks_before_returning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.put(snap(1, "one")).expect("put");
    store.put(snap(2, "two")).expect("put");
    store.put(snap(3, "three")).expect("put");
    assert!(store.remove(&key(1)).expect("durable"));
    assert!(!path(dir.path(), 1).exists());
    assert!(store.get(&key(1)).is_none());
    assert!(!store.remove(&key(1)).expect("durable"));
    assert_eq!(
        store
            .remove_many(&[key(2), key(3), key(9)])
            .expect("durable"),
        2
    );
    assert!(store.is_empty() && store.bytes() == 0);
    assert!(!path(dir.path(), 2).exists() && !path(dir.path(), 3).exists());
    drop(store);
    assert!(open(dir.path()).is_empty());
}

#[test]
fn a_generation_bump_hides_at_once_and_removes_in_the_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.put(snap(1, "one")).expect("put");
    store.put(snap(2, "two")).expect("put");
    let g = store.drop_all().expect("bump");
    assert!(store.get(&key(1)).is_none() && store.is_empty());
    assert!(store.keys_with_tag("home").is_empty());
    store.put(snap(3, "three")).expect("put");
    assert_eq!(store.get(&key(3)).expect("new").meta.generation, g);
    store.wait_background();
    assert!(!path(dir.path(), 1).exists() && !path(dir.path(), 2).exists());
    assert!(store.set_min_generation(g).is_ok()); // not above: no change
    assert_eq!(store.len(), 1);
}

#[test]
fn a_generation_bump_survives_a_restart_before_files_are_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(dir.path());
        store.put(snap(1, "one")).expect("put");
        store.put(snap(2, "two")).expect("put");
    }
    // A file of generation 0 that the reaper never got to, and a bump that
    // was persisted just before a crash.
    layout::write_generation(dir.path(), 1).expect("persist");
    let store = open(dir.path());
    assert!(store.is_empty());
    // At least the bump: a start after a crash begins at the ceiling.
    assert!(store.generation() >= 1);
    assert!(!path(dir.path(), 1).exists());
}

#[test]
fn a_generation_bump_on_a_full_disk_unlinks_before_returning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.put(snap(1, "one")).expect("put");
    store.put(snap(2, "two")).expect("put");
    write::fail_point::fail_after(Some(0));
    let bumped = store.drop_all();
    write::fail_point::fail_after(None);
    bumped.expect("a drop works without space");
    assert!(!path(dir.path(), 1).exists() && !path(dir.path(), 2).exists());
    store.put(snap(3, "three")).expect("put");
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.len(), 1);
    assert!(store.get(&key(3)).is_some());
}

#[test]
fn tags_follow_puts_replacements_and_removals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.put(snap(1, "a")).expect("put");
    let mut other = snap(2, "b");
    other.meta.tags = vec!["events.Event".into()];
    store.put(other).expect("put");
    let mut keys = store.keys_with_tag("events.Event");
    keys.sort();
    assert_eq!(keys, [key(1), key(2)]);
    assert_eq!(store.keys_with_tag("home"), [key(1)]);
    let mut retagged = snap(1, "a2");
    retagged.meta.tags = vec!["other".into()];
    store.put(retagged).expect("put");
    assert!(store.keys_with_tag("home").is_empty());
    store.remove(&key(2)).expect("durable");
    assert!(store.keys_with_tag("events.Event").is_empty());
    assert_eq!(store.keys_with_tag("other"), [key(1)]);
}

#[test]
fn listing_filters_and_soft_marks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    for n in 1..=3 {
        store.put(snap(n, "x")).expect("put");
    }
    let mut prefix = store.keys_where(|v| v.target.starts_with("/page/1") || v.target == "/page/3");
    prefix.sort();
    assert_eq!(prefix, [key(1), key(3)]);
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    assert_eq!(
        store.mark_stale(&[key(1), key(9)], when).expect("durable"),
        1
    );
    store
        .mark_stale(&[key(1)], when + Duration::from_secs(5))
        .expect("durable"); // earliest kept
    assert_eq!(
        store.lookup(&key(1)).expect("found").stale_since,
        Some(when)
    );
    assert_eq!(store.lookup(&key(2)).expect("found").stale_since, None);
    let info = store
        .entries()
        .into_iter()
        .find(|e| e.key == key(1))
        .expect("listed");
    assert_eq!((info.target.as_str(), info.tags.len()), ("/page/1", 2));
    assert_eq!(info.stale_since, Some(when));
    store.put(snap(1, "fresh")).expect("put");
    assert_eq!(store.lookup(&key(1)).expect("found").stale_since, None);
}
