//! Soft invalidation across restarts (SPEC §6): once the reply is sent, a
//! restart, clean (SIGTERM) or not (kill -9), brings the page back STALE
//! within `grace` or MISS beyond it, never HIT; by url, by tag, everything,
//! and from a soft schedule. Soft marks within one run are in `schedule.rs`.

use std::time::Duration;

use crate::support::webhook::{
    admin, count, eventually, hit_eventually, invalidate, warm, FORM, JSON,
};
use crate::support::{get, Daemon, Sandbox, Upstream};

/// How the daemon goes down before it is started again on the same config.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// SIGTERM: drains and writes the index checkpoint.
    Clean,
    /// SIGKILL: the next start scans the snapshots' headers.
    Kill,
}

fn restart(d: Daemon, stop: Stop) -> Daemon {
    let config = d.config_path.clone();
    match stop {
        Stop::Clean => assert!(d.terminate().success(), "clean exit"),
        Stop::Kill => d.kill9(),
    }
    Daemon::start_with(&config)
}

/// Softens `/events/` by url, restarts, and checks the page comes back
/// STALE (the old body), is refetched once, then is a HIT.
async fn soft_url_then_restart(stop: Stop) {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let first = get(d.main, "/_preload/events/", &[]).await;
    assert_eq!(first.cache(), "MISS");
    let reply = invalidate(
        admin(&d),
        &[JSON],
        r#"{"urls": ["/events/"], "soft": true}"#,
    )
    .await;
    assert_eq!((reply.status, count(&reply)), (200, 1));

    let d = restart(d, stop);
    let after = get(d.main, "/_preload/events/", &[]).await;
    assert_eq!(after.cache(), "STALE", "{stop:?}: soft, not HIT");
    assert_eq!(after.body, first.body, "the old page while refetching");
    assert!(
        eventually(|| up.count() == 2).await,
        "{stop:?}: one background refetch"
    );
    let fresh = hit_eventually(&d, "/_preload/events/").await;
    assert_ne!(fresh.body, first.body);
    assert_eq!(up.count(), 2, "exactly one refetch");

    // The refetched page is not soft: another restart keeps it a HIT.
    let d = restart(d, stop);
    assert_eq!(get(d.main, "/_preload/events/", &[]).await.cache(), "HIT");
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_invalidated_page_is_stale_after_a_clean_restart() {
    soft_url_then_restart(Stop::Clean).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_invalidated_page_is_stale_after_a_kill_9() {
    soft_url_then_restart(Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_invalidation_of_everything_is_stale_after_a_restart() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/a", "/_preload/b"]).await;
    let reply = invalidate(admin(&d), &[FORM], "all=1&soft=1").await;
    assert_eq!(count(&reply), 2);
    let d = restart(d, Stop::Kill);
    for t in ["/_preload/a", "/_preload/b"] {
        assert_eq!(get(d.main, t, &[]).await.cache(), "STALE", "{t}");
    }
    assert!(eventually(|| up.count() == 4).await, "each refetched once");
    for t in ["/_preload/a", "/_preload/b"] {
        hit_eventually(&d, t).await;
    }
    // The refetched pages are not soft: a restart keeps them HITs.
    let d = restart(d, Stop::Clean);
    for t in ["/_preload/a", "/_preload/b"] {
        assert_eq!(get(d.main, t, &[]).await.cache(), "HIT", "{t}");
    }
    assert_eq!(up.count(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_invalidation_by_tag_is_stale_after_a_restart() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/t1?tags=news", "/_preload/t2?tags=other"]).await;
    let reply = invalidate(admin(&d), &[JSON], r#"{"tags": ["news"], "soft": true}"#).await;
    assert_eq!(count(&reply), 1);
    let d = restart(d, Stop::Clean);
    assert_eq!(
        get(d.main, "/_preload/t1?tags=news", &[]).await.cache(),
        "STALE"
    );
    assert_eq!(
        get(d.main, "/_preload/t2?tags=other", &[]).await.cache(),
        "HIT",
        "not named"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_schedule_that_fired_is_stale_after_a_restart_without_it() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    // A yearly schedule whose one firing this year is a few seconds away.
    let fire = chrono::DateTime::<chrono::Utc>::from(sb.clock_now()) + chrono::Duration::seconds(3);
    let cron = fire.format("%S %M %H %d %m *").to_string();
    let d = sb.daemon(
        &up,
        &format!("[[schedule]]\ncron = \"{cron}\"\nprefixes = [\"/c\"]\nsoft = true\n"),
    );
    warm(&d, &["/_preload/c", "/_preload/d"]).await;
    d.advance(Duration::from_secs(3));
    assert!(
        d.wait_for_log(&["schedule fired"]).is_some(),
        "the schedule fired"
    );
    // The operator removes the schedule and restarts after a crash: no
    // catch-up re-applies it, the kept mark alone must hold.
    d.kill9();
    let d = sb.daemon(&up, "");
    assert_eq!(get(d.main, "/_preload/c", &[]).await.cache(), "STALE");
    assert_eq!(get(d.main, "/_preload/d", &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_mark_keeps_its_time_across_a_restart() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let d = sb.daemon_cache(&up, "grace = \"1s\"", "");
    warm(&d, &["/_preload/g"]).await;
    invalidate(admin(&d), &[JSON], r#"{"urls": ["/g"], "soft": true}"#).await;
    d.kill9();
    // Grace counts from the mark, not from the start after it: once it has
    // run out, the page is fetched anew (MISS), neither HIT nor STALE.
    sb.advance_clock(Duration::from_millis(1200));
    let d = sb.daemon_cache(&up, "grace = \"1s\"", "");
    assert_eq!(get(d.main, "/_preload/g", &[]).await.cache(), "MISS");
    assert_eq!(up.count(), 2);
}
