//! Several nodes on one real Redis (SPEC §10): an invalidation accepted by
//! one node reaches the others, soft as soft; a node that was down catches
//! up before it serves; Redis down means `pending` and an outbox that is
//! sent later, even across a kill -9; a trimmed stream drops everything;
//! garbage in the stream is skipped. Without `[cluster]` nothing connects.

use std::time::{Duration, Instant};

use crate::support::metrics::scrape;
use crate::support::redis::Redis;
use crate::support::webhook::{admin, cli_config, cli_invalidate, count, invalidate, warm, JSON};
use crate::support::{get, request, Daemon, Sandbox, Upstream};

const STREAM: &str = "test:invalidations";
const PAGE: &str = "/_preload/p?tags=t1";
const OTHER: &str = "/_preload/o?tags=t2";

fn cluster(redis: &Redis, node: &str) -> String {
    format!(
        "[cluster]\nredis = {:?}\nstream = {STREAM:?}\nnode = {node:?}\n",
        redis.url()
    )
}

fn node(sb: &Sandbox, up: &Upstream, redis: &Redis, name: &str) -> Daemon {
    sb.daemon_cache(up, "grace = \"60s\"", &cluster(redis, name))
}

async fn health(d: &Daemon) -> serde_json::Value {
    let reply = request(admin(d), "GET", "/_preloadd/health", &[], b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    serde_json::from_slice(&reply.body).expect("health JSON")
}

/// Polls `d`'s health (for up to 10 s) until `f` holds of its cluster object.
async fn until(d: &Daemon, what: &str, f: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = health(d).await;
        if f(&h["cluster"]) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}; health: {h}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn applied(d: &Daemon, n: u64) {
    until(d, &format!("{n} entries applied"), |c| {
        c["applied"].as_u64() >= Some(n)
    })
    .await;
}

async fn webhook(d: &Daemon, body: &str) -> serde_json::Value {
    let reply = invalidate(admin(d), &[JSON], body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    serde_json::from_slice(&reply.body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_to_one_node_reaches_the_others_soft_as_soft() {
    let Some(redis) = Redis::start("cluster::reaches_the_others") else {
        return;
    };
    let up = Upstream::start().await;
    let sbs = [Sandbox::new(), Sandbox::new(), Sandbox::new()];
    let nodes: Vec<Daemon> = ["a", "b", "c"]
        .iter()
        .zip(&sbs)
        .map(|(name, sb)| node(sb, &up, &redis, name))
        .collect();
    for d in &nodes {
        warm(d, &[PAGE, OTHER]).await;
        assert_eq!(health(d).await["cluster"]["connected"], true);
    }
    assert_eq!(up.count_of("/p?tags=t1"), 3);

    let reply = webhook(&nodes[0], r#"{"tags": ["t1"]}"#).await;
    assert_eq!(reply["cluster"], "ok", "{reply}");
    assert_eq!(reply["invalidated"], 1);
    for d in &nodes[1..] {
        applied(d, 1).await;
    }
    for d in &nodes {
        assert_eq!(get(d.main, PAGE, &[]).await.cache(), "MISS");
        assert_eq!(get(d.main, OTHER, &[]).await.cache(), "HIT");
    }
    assert_eq!(up.count_of("/p?tags=t1"), 6, "one fetch per node");
    assert_eq!(
        health(&nodes[0]).await["cluster"]["applied"],
        0,
        "its own entry is not applied again"
    );

    webhook(&nodes[0], r#"{"tags": ["t2"], "soft": true}"#).await;
    for d in &nodes[1..] {
        applied(d, 2).await;
        assert_eq!(
            get(d.main, OTHER, &[]).await.cache(),
            "STALE",
            "soft travels as soft"
        );
        // The metrics carry the same figures as health.
        let m = scrape(d).await;
        assert_eq!(m.get("preloadd_cluster_applied_entries_total"), 2.0);
        assert_eq!(m.get("preloadd_cluster_connected"), 1.0);
        assert_eq!(m.get("preloadd_cluster_outbox_entries"), 0.0);
        assert_eq!(
            m.get(r#"preloadd_invalidations_total{source="cluster"}"#),
            2.0
        );
    }
    let own = scrape(&nodes[0]).await;
    assert_eq!(own.get("preloadd_cluster_applied_entries_total"), 0.0);
    assert_eq!(
        own.get(r#"preloadd_invalidations_total{source="webhook"}"#),
        2.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_was_down_applies_what_it_missed_before_serving() {
    let Some(redis) = Redis::start("cluster::catches_up") else {
        return;
    };
    let up = Upstream::start().await;
    let (sa, sc) = (Sandbox::new(), Sandbox::new());
    let a = node(&sa, &up, &redis, "a");
    let c = node(&sc, &up, &redis, "c");
    warm(&c, &[PAGE, OTHER]).await;
    let config = c.config_path.clone();
    assert!(c.terminate().success());

    webhook(&a, r#"{"tags": ["t1"]}"#).await;
    webhook(&a, r#"{"urls": ["/o?tags=t2"]}"#).await;
    let c = Daemon::start_with(&config);
    // No waiting: the catch-up is done before the node accepts requests.
    assert_eq!(get(c.main, PAGE, &[]).await.cache(), "MISS");
    assert_eq!(get(c.main, OTHER, &[]).await.cache(), "MISS");
    assert_eq!(health(&c).await["cluster"]["applied"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_means_pending_and_the_outbox_is_sent_when_it_is_back() {
    let Some(mut redis) = Redis::start_durable("cluster::outbox") else {
        return;
    };
    let up = Upstream::start().await;
    let (sa, sb, sc) = (Sandbox::new(), Sandbox::new(), Sandbox::new());
    let a = node(&sa, &up, &redis, "a");
    let b = node(&sb, &up, &redis, "b");
    let c = node(&sc, &up, &redis, "c");
    // One entry first: B and C then have a last applied id to follow on from.
    webhook(&a, r#"{"tags": ["t0"]}"#).await;
    applied(&b, 1).await;
    applied(&c, 1).await;
    for d in [&a, &b, &c] {
        warm(d, &[PAGE, OTHER]).await;
    }

    redis.stop();
    let reply = webhook(&a, r#"{"tags": ["t1"]}"#).await;
    assert_eq!(reply["cluster"], "pending", "{reply}");
    assert_eq!(count_of(&reply), 1);
    assert_eq!(
        get(a.main, PAGE, &[]).await.cache(),
        "MISS",
        "the local drop holds"
    );
    assert_eq!(health(&a).await["cluster"]["outbox"], 1);
    // `preloadd invalidate` says so too.
    let out = cli_invalidate(&cli_config(&a, sa.dir.path()), &["--tag", "t9"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "invalidated 0; the cluster's copy waits in the outbox until Redis answers"
    );
    for d in [&b, &c] {
        assert_eq!(get(d.main, PAGE, &[]).await.cache(), "HIT");
    }

    redis.run();
    for d in [&b, &c] {
        applied(d, 2).await;
        assert_eq!(get(d.main, PAGE, &[]).await.cache(), "MISS");
        assert_eq!(
            get(d.main, OTHER, &[]).await.cache(),
            "HIT",
            "nothing else dropped"
        );
        until(d, "reconnected", |s| s["connected"] == true).await;
    }
    until(&a, "the outbox emptied", |s| s["outbox"] == 0).await;
    let out = cli_invalidate(&cli_config(&a, sa.dir.path()), &["--tag", "t9"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "invalidated 0; sent to the cluster"
    );
}

fn count_of(reply: &serde_json::Value) -> u64 {
    reply["invalidated"].as_u64().expect("a count")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outbox_entry_survives_a_kill_9() {
    let Some(mut redis) = Redis::start("cluster::outbox_kill9") else {
        return;
    };
    let up = Upstream::start().await;
    let (sa, sb) = (Sandbox::new(), Sandbox::new());
    let a = node(&sa, &up, &redis, "a");
    let b = node(&sb, &up, &redis, "b");
    warm(&b, &[PAGE, OTHER]).await;

    redis.stop();
    let reply = webhook(&a, r#"{"tags": ["t1"]}"#).await;
    assert_eq!(reply["cluster"], "pending", "{reply}");
    let config = a.config_path.clone();
    a.kill9();
    redis.run();
    let a = Daemon::start_with(&config);
    applied(&b, 1).await;
    assert_eq!(get(b.main, PAGE, &[]).await.cache(), "MISS");
    assert_eq!(get(b.main, OTHER, &[]).await.cache(), "HIT");
    until(&a, "the outbox emptied", |c| c["outbox"] == 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_trimmed_past_a_node_drops_everything_on_it() {
    let Some(redis) = Redis::start("cluster::trimmed") else {
        return;
    };
    let up = Upstream::start().await;
    let (sa, sc) = (Sandbox::new(), Sandbox::new());
    let a = node(&sa, &up, &redis, "a");
    let c = node(&sc, &up, &redis, "c");
    webhook(&a, r#"{"tags": ["t0"]}"#).await;
    applied(&c, 1).await;
    warm(&c, &[PAGE, OTHER]).await;
    let config = c.config_path.clone();
    assert!(c.terminate().success());

    webhook(&a, r#"{"tags": ["t9"]}"#).await;
    webhook(&a, r#"{"tags": ["t8"]}"#).await;
    redis.cli(&["XTRIM", STREAM, "MAXLEN", "1"]);
    let c = Daemon::start_with(&config);
    assert_eq!(
        get(c.main, OTHER, &[]).await.cache(),
        "MISS",
        "trimmed: everything dropped"
    );
    assert_eq!(get(c.main, PAGE, &[]).await.cache(), "MISS");
    // Once: the id after the drop is kept, a restart drops nothing more.
    warm(&c, &[PAGE]).await;
    assert!(c.terminate().success());
    let c = Daemon::start_with(&config);
    assert_eq!(get(c.main, PAGE, &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_in_the_stream_is_logged_and_skipped() {
    let Some(redis) = Redis::start("cluster::garbage") else {
        return;
    };
    let up = Upstream::start().await;
    let (sa, sb) = (Sandbox::new(), Sandbox::new());
    let a = node(&sa, &up, &redis, "a");
    let b = node(&sb, &up, &redis, "b");
    warm(&b, &[PAGE, OTHER]).await;
    redis.cli(&["XADD", STREAM, "*", "foo", "bar"]);
    redis.cli(&["XADD", STREAM, "*", "node", "x", "selector", "{not json"]);
    assert!(b.wait_for_log(&["does not read"]).is_some());
    webhook(&a, r#"{"tags": ["t1"]}"#).await;
    applied(&b, 1).await;
    assert_eq!(get(b.main, PAGE, &[]).await.cache(), "MISS");
    assert_eq!(get(b.main, OTHER, &[]).await.cache(), "HIT");
}

/// A guard: nothing in the daemon reads a Redis address from the
/// environment, and without `[cluster]` it opens no connection.
#[tokio::test(flavor = "multi_thread")]
async fn without_cluster_nothing_connects_whatever_the_environment_says() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("redis://{}/0", listener.local_addr().unwrap());
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let text = crate::support::config_text(&up.url(), &sb.cache_dir(), "", "");
    let path = sb.dir.path().join("preload.toml");
    std::fs::write(&path, text).unwrap();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("PRELOADD_REDIS", url.as_str()),
    ];
    let d = Daemon::start_env(&path, None, &env);
    warm(&d, &[PAGE]).await;
    let reply = invalidate(admin(&d), &[JSON], r#"{"tags": ["t1"]}"#).await;
    assert_eq!(count(&reply), 1);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body.get("cluster"), None, "{body}");
    assert_eq!(health(&d).await.get("cluster"), None);
    assert!(matches!(
        listener.accept(),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    ));
}
