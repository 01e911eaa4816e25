//! Large snapshot bodies go out by sendfile(2) from the snapshot file the
//! daemon holds open; what the visitor gets is the same page, whole, in
//! every form (MISS, HIT, range, HEAD, after a restart), the held files
//! are let go when their snapshots are dropped, and a file whose pages left
//! the page cache is not sent from (its body goes from memory).

use std::os::fd::AsRawFd;

use preloadd::store::page_cache::cached_pages;

use crate::support::webhook::{admin, JSON};
use crate::support::{get, request, sized_body, Sandbox, Upstream};

const BIG: &str = "/_preload/big?size=204800";
const SMALL: &str = "/_preload/small?size=2048";

#[tokio::test(flavor = "multi_thread")]
async fn a_large_page_is_whole_in_every_form_and_its_file_is_held() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let cache = sb.cache_dir();
    let d = sb.daemon(&up, "");
    let page = sized_body(204_800);

    let miss = get(d.main, BIG, &[]).await;
    assert_eq!(miss.cache(), "MISS");
    assert!(miss.body == page);
    d.wait_written(BIG).await;
    for _ in 0..3 {
        let hit = get(d.main, BIG, &[]).await;
        assert_eq!(hit.cache(), "HIT");
        assert!(hit.body == page);
    }
    let range = get(d.main, BIG, &["Range: bytes=100000-150000"]).await;
    assert_eq!(range.status, 206);
    assert!(range.body[..] == page[100_000..=150_000]);
    let head = request(d.main, "HEAD", BIG, &[], b"").await;
    assert_eq!(head.header("content-length"), Some("204800"));
    assert!(head.body.is_empty());

    // A small page is written from memory: no file held for it.
    assert_eq!(get(d.main, SMALL, &[]).await.body, sized_body(2048));
    d.wait_written(SMALL).await;
    assert_eq!(get(d.main, SMALL, &[]).await.cache(), "HIT");
    let held = d.open_files_under(&cache);
    assert_eq!(held.len(), 1, "only the large page's file: {held:?}");
    assert!(!held[0].ends_with("(deleted)"));
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_the_file_is_read_and_held_again() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let cache = sb.cache_dir();
    let page = sized_body(204_800);
    {
        let d = sb.daemon(&up, "");
        get(d.main, BIG, &[]).await;
        d.terminate();
    }
    let d = sb.daemon(&up, "");
    assert!(d.open_files_under(&cache).is_empty());
    for _ in 0..2 {
        let hit = get(d.main, BIG, &[]).await;
        assert_eq!(hit.cache(), "HIT");
        assert!(hit.body == page);
    }
    assert_eq!(d.open_files_under(&cache).len(), 1);
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_snapshot_lets_its_file_go() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let cache = sb.cache_dir();
    let d = sb.daemon(&up, "");
    for target in [BIG, "/_preload/other?size=100000"] {
        get(d.main, target, &[]).await;
        d.wait_written(target).await;
        assert_eq!(get(d.main, target, &[]).await.cache(), "HIT");
    }
    assert_eq!(d.open_files_under(&cache).len(), 2);

    let one = br#"{"urls": ["/big?size=204800"]}"#;
    let reply = request(admin(&d), "POST", "/_invalidate", &[JSON], one).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        d.open_files_under(&cache).len(),
        1,
        "the dropped page's file is closed"
    );

    let all = br#"{"all": true}"#;
    let reply = request(admin(&d), "POST", "/_invalidate", &[JSON], all).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(d.open_files_under(&cache), Vec::<String>::new());

    // Served again from a fresh fetch, whole.
    let again = get(d.main, BIG, &[]).await;
    assert_eq!(again.cache(), "MISS");
    assert!(again.body == sized_body(204_800));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_file_out_of_the_page_cache_is_sent_from_memory_then_read_back() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let cache = sb.cache_dir();
    let d = sb.daemon(&up, "");
    let page = sized_body(204_800);
    assert_eq!(get(d.main, BIG, &[]).await.cache(), "MISS");
    d.wait_written(BIG).await;
    let held = d.open_files_under(&cache);
    assert_eq!(held.len(), 1, "{held:?}");
    let file = std::fs::File::open(&held[0]).expect("open the snapshot file");
    if cached_pages(&file, 0, 0).is_none() {
        eprintln!("skipped: this kernel has no cachestat(2)");
        return;
    }
    // Out of the page cache before any HIT: written and fsynced, so its
    // pages are clean (and no socket holds them yet, as a HIT's would
    // until the kernel frees what it sent). Dropping pages is advice:
    // tried until the kernel does.
    let cold = || cached_pages(&file, 0, 0).is_some_and(|(cached, _)| cached == 0);
    let evicted = (0..100).any(|_| {
        // SAFETY: fadvise on an open fd.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        rc == 0 && cold()
    });
    if !evicted {
        eprintln!("skipped: the kernel kept the file cached through 100 evictions");
        return;
    }
    let hit = get(d.main, BIG, &[]).await;
    assert_eq!(hit.cache(), "HIT");
    assert!(hit.body == page);
    let range = get(d.main, BIG, &["Range: bytes=100000-150000"]).await;
    assert_eq!(range.status, 206);
    assert!(range.body[..] == page[100_000..=150_000]);
    // A sendfile would have read the file back into the cache.
    assert!(
        cold(),
        "the body went from the cold file: {:?}",
        cached_pages(&file, 0, 0)
    );
    // Still asked for at a check a second later: the daemon reads the
    // file back (and the body goes by sendfile again).
    // SAFETY: sysconf takes no pointers.
    let page_size = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap();
    let warm =
        || cached_pages(&file, 0, 0).is_some_and(|(cached, _)| cached * page_size >= 204_800);
    let back = crate::support::webhook::eventually_async(|| async {
        let hit = get(d.main, BIG, &[]).await;
        assert!(hit.body == page, "whole while the file is read back");
        warm()
    })
    .await;
    assert!(
        back,
        "the file stayed out of the page cache: {:?}",
        cached_pages(&file, 0, 0)
    );
}
