//! `GET /_preloadd/`, the status page, through the real daemon: the
//! figures it shows are the metrics' (scraped right after), user strings
//! are escaped, the token works as a Basic password, and a real browser
//! (headless Chromium) shows the same figures (docs/operations.md,
//! "Status page").

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::support::metrics::{scrape, Scrape};
use crate::support::webhook::{admin, count, invalidate, JSON};
use crate::support::{get, request, Daemon, Sandbox, Upstream};

/// `(metric, value)` for every element tagged `data-metric="…"` in `html`,
/// as the daemon writes it or as a browser serializes its DOM.
fn figures(html: &str) -> Vec<(String, f64)> {
    html.split("data-metric=\"")
        .skip(1)
        .map(|rest| {
            let (name, after) = rest.split_once('"').expect("a closed attribute");
            let value = after.split_once('>').expect("an element").1;
            let value = value.split('<').next().unwrap_or_default().trim();
            let name = name.replace("&quot;", "\"").replace("&amp;", "&");
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("{name}: not a number: {value:?}"));
            (name, value)
        })
        .collect()
}

/// Every figure the page shows equals the scrape's; the ones the run
/// below moves are all there.
fn same_figures(html: &str, scrape: &Scrape) {
    let shown = figures(html);
    for (name, value) in &shown {
        assert_eq!(*value, scrape.get(name), "{name} on the page");
    }
    for must in [
        "preloadd_requests_total{result=\"hit\"}",
        "preloadd_requests_total{result=\"miss\"}",
        "preloadd_requests_total{result=\"pass\"}",
        "preloadd_pass_requests_total{reason=\"no-store\"}",
        "preloadd_snapshots",
        "preloadd_snapshot_disk_bytes",
        "preloadd_upstream_fetch_duration_seconds_count",
        "preloadd_invalidations_total{source=\"webhook\"}",
    ] {
        assert!(
            shown.iter().any(|(n, _)| n == must),
            "no {must} on the page"
        );
    }
}

/// 1 MISS, 3 HIT, 1 PASS (no-store), one webhook invalidation by a tag
/// that is markup.
async fn traffic(d: &Daemon) {
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "MISS");
    for _ in 0..3 {
        assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "HIT");
    }
    let pass = get(d.main, "/_preload/p?cc=no-store", &[]).await;
    assert_eq!(pass.cache(), "PASS");
    let body = r#"{"urls": ["/gone?q=x"], "tags": ["<script>alert(1)</script>"]}"#;
    let reply = invalidate(admin(d), &[JSON], body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(count(&reply), 0);
    // The MISS was answered before its write: the figures below count it
    // once it is written.
    d.wait_kept(1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_the_metrics_and_escapes_what_users_wrote() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    traffic(&d).await;

    let page = get(admin(&d), "/_preloadd/", &[]).await;
    let metrics = scrape(&d).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let html = page.text();
    same_figures(&html, &metrics);
    assert_eq!(metrics.get("preloadd_requests_total{result=\"hit\"}"), 3.0);
    assert!(html.contains("<svg id=\"hit-ratio\""));
    assert!(html.contains("<meta http-equiv=\"refresh\""));
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    // The invalidation is listed, its markup escaped.
    let recent = html
        .split("id=\"recent\"")
        .nth(1)
        .expect("the recent table");
    assert!(recent.contains("webhook"), "{recent}");
    assert!(
        recent.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{recent}"
    );
    assert!(!html.contains("<script"), "{html}");

    let head = request(admin(&d), "HEAD", "/_preloadd/", &[], b"").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let post = request(admin(&d), "POST", "/_preloadd/", &[], b"").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(get(admin(&d), "/_preloadd/nope", &[]).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_the_page_takes_it_as_a_basic_password() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\ntoken = \"s3cret\"\n");
    let none = get(admin(&d), "/_preloadd/", &[]).await;
    assert_eq!(none.status, 401);
    // The browser's prompt: a Basic challenge among the answer's.
    assert!(
        none.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("www-authenticate") && v.starts_with("Basic")),
        "{:?}",
        none.headers
    );
    let basic = |pass: &str| {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("ops:{pass}"));
        format!("Authorization: Basic {encoded}")
    };
    let wrong = get(admin(&d), "/_preloadd/", &[&basic("nope")]).await;
    assert_eq!(wrong.status, 401);
    let page = get(admin(&d), "/_preloadd/", &[&basic("s3cret")]).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<svg id=\"hit-ratio\""));
}

/// Chromium's binary, or `None` where it is missing (outside CI: CI
/// installs it, scripts/test.sh, and there a missing one fails).
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        let required = std::env::var_os("CI").is_some()
            || std::env::var_os("PRELOADD_REQUIRE_MOUNTS").is_some_and(|v| v == "1");
        assert!(
            !required,
            "chromium is missing on CI (scripts/test.sh installs it)"
        );
        eprintln!("SKIPPED: chromium is not installed");
    }
    found
}

/// `chromium --headless --dump-dom URL` in its own process group, with
/// a throwaway profile under `dir`; killed (the group) after 60 s.
fn dump_dom(chromium: &str, dir: &Path, url: &str) -> String {
    use std::os::unix::process::CommandExt;
    let profile = dir.join("chromium-profile");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args(["--disable-dev-shm-usage", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .env("HOME", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let pid = child.id() as i32;
    let reader = {
        let mut out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut s);
            s
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            // SAFETY: kill(2) on the group chromium leads; no memory involved.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = reader.join().expect("reader");
    // Its helpers (zygote, renderer) end with it; make sure.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    assert!(status.is_some(), "chromium did not finish within 60 s");
    dom
}

#[tokio::test(flavor = "multi_thread")]
async fn a_headless_browser_shows_the_same_figures() {
    let Some(chromium) = chromium() else {
        return;
    };
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    traffic(&d).await;

    let url = format!("http://{}/_preloadd/", admin(&d));
    let dir = sb.dir.path().to_path_buf();
    let dom = tokio::task::spawn_blocking(move || dump_dom(chromium, &dir, &url))
        .await
        .expect("chromium task");
    let metrics = scrape(&d).await;
    assert!(dom.contains("<svg id=\"hit-ratio\""), "no chart in\n{dom}");
    assert!(
        dom.contains("class=\"ratio\""),
        "no line in the chart\n{dom}"
    );
    same_figures(&dom, &metrics);
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!dom.contains("<script"), "{dom}");
}
