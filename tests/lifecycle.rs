//! The daemon's life as an operator sees it: the line it starts with, one
//! daemon per cache dir, and the signals it takes.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{config_text, get, Daemon, Sandbox, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn the_start_line_says_what_runs_where_with_absolute_paths() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    // No [cache] dir: the default ./preload-cache, relative to the daemon's
    // working directory.
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
         [upstream]\nurl = \"{}\"\n[invalidate]\ntoken = \"s3cret-token\"\n",
        up.url()
    );
    std::fs::write(sb.dir.path().join("preload.toml"), text).unwrap();
    let relative = std::path::Path::new("preload.toml");
    let d = Daemon::start_in(relative, Some(sb.dir.path()));
    let root = std::fs::canonicalize(sb.dir.path()).unwrap();
    let line = d.start_line.clone();
    for part in [
        format!("version=\"{}\"", env!("CARGO_PKG_VERSION")),
        format!("config={}", root.join("preload.toml").display()),
        format!("cache_dir={}", root.join("preload-cache").display()),
        "snapshots=0".to_string(),
        format!("upstream={}", up.url().trim_end_matches('/')),
        format!("listen=http://{}", d.main),
        format!("admin=http://{}", d.admin.unwrap()),
        "token=\"set\"".to_string(),
    ] {
        assert!(line.contains(&part), "{part} missing from: {line}");
    }
    assert!(
        !line.contains("s3cret-token"),
        "the token is never shown: {line}"
    );
    get(d.main, "/_preload/a/", &[]).await;
    assert_eq!(d.terminate().code(), Some(0));

    let d = Daemon::start_in(relative, Some(sb.dir.path()));
    assert!(d.start_line.contains("snapshots=1"), "{}", d.start_line);
    assert_eq!(get(d.main, "/_preload/a/", &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_on_one_cache_dir_exits_1_naming_the_holder() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let first = sb.daemon(&up, "");
    // The same cache dir, another listen address.
    let other = sb.dir.path().join("other.toml");
    std::fs::write(&other, config_text(&up.url(), &sb.cache_dir(), "", "")).unwrap();
    let out = run_bounded(
        Command::new(crate::support::daemon::binary())
            .arg("--config")
            .arg(&other),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("preloadd: "))
        .unwrap_or_else(|| panic!("no error line in: {stderr}"));
    let dir = std::fs::canonicalize(sb.cache_dir()).unwrap();
    assert!(line.contains(&dir.display().to_string()), "{line}");
    assert!(line.contains(&format!("pid {}", first.pid())), "{line}");
    assert!(
        !stderr.contains("preloadd started"),
        "it never served: {stderr}"
    );

    // A lock left by a killed daemon never blocks: the kernel releases it.
    get(first.main, "/_preload/kept/", &[]).await;
    first.wait_written("/_preload/kept/").await;
    first.kill9();
    let again = Daemon::start_with(&other);
    assert_eq!(get(again.main, "/_preload/kept/", &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_and_is_never_fatal() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    get(d.main, "/_preload/a/", &[]).await;
    for _ in 0..2 {
        d.signal("HUP");
        let line = d.wait_for_log(&["SIGHUP"]).expect("a log line for SIGHUP");
        assert!(line.contains("config reloaded"), "{line}");
        assert!(line.contains("changed=nothing"), "{line}");
    }
    assert_eq!(get(d.main, "/_preload/a/", &[]).await.cache(), "HIT");
    assert_eq!(up.count(), 1);
    // Still the clean stop, with its checkpoint for the next start.
    assert_eq!(d.terminate().code(), Some(0));
    assert!(sb.cache_dir().join(".preloadd-index").exists());
}

/// Runs `command` to its end, or kills it after 10 s (a daemon that should
/// have refused to start but serves instead).
fn run_bounded(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn preloadd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().expect("output")
}

/// With one worker (one core, or `TOKIO_WORKER_THREADS=1`) the daemon runs
/// tokio's current-thread scheduler: the main task, the schedules and every
/// connection share one thread. It serves, purges, and drains a request in
/// flight on a stop as the multi-thread runtime does.
#[tokio::test(flavor = "multi_thread")]
async fn on_one_worker_the_daemon_serves_purges_and_drains() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let config_path = sb.dir.path().join("preload.toml");
    std::fs::write(
        &config_path,
        config_text(&up.url(), &sb.cache_dir(), "", ""),
    )
    .unwrap();
    let mut d = Daemon::start_env(&config_path, None, &[("TOKIO_WORKER_THREADS", "1")]);
    assert!(d.start_line.contains("workers=1"), "{}", d.start_line);

    assert_eq!(get(d.main, "/_preload/a/", &[]).await.cache(), "MISS");
    let hit = crate::support::webhook::hit_eventually(&d, "/_preload/a/").await;
    assert_eq!(hit.cache(), "HIT");
    let admin = crate::support::webhook::admin(&d);
    let json = crate::support::webhook::JSON;
    let reply = crate::support::webhook::invalidate(admin, &[json], r#"{"urls": ["/a/"]}"#).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(get(d.main, "/_preload/a/", &[]).await.cache(), "MISS");
    assert_eq!(up.count_of("/a/"), 2);

    // A request in flight when the stop comes is answered, then it exits 0.
    let main = d.main;
    let held = tokio::spawn(async move { get(main, "/_preload/held/?hold=1", &[]).await });
    let reached = crate::support::webhook::eventually(|| up.count_of("/held/?hold=1") == 1);
    assert!(reached.await, "the held fetch reached the app");
    d.signal("TERM");
    assert!(d
        .wait_for_log(&["stopping: draining connections"])
        .is_some());
    up.release();
    let answer = tokio::time::timeout(Duration::from_secs(10), held).await;
    assert_eq!(answer.expect("answered in the drain").unwrap().status, 200);
    assert_eq!(
        d.wait_exit(Duration::from_secs(10)).and_then(|s| s.code()),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_start_line_counts_one_worker_per_usable_core() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let cores = std::thread::available_parallelism().unwrap().get();
    let part = format!("workers={cores}");
    assert!(d.start_line.contains(&part), "{part}: {}", d.start_line);
}
