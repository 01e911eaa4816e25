//! Dropping one tag among many snapshots: what an invalidation by tag costs
//! when the cache is large. Not a timed test; run with
//!
//! ```sh
//! cargo bench --bench tag_drop            # 100,000 snapshots
//! SNAPSHOTS=1000000 cargo bench --bench tag_drop
//! ```
//!
//! Under `cargo test` it runs once on 2,000 snapshots, as a smoke test.
//! Snapshot files are written straight in the store's format (no fsync per
//! file) so that the set-up takes seconds, then the store opens them as at
//! a restart. Every snapshot carries the tag `page`; one in a hundred also
//! carries `hot`, one in ten thousand `rare`. The figures: the open, the drop of `hot` (1 %), the drop
//! of one URL, and the drop of everything.
//!
//! `SCAN_DIR=/some/dir` measures the start after a crash alone, on a cache
//! dir that stays between runs (so that two builds open the same files with
//! the same page cache): it is filled with `SNAPSHOTS` files once, then
//! opened `OPENS` times (default 3), nothing dropped.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use preloadd::invalidate::{apply::apply, log::Log, selector::Selector};
use preloadd::store::{Store, StoreSettings};

#[path = "support/fill.rs"]
mod fill;

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let count: u32 = match std::env::var("SNAPSHOTS") {
        Ok(n) => n.parse().expect("SNAPSHOTS is a number"),
        Err(_) if benching => 100_000,
        Err(_) => 2_000,
    };
    if let Ok(dir) = std::env::var("SCAN_DIR") {
        return open_repeatedly(Path::new(&dir), count);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    fill(dir.path(), count);
    println!("wrote {count} snapshot files in {:.1?}", started.elapsed());

    let started = Instant::now();
    let store = open(dir.path());
    println!(
        "opened {} snapshots in {:.1?}",
        store.len(),
        started.elapsed()
    );

    let log = Log::default();
    let hot = Selector {
        tags: vec!["hot".into()],
        ..Selector::default()
    };
    let (took, n) = timed(|| {
        apply(&store, &log, &hot, None, false, SystemTime::now())
            .expect("drop tag")
            .count
    });
    println!(
        "dropped tag `hot` ({n} snapshots of {count}) in {took:.1?} ({:.1} µs per snapshot)",
        per(took, n)
    );
    assert_eq!(n as u32, count.div_ceil(100));

    let rare = Selector {
        tags: vec!["rare".into()],
        ..Selector::default()
    };
    let (took, n) = timed(|| {
        apply(&store, &log, &rare, None, false, SystemTime::now())
            .expect("drop tag")
            .count
    });
    println!(
        "dropped tag `rare` ({n} snapshots of {count}) in {took:.1?} ({:.1} µs per snapshot)",
        per(took, n)
    );

    let one = Selector {
        urls: vec![target(2)],
        ..Selector::default()
    };
    let (took, n) = timed(|| {
        apply(&store, &log, &one, None, false, SystemTime::now())
            .expect("drop url")
            .count
    });
    println!("dropped one url ({n}) in {took:.1?} (a search of the target order)");

    let all = Selector {
        all: true,
        ..Selector::default()
    };
    let before = store.len();
    let (took, _) = timed(|| {
        apply(&store, &log, &all, None, false, SystemTime::now())
            .expect("drop all")
            .count
    });
    println!("dropped all {before} in {took:.1?} before the reply (files go in the background)");
    store.wait_background();
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let value = f();
    (started.elapsed(), value)
}

fn per(took: Duration, n: usize) -> f64 {
    took.as_secs_f64() * 1e6 / n.max(1) as f64
}

fn target(n: u32) -> String {
    format!("/events/{n:08}/a-page-with-a-typical-path")
}

fn open(dir: &Path) -> Store {
    Store::open(StoreSettings {
        dir: dir.to_path_buf(),
        max_size: u64::MAX,
        memory: 0,
        open_files: 0,
    })
    .expect("open store")
}

/// Writes `count` snapshot files in the store's layout:
/// `dir/<2 hex>/<64 hex>`.
/// Fills `dir` unless it holds a cache already, then opens it `OPENS` times.
fn open_repeatedly(dir: &Path, count: u32) {
    if !dir.join(".preloadd-store").exists() {
        fill(dir, count);
        drop(open(dir));
        println!("filled {} with {count} snapshot files", dir.display());
    }
    let opens: u32 = std::env::var("OPENS").map_or(3, |n| n.parse().expect("OPENS is a number"));
    for _ in 0..opens {
        let started = Instant::now();
        let store = open(dir);
        println!(
            "opened {} snapshots in {:.2?}",
            store.len(),
            started.elapsed()
        );
    }
}

fn fill(dir: &Path, count: u32) {
    let body = Bytes::from(vec![b'x'; 2048]);
    for n in 0..count {
        let mut tags = vec!["page".to_string()];
        if n % 100 == 0 {
            tags.push("hot".to_string());
        }
        if n % 10_000 == 1 {
            tags.push("rare".to_string());
        }
        fill::write_page(dir, target(n), tags, body.clone());
    }
}
