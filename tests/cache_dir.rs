//! The cache dir under pressure and under tampering: `max_size` holds at
//! every moment of a burst of misses, and a cache dir emptied underneath
//! the daemon (`rm -rf cache/*`) is noticed and used again.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::webhook::admin;
use crate::support::{get, Daemon, Sandbox, Upstream};

/// Bytes of the regular files under `dir` (temp files included), by their
/// length, that were all on disk at one instant.
///
/// A walk takes time (on a loaded machine, many milliseconds): one that
/// summed what it met would add a page written after it began, in a
/// directory it had not reached yet, to a page evicted after it passed it,
/// two pages never on disk together. So every file met is looked at again
/// once the walk is over, and counted only if it is still there, the same
/// file: it was there from the moment it was met to that second look (no
/// name under the cache dir is used twice in this test), so all of them
/// were there together at the moment the walk ended. Files that vanish, or
/// come, during the walk count as gone; a file keeps the length it was met
/// with (one being written only grows).
fn bytes_on_disk(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut met = Vec::new();
    files_under(dir, &mut met);
    met.into_iter()
        .filter(|(path, ino, _)| std::fs::symlink_metadata(path).is_ok_and(|m| m.ino() == *ino))
        .map(|(_, _, len)| len)
        .sum()
}

/// The regular files under `dir` with their inode and length.
fn files_under(dir: &Path, met: &mut Vec<(std::path::PathBuf, u64, u64)>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(items) = std::fs::read_dir(dir) else {
        return;
    };
    for item in items.flatten() {
        match item.file_type() {
            Ok(t) if t.is_dir() => files_under(&item.path(), met),
            Ok(t) if t.is_file() => {
                if let Ok(m) = item.metadata() {
                    met.push((item.path(), m.ino(), m.len()));
                }
            }
            _ => {}
        }
    }
}

/// The largest snapshot file under `dir`.
fn largest_file(dir: &Path) -> u64 {
    let mut largest = 0;
    for item in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = item.path();
        if path.is_dir() {
            largest = largest.max(largest_file(&path));
        } else if item.file_name().len() == 64 {
            largest = largest.max(item.metadata().map_or(0, |m| m.len()));
        }
    }
    largest
}

async fn health(d: &Daemon) -> (u64, u64) {
    let reply = get(admin(d), "/_preloadd/health", &[]).await;
    let v: serde_json::Value = serde_json::from_slice(&reply.body).expect("health JSON");
    (
        v["snapshots"].as_u64().expect("snapshots"),
        v["bytes"].as_u64().expect("bytes"),
    )
}

/// Polls health (for up to 5 s) until it counts `snapshots`; the last
/// answer.
async fn health_until(d: &Daemon, snapshots: u64) -> (u64, u64) {
    let mut last = health(d).await;
    for _ in 0..100 {
        if last.0 == snapshots {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = health(d).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_size_holds_at_every_moment_of_a_burst_of_misses() {
    const MAX: u64 = 4 << 20;
    const PAGES: usize = 160;
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    // No compressed variants: every file is the page and its header.
    let d = sb.daemon_cache(&up, "max_size = \"4MiB\"\ncompress = false", "");
    let cache = sb.cache_dir();

    // Measures the disk all through the burst, from another thread.
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let walker = {
        let (done, peak, cache) = (done.clone(), peak.clone(), cache.clone());
        std::thread::spawn(move || {
            let mut walks = 0u64;
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(bytes_on_disk(&cache), Ordering::Relaxed);
                walks += 1;
            }
            walks
        })
    };
    let burst: Vec<_> = (0..PAGES)
        .map(|i| {
            let main = d.main;
            tokio::spawn(async move {
                get(main, &format!("/_preload/burst/{i}?size=100000"), &[])
                    .await
                    .status
            })
        })
        .collect();
    for task in burst {
        assert_eq!(task.await.expect("request task"), 200);
    }
    done.store(true, Ordering::Relaxed);
    let walks = walker.join().expect("walker");
    assert!(
        walks > 10,
        "the disk was measured during the burst ({walks} walks)"
    );
    assert_eq!(up.count(), PAGES, "every page was a miss");

    let page = largest_file(&cache);
    assert!(page > 100_000, "pages were kept ({page} bytes)");
    let peak = peak.load(Ordering::Relaxed);
    assert!(
        peak <= MAX + page,
        "{peak} bytes on disk at the peak, over max_size {MAX} plus one page ({page})"
    );
    let (_, bytes) = health(&d).await;
    assert!(bytes <= MAX, "health says {bytes} bytes kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cache_dir_emptied_underneath_keeps_pages_again() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let cache = sb.cache_dir();
    for i in 0..10 {
        let t = format!("/_preload/old/{i}");
        get(d.main, &t, &[]).await;
        d.wait_written(&t).await;
        assert_eq!(get(d.main, &t, &[]).await.cache(), "HIT");
    }
    assert_eq!(health(&d).await.0, 10);

    // rm -rf cache/*
    for item in std::fs::read_dir(&cache).expect("cache dir").flatten() {
        let path = item.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("rm -rf");
        } else {
            std::fs::remove_file(&path).expect("rm");
        }
    }

    // New pages are kept again, every one of them.
    for i in 0..30 {
        let t = format!("/_preload/new/{i}");
        let first = get(d.main, &t, &[]).await;
        assert_eq!(first.cache(), "MISS", "{t}: {:?}", first.headers);
        assert_eq!(get(d.main, &t, &[]).await.cache(), "HIT", "{t} was kept");
    }

    // Health comes to count what is there: the 30 new pages only.
    let last = health_until(&d, 30).await;
    assert_eq!(last.0, 30, "health counts the files that are there");
    assert_eq!(last.1, bytes_of_snapshots(&cache), "and their bytes");

    // An old page whose file is gone is a MISS (fetched again), then a HIT.
    let before = up.count_of("/old/3");
    assert_eq!(get(d.main, "/_preload/old/3", &[]).await.cache(), "MISS");
    assert_eq!(up.count_of("/old/3"), before + 1);
    assert_eq!(get(d.main, "/_preload/old/3", &[]).await.cache(), "HIT");

    // The markers are back, and the lock is held again: a second daemon
    // on the dir is refused.
    assert!(
        cache.join(".preloadd-store").exists(),
        "format marker written again"
    );
    assert!(
        cache.join(".preloadd-lock").exists(),
        "lock file made again"
    );
    let second = std::process::Command::new(crate::support::daemon::binary())
        .arg("--config")
        .arg(&d.config_path)
        .output()
        .expect("run a second daemon");
    assert_eq!(second.status.code(), Some(1), "a second daemon is refused");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains(&format!("pid {}", d.pid())), "{said}");

    // What was kept after the emptying survives a restart.
    d.wait_written("/_preload/old/3").await;
    let config = d.config_path.clone();
    d.kill9();
    let d = Daemon::start_with(&config);
    assert_eq!(get(d.main, "/_preload/new/7", &[]).await.cache(), "HIT");
    // After a crash the index is rebuilt in the background.
    assert_eq!(health_until(&d, 31).await.0, 31);
}

/// Bytes of the snapshot files under `dir` (64-hex-character names).
fn bytes_of_snapshots(dir: &Path) -> u64 {
    let mut total = 0;
    for item in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = item.path();
        if path.is_dir() {
            total += bytes_of_snapshots(&path);
        } else if item.file_name().len() == 64 {
            total += item.metadata().map_or(0, |m| m.len());
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread")]
async fn health_counts_the_pages_kept_after_an_emptying() {
    // The wait is on a condition, bounded: health must not keep the old
    // count for long once the files are gone.
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    for i in 0..5 {
        get(d.main, &format!("/_preload/h/{i}"), &[]).await;
    }
    d.wait_kept(5).await;
    assert_eq!(health(&d).await.0, 5);
    std::fs::remove_dir_all(sb.cache_dir()).expect("rm -rf the whole dir");
    assert_eq!(
        health_until(&d, 0).await.0,
        0,
        "health says 0 once the dir is gone"
    );
    let main = d.main;
    get(main, "/_preload/h/1", &[]).await;
    assert_eq!(get(main, "/_preload/h/1", &[]).await.cache(), "HIT");
    assert!(sb.cache_dir().join(".preloadd-lock").exists());
}
