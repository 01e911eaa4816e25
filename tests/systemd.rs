//! systemd: what the daemon tells its service manager (READY=1 once it
//! listens, STOPPING=1 when the drain begins, WATCHDOG=1 when asked), read
//! from a notification socket the test binds, and the unit file itself,
//! checked by `systemd-analyze`.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::daemon::binary;
use crate::support::{config_text, get, Daemon, Sandbox, Upstream};

/// A notification socket as systemd binds it, in the sandbox.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notification socket");
        NotifySocket { socket, path }
    }

    /// The next notification, waiting up to `within`.
    fn next(&self, within: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

/// Starts a daemon whose `$NOTIFY_SOCKET` is `notify`, with `env` added.
fn start(sb: &Sandbox, up: &Upstream, notify: &NotifySocket, env: &[(&str, &str)]) -> Daemon {
    let config = sb.dir.path().join("preload.toml");
    std::fs::write(&config, config_text(&up.url(), &sb.cache_dir(), "", "")).unwrap();
    let socket = notify.path.to_str().unwrap();
    let mut all = vec![("NOTIFY_SOCKET", socket)];
    all.extend_from_slice(env);
    Daemon::start_env(&config, None, &all)
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_once_listening_and_stopping_when_the_drain_begins() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let notify = NotifySocket::bind(sb.dir.path());
    let mut d = start(&sb, &up, &notify, &[]);

    let ready = notify.next(Duration::from_secs(10));
    assert_eq!(
        ready.as_deref(),
        Some("READY=1\n"),
        "the first notification"
    );
    // By READY=1 both listeners answer, and the store serves.
    let health = get(
        d.admin.expect("an admin listener"),
        "/_preloadd/health",
        &[],
    )
    .await;
    assert_eq!(health.status, 200, "{}", health.text());
    let page = get(d.main, "/_preload/page/", &[]).await;
    assert_eq!(page.header("x-preload-cache"), Some("MISS"));
    // Nothing else without a watchdog: no WATCHDOG=1, no second READY=1.
    assert_eq!(notify.next(Duration::from_millis(300)), None);

    d.signal("TERM");
    let stopping = notify.next(Duration::from_secs(10));
    assert_eq!(stopping.as_deref(), Some("STOPPING=1\n"), "on SIGTERM");
    let status = d.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "a clean stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_is_reloading_then_ready_applied_or_refused() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let notify = NotifySocket::bind(sb.dir.path());
    let d = start(&sb, &up, &notify, &[]);
    assert_eq!(
        notify.next(Duration::from_secs(10)).as_deref(),
        Some("READY=1\n")
    );

    // A SIGHUP with the file unchanged, then a broken file seen by the
    // watcher (a SIGHUP as well would make two reloads).
    for broken in [false, true] {
        if broken {
            let config = sb.dir.path().join("preload.toml");
            std::fs::write(&config, "[upstream\n").unwrap();
        } else {
            d.signal("HUP");
        }
        let reloading = notify.next(Duration::from_secs(10)).unwrap_or_default();
        assert!(
            reloading.starts_with("RELOADING=1\n"),
            "broken={broken}: {reloading:?}"
        );
        let ready = notify.next(Duration::from_secs(10));
        assert_eq!(ready.as_deref(), Some("READY=1\n"), "broken={broken}");
    }
    d.signal("TERM");
    assert_eq!(
        notify.next(Duration::from_secs(10)).as_deref(),
        Some("STOPPING=1\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watchdog_pings_at_half_the_timeout_systemd_sets() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let notify = NotifySocket::bind(sb.dir.path());
    // WatchdogSec=400ms: a ping every 200 ms.
    let d = start(&sb, &up, &notify, &[("WATCHDOG_USEC", "400000")]);

    assert_eq!(
        notify.next(Duration::from_secs(10)).as_deref(),
        Some("READY=1\n")
    );
    let begun = Instant::now();
    for ping in 1..=5 {
        let got = notify.next(Duration::from_secs(5));
        assert_eq!(got.as_deref(), Some("WATCHDOG=1\n"), "ping {ping}");
    }
    // The first at once, then one per 200 ms: five in 800 ms (less the
    // time this test took to read READY=1), not a burst.
    let took = begun.elapsed();
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(5),
        "five pings in {took:?}"
    );
    assert_eq!(d.terminate().code(), Some(0));
}

/// `systemd-analyze`, or `None` where it is missing (outside CI: CI
/// installs it, scripts/test.sh, and there a missing one fails).
fn systemd_analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing on CI (scripts/test.sh installs systemd)"
        );
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return None;
    }
    Some("systemd-analyze")
}

fn unit_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd/preloadd.service")
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    // verify wants the ExecStart binary to exist: this build's stands in
    // for /usr/bin/preloadd. The man page is checked once installed
    // (packaging/deb/ci.sh).
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("preloadd.service");
    let text = std::fs::read_to_string(unit_file()).unwrap();
    std::fs::write(&unit, text.replace("/usr/bin/preloadd", binary())).unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    // verify exits 0 on an unknown or unparsable key, saying so on stderr.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}

/// systemd 252 cannot score a service below 0.8 that opens Internet
/// sockets on the host's network (those two alone weigh 4000 of 56460,
/// 0.71, rounded up), and preloadd must, to reach its app. 0.9 is the unit
/// with every other setting that fits; what is left is printed.
const MAX_EXPOSURE: f64 = 0.9;

#[test]
fn the_unit_scores_at_most_0_9_on_systemd_analyze_security() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let out = Command::new(analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit_file())
        .env("SYSTEMD_COLORS", "0")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for preloadd.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure in: {report}"));
    let left: Vec<&str> = report.lines().filter(|l| l.starts_with('✗')).collect();
    eprintln!("exposure {score}; left:\n{}", left.join("\n"));
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} > {MAX_EXPOSURE}:\n{}",
        left.join("\n")
    );
}
