//! The start after a crash: serving at once while the index is rebuilt in
//! the background. The rebuild is held at a chosen fan-out directory by a
//! gate file (`PRELOADD_TEST_REBUILD_GATE`: while it holds N, directories
//! from the N-th on, in name order, wait), so that a test acts in the
//! middle of it; whether a page is a HIT is told by the app's request
//! count.

use std::path::{Path, PathBuf};

use crate::support::daemon::config_text;
use crate::support::webhook::{admin, invalidate, warm, FORM};
use crate::support::{get, Daemon, Sandbox, Upstream};

const GATE: &str = "PRELOADD_TEST_REBUILD_GATE";

/// The daemon on the sandbox's cache, its rebuild held by `gate` if given.
fn start(sb: &Sandbox, up: &Upstream, cache: &str, gate: Option<&Path>) -> Daemon {
    start_with(sb, up, cache, "", gate)
}

/// [`start`] with `extra` config.
pub(crate) fn start_with(
    sb: &Sandbox,
    up: &Upstream,
    cache: &str,
    extra: &str,
    gate: Option<&Path>,
) -> Daemon {
    let path = sb.dir.path().join("preload.toml");
    std::fs::write(&path, config_text(&up.url(), &sb.cache_dir(), cache, extra)).expect("config");
    let gate = gate.map(|g| g.display().to_string());
    let env: Vec<(&str, &str)> = gate.iter().map(|g| (GATE, g.as_str())).collect();
    Daemon::start_env(&path, None, &env)
}

/// Holds the rebuild before its `n`-th fan-out directory.
pub(crate) fn hold_at(sb: &Sandbox, n: usize) -> PathBuf {
    let gate = sb.dir.path().join("gate");
    std::fs::write(&gate, n.to_string()).expect("gate");
    gate
}

async fn health(d: &Daemon) -> serde_json::Value {
    let reply = get(admin(d), "/_preloadd/health", &[]).await;
    serde_json::from_slice(&reply.body).expect("health JSON")
}

async fn listing(d: &Daemon) -> serde_json::Value {
    let reply = get(admin(d), "/_preloadd/snapshots", &[]).await;
    serde_json::from_slice(&reply.body).expect("listing JSON")
}

/// Waits until the rebuild has read `files` files (it is then held at its
/// gate), for up to 10 s.
async fn wait_scanned(d: &Daemon, files: u64) {
    for _ in 0..200 {
        let h = health(d).await;
        assert_eq!(h["rebuilding"], true, "{h}");
        if h["rebuild_files"] == files {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the rebuild never read {files} files: {}", health(d).await);
}

pub(crate) fn rebuilt(d: &Daemon) {
    let line = d.wait_for_log(&["snapshot index rebuilt after a crash"]);
    assert!(line.is_some(), "the rebuild ended");
}

/// The fan-out directories of `cache`, in name order, with their files.
fn fanout(cache: &Path) -> Vec<(PathBuf, usize)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cache)
        .expect("cache dir")
        .flatten()
        .map(|i| i.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| {
            let n = std::fs::read_dir(&d).expect("dir").count();
            (d, n)
        })
        .collect()
}

pub(crate) fn snapshot_files(cache: &Path) -> Vec<PathBuf> {
    fanout(cache)
        .into_iter()
        .flat_map(|(d, _)| {
            std::fs::read_dir(d)
                .expect("dir")
                .flatten()
                .map(|i| i.path())
        })
        .collect()
}

/// Requests each of `targets` once and says how many were HITs, and how
/// many requests the app got for them (for them only: a background
/// refetch of another page may be counted meanwhile).
pub(crate) async fn hits(d: &Daemon, up: &Upstream, targets: &[String]) -> (usize, usize) {
    let asked = |up: &Upstream| -> usize {
        targets
            .iter()
            .map(|t| up.count_of(t.trim_start_matches("/_preload")))
            .sum()
    };
    let before = asked(up);
    let mut hits = 0;
    for t in targets {
        let reply = get(d.main, t, &[]).await;
        assert_eq!(reply.status, 200, "{t}");
        hits += usize::from(reply.cache() == "HIT");
    }
    (hits, asked(up) - before)
}

pub(crate) fn pages(prefix: &str, n: usize) -> Vec<String> {
    pages_with(prefix, n, "")
}

/// `pages`, each with `query`.
fn pages_with(prefix: &str, n: usize, query: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}{query}")).collect()
}

pub(crate) async fn warm_all(d: &Daemon, groups: &[&Vec<String>]) {
    for group in groups {
        let targets: Vec<&str> = group.iter().map(String::as_str).collect();
        warm(d, &targets).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn old_pages_are_hits_before_the_rebuild_reaches_them() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = start(&sb, &up, "", None);
    let old = pages("/_preload/old/", 20);
    warm_all(&d, &[&old]).await;
    d.kill9();

    // Held before the first directory: nothing is indexed.
    let gate = hold_at(&sb, 0);
    let d = start(&sb, &up, "", Some(&gate));
    wait_scanned(&d, 0).await;
    assert_eq!(hits(&d, &up, &old).await, (20, 0), "HITs from their files");
    let h = health(&d).await;
    assert_eq!(
        (h["rebuilding"].clone(), h["snapshots"].clone()),
        (true.into(), 20.into())
    );
    assert_eq!(listing(&d).await["incomplete"], true, "a listing says so");

    std::fs::remove_file(&gate).expect("open the gate");
    rebuilt(&d);
    let h = health(&d).await;
    assert_eq!(h["rebuilding"], false, "{h}");
    assert_eq!(h["snapshots"], 20, "each page indexed once");
    assert_eq!(listing(&d).await.get("incomplete"), None);
    assert_eq!(hits(&d, &up, &old).await, (20, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_or_prefix_drop_during_the_rebuild_reaches_the_files_not_scanned_yet() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = start(&sb, &up, "", None);
    // Four groups of tagged pages and of prefixed pages, each checked at
    // another moment, and pages the drops do not name.
    let tagged: Vec<Vec<String>> = (0..4)
        .map(|g| pages_with(&format!("/_preload/t{g}/"), 8, "?tags=x"))
        .collect();
    let prefixed: Vec<Vec<String>> = (0..4)
        .map(|g| pages(&format!("/_preload/p/{g}/"), 8))
        .collect();
    let kept = pages("/_preload/k/", 16);
    for group in tagged.iter().chain(&prefixed) {
        warm_all(&d, &[group]).await;
    }
    warm_all(&d, &[&kept]).await;
    d.kill9();

    // The rebuild read half of the directories when the drops come.
    let dirs = fanout(&sb.cache_dir());
    let half = dirs.len() / 2;
    let first_half: usize = dirs[..half].iter().map(|(_, n)| n).sum();
    let gate = hold_at(&sb, half);
    let d = start(&sb, &up, "", Some(&gate));
    wait_scanned(&d, first_half as u64).await;
    for body in ["tag=x", "prefix=/p/"] {
        let reply = invalidate(admin(&d), &[FORM], body).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    // During the rebuild: every named page is fetched again.
    assert_eq!(hits(&d, &up, &tagged[0]).await, (0, 8));
    assert_eq!(hits(&d, &up, &prefixed[0]).await, (0, 8));

    // A crash in the middle of the rebuild: the next start, held before
    // everything, still drops them when it reads their files one by one,
    assert!(sb.cache_dir().join(".preloadd-rebuild").exists());
    d.kill9();
    let gate = hold_at(&sb, 0);
    let d = start(&sb, &up, "", Some(&gate));
    wait_scanned(&d, 0).await;
    assert_eq!(hits(&d, &up, &tagged[1]).await, (0, 8));
    assert_eq!(hits(&d, &up, &prefixed[1]).await, (0, 8));
    // and when the scan reads them.
    std::fs::remove_file(&gate).expect("open the gate");
    rebuilt(&d);
    assert_eq!(hits(&d, &up, &tagged[2]).await, (0, 8));
    assert_eq!(hits(&d, &up, &prefixed[2]).await, (0, 8));
    assert_eq!(hits(&d, &up, &kept[..8]).await, (8, 0), "the rest is kept");
    assert!(!sb.cache_dir().join(".preloadd-rebuild").exists(), "spent");

    // Another crash and a whole rebuild: still dropped.
    d.kill9();
    let d = start(&sb, &up, "", None);
    rebuilt(&d);
    assert_eq!(hits(&d, &up, &tagged[3]).await, (0, 8));
    assert_eq!(hits(&d, &up, &prefixed[3]).await, (0, 8));
    assert_eq!(hits(&d, &up, &kept[8..]).await, (8, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_torn_file_is_never_served_by_a_lookup_or_the_rebuild() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = start(&sb, &up, "", None);
    let mut files = Vec::new();
    for page in ["/_preload/torn-a", "/_preload/torn-b"] {
        let before = snapshot_files(&sb.cache_dir());
        warm(&d, &[page]).await;
        let new: Vec<PathBuf> = snapshot_files(&sb.cache_dir())
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        assert_eq!(new.len(), 1);
        files.push(new[0].clone());
    }
    d.kill9();
    let mut torn = Vec::new();
    for file in &files {
        let len = std::fs::metadata(file).expect("file").len();
        torn.push(len - 3);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .expect("open");
        f.set_len(len - 3).expect("tear");
    }

    let gate = hold_at(&sb, 0);
    let d = start(&sb, &up, "", Some(&gate));
    wait_scanned(&d, 0).await;
    let a = vec!["/_preload/torn-a".to_string()];
    assert_eq!(hits(&d, &up, &a).await, (0, 1), "read, found torn, fetched");
    // Removed (the refetch may be kept in its place, whole).
    let is_torn = |i: usize| std::fs::metadata(&files[i]).is_ok_and(|m| m.len() == torn[i]);
    assert!(!is_torn(0), "the torn file is gone");
    std::fs::remove_file(&gate).expect("open the gate");
    rebuilt(&d);
    assert!(!files[1].exists(), "removed by the scan");
    assert!(!is_torn(1));
    let b = vec!["/_preload/torn-b".to_string()];
    assert_eq!(hits(&d, &up, &b).await, (0, 1));
    // (A refetch during the rebuild is kept only where it can evict a
    // known snapshot: here there was none.)
    get(d.main, &a[0], &[]).await;
    assert_eq!(
        hits(&d, &up, &a).await,
        (1, 0),
        "kept once the index is whole"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn max_size_holds_while_the_index_is_rebuilt() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let cache = "max_size = \"100KiB\"";
    let d = start(&sb, &up, cache, None);
    let old = pages("/_preload/big/", 5);
    let old: Vec<String> = old.iter().map(|p| format!("{p}?size=20000")).collect();
    warm_all(&d, &[&old]).await;
    d.kill9();
    let on_disk = |sb: &Sandbox| -> u64 {
        snapshot_files(&sb.cache_dir())
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum()
    };
    let full = on_disk(&sb);
    assert!(full > 75 * 1024, "{full}: the cache is nearly full");

    let gate = hold_at(&sb, 0);
    let d = start(&sb, &up, cache, Some(&gate));
    wait_scanned(&d, 0).await;
    // Nothing known can make room: the new pages are passed on.
    let new = pages("/_preload/new/", 3);
    let new: Vec<String> = new.iter().map(|p| format!("{p}?size=20000")).collect();
    for page in &new {
        let reply = get(d.main, page, &[]).await;
        assert_eq!(reply.status, 200);
        assert_ne!(reply.cache(), "HIT");
        assert!(on_disk(&sb) <= 100 * 1024, "{} bytes", on_disk(&sb));
    }
    assert_eq!(hits(&d, &up, &new[..1]).await, (0, 1), "not kept");
    // An old page read from its file is known: a new page evicts it. (The
    // last one: the first was evicted before the crash.)
    let last = &old[4..];
    assert_eq!(hits(&d, &up, last).await, (1, 0));
    get(d.main, &new[0], &[]).await;
    assert_eq!(hits(&d, &up, &new[..1]).await, (1, 0), "kept now");
    assert!(on_disk(&sb) <= 100 * 1024, "{} bytes", on_disk(&sb));
    assert_eq!(hits(&d, &up, last).await, (0, 1), "evicted");

    std::fs::remove_file(&gate).expect("open the gate");
    rebuilt(&d);
    assert!(on_disk(&sb) <= 100 * 1024, "{} bytes", on_disk(&sb));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_drop_during_the_rebuild_reaches_the_files_not_scanned_yet() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let grace = "grace = \"1h\"";
    let d = start(&sb, &up, grace, None);
    let soft: Vec<Vec<String>> = (0..3)
        .map(|g| pages_with(&format!("/_preload/s{g}/"), 8, "?tags=s"))
        .collect();
    let kept = pages("/_preload/sk/", 8);
    for group in &soft {
        warm_all(&d, &[group]).await;
    }
    warm_all(&d, &[&kept]).await;
    d.kill9();

    let gate = hold_at(&sb, 0);
    let d = start(&sb, &up, grace, Some(&gate));
    wait_scanned(&d, 0).await;
    let reply = invalidate(admin(&d), &[FORM], "tag=s&soft=1").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let stale = |d: &Daemon, group: &Vec<String>| {
        let (d, group) = (d.main, group.clone());
        async move {
            for t in &group {
                assert_eq!(get(d, t, &[]).await.cache(), "STALE", "{t}");
            }
        }
    };
    // Read from their files one by one, then by the scan: STALE.
    stale(&d, &soft[0]).await;
    std::fs::remove_file(&gate).expect("open the gate");
    rebuilt(&d);
    stale(&d, &soft[1]).await;
    assert_eq!(hits(&d, &up, &kept).await, (8, 0));
    // The soft-mark log holds them now: a crash and a whole rebuild later.
    d.kill9();
    let d = start(&sb, &up, grace, None);
    rebuilt(&d);
    stale(&d, &soft[2]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_caught_up_at_start_drops_the_files_not_scanned_yet() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let d = start(&sb, &up, "", None);
    let named: Vec<Vec<String>> = (0..2)
        .map(|g| pages(&format!("/_preload/c/{g}/"), 8))
        .collect();
    let other = pages("/_preload/d/", 8);
    warm_all(&d, &[&named[0], &named[1], &other]).await;
    d.kill9();
    // A yearly schedule whose one firing this year is two seconds after
    // now, and the daemon down for three.
    let fire = chrono::DateTime::<chrono::Utc>::from(sb.clock_now()) + chrono::Duration::seconds(2);
    let cron = fire.format("%S %M %H %d %m *").to_string();
    sb.advance_clock(std::time::Duration::from_millis(3000));
    let schedule = format!("[[schedule]]\ncron = \"{cron}\"\nprefixes = [\"/c/\"]\n");

    let gate = hold_at(&sb, 0);
    let d = start_with(&sb, &up, "", &schedule, Some(&gate));
    wait_scanned(&d, 0).await;
    assert_eq!(
        hits(&d, &up, &named[0]).await,
        (0, 8),
        "read from their files"
    );
    std::fs::remove_file(&gate).expect("open the gate");
    rebuilt(&d);
    assert_eq!(hits(&d, &up, &named[1]).await, (0, 8), "read by the scan");
    assert_eq!(hits(&d, &up, &other).await, (8, 0), "not named");
}
