//! A MISS is answered before its snapshot is written: the leader's visitor
//! and the followers get it as soon as the app's body is in and the keep
//! decision is made; the variants, the fsyncs and the rename come after.
//! A request arriving before the publish joins the flight and is answered
//! from it (one upstream request), unless a purge came in between; a
//! crash before the publish leaves no file.
//!
//! The write is held between the answer and the publish by the daemon's
//! test-only knob `PRELOADD_TEST_HOLD_WRITES` (src/miss/land.rs): each
//! write, once its temp file is written and fsynced, waits for one byte
//! from a FIFO the test holds.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::metrics::{scrape, scrape_until};
use crate::support::webhook::{admin, count, invalidate, JSON};
use crate::support::{config_text, get, Daemon, Reply, Sandbox, Upstream};

const HELD: &str = "test: snapshot write held";

const WRITES_BEHIND: &str = "preloadd_writes_behind";

/// A daemon whose snapshot writes wait on the FIFO it returns.
fn daemon_holding_writes(sb: &Sandbox, up: &Upstream, cache: &str) -> (Daemon, PathBuf) {
    let fifo = sb.dir.path().join("hold.fifo");
    if !fifo.exists() {
        let c_path = CString::new(fifo.as_os_str().as_bytes()).expect("path without NUL");
        // SAFETY: `c_path` is a valid NUL-terminated string for the call.
        let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
    }
    let config = sb.dir.path().join("preload.toml");
    std::fs::write(&config, config_text(&up.url(), &sb.cache_dir(), cache, "")).expect("config");
    let hold = fifo.to_str().expect("UTF-8 path");
    let d = Daemon::start_env(&config, None, &[("PRELOADD_TEST_HOLD_WRITES", hold)]);
    (d, fifo)
}

/// Lets `n` held writes go on (each reads one byte). Opening the FIFO for
/// writing waits for the daemon to have it open for reading: a blocking
/// open, off the runtime's threads.
async fn release(fifo: &Path, n: usize) {
    let fifo = fifo.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut writer = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .expect("open the FIFO for writing");
        writer.write_all(&vec![b'+'; n]).expect("write to the FIFO");
    })
    .await
    .expect("release task");
}

/// A GET that must be answered while the write is held: bounded, so that
/// an answer waiting for the write fails the test instead of hanging it.
async fn answered(d: &Daemon, target: &str) -> Reply {
    tokio::time::timeout(Duration::from_secs(10), get(d.main, target, &[]))
        .await
        .unwrap_or_else(|_| panic!("{target} was not answered while its write was held"))
}

/// Files under `dir`, recursively, by name.
fn names_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(names_under(&path));
        } else if let Some(name) = path.file_name() {
            out.push(name.to_string_lossy().into_owned());
        }
    }
    out
}

fn snapshot_files(dir: &Path) -> usize {
    names_under(dir).iter().filter(|n| n.len() == 64).count()
}

fn temp_files(dir: &Path) -> usize {
    names_under(dir)
        .iter()
        .filter(|n| n.starts_with(".tmp-"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_miss_is_answered_before_its_write_and_joiners_get_it_from_memory() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let (d, fifo) = daemon_holding_writes(&sb, &up, "");
    let page = "/_preload/p?size=5000";

    let miss = answered(&d, page).await;
    assert_eq!(miss.cache(), "MISS");
    assert!(d.wait_for_log(&[HELD]).is_some(), "the write is held");
    assert_eq!(snapshot_files(&sb.cache_dir()), 0, "nothing published yet");
    assert_eq!(
        scrape(&d).await.get(WRITES_BEHIND),
        1.0,
        "one page waits for its write"
    );

    // Before the publish: answered from the flight, without the app.
    let joined = answered(&d, page).await;
    assert_eq!(joined.cache(), "HIT");
    assert_eq!(joined.body, miss.body);
    let only_cached = tokio::time::timeout(
        Duration::from_secs(10),
        get(d.main, page, &["Cache-Control: only-if-cached"]),
    )
    .await
    .expect("answered");
    assert_eq!((only_cached.status, only_cached.cache()), (200, "HIT"));
    assert_eq!(up.count(), 1);

    release(&fifo, 1).await;
    d.wait_written(page).await;
    scrape_until(&d, |s| s.get(WRITES_BEHIND) == 0.0).await;
    let hit = get(d.main, page, &["Accept-Encoding: br"]).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(
        hit.header("content-encoding"),
        Some("br"),
        "the variants come with the write"
    );
    assert_eq!(up.count(), 1, "one upstream request in all");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_herd_is_answered_with_the_leader_before_the_write() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let (d, fifo) = daemon_holding_writes(&sb, &up, "");
    let page = "/_preload/herd?delay=300";
    let main = d.main;
    let herd: Vec<_> = (0..20)
        .map(|_| tokio::spawn(async move { get(main, page, &[]).await }))
        .collect();
    for visitor in herd {
        let reply = tokio::time::timeout(Duration::from_secs(10), visitor)
            .await
            .expect("answered while the write is held")
            .expect("visitor task");
        assert_eq!((reply.status, reply.cache()), (200, "MISS"));
    }
    assert_eq!(up.count(), 1, "one fetch for the herd");
    assert_eq!(snapshot_files(&sb.cache_dir()), 0, "and not yet written");
    release(&fifo, 1).await;
    d.wait_written(page).await;
    assert_eq!(get(d.main, page, &[]).await.cache(), "HIT");
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purge_before_the_publish_stops_it_and_the_next_request_fetches_anew() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let (d, fifo) = daemon_holding_writes(&sb, &up, "");
    let page = "/_preload/purged";

    let first = answered(&d, page).await;
    assert_eq!(first.cache(), "MISS");
    assert!(d.wait_for_log(&[HELD]).is_some(), "the write is held");
    let purge = invalidate(admin(&d), &[JSON], r#"{"urls": ["/purged"]}"#).await;
    assert_eq!(purge.status, 200, "{}", purge.text());
    assert_eq!(count(&purge), 1, "the page being written is dropped");

    // Acknowledged: never served again, though its write is still held.
    let again = answered(&d, page).await;
    assert_eq!(again.cache(), "MISS");
    assert_eq!(up.count(), 2, "fetched anew");
    assert_ne!(again.body, first.body);
    assert!(d.wait_for_log(&[HELD]).is_some(), "the new write is held");

    // Both writes go on: the purged one is refused at the gate.
    release(&fifo, 2).await;
    d.wait_written(page).await;
    let hit = get(d.main, page, &[]).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(hit.body, again.body, "the new page, never the purged one");
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill9_between_answer_and_publish_leaves_no_file_and_the_page_is_fetched_again() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let cache = sb.cache_dir();
    let (d, _fifo) = daemon_holding_writes(&sb, &up, "");
    let page = "/_preload/k?size=40000";

    assert_eq!(answered(&d, page).await.cache(), "MISS");
    assert!(d.wait_for_log(&[HELD]).is_some(), "the write is held");
    // Held after its temp file was written and fsynced, before the rename.
    assert_eq!(temp_files(&cache), 1, "{:?}", names_under(&cache));
    assert_eq!(snapshot_files(&cache), 0);
    d.kill9();

    let config = sb.dir.path().join("preload.toml");
    let d = Daemon::start_with(&config);
    // After a crash the index is rebuilt in the background, and the
    // rebuild's scan removes what a write left behind.
    let cleaned = crate::support::webhook::eventually(|| temp_files(&cache) == 0).await;
    assert!(cleaned, "the temp file is removed by the rebuild");
    assert_eq!(snapshot_files(&cache), 0, "and nothing was published");
    let reply = get(d.main, page, &[]).await;
    assert_eq!(reply.cache(), "MISS");
    assert_eq!(reply.body, crate::support::sized_body(40000));
    assert_eq!(up.count(), 2, "fetched again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_stop_writes_what_was_answered_before_the_checkpoint() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let (mut d, fifo) = daemon_holding_writes(&sb, &up, "");
    let page = "/_preload/stop";

    assert_eq!(answered(&d, page).await.cache(), "MISS");
    assert!(d.wait_for_log(&[HELD]).is_some(), "the write is held");
    d.signal("TERM");
    release(&fifo, 1).await;
    let status = d
        .wait_exit(Duration::from_secs(20))
        .expect("stopped once the write is done");
    assert!(status.success(), "{status:?}");

    let config = sb.dir.path().join("preload.toml");
    let d = Daemon::start_with(&config);
    assert_eq!(get(d.main, page, &[]).await.cache(), "HIT", "kept");
    assert_eq!(up.count(), 1);
}
