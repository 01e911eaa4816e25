//! The real `preloadd` binary, started on 127.0.0.1 ephemeral ports with a
//! config written for the test, and stopped (killed) when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Child,
    pub main: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub config_path: PathBuf,
    /// Every log line the daemon wrote so far is sent here.
    pub log: mpsc::Receiver<String>,
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
        let mut child = Command::new(binary())
            .arg("--config")
            .arg(config_path)
            .arg("--log-level")
            .arg("info")
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
        let (mut main, mut admin) = (None, None);
        let mut seen = Vec::new();
        while main.is_none() {
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
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let mut words = rest.split_whitespace();
                let addr: SocketAddr = words.next().unwrap().parse().unwrap();
                match words.next() {
                    Some("(admin)") => admin = Some(addr),
                    _ => main = Some(addr),
                }
            }
            seen.push(line);
        }
        // The admin listener's line follows the main one's at once.
        if admin.is_none() {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    admin = rest.split_whitespace().next().and_then(|a| a.parse().ok());
                }
            }
        }
        Daemon {
            child,
            main: main.unwrap(),
            admin,
            config_path: config_path.to_path_buf(),
            log: rx,
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        unsafe_sigterm(self.child.id());
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
    /// `/proc/PID/fd`; an unlinked one ends in " (deleted)").
    pub fn open_files_under(&self, dir: &Path) -> Vec<String> {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).expect("proc fd");
        fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.starts_with(dir))
            .map(|target| target.display().to_string())
            .collect()
    }

    /// Waits (up to 10 s) for a log line holding every one of `needles`,
    /// passing over the lines before it.
    pub fn wait_for_log(&self, needles: &[&str]) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.log.recv_timeout(left).ok()?;
            if needles.iter().all(|n| line.contains(n)) {
                return Some(line);
            }
        }
        None
    }

    /// Log lines written so far.
    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
