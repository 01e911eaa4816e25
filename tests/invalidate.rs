//! Invalidation end to end: the webhook's selectors and auth, the promise
//! that a dropped page is never a HIT after the reply, soft invalidation
//! and grace, schedules, TTLs, catch-up at start and rewarm.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::{get, request, Daemon, Reply, Sandbox, Upstream};

const JSON: &str = "Content-Type: application/json";
const FORM: &str = "Content-Type: application/x-www-form-urlencoded";

async fn invalidate(addr: SocketAddr, headers: &[&str], body: &str) -> Reply {
    request(addr, "POST", "/_invalidate", headers, body.as_bytes()).await
}

fn admin(d: &Daemon) -> SocketAddr {
    d.admin.expect("admin listener")
}

/// Warms `targets` (each fetched once) and checks they are HITs.
async fn warm(d: &Daemon, targets: &[&str]) {
    for t in targets {
        get(d.main, t, &[]).await;
        assert_eq!(get(d.main, t, &[]).await.cache(), "HIT", "{t}");
    }
}

fn count(reply: &Reply) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&reply.body).unwrap_or_else(|_| panic!("{}", reply.text()));
    v["invalidated"].as_u64().unwrap()
}

/// GETs `target` until it is a HIT (for up to 5 s): a background refetch
/// is counted by the app before its snapshot is written.
async fn hit_eventually(d: &Daemon, target: &str) -> Reply {
    for _ in 0..100 {
        let reply = get(d.main, target, &[]).await;
        if reply.cache() == "HIT" {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{target} never became a HIT");
}

/// Polls until `f` holds, for up to 5 s.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn each_selector_drops_what_it_names_in_json_and_form() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(
        &up,
        "[[route]]\nmatch = \"/events/*\"\ntags = [\"events.Event\"]\n",
    );
    let cases: [(&str, &str, &str, &[&str]); 8] = [
        (
            JSON,
            r#"{"tags": ["t1"]}"#,
            "/_preload/a?tags=t1",
            &["/_preload/b?tags=t2"],
        ),
        (
            FORM,
            "tag=t1",
            "/_preload/a?tags=t1",
            &["/_preload/b?tags=t2"],
        ),
        (
            JSON,
            r#"{"models": ["events.Event"]}"#,
            "/_preload/events/1/",
            &["/_preload/other/"],
        ),
        (
            FORM,
            "model=events.Event",
            "/_preload/events/1/",
            &["/_preload/other/"],
        ),
        (
            JSON,
            r#"{"urls": ["/_preload/u/?b=2&a=1"]}"#,
            "/_preload/u/?a=1&b=2",
            &["/_preload/u/"],
        ),
        (
            FORM,
            "url=%2Fu%2F%3Fa%3D1%26b%3D2",
            "/_preload/u/?a=1&b=2",
            &["/_preload/u/"],
        ),
        (
            JSON,
            r#"{"prefixes": ["/p/"]}"#,
            "/_preload/p/x?y=1",
            &["/_preload/q/x"],
        ),
        (FORM, "prefix=/p/", "/_preload/p/x?y=1", &["/_preload/q/x"]),
    ];
    for (ctype, body, dropped, kept) in cases {
        warm(&d, &[dropped]).await;
        warm(&d, kept).await;
        let reply = invalidate(admin(&d), &[ctype], body).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.text());
        assert!(count(&reply) >= 1, "{body}");
        assert_eq!(
            get(d.main, dropped, &[]).await.cache(),
            "MISS",
            "{body} drops {dropped}"
        );
        for k in kept {
            assert_eq!(get(d.main, k, &[]).await.cache(), "HIT", "{body} keeps {k}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn all_and_invalidating_models_drop_everything() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\nmodels = [\"site.Settings\"]\n");
    warm(&d, &["/_preload/a", "/_preload/b"]).await;
    let reply = invalidate(admin(&d), &[JSON], r#"{"models": ["site.Settings"]}"#).await;
    assert_eq!(count(&reply), 2);
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "MISS");
    warm(&d, &["/_preload/b"]).await;
    let reply = invalidate(admin(&d), &[FORM], "all=1").await;
    assert!(count(&reply) >= 2);
    assert_eq!(get(d.main, "/_preload/b", &[]).await.cache(), "MISS");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_with_a_reason() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    for (body, ctype) in [
        ("", FORM),
        ("{", JSON),
        (r#"{"tagz": ["x"]}"#, JSON),
        (r#"{"urls": ["/a/../b"]}"#, JSON),
        ("frob=1", FORM),
    ] {
        let reply = invalidate(admin(&d), &[ctype], body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(!reply.text().trim().is_empty(), "a message for {body}");
    }
    assert_eq!(
        request(admin(&d), "GET", "/_invalidate", &[], b"")
            .await
            .status,
        405
    );
    let big = format!("tag={}", "x".repeat(1024 * 1024 + 10));
    assert_eq!(invalidate(admin(&d), &[FORM], &big).await.status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_listener_always_needs_a_token() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let reply = invalidate(d.main, &[FORM], "all=1").await;
    assert_eq!(reply.status, 403, "no token configured");
    assert!(reply.text().contains("token"));
    drop(d);

    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\ntoken = \"s3cret\"\n");
    assert_eq!(invalidate(d.main, &[FORM], "all=1").await.status, 401);
    assert_eq!(
        invalidate(d.main, &[FORM, "Authorization: Bearer wrong"], "all=1")
            .await
            .status,
        401
    );
    assert_eq!(
        invalidate(admin(&d), &[FORM], "all=1").await.status,
        401,
        "configured: the admin listener needs it too"
    );
    let ok = invalidate(d.main, &[FORM, "Authorization: Bearer s3cret"], "all=1").await;
    assert_eq!(ok.status, 200);
    assert_eq!(up.count(), 0, "the webhook never reaches the app");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalidation_overtaking_a_fetch_keeps_its_result_out() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let main = d.main;
    let slow = tokio::spawn(async move { get(main, "/_preload/race?delay=700", &[]).await });
    assert!(eventually(|| up.count() == 1).await, "the fetch started");
    let reply = invalidate(admin(&d), &[JSON], r#"{"urls": ["/race?delay=700"]}"#).await;
    assert_eq!(reply.status, 200);
    let raced = slow.await.unwrap();
    assert_eq!(raced.cache(), "PASS");
    assert_eq!(raced.header("x-preload-reason"), Some("invalidated"));
    assert_eq!(
        get(d.main, "/_preload/race?delay=700", &[]).await.cache(),
        "MISS"
    );
}

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
    let sb = Sandbox::new();
    let d = sb.daemon_cache(&up, "grace = \"1500ms\"", "");
    get(d.main, "/_preload/g", &[]).await;
    drop(up);
    invalidate(admin(&d), &[JSON], r#"{"urls": ["/g"], "soft": true}"#).await;
    for _ in 0..3 {
        assert_eq!(get(d.main, "/_preload/g", &[]).await.cache(), "STALE");
    }
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let after = get(d.main, "/_preload/g", &[]).await;
    assert_eq!(after.status, 502, "{:?} {}", after.headers, after.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_every_second_schedule_drops_within_two_seconds() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(
        &up,
        "[[schedule]]\ncron = \"* * * * * *\"\ntags = [\"ticker\"]\n",
    );
    warm(&d, &["/_preload/t?tags=ticker"]).await;
    warm(&d, &["/_preload/other"]).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        get(d.main, "/_preload/t?tags=ticker", &[]).await.cache(),
        "MISS"
    );
    assert_eq!(get(d.main, "/_preload/other", &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_ttl_expires_snapshots() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[[route]]\nmatch = \"/news/*\"\nttl = \"1s\"\n");
    let first = get(d.main, "/news/1", &[]).await;
    assert_eq!(get(d.main, "/news/1", &[]).await.cache(), "HIT");
    tokio::time::sleep(Duration::from_millis(1100)).await;
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
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/c", "/_preload/d?tags=keep"]).await;
    assert!(d.terminate().success());
    // A yearly schedule whose one firing this year is the second after now.
    let fire = chrono::Utc::now() + chrono::Duration::seconds(2);
    let cron = fire.format("%S %M %H %d %m *").to_string();
    tokio::time::sleep(Duration::from_millis(3000)).await;
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
async fn a_kill9_right_after_the_reply_does_not_bring_pages_back() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/k1", "/_preload/k2", "/_preload/k3?tags=z"]).await;
    assert_eq!(invalidate(admin(&d), &[FORM], "url=/k1").await.status, 200);
    assert_eq!(invalidate(admin(&d), &[FORM], "tag=z").await.status, 200);
    d.kill9();
    let d = sb.daemon(&up, "");
    assert_eq!(get(d.main, "/_preload/k1", &[]).await.cache(), "MISS");
    assert_eq!(
        get(d.main, "/_preload/k3?tags=z", &[]).await.cache(),
        "MISS"
    );
    assert_eq!(get(d.main, "/_preload/k2", &[]).await.cache(), "HIT");
    assert_eq!(invalidate(admin(&d), &[FORM], "all=1").await.status, 200);
    d.kill9();
    let d = sb.daemon(&up, "");
    assert_eq!(get(d.main, "/_preload/k2", &[]).await.cache(), "MISS");
}

#[tokio::test(flavor = "multi_thread")]
async fn preloadd_invalidate_calls_the_admin_listener() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/cli?tags=c"]).await;
    // The CLI reads the admin address from the config: point it at the
    // port the daemon actually bound.
    let config = std::fs::read_to_string(&d.config_path).unwrap().replace(
        "admin_listen = \"127.0.0.1:0\"",
        &format!("admin_listen = \"{}\"", admin(&d)),
    );
    let cli_config = sb.dir.path().join("cli.toml");
    std::fs::write(&cli_config, config).unwrap();
    let out = std::process::Command::new(support::daemon::binary())
        .args([
            "invalidate",
            "--config",
            cli_config.to_str().unwrap(),
            "--tag",
            "c",
        ])
        .env_remove("PRELOADD_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "invalidated 1");
    assert_eq!(
        get(d.main, "/_preload/cli?tags=c", &[]).await.cache(),
        "MISS"
    );
    drop(d);
    let out = std::process::Command::new(support::daemon::binary())
        .args([
            "invalidate",
            "--config",
            cli_config.to_str().unwrap(),
            "--all",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "daemon gone");
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_successful_write_on_a_snapshot_route_drops_its_pages() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[[route]]\nmatch = \"/events/*\"\n");
    let page = "/events/1/?poststatus=204";
    let failing = "/events/2/?poststatus=403";
    let moved = "/events/3/";
    warm(&d, &[page, failing, moved]).await;

    assert_eq!(request(d.main, "POST", page, &[], b"x=1").await.status, 204);
    assert_eq!(
        get(d.main, page, &[]).await.cache(),
        "MISS",
        "dropped before the answer went out"
    );
    assert_eq!(
        request(d.main, "DELETE", failing, &[], b"").await.status,
        403
    );
    assert_eq!(
        get(d.main, failing, &[]).await.cache(),
        "HIT",
        "an error drops nothing"
    );
    let create = "/events/new?poststatus=303&location=http://test.local/events/3/";
    assert_eq!(
        request(d.main, "M-SEARCH", create, &[], b"").await.status,
        303
    );
    assert_eq!(
        get(d.main, moved, &[]).await.cache(),
        "MISS",
        "its Location is dropped too"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_past_ttl_and_grace_are_removed_from_disk() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
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
