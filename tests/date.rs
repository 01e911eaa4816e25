//! A snapshot's `Date` is the app's (RFC 9110 §6.6.1, RFC 9111 §4), or the
//! time the snapshot was taken when the app sent none: never the time of
//! the hit, on MISS, HIT, STALE and 304 alike, and after a restart.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::webhook::{admin, invalidate, JSON};
use crate::support::{get, RawUpstream, Reply, Sandbox, Upstream};

const APP_DATE: &str = "Tue, 15 Nov 1994 08:12:31 GMT";
const WITH_DATE: &str = "/_preload/d?date=Tue,%2015%20Nov%201994%2008:12:31%20GMT";

/// Every `Date` field of a reply: hyper must not add one of its own.
fn dates(reply: &Reply) -> Vec<&str> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("date"))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// GETs `target` until its `Age` is at least 1 (for up to 5 s): from then
/// on the current time is a second past the time the snapshot was taken,
/// so a Date made at the hit would differ from it.
async fn hit_a_second_later(addr: SocketAddr, target: &str) -> Reply {
    for _ in 0..100 {
        let reply = get(addr, target, &[]).await;
        assert_eq!(reply.cache(), "HIT", "{target}");
        if reply.header("age").and_then(|a| a.parse::<u64>().ok()) >= Some(1) {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{target} never aged a second");
}

#[tokio::test(flavor = "multi_thread")]
async fn miss_hit_stale_and_304_carry_the_apps_date() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let miss = get(d.main, WITH_DATE, &[]).await;
    assert_eq!(miss.cache(), "MISS");
    assert_eq!(dates(&miss), [APP_DATE]);
    let hit = get(d.main, WITH_DATE, &[]).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(dates(&hit), [APP_DATE]);
    let etag = hit.header("etag").unwrap().to_string();
    let not_modified = get(d.main, WITH_DATE, &[&format!("If-None-Match: {etag}")]).await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(dates(&not_modified), [APP_DATE]);

    // The app is gone: the soft-invalidated page stays STALE.
    drop(up);
    let reply = invalidate(admin(&d), &[JSON], r#"{"prefixes": ["/d"], "soft": true}"#).await;
    assert_eq!(reply.status, 200);
    let stale = get(d.main, WITH_DATE, &[]).await;
    assert_eq!(stale.cache(), "STALE");
    assert_eq!(dates(&stale), [APP_DATE]);
    let stale_304 = get(d.main, WITH_DATE, &[&format!("If-None-Match: {etag}")]).await;
    assert_eq!((stale_304.status, stale_304.cache()), (304, "STALE"));
    assert_eq!(dates(&stale_304), [APP_DATE]);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_apps_date_a_hit_carries_the_time_taken() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    let miss = get(d.main, "/_preload/n", &[]).await;
    assert_eq!(miss.cache(), "MISS");
    // The app sent neither Date nor Last-Modified: both are the time taken.
    let taken = miss.header("last-modified").unwrap().to_string();
    assert_eq!(dates(&miss), [taken.as_str()]);
    let later = hit_a_second_later(d.main, "/_preload/n").await;
    assert_eq!(dates(&later), [taken.as_str()]);
    assert_eq!(app.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_date_survives_a_restart() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let with_date = "/_preload/a?date=Tue,%2015%20Nov%201994%2008:12:31%20GMT";
    let without = "/_preload/b";
    let d = sb.daemon_url(&app.url(), "");
    assert_eq!(get(d.main, with_date, &[]).await.cache(), "MISS");
    let taken = get(d.main, without, &[])
        .await
        .header("last-modified")
        .unwrap()
        .to_string();
    assert!(d.terminate().success());

    // Read back from disk by a new daemon.
    let d = sb.daemon_url(&app.url(), "");
    let hit = get(d.main, with_date, &[]).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(dates(&hit), [APP_DATE]);
    let later = hit_a_second_later(d.main, without).await;
    assert_eq!(dates(&later), [taken.as_str()]);
    assert_eq!(app.count(), 2);
}
