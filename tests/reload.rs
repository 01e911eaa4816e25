//! Reload, end to end: the config file edited under a running daemon (in
//! place, and by rename as editors save), SIGHUP, a broken file, a key that
//! needs a restart, and schedules re-armed. Each test waits for the reload's
//! log line, never for a time.

use std::path::Path;
use std::time::Duration;

use crate::support::webhook::{admin, count, invalidate, warm, JSON};
use crate::support::{config_text, get, Conn, Daemon, Sandbox, Upstream};

/// The test config with one route under `/blog/*` tagged `tag`, and `extra`.
fn blog(up: &Upstream, sb: &Sandbox, tag: &str, extra: &str) -> String {
    let route = format!("[[route]]\nmatch = \"/blog/*\"\ntags = [\"{tag}\"]\n\n{extra}");
    config_text(&up.url(), &sb.cache_dir(), "", &route)
}

/// Saves `text` as atomic-save editors do: a temp file beside it, renamed
/// over it (a new inode: a watch on the old file would see nothing).
fn save_by_rename(path: &Path, text: &str) {
    let temp = path.with_file_name(".preload.toml.swp");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

async fn dropped_by_tag(d: &Daemon, tag: &str) -> u64 {
    let body = format!(r#"{{"tags": ["{tag}"]}}"#);
    count(&invalidate(admin(d), &[JSON], &body).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_tag_changed_in_the_file_is_purged_by_its_new_tag() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = Daemon::start(sb.dir.path(), &blog(&up, &sb, "old", ""));

    std::fs::write(&d.config_path, blog(&up, &sb, "new", "")).unwrap();
    let line = d.wait_for_log(&["config reloaded"]).expect("a reload");
    assert!(line.contains("changed=routes"), "{line}");
    warm(&d, &["/_preload/blog/1"]).await;
    assert_eq!(dropped_by_tag(&d, "old").await, 0, "the old tag is gone");
    assert_eq!(get(d.main, "/_preload/blog/1", &[]).await.cache(), "HIT");
    assert_eq!(dropped_by_tag(&d, "new").await, 1);
    assert_eq!(get(d.main, "/_preload/blog/1", &[]).await.cache(), "MISS");

    save_by_rename(&d.config_path, &blog(&up, &sb, "newer", ""));
    let line = d
        .wait_for_log(&["config reloaded"])
        .expect("a reload by rename");
    assert!(line.contains("changed=routes"), "{line}");
    warm(&d, &["/_preload/blog/2"]).await;
    assert_eq!(
        dropped_by_tag(&d, "new").await,
        1,
        "/blog/1, fetched before"
    );
    assert_eq!(get(d.main, "/_preload/blog/2", &[]).await.cache(), "HIT");
    assert_eq!(dropped_by_tag(&d, "newer").await, 1);

    // A second save by rename: the watch follows the new file, not the
    // inode it replaced.
    save_by_rename(&d.config_path, &blog(&up, &sb, "last", ""));
    d.wait_for_log(&["config reloaded", "changed=routes"])
        .expect("a second reload by rename");
    warm(&d, &["/_preload/blog/3"]).await;
    assert_eq!(dropped_by_tag(&d, "last").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keep_alive_connection_opened_before_a_reload_serves_on_after_it() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = Daemon::start(sb.dir.path(), &blog(&up, &sb, "old", ""));
    let mut conn = Conn::open(d.main).await;
    let first = conn.get("/_preload/blog/1").await.expect("an answer");
    assert_eq!(first.cache(), "MISS");

    save_by_rename(&d.config_path, &blog(&up, &sb, "new", ""));
    d.wait_for_log(&["config reloaded"]).expect("a reload");
    let again = conn.get("/_preload/blog/1").await;
    assert_eq!(again.expect("the connection is still open").cache(), "HIT");
    // The same connection's next request runs on the new config.
    let other = conn.get("/_preload/blog/2").await.expect("an answer");
    assert_eq!(other.cache(), "MISS");
    assert_eq!(dropped_by_tag(&d, "new").await, 1, "only /blog/2");
    assert_eq!(dropped_by_tag(&d, "old").await, 1, "only /blog/1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_file_is_logged_with_its_places_and_the_old_config_stays() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = Daemon::start(sb.dir.path(), &blog(&up, &sb, "old", ""));

    let broken =
        "[[route]]\nmatch = \"/a/*\"\nttl = \"0s\"\n\n[invalidate]\nrewarm_concurrency = 0\n";
    std::fs::write(&d.config_path, blog(&up, &sb, "new", broken)).unwrap();
    let file = d.config_path.display().to_string();
    for key in ["route.ttl", "invalidate.rewarm_concurrency"] {
        let line = d
            .wait_for_log(&["ERROR", "config not reloaded", &format!("key `{key}`")])
            .unwrap_or_else(|| panic!("an error line for {key}"));
        let place = line.split(&format!("{file}:")).nth(1).expect("the file");
        let mut numbers = place.splitn(3, ':');
        for what in ["line", "column"] {
            let n = numbers.next().unwrap();
            assert!(n.parse::<u32>().is_ok(), "a {what} in {line}");
        }
    }
    d.wait_for_log(&["the running config is kept"])
        .expect("the summary");
    warm(&d, &["/_preload/blog/1"]).await;
    assert_eq!(dropped_by_tag(&d, "new").await, 0, "not in force");
    assert_eq!(dropped_by_tag(&d, "old").await, 1, "still in force");

    std::fs::write(&d.config_path, blog(&up, &sb, "new", "")).unwrap();
    d.wait_for_log(&["config reloaded", "changed=routes"])
        .expect("the fixed file reloads");
    warm(&d, &["/_preload/blog/2"]).await;
    assert_eq!(dropped_by_tag(&d, "new").await, 1);
}

/// The status of a purge on the main listener with `token`.
async fn purge_with(d: &Daemon, token: &str) -> u16 {
    let auth = format!("Authorization: Bearer {token}");
    invalidate(d.main, &[JSON, &auth], r#"{"all": true}"#)
        .await
        .status
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_rereads_the_token_file_which_is_not_watched() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let token = sb.dir.path().join("token");
    std::fs::write(&token, "one\n").unwrap();
    let d = sb.daemon(&up, "[invalidate]\ntoken_file = \"token\"\n");
    assert_eq!(purge_with(&d, "one").await, 200);

    std::fs::write(&token, "two\n").unwrap();
    d.signal("HUP");
    let line = d
        .wait_for_log(&["config reloaded", "SIGHUP"])
        .expect("a reload on SIGHUP");
    assert!(line.contains("changed=invalidate.token"), "{line}");
    assert!(!line.contains("two"), "the token is never logged: {line}");
    assert_eq!(purge_with(&d, "two").await, 200);
    assert_eq!(purge_with(&d, "one").await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listen_change_needs_a_restart_and_the_old_listener_serves_on() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = Daemon::start(sb.dir.path(), &blog(&up, &sb, "old", ""));
    let text = blog(&up, &sb, "new", "").replacen(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:9\"",
        1,
    );
    std::fs::write(&d.config_path, text).unwrap();
    let line = d
        .wait_for_log(&["config reloaded", "needs a restart"])
        .expect("a reload that says what needs a restart");
    assert!(line.contains("needs_restart=server.listen"), "{line}");
    assert!(line.contains("changed=routes"), "{line}");
    warm(&d, &["/_preload/blog/1"]).await;
    assert_eq!(dropped_by_tag(&d, "new").await, 1, "the rest is in force");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_rearms_the_schedules_without_a_catch_up() {
    let up = Upstream::start().await;
    let sb = Sandbox::with_clock();
    let every_minute =
        |tag: &str| format!("[[schedule]]\ncron = \"0 * * * * *\"\ntags = [\"{tag}\"]\n");
    let d = Daemon::start(
        sb.dir.path(),
        &blog(&up, &sb, "blog", &every_minute("gone")),
    );
    warm(&d, &["/_preload/blog/1", "/_preload/x?tags=gone"]).await;

    std::fs::write(
        &d.config_path,
        blog(&up, &sb, "blog", &every_minute("blog")),
    )
    .unwrap();
    d.wait_for_log(&["schedules re-armed"]).expect("re-armed");
    // The new schedule last fired less than a minute ago: a catch-up (as
    // at start) would have dropped the page.
    assert_eq!(get(d.main, "/_preload/blog/1", &[]).await.cache(), "HIT");

    d.advance(Duration::from_secs(61));
    let fired = d.wait_for_log(&["schedule fired"]).expect("a firing");
    assert!(fired.contains("count=1"), "{fired}");
    assert_eq!(get(d.main, "/_preload/blog/1", &[]).await.cache(), "MISS");
    assert_eq!(
        get(d.main, "/_preload/x?tags=gone", &[]).await.cache(),
        "HIT",
        "the removed schedule no longer fires"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_upstream_url_takes_the_next_fetch() {
    let (old, new) = (Upstream::start().await, Upstream::start().await);
    let sb = Sandbox::new();
    let d = Daemon::start(sb.dir.path(), &blog(&old, &sb, "blog", ""));
    warm(&d, &["/_preload/blog/1"]).await;

    save_by_rename(&d.config_path, &blog(&new, &sb, "blog", ""));
    let line = d.wait_for_log(&["config reloaded"]).expect("a reload");
    assert!(line.contains("changed=upstream.url"), "{line}");
    assert_eq!(get(d.main, "/_preload/blog/1", &[]).await.cache(), "HIT");
    assert_eq!(get(d.main, "/_preload/blog/2", &[]).await.cache(), "MISS");
    assert_eq!(get(d.main, "/plain", &[]).await.status, 200);
    assert_eq!((old.count(), new.count()), (1, 2), "fetch and pass-through");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reloaded_shutdown_timeout_bounds_the_drain() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let text = blog(&up, &sb, "blog", "");
    let mut d = Daemon::start(sb.dir.path(), &text);
    let main = d.main;
    let held = tokio::spawn(async move { get(main, "/_preload/h?hold=1", &[]).await });
    assert!(crate::support::webhook::eventually(|| up.count() == 1).await);

    let short = text.replacen("[server]\n", "[server]\nshutdown_timeout = \"200ms\"\n", 1);
    save_by_rename(&d.config_path, &short);
    d.wait_for_log(&["config reloaded", "changed=server.shutdown_timeout"])
        .expect("a reload");
    d.signal("TERM");
    d.wait_for_log(&["shutdown_timeout reached"])
        .expect("the drain gave up after the new 200 ms, not the old 30 s");
    let status = d.wait_exit(Duration::from_secs(5)).expect("exited");
    assert_eq!(status.code(), Some(0));
    up.release();
    let _ = held.await;
}

/// Makes `dir/..NAME/preload.toml` holding `text` the file that
/// `dir/preload.toml` names, as Kubernetes updates a mounted ConfigMap:
/// `preload.toml -> ..data/preload.toml`, `..data` swapped by a rename to
/// the new version's directory, the old one removed.
fn configmap_version(dir: &Path, name: &str, text: &str, old: Option<&str>) {
    let version = dir.join(format!("..{name}"));
    std::fs::create_dir(&version).unwrap();
    std::fs::write(version.join("preload.toml"), text).unwrap();
    let temp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{name}"), &temp).unwrap();
    std::fs::rename(&temp, dir.join("..data")).unwrap();
    let link = dir.join("preload.toml");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("..data/preload.toml", &link).unwrap();
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(dir.join(format!("..{old}"))).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_behind_a_swapped_symlink_is_followed() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let dir = sb.dir.path();
    configmap_version(dir, "v1", &blog(&up, &sb, "one", ""), None);
    let d = Daemon::start_with(&dir.join("preload.toml"));
    for (old, new) in [("v1", "v2"), ("v2", "v3")] {
        configmap_version(dir, new, &blog(&up, &sb, new, ""), Some(old));
        d.wait_for_log(&["config reloaded", "changed=routes"])
            .unwrap_or_else(|| panic!("a reload for {new}"));
        warm(&d, &[&format!("/_preload/blog/{new}")]).await;
        assert_eq!(dropped_by_tag(&d, new).await, 1);
    }
}

/// A target resolved before a reload is resolved again after it: the
/// daemon keeps resolved targets per config (`key::KeyCache`), and a
/// reload that changes a query rule or a route's `vary` changes the key.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_that_changes_a_key_never_serves_the_old_one() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let i18n = "[[route]]\nmatch = \"/i18n/*\"\n";
    let d = Daemon::start(sb.dir.path(), &blog(&up, &sb, "t", i18n));
    let mail = "/_preload/blog/1?utm_source=mail";
    let de = ["Accept-Language: de"];
    for (target, headers) in [(mail, &[][..]), ("/_preload/i18n/1", &de[..])] {
        assert_eq!(get(d.main, target, headers).await.cache(), "MISS");
        assert_eq!(get(d.main, target, headers).await.cache(), "HIT");
    }
    assert_eq!(up.count(), 2);

    let rules = "[[route]]\nmatch = \"/i18n/*\"\nvary = [\"Accept-Language\"]\n\n\
                 [preload]\nignore_query = [\"utm_*\"]\n";
    std::fs::write(&d.config_path, blog(&up, &sb, "t", rules)).unwrap();
    d.wait_for_log(&["config reloaded"]).expect("a reload");
    // /blog/1 without the parameter, and /i18n/1 for `de`: new keys.
    assert_eq!(get(d.main, mail, &[]).await.cache(), "MISS");
    assert_eq!(up.count_of("/blog/1"), 1, "fetched as its new canonical");
    assert_eq!(get(d.main, "/_preload/i18n/1", &de).await.cache(), "MISS");
    assert_eq!(up.count(), 4);
    assert_eq!(get(d.main, mail, &[]).await.cache(), "HIT");
    assert_eq!(get(d.main, "/_preload/i18n/1", &de).await.cache(), "HIT");
}
