//! The real `preloadd` binary, started on 127.0.0.1 ephemeral ports with a
//! config written for the test, and stopped (killed) when dropped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Child,
    pub main: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub config_path: PathBuf,
    /// Every log line the daemon writes after its start line is sent here.
    pub log: mpsc::Receiver<String>,
    /// The lines it wrote before its start line (a background task, such
    /// as the rebuild after a crash, may log there first), which
    /// [`Daemon::wait_for_log`] reads before `log`.
    before_start: Mutex<VecDeque<String>>,
    /// The line that said it started (its addresses are read from it).
    pub start_line: String,
    /// The test clock it runs on, if its sandbox has one.
    clock: Option<PathBuf>,
}

/// A config with the test's upstream and cache dir, ephemeral ports,
/// `cache` lines added to `[cache]`, and `extra` TOML appended (sections
/// the test needs).
pub fn config_text(upstream: &str, cache_dir: &Path, cache: &str, extra: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\n\
         [upstream]\nurl = \"{upstream}\"\nfetch_timeout = \"5s\"\n\n\
         [cache]\ndir = {dir:?}\n{cache}\n\n{extra}\n",
        dir = cache_dir.display().to_string()
    )
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_preloadd")
}

impl Daemon {
    /// Writes `config` into `dir/preload.toml` and starts the daemon on it.
    pub fn start(dir: &Path, config: &str) -> Daemon {
        let config_path = dir.join("preload.toml");
        std::fs::write(&config_path, config).expect("write config");
        Self::start_with(&config_path)
    }

    pub fn start_with(config_path: &Path) -> Daemon {
        Self::start_in(config_path, None)
    }

    /// Starts the daemon on `config_path`, in the working directory `cwd`
    /// when given (for relative paths in the config).
    pub fn start_in(config_path: &Path, cwd: Option<&Path>) -> Daemon {
        Self::start_env(config_path, cwd, &[])
    }

    /// Like [`Daemon::start_in`], with `env` set for the daemon (e.g.
    /// `TOKIO_WORKER_THREADS`).
    pub fn start_env(config_path: &Path, cwd: Option<&Path>, env: &[(&str, &str)]) -> Daemon {
        Self::start_args(config_path, cwd, env, &[])
    }

    /// Like [`Daemon::start_env`], with `args` added to the command line
    /// (e.g. `--log-format json`).
    pub fn start_args(
        config_path: &Path,
        cwd: Option<&Path>,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Daemon {
        Self::spawn(config_path, cwd, env, args, None)
    }

    /// Like [`Daemon::start_env`], with at most `nofile` descriptors (its
    /// soft and hard `RLIMIT_NOFILE`: the daemon cannot raise it).
    pub fn start_limited(config_path: &Path, env: &[(&str, &str)], nofile: u64) -> Daemon {
        Self::spawn(config_path, None, env, &[], Some(nofile))
    }

    fn spawn(
        config_path: &Path,
        cwd: Option<&Path>,
        env: &[(&str, &str)],
        args: &[&str],
        nofile: Option<u64>,
    ) -> Daemon {
        let mut command = Command::new(binary());
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // SAFETY: setrlimit is async-signal-safe, and `limit` is a
            // plain value copied into the closure.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let clock = config_path
            .parent()
            .map(super::clock::file_in)
            .filter(|file| file.exists());
        match &clock {
            Some(file) => command.env("PRELOADD_TEST_CLOCK", file),
            None => command.env_remove("PRELOADD_TEST_CLOCK"),
        };
        command.envs(env.iter().copied());
        let mut child = command
            .arg("--config")
            .arg(config_path)
            .arg("--log-level")
            .arg("info")
            .args(args)
            .env_remove("PRELOADD_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start preloadd");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The start line names every listener: `listen=http://A[,http://B]`
        // and `admin=http://C` (or `admin=off`); in JSON, `"listen":"http://A"`.
        let mut seen = Vec::new();
        let (main, admin, start_line) = loop {
            let line = match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "preloadd did not start listening; its log:\n{}",
                        seen.join("\n")
                    );
                }
            };
            if line.contains("preloadd started") {
                let field = |name: &str| -> Option<SocketAddr> {
                    let rest = line
                        .split(&format!(" {name}=http://"))
                        .nth(1)
                        .or_else(|| line.split(&format!("\"{name}\":\"http://")).nth(1))?;
                    let first = rest.split([',', ' ', '"']).next()?;
                    first.parse().ok()
                };
                let (main, admin) = (field("listen").expect("a main listener"), field("admin"));
                break (main, admin, line);
            }
            seen.push(line);
        };
        Daemon {
            child,
            main,
            admin,
            config_path: config_path.to_path_buf(),
            log: rx,
            before_start: Mutex::new(seen.into()),
            start_line,
            clock,
        }
    }

    /// Moves the test clock forward by `by` and waits until the daemon says
    /// its wall clock moved (it logs before anything waiting on the time of
    /// day looks again). Call it once the daemon answered a request: the
    /// schedules count from the time of day when it began serving.
    pub fn advance(&self, by: Duration) {
        let file = self.clock.as_ref().expect("a daemon on the test clock");
        let ms = super::clock::set(file, super::clock::read(file) + by);
        self.signal("USR2");
        let moved = format!("test clock set ms={ms}");
        assert!(
            self.wait_for_log(&[&moved]).is_some(),
            "the daemon did not move its clock to {ms}"
        );
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stopped by SIGSTOP (state `T` in `/proc/PID/stat`).
    pub fn is_stopped(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()));
        let state = stat
            .ok()
            .and_then(|s| s.rsplit_once(") ")?.1.chars().next());
        state == Some('T')
    }

    /// Sends `signal` (a name `kill` takes, e.g. "HUP").
    pub fn signal(&self, signal: &str) {
        send_signal(self.child.id(), signal);
    }

    /// Waits up to `within` for the daemon to exit: its status, or `None`
    /// while it still runs.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        send_signal(self.child.id(), "TERM");
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.child.wait().unwrap()
    }

    /// Files under `dir` the daemon holds open now (read from
    /// `/proc/PID/fd`; an unlinked one ends in " (deleted)"), but for the
    /// cache dir's lock file, held for the daemon's life.
    pub fn open_files_under(&self, dir: &Path) -> Vec<String> {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).expect("proc fd");
        fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.starts_with(dir) && !target.ends_with(".preloadd-lock"))
            .map(|target| target.display().to_string())
            .collect()
    }

    /// Waits (up to 10 s) until the store holds at least `n` snapshots, as
    /// the admin listener's health says (no token configured): a MISS is
    /// answered before its snapshot is written, so what needs the written
    /// snapshot (its variants, its file, a restart) waits for it first.
    pub async fn wait_kept(&self, n: u64) {
        let what = format!("the store reaching {n} snapshots");
        self.wait_health(&what, |h| h["snapshots"].as_u64().is_some_and(|k| k >= n))
            .await;
    }

    /// Waits (up to 10 s) until the index rebuild of a start after a crash
    /// has read every file, as health says: until then an invalidation
    /// counts only the pages indexed (docs/operations.md).
    pub async fn wait_indexed(&self) {
        self.wait_health("the end of the index rebuild", |h| h["rebuilding"] == false)
            .await;
    }

    async fn wait_health(&self, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
        let admin = self.admin.expect("an admin listener");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let reply = super::get(admin, "/_preloadd/health", &[]).await;
            assert_eq!(reply.status, 200, "health: {}", reply.text());
            let health: serde_json::Value =
                serde_json::from_slice(&reply.body).expect("health is JSON");
            if done(&health) {
                return;
            }
            assert!(Instant::now() < deadline, "waited for {what}: {health}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (up to 10 s) until the snapshot of the preload URL `url` (as a
    /// visitor without headers asks for it) is written, as the admin
    /// listener's explain says (no token configured).
    pub async fn wait_written(&self, url: &str) {
        let admin = self.admin.expect("an admin listener");
        let encoded: String = url
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let explain = format!("/_preloadd/explain?url={encoded}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let reply = super::get(admin, &explain, &[]).await;
            assert_eq!(reply.status, 200, "explain {url}: {}", reply.text());
            let explained: serde_json::Value =
                serde_json::from_slice(&reply.body).expect("explain is JSON");
            if !explained["snapshot"].is_null() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{url} was not written: {explained}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (up to 10 s) for a log line holding every one of `needles`,
    /// passing over the lines before it.
    pub fn wait_for_log(&self, needles: &[&str]) -> Option<String> {
        let mut before = self.before_start.lock().unwrap();
        while let Some(line) = before.pop_front() {
            if needles.iter().all(|n| line.contains(n)) {
                return Some(line);
            }
        }
        drop(before);
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.log.recv_timeout(left).ok()?;
            if needles.iter().all(|n| line.contains(n)) {
                return Some(line);
            }
        }
        None
    }
}

fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
