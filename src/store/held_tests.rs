//! The descriptor budget, and when a body goes from its held file.

use super::*;

fn file() -> File {
    tempfile::tempfile().expect("tempfile")
}

#[test]
fn small_bodies_are_not_held() {
    let budget = FileBudget::new(10);
    assert!(budget.hold(file(), KEEP_OPEN_MIN - 1, vec![0]).is_none());
    assert_eq!(budget.open(), 0);
}

#[test]
fn the_budget_bounds_open_files_and_slots_come_back() {
    let budget = FileBudget::new(2);
    let a = budget.hold(file(), KEEP_OPEN_MIN, vec![100]).expect("a");
    let b = budget.hold(file(), KEEP_OPEN_MIN, vec![100, 900]);
    assert!(b.is_some());
    assert!(budget.hold(file(), KEEP_OPEN_MIN, vec![100]).is_none());
    assert_eq!(budget.open(), 2);
    assert_eq!(a.offset(0), Some(100));
    assert_eq!(a.offset(1), None);
    drop(a);
    assert_eq!(budget.open(), 1);
    assert!(budget.hold(file(), KEEP_OPEN_MIN, vec![0]).is_some());
}

/// A held file of `len` bytes on disk (not tmpfs), written and fsynced so
/// that its pages are clean and can be dropped, and a second descriptor to
/// look at it by; None (the test skipped) on tmpfs or without cachestat(2).
fn on_disk(dir: &tempfile::TempDir, len: usize) -> Option<(Arc<HeldFile>, File, Bytes)> {
    let path = dir.path().join("snapshot");
    let body = Bytes::from(vec![b'x'; len]);
    std::fs::write(&path, &body).expect("write");
    if crate::store::page_cache::on_tmpfs(&path) {
        eprintln!("skipped: on tmpfs the page cache is the file");
        return None;
    }
    let file = File::open(&path).expect("open");
    file.sync_all().expect("fsync");
    let looker = File::open(&path).expect("open again");
    if page_cache::cached_pages(&looker, 0, 0).is_none() {
        eprintln!("skipped: this kernel has no cachestat(2)");
        return None;
    }
    let held = FileBudget::new(1).hold(file, len, vec![0]).expect("held");
    Some((held, looker, body))
}

fn at(ms: u64) -> SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)
}

#[test]
fn a_body_goes_from_its_file_only_while_the_file_is_in_the_page_cache() {
    use crate::store::page_cache::{evict, resident_pages};
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((held, looker, body)) = on_disk(&dir, 64 * 1024) else {
        return;
    };
    let t0 = 1_800_000_000_000;
    let sent = held
        .body(0, body.clone(), 0, at(t0))
        .expect("just written: cached");
    assert_eq!((sent.offset, sent.bytes.len()), (0, body.len()));

    // Out of the page cache (advice: tried until the kernel takes it).
    if !(0..100).any(|_| evict(&looker, body.len())) {
        eprintln!("skipped: the kernel kept the file cached through 100 evictions");
        return;
    }
    // The last answer is trusted for a second, then the kernel is asked.
    assert!(held
        .body(0, body.clone(), 0, at(t0 + RECHECK_MS - 1))
        .is_ok());
    let kept = held.body(0, body.clone(), 0, at(t0 + RECHECK_MS));
    assert_eq!(
        kept.err(),
        Some(body.clone()),
        "a cold file is sent from memory"
    );
    // Asking read nothing: the file is as cold as it was.
    assert_eq!(resident_pages(&looker, body.len()), 0);

    // Read back into the cache: from the file again at the next ask.
    std::fs::read(dir.path().join("snapshot")).expect("read");
    assert!(held
        .body(0, body.clone(), 0, at(t0 + RECHECK_MS + 1))
        .is_err());
    assert!(held
        .body(0, body.clone(), 0, at(t0 + 2 * RECHECK_MS))
        .is_ok());
}

#[test]
fn short_bodies_and_unknown_representations_are_sent_from_memory() {
    let held = FileBudget::new(1)
        .hold(file(), KEEP_OPEN_MIN, vec![4096])
        .expect("held");
    let short = Bytes::from(vec![b'x'; KEEP_OPEN_MIN - 1]);
    assert_eq!(held.body(0, short.clone(), 0, at(1)).err(), Some(short));
    let long = Bytes::from(vec![b'x'; KEEP_OPEN_MIN]);
    assert!(
        held.body(1, long.clone(), 0, at(1)).is_err(),
        "no representation 1"
    );
    let range = held.body(0, long, 100, at(1)).map(|b| b.offset);
    // A file of no pages is all cached: sent from the file, past `skip`.
    assert_eq!(range.ok(), Some(4196));
}

#[test]
fn each_body_is_asked_about_its_own_pages() {
    use crate::store::page_cache::evict;
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((_, looker, _)) = on_disk(&dir, 64 * 1024) else {
        return;
    };
    // Two bodies of 32 KiB: identity at 0, a variant at 32 KiB.
    let file = File::open(dir.path().join("snapshot")).expect("open");
    let held = FileBudget::new(1)
        .hold(file, KEEP_OPEN_MIN, vec![0, 32 * 1024])
        .expect("held");
    assert_eq!(held.span(0), (0, 32 * 1024));
    assert_eq!(held.span(1), (32 * 1024, 0), "the last one: to the end");
    if !(0..100).any(|_| evict(&looker, 64 * 1024)) {
        eprintln!("skipped: the kernel kept the file cached through 100 evictions");
        return;
    }
    // Only the variant's pages back in the cache.
    let mut half = vec![0u8; 32 * 1024];
    looker.read_exact_at(&mut half, 32 * 1024).expect("read");
    let body = Bytes::from(half);
    assert!(held.body(1, body.clone(), 0, at(5)).is_ok());
    assert!(held.body(0, body, 0, at(5)).is_err());
}

#[test]
fn bodies_out_of_order_are_asked_to_the_end_of_the_file() {
    let held = FileBudget::new(1)
        .hold(file(), KEEP_OPEN_MIN, vec![8192, 4096])
        .expect("held");
    assert_eq!(held.span(0), (8192, 0));
    assert_eq!(held.span(1), (4096, 0));
}
