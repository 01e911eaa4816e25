//! What a visitor sees when the app fails: a 502 / 504 with a short fixed
//! text, never the error's detail (addresses, system calls, hyper's words);
//! that goes to the log, with the target and the app's address.

use crate::support::{dead_app, get, Reply, Sandbox, Upstream};

/// Words of the error chain that must stay in the log.
const INTERNALS: [&str; 5] = ["tcp", "connect", "127.0.0.1", "error trying", "refused"];

fn assert_fixed(reply: &Reply, status: u16, text: &str) {
    assert_eq!(reply.status, status);
    assert_eq!(reply.text(), format!("{text}\n"));
    let lower = reply.text().to_lowercase();
    for word in INTERNALS {
        assert!(!lower.contains(word), "{word:?} in {:?}", reply.text());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_app_is_upstream_unavailable_on_preload_urls_and_pass_through() {
    let sb = Sandbox::new();
    let app = dead_app();
    let d = sb.daemon_url(&app, "");
    for (target, logged) in [
        ("/_preload/x?a=1", ["snapshot fetch failed", "/x?a=1"]),
        ("/plain", ["pass-through failed", "/plain"]),
    ] {
        assert_fixed(&get(d.main, target, &[]).await, 502, "upstream unavailable");
        let line = d.wait_for_log(&logged).expect("the failure is logged");
        assert!(line.contains(app.as_str()), "the app's address: {line}");
        assert!(
            line.contains("tcp connect error"),
            "the error chain: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_app_is_upstream_timeout_on_a_preload_url() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let text = crate::support::config_text(&up.url(), &sb.cache_dir(), "", "")
        .replace("fetch_timeout = \"5s\"", "fetch_timeout = \"300ms\"");
    let d = crate::support::Daemon::start(sb.dir.path(), &text);
    assert_fixed(
        &get(d.main, "/_preload/slow?delay=2000", &[]).await,
        504,
        "upstream timeout",
    );
    let line = d
        .wait_for_log(&["snapshot fetch failed", "/slow?delay=2000"])
        .expect("the failure is logged");
    assert!(line.contains(&up.url()), "the app's address: {line}");
}
