//! The command line as an operator meets it: `url`, `check`, exit codes and
//! one-line errors.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn preloadd(args: &[&str], dir: &Path) -> Output {
    Command::new(crate::support::daemon::binary())
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
    let out = Command::new(crate::support::daemon::binary())
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

/// `check` and `run` on the same file: each must exit 2 with the one line
/// `expected` (a `run` that starts anyway is killed after a while, and the
/// test fails).
fn check_and_run_refuse(dir: &Path, config: &str, expected: &str) {
    std::fs::write(dir.join("p.toml"), config).unwrap();
    for command in ["check", "run"] {
        let out = preloadd_bounded(&[command, "--config", "p.toml"], dir);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert_eq!(err, format!("preloadd: {expected}\n"), "{command}");
    }
}

/// `preloadd` that must exit by itself within 30 s.
fn preloadd_bounded(args: &[&str], dir: &Path) -> Output {
    preloadd_bounded_env(args, dir, &[])
}

fn preloadd_bounded_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(crate::support::daemon::binary())
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env_remove("PRELOADD_CONFIG")
        .env_remove("PRELOADD_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run preloadd");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("preloadd {args:?} did not exit: it started");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_worker_count_that_is_no_count_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        format!("{QUIET}[cache]\ndir = \"cache\"\n"),
    )
    .unwrap();
    for bad in ["many", "0", "-2", "", "1.5"] {
        let env = [("TOKIO_WORKER_THREADS", bad)];
        let out = preloadd_bounded_env(&["run", "--config", "p.toml"], dir.path(), &env);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        let line =
            format!("preloadd: TOKIO_WORKER_THREADS={bad:?}: not a number of threads above 0\n");
        assert_eq!(err, line);
    }
}

const QUIET: &str = "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n";

#[test]
fn a_cache_dir_that_cannot_be_created_is_refused_by_check_and_run_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    check_and_run_refuse(
        dir.path(),
        &format!("{QUIET}[cache]\ndir = \"/etc/passwd/cache\"\n"),
        "p.toml:7:7: key `cache.dir`: cannot create /etc/passwd/cache: /etc/passwd is not a directory",
    );
    // Relative to the working directory, as the store opens it.
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    check_and_run_refuse(
        dir.path(),
        &format!("{QUIET}[cache]\ndir = \"file/a/cache\"\n"),
        "p.toml:7:7: key `cache.dir`: cannot create file/a/cache: file is not a directory",
    );
}

#[test]
fn an_unusable_default_cache_dir_is_refused_without_a_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("preload-cache"), b"x").unwrap();
    check_and_run_refuse(
        dir.path(),
        QUIET,
        "p.toml: key `cache.dir`: ./preload-cache exists and is not a directory",
    );
}

#[test]
fn a_cache_dir_of_another_store_format_is_refused_by_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("c")).unwrap();
    std::fs::write(
        dir.path().join("c/.preloadd-store"),
        "preloadd-store format 999\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        format!("{QUIET}[cache]\ndir = \"c\"\n"),
    )
    .unwrap();
    let out = preloadd(&["check", "--config", "p.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("preloadd: p.toml:7:7: key `cache.dir`: c: .preloadd-store says"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_leaves_no_cache_dir_behind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        format!("{QUIET}[cache]\ndir = \"var/cache/preloadd\"\n"),
    )
    .unwrap();
    let out = preloadd(&["check", "--config", "p.toml"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["p.toml"]);
}

#[test]
fn a_listen_port_past_65535_is_refused_by_check_and_run_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = "[upstream]\nurl = \"http://127.0.0.1:9\"\n";
    check_and_run_refuse(
        dir.path(),
        &format!("{upstream}[server]\nlisten = \"127.0.0.1:99999\"\n"),
        "p.toml:4:10: key `server.listen`: invalid address \"127.0.0.1:99999\": port 99999 is out of range (0 to 65535)",
    );
    check_and_run_refuse(
        dir.path(),
        &format!("{upstream}[server]\nlisten = [\"127.0.0.1:0\", \"127.0.0.1:99999\"]\n"),
        "p.toml:4:26: key `server.listen`: invalid address \"127.0.0.1:99999\": port 99999 is out of range (0 to 65535)",
    );
    check_and_run_refuse(
        dir.path(),
        &format!("{upstream}[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"[::1]:70000\"\n"),
        "p.toml:5:16: key `server.admin_listen`: invalid address \"[::1]:70000\": port 70000 is out of range (0 to 65535), or \"\" to disable the admin listener",
    );
}

#[test]
fn check_prints_a_named_timezone_and_refuses_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let zone = |name: &str| format!("{QUIET}[invalidate]\ndaily = true\ntimezone = \"{name}\"\n");
    std::fs::write(dir.path().join("p.toml"), zone("europe/paris")).unwrap();
    let out = preloadd(&["check", "--config", "p.toml"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\ntimezone = \"Europe/Paris\"\n"),
        "{}",
        stdout(&out)
    );
    check_and_run_refuse(
        dir.path(),
        &zone("Europe/Pariss"),
        "p.toml:8:12: key `invalidate.timezone`: invalid timezone \"Europe/Pariss\": not an IANA time zone name (like \"Europe/Paris\" or \"America/New_York\"); or use \"UTC\", \"local\" or a fixed offset like \"+10:00\"",
    );
}
