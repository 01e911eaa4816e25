//! Preload requests end to end: MISS then HIT, one fetch per cold key,
//! snapshots that survive restarts and crashes, and the size bound.

use std::time::Duration;

use crate::support::{get, sized_body, Sandbox, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn miss_then_hit_with_one_upstream_request() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");

    let first = get(d.main, "/_preload/page/?a=1", &[]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.cache(), "MISS");
    let second = get(d.main, "/_preload/page/?a=1", &[]).await;
    assert_eq!(second.cache(), "HIT");
    assert_eq!(second.body, first.body);
    assert_eq!(
        second.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(second.header("etag").is_some() && second.header("last-modified").is_some());
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn equivalent_targets_share_one_snapshot() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[preload]\nignore_query = [\"utm_*\"]\n");

    get(d.main, "/_preload/list?b=2&a=1", &[]).await;
    for variant in [
        "/_preload/list?a=1&b=2",
        "/_preload/list?a=1&&b=2&c=&utm_source=x",
        "/_preload/%6Cist?b=2&a=1",
    ] {
        assert_eq!(get(d.main, variant, &[]).await.cache(), "HIT", "{variant}");
    }
    assert_eq!(up.count(), 1);
    assert_eq!(
        up.count_of("/list?a=1&b=2"),
        1,
        "fetched at the canonical target"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_cold_requests_make_one_upstream_request() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let main = d.main;

    let requests: Vec<_> = (0..200)
        .map(|_| tokio::spawn(async move { get(main, "/_preload/herd?delay=300", &[]).await }))
        .collect();
    let mut bodies = Vec::new();
    for r in requests {
        let reply = r.await.unwrap();
        assert_eq!(reply.status, 200);
        // A request that connects after the page was kept gets a HIT.
        assert!(matches!(reply.cache(), "MISS" | "HIT"), "{}", reply.cache());
        bodies.push(reply.body);
    }
    assert_eq!(up.count(), 1);
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "every waiter got the same body"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_route_serves_its_own_paths_and_passes_posts() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(
        &up,
        "[[route]]\nmatch = \"/events/*\"\n\n[[route]]\nmatch = \"/off/*\"\nsnapshot = false\n",
    );

    assert_eq!(get(d.main, "/events/1/", &[]).await.cache(), "MISS");
    assert_eq!(get(d.main, "/events/1/", &[]).await.cache(), "HIT");
    assert_eq!(
        get(d.main, "/_preload/events/1/", &[]).await.cache(),
        "HIT",
        "same key with the prefix"
    );
    let post = crate::support::request(d.main, "POST", "/events/1/", &[], b"x=1").await;
    assert_eq!(post.cache(), "-", "a form POST passes through");
    assert_eq!(get(d.main, "/off/1/", &[]).await.cache(), "-");
    assert_eq!(get(d.main, "/other/", &[]).await.cache(), "-");
    assert_eq!(up.count(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_serves_hits_without_upstream_requests() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let first = get(d.main, "/_preload/keep", &[]).await;
    assert_eq!(first.cache(), "MISS");
    assert!(d.terminate().success(), "SIGTERM exits 0");
    let checkpoint = sb.cache_dir().join(".preloadd-index");
    assert!(
        checkpoint.exists(),
        "a clean stop leaves an index checkpoint"
    );

    let d = sb.daemon(&up, "");
    assert!(!checkpoint.exists(), "the start used it up");
    let again = get(d.main, "/_preload/keep", &[]).await;
    assert_eq!(again.cache(), "HIT");
    assert_eq!(again.body, first.body);
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill9_during_writes_never_leaves_a_wrong_snapshot() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    // 50 fetches share 32 slots, and the wait for one counts toward
    // fetch_timeout: a loaded machine must not turn this into 504s.
    let text = crate::support::config_text(&up.url(), &sb.cache_dir(), "", "")
        .replace("fetch_timeout = \"5s\"", "fetch_timeout = \"60s\"");
    let start = || crate::support::Daemon::start(sb.dir.path(), &text);
    let d = start();
    let main = d.main;
    // 50 distinct pages of 0.5-1 MB whose answers arrive over ~500 ms.
    let target = |i: usize| format!("/big/{i}?delay={}&size={}", i * 10, 500_000 + i * 10_000);
    let expected = |i: usize| sized_body(500_000 + i * 10_000);
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let t = format!("/_preload{}", target(i));
            tokio::spawn(async move { get(main, &t, &[]).await })
        })
        .collect();
    // Kill once a few pages are on disk, while the later ones are still
    // arriving and being written.
    let snapshot_files = || {
        walk(&sb.cache_dir())
            .iter()
            .filter(|p| p.rsplit('/').next().is_some_and(|n| n.len() == 64))
            .count()
    };
    for _ in 0..200 {
        if snapshot_files() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    d.kill9();
    for r in requests {
        let _ = r.await;
    }

    let d = start();
    let main = d.main;
    let replies: Vec<_> = (0..50)
        .map(|i| {
            let t = format!("/_preload{}", target(i));
            tokio::spawn(async move { get(main, &t, &[]).await })
        })
        .collect();
    let mut hits = 0;
    for (i, reply) in replies.into_iter().enumerate() {
        let reply = reply.await.unwrap();
        assert_eq!(reply.status, 200);
        assert!(
            reply.body == expected(i),
            "page {i} ({}) has a wrong body",
            reply.cache()
        );
        hits += usize::from(reply.cache() == "HIT");
    }
    assert!(hits > 0, "some pages were written before the kill");
    // The MISSes of this start are answered before they are written.
    d.wait_kept(50).await;
    let leftovers = walk(&sb.cache_dir())
        .iter()
        .filter(|p| {
            p.rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with(".tmp"))
        })
        .count();
    assert_eq!(leftovers, 0, "temporary files removed at start");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn max_size_evicts_least_recently_used() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_cache(&up, "max_size = \"100KiB\"", "");

    // Ten 20 KB pages cannot all fit in 100 KiB.
    for i in 0..10 {
        get(d.main, &format!("/_preload/p{i}?size=20000"), &[]).await;
        // Keep page 0 recently used.
        assert_eq!(
            get(d.main, "/_preload/p0?size=20000", &[]).await.status,
            200
        );
    }
    let on_disk: u64 = walk(&sb.cache_dir())
        .iter()
        .filter(|p| {
            ![
                ".preloadd-store",
                ".preloadd-generation",
                ".preloadd-ceiling",
            ]
            .iter()
            .any(|m| p.ends_with(m))
        })
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    assert!(on_disk <= 100 * 1024, "{on_disk} bytes on disk");
    assert_eq!(
        get(d.main, "/_preload/p0?size=20000", &[]).await.cache(),
        "HIT",
        "recently used survives"
    );
    assert_eq!(
        get(d.main, "/_preload/p1?size=20000", &[]).await.cache(),
        "MISS",
        "least recently used went first"
    );
}
