//! The snapshot listing: `GET /_preloadd/snapshots` and `preloadd ls`,
//! from the running daemon and from a cache dir no daemon holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use crate::support::webhook::{admin, invalidate, warm, JSON};
use crate::support::{get, Daemon, Sandbox, Upstream};

/// Five pages under two tags (`red`, `blue`), one of them large enough to
/// be kept with compressed variants.
pub const PAGES: [&str; 5] = [
    "/_preload/l/a?size=4000&tags=red",
    "/_preload/l/b?tags=red",
    "/_preload/l/c?tags=blue",
    "/_preload/m/d?tags=blue",
    "/_preload/m/e?tags=red,blue",
];

/// The upstream target of a preload URL.
pub fn target(page: &str) -> String {
    page.trim_start_matches("/_preload").to_string()
}

/// A copy of the daemon's config with the admin port it bound, for the
/// command line (which reads the address from the config).
pub fn cli_config(sb: &Sandbox, d: &Daemon) -> PathBuf {
    let config = std::fs::read_to_string(&d.config_path).unwrap().replace(
        "admin_listen = \"127.0.0.1:0\"",
        &format!("admin_listen = \"{}\"", admin(d)),
    );
    let path = sb.dir.path().join("cli.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Runs `preloadd ARGS --config CONFIG`.
pub fn preloadd(config: &Path, args: &[&str]) -> Output {
    Command::new(crate::support::daemon::binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("PRELOADD_TOKEN")
        .env_remove("PRELOADD_CONFIG")
        .env_remove("PRELOADD_TEST_CLOCK")
        .output()
        .expect("run preloadd")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One page of the listing, as JSON.
async fn page(d: &Daemon, query: &str) -> serde_json::Value {
    let reply = get(admin(d), &format!("/_preloadd/snapshots?{query}"), &[]).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    serde_json::from_slice(&reply.body).expect("JSON")
}

fn targets(page: &serde_json::Value) -> Vec<String> {
    page["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|r| r["target"].as_str().unwrap().to_string())
        .collect()
}

fn sorted(pages: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = pages.iter().map(|p| target(p)).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listing_shows_every_kept_page_by_prefix_and_by_tag() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &PAGES).await;
    let all = page(&d, "").await;
    assert_eq!(targets(&all), sorted(&PAGES), "ordered by target");
    assert!(all["next"].is_null());
    let first = &all["snapshots"][0];
    assert_eq!(first["key"].as_str().unwrap().len(), 64);
    assert!(first["size"].as_u64().unwrap() > 4000);
    assert_eq!(first["state"], "fresh");
    assert_eq!(first["tags"], serde_json::json!(["red"]));
    assert!(first["expires"].is_null());
    assert_eq!(first["variants"], serde_json::json!(["gzip", "br"]));
    assert_eq!(all["snapshots"][1]["variants"], serde_json::json!([]));

    let l = page(&d, "prefix=/l/").await;
    assert_eq!(targets(&l), sorted(&PAGES[..3]));
    // The preload form of a prefix, as for invalidation.
    assert_eq!(targets(&page(&d, "prefix=/_preload/m/").await).len(), 2);
    assert_eq!(
        targets(&page(&d, "tag=red").await),
        sorted(&[PAGES[0], PAGES[1], PAGES[4]])
    );
    assert_eq!(
        targets(&page(&d, "tag=blue&prefix=/m/").await),
        sorted(&PAGES[3..])
    );
    for bad in ["limit=0", "cursor=nope", "prefix=l", "tags=red"] {
        let reply = get(admin(&d), &format!("/_preloadd/snapshots?{bad}"), &[]).await;
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.text().lines().count(), 1, "{bad}: {}", reply.text());
    }
    // On the main listener, the admin rules: no token configured, 403.
    let main = get(d.main, "/_preloadd/snapshots", &[]).await;
    assert_eq!(main.status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_lists_every_page_once_while_pages_are_dropped() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &PAGES).await;
    let mut seen = Vec::new();
    let mut query = "limit=2".to_string();
    let mut dropped = Vec::new();
    for n in 0.. {
        assert!(n < 10, "paging does not end");
        let p = page(&d, &query).await;
        let rows = targets(&p);
        assert!(rows.len() <= 2);
        seen.extend(rows.clone());
        if n == 0 {
            // One row already listed goes: a page counted by position
            // would now skip one.
            let gone = format!(r#"{{"urls": ["{}"]}}"#, rows[0]);
            let reply = invalidate(admin(&d), &[JSON], &gone).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            dropped.push(rows[0].clone());
        }
        match p["next"].as_str() {
            Some(next) => {
                let next = next
                    .replace('%', "%25")
                    .replace('&', "%26")
                    .replace('?', "%3F");
                query = format!("limit=2&cursor={next}");
            }
            None => break,
        }
    }
    assert_eq!(seen, sorted(&PAGES), "each once, in order");
    assert_eq!(targets(&page(&d, "").await).len(), 4, "{dropped:?} went");
}

#[tokio::test(flavor = "multi_thread")]
async fn ls_prints_the_rows_of_the_running_daemon() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &PAGES).await;
    let config = cli_config(&sb, &d);
    let out = preloadd(&config, &["ls"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "header, 5 rows, total:\n{text}");
    assert!(lines[0].starts_with("TARGET") && lines[0].contains("EXPIRY"));
    for (line, target) in lines[1..6].iter().zip(sorted(&PAGES)) {
        assert!(line.starts_with(&target), "{line}");
        assert!(line.contains("fresh") && line.ends_with("never"), "{line}");
    }
    assert!(lines[6].starts_with("5 snapshots, "), "{text}");

    let out = preloadd(&config, &["ls", "--tag", "blue", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(targets(&json), sorted(&PAGES[2..]));
    let out = preloadd(&config, &["ls", "--prefix", "/m/"]);
    assert_eq!(stdout(&out).lines().count(), 4, "{}", stdout(&out));
    let out = preloadd(&config, &["ls", "--prefix", "m/"]);
    assert_eq!(out.status.code(), Some(2), "a prefix the daemon refuses");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

/// Every file under `dir`: its contents and modification time.
fn files(dir: &Path) -> BTreeMap<PathBuf, (SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for item in std::fs::read_dir(dir).unwrap().flatten() {
        let path = item.path();
        let meta = item.metadata().unwrap();
        if meta.is_dir() {
            out.insert(path.clone(), (meta.modified().unwrap(), Vec::new()));
            out.extend(files(&path));
        } else {
            out.insert(
                path.clone(),
                (meta.modified().unwrap(), std::fs::read(&path).unwrap()),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn ls_with_the_daemon_stopped_reads_the_cache_dir_and_changes_nothing() {
    let up = Upstream::start().await;
    // Once after a clean stop (the index checkpoint is there), once after
    // a kill (it is not, and a temp file of a write cut short is).
    for clean in [true, false] {
        let sb = Sandbox::new();
        let d = sb.daemon(&up, "");
        warm(&d, &PAGES).await;
        let config = cli_config(&sb, &d);
        let live = stdout(&preloadd(&config, &["ls", "--json"]));
        if clean {
            assert!(d.terminate().success());
            assert!(sb.cache_dir().join(".preloadd-index").exists());
        } else {
            d.kill9();
            let fanout = std::fs::read_dir(sb.cache_dir())
                .unwrap()
                .flatten()
                .find(|e| e.file_name().len() == 2)
                .expect("a fan-out dir");
            std::fs::write(fanout.path().join(".tmp-cut-short"), b"half").unwrap();
        }
        let before = files(&sb.cache_dir());
        let out = preloadd(&config, &["ls", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(targets(&json), sorted(&PAGES), "clean stop: {clean}");
        // The same rows the daemon gave, ages aside.
        let strip = |v: &serde_json::Value| {
            let mut v = v.clone();
            for row in v["snapshots"].as_array_mut().unwrap() {
                row.as_object_mut().unwrap().remove("age");
            }
            v
        };
        let live: serde_json::Value = serde_json::from_str(&live).unwrap();
        assert_eq!(strip(&json), strip(&live), "clean stop: {clean}");
        let out = preloadd(&config, &["ls", "--tag", "red"]);
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 6, "{text}");
        assert!(
            text.ends_with("(read from the cache dir: no daemon is running)\n"),
            "{text}"
        );
        assert_eq!(
            files(&sb.cache_dir()),
            before,
            "byte for byte, clean stop: {clean}"
        );
    }
}
