//! What is not kept: every PASS reason, each answered from the app and
//! fetched again next time, and the fetch's anonymity.

use crate::support::metrics::scrape;
use crate::support::{get, sized_body, RawUpstream, Sandbox, Upstream};

/// Fetches `target` twice through the prefix; both must be PASS with
/// `reason`, and both must reach the app.
async fn assert_pass(d: &crate::support::Daemon, up: &Upstream, target: &str, reason: &str) {
    let before = up.count();
    for _ in 0..2 {
        let reply = get(d.main, &format!("/_preload{target}"), &[]).await;
        assert_eq!(reply.cache(), "PASS", "{target}");
        assert_eq!(reply.header("x-preload-reason"), Some(reason), "{target}");
    }
    assert_eq!(
        up.count() - before,
        2,
        "{target} reached the app both times"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_uncacheable_answer_passes_with_its_reason() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_cache(&up, "max_object_size = \"64KiB\"", "");

    assert_pass(&d, &up, "/a?status=404", "status").await;
    assert_pass(&d, &up, "/a?status=302", "status").await;
    assert_pass(&d, &up, "/a?cc=no-store", "no-store").await;
    assert_pass(&d, &up, "/a?cc=no-cache", "no-cache").await;
    assert_pass(&d, &up, "/a?cc=private", "private").await;
    assert_pass(&d, &up, "/a?vary=*", "vary").await;
    assert_pass(&d, &up, "/a?cookie=1", "set-cookie").await;
    assert_pass(&d, &up, "/a?size=70000", "too-large").await;
    assert_pass(&d, &up, "/a?cdn=no-store&cc=public", "no-store").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_too_large_page_is_streamed_whole() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_cache(&up, "max_object_size = \"64KiB\"", "");
    let reply = get(d.main, "/_preload/big?size=300000", &[]).await;
    assert_eq!(reply.header("x-preload-reason"), Some("too-large"));
    assert_eq!(reply.body.len(), 300_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_too_large_page_without_a_length_is_streamed_whole() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let cache = "max_object_size = \"64KiB\"";
    let text = crate::support::config_text(&app.url(), &sb.cache_dir(), cache, "");
    let d = crate::support::Daemon::start(sb.dir.path(), &text);
    // Found too large while reading (the prefix read, then the rest), and
    // the next time streamed from its first byte: whole both times.
    for _ in 0..2 {
        let reply = get(d.main, "/_preload/big?chunked=1&size=300000", &[]).await;
        assert_eq!(reply.cache(), "PASS");
        assert_eq!(reply.header("x-preload-reason"), Some("too-large"));
        assert!(reply.body == sized_body(300_000), "the whole body");
    }
    assert_eq!(app.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_found_too_large_is_kept_once_it_fits_again() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let cache = "max_object_size = \"64KiB\"";
    let text = crate::support::config_text(&app.url(), &sb.cache_dir(), cache, "");
    let d = crate::support::Daemon::start(sb.dir.path(), &text);
    // 300 kB for the first two requests, then 100 bytes.
    let target = "/_preload/p?chunked=1&size=300000&small_after=2";
    let seen: Vec<(String, usize)> = {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let reply = get(d.main, target, &[]).await;
            seen.push((reply.cache().to_string(), reply.body.len()));
        }
        seen
    };
    let expected = [
        ("PASS", 300_000), // found too large while reading
        ("PASS", 300_000), // streamed from its first byte
        ("PASS", 100),     // still streamed, seen to fit
        ("MISS", 100),     // read and kept again
        ("HIT", 100),
    ];
    let expected: Vec<(String, usize)> =
        expected.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    assert_eq!(seen, expected);
    assert_eq!(app.count(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn cdn_cache_control_overrides_cache_control() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let target = "/_preload/cdn?cdn=max-age=60&cc=no-store";
    assert_eq!(get(d.main, target, &[]).await.cache(), "MISS");
    let hit = get(d.main, target, &[]).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(
        hit.header("cache-control"),
        Some("no-store"),
        "passed on as the app sent it"
    );
    // A CDN-Cache-Control that does not parse is ignored: Cache-Control decides.
    assert_pass(&d, &up, "/bad?cdn=max-age=abc&cc=no-store", "no-store").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn strip_set_cookie_keeps_the_page_without_its_cookie() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_cache(&up, "strip_set_cookie = true", "");
    let miss = get(d.main, "/_preload/c?cookie=1", &[]).await;
    assert_eq!(miss.cache(), "MISS");
    let hit = get(d.main, "/_preload/c?cookie=1", &[]).await;
    assert_eq!(hit.cache(), "HIT");
    assert!(miss.header("set-cookie").is_none() && hit.header("set-cookie").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_error_is_counted_then_pages_are_passed_on() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    // The cache dir turns into a file: every write fails from now on.
    std::fs::remove_dir_all(sb.cache_dir()).unwrap();
    std::fs::write(sb.cache_dir(), b"not a directory").unwrap();
    let first = get(d.main, "/_preload/w", &[]).await;
    assert_eq!(
        (first.status, first.cache()),
        (200, "MISS"),
        "answered before the write"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scrape(&d).await.get("preloadd_write_errors_total") < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no write error counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The disk refused the last write: answered after the write again.
    let reply = get(d.main, "/_preload/w", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.cache(), "PASS");
    assert_eq!(reply.header("x-preload-reason"), Some("write-error"));
    assert_eq!(up.count(), 2, "not kept, so fetched again");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_write_error_fail_answers_503() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_cache(&up, "on_write_error = \"fail\"", "");
    std::fs::remove_dir_all(sb.cache_dir()).unwrap();
    std::fs::write(sb.cache_dir(), b"not a directory").unwrap();
    assert_eq!(get(d.main, "/_preload/w", &[]).await.status, 503);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_fetches_are_anonymous() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(
        &up,
        "[[route]]\nmatch = \"/i18n/*\"\nvary = [\"Accept-Language\"]\n",
    );
    let visitor = [
        "Cookie: session=secret",
        "Authorization: Bearer x",
        "Accept-Language: de",
        "X-Custom: 1",
    ];

    get(d.main, "/_preload/anon", &visitor).await;
    let h = up.last_headers();
    assert!(
        h.get("cookie").is_none()
            && h.get("authorization").is_none()
            && h.get("x-custom").is_none()
    );
    assert!(
        h.get("accept-language").is_none(),
        "not a vary header of this route"
    );
    assert_eq!(h.get("x-preload-fetch").unwrap(), "1");
    assert!(h
        .get("user-agent")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("preloadd/"));

    get(d.main, "/_preload/i18n/page", &visitor).await;
    let h = up.last_headers();
    assert_eq!(
        h.get("accept-language").unwrap(),
        "de",
        "the route's vary header is forwarded"
    );
    assert!(h.get("cookie").is_none());
}

/// Values taking turns on one target: each gets its own page, never the
/// key the daemon resolved for the other (`key::KeyCache`).
#[tokio::test(flavor = "multi_thread")]
async fn vary_values_taking_turns_each_get_their_own_page() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(
        &up,
        "[[route]]\nmatch = \"/i18n/*\"\nvary = [\"Accept-Language\"]\n",
    );
    let langs = [
        &["Accept-Language: de"][..],
        &["Accept-Language: fr"][..],
        &[][..],
        &["Accept-Language: de", "Accept-Language: fr"][..],
    ];
    let mut bodies = Vec::new();
    for headers in langs {
        let first = get(d.main, "/_preload/i18n/t", headers).await;
        assert_eq!(first.cache(), "MISS", "{headers:?}");
        bodies.push(first.body);
    }
    for _ in 0..2 {
        for (headers, body) in langs.iter().zip(&bodies) {
            let again = get(d.main, "/_preload/i18n/t", headers).await;
            assert_eq!(again.cache(), "HIT", "{headers:?}");
            assert_eq!(&again.body, body, "{headers:?}");
        }
    }
    assert_eq!(up.count(), langs.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn vary_headers_are_part_of_the_key() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(
        &up,
        "[[route]]\nmatch = \"/i18n/*\"\nvary = [\"Accept-Language\"]\n",
    );
    let de = get(d.main, "/_preload/i18n/x", &["Accept-Language: de"]).await;
    let fr = get(d.main, "/_preload/i18n/x", &["Accept-Language: fr"]).await;
    assert_eq!((de.cache(), fr.cache()), ("MISS", "MISS"));
    assert_eq!(
        get(d.main, "/_preload/i18n/x", &["Accept-Language: de"])
            .await
            .body,
        de.body
    );
    assert_eq!(up.count(), 2);
}
