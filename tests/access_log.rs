//! The log lines of docs/operations.md ("Logging", "Access log") through
//! the real daemon: one access line per request with the documented
//! fields, in text and in JSON; none when `access_log` is off; one line
//! per upstream fetch and per invalidation.

use std::time::Duration;

use crate::support::webhook::{admin, invalidate, JSON};
use crate::support::{config_text, get, Daemon, Sandbox, Upstream};

/// A daemon with `access_log = access`, and `args` on its command line.
fn daemon(sb: &Sandbox, up: &Upstream, access: bool, args: &[&str]) -> Daemon {
    let text = config_text(&up.url(), &sb.cache_dir(), "", "").replacen(
        "[server]\n",
        &format!("[server]\naccess_log = {access}\n"),
        1,
    );
    let path = sb.dir.path().join("preload.toml");
    std::fs::write(&path, text).unwrap();
    Daemon::start_args(&path, None, &[], args)
}

/// `key=value` fields of a text log line, after its target.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hit_gets_one_access_line_with_the_documented_fields() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = daemon(&sb, &up, true, &[]);
    assert_eq!(
        get(d.main, "/_preload/a?size=100", &[]).await.cache(),
        "MISS"
    );
    let hit = get(d.main, "/_preload/a?size=100", &[]).await;
    assert_eq!(hit.cache(), "HIT");

    let fetch = d.wait_for_log(&["upstream fetch"]).expect("a fetch line");
    assert!(fetch.contains("preloadd::fetch"), "{fetch}");
    for (key, value) in [
        ("target", "/a?size=100"),
        ("status", "200"),
        ("bytes", "100"),
        ("outcome", "kept"),
        ("reason", "-"),
    ] {
        assert_eq!(field(&fetch, key), value, "{fetch}");
    }
    let miss = d
        .wait_for_log(&["preloadd::access"])
        .expect("the MISS line");
    assert_eq!(field(&miss, "cache"), "MISS", "{miss}");
    let line = d.wait_for_log(&["preloadd::access"]).expect("the HIT line");
    assert!(line.contains(" INFO preloadd::access: "), "{line}");
    for (key, value) in [
        ("client", "127.0.0.1"),
        ("method", "GET"),
        ("target", "/_preload/a?size=100"),
        ("status", "200"),
        ("bytes", "100"),
        ("cache", "HIT"),
        ("reason", "-"),
    ] {
        assert_eq!(field(&line, key), value, "{line}");
    }
    let ms: f64 = field(&line, "ms").parse().expect("ms is a number");
    assert!((0.0..10_000.0).contains(&ms), "{line}");
    // The time is the line's own, first.
    let time = line.split(' ').next().unwrap();
    assert!(time.ends_with('Z') && time.contains('T'), "{line}");

    let pass = get(d.main, "/_preload/p?cc=private", &[]).await;
    assert_eq!(pass.cache(), "PASS");
    let fetch = d.wait_for_log(&["upstream fetch"]).expect("the PASS fetch");
    assert_eq!(field(&fetch, "outcome"), "passed", "{fetch}");
    assert_eq!(field(&fetch, "reason"), "private", "{fetch}");
    let line = d
        .wait_for_log(&["preloadd::access"])
        .expect("the PASS line");
    assert_eq!(field(&line, "cache"), "PASS", "{line}");
    assert_eq!(field(&line, "reason"), "private", "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_log_format_json_the_access_line_is_json() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = daemon(&sb, &up, true, &["--log-format", "json"]);
    get(d.main, "/_preload/j?size=10", &[]).await;
    assert_eq!(get(d.main, "/_preload/j?size=10", &[]).await.cache(), "HIT");
    let line = loop {
        let line = d
            .wait_for_log(&["preloadd::access"])
            .expect("an access line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        if v["fields"]["cache"] == "HIT" {
            break v;
        }
    };
    assert_eq!(line["target"], "preloadd::access");
    assert_eq!(line["level"], "INFO");
    assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    let f = &line["fields"];
    assert_eq!(f["client"], "127.0.0.1");
    assert_eq!(f["method"], "GET");
    assert_eq!(f["target"], "/_preload/j?size=10");
    assert_eq!(f["status"], 200);
    assert_eq!(f["bytes"], "10");
    assert_eq!(f["reason"], "-");
    assert!(f["ms"].as_f64().is_some(), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_access_log_requests_write_no_line() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = daemon(&sb, &up, false, &[]);
    get(d.main, "/_preload/one", &[]).await;
    get(d.main, "/_preload/one", &[]).await;
    // The access lines of the first two would come before this fetch's line.
    get(d.main, "/_preload/two", &[]).await;
    let mut seen = Vec::new();
    loop {
        let line = d
            .log
            .recv_timeout(Duration::from_secs(10))
            .expect("the second fetch's line");
        if line.contains("upstream fetch") && line.contains("target=/two") {
            break;
        }
        seen.push(line);
    }
    assert!(
        !seen.iter().any(|l| l.contains("preloadd::access")),
        "{seen:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalidation_is_one_line_with_its_source_selector_and_count() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = daemon(&sb, &up, false, &[]);
    get(d.main, "/_preload/a?tags=t", &[]).await;
    get(d.main, "/_preload/b?tags=t", &[]).await;
    let reply = invalidate(admin(&d), &[JSON], r#"{"tags": ["t"]}"#).await;
    assert_eq!(reply.status, 200);
    let line = d
        .wait_for_log(&["invalidation applied"])
        .expect("an invalidation line");
    assert_eq!(field(&line, "source"), "webhook", "{line}");
    assert_eq!(field(&line, "selector"), "\"tags=t\"", "{line}");
    assert_eq!(field(&line, "count"), "2", "{line}");
}
