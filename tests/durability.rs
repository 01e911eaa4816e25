//! Invalidation on a cache file system that refuses writes (SPEC §6): a
//! drop that cannot be made durable leaves the index at once and is
//! answered 503, never 200; the refused drop is retried, and the app's
//! retry gets its 200 only once the drop is durable, after which no restart
//! brings the page back.
//!
//! These run on real file systems mounted for the test (see
//! `support::fs`), so they need root; elsewhere they say so and pass.

use std::path::{Path, PathBuf};

use crate::support::fs::{self, Mount};
use crate::support::metrics::scrape;
use crate::support::webhook::{admin, count, invalidate, warm, JSON};
use crate::support::{config_text, get, Daemon, Sandbox, Upstream};

/// The daemon with its cache dir at `cache` (on a test mount).
fn daemon_on(sb: &Sandbox, up: &Upstream, cache: &Path) -> Daemon {
    Daemon::start(sb.dir.path(), &config_text(&up.url(), cache, "", ""))
}

/// The snapshot files under `cache`.
fn snapshot_files(cache: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        if dir.path().is_dir() {
            for item in std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if item.file_name().len() == 64 {
                    files.push(item.path());
                }
            }
        }
    }
    files
}

/// A 64 MiB tmpfs with the cache dir on it, the daemon, and one page `/a`
/// kept there, with the fan-out directory of its file.
struct OnTmpfs {
    mount: Mount,
    cache: PathBuf,
    up: Upstream,
    d: Daemon,
    file_a: PathBuf,
    dir_a: PathBuf,
}

/// [`OnTmpfs`], or `None` (after saying why) where mounts are not allowed.
async fn page_a_on_tmpfs(sb: &Sandbox, test: &str) -> Option<OnTmpfs> {
    if let Err(why) = fs::mounts_allowed(sb.dir.path()) {
        fs::skip(test, &why);
        return None;
    }
    let mount = Mount::tmpfs(&sb.dir.path().join("disk"), "64m").expect("tmpfs");
    let cache = mount.dir.join("cache");
    let up = Upstream::start().await;
    let d = daemon_on(sb, &up, &cache);
    warm(&d, &["/_preload/a"]).await;
    let [file_a] = &snapshot_files(&cache)[..] else {
        panic!("one snapshot file");
    };
    let dir_a = file_a.parent().expect("fan-out dir").to_path_buf();
    Some(OnTmpfs {
        mount,
        cache,
        up,
        d,
        file_a: file_a.clone(),
        dir_a,
    })
}

fn assert_not_durable(reply: &crate::support::Reply) {
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(reply.text().contains("not durable"), "{}", reply.text());
    assert!(
        !reply.text().contains('/'),
        "no path in the reply: {}",
        reply.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purge_on_a_read_only_cache_is_503_and_only_a_later_200_is_durable() {
    let sb = Sandbox::new();
    if let Err(why) = fs::mounts_allowed(sb.dir.path()) {
        return fs::skip("a_purge_on_a_read_only_cache...", &why);
    }
    let mount = match Mount::ext4(
        &sb.dir.path().join("disk.img"),
        &sb.dir.path().join("disk"),
        32,
    ) {
        Ok(m) => m,
        Err(why) => return fs::skip("a_purge_on_a_read_only_cache...", &why),
    };
    let cache = mount.dir.join("cache");
    let up = Upstream::start().await;
    let d = daemon_on(&sb, &up, &cache);
    warm(&d, &["/_preload/a", "/_preload/b"]).await;

    // The disk fails: ext4 with errors=remount-ro goes read-only.
    mount.fail().expect("ext4 error");
    let purge = r#"{"urls": ["/a"]}"#;
    let reply = invalidate(admin(&d), &[JSON], purge).await;
    assert_not_durable(&reply);
    // Out of this process at once: never a HIT again here.
    let before = up.count_of("/a");
    assert_ne!(get(d.main, "/_preload/a", &[]).await.cache(), "HIT");
    assert_eq!(up.count_of("/a"), before + 1, "fetched from the app");
    assert_eq!(
        get(d.main, "/_preload/b", &[]).await.cache(),
        "HIT",
        "the rest is served"
    );
    // The hook's retry, while the disk still refuses: still not durable.
    assert_not_durable(&invalidate(admin(&d), &[JSON], purge).await);

    // The operator stops the daemon and repairs the file system. Nothing
    // could be written, so nothing on the disk says /a was dropped: the
    // 503 promised nothing beyond that process. The hook's next retry is
    // the one that counts, and its 200 is durable.
    d.kill9();
    mount.repair().expect("repair");
    let d = daemon_on(&sb, &up, &cache);
    // After kill -9 the index is rebuilt while the daemon serves, and a
    // drop counts the pages indexed when it is answered: /a once it is.
    d.wait_indexed().await;
    let reply = invalidate(admin(&d), &[JSON], purge).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(count(&reply), 1);
    d.kill9();
    let d = daemon_on(&sb, &up, &cache);
    let before = up.count_of("/a");
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "MISS");
    assert_eq!(up.count_of("/a"), before + 1);
    assert_eq!(get(d.main, "/_preload/b", &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_drop_is_retried_and_never_comes_back_once_the_disk_takes_it() {
    let sb = Sandbox::new();
    let Some(OnTmpfs {
        // Held to the end: dropping it unmounts the disk.
        mount: _mount,
        cache,
        up,
        d,
        file_a,
        dir_a,
    }) = page_a_on_tmpfs(&sb, "a_refused_drop_is_retried...").await
    else {
        return;
    };
    // Another page, in another fan-out directory.
    let mut b = None;
    for i in 0..50 {
        let t = format!("/_preload/b{i}");
        let before = snapshot_files(&cache);
        warm(&d, &[t.as_str()]).await;
        let new: Vec<PathBuf> = snapshot_files(&cache)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if new.iter().all(|f| f.parent() != Some(dir_a.as_path())) {
            b = Some(t);
            break;
        }
    }
    let b = b.expect("a page in another fan-out directory");

    // The kernel refuses unlinks in /a's directory (as a failing disk
    // would): the purge is out of the index, and answered 503.
    // (A failed assertion leaves nothing behind: the tmpfs goes with it.)
    fs::set_immutable(&dir_a, true).expect("chattr +i");
    let purge = r#"{"urls": ["/a"]}"#;
    assert_not_durable(&invalidate(admin(&d), &[JSON], purge).await);
    assert_ne!(get(d.main, "/_preload/a", &[]).await.cache(), "HIT");
    // Its refetch is written after the answer: refused too, before the
    // directory takes writes again.
    let written_off = crate::support::webhook::eventually_async(|| async {
        scrape(&d).await.get("preloadd_write_errors_total") >= 1.0
    })
    .await;
    assert!(written_off, "the refetch's write was refused");
    fs::set_immutable(&dir_a, false).expect("chattr -i");

    // The disk takes writes again: the store's own retry removes the file
    // within seconds, and the hook's retry is answered 200.
    let gone = crate::support::webhook::eventually(|| !file_a.exists()).await;
    assert!(gone, "the refused unlink was retried");
    let reply = invalidate(admin(&d), &[JSON], purge).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // And a crash now brings nothing back: /a is a MISS, /b a HIT.
    d.kill9();
    let d = daemon_on(&sb, &up, &cache);
    let before = up.count_of("/a");
    get(d.main, "/_preload/a", &[]).await;
    assert_eq!(up.count_of("/a"), before + 1, "/a was fetched again");
    assert_eq!(get(d.main, &b, &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_drop_is_503_while_an_earlier_one_is_not_durable_until_one_covers_it() {
    let sb = Sandbox::new();
    let Some(OnTmpfs {
        // Held to the end: dropping it unmounts the disk.
        mount: _mount,
        cache,
        up,
        d,
        file_a,
        dir_a,
    }) = page_a_on_tmpfs(&sb, "every_drop_is_503_while...").await
    else {
        return;
    };
    fs::set_immutable(&dir_a, true).expect("chattr +i");
    let first = invalidate(admin(&d), &[JSON], r#"{"urls": ["/a"]}"#).await;
    // The hook's retry finds nothing of /a left in the index, and must
    // still not hear "done" while /a's file is there.
    let retry = invalidate(admin(&d), &[JSON], r#"{"urls": ["/a"]}"#).await;
    let by_tag = invalidate(admin(&d), &[JSON], r#"{"tags": ["none"]}"#).await;
    // Dropping everything persists a new generation, which keeps /a's file
    // from coming back too: that one is durable, and so is /a's drop.
    let everything = invalidate(admin(&d), &[JSON], r#"{"all": true}"#).await;
    let after = invalidate(admin(&d), &[JSON], r#"{"urls": ["/a"]}"#).await;
    assert_not_durable(&first);
    assert_not_durable(&retry);
    assert_not_durable(&by_tag);
    assert_eq!(everything.status, 200, "{}", everything.text());
    assert_eq!(after.status, 200, "{}", after.text());
    assert!(
        file_a.exists(),
        "the file is still there (removed once it can be)"
    );
    fs::set_immutable(&dir_a, false).expect("chattr -i");
    d.kill9();
    let d = daemon_on(&sb, &up, &cache);
    let before = up.count_of("/a");
    get(d.main, "/_preload/a", &[]).await;
    assert_eq!(up.count_of("/a"), before + 1, "/a did not come back");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purge_on_a_full_disk_is_durable_and_200() {
    // A full disk refuses the generation file, but takes unlinks: the
    // drop of everything is made durable by unlinking, and answered 200.
    let sb = Sandbox::new();
    if let Err(why) = fs::mounts_allowed(sb.dir.path()) {
        return fs::skip("a_purge_on_a_full_disk...", &why);
    }
    let mount = Mount::tmpfs(&sb.dir.path().join("disk"), "4m").expect("tmpfs");
    let cache = mount.dir.join("cache");
    let up = Upstream::start().await;
    let d = daemon_on(&sb, &up, &cache);
    warm(&d, &["/_preload/a", "/_preload/b"]).await;
    // Fill the disk to the last byte.
    let filler = mount.dir.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0u8; 64 << 10];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    while std::io::Write::write_all(&mut f, &[0]).is_ok() {}
    drop(f);
    let reply = invalidate(admin(&d), &[JSON], r#"{"all": true}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(count(&reply), 2);
    d.kill9();
    std::fs::remove_file(&filler).expect("free the disk");
    let d = daemon_on(&sb, &up, &cache);
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "MISS");
    assert_eq!(get(d.main, "/_preload/b", &[]).await.cache(), "MISS");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drop_refused_at_shutdown_is_finished_by_the_next_start() {
    let sb = Sandbox::new();
    let Some(OnTmpfs {
        // Held to the end: dropping it unmounts the disk.
        mount: _mount,
        cache,
        up,
        d,
        file_a,
        dir_a,
    }) = page_a_on_tmpfs(&sb, "a_drop_refused_at_shutdown...").await
    else {
        return;
    };
    fs::set_immutable(&dir_a, true).expect("chattr +i");
    assert_not_durable(&invalidate(admin(&d), &[JSON], r#"{"urls": ["/a"]}"#).await);
    // Stopped while the disk still refuses the unlink (the checkpoint, in
    // the cache dir itself, can still be written).
    assert!(d.terminate().success());
    fs::set_immutable(&dir_a, false).expect("chattr -i");
    assert!(file_a.exists(), "the refused file outlived the daemon");

    // The next start removes it before it serves anything: a later crash's
    // header scan cannot bring it back.
    let d = daemon_on(&sb, &up, &cache);
    assert!(!file_a.exists(), "removed at start");
    d.kill9();
    let d = daemon_on(&sb, &up, &cache);
    let before = up.count_of("/a");
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "MISS");
    assert_eq!(up.count_of("/a"), before + 1);
}
