//! A HIT for a snapshot that is not in memory (`memory = "0"`) reads its
//! file off the runtime's workers: a read that hangs holds up that one
//! request, never the other connections a worker serves.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{config_text, get, sized_body, Daemon, Sandbox, Upstream};

/// The snapshot file under `cache` whose content holds `needle` (the
/// snapshot keeps its target inside).
fn snapshot_file(cache: &Path, needle: &[u8]) -> PathBuf {
    let dirs = std::fs::read_dir(cache).expect("read cache dir");
    for fanout in dirs.map_while(Result::ok) {
        if !fanout.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(fanout.path()).expect("read fan-out dir") {
            let path = file.expect("dir entry").path();
            let bytes = std::fs::read(&path).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return path;
            }
        }
    }
    panic!(
        "no snapshot file holds {:?}",
        String::from_utf8_lossy(needle)
    );
}

/// Replaces `path` by a FIFO: whoever opens it for reading waits for a
/// writer, then reads until the writer closes, as a read from a sick disk
/// would hang.
fn make_fifo(path: &Path) {
    std::fs::remove_file(path).expect("remove snapshot file");
    let c_path = CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    // SAFETY: `c_path` is a valid NUL-terminated string for the call.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

/// The FIFO's write end, once a reader has it open (a non-blocking open for
/// writing fails until then). Polls for up to 10 s.
async fn writer_once_read(path: &Path) -> File {
    for _ in 0..500 {
        let opened = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
        if let Ok(file) = opened {
            return file;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the daemon never opened the snapshot file");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_file_read_does_not_stall_other_hits() {
    const A: &str = "/_preload/a?size=3000";
    const B: &str = "/_preload/b?size=2048";
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let cache = sb.cache_dir();
    let config_path = sb.dir.path().join("preload.toml");
    let text = config_text(&up.url(), &cache, "memory = \"0\"", "");
    std::fs::write(&config_path, text).expect("write config");
    // One worker: a read blocking it would stall every connection.
    let d = Daemon::start_env(&config_path, None, &[("TOKIO_WORKER_THREADS", "1")]);

    assert_eq!(get(d.main, A, &[]).await.cache(), "MISS");
    assert_eq!(get(d.main, B, &[]).await.cache(), "MISS");
    d.wait_kept(2).await;
    let hit = get(d.main, B, &[]).await;
    assert_eq!(hit.cache(), "HIT", "read from its file");
    assert_eq!(hit.body, sized_body(2048));

    let a_file = snapshot_file(&cache, b"/a?size=3000");
    make_fifo(&a_file);
    let addr = d.main;
    let stuck = tokio::spawn(async move { get(addr, A, &[]).await });
    // Now the daemon reads A's file and waits for bytes that do not come.
    let mut writer = writer_once_read(&a_file).await;

    let other = tokio::time::timeout(Duration::from_secs(5), get(d.main, B, &[])).await;

    // Let the stuck read end (on bytes that are no snapshot) before
    // asserting, so that the daemon can always be stopped.
    writer.write_all(b"not a snapshot").expect("write to FIFO");
    drop(writer);
    let other = other.expect("a HIT of another page while a file read hangs");
    assert_eq!(other.cache(), "HIT");
    assert_eq!(other.body, sized_body(2048));

    // The unreadable file is dropped and the page fetched again.
    let a = stuck.await.expect("the stuck request");
    assert_eq!(a.cache(), "MISS");
    assert_eq!(a.body, sized_body(3000));
    assert_eq!(up.count_of("/a?size=3000"), 2);
}
