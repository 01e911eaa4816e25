//! Invalidation over time, end to end: soft invalidation and grace,
//! cron and daily schedules, route TTLs, catch-up at start, rewarm, and the
//! sweep of snapshots past their TTL and grace. What takes time runs on the
//! test clock (`Sandbox::with_clock`): the test moves the daemon's time of
//! day instead of sleeping.

use std::time::Duration;

use crate::support::webhook::{
    admin, count, eventually, hit_eventually, invalidate, warm, FORM, JSON,
};
use crate::support::{get, Sandbox, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn soft_invalidation_serves_stale_then_hit() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let first = get(d.main, "/_preload/s", &[]).await;
    let reply = invalidate(admin(&d), &[JSON], r#"{"urls": ["/s"], "soft": true}"#).await;
    assert_eq!(count(&reply), 1);
    let main = d.main;
    let stale: Vec<_> = (0..10)
        .map(|_| tokio::spawn(async move { get(main, "/_preload/s", &[]).await }))
        .collect();
    for r in stale {
        let r = r.await.unwrap();
        if r.cache() == "STALE" {
            assert_eq!(r.body, first.body, "the old page while refetching");
        } else {
            assert_eq!(r.cache(), "HIT", "after the refetch");
        }
    }
    assert!(
        eventually(|| up.count() == 2).await,
        "one background refetch"
    );
    let fresh = hit_eventually(&d, "/_preload/s").await;
    assert_ne!(fresh.body, first.body);
    assert_eq!(up.count(), 2, "exactly one refetch");
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_is_served_while_the_app_is_down_until_grace_runs_out() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let d = sb.daemon_cache(&up, "grace = \"1500ms\"", "");
    get(d.main, "/_preload/g", &[]).await;
    drop(up);
    invalidate(admin(&d), &[JSON], r#"{"urls": ["/g"], "soft": true}"#).await;
    for _ in 0..3 {
        assert_eq!(get(d.main, "/_preload/g", &[]).await.cache(), "STALE");
    }
    d.advance(Duration::from_millis(1400));
    assert_eq!(
        get(d.main, "/_preload/g", &[]).await.cache(),
        "STALE",
        "still within grace"
    );
    d.advance(Duration::from_millis(200));
    let after = get(d.main, "/_preload/g", &[]).await;
    assert_eq!(after.status, 502, "{:?} {}", after.headers, after.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_every_second_schedule_drops_within_two_seconds() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let d = sb.daemon(
        &up,
        "[[schedule]]\ncron = \"* * * * * *\"\ntags = [\"ticker\"]\n",
    );
    warm(&d, &["/_preload/t?tags=ticker"]).await;
    warm(&d, &["/_preload/other"]).await;
    d.advance(Duration::from_millis(2000));
    // Two firings in those two seconds; both done before the page is asked
    // for again, so neither overtakes its fetch.
    for firing in 1..=2 {
        assert!(
            d.wait_for_log(&["schedule fired"]).is_some(),
            "firing {firing}"
        );
    }
    assert_eq!(
        get(d.main, "/_preload/t?tags=ticker", &[]).await.cache(),
        "MISS"
    );
    assert_eq!(get(d.main, "/_preload/other", &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_ttl_expires_snapshots() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let d = sb.daemon(&up, "[[route]]\nmatch = \"/news/*\"\nttl = \"1s\"\n");
    let first = get(d.main, "/news/1", &[]).await;
    d.wait_written("/news/1").await;
    assert_eq!(get(d.main, "/news/1", &[]).await.cache(), "HIT");
    d.advance(Duration::from_millis(900));
    assert_eq!(
        get(d.main, "/news/1", &[]).await.cache(),
        "HIT",
        "within its ttl"
    );
    d.advance(Duration::from_millis(200));
    let expired = get(d.main, "/news/1", &[]).await;
    assert_eq!(expired.cache(), "STALE", "served while one refetch runs");
    assert!(eventually(|| up.count() == 2).await);
    let fresh = hit_eventually(&d, "/news/1").await;
    assert_ne!(fresh.body, first.body);
    assert_eq!(up.count(), 2, "exactly one refetch");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_that_fell_due_while_down_is_applied_at_start() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/c", "/_preload/d?tags=keep"]).await;
    assert!(d.terminate().success());
    // A yearly schedule whose one firing this year is two seconds after
    // now, and the daemon down for three.
    let fire = chrono::DateTime::<chrono::Utc>::from(sb.clock_now()) + chrono::Duration::seconds(2);
    let cron = fire.format("%S %M %H %d %m *").to_string();
    sb.advance_clock(Duration::from_millis(3000));
    let d = sb.daemon(
        &up,
        &format!("[[schedule]]\ncron = \"{cron}\"\nprefixes = [\"/c\"]\n"),
    );
    assert_eq!(
        get(d.main, "/_preload/c", &[]).await.cache(),
        "MISS",
        "dropped at start"
    );
    assert_eq!(
        get(d.main, "/_preload/d?tags=keep", &[]).await.cache(),
        "HIT",
        "not named"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rewarm_leaves_dropped_pages_hit_without_a_visitor() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\nrewarm = true\nrewarm_concurrency = 2\n");
    let targets = [
        "/_preload/r1?tags=x",
        "/_preload/r2?tags=x",
        "/_preload/r3?tags=x",
    ];
    warm(&d, &targets).await;
    assert_eq!(up.count(), 3);
    assert_eq!(count(&invalidate(admin(&d), &[FORM], "tag=x").await), 3);
    assert!(
        eventually(|| up.count() == 6).await,
        "each page refetched once"
    );
    for t in targets {
        hit_eventually(&d, t).await;
    }
    assert_eq!(up.count(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_past_ttl_and_grace_are_removed_from_disk() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let d = sb.daemon_cache(
        &up,
        "grace = \"500ms\"",
        "[[route]]\nmatch = \"/short/*\"\nttl = \"1s\"\n",
    );
    warm(&d, &["/short/a", "/_preload/long"]).await;
    let snapshots = || async {
        let health = get(admin(&d), "/_preloadd/health", &[]).await;
        let v: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
        v["snapshots"].as_u64().unwrap()
    };
    assert_eq!(snapshots().await, 2);
    d.advance(Duration::from_millis(1600));
    let mut left = 2;
    for _ in 0..50 {
        left = snapshots().await;
        if left == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 1, "the expired page left, the other stayed");
    assert_eq!(get(d.main, "/_preload/long", &[]).await.cache(), "HIT");
}
