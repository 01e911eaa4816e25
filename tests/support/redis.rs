//! A real `redis-server` for the cluster tests: its own, on a free loopback
//! port, its files in a temp dir, stopped by pid when dropped. Without the
//! binary the tests say SKIPPED and pass, unless PRELOADD_REQUIRE_REDIS=1
//! (CI), where that is a failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// With `appendonly yes` (fsync always): the stream survives a restart.
    durable: bool,
}

impl Redis {
    /// A Redis that keeps nothing across a restart (`--save ''
    /// --appendonly no`); `None` (SKIPPED printed) without `redis-server`.
    pub fn start(test: &str) -> Option<Redis> {
        Self::start_with(test, false)
    }

    /// A Redis whose data survives a [`Redis::stop`] and [`Redis::run`] (append-only file,
    /// fsynced at each write), as a production one should be run.
    pub fn start_durable(test: &str) -> Option<Redis> {
        Self::start_with(test, true)
    }

    fn start_with(test: &str, durable: bool) -> Option<Redis> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !found {
            assert!(
                std::env::var("PRELOADD_REQUIRE_REDIS").as_deref() != Ok("1"),
                "{test}: redis-server is missing and PRELOADD_REQUIRE_REDIS=1"
            );
            println!("SKIPPED {test}: no redis-server");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Redis {
            child: None,
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            durable,
        };
        redis.run();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server (again) and waits until it answers PING.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "redis-server already runs");
        let aof = if self.durable { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", aof, "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]).trim() != "PONG" {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGKILL by pid) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `redis-cli` against this server: its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
