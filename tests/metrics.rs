//! `GET /_preloadd/metrics` through the real daemon: what a known run of
//! requests moves, by exactly how much; every source of an invalidation;
//! the endpoint's token rules and formats (docs/operations.md,
//! "Monitoring").

use std::time::Duration;

use crate::support::metrics::{scrape, scrape_until};
use crate::support::webhook::{admin, count, eventually, invalidate, warm, JSON};
use crate::support::{get, request, Sandbox, Upstream};

const HIT: &str = "preloadd_requests_total{result=\"hit\"}";
const MISS: &str = "preloadd_requests_total{result=\"miss\"}";
const STALE: &str = "preloadd_requests_total{result=\"stale\"}";
const PASS: &str = "preloadd_requests_total{result=\"pass\"}";
const ERROR: &str = "preloadd_requests_total{result=\"error\"}";
const KEPT: &str = "preloadd_upstream_fetches_total{outcome=\"kept\"}";
const PASSED: &str = "preloadd_upstream_fetches_total{outcome=\"passed\"}";
const FETCH_COUNT: &str = "preloadd_upstream_fetch_duration_seconds_count";

fn invalidations(source: &str) -> String {
    format!("preloadd_invalidations_total{{source=\"{source}\"}}")
}

fn invalidated(source: &str) -> String {
    format!("preloadd_invalidated_snapshots_total{{source=\"{source}\"}}")
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_move_by_exactly_what_the_requests_did() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    // Two pages kept before the first scrape: the drop of everything at
    // the end takes them too.
    warm(&d, &["/_preload/x1", "/_preload/x2"]).await;
    let before = scrape(&d).await;

    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "MISS");
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "HIT");
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "HIT");
    let pass = get(d.main, "/_preload/p?cc=no-store", &[]).await;
    assert_eq!(pass.cache(), "PASS");
    let soft = invalidate(admin(&d), &[JSON], r#"{"urls": ["/a"], "soft": true}"#).await;
    assert_eq!(count(&soft), 1);
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "STALE");
    // The STALE answer's background refetch is counted once written.
    scrape_until(&d, |s| s.since(&before, KEPT) == 2.0).await;
    let all = invalidate(admin(&d), &[JSON], r#"{"all": true}"#).await;
    assert_eq!(count(&all), 3, "x1, x2 and a");

    let after = scrape(&d).await;
    let moved = |key: &str| after.since(&before, key);
    assert_eq!(
        [HIT, MISS, STALE, PASS, ERROR].map(moved),
        [2.0, 1.0, 1.0, 1.0, 0.0],
        "hit, miss, stale, pass, error"
    );
    assert_eq!(
        moved("preloadd_pass_requests_total{reason=\"no-store\"}"),
        1.0
    );
    assert_eq!(
        moved("preloadd_pass_requests_total{reason=\"private\"}"),
        0.0
    );
    assert_eq!(
        (moved(KEPT), moved(PASSED)),
        (2.0, 1.0),
        "MISS, refetch; PASS"
    );
    assert_eq!(moved(FETCH_COUNT), 3.0);
    assert_eq!(moved(&invalidations("webhook")), 2.0);
    assert_eq!(moved(&invalidated("webhook")), 4.0, "1 softened, 3 dropped");
    assert_eq!(moved(&invalidations("schedule")), 0.0);
    assert_eq!(moved("preloadd_coalesced_waiters_total"), 0.0);
    assert_eq!(moved("preloadd_write_errors_total"), 0.0);
    assert_eq!(after.get("preloadd_evictions_total"), 0.0);
    assert_eq!(after.get("preloadd_snapshots"), 0.0, "all dropped");
    assert_eq!(after.get("preloadd_snapshot_disk_bytes"), 0.0);

    // Every fetch since the start is in the histogram, once.
    assert_eq!(
        after.get(FETCH_COUNT),
        after.sum("preloadd_upstream_fetches_total")
    );
    assert_eq!(after.get(FETCH_COUNT), 5.0, "x1, x2, a, p, a again");
    assert_eq!(
        after.get("preloadd_upstream_fetch_duration_seconds_bucket{le=\"+Inf\"}"),
        5.0
    );
    let build = format!(
        "preloadd_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(after.get(&build), 1.0);
    assert_eq!(up.count(), 5, "the same five at the app");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_figures_are_read_when_scraped() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    // Without variants, the hot set holds the bodies alone.
    let d = sb.daemon_cache(&up, "compress = false", "");
    warm(&d, &["/_preload/a?size=1000", "/_preload/b?size=3000"]).await;
    let s = scrape(&d).await;
    assert_eq!(s.get("preloadd_snapshots"), 2.0);
    assert_eq!(s.get("preloadd_snapshots_in_memory"), 2.0);
    assert_eq!(s.get("preloadd_snapshot_memory_bytes"), 4000.0);
    let disk = s.get("preloadd_snapshot_disk_bytes");
    assert!(disk > 4000.0, "bodies and headers on disk: {disk}");
    let health = get(admin(&d), "/_preloadd/health", &[]).await;
    let v: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(v["bytes"].as_f64(), Some(disk), "the same figure as health");
    assert!(s.get("preloadd_index_memory_bytes") > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_through_and_the_ttl_sweep_are_counted_by_source() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let d = sb.daemon_cache(
        &up,
        "grace = \"500ms\"",
        "[[route]]\nmatch = \"/events/*\"\n\n[[route]]\nmatch = \"/short/*\"\nttl = \"1s\"\n",
    );
    let page = "/events/1/?poststatus=204";
    warm(&d, &[page, "/short/a", "/short/b"]).await;
    let before = scrape(&d).await;
    assert_eq!(request(d.main, "POST", page, &[], b"x=1").await.status, 204);
    let s = scrape(&d).await;
    assert_eq!(s.since(&before, &invalidations("write-through")), 1.0);
    assert_eq!(s.since(&before, &invalidated("write-through")), 1.0);

    d.advance(Duration::from_millis(1600));
    let s = scrape_until(&d, |s| s.since(&before, &invalidated("ttl")) > 0.0).await;
    assert_eq!(
        s.since(&before, &invalidated("ttl")),
        2.0,
        "both short pages"
    );
    assert_eq!(s.since(&before, &invalidations("ttl")), 1.0, "in one sweep");
    assert_eq!(s.since(&before, &invalidations("webhook")), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn coalesced_waiters_and_failed_fetches_are_counted() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let before = scrape(&d).await;
    let main = d.main;
    let leader = tokio::spawn(async move { get(main, "/_preload/h?delay=300", &[]).await });
    assert!(eventually(|| up.count() == 1).await, "the leader's fetch");
    // Those that come while it runs wait for it; one that came after it
    // would be a HIT. Either way: one fetch, and every MISS but the
    // leader's waited.
    let herd: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { get(main, "/_preload/h?delay=300", &[]).await }))
        .collect();
    let mut answers = vec![leader.await.unwrap().cache().to_string()];
    for reply in herd {
        answers.push(reply.await.unwrap().cache().to_string());
    }
    let misses = answers.iter().filter(|c| *c == "MISS").count() as f64;
    let s = scrape(&d).await;
    assert_eq!(s.since(&before, KEPT), 1.0, "one fetch");
    assert_eq!(s.since(&before, MISS), misses, "{answers:?}");
    assert_eq!(s.since(&before, HIT), 3.0 - misses, "{answers:?}");
    assert_eq!(
        s.since(&before, "preloadd_coalesced_waiters_total"),
        misses - 1.0,
        "{answers:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fetch_from_an_unreachable_app_is_counted_as_an_error() {
    // Not a dropped upstream: a pooled connection to it may linger.
    let sb = Sandbox::new();
    let d = sb.daemon_url(&crate::support::dead_app(), "");
    let before = scrape(&d).await;
    let down = get(d.main, "/_preload/gone", &[]).await;
    assert_eq!(down.status, 502);
    let s = scrape(&d).await;
    assert_eq!(s.since(&before, ERROR), 1.0);
    assert_eq!(
        s.since(
            &before,
            "preloadd_upstream_fetches_total{outcome=\"error\"}"
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_follow_the_admin_token_rules_and_speak_openmetrics_on_request() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let main = get(d.main, "/_preloadd/metrics", &[]).await;
    assert_eq!(main.status, 403, "no token: not on the main listener");
    let post = request(admin(&d), "POST", "/_preloadd/metrics", &[], b"").await;
    assert_eq!(post.status, 405);
    let accept = "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5";
    let open = get(admin(&d), "/_preloadd/metrics", &[accept]).await;
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(open.text().ends_with("# EOF\n"), "{}", open.text());
    assert!(open.text().contains("# TYPE preloadd_requests counter\n"));

    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\ntoken = \"s3cret\"\n");
    let without = get(admin(&d), "/_preloadd/metrics", &[]).await;
    assert_eq!(without.status, 401);
    let with = get(
        d.main,
        "/_preloadd/metrics",
        &["Authorization: Bearer s3cret"],
    )
    .await;
    assert_eq!(with.status, 200);
    assert!(
        with.text().contains("preloadd_snapshots 0\n"),
        "{}",
        with.text()
    );
}
