//! Soft marks across restarts, against real temp directories: after a
//! crash (the header scan) and a clean shutdown (the checkpoint), with
//! their times, for keys and for everything; a torn or damaged log; a full
//! disk; and compaction.

use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::super::snapshot::tests::sample;
use super::super::soft_log::{self, Mark, Tail};
use super::super::{write, Store};
use crate::key::Key;

use crate::store::open_for_tests as open;

fn key(n: u8) -> Key {
    Key([n; 32])
}

fn put(store: &Store, n: u8, body: &str) {
    let mut s = sample(n, b"");
    s.key = key(n);
    s.meta.target = format!("/page/{n}");
    s.meta.tags = vec!["t".into()];
    s.body = Bytes::from(body.to_owned());
    s.meta.taken = SystemTime::now();
    store.put(s).expect("put");
}

fn stale_since(store: &Store, n: u8) -> Option<SystemTime> {
    store.lookup(&key(n)).expect("indexed").stale_since
}

/// A whole second, so that the index's rounding keeps it as it is.
fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn log_path(dir: &Path) -> std::path::PathBuf {
    dir.join(soft_log::FILE)
}

fn read_log(dir: &Path) -> soft_log::Decoded {
    soft_log::decode(&std::fs::read(log_path(dir)).expect("log"))
}

#[test]
fn a_soft_mark_survives_a_crash_with_its_time_and_a_refetch_does_not_inherit_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let when = at(1_800_000_000);
    {
        let store = open(dir.path());
        for n in 1..=3 {
            put(&store, n, "old");
        }
        assert_eq!(
            store
                .mark_stale(&[key(1), key(2), key(9)], when)
                .expect("durable"),
            2
        );
        // The refetch of 2 after the mark: fresh, and must stay so.
        put(&store, 2, "new");
        assert_eq!(stale_since(&store, 2), None);
        // Dropped without a checkpoint: what a kill -9 leaves.
    }
    let store = open(dir.path());
    assert_eq!(stale_since(&store, 1), Some(when), "marked, from the mark");
    assert_eq!(stale_since(&store, 2), None, "refetched after the mark");
    assert_eq!(stale_since(&store, 3), None, "never marked");
    drop(store);
    // And again: the rewrite at start kept what it replayed.
    let store = open(dir.path());
    assert_eq!(stale_since(&store, 1), Some(when));
    assert_eq!(stale_since(&store, 2), None);
}

#[test]
fn a_soft_mark_survives_a_clean_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let when = at(1_800_000_000);
    {
        let store = open(dir.path());
        put(&store, 1, "a");
        put(&store, 2, "b");
        store.mark_stale(&[key(1)], when).expect("durable");
        store
            .mark_stale(&[key(1)], when + Duration::from_secs(5))
            .expect("durable");
        store.checkpoint().expect("checkpoint");
    }
    let store = open(dir.path());
    assert_eq!(stale_since(&store, 1), Some(when), "the earliest mark");
    assert_eq!(stale_since(&store, 2), None);
}

#[test]
fn marking_everything_is_one_record_and_spares_later_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let when = at(1_800_000_000);
    {
        let store = open(dir.path());
        for n in 1..=50 {
            put(&store, n, "x");
        }
        assert_eq!(store.mark_all_stale(when).expect("mark"), 50);
        put(&store, 51, "after");
        put(&store, 7, "refetched");
    }
    let log = read_log(dir.path());
    assert_eq!(log.tail, Tail::Clean);
    assert!(
        matches!(log.marks[..], [Mark::All { .. }]),
        "one small record: {:?}",
        log.marks
    );
    let store = open(dir.path());
    assert_eq!(stale_since(&store, 1), Some(when));
    assert_eq!(stale_since(&store, 50), Some(when));
    assert_eq!(stale_since(&store, 51), None, "taken after the mark");
    assert_eq!(stale_since(&store, 7), None, "refetched after the mark");
    store.checkpoint().expect("checkpoint");
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        stale_since(&store, 50),
        Some(when),
        "also from a checkpoint"
    );
    assert_eq!(stale_since(&store, 51), None);
}

#[test]
fn a_torn_last_record_is_ignored_and_cleared_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let when = at(1_800_000_000);
    {
        let store = open(dir.path());
        put(&store, 1, "a");
        put(&store, 2, "b");
        store.mark_stale(&[key(1)], when).expect("durable");
    }
    // An append of a mark of key 2 cut short by a crash (never answered).
    let mut torn = Vec::new();
    let mark = Mark::Keys {
        epoch: u64::MAX,
        since_ms: 1,
        keys: vec![key(2)],
    };
    soft_log::encode(&mark, &mut torn);
    let mut bytes = std::fs::read(log_path(dir.path())).expect("log");
    bytes.extend_from_slice(&torn[..torn.len() - 5]);
    std::fs::write(log_path(dir.path()), bytes).expect("write");

    let store = open(dir.path());
    assert_eq!(stale_since(&store, 1), Some(when));
    assert_eq!(
        stale_since(&store, 2),
        None,
        "the torn record is not a mark"
    );
    assert_eq!(read_log(dir.path()).tail, Tail::Clean, "rewritten at start");
    // Appending goes on from the clean log.
    store.mark_stale(&[key(2)], when).expect("durable");
    drop(store);
    let store = open(dir.path());
    assert_eq!(stale_since(&store, 2), Some(when));
}

#[test]
fn a_damaged_log_marks_everything_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(dir.path());
        put(&store, 1, "a");
        put(&store, 2, "b");
        store
            .mark_stale(&[key(1)], at(1_800_000_000))
            .expect("durable");
        store
            .mark_stale(&[key(2)], at(1_800_000_000))
            .expect("durable");
    }
    let mut bytes = std::fs::read(log_path(dir.path())).expect("log");
    bytes[soft_log::MAGIC.len() + 6] ^= 0x40; // inside the first record
    std::fs::write(log_path(dir.path()), bytes).expect("write");
    let before = SystemTime::now() - Duration::from_secs(1);
    let store = open(dir.path());
    for n in [1, 2] {
        let since = stale_since(&store, n).expect("marked stale");
        assert!(since >= before, "from the start, so it is served STALE");
    }
}

#[test]
fn on_a_full_disk_a_soft_mark_drops_instead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    put(&store, 1, "a");
    put(&store, 2, "b");
    put(&store, 3, "c");
    write::fail_point::fail_after(Some(0));
    let marked = store
        .mark_stale(&[key(1)], at(1_800_000_000))
        .expect("durable");
    let all = store.mark_all_stale(at(1_800_000_000));
    write::fail_point::fail_after(None);
    assert_eq!(marked, 1);
    assert!(
        store.get(&key(1)).is_none(),
        "dropped, as durable as a drop"
    );
    assert_eq!(all.expect("everything dropped instead"), 2);
    assert!(store.is_empty());
    drop(store);
    let store = open(dir.path());
    assert!(store.is_empty(), "MISS after a restart, never HIT");
}

#[test]
fn the_log_is_compacted_to_the_marks_that_still_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let when = at(1_800_000_000);
    {
        let store = open(dir.path());
        for n in 1..=4 {
            put(&store, n, "old");
        }
        // Marked many times (only the first is recorded), then refetched.
        for round in 0..100 {
            store
                .mark_stale(&[key(1), key(2)], when + Duration::from_secs(round))
                .expect("durable");
        }
        store.mark_all_stale(when).expect("mark");
        for n in 1..=3 {
            put(&store, n, "new");
        }
    }
    let store = open(dir.path());
    assert_eq!(stale_since(&store, 4), Some(when));
    assert_eq!(stale_since(&store, 1), None);
    let log = read_log(dir.path());
    assert_eq!(
        log.marks.len(),
        1,
        "only the mark of everything still decides a snapshot: {:?}",
        log.marks
    );
    // Refetch the last one: nothing is left to keep.
    put(&store, 4, "new");
    drop(store);
    let store = open(dir.path());
    assert_eq!(stale_since(&store, 4), None);
    assert!(read_log(dir.path()).marks.is_empty());
}

#[test]
fn a_mark_that_is_already_kept_is_not_written_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    put(&store, 1, "a");
    store
        .mark_stale(&[key(1)], at(1_800_000_000))
        .expect("durable");
    let len = std::fs::metadata(log_path(dir.path())).expect("log").len();
    // The catch-up of a soft schedule re-marks at every start.
    store
        .mark_stale(&[key(1)], at(1_800_000_100))
        .expect("durable");
    assert_eq!(
        std::fs::metadata(log_path(dir.path())).expect("log").len(),
        len
    );
    // An earlier time is news, and is kept.
    store
        .mark_stale(&[key(1)], at(1_700_000_000))
        .expect("durable");
    drop(store);
    let store = open(dir.path());
    assert_eq!(stale_since(&store, 1), Some(at(1_700_000_000)));
}
