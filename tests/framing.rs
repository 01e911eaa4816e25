//! Framing and odd requests (RFC 9112): an app answer whose length is
//! ambiguous is refused instead of relayed truncated, and requests no
//! origin should see (two `Host` fields, `CONNECT`) are answered by the
//! daemon itself and reach no one.

use crate::support::{get, send_raw, RawUpstream, Sandbox};

/// A chunked body of 5000 bytes that also claims `Content-Length: 10`.
const BOTH: &str = "?chunked=1&length=10&size=5000";

#[tokio::test(flavor = "multi_thread")]
async fn an_app_answer_with_a_length_and_a_chunked_body_is_a_502_on_pass_through() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");

    // The same body, framed once: relayed whole.
    let plain = get(d.main, "/page?chunked=1&size=5000", &[]).await;
    assert_eq!((plain.status, plain.body.len()), (200, 5000));

    let reply = get(d.main, &format!("/page{BOTH}"), &[]).await;
    assert_eq!(reply.status, 502, "{:?}", reply.headers);
    assert_eq!(reply.text(), "bad upstream response\n");
    assert_eq!(app.count(), 2);
    d.wait_for_log(&["pass-through failed", "Content-Length"])
        .expect("the reason is logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_answer_with_a_length_and_a_chunked_body_is_a_502_never_kept() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    let target = format!("/_preload/page{BOTH}");
    for _ in 0..2 {
        let reply = get(d.main, &target, &[]).await;
        assert_eq!(reply.status, 502, "{:?}", reply.headers);
        assert_eq!(reply.text(), "bad upstream response\n");
    }
    assert_eq!(app.count(), 2, "not kept: each request asks the app");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_host_fields_get_400_and_reach_no_one() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    for target in ["/page", "/_preload/page"] {
        let raw = format!(
            "GET {target} HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n"
        );
        let reply = send_raw(d.main, raw.as_bytes(), false).await;
        assert_eq!(reply.status, 400, "{target}");
    }
    assert_eq!(app.count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_is_refused_and_reaches_no_one() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    let raw =
        "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\nConnection: close\r\n\r\n";
    let reply = send_raw(d.main, raw.as_bytes(), false).await;
    assert_eq!(reply.status, 501, "{:?}", reply.headers);
    assert_eq!(app.count(), 0);
}
