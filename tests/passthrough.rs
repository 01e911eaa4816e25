//! Everything that is not a preload request reaches the app as it came,
//! and the app's failures are 502 / 504 on preload requests.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use preloadd::fetch::pool::KEEP_IDLE;

use crate::support::metrics::{scrape, scrape_until};
use crate::support::{get, request, Conn, Sandbox, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn a_post_with_a_body_and_a_cookie_passes_through() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let reply = request(
        d.main,
        "POST",
        "/echo?x=1",
        &["Cookie: session=s1", "X-Custom: yes"],
        b"field=value",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("x-preload-cache").is_none());
    assert_eq!(
        reply.header("set-cookie"),
        Some("session=abc"),
        "cookies flow back"
    );
    let text = reply.text();
    assert!(text.starts_with("POST /echo?x=1\n"), "{text}");
    assert!(text.contains("cookie: session=s1"), "{text}");
    assert!(text.contains("x-custom: yes"), "{text}");
    assert!(text.contains("x-forwarded-for: 127.0.0.1"), "{text}");
    assert!(text.contains("x-forwarded-proto: http"), "{text}");
    assert!(text.contains("x-forwarded-host: test.local"), "{text}");
    assert!(text.ends_with("\nfield=value"), "{text}");
    assert!(
        !text.contains("connection: close"),
        "hop-by-hop headers dropped: {text}"
    );
    // Passed through every time.
    request(d.main, "POST", "/echo", &[], b"again").await;
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_upgrades_are_spliced_through() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let mut s = TcpStream::connect(d.main).await.unwrap();
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    s.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"ping");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_app_is_502_and_a_slow_one_504() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let text = crate::support::config_text(&format!("http://{dead}"), &sb.cache_dir(), "", "");
    let d = crate::support::Daemon::start(sb.dir.path(), &text);
    let reply = get(d.main, "/_preload/x", &[]).await;
    assert_eq!(reply.status, 502);
    assert!(reply.text().len() < 200);
    assert_eq!(
        get(d.main, "/_preload/x", &[]).await.status,
        502,
        "an error is never kept"
    );
    assert_eq!(get(d.main, "/plain", &[]).await.status, 502);
    drop(d);

    let sb = Sandbox::new();
    let text = crate::support::config_text(&up.url(), &sb.cache_dir(), "", "")
        .replace("fetch_timeout = \"5s\"", "fetch_timeout = \"300ms\"");
    let d = crate::support::Daemon::start(sb.dir.path(), &text);
    assert_eq!(
        get(d.main, "/_preload/slow?delay=2000", &[]).await.status,
        504
    );
}

/// Polls `what` until it holds, for at most 10 s.
async fn until(what: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !what() {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_connection_keeps_one_app_connection_and_hands_it_on() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let mut conn = Conn::open(d.main).await;
    for i in 0..5 {
        let reply = conn.get(&format!("/page{i}")).await.expect("answer");
        assert_eq!(reply.status, 200);
    }
    assert_eq!(up.count(), 5);
    assert_eq!(up.accepted(), 1, "five requests, one app connection");
    let held = scrape(&d).await;
    assert_eq!(held.get("preloadd_upstream_held_connections"), 1.0);
    assert_eq!(held.get("preloadd_upstream_idle_connections"), 0.0);
    drop(conn);
    // Once the daemon has seen the visitor go, its app connection is idle,
    // and the next visitor connection takes it.
    scrape_until(&d, |s| s.get("preloadd_upstream_idle_connections") == 1.0).await;
    let mut conn = Conn::open(d.main).await;
    assert_eq!(conn.get("/again").await.expect("answer").status, 200);
    assert_eq!(up.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn at_most_keep_idle_app_connections_stay_open_when_visitors_leave() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let visitors = KEEP_IDLE + 8;
    // Each visitor connection stays open and keeps its app connection.
    let mut conns = Vec::new();
    for i in 0..visitors {
        let mut conn = Conn::open(d.main).await;
        assert_eq!(
            conn.get(&format!("/p{i}")).await.expect("answer").status,
            200
        );
        conns.push(conn);
    }
    assert_eq!(up.accepted(), visitors);
    assert_eq!(up.open_connections(), visitors);

    drop(conns);
    assert!(
        until(|| up.open_connections() == KEEP_IDLE).await,
        "{} app connections open, {KEEP_IDLE} kept idle",
        up.open_connections()
    );

    // New visitors take the idle ones first, then open what they lack.
    let mut conns = Vec::new();
    for i in 0..visitors {
        let mut conn = Conn::open(d.main).await;
        assert_eq!(
            conn.get(&format!("/q{i}")).await.expect("answer").status,
            200
        );
        conns.push(conn);
    }
    assert_eq!(up.accepted(), visitors + (visitors - KEEP_IDLE));
}
