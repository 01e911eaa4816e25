//! `preloadd warm` through the real binary, against the real daemon and a
//! site whose requests are counted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::daemon::binary;
use crate::support::site::Site;
use crate::support::{get, Daemon, Sandbox};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The summary's counts, without the page total and the time taken.
    fn counts(&self) -> &str {
        let line = self.stdout.lines().last().unwrap_or("");
        line.split_once(": ").map_or(line, |(_, counts)| counts)
    }
}

/// `preloadd warm --config CONFIG ARGS`, with `stdin` as its input.
async fn warm(config: &Path, args: &[&str], stdin: &str) -> Run {
    let mut command = Command::new(binary());
    command
        .arg("warm")
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("PRELOADD_CONFIG")
        .env_remove("PRELOADD_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.to_string();
    // Off the runtime's threads: the site the daemon fetches from runs on them.
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("run preloadd warm");
        let mut input = child.stdin.take().expect("piped stdin");
        input.write_all(stdin.as_bytes()).expect("write stdin");
        drop(input);
        let out = child.wait_with_output().expect("wait for preloadd warm");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("the warm run")
}

/// A config for the CLI naming `listen` as the daemon's address (the
/// daemon's own file says port 0).
fn cli_config(sb: &Sandbox, d: &Daemon) -> PathBuf {
    let text = std::fs::read_to_string(&d.config_path)
        .unwrap()
        .replace("admin_listen = \"127.0.0.1:0\"", "admin_listen = \"\"")
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{}\"", d.main),
        );
    let path = sb.dir.path().join("cli.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn write_list(sb: &Sandbox, text: &str) -> String {
    let path = sb.dir.path().join("urls.txt");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn urlset(locs: &[&str]) -> String {
    let urls: String = locs
        .iter()
        .map(|l| format!("  <url><loc>{l}</loc></url>\n"))
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n{urls}</urlset>\n")
}

fn sitemap_index(locs: &[&str]) -> String {
    let maps: String = locs
        .iter()
        .map(|l| format!("  <sitemap><loc>{l}</loc></sitemap>\n"))
        .collect();
    format!("<?xml version=\"1.0\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n{maps}</sitemapindex>\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_fetches_each_listed_page_once_and_a_second_run_finds_them_warm() {
    let site = Site::start(Duration::ZERO).await;
    site.serve(
        "/account/",
        200,
        &[("set-cookie", "id=1")],
        "<html>account</html>",
    );
    let sb = Sandbox::new();
    let d = sb.daemon_url(&site.url(), "");
    let config = cli_config(&sb, &d);
    let list = write_list(
        &sb,
        "# the pages to warm\n/_preload/a/\n\n   /b/?x=1\nhttps://www.example.org/c/?y=2#top\n/account/\n",
    );

    let first = warm(&config, &[&list], "").await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(first.stdout.starts_with("4 pages in "), "{}", first.stdout);
    assert_eq!(
        first.counts(),
        "3 kept, 0 already warm, 0 stale, 1 passed (set-cookie 1), 0 failed"
    );
    assert!(
        first
            .stderr
            .contains("PASS (set-cookie) /_preload/account/"),
        "{}",
        first.stderr
    );
    for target in ["/a/", "/b/?x=1", "/c/?y=2", "/account/"] {
        assert_eq!(site.count_of(target), 1, "{target}");
    }

    let second = warm(&config, &[&list], "").await;
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert_eq!(
        second.counts(),
        "0 kept, 3 already warm, 0 stale, 1 passed (set-cookie 1), 0 failed"
    );
    for target in ["/a/", "/b/?x=1", "/c/?y=2"] {
        assert_eq!(site.count_of(target), 1, "{target} fetched again");
    }
    assert_eq!(
        site.count_of("/account/"),
        2,
        "a page not kept is fetched each time"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_reads_the_list_from_stdin() {
    let site = Site::start(Duration::ZERO).await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&site.url(), "");
    let run = warm(&cli_config(&sb, &d), &["-"], "/s1/\n/_preload/s2/").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.counts(),
        "2 kept, 0 already warm, 0 stale, 0 passed, 0 failed"
    );
    assert_eq!((site.count_of("/s1/"), site.count_of("/s2/")), (1, 1));
    assert_eq!(get(d.main, "/_preload/s2/", &[]).await.cache(), "HIT");
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_follows_a_sitemap_index_into_gzipped_sitemaps() {
    let site = Site::start(Duration::ZERO).await;
    let xml = [("content-type", "application/xml")];
    site.serve(
        "/sitemap.xml",
        200,
        &xml,
        sitemap_index(&[
            "https://www.example.org/sitemap-pages.xml",
            "/sitemap-more.xml.gz",
            "/sitemap-last.xml.gz",
        ]),
    );
    // One gzipped on the wire, one a .xml.gz file sent as it is, and one
    // a .xml.gz file gzipped again on the wire.
    site.serve(
        "/sitemap-pages.xml",
        200,
        &[
            ("content-type", "application/xml"),
            ("content-encoding", "gzip"),
        ],
        gzip(
            urlset(&[
                "https://www.example.org/p1/",
                "https://www.example.org/p2/?a=1&amp;b=2",
            ])
            .as_bytes(),
        ),
    );
    site.serve(
        "/sitemap-more.xml.gz",
        200,
        &[("content-type", "application/gzip")],
        gzip(urlset(&["/_preload/p3/"]).as_bytes()),
    );
    site.serve(
        "/sitemap-last.xml.gz",
        200,
        &[
            ("content-type", "application/gzip"),
            ("content-encoding", "gzip"),
        ],
        gzip(&gzip(urlset(&["/p4/"]).as_bytes())),
    );
    let sb = Sandbox::new();
    let d = sb.daemon_url(&site.url(), "");
    let config = cli_config(&sb, &d);

    let run = warm(
        &config,
        &["--sitemap", "https://www.example.org/sitemap.xml"],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("4 pages in "), "{}", run.stdout);
    assert_eq!(
        run.counts(),
        "4 kept, 0 already warm, 0 stale, 0 passed, 0 failed"
    );
    for target in [
        "/sitemap.xml",
        "/sitemap-pages.xml",
        "/sitemap-more.xml.gz",
        "/sitemap-last.xml.gz",
        "/p1/",
        "/p2/?a=1&b=2",
        "/p3/",
        "/p4/",
    ] {
        assert_eq!(site.count_of(target), 1, "{target}");
    }
    assert_eq!(
        get(d.main, "/_preload/p2/?a=1&b=2", &[]).await.cache(),
        "HIT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_child_sitemap_fails_the_run_after_the_others() {
    let site = Site::start(Duration::ZERO).await;
    site.serve(
        "/index.xml",
        200,
        &[],
        sitemap_index(&["/gone.xml", "/ok.xml"]),
    );
    site.serve("/gone.xml", 404, &[], "not here");
    site.serve("/ok.xml", 200, &[], urlset(&["/k/"]));
    let sb = Sandbox::new();
    let d = sb.daemon_url(&site.url(), "");
    let run = warm(&cli_config(&sb, &d), &["--sitemap", "/index.xml"], "").await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.counts(),
        "1 kept, 0 already warm, 0 stale, 0 passed, 0 failed"
    );
    assert!(
        run.stderr.contains("sitemap /gone.xml: HTTP 404"),
        "{}",
        run.stderr
    );
    assert_eq!(site.count_of("/k/"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_page_makes_warm_exit_1_after_warming_the_others() {
    let site = Site::start(Duration::ZERO).await;
    site.serve("/broken/", 500, &[], "oops");
    let sb = Sandbox::new();
    let d = sb.daemon_url(&site.url(), "");
    let list = write_list(&sb, "/ok1/\n/broken/\n/ok2/\nnot-a-target\n/ok3/\n");
    let run = warm(&cli_config(&sb, &d), &["--concurrency", "1", &list], "").await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.counts(),
        "3 kept, 0 already warm, 0 stale, 0 passed, 1 failed"
    );
    assert!(
        run.stderr.contains("FAILED (HTTP 500) /_preload/broken/"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("urls.txt:4: target must start with \"/\": not-a-target"),
        "{}",
        run.stderr
    );
    let last = run.stderr.lines().last().unwrap_or("");
    assert_eq!(last, "preloadd: warm: 1 page failed, 1 line named no page");
    for page in ["/_preload/ok1/", "/_preload/ok2/", "/_preload/ok3/"] {
        assert_eq!(get(d.main, page, &[]).await.cache(), "HIT", "{page}");
    }
    assert_eq!(site.count_of("/ok3/"), 1);
}

/// A config whose daemon is `listen` (here a [`Site`] answering MISS, so
/// the requests warm makes are seen as they arrive), with `upstream` lines.
fn config_for(sb: &Sandbox, listen: SocketAddr, upstream: &str) -> PathBuf {
    let text = format!(
        "[server]\nlisten = \"{listen}\"\nadmin_listen = \"\"\n\n\
         [upstream]\nurl = \"http://127.0.0.1:9\"\n{upstream}\n\n[cache]\ndir = {:?}\n",
        sb.cache_dir().display().to_string()
    );
    let path = sb.dir.path().join("fake.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn twelve_pages() -> String {
    (0..12).map(|i| format!("/n{i}/\n")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_above_max_fetches_is_clamped() {
    let daemon = Site::start(Duration::from_millis(200)).await;
    daemon.default_header("x-preload-cache", "MISS");
    let sb = Sandbox::new();
    let config = config_for(&sb, daemon.addr, "max_fetches = 2");
    let run = warm(&config, &["--concurrency", "16", "-"], &twelve_pages()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.counts(),
        "12 kept, 0 already warm, 0 stale, 0 passed, 0 failed"
    );
    assert!(
        run.stderr
            .contains("--concurrency 16 is above [upstream] max_fetches = 2"),
        "{}",
        run.stderr
    );
    assert_eq!(daemon.count(), 12);
    assert_eq!(daemon.max_in_flight(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_requests_four_pages_at_a_time_by_default() {
    let daemon = Site::start(Duration::from_millis(200)).await;
    daemon.default_header("x-preload-cache", "MISS");
    let sb = Sandbox::new();
    let config = config_for(&sb, daemon.addr, "");
    let run = warm(&config, &["-"], &twelve_pages()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(daemon.max_in_flight(), 4);
    assert!(!run.stderr.contains("max_fetches"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_without_a_daemon_says_so_in_one_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let sb = Sandbox::new();
    let run = warm(&config_for(&sb, port, ""), &["-"], "/a/\n/b/\n").await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot reach the daemon at"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_usage_errors_exit_2() {
    let sb = Sandbox::new();
    let config = config_for(&sb, "127.0.0.1:9".parse().unwrap(), "");
    for args in [
        &[][..],
        &["--concurrency", "0", "-"],
        &["-", "--sitemap", "/s.xml"],
    ] {
        let run = warm(&config, args, "").await;
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
    }
}
