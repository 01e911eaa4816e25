//! A page's tags end to end: names as the app writes them (UTF-8, tabs),
//! names that cannot be kept (not UTF-8, too many), and the cost of many.

use std::time::{Duration, Instant};

use crate::support::webhook::{count, invalidate, warm, FORM, JSON};
use crate::support::{get, Sandbox, Upstream};

/// Drops what `body` names and says how many pages went.
async fn purge(d: &crate::support::Daemon, kind: &str, body: &str) -> u64 {
    let reply = invalidate(d.admin.expect("admin listener"), &[kind], body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    count(&reply)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_ascii_tag_keeps_every_tag_on_the_line() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    // `page-ascii, café`, the second name in UTF-8.
    let page = "/_preload/a?tags=page-ascii,%20caf%C3%A9";
    let purges = [
        (JSON, r#"{"tags": ["page-ascii"]}"#),
        (JSON, r#"{"tags": ["café"]}"#),
        (FORM, "tag=caf%C3%A9"),
    ];
    for (kind, body) in purges {
        warm(&d, &[page]).await;
        assert_eq!(purge(&d, kind, body).await, 1, "{body}");
        assert_eq!(get(d.main, page, &[]).await.cache(), "MISS", "{body}");
    }
    // One fetch at first, one after each purge.
    assert_eq!(up.count_of("/a?tags=page-ascii,%20caf%C3%A9"), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn tabs_separate_tags_like_spaces_and_commas() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let page = "/_preload/t?tabtags=one,two%20three&tags=four,five";
    for tag in ["one", "two", "three", "four", "five"] {
        warm(&d, &[page]).await;
        let body = format!(r#"{{"tags": ["{tag}"]}}"#);
        assert_eq!(purge(&d, JSON, &body).await, 1, "{tag}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn route_tags_and_models_may_be_utf8() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(
        &up,
        "[[route]]\nmatch = \"/e/*\"\ntags = [\"événement\"]\n\n\
         [invalidate]\nmodels = [\"modèle.Page\"]\n",
    );
    warm(&d, &["/_preload/e/1", "/_preload/other"]).await;
    assert_eq!(purge(&d, JSON, r#"{"tags": ["événement"]}"#).await, 1);
    assert_eq!(get(d.main, "/_preload/e/1", &[]).await.cache(), "MISS");
    assert_eq!(get(d.main, "/_preload/other", &[]).await.cache(), "HIT");
    // Naming a model drops every page.
    assert_eq!(purge(&d, FORM, "model=mod%C3%A8le.Page").await, 2);
    assert_eq!(get(d.main, "/_preload/other", &[]).await.cache(), "MISS");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_that_is_not_utf8_passes_the_page_with_bad_tags() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    // A Latin-1 `café` beside a good name: no purge could name it.
    for _ in 0..2 {
        let reply = get(d.main, "/_preload/l?tags=page,caf%E9", &[]).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.cache(), "PASS");
        assert_eq!(reply.header("x-preload-reason"), Some("bad-tags"));
    }
    assert_eq!(up.count_of("/l?tags=page,caf%E9"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn more_tags_than_max_tags_pass_with_too_many_tags() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[preload]\nmax_tags = 10\n");
    let over = get(d.main, "/_preload/m?ntags=11", &[]).await;
    assert_eq!(over.cache(), "PASS");
    assert_eq!(over.header("x-preload-reason"), Some("too-many-tags"));
    warm(&d, &["/_preload/m?ntags=10"]).await;
    // A name sent twice is one tag.
    warm(&d, &["/_preload/m?ntags=10&tags=t3,t9"]).await;
    assert_eq!(purge(&d, JSON, r#"{"tags": ["t9"]}"#).await, 2);
    assert_eq!(up.count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_cap_is_1000_tags_or_64_kib_of_header() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let over = get(d.main, "/_preload/d?ntags=1001", &[]).await;
    assert_eq!(over.header("x-preload-reason"), Some("too-many-tags"));
    warm(&d, &["/_preload/d?ntags=1000"]).await;
    // 100 names of 700 bytes: few tags, but over 64 KiB of header.
    let long = get(d.main, "/_preload/d?ntags=100&tagsize=700", &[]).await;
    assert_eq!(long.header("x-preload-reason"), Some("too-many-tags"));
    warm(&d, &["/_preload/d?ntags=90&tagsize=700"]).await;
}

/// The slowest of `n` HITs of `page`, one after the other.
async fn slowest_hit(d: &crate::support::Daemon, page: &str, n: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..n {
        let start = Instant::now();
        assert_eq!(get(d.main, page, &[]).await.cache(), "HIT");
        slowest = slowest.max(start.elapsed());
    }
    slowest
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_with_many_tags_do_not_stall_hits_of_others() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/hot"]).await;
    let baseline = slowest_hit(&d, "/_preload/hot", 20).await;

    // Pages with 50,000 tags (refused) and with 1,000 (kept), fetched
    // while the hot page is asked for.
    let main = d.main;
    let load = tokio::spawn(async move {
        let mut kept = 0;
        for i in 0..8 {
            let huge = format!("/_preload/huge{i}?ntags=50000");
            let full = format!("/_preload/full{i}?ntags=1000");
            let (huge, full) = tokio::join!(get(main, &huge, &[]), get(main, &full, &[]));
            assert_eq!(huge.header("x-preload-reason"), Some("too-many-tags"));
            kept += usize::from(full.cache() == "MISS");
        }
        kept
    });
    let mut slowest = Duration::ZERO;
    let mut hits = 0;
    while !load.is_finished() {
        slowest = slowest.max(slowest_hit(&d, "/_preload/hot", 1).await);
        hits += 1;
    }
    let kept = tokio::time::timeout(Duration::from_secs(60), load)
        .await
        .expect("the load ends")
        .expect("the load task");
    assert_eq!(kept, 8);
    assert!(hits > 0);
    // Generous: a HIT may be slowed by the CPU the load takes, never held
    // for the whole keep of a page.
    let bound = baseline * 20 + Duration::from_millis(300);
    assert!(
        slowest <= bound,
        "a HIT took {slowest:?} during the load (baseline {baseline:?}, {hits} HITs)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_answer_shows_the_visitor_the_apps_tags_header() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[preload]\nmax_tags = 2\n");
    let answers = [
        // PASS decided from the head, the body streamed.
        ("/_preload/a?tags=t1&cc=no-store", Some("PASS")),
        // PASS decided once the body is in (three tags, two allowed).
        ("/_preload/b?tags=t1,t2,t3", Some("PASS")),
        ("/_preload/c?tags=t1", Some("MISS")),
        ("/_preload/c?tags=t1", Some("HIT")),
        // Not a preload request: passed through.
        ("/plain?tags=t1", None),
    ];
    for (target, cache) in answers {
        let reply = get(d.main, target, &[]).await;
        assert_eq!(reply.status, 200, "{target}");
        assert_eq!(reply.header("x-preload-cache"), cache, "{target}");
        assert_eq!(reply.header("x-preload-tags"), None, "{target}");
    }
    assert_eq!(up.count(), 4, "the HIT alone did not reach the app");
}
