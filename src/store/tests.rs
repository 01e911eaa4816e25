//! Store tests: the contract of `Store` against real temp directories.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::snapshot::tests::sample;
use super::*;

fn settings(dir: &Path, max_size: u64, memory: u64) -> StoreSettings {
    StoreSettings {
        dir: dir.to_path_buf(),
        max_size,
        memory,
    }
}

fn open(dir: &Path) -> Store {
    Store::open(settings(dir, 1 << 30, 1 << 20)).expect("open")
}

fn key(n: u16) -> Key {
    let mut k = [0u8; 32];
    k[0] = (n % 7) as u8; // a few fan-out dirs
    k[1..3].copy_from_slice(&n.to_be_bytes());
    k[31] = n as u8;
    Key(k)
}

fn snap(n: u16, body: &str) -> Snapshot {
    let mut s = sample(0, b"");
    s.key = key(n);
    s.meta.target = format!("/page/{n}");
    s.body = Bytes::from(body.to_owned());
    s
}

fn path(dir: &Path, n: u16) -> std::path::PathBuf {
    layout::snapshot_path(dir, &key(n))
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        if item.path().is_dir() {
            out.extend(
                files(&item.path())
                    .into_iter()
                    .map(|f| format!("{name}/{f}")),
            );
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

fn temp_files(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|f| f.contains(layout::TEMP_PREFIX))
        .collect()
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
}

#[test]
fn put_then_get_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut s = snap(1, "hello");
    s.meta.taken += Duration::from_nanos(123_456); // rounded to the ms
    let put = store.put(s).expect("put");
    assert_eq!(put.meta.generation, store.generation());
    let got = store.get(&key(1)).expect("get");
    assert_eq!((&got.meta, &got.body), (&put.meta, &put.body));
    assert_eq!(store.len(), 1);
    assert_eq!(
        store.bytes(),
        std::fs::metadata(path(dir.path(), 1)).expect("stat").len()
    );
    assert!(store.get(&key(2)).is_none());
    assert!(files(dir.path()).contains(&layout::FORMAT_FILE.to_string()));
}

#[test]
fn put_replaces_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(dir.path());
        store.put(snap(1, "old")).expect("put");
        store.put(snap(1, "new")).expect("put");
        store.put(snap(2, "two")).expect("put");
        assert_eq!(store.len(), 2);
    }
    let store = Store::open(settings(dir.path(), 1 << 30, 0)).expect("reopen");
    assert_eq!(store.len(), 2);
    assert_eq!(store.get(&key(1)).expect("get").body, "new");
    assert_eq!(store.get(&key(2)).expect("get").meta.target, "/page/2");
}

#[test]
fn temp_leftovers_are_removed_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    open(dir.path()).put(snap(1, "x")).expect("put");
    let fanout = layout::fanout_dir(dir.path(), &key(1));
    std::fs::write(fanout.join(".tmp-1-2"), b"partial").expect("write");
    std::fs::write(dir.path().join(".tmp-9-9"), b"partial").expect("write");
    let store = open(dir.path());
    assert!(temp_files(dir.path()).is_empty());
    assert_eq!(store.len(), 1);
}

#[test]
fn torn_and_garbage_files_are_removed_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(dir.path());
        store
            .put(snap(1, "a body long enough to cut"))
            .expect("put");
        store.put(snap(2, "fine")).expect("put");
        store
            .put(snap(3, "to be replaced by garbage"))
            .expect("put");
    }
    let torn = std::fs::read(path(dir.path(), 1)).expect("read");
    std::fs::write(path(dir.path(), 1), &torn[..torn.len() - 3]).expect("truncate");
    std::fs::write(path(dir.path(), 3), b"not a snapshot at all").expect("garbage");
    // A valid file under another key's name is not that key's snapshot.
    let wrong = path(dir.path(), 4);
    std::fs::create_dir_all(wrong.parent().expect("fan-out")).expect("mkdir");
    std::fs::copy(path(dir.path(), 2), &wrong).expect("copy");
    let store = open(dir.path());
    assert_eq!(store.len(), 1);
    assert!(store.get(&key(1)).is_none());
    assert!(store.get(&key(3)).is_none());
    assert!(store.get(&key(4)).is_none());
    assert!(!path(dir.path(), 1).exists() && !path(dir.path(), 3).exists());
    assert!(!path(dir.path(), 4).exists());
    assert_eq!(store.get(&key(2)).expect("kept").body, "fine");
}

#[test]
fn a_file_damaged_or_gone_after_open_is_a_miss_and_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(settings(dir.path(), 1 << 30, 0)).expect("open");
    store.put(snap(1, "one")).expect("put");
    store.put(snap(2, "two")).expect("put");
    let file = std::fs::read(path(dir.path(), 1)).expect("read");
    std::fs::write(path(dir.path(), 1), &file[..file.len() - 1]).expect("truncate");
    std::fs::remove_file(path(dir.path(), 2)).expect("rm");
    assert!(store.get(&key(1)).is_none());
    assert!(store.get(&key(2)).is_none());
    assert_eq!((store.len(), store.bytes()), (0, 0));
    assert!(!path(dir.path(), 1).exists());
}

#[test]
fn eviction_keeps_the_total_under_max_size_least_recently_used_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "x".repeat(1000);
    let one = snapshot::encode(&snap(1, &body)).expect("encode").len() as u64;
    let store = Store::open(settings(dir.path(), one * 3 + one / 2, 0)).expect("open");
    for n in 1..=3 {
        store.put(snap(n, &body)).expect("put");
    }
    assert!(store.get(&key(1)).is_some()); // 2 is now the least recently used
    store.put(snap(4, &body)).expect("put");
    assert_eq!(store.len(), 3);
    assert!(store.bytes() <= one * 3 + one / 2);
    assert!(store.get(&key(2)).is_none());
    assert!(!path(dir.path(), 2).exists());
    for n in [1, 3, 4] {
        assert!(store.get(&key(n)).is_some(), "{n} kept");
    }
    // Lots more: the bound holds throughout and files match the index.
    for n in 5..200 {
        store.put(snap(n, &body)).expect("put");
        assert!(store.bytes() <= one * 3 + one / 2);
    }
    let on_disk = files(dir.path()).iter().filter(|f| f.len() > 64).count();
    assert_eq!(on_disk, store.len());
}

#[test]
fn a_snapshot_larger_than_the_cache_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(settings(dir.path(), 500, 0)).expect("open");
    let err = store.put(snap(1, &"x".repeat(600))).expect_err("too large");
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
    assert!(store.is_empty());
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn remove_unlinks_before_returning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.put(snap(1, "one")).expect("put");
    store.put(snap(2, "two")).expect("put");
    store.put(snap(3, "three")).expect("put");
    assert!(store.remove(&key(1)));
    assert!(!path(dir.path(), 1).exists());
    assert!(store.get(&key(1)).is_none());
    assert!(!store.remove(&key(1)));
    assert_eq!(store.remove_many(&[key(2), key(3), key(9)]), 2);
    assert!(store.is_empty() && store.bytes() == 0);
    assert!(!path(dir.path(), 2).exists() && !path(dir.path(), 3).exists());
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
    assert_eq!(store.generation(), 1);
    assert!(!path(dir.path(), 1).exists());
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
    store.remove(&key(2));
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
    assert_eq!(store.mark_stale(&[key(1), key(9)], when), 1);
    store.mark_stale(&[key(1)], when + Duration::from_secs(5)); // earliest kept
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

#[test]
fn the_hot_set_stays_within_its_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(settings(dir.path(), 1 << 30, 2500)).expect("open");
    for n in 0..50 {
        store.put(snap(n, &"y".repeat(1000))).expect("put");
    }
    for n in 0..50 {
        assert_eq!(store.get(&key(n)).expect("get").body.len(), 1000);
    }
    assert!(store.shared.hot.bytes() <= 2500);
    assert!(store.shared.hot.len() <= 2);
    // A hot entry is served without its file; a dropped key is not.
    let last = key(49);
    assert!(store.shared.hot.get(&last, 0).is_none());
    store.remove(&last);
    assert!(store.get(&last).is_none());
}

#[test]
fn a_failed_put_leaves_no_file_and_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.put(snap(1, "kept")).expect("put");
    // Disk full in the middle of the body.
    write::fail_point::fail_after(Some(100));
    let err = store
        .put(snap(2, &"z".repeat(1000)))
        .expect_err("disk full");
    write::fail_point::fail_after(None);
    assert!(matches!(err, StoreError::Write(_)), "{err}");
    // Rename blocked by a non-empty directory where the file should go.
    let blocked = path(dir.path(), 3);
    std::fs::create_dir_all(blocked.join("in-the-way")).expect("mkdir");
    assert!(matches!(store.put(snap(3, "c")), Err(StoreError::Write(_))));
    assert!(temp_files(dir.path()).is_empty());
    assert!(!path(dir.path(), 2).exists());
    assert_eq!(store.len(), 1);
    assert_eq!(store.get(&key(1)).expect("still served").body, "kept");
    // Space is back: kept again.
    store.put(snap(2, "ok")).expect("put");
    assert_eq!(store.len(), 2);
}

#[test]
fn opening_2000_files_is_quick() {
    let dir = tempfile::tempdir().expect("tempdir");
    for n in 0..2000u16 {
        let s = snap(n, "<html>a small page</html>");
        let p = path(dir.path(), n);
        std::fs::create_dir_all(p.parent().expect("fan-out")).expect("mkdir");
        std::fs::write(&p, snapshot::encode(&s).expect("encode")).expect("write");
    }
    let started = Instant::now();
    let store = open(dir.path());
    let took = started.elapsed();
    assert_eq!(store.len(), 2000);
    assert_eq!(
        store.get(&key(1234)).expect("get").meta.target,
        "/page/1234"
    );
    assert!(took < Duration::from_secs(5), "open took {took:?}");
}

#[test]
fn concurrent_readers_and_writers_never_see_a_wrong_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(settings(dir.path(), 20_000, 3_000)).expect("open"));
    std::thread::scope(|s| {
        for t in 0..4u16 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..150u16 {
                    let n = (i * 7 + t) % 40;
                    if (i + t) % 3 == 0 {
                        let _ = store.put(snap(n, &format!("{n}:{}", "b".repeat(usize::from(i)))));
                    } else if i % 17 == 0 {
                        store.remove(&key(n));
                    } else if let Some(got) = store.get(&key(n)) {
                        assert_eq!(got.key, key(n));
                        assert!(got.body.starts_with(format!("{n}:").as_bytes()));
                    }
                }
            });
        }
    });
    assert!(store.bytes() <= 20_000);
    store.wait_background();
    let on_disk = files(dir.path()).iter().filter(|f| f.len() > 64).count();
    assert_eq!(on_disk, store.len());
}

/// Start-up at scale; run with `cargo test --release --lib store -- --ignored`.
#[test]
#[ignore = "slow: writes 100,000 files"]
fn opening_100k_files_takes_under_a_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = snap(0, &"p".repeat(2000));
    let perf = std::env::var("PERF_DIR").ok();
    if let Some(d) = &perf {
        if std::fs::read_dir(d).unwrap().count() > 10 {
            let statm0 = std::fs::read_to_string("/proc/self/statm").unwrap();
            eprintln!("statm0 {statm0}");
            let st = Instant::now();
            let store = Store::open(settings(Path::new(&d), u64::MAX, 0)).unwrap();
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
            eprintln!("statm {} mem {}", statm.trim(), store.index_memory());
            eprintln!("reopen {:?} {}", st.elapsed(), store.len());
            return;
        }
    }
    let dir_path = perf
        .clone()
        .map(std::path::PathBuf::from)
        .unwrap_or(dir.path().to_path_buf());
    let count: u32 = std::env::var("PERF_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    for n in 0..count {
        let mut s = base.clone();
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&n.to_le_bytes());
        s.key = Key(k);
        s.meta.target = format!("/events/{n:08}/some-longer-path-to-40b");
        let p = layout::snapshot_path(&dir_path, &s.key);
        std::fs::create_dir_all(p.parent().expect("fan-out")).expect("mkdir");
        std::fs::write(&p, snapshot::encode(&s).expect("encode")).expect("write");
    }
    if perf.is_some() {
        return;
    }
    let started = Instant::now();
    let store = open(dir.path());
    let took = started.elapsed();
    let per = store.index_memory() / store.len();
    eprintln!(
        "open of {} files: {took:?}; index ~{per} bytes/entry",
        store.len()
    );
    assert_eq!(store.len(), 100_000);
    assert!(took < Duration::from_secs(1), "{took:?}");
}
