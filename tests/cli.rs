//! The command line as an operator meets it: `url`, `check`, exit codes and
//! one-line errors.

mod support;

use std::process::{Command, Output};

fn preloadd(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(support::daemon::binary())
        .args(args)
        .current_dir(dir)
        .env_remove("PRELOADD_CONFIG")
        .env_remove("PRELOADD_TOKEN")
        .output()
        .expect("run preloadd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn url_joins_parameters_with_the_seed_rule() {
    let dir = tempfile::tempdir().unwrap();
    let out = preloadd(
        &[
            "url",
            "/something/to/preload",
            "query=foo&page=bar",
            "?a=1&",
            "",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "/_preload/something/to/preload?query=foo&page=bar&a=1\n"
    );
}

#[test]
fn url_uses_the_configured_prefix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("preload.toml"),
        "[upstream]\nurl = \"http://127.0.0.1:8000\"\n[preload]\nprefix = \"/static-preload\"\n",
    )
    .unwrap();
    let out = preloadd(&["url", "/a/", "b=1"], dir.path());
    assert_eq!(stdout(&out), "/static-preload/a/?b=1\n");
}

#[test]
fn url_refuses_what_the_daemon_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("/{}", "a".repeat(8200));
    for (path, params) in [
        ("//evil.com/x", ""),
        ("/../etc/passwd", ""),
        ("/a/%2e%2e/b", ""),
        ("/a/..%2Fb", ""),
        ("http://x/y", ""),
        ("no-slash", ""),
        ("/a\\b", ""),
        ("/ok/", "q=%00"),
        (long.as_str(), ""),
    ] {
        let out = preloadd(&["url", path, params], dir.path());
        assert_eq!(out.status.code(), Some(2), "{path} {params}");
        assert_eq!(stdout(&out), "", "nothing on stdout for {path}");
        let err = stderr(&out);
        assert!(
            err.starts_with("preloadd: url: ") && err.lines().count() == 1,
            "one line for {path}: {err}"
        );
    }
    let out = preloadd(&["url", "/caf%c3%a9/", "q=1"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/_preload/caf%c3%a9/?q=1\n");
}

#[test]
fn a_log_level_that_is_no_level_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["nonsense", "preloadd=loud", ""] {
        let out = preloadd(&["--log-level", bad, "url", "/a/"], dir.path());
        assert_eq!(out.status.code(), Some(2), "--log-level {bad:?}");
        assert!(
            stderr(&out).contains("invalid log level"),
            "{}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "");
    }
    let out = preloadd(
        &["--log-level", "preloadd=debug,warn", "url", "/a/"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_bad_rust_log_directive_is_reported_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(support::daemon::binary())
        .args(["url", "/a/"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn,preloadd=loud")
        .output()
        .expect("run preloadd");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/_preload/a/\n");
    let err = stderr(&out);
    assert!(
        err.contains("RUST_LOG") && err.contains("\"preloadd=loud\""),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn check_prints_the_effective_config_of_the_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/preload.example.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = preloadd(&["check", "--config", example], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for key in [
        "listen",
        "max_fetches",
        "max_object_size",
        "sort_query",
        "grace",
        "rewarm_concurrency",
    ] {
        assert!(text.contains(key), "{key} missing from:\n{text}");
    }
}

#[test]
fn a_bad_config_exits_2_with_file_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[upstream]\nurl = \"http://127.0.0.1:8000\"\n\n[server]\ntimout = \"1s\"\n",
    )
    .unwrap();
    for command in ["check", "run"] {
        let out = preloadd(&[command, "--config", path.to_str().unwrap()], dir.path());
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("bad.toml:5:1") && err.contains("server.timout"),
            "{err}"
        );
    }
}

#[test]
fn a_missing_config_and_a_missing_upstream_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = preloadd(&["check", "--config", "nope.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(dir.path().join("empty.toml"), "").unwrap();
    let out = preloadd(&["check", "--config", "empty.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("upstream.url"), "{}", stderr(&out));
}

#[test]
fn an_unwritable_cache_dir_is_refused_at_start_with_2() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the cache dir should be: not creatable, not writable.
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n[cache]\ndir = \"file/cache\"\n",
    )
    .unwrap();
    let out = preloadd(&["run", "--config", "p.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cache"), "{}", stderr(&out));
}
