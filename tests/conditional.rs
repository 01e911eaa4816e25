//! Conditional requests, ranges, HEAD and Age on kept snapshots.

use crate::support::{get, request, Sandbox, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn if_none_match_and_if_modified_since_give_304() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let first = get(d.main, "/_preload/c", &[]).await;
    let etag = first.header("etag").unwrap().to_string();
    let lm = first.header("last-modified").unwrap().to_string();

    let inm = get(d.main, "/_preload/c", &[&format!("If-None-Match: {etag}")]).await;
    assert_eq!(inm.status, 304);
    assert!(inm.body.is_empty());
    assert_eq!(inm.header("etag"), Some(etag.as_str()));
    let weak = get(
        d.main,
        "/_preload/c",
        &[&format!("If-None-Match: \"zzz\", W/{etag}")],
    )
    .await;
    assert_eq!(weak.status, 304, "weak comparison");
    let ims = get(
        d.main,
        "/_preload/c",
        &[&format!("If-Modified-Since: {lm}")],
    )
    .await;
    assert_eq!(ims.status, 304);
    let other = get(d.main, "/_preload/c", &["If-None-Match: \"other\""]).await;
    assert_eq!(other.status, 200);
    let malformed = get(d.main, "/_preload/c", &["If-None-Match: \"unterminated"]).await;
    assert_eq!(malformed.status, 200);
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apps_etag_and_last_modified_are_kept() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let target = "/_preload/e?etag=%22v1%22&lm=Tue,%2015%20Nov%201994%2008:12:31%20GMT";
    get(d.main, target, &[]).await;
    let hit = get(d.main, target, &[]).await;
    assert_eq!(hit.header("etag"), Some("\"v1\""));
    assert_eq!(
        hit.header("last-modified"),
        Some("Tue, 15 Nov 1994 08:12:31 GMT")
    );
    assert_eq!(
        get(d.main, target, &["If-None-Match: \"v1\""]).await.status,
        304
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_on_hits() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let target = "/_preload/r?size=100";
    let miss = get(d.main, target, &["Range: bytes=0-9"]).await;
    assert_eq!(
        (miss.status, miss.body.len()),
        (200, 100),
        "a MISS is always the full 200"
    );

    let part = get(d.main, target, &["Range: bytes=10-19"]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 10-19/100"));
    assert_eq!(part.body, miss.body[10..20]);
    assert_eq!(part.header("accept-ranges"), Some("bytes"));
    let suffix = get(d.main, target, &["Range: bytes=-5"]).await;
    assert_eq!(suffix.body, miss.body[95..]);
    let past = get(d.main, target, &["Range: bytes=100-"]).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */100"));
    let several = get(d.main, target, &["Range: bytes=0-1,5-6"]).await;
    assert_eq!((several.status, several.body.len()), (200, 100));
    let stale_if_range = get(d.main, target, &["Range: bytes=0-1", "If-Range: \"old\""]).await;
    assert_eq!(stale_if_range.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn head_gets_headers_without_a_body() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let head = request(d.main, "HEAD", "/_preload/h?size=1234", &[], b"").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("1234"));
    let head = request(d.main, "HEAD", "/_preload/h?size=1234", &[], b"").await;
    assert_eq!(head.cache(), "HIT");
    assert_eq!(head.header("content-length"), Some("1234"));
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn age_adds_the_apps_age_to_the_time_held() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let miss = get(d.main, "/_preload/a?age=100", &[]).await;
    assert_eq!(
        miss.header("age"),
        Some("100"),
        "MISS carries the app's Age as sent"
    );
    let hit = get(d.main, "/_preload/a?age=100", &[]).await;
    let age: u64 = hit.header("age").unwrap().parse().unwrap();
    assert!((100..110).contains(&age), "{age}");
    let plain = get(d.main, "/_preload/b", &[]).await;
    assert!(plain.header("age").is_none());
    let hit = get(d.main, "/_preload/b", &[]).await;
    assert!(hit.header("age").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_age_past_the_integer_limit_is_capped() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    // RFC 9111 §1.2.2: a delta-seconds too large to hold, or a sum that
    // overflows, is 2147483648; it never wraps to a small age.
    for app_age in ["99999999999999999999", "18446744073709551615", "2147483649"] {
        let target = format!("/_preload/a?age={app_age}");
        let miss = get(d.main, &target, &[]).await;
        assert_eq!(miss.cache(), "MISS", "{app_age}");
        assert_eq!(miss.header("age"), Some("2147483648"), "MISS, {app_age}");
        let hit = get(d.main, &target, &[]).await;
        assert_eq!(hit.cache(), "HIT", "{app_age}");
        assert_eq!(hit.header("age"), Some("2147483648"), "HIT, {app_age}");
    }
    assert_eq!(up.count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tags_header_never_reaches_clients() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let miss = get(d.main, "/_preload/t?tags=a,b", &[]).await;
    let hit = get(d.main, "/_preload/t?tags=a,b", &[]).await;
    assert!(miss.header("x-preload-tags").is_none() && hit.header("x-preload-tags").is_none());
}
