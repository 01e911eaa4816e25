//! An app that speaks HTTP/1.0 (as `python3 -m http.server` does): the
//! client is still answered in HTTP/1.1 on a connection it may keep, which
//! nginx's upstream keep-alive to the daemon depends on.

use crate::support::{sized_body, Conn, RawUpstream, Sandbox};

#[tokio::test(flavor = "multi_thread")]
async fn pass_through_from_an_http10_app_is_http11_on_a_kept_connection() {
    let app = RawUpstream::start("HTTP/1.0 200 OK").await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    let mut conn = Conn::open(d.main).await;

    let first = conn.get("/about/").await.expect("first answer");
    assert_eq!(first.version, "HTTP/1.1");
    assert_eq!(first.status, 200);
    assert!(
        first.text().starts_with("<html>raw /about/"),
        "{}",
        first.text()
    );
    assert_ne!(
        first.header("connection"),
        Some("close"),
        "{:?}",
        first.headers
    );

    // The app ends this body by closing its connection: the client gets it
    // chunked, on the connection it keeps.
    let second = conn
        .get("/big?nolength=1&size=100000")
        .await
        .expect("second answer on the same connection");
    assert_eq!(second.version, "HTTP/1.1");
    assert_eq!(second.header("transfer-encoding"), Some("chunked"));
    assert_eq!(second.body, sized_body(100_000), "the whole body");
    assert_ne!(
        second.header("connection"),
        Some("close"),
        "{:?}",
        second.headers
    );

    let third = conn
        .get("/about/")
        .await
        .expect("the connection outlives a chunked answer");
    assert_eq!(third.version, "HTTP/1.1");
    assert_eq!(app.count(), 3, "pass-through keeps nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preload_fetch_from_an_http10_app_is_kept() {
    let app = RawUpstream::start("HTTP/1.0 200 OK").await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    let mut conn = Conn::open(d.main).await;

    for target in ["/_preload/p", "/_preload/q?nolength=1&size=50000"] {
        let miss = conn.get(target).await.expect("MISS");
        assert_eq!((miss.version.as_str(), miss.cache()), ("HTTP/1.1", "MISS"));
        let hit = conn.get(target).await.expect("HIT on the same connection");
        assert_eq!((hit.version.as_str(), hit.cache()), ("HTTP/1.1", "HIT"));
        assert_eq!(hit.body, miss.body);
    }
    let read_to_close = conn.get("/_preload/q?nolength=1&size=50000").await.unwrap();
    assert_eq!(read_to_close.body, sized_body(50_000), "kept whole");
    assert_eq!(app.count(), 2, "one fetch per page");
}
