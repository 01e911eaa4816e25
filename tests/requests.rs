//! Requests refused before any upstream contact: 400, 405, 414, 431.

use crate::support::{get, request, send_raw, Sandbox, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn malformed_targets_get_400_and_never_reach_the_app() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let bad = [
        "/_preload//evil.example/x",
        "/_preload/http://evil.example/",
        "/_preload/a/../b",
        "/_preload/a/./b",
        "/_preload/a/%2e%2e/b",
        "/_preload/a/%2E/b",
        "/_preload/a/.%2E/b",
        "/_preload/a/%00b",
        "/_preload/a/%1fb",
        "/_preload/a/%7Fb",
        "/_preload/a/.%2F",
        "/_preload/a/..%2Fb",
        "/_preload/a/%5C",
        "/_preload/a/%5cb",
        "/_preload/a/%252e%252e/b",
        "/_preload/a?x=%00",
    ];
    for target in bad {
        let reply = get(d.main, target, &[]).await;
        assert_eq!(reply.status, 400, "{target}");
    }
    // Bytes no client should send: raw backslash, control characters, non-ASCII.
    for raw in [
        &b"/_preload/a\\b"[..],
        b"/_preload/a\x01b",
        b"/_preload/caf\xc3\xa9",
    ] {
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(raw);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let reply = send_raw(d.main, &req, false).await;
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(raw));
    }
    assert_eq!(up.count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_methods_under_the_prefix_get_405() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let reply = request(d.main, method, "/_preload/x", &[], b"").await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    }
    assert_eq!(up.count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_targets_get_414_and_large_heads_431() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let long = format!("/_preload/{}", "a".repeat(8200));
    assert_eq!(get(d.main, &long, &[]).await.status, 414);
    let just_fits = format!("/_preload/{}", "a".repeat(8192 - 10));
    assert_eq!(get(d.main, &just_fits, &[]).await.status, 200);

    let big_header = format!("X-Big: {}", "b".repeat(70 * 1024));
    assert_eq!(get(d.main, "/_preload/h", &[&big_header]).await.status, 431);
    let many: Vec<String> = (0..101).map(|i| format!("X-H{i}: v")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(get(d.main, "/_preload/h", &many).await.status, 431);
    assert_eq!(up.count(), 1, "only the target that fits reached the app");
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_framing_gets_400() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let two_lengths = b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd";
    assert_eq!(send_raw(d.main, two_lengths, false).await.status, 400);
    let space_colon = b"GET /_preload/x HTTP/1.1\r\nHost : t\r\nConnection: close\r\n\r\n";
    assert_eq!(send_raw(d.main, space_colon, false).await.status, 400);
    assert_eq!(up.count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_1_1_request_without_host_gets_400_and_an_http_1_0_one_is_served() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    for target in ["/_preload/h", "/passed"] {
        let no_host = format!("GET {target} HTTP/1.1\r\nConnection: close\r\n\r\n");
        let reply = send_raw(d.main, no_host.as_bytes(), false).await;
        assert_eq!(
            (reply.status, reply.text().trim()),
            (400, "missing Host field")
        );
    }
    assert_eq!(up.count(), 0);
    let http10 = send_raw(d.main, b"GET /_preload/h HTTP/1.0\r\n\r\n", false).await;
    assert_eq!(http10.status, 200);
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_if_cached_without_a_snapshot_is_504() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let reply = get(d.main, "/_preload/c", &["Cache-Control: only-if-cached"]).await;
    assert_eq!(reply.status, 504);
    assert_eq!(up.count(), 0);
    get(d.main, "/_preload/c", &[]).await;
    let reply = get(d.main, "/_preload/c", &["Cache-Control: only-if-cached"]).await;
    assert_eq!(reply.cache(), "HIT");
    // A visitor's no-cache cannot force a refetch.
    let reply = get(
        d.main,
        "/_preload/c",
        &["Cache-Control: no-cache", "Pragma: no-cache"],
    )
    .await;
    assert_eq!(reply.cache(), "HIT");
    assert_eq!(up.count(), 1);
}
