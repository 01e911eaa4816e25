//! The rebuild after a crash while the daemon is out of file descriptors:
//! a file it cannot open now is not a bad file. Nothing is removed, and the
//! rebuild reads the cache dir again once descriptors are back.

use std::net::TcpStream;

use crate::rebuild::{hits, hold_at, pages, rebuilt, snapshot_files, start_with, warm_all};
use crate::support::daemon::config_text;
use crate::support::{Daemon, Sandbox, Upstream};

/// Descriptors the second daemon may hold: what it needs to start and
/// serve, and not many more.
const NOFILE: u64 = 64;

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_out_of_descriptors_removes_nothing_and_ends_once_they_are_back() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = start_with(&sb, &up, "", "", None);
    let old = pages("/_preload/fd/", 40);
    warm_all(&d, &[&old]).await;
    d.wait_kept(40).await;
    d.kill9();
    let files = snapshot_files(&sb.cache_dir()).len();
    assert_eq!(files, 40);

    // The rebuild waits at its gate, which it reads as open once it cannot
    // read the gate file any more: when the descriptors are gone.
    let gate = hold_at(&sb, 0);
    let config = sb.dir.path().join("preload.toml");
    std::fs::write(&config, config_text(&up.url(), &sb.cache_dir(), "", "")).expect("config");
    let gate_env = gate.display().to_string();
    let env = [("PRELOADD_TEST_REBUILD_GATE", gate_env.as_str())];
    let d = Daemon::start_limited(&config, &env, NOFILE);
    // Idle connections the daemon accepts, one descriptor each, until it
    // has none left (the ones beyond wait in its listen queue).
    let conns: Vec<TcpStream> = (0..NOFILE)
        .map(|_| TcpStream::connect(d.main).expect("connect"))
        .collect();
    let failed = d.wait_for_log(&["could not read part of the cache dir"]);
    assert!(failed.is_some(), "the rebuild ran out of descriptors");
    assert_eq!(
        snapshot_files(&sb.cache_dir()).len(),
        files,
        "a file it could not open is still there"
    );

    drop(conns);
    std::fs::remove_file(&gate).expect("open the gate");
    rebuilt(&d);
    assert_eq!(hits(&d, &up, &old).await, (40, 0), "every page kept");
}
