//! Stopping: a second SIGTERM or SIGINT during the drain exits at once, and
//! what was kept or acknowledged before it is still so at the next start.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::webhook::{admin, count, eventually, invalidate, warm, JSON};
use crate::support::{config_text, get, Daemon, Sandbox, Upstream};

/// The exit code of a stop cut short (`shutdown::FORCED_EXIT`).
const FORCED_EXIT: i32 = 1;

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigterm_during_the_drain_exits_at_once_and_loses_nothing() {
    cut_short("TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_twice_exits_at_once_and_loses_nothing() {
    cut_short("INT").await;
}

/// Stops a daemon with `signal` while a request is held in flight, sends
/// `signal` again, and checks the exit and the next start.
async fn cut_short(signal: &str) {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    // A drain that would last a minute: only the second signal ends it.
    let text = config_text(&up.url(), &sb.cache_dir(), "", "")
        .replace(
            "admin_listen = \"127.0.0.1:0\"\n",
            "admin_listen = \"127.0.0.1:0\"\nshutdown_timeout = \"60s\"\n",
        )
        .replace("fetch_timeout = \"5s\"", "fetch_timeout = \"60s\"");
    let mut d = Daemon::start(sb.dir.path(), &text);
    warm(&d, &["/_preload/kept/", "/_preload/dropped/"]).await;
    let reply = invalidate(admin(&d), &[JSON], r#"{"urls": ["/dropped/"]}"#).await;
    assert_eq!((reply.status, count(&reply)), (200, 1), "{}", reply.text());

    // A request in flight, its snapshot fetch held by the app.
    let mut held = TcpStream::connect(d.main).await.expect("connect");
    held.write_all(b"GET /_preload/held/?hold=1 HTTP/1.1\r\nHost: test.local\r\n\r\n")
        .await
        .expect("send");
    assert!(
        eventually(|| up.count_of("/held/?hold=1") == 1).await,
        "the held fetch reached the app"
    );

    d.signal("TERM");
    assert!(d
        .wait_for_log(&["stopping: draining connections"])
        .is_some());
    let main = d.main;
    let closed = eventually(|| std::net::TcpStream::connect(main).is_err()).await;
    assert!(closed, "the drain stopped accepting");
    assert_eq!(
        d.wait_exit(Duration::ZERO),
        None,
        "it waits for the held request"
    );

    d.signal(signal);
    let status = d.wait_exit(Duration::from_secs(5));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(FORCED_EXIT),
        "the second SIG{signal} exits at once with code {FORCED_EXIT}, not after shutdown_timeout"
    );
    // Every line up to the exit (the reader ends with the daemon's stderr).
    let mut rest = Vec::new();
    while let Ok(line) = d.log.recv_timeout(Duration::from_secs(5)) {
        rest.push(line);
    }
    let said: Vec<&String> = rest
        .iter()
        .filter(|l| l.contains("second signal during the drain"))
        .collect();
    assert_eq!(said.len(), 1, "one line says so: {rest:#?}");
    assert!(said[0].contains(&format!("SIG{signal}")), "{}", said[0]);
    assert!(
        !rest.iter().any(|l| l.contains("index checkpoint written")),
        "{rest:#?}"
    );
    let mut cut = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), held.read_to_end(&mut cut)).await;
    assert!(cut.is_empty(), "the held request is cut off, unanswered");
    up.release();
    drop(d);

    // No checkpoint: the next start reads the headers (in the background,
    // while it serves), and finds what the first daemon kept and not what
    // it dropped.
    assert!(!sb.cache_dir().join(".preloadd-index").exists());
    let d = Daemon::start(sb.dir.path(), &text);
    let mut health = serde_json::Value::Null;
    for _ in 0..100 {
        let reply = get(admin(&d), "/_preloadd/health", &[]).await;
        health = serde_json::from_slice(&reply.body).expect("health JSON");
        if health["rebuilding"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(health["snapshots"], 1, "{health}");
    assert_eq!(get(d.main, "/_preload/kept/", &[]).await.cache(), "HIT");
    assert_eq!(get(d.main, "/_preload/dropped/", &[]).await.cache(), "MISS");
    assert_eq!(up.count_of("/kept/"), 1);
    assert_eq!(up.count_of("/dropped/"), 2);
    assert_eq!(
        d.terminate().code(),
        Some(0),
        "a single SIGTERM still drains"
    );
}
