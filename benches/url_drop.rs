//! Large invalidations by url and prefix on a large cache, with a visitor
//! asking for another page all along: how long the invalidation takes, and
//! how long the visitor's lookup ever waits behind it (issue 15.3). Not a
//! timed test; run with
//!
//! ```sh
//! cargo bench --bench url_drop                 # 100,000 snapshots, 20,000 urls
//! SNAPSHOTS=1000000 URLS=20000 cargo bench --bench url_drop
//! ```
//!
//! Under `cargo test` it runs once on 4,000 snapshots and 800 urls, as a
//! smoke test. Snapshot files are written straight in the store's format
//! (as in `tag_drop`), then the store opens them as at a restart.
//!
//! The figures, each with the worst lookup of the probe page (in the hot
//! set, so a lookup is the index read lock and a map hit): one webhook of
//! `URLS` urls; prefixes naming as many pages; the same urls, soft; four
//! concurrent webhooks of `URLS` urls each. Beside it, the worst lookup of
//! a page in a second, idle store, timed by the same thread: what the
//! machine costs (a busy CPU, scheduling), not the invalidation.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use preloadd::invalidate::{apply::apply, log::Log, selector::Selector};
use preloadd::key::Key;
use preloadd::store::{Store, StoreSettings};

#[path = "support/fill.rs"]
mod fill;

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let number = |name: &str, bench: u32, test: u32| match std::env::var(name) {
        Ok(n) => n.parse::<u32>().expect("a number"),
        Err(_) if benching => bench,
        Err(_) => test,
    };
    let count = number("SNAPSHOTS", 100_000, 4_000);
    let urls = number("URLS", 20_000, 800).min(count / 5);
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    // One page more than `count`: the probe, named by no invalidation.
    fill(dir.path(), count + 1);
    println!(
        "wrote {} snapshot files in {:.1?}",
        count + 1,
        started.elapsed()
    );
    let started = Instant::now();
    let store = Arc::new(open(dir.path()));
    println!(
        "opened {} snapshots in {:.1?} (index: {} bytes per entry)",
        store.len(),
        started.elapsed(),
        store.index_memory() / store.len().max(1)
    );
    let control_dir = tempfile::tempdir().expect("temp dir");
    fill(control_dir.path(), 1);
    let control = open(control_dir.path());
    let probe = Probe::start(store.clone(), key(count), control);
    let log = Arc::new(Log::default());

    // What the machine itself costs a lookup (other load, scheduling).
    let (_, _, idle) = probe.during(|| {
        std::thread::sleep(Duration::from_secs(1));
        0
    });
    println!("nothing running for 1 s: {idle}");

    // Pages 0 .. urls, by url.
    let selector = by_urls((0..urls).collect());
    let (took, n, worst) = probe.during(|| drop_count(&store, &log, &selector));
    println!("{n} pages by {urls} urls in {took:.1?}; lookups meanwhile: {worst}");
    assert_eq!(n, urls as usize);

    // Pages urls .. 2 urls, by prefix (ten thousand pages per prefix of
    // five digits, so `urls` is rounded to that).
    let width = 10u32.pow(digits(urls) as u32).min(10_000);
    let prefixes: Vec<String> = (urls / width..2 * urls / width)
        .map(|p| format!("/events/{:0w$}", p, w = 8 - digits(width)))
        .collect();
    let selector = Selector {
        prefixes: prefixes.clone(),
        ..Selector::default()
    };
    let (took, n, worst) = probe.during(|| drop_count(&store, &log, &selector));
    println!(
        "{n} pages by {} prefixes in {took:.1?}; lookups meanwhile: {worst}",
        prefixes.len()
    );

    // Pages 2 urls .. 3 urls, softened by url.
    let mut selector = by_urls((2 * urls..3 * urls).collect());
    selector.soft = true;
    let (took, n, worst) = probe.during(|| drop_count(&store, &log, &selector));
    println!("{n} pages softened by {urls} urls in {took:.1?}; lookups meanwhile: {worst}");

    // Four at once, `urls` urls each, over what is left (some named twice).
    let (took, n, worst) = probe.during(|| {
        let workers: Vec<_> = (0..4u32)
            .map(|w| {
                let (store, log) = (store.clone(), log.clone());
                let selector = by_urls(
                    (0..urls)
                        .map(|i| 2 * urls + (i * 4 + w) % (count - 2 * urls))
                        .collect(),
                );
                std::thread::spawn(move || drop_count(&store, &log, &selector))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("webhook thread"))
            .sum::<usize>()
    });
    println!(
        "{n} pages by 4 concurrent webhooks of {urls} urls in {took:.1?}; lookups meanwhile: {worst}"
    );
    println!("probe lookups: {}", probe.stop());
}

fn drop_count(store: &Store, log: &Log, selector: &Selector) -> usize {
    apply(
        store,
        log,
        selector,
        None,
        false,
        std::time::SystemTime::now(),
    )
    .expect("invalidate")
    .count
}

fn by_urls(pages: Vec<u32>) -> Selector {
    Selector {
        urls: pages.into_iter().map(target).collect(),
        ..Selector::default()
    }
}

fn digits(n: u32) -> usize {
    n.checked_ilog10().map_or(0, |d| d as usize)
}

/// A thread looking up one page in a loop, keeping the longest lookup
/// and how many took over 1 ms and over 5 ms.
struct Probe {
    worst_ns: Arc<AtomicU64>,
    /// The worst lookup in the idle store.
    control_ns: Arc<AtomicU64>,
    over: Arc<[AtomicU64; 2]>,
    lookups: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Probe {
    fn start(store: Arc<Store>, key: Key, control: Store) -> Probe {
        assert!(store.get(&key).is_some(), "the probe page is there");
        let worst_ns = Arc::new(AtomicU64::new(0));
        let control_ns = Arc::new(AtomicU64::new(0));
        let over = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let lookups = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let control_ns = control_ns.clone();
            let (worst_ns, over, lookups, stop) = (
                worst_ns.clone(),
                over.clone(),
                lookups.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    assert!(store.lookup(&key).is_some(), "the probe page stays");
                    let took = started.elapsed();
                    worst_ns.fetch_max(took.as_nanos() as u64, Ordering::Relaxed);
                    for (n, ms) in over.iter().zip([1, 5]) {
                        if took > Duration::from_millis(ms) {
                            n.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    lookups.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    assert!(control.lookup(&self::key(0)).is_some());
                    control_ns.fetch_max(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    // A visitor does other things between lookups.
                    std::thread::sleep(Duration::from_micros(50));
                }
            })
        };
        Probe {
            worst_ns,
            control_ns,
            over,
            lookups,
            stop,
            thread: Some(thread),
        }
    }

    /// Runs `f`; its time, its value and what the lookups met meanwhile.
    fn during(&self, f: impl FnOnce() -> usize) -> (Duration, usize, String) {
        self.worst_ns.store(0, Ordering::Relaxed);
        self.control_ns.store(0, Ordering::Relaxed);
        self.over.iter().for_each(|n| n.store(0, Ordering::Relaxed));
        let before = self.lookups.load(Ordering::Relaxed);
        let started = Instant::now();
        let n = f();
        let took = started.elapsed();
        let worst = Duration::from_nanos(self.worst_ns.load(Ordering::Relaxed));
        let [over1, over5] = [0, 1].map(|i| self.over[i].load(Ordering::Relaxed));
        let lookups = self.lookups.load(Ordering::Relaxed) - before;
        let control = Duration::from_nanos(self.control_ns.load(Ordering::Relaxed));
        let seen = format!(
            "{lookups}, worst {worst:.1?}, {over1} over 1 ms, {over5} over 5 ms \
             (idle store: worst {control:.1?})"
        );
        (took, n, seen)
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("probe thread");
        }
        self.lookups.load(Ordering::Relaxed)
    }
}

fn target(n: u32) -> String {
    format!("/events/{n:08}/a-page-with-a-typical-path")
}

fn key(n: u32) -> Key {
    Key::new(&target(n), &[])
}

fn open(dir: &Path) -> Store {
    Store::open(StoreSettings {
        dir: dir.to_path_buf(),
        max_size: u64::MAX,
        memory: 64 << 20,
        open_files: 0,
    })
    .expect("open store")
}

/// Writes `count` snapshot files in the store's layout:
/// `dir/<2 hex>/<64 hex>`.
fn fill(dir: &Path, count: u32) {
    let body = Bytes::from(vec![b'x'; 512]);
    for n in 0..count {
        fill::write_page(dir, target(n), vec!["page".to_string()], body.clone());
    }
}
